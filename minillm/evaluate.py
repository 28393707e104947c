"""Evaluation: how well does a model predict held-out text?

Module M1 needs two numbers: the mean cross-entropy (loss, in nats per token)
and perplexity = exp(loss), "as uncertain as a uniform choice among this many
tokens". Module M11 adds benchmarks and text metrics here.
"""

from __future__ import annotations

import math

import torch

from .model import GPT


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats). perplexity(math.log(65)) -> 65.0"""
    return math.exp(loss)


@torch.no_grad()
def dataset_loss(model: GPT, data: torch.Tensor, batch_size: int = 32) -> float:
    """Exact mean loss over all of `data`: every token but the first is predicted exactly once.

    The text is cut into consecutive windows of block_size + 1 tokens that
    overlap by one (the last target of a window is the first input of the
    next), plus one shorter window for the tokens left at the end. Unlike the
    training loop's random-batch estimate, the number is deterministic.
    Subtle: each window starts without context, so this is a little higher
    than a sliding window with full context everywhere would give.
    """
    data = torch.as_tensor(data)
    if data.ndim != 1 or len(data) < 2:
        raise ValueError(f"data must be a 1-D tensor of at least 2 token ids, got shape {tuple(data.shape)}")
    T = model.config.block_size
    device = next(model.parameters()).device
    n_targets = len(data) - 1
    n = n_targets // T  # whole windows
    x = data[: n * T].view(n, T)
    y = data[1: n * T + 1].view(n, T)
    batches = [(x[i: i + batch_size], y[i: i + batch_size]) for i in range(0, n, batch_size)]
    if n * T < n_targets:  # the tokens left over: one shorter window
        batches.append((data[n * T: -1].view(1, -1), data[n * T + 1:].view(1, -1)))
    was_training = model.training
    model.eval()
    total = 0.0
    for xb, yb in batches:
        _, loss = model(xb.long().to(device), yb.long().to(device))
        total += loss.item() * yb.numel()  # the mean over this batch's targets, back to a sum
    model.train(was_training)
    return total / n_targets
