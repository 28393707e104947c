"""Scaled dot-product attention with any mask: the readable reference and its dispatch.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + M) V

where M is 0 where a query may look at a key and -inf where it may not. Two
kinds of mask, combined when both are given:
- `causal=True`: a token may look at itself and the past, never the future.
  Queries and keys may differ in length (Tq <= Tk): the queries are then the
  *last* Tq positions of the sequence, as when a KV cache holds the earlier
  keys, so query i sits at position Tk - Tq + i and sees keys 0..Tk - Tq + i.
- `mask`: a boolean tensor broadcastable to (B, nh, Tq, Tk), True where
  attention is allowed: padding masks, an encoder's full attention
  (`causal=False`), cross-attention from a decoder to an encoder's keys.
Every query must be allowed at least one key; a row with none gives nan (a
softmax over nothing), as in PyTorch.

Grouped-query attention: k and v may have fewer heads than q (n_kv dividing
nh); each key/value head then serves nh // n_kv query heads in a row
(`expand_kv`).

`reference_attention` spells every step out and materialises the (Tq, Tk)
score matrix, which is what makes plain attention memory-bound for long
sequences. `sdpa_attention` calls PyTorch's fused
`scaled_dot_product_attention`. Both take q (B, nh, Tq, hs) and k, v
(B, nh, Tk, hs) and return (B, nh, Tq, hs); the model picks one by name from
`ATTENTION`, where "triton" runs the FlashAttention kernels of module M4
(`minillm.kernels`), and the tests check that they agree on every kind of mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import functional


def causal_mask(Tq: int, Tk: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(Tq, Tk) bool, True where query i (at position Tk - Tq + i) may see key j: j <= Tk - Tq + i.

    >>> causal_mask(2, 3).int()
    tensor([[1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    if Tq > Tk:
        raise ValueError(f"causal attention needs at least as many keys as queries (the queries are the last "
                         f"positions of the sequence), got {Tq} queries and {Tk} keys")
    return torch.ones(Tq, Tk, dtype=torch.bool, device=device).tril(diagonal=Tk - Tq)


def allowed(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None, causal: bool) -> torch.Tensor | None:
    """The combined boolean mask (broadcastable to (B, nh, Tq, Tk)), or None when every key is allowed."""
    Tq, Tk = q.size(-2), k.size(-2)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, True where attention is allowed; got {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, (*q.shape[:-2], Tq, Tk))
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to (B, nh, Tq, Tk) = "
                             f"{(*q.shape[:-2], Tq, Tk)}") from None
    if causal:
        causal_part = causal_mask(Tq, Tk, q.device)
        return causal_part if mask is None else mask & causal_part
    return mask


def expand_kv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Grouped-query heads: k, v (B, n_kv, Tk, hs) -> (B, nh, Tk, hs), each repeated for its nh // n_kv query heads."""
    nh, n_kv = q.size(1), k.size(1)
    if nh == n_kv:
        return k, v
    if n_kv == 0 or nh % n_kv or v.size(1) != n_kv:
        raise ValueError(f"q has {nh} heads but k and v have {n_kv} and {v.size(1)}: the key/value heads must be "
                         f"equal in number and divide the query heads")
    return k.repeat_interleave(nh // n_kv, dim=1), v.repeat_interleave(nh // n_kv, dim=1)


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None,
                      causal: bool = True) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_head) + M): (B, nh, Tq, Tk), each row a distribution over the keys it may see."""
    hs = q.size(-1)
    k, _ = expand_kv(q, k, k)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, Tq, Tk)
    keep = allowed(q, k, mask, causal)
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    return functional.softmax(scores, dim=-1)  # the stable softmax from scratch: subtract each row's max


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                        causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """Attention written out step by step. q (B, nh, Tq, hs), k and v (B, n_kv, Tk, hs) -> (B, nh, Tq, hs)."""
    k, v = expand_kv(q, k, v)
    weights = attention_weights(q, k, mask, causal)
    if dropout_p > 0:  # drop whole attention links, scale the survivors by 1 / (1 - p)
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (B, nh, Tq, hs)


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                   causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """The same computation through PyTorch's fused kernel (FlashAttention on GPUs)."""
    k, v = expand_kv(q, k, v)
    if mask is None and (not causal or q.size(-2) == k.size(-2)):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
    # subtle: SDPA's is_causal aligns the mask top-left when Tq != Tk; ours is bottom-right (see causal_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed(q, k, mask, causal), dropout_p=dropout_p)


def triton_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                     causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """FlashAttention as Triton kernels on a GPU (`minillm.kernels`); where they can't run, SDPA with a note."""
    from .kernels import triton_attention as run  # imported on first use: Triton is optional
    return run(q, k, v, mask, causal, dropout_p)


def auto_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                   causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """SDPA or the Triton kernels, whichever measures faster on this GPU (`minillm.kernels.auto_attention`)."""
    from .kernels import auto_attention as run  # imported on first use: Triton is optional
    return run(q, k, v, mask, causal, dropout_p)


# name -> function(q, k, v, mask=None, causal=True, dropout_p=0.0) -> output; GPTConfig.attention picks one.
ATTENTION = {
    "reference": reference_attention,
    "sdpa": sdpa_attention,
    "triton": triton_attention,
    "auto": auto_attention,
}
