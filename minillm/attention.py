"""Causal scaled dot-product attention: the readable reference and its dispatch.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + M) V

where M is 0 on and below the diagonal and -inf above it (the causal mask: a
token may look at itself and the past, never the future).

`reference_attention` spells every step out and materialises the (T, T)
score matrix, which is what makes plain attention memory-bound for long
sequences. `sdpa_attention` calls PyTorch's fused
`scaled_dot_product_attention`. Both take and return (B, nh, T, hs) tensors;
the model picks one by name from `ATTENTION` (module M4 adds Triton kernels
to that table), and the tests check that they agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        dropout_p: float = 0.0) -> torch.Tensor:
    """Causal attention written out step by step. q, k, v: (B, nh, T, hs)."""
    T, hs = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # (T, T)
    scores = scores.masked_fill(~causal, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1 over the past
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (B, nh, T, hs)


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   dropout_p: float = 0.0) -> torch.Tensor:
    """The same computation through PyTorch's fused kernel (FlashAttention on GPUs)."""
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)


# name -> function(q, k, v, dropout_p) -> output; GPTConfig.attention picks one.
ATTENTION = {
    "reference": reference_attention,
    "sdpa": sdpa_attention,
}
