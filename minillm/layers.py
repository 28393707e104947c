"""Normalisation layers from scratch: LayerNorm and RMSNorm.

    LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta
    RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gamma

both over the last dimension (the channels of one token). LayerNorm centres
and scales; RMSNorm (LLaMA's choice) only scales, which saves the mean and
the bias and works as well in practice. `var` is the biased variance (divide
by C, not C - 1), as PyTorch's LayerNorm computes it.

The model's registry `minillm.model.NORMS` uses PyTorch's fused LayerNorm
for speed and this RMSNorm; the tests hold both of these against PyTorch.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, with an optional bias (GPT-2 has one)."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))                        # gamma
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None       # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)                                # (..., 1)
        var = (x - mean).square().mean(dim=-1, keepdim=True)               # biased, as PyTorch's
        y = (x - mean) / torch.sqrt(var + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension: scale only, no mean, no bias.

    `bias` is accepted so that every norm can be built as `NORMS[name](dim, bias=...)`, but the
    formula has no bias and none is added (it applies to LayerNorm and the linear layers).
    """

    def __init__(self, dim: int, eps: float = 1e-6, bias: bool = False):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))                        # gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.square().mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return x / rms * self.weight
