"""FlashAttention-2 in Triton: the forward pass, the backward pass, and the autograd Function.

The algorithm is `minillm.flash` (read it first: the same loops in plain PyTorch). Here each loop over
blocks of queries (or keys) becomes a grid of Triton programs running in parallel, and each program
keeps its block of Q, K, V and its running sums in on-chip memory: the (Tq, Tk) score matrix is never
written to GPU memory, so memory grows linearly with the sequence.

Four kernels, one job each:
    _forward       one program per (block of queries, batch x head): online softmax, writes O and lse
    _delta         one program per (block of queries, batch x head): delta = rowsum(dO * O)
    _backward_dkdv one program per (block of keys, batch x key/value head): dK, dV over all queries
                   that see these keys (and, with grouped-query heads, over every query head sharing them)
    _backward_dq   one program per (block of queries, batch x head): dQ over all keys it sees

Each kernel's inner loop is a helper (_forward_tiles, _dkdv_tiles, _dq_tiles) called twice: over the
tiles that need no mask, and over those that do (the causal diagonal, a ragged last tile). MASKED is a
tl.constexpr, so Triton compiles two copies of the loop and most tiles skip the mask arithmetic. The
tiles above the causal diagonal are never visited (the loop bounds of `minillm.flash.key_blocks`).
Batch and head offsets are int64 (tensors past 2**31 elements); offsets within one head stay int32.

Conventions (as in `minillm.attention`): q (B, nh, Tq, D), k and v (B, n_kv, Tk, D) with n_kv dividing
nh; causal masks are aligned bottom-right (query i sits at position Tk - Tq + i). Scores are kept in
base 2: s2 = q.k * log2(e) / sqrt(D), so exp(x) becomes the faster exp2(x * log2(e)); the log-sum-exp
handed back is in natural-log units.

Written for Triton 3.2 to 3.9: plain pointer arithmetic with masks (no block pointers, which 3.9
removed); every masked load gives `other=`; every dot has sides of at least 16.
"""

from __future__ import annotations

import contextlib
import math

import torch
import triton
import triton.language as tl

from ..flash import FlashFunction
from . import interpreter_problem
from .configs import KernelConfig, pick_config, pick_precision

LOG2E = math.log2(math.e)  # exp(x) = exp2(x * LOG2E)


@triton.jit
def _forward_tiles(q, m, l, acc, k_base, v_base, skt, svt, rows, dims, in_d, lo, hi, Tk, shift, qk_scale,
                   BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr,
                   MASKED: tl.constexpr):
    """The forward's inner loop over the key tiles lo, lo + BLOCK_N, ... < hi: fold each into (m, l, acc).

    MASKED=False for the tiles every query of the block sees whole (no -inf to put in); True for the
    tiles on the causal diagonal and the last, ragged one: two copies of the loop, compiled separately,
    so most tiles skip the mask arithmetic.
    """
    for start in range(lo, hi, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        kT = tl.load(k_base + cols[None, :] * skt + dims[:, None],
                     mask=(cols[None, :] < Tk) & in_d[:, None], other=0.0)     # (BLOCK_D, BLOCK_N): K^T
        s = tl.dot(q, kT, input_precision=PRECISION) * qk_scale              # one tile of scores
        if MASKED:
            keep = cols[None, :] < Tk
            if CAUSAL:
                keep = keep & (cols[None, :] <= rows[:, None] + shift)
            s = tl.where(keep, s, float("-inf"))
        # every row sees key 0 in the first tile, so m_new is finite from then on (no 0/0 below)
        m_new = tl.maximum(m, tl.max(s, axis=1))
        p = tl.exp2(s - m_new[:, None])                  # the tile's unnormalised probabilities
        alpha = tl.exp2(m - m_new)                       # rescale the sums made under the old maximum
        l = l * alpha + tl.sum(p, axis=1)
        v = tl.load(v_base + cols[:, None] * svt + dims[None, :],
                    mask=(cols[:, None] < Tk) & in_d[None, :], other=0.0)     # (BLOCK_N, BLOCK_D)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)  # fp16/bf16 in, fp32 sums
        m = m_new
    return m, l, acc


@triton.jit
def _forward(Q, K, V, O, LSE,
             sqb, sqh, sqt, skb, skh, skt, svb, svh, svt, sob, soh, sot,   # strides; the last dim is contiguous
             n_head, group, Tq, Tk, qk_scale,                            # qk_scale = log2(e) / sqrt(D)
             HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
             CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    pid_m, bh = tl.program_id(0), tl.program_id(1).to(tl.int64)  # int64: b * sqb can pass 2**31
    b, h = bh // n_head, bh % n_head
    hk = h // group                                       # the key/value head this query head reads
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)        # this program's queries
    dims = tl.arange(0, BLOCK_D)                          # BLOCK_D: D rounded up to a power of two
    in_d = dims < HEAD_DIM
    q = tl.load(Q + b * sqb + h * sqh + rows[:, None] * sqt + dims[None, :],
                mask=(rows[:, None] < Tq) & in_d[None, :], other=0.0)            # (BLOCK_M, BLOCK_D)
    k_base, v_base = K + b * skb + hk * skh, V + b * svb + hk * svh

    m = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)   # running max of each row (base 2)
    l = tl.zeros([BLOCK_M], dtype=tl.float32)                  # running sum of exp2(s - m)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)       # running sum of exp2(s - m) v
    shift = Tk - Tq                                            # query i sits at position shift + i
    if CAUSAL:
        first = pid_m * BLOCK_M + shift                        # the block's first query sees keys 0..first
        whole = tl.minimum(first + 1, Tk) // BLOCK_N * BLOCK_N  # tiles before this: seen whole by every query
        hi = tl.minimum(Tk, first + BLOCK_M)                   # keys from here on are masked for all queries
    else:
        whole, hi = Tk // BLOCK_N * BLOCK_N, Tk                # only the last, ragged tile needs a mask
    m, l, acc = _forward_tiles(q, m, l, acc, k_base, v_base, skt, svt, rows, dims, in_d, 0, whole, Tk, shift,
                               qk_scale, BLOCK_N, CAUSAL, PRECISION, MASKED=False)
    m, l, acc = _forward_tiles(q, m, l, acc, k_base, v_base, skt, svt, rows, dims, in_d, whole, hi, Tk, shift,
                               qk_scale, BLOCK_N, CAUSAL, PRECISION, MASKED=True)
    out = acc / l[:, None]
    tl.store(O + b * sob + h * soh + rows[:, None] * sot + dims[None, :], out.to(O.dtype.element_ty),
             mask=(rows[:, None] < Tq) & in_d[None, :])
    # lse in natural-log units: log(sum exp(s)) = (m + log2(l)) / log2(e)
    tl.store(LSE + bh * Tq + rows, (m + tl.log2(l)) / 1.4426950408889634, mask=rows < Tq)


@triton.jit
def _delta(O, DO, DELTA, sob, soh, sot, sdb, sdh, sdt, n_head, Tq,
           HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr):
    """FlashAttention-2's preprocessing step: delta_i = sum_d dO_id O_id, each row's softmax correction."""
    pid_m, bh = tl.program_id(0), tl.program_id(1).to(tl.int64)
    b, h = bh // n_head, bh % n_head
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, BLOCK_D)
    inside = (rows[:, None] < Tq) & (dims[None, :] < HEAD_DIM)
    o = tl.load(O + b * sob + h * soh + rows[:, None] * sot + dims[None, :], mask=inside, other=0.0)
    do = tl.load(DO + b * sdb + h * sdh + rows[:, None] * sdt + dims[None, :], mask=inside, other=0.0)
    tl.store(DELTA + bh * Tq + rows, tl.sum(o.to(tl.float32) * do.to(tl.float32), axis=1), mask=rows < Tq)


@triton.jit
def _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, sqt, sdt, cols, dims, in_d, lo, hi, Tq, Tk,
                shift, qk_scale, BLOCK_M: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr,
                MASKED: tl.constexpr):
    """dK, dV's inner loop over the query tiles lo, lo + BLOCK_M, ... < hi (MASKED: the causal diagonal,
    or every tile of the last, ragged block of keys).

    Works on the transposed tile, keys x queries: P^T and dS^T come out of their dots in the shape the
    next dot needs, so no computed tile is transposed (only Q^T and dO, which are loaded that way).
    """
    for start in range(lo, hi, BLOCK_M):
        rows = start + tl.arange(0, BLOCK_M)
        qT = tl.load(q_base + rows[None, :] * sqt + dims[:, None],
                     mask=(rows[None, :] < Tq) & in_d[:, None], other=0.0)          # (BLOCK_D, BLOCK_M): Q^T
        do = tl.load(do_base + rows[:, None] * sdt + dims[None, :],
                     mask=(rows[:, None] < Tq) & in_d[None, :], other=0.0)          # (BLOCK_M, BLOCK_D)
        lse = tl.load(lse_base + rows, mask=rows < Tq, other=0.0) * 1.4426950408889634   # base 2, as s
        delta = tl.load(delta_base + rows, mask=rows < Tq, other=0.0)
        sT = tl.dot(k, qT, input_precision=PRECISION) * qk_scale           # (BLOCK_N, BLOCK_M): S^T
        pT = tl.exp2(sT - lse[None, :])                      # P^T recomputed: exactly the forward's
        if MASKED:
            keep = cols[:, None] < Tk
            if CAUSAL:
                keep = keep & (cols[:, None] <= rows[None, :] + shift)
            pT = tl.where(keep, pT, 0.0)
        dv += tl.dot(pT.to(do.dtype), do, input_precision=PRECISION)       # dV = P^T dO
        dpT = tl.dot(v, tl.trans(do), input_precision=PRECISION)           # dP^T = V dO^T
        dsT = pT * (dpT - delta[None, :])                    # dS = P * (dP - delta), transposed
        dk += tl.dot(dsT.to(qT.dtype), tl.trans(qT), input_precision=PRECISION)  # dK = dS^T Q (scaled at the end)
    return dk, dv


@triton.jit
def _backward_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV,
                   sqb, sqh, sqt, skb, skh, skt, svb, svh, svt, sdb, sdh, sdt,
                   sgb, sgh, sgt,                                    # the strides of DK and DV (one layout)
                   n_head, group, Tq, Tk, qk_scale, sm_scale,
                   HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                   CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    """dK and dV of one block of keys, summed over every query (and query head) that sees them.

    A query row past Tq needs no mask: it loads q = dO = 0 and lse = delta = 0, so it adds exactly 0 to
    both sums. A key past Tk only ever touches its own row of dK and dV, which is never stored, but its
    p = exp2(0 - lse) can overflow to inf and make nan there; the mask keeps every number finite (no
    false alarms when hunting nans) for the cost of one block. So: masked on the tiles that straddle the
    causal diagonal, and on every tile of the last block of keys when Tk is not a multiple of BLOCK_N.
    """
    pid_n, bhk = tl.program_id(0), tl.program_id(1).to(tl.int64)
    n_kv = n_head // group
    b, hk = bhk // n_kv, bhk % n_kv
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)        # this program's keys
    dims = tl.arange(0, BLOCK_D)
    in_d = dims < HEAD_DIM
    kv_mask = (cols[:, None] < Tk) & in_d[None, :]
    k = tl.load(K + b * skb + hk * skh + cols[:, None] * skt + dims[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + b * svb + hk * svh + cols[:, None] * svt + dims[None, :], mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    shift = Tk - Tq
    if CAUSAL:
        # queries before the block's first key (position pid_n * BLOCK_N) see none of its keys: start at
        # the tile holding the first that does; from the first tile whose queries all see the block's last
        # key on ("whole"), no mask
        lo = tl.maximum(pid_n * BLOCK_N - shift, 0) // BLOCK_M * BLOCK_M
        whole = tl.minimum(tl.cdiv(tl.maximum(pid_n * BLOCK_N + BLOCK_N - 1 - shift, 0), BLOCK_M) * BLOCK_M, Tq)
    else:
        lo, whole = 0, 0
    whole = tl.where((pid_n + 1) * BLOCK_N > Tk, Tq, whole)   # the last, ragged block of keys: all masked
    for g in range(group):                                # every query head that shares this key/value head
        h = hk * group + g
        q_base, do_base = Q + b * sqb + h * sqh, DO + b * sdb + h * sdh
        lse_base, delta_base = LSE + (b * n_head + h) * Tq, DELTA + (b * n_head + h) * Tq
        dk, dv = _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, sqt, sdt, cols, dims, in_d,
                             lo, whole, Tq, Tk, shift, qk_scale, BLOCK_M, CAUSAL, PRECISION, MASKED=True)
        dk, dv = _dkdv_tiles(dk, dv, k, v, q_base, do_base, lse_base, delta_base, sqt, sdt, cols, dims, in_d,
                             whole, Tq, Tq, Tk, shift, qk_scale, BLOCK_M, CAUSAL, PRECISION, MASKED=False)
    grad = b * sgb + hk * sgh + cols[:, None] * sgt + dims[None, :]
    tl.store(DK + grad, (dk * sm_scale).to(DK.dtype.element_ty), mask=kv_mask)
    tl.store(DV + grad, dv.to(DV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _dq_tiles(dq, q, do, lse, delta, k_base, v_base, skt, svt, rows, dims, in_d, lo, hi, Tk, shift, qk_scale,
              BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr, MASKED: tl.constexpr):
    """dQ's inner loop over the key tiles lo, lo + BLOCK_N, ... < hi (MASKED: the diagonal and the ragged end).

    Keys past Tk must be masked here: their p = exp2(0 - lse) can overflow, and inf * (k = 0) is nan.
    """
    for start in range(lo, hi, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        kv_mask = (cols[:, None] < Tk) & in_d[None, :]
        k = tl.load(k_base + cols[:, None] * skt + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_base + cols[:, None] * svt + dims[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        p = tl.exp2(s - lse[:, None])
        if MASKED:
            keep = cols[None, :] < Tk
            if CAUSAL:
                keep = keep & (cols[None, :] <= rows[:, None] + shift)
            p = tl.where(keep, p, 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)         # dQ = dS K (scaled at the end)
    return dq


@triton.jit
def _backward_dq(Q, K, V, DO, LSE, DELTA, DQ,
                 sqb, sqh, sqt, skb, skh, skt, svb, svh, svt, sdb, sdh, sdt,
                 sgb, sgh, sgt,                                      # the strides of DQ
                 n_head, group, Tq, Tk, qk_scale, sm_scale,
                 HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                 CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    pid_m, bh = tl.program_id(0), tl.program_id(1).to(tl.int64)
    b, h = bh // n_head, bh % n_head
    hk = h // group
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, BLOCK_D)
    in_d = dims < HEAD_DIM
    q_mask = (rows[:, None] < Tq) & in_d[None, :]
    q = tl.load(Q + b * sqb + h * sqh + rows[:, None] * sqt + dims[None, :], mask=q_mask, other=0.0)
    do = tl.load(DO + b * sdb + h * sdh + rows[:, None] * sdt + dims[None, :], mask=q_mask, other=0.0)
    lse = tl.load(LSE + bh * Tq + rows, mask=rows < Tq, other=0.0) * 1.4426950408889634
    delta = tl.load(DELTA + bh * Tq + rows, mask=rows < Tq, other=0.0)
    k_base, v_base = K + b * skb + hk * skh, V + b * svb + hk * svh
    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    shift = Tk - Tq
    if CAUSAL:  # the same split of the key tiles as the forward's
        first = pid_m * BLOCK_M + shift
        whole, hi = tl.minimum(first + 1, Tk) // BLOCK_N * BLOCK_N, tl.minimum(Tk, first + BLOCK_M)
    else:
        whole, hi = Tk // BLOCK_N * BLOCK_N, Tk
    dq = _dq_tiles(dq, q, do, lse, delta, k_base, v_base, skt, svt, rows, dims, in_d, 0, whole, Tk, shift, qk_scale,
                   BLOCK_N, CAUSAL, PRECISION, MASKED=False)
    dq = _dq_tiles(dq, q, do, lse, delta, k_base, v_base, skt, svt, rows, dims, in_d, whole, hi, Tk, shift, qk_scale,
                   BLOCK_N, CAUSAL, PRECISION, MASKED=True)
    tl.store(DQ + b * sgb + h * sgh + rows[:, None] * sgt + dims[None, :], (dq * sm_scale).to(DQ.dtype.element_ty),
             mask=q_mask)


# ----------------------------------------------------------------------------
# launching them

def _strides(t: torch.Tensor) -> tuple[int, int, int]:
    return t.stride(0), t.stride(1), t.stride(2)


def _last_dim_contiguous(*ts: torch.Tensor) -> list[torch.Tensor]:
    return [t if t.stride(-1) == 1 else t.contiguous() for t in ts]


def _on(device: torch.device):
    """Launch on the tensors' GPU: Triton launches on the current CUDA device, which may be another one."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> None:
    if q.ndim != 4 or k.shape != v.shape or k.ndim != 4 or q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise ValueError(f"need q (B, nh, Tq, D) and k, v (B, n_kv, Tk, D); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    if q.size(1) % k.size(1):
        raise ValueError(f"q has {q.size(1)} heads and k, v {k.size(1)}: the key/value heads must divide the query heads")
    if causal and q.size(2) > k.size(2):
        raise ValueError(f"causal attention needs at least as many keys as queries, got {q.size(2)} and {k.size(2)}")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.device.type != "cuda" and (problem := interpreter_problem()):
        raise RuntimeError(problem)


def flash_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True,
                  config: KernelConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (out (B, nh, Tq, D), lse (B, nh, Tq) float32, natural log)."""
    _check(q, k, v, causal)
    q, k, v = _last_dim_contiguous(q, k, v)
    B, nh, Tq, D = q.shape
    n_kv, Tk = k.size(1), k.size(2)
    cfg = config or pick_config("forward", D, q.dtype, q.device)
    out = torch.empty_like(q)
    lse = torch.empty(B, nh, Tq, dtype=torch.float32, device=q.device)
    grid = (triton.cdiv(Tq, cfg.block_m), B * nh)
    with _on(q.device):
        _forward[grid](q, k, v, out, lse, *_strides(q), *_strides(k), *_strides(v), *_strides(out),
                       nh, nh // n_kv, Tq, Tk, LOG2E / math.sqrt(D),
                       HEAD_DIM=D, BLOCK_D=cfg.block_d(D), BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, CAUSAL=causal,
                       PRECISION=pick_precision(q.device), num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    return out, lse


def flash_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, lse: torch.Tensor,
                   dout: torch.Tensor, causal: bool = True, config: KernelConfig | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients (dq, dk, dv) of `flash_forward`'s out, given dout = dLoss/dout."""
    q, k, v, out, dout = _last_dim_contiguous(q, k, v, out, dout)
    B, nh, Tq, D = q.shape
    n_kv, Tk = k.size(1), k.size(2)
    cfg = config or pick_config("backward", D, q.dtype, q.device)
    delta = torch.empty_like(lse)
    dq, dk, dv = (torch.empty(t.shape, dtype=t.dtype, device=t.device) for t in (q, k, v))  # contiguous
    args = (q, k, v, dout, lse, delta)
    strides = (*_strides(q), *_strides(k), *_strides(v), *_strides(dout))
    scales = (nh, nh // n_kv, Tq, Tk, LOG2E / math.sqrt(D), 1 / math.sqrt(D))
    meta = dict(HEAD_DIM=D, BLOCK_D=cfg.block_d(D), BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, CAUSAL=causal,
                PRECISION=pick_precision(q.device), num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    with _on(q.device):
        _delta[(triton.cdiv(Tq, cfg.block_m), B * nh)](out, dout, delta, *_strides(out), *_strides(dout), nh, Tq,
                                                        HEAD_DIM=D, BLOCK_D=cfg.block_d(D), BLOCK_M=cfg.block_m)
        _backward_dkdv[(triton.cdiv(Tk, cfg.block_n), B * n_kv)](*args, dk, dv, *strides, *_strides(dk), *scales,
                                                                  **meta)
        _backward_dq[(triton.cdiv(Tq, cfg.block_m), B * nh)](*args, dq, *strides, *_strides(dq), *scales, **meta)
    return dq, dk, dv


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """FlashAttention with autograd: q (B, nh, Tq, D), k and v (B, n_kv, Tk, D) -> (B, nh, Tq, D).

    Keeps q, k, v, out and the (B, nh, Tq) log-sum-exp for the backward pass, never the probabilities.
    """
    return FlashFunction.apply(q, k, v, causal, flash_forward, flash_backward)
