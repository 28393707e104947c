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
    """Exact mean loss over all of `data`, cut into non-overlapping windows.

    Unlike the training loop's random-batch estimate, every token (but the
    first) is predicted exactly once, so the number is deterministic.
    """
    T = model.config.block_size
    device = next(model.parameters()).device
    n = (len(data) - 1) // T  # whole windows that have a next token for every position
    if n == 0:
        raise ValueError(f"data has {len(data)} tokens, too few for one window of {T + 1}")
    x = data[: n * T].view(n, T)
    y = data[1: n * T + 1].view(n, T)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, n, batch_size):
        xb, yb = x[i: i + batch_size].long().to(device), y[i: i + batch_size].long().to(device)
        _, loss = model(xb, yb)
        total += loss.item() * len(xb)
    model.train(was_training)
    return total / n
