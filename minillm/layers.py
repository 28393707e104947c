"""Normalisation layers and position encodings from scratch.

Norms:

    LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta
    RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gamma

both over the last dimension (the channels of one token). LayerNorm centres
and scales; RMSNorm (LLaMA's choice) only scales, which saves the mean and
the bias and works as well in practice. `var` is the biased variance (divide
by C, not C - 1), as PyTorch's LayerNorm computes it.

The model's registry `minillm.model.NORMS` lists PyTorch's fused LayerNorm
(the fast path) beside these (the `ops="scratch"` path); the tests hold both
against PyTorch.

Positions (`GPTConfig.position`):
- "learned": a trained table of block_size vectors added to the token
  embeddings (GPT-2; it lives in the model as `pos_emb`).
- "sinusoidal": the same addition with a fixed table (the original
  Transformer): PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...).
- "rope": rotary embeddings (RoFormer; LLaMA). Nothing is added to the
  embeddings; instead each head's queries and keys are rotated, pair of
  channels by pair, by an angle proportional to their position. A dot product
  of two rotated vectors then depends only on the *difference* of their
  positions. Pairs are channel i and i + hs/2 (the "rotate half" layout of
  GPT-NeoX and Hugging Face's LLaMA); `offset` shifts the positions, for a
  KV cache that feeds one new token at position T.
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

    `bias` is accepted so that every norm can be built the same way, `Norm(dim, bias=...)`, but the
    formula has no bias and none is added (it applies to LayerNorm and the linear layers).
    """

    def __init__(self, dim: int, eps: float = 1e-6, bias: bool = False):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))                        # gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.square().mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return x / rms * self.weight


def sinusoidal_positions(T: int, C: int, base: float = 10000.0) -> torch.Tensor:
    """(T, C) fixed position table: sin on even channels, cos on odd, wavelengths growing geometrically."""
    if C % 2:
        raise ValueError(f"sinusoidal positions pair channels (sin, cos): n_embd must be even, got {C}")
    pos = torch.arange(T, dtype=torch.float32)[:, None]                       # (T, 1)
    inv_freq = base ** (-torch.arange(0, C, 2, dtype=torch.float32) / C)      # (C/2,) 1 / 10000^(2i/C)
    table = torch.zeros(T, C)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)
    return table


class Rotary(nn.Module):
    """Rotary position embedding for (B, nh, T, hs) queries or keys; no parameters."""

    def __init__(self, head_size: int, max_positions: int, base: float = 10000.0):
        super().__init__()
        if head_size % 2:
            raise ValueError(f"RoPE rotates pairs of channels: the head size must be even, got {head_size}")
        inv_freq = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)  # (hs/2,)
        angles = torch.arange(max_positions, dtype=torch.float32)[:, None] * inv_freq           # (P, hs/2)
        self.register_buffer("cos", angles.cos(), persistent=False)  # recomputed, not saved in checkpoints
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T, half = x.size(-2), x.size(-1) // 2
        if offset + T > self.cos.size(0):
            raise ValueError(f"positions {offset}..{offset + T - 1} go past the {self.cos.size(0)} this RoPE "
                             "was built for (block_size)")
        cos, sin = self.cos[offset: offset + T].to(x.dtype), self.sin[offset: offset + T].to(x.dtype)  # (T, hs/2)
        x1, x2 = x[..., :half], x[..., half:]  # channel i pairs with channel i + hs/2
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # rotate each pair by its angle
