"""FlashAttention's algorithm in plain PyTorch: tiling, the online softmax, the recomputing backward.

The reference attention (`minillm.attention`) writes the whole (Tq, Tk) score matrix to memory,
then reads it back for the softmax and again for the product with V: memory traffic grows as T^2,
and at long T that traffic, not the arithmetic, sets the speed. FlashAttention computes exactly the
same output without ever holding the score matrix: it walks over blocks of keys and keeps, for each
query row, three running quantities,

    m    the largest score seen so far
    l    the sum of exp(score - m) over the keys seen so far
    acc  the sum of exp(score - m) * v over the keys seen so far

When a new block raises the maximum from m to m', everything accumulated so far is rescaled by
exp(m - m'), so the sums stay exact (the online softmax). At the end, out = acc / l, and
lse = m + log(l), the log-sum-exp of the row, is saved: it is all the backward pass needs to
recompute any block of probabilities as P = exp(S - lse), instead of storing P.

The backward pass (FlashAttention-2's order) recomputes P block by block and uses

    dV = P^T dO        dP = dO V^T        dS = P * (dP - delta)        dQ = dS K * scale    dK = dS^T Q * scale

where delta = rowsum(dO * O) (a row of the softmax's Jacobian-vector product, precomputed once).

These functions are for reading and testing on a CPU; `minillm.kernels` runs the same loops as Triton
kernels, one program per block of queries (forward, dQ) or of keys (dK, dV). Shapes follow
`minillm.attention`: q (B, nh, Tq, hs), k and v (B, n_kv, Tk, hs); with causal=True the queries are
the last Tq positions (bottom-right alignment, as a KV cache needs).
"""

from __future__ import annotations

import math

import torch

from .attention import allowed, expand_kv


def reference_lse(q: torch.Tensor, k: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """The log-sum-exp of each row of the scaled (and masked) scores, (B, nh, Tq), the plain way: what
    `tiled_attention` and the Triton forward save for their backward passes, to test them against.

    >>> q, k = torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 2, 4)   # every score 0: lse = log(keys seen)
    >>> [round(x, 4) for x in reference_lse(q, k).squeeze().tolist()]   # 0 = log 1, 0.6931 = log 2
    [0.0, 0.6931]
    """
    k, _ = expand_kv(q, k, k)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    keep = allowed(q, k, None, causal)
    return torch.logsumexp(s if keep is None else s.masked_fill(~keep, float("-inf")), dim=-1)


def _block_mask(i0: int, i1: int, j0: int, j1: int, Tq: int, Tk: int, causal: bool,
                device: torch.device) -> torch.Tensor | None:
    """(i1 - i0, j1 - j0) bool: which keys j0..j1 the queries i0..i1 may see, or None when all."""
    if not causal:
        return None
    i = torch.arange(i0, i1, device=device)[:, None] + (Tk - Tq)  # each query's position in the sequence
    j = torch.arange(j0, j1, device=device)[None, :]
    return j <= i


def key_blocks(i0: int, i1: int, Tq: int, Tk: int, block_n: int, causal: bool) -> range:
    """The starts of the key blocks that queries i0..i1 - 1 need: all of them, or with a causal mask
    only those up to the last query's position (the rest are all masked: skipped, about half the work).

    >>> list(key_blocks(0, 4, 8, 8, 4, causal=True)), list(key_blocks(4, 8, 8, 8, 4, causal=True))
    ([0], [0, 4])
    """
    return range(0, min(Tk, i1 + Tk - Tq) if causal else Tk, block_n)


def tiled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True,
                    block_m: int = 16, block_n: int = 16, scale: float | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention by blocks with the online softmax -> (out (B, nh, Tq, hs), lse (B, nh, Tq)).

    Equal to `reference_attention` (up to rounding) while holding at most a (block_m, block_n)
    piece of the score matrix at a time. Accumulates in float32 (float64 for float64 inputs).
    """
    k, v = expand_kv(q, k, v)
    B, nh, Tq, hs = q.shape
    Tk = k.size(2)
    scale = 1 / math.sqrt(hs) if scale is None else scale
    f = torch.promote_types(q.dtype, torch.float32)  # the accumulation dtype
    out = torch.empty_like(q)
    lse = torch.empty(B, nh, Tq, dtype=f, device=q.device)
    for i0 in range(0, Tq, block_m):  # one block of queries: a Triton program
        i1 = min(i0 + block_m, Tq)
        qi = q[:, :, i0:i1].to(f)
        m = torch.full((B, nh, i1 - i0), float("-inf"), dtype=f, device=q.device)  # running max of each row
        l = torch.zeros(B, nh, i1 - i0, dtype=f, device=q.device)                  # running sum of exp(s - m)
        acc = torch.zeros(B, nh, i1 - i0, hs, dtype=f, device=q.device)            # running sum of exp(s - m) v
        for j0 in key_blocks(i0, i1, Tq, Tk, block_n, causal):
            j1 = min(j0 + block_n, Tk)
            s = qi @ k[:, :, j0:j1].to(f).transpose(-2, -1) * scale  # (B, nh, bm, bn): one tile of scores
            keep = _block_mask(i0, i1, j0, j1, Tq, Tk, causal, q.device)
            if keep is not None:
                s = s.masked_fill(~keep, float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1))
            # a row that has seen no key yet has m_new = -inf: use 0 there so exp gives 0, not nan
            m_safe = torch.where(m_new == float("-inf"), 0.0, m_new)
            p = torch.exp(s - m_safe[..., None])     # the tile's unnormalised probabilities
            alpha = torch.exp(m - m_safe)            # rescale what was summed under the old maximum
            l = alpha * l + p.sum(dim=-1)
            acc = alpha[..., None] * acc + p @ v[:, :, j0:j1].to(f)
            m = m_new
        out[:, :, i0:i1] = (acc / l[..., None]).to(q.dtype)
        lse[:, :, i0:i1] = m + torch.log(l)
    return out, lse


def tiled_attention_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
                             lse: torch.Tensor, dout: torch.Tensor, causal: bool = True, block_m: int = 16,
                             block_n: int = 16, scale: float | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients (dq, dk, dv) of `tiled_attention`'s out, recomputing P from lse block by block.

    Grouped-query heads: dk and dv of a key/value head sum over the query heads that share it.
    """
    B, nh, Tq, hs = q.shape
    n_kv, Tk = k.size(1), k.size(2)
    group = nh // n_kv
    scale = 1 / math.sqrt(hs) if scale is None else scale
    f = torch.promote_types(q.dtype, torch.float32)  # the accumulation dtype
    delta = (dout.to(f) * out.to(f)).sum(dim=-1)  # (B, nh, Tq): rowsum(dO * O)
    kx, vx = (t.to(f) for t in expand_kv(q, k, v))
    dq = torch.zeros(B, nh, Tq, hs, dtype=f, device=q.device)
    dk = torch.zeros(B, nh, Tk, hs, dtype=f, device=q.device)
    dv = torch.zeros(B, nh, Tk, hs, dtype=f, device=q.device)
    for j0 in range(0, Tk, block_n):  # one block of keys: a Triton program of the dK, dV kernel
        j1 = min(j0 + block_n, Tk)
        kj, vj = kx[:, :, j0:j1], vx[:, :, j0:j1]
        first = max(0, j0 - (Tk - Tq)) // block_m * block_m if causal else 0  # earlier queries can't see these keys
        for i0 in range(first, Tq, block_m):
            i1 = min(i0 + block_m, Tq)
            qi, doi = q[:, :, i0:i1].to(f), dout[:, :, i0:i1].to(f)
            s = qi @ kj.transpose(-2, -1) * scale
            keep = _block_mask(i0, i1, j0, j1, Tq, Tk, causal, q.device)
            if keep is not None:
                s = s.masked_fill(~keep, float("-inf"))
            p = torch.exp(s - lse[:, :, i0:i1, None])       # P recomputed, exactly the forward's
            dv[:, :, j0:j1] += p.transpose(-2, -1) @ doi
            dp = doi @ vj.transpose(-2, -1)
            ds = p * (dp - delta[:, :, i0:i1, None])         # the softmax's backward, row by row
            dk[:, :, j0:j1] += ds.transpose(-2, -1) @ qi * scale
            dq[:, :, i0:i1] += ds @ kj * scale               # the Triton kernels do this in a second pass
    dk = dk.view(B, n_kv, group, Tk, hs).sum(dim=2)  # query heads sharing a key/value head add up
    dv = dv.view(B, n_kv, group, Tk, hs).sum(dim=2)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class FlashFunction(torch.autograd.Function):
    """Autograd for a FlashAttention pair: forward(q, k, v, causal) -> (out, lse) and
    backward(q, k, v, out, lse, dout, causal) -> (dq, dk, dv).

    It keeps q, k, v, out and lse for the backward pass: O(T) memory beyond the inputs, where autograd
    through the reference attention keeps (Tq, Tk) probabilities (see `saved_bytes`).
    """

    @staticmethod
    def forward(ctx, q, k, v, causal, forward, backward):
        out, lse = forward(q, k, v, causal)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.backward_fn = causal, backward
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        return (*ctx.backward_fn(q, k, v, out, lse, dout, ctx.causal), None, None, None)


def flash_attention_torch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """`tiled_attention` with autograd (its backward is `tiled_attention_backward`): slow, but readable."""
    return FlashFunction.apply(q, k, v, causal, tiled_attention, tiled_attention_backward)


def saved_bytes(fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> int:
    """Bytes autograd keeps for the backward pass of fn(q, k, v, causal=causal), beyond q, k, v themselves.

    Measured, not computed: every tensor autograd saves passes through a hook; each storage counts once.
    """
    inputs = {t.untyped_storage().data_ptr() for t in (q, k, v)}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in inputs:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(q, k, v, causal=causal)
    del out
    return sum(storages.values())
