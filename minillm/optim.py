"""Optimization from scratch: AdamW, its parameter groups, the LR schedule, clipping.

AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization") keeps two
running averages per parameter, of the gradient (m) and of its square (v):

    m = beta1 m + (1 - beta1) g
    v = beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)      (bias correction)
    theta = theta - lr * weight_decay * theta                   (decoupled decay)
    theta = theta - lr * m_hat / (sqrt(v_hat) + eps)

"Decoupled" means the decay shrinks the weights directly instead of being
added to the gradient, where Adam's per-parameter scaling would distort it.
The tests step this optimizer against `torch.optim.AdamW` and require equal
parameters after every step.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay, one readable loop over parameters."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"lr, eps and weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)     # m
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                p.mul_(1 - lr * wd)                             # decoupled weight decay
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat_scale = 1 / (1 - beta1 ** t)
                v_hat_sqrt = (v / (1 - beta2 ** t)).sqrt_()
                p.addcdiv_(m, v_hat_sqrt.add_(eps), value=-lr * m_hat_scale)
        return loss


def param_groups(model: nn.Module, weight_decay: float, decay_embeddings: bool = False) -> list[dict]:
    """Split parameters into a decayed and an undecayed group.

    Matrices of linear layers are decayed. Biases and norm gains (1-D) are not:
    shrinking them toward zero has no regularising meaning. Embedding tables
    (and a head tied to one) are not decayed unless `decay_embeddings`.
    """
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, no_decay = [], []
    for p in model.parameters():  # a tied parameter is listed once
        if not p.requires_grad:
            continue
        is_embedding = id(p) in embeddings
        if p.dim() >= 2 and (decay_embeddings or not is_embedding):
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, max_lr: float, warmup_steps: int, decay_steps: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate at `step`: linear warmup, then cosine decay to min_lr_ratio * max_lr.

    Warmup climbs from max_lr / warmup_steps at step 0 to max_lr at step
    warmup_steps - 1. The cosine runs from max_lr at step warmup_steps to
    min_lr at step decay_steps and stays there.

    >>> [round(lr_at(s, 1.0, 2, 6), 3) for s in range(8)]
    [0.5, 1.0, 1.0, 0.868, 0.55, 0.232, 0.1, 0.1]
    """
    min_lr = max_lr * min_lr_ratio
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)  # 0 -> 1
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale all gradients together so their global L2 norm is at most max_norm.

    Returns the norm before clipping (useful to log: spikes warn of instability).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # never scales up
    for g in grads:
        g.mul_(scale.to(g.device))
    return total
