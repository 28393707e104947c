"""Checkers for module M4 (notebook 04, FlashAttention): the online softmax and one tile of the forward loop.

Each compares the student's function with the package's own code (or the
update written out) on seeded random inputs and on the inputs where the
usual bugs show:

    exercise           compared with (in minillm)         the inputs where bugs show
    online_softmax     functional.softmax                 a row's maximum in a later block (the rescaling), blocks
                                                          that don't divide n, blocks of 1 and of n or more,
                                                          scores near 1e4 and near -1e4, rows of very different
                                                          sizes, a first block all -inf
    flash_tile_update  the update written out, then       a tile that raises some rows' maximum and not others',
                       attention.reference_attention      the first tile (m = -inf), rows whose keys are all masked,
                       for acc / l after the last tile    scores near 1e4; looped over the key tiles from m = -inf:
                                                          no mask, a shorter last tile, causal, a sliding window

The online softmax is checked by its answer only: a two-pass softmax (each
row's maximum first, then the sums block by block) is right, and passes.
Where a running maximum is still -inf (a row that has seen only masked
scores), m - m_new is -inf - (-inf) = nan: the solutions subtract 0 there
instead, as `minillm.flash.tiled_attention` does, and the checkers include
such rows.

Tensors are compared with a tolerance (float32, and a student's formula may
round differently from the package's); an answer computed in float64 passes.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from .. import functional
from ..attention import reference_attention
from ._core import Case, Mismatch, Mistake, _as_tensor, _probs, known_mistake, run_cases
from .transformer import _close, _first_wrong, _randn, _tensor_of_shape

_INF = float("-inf")

_SAFE = ("subtract 0 where the running max is still -inf, safe = torch.where(m_new == float('-inf'), 0.0, "
         "m_new), and use safe in both exps")


def _safe(m_new: torch.Tensor) -> torch.Tensor:
    """The maximum to subtract: m_new, or 0 where it is -inf (a row that has seen only masked scores)."""
    return torch.where(m_new == _INF, torch.zeros_like(m_new), m_new)


# ----------------------------------------------------------------------------
# the online softmax


def solution_online_softmax(x, block_size):
    """softmax over the last dimension, walking the columns in blocks with a running max m and sum l.

    >>> solution_online_softmax(torch.tensor([1.0, 2.0, 3.0]), block_size=2)
    tensor([0.0900, 0.2447, 0.6652])
    >>> solution_online_softmax(torch.tensor([[float("-inf"), float("-inf"), 0.0]]), block_size=2)
    tensor([[0., 0., 1.]])
    """
    m = torch.full(x.shape[:-1], _INF, dtype=x.dtype, device=x.device)  # running max of each row
    l = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)       # running sum of exp(x - m)
    for start in range(0, x.size(-1), block_size):
        block = x[..., start:start + block_size]
        m_new = torch.maximum(m, block.amax(dim=-1))
        safe = _safe(m_new)  # a row of only -inf so far: exp(-inf - 0) = 0, where -inf - (-inf) is nan
        l = l * torch.exp(m - safe) + torch.exp(block - safe[..., None]).sum(dim=-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def _online(x, block_size, rescale=1, start=_INF, safe=True, running=True, accumulate=True, keepdim=True,
            first_block=False):
    """The online softmax with its choices spelled out, to write the known mistakes with.

    rescale: 1 multiplies the old sum by exp(m - m_new), -1 by exp(m_new - m), 0 not at all;
    first_block: start m and l from the first block instead of -inf and 0.
    """
    m = torch.full(x.shape[:-1], start, dtype=x.dtype)
    l = torch.zeros(x.shape[:-1], dtype=x.dtype)
    starts = list(range(0, x.size(-1), block_size))
    if first_block:
        m = x[..., :block_size].amax(dim=-1)
        l = torch.exp(x[..., :block_size] - m[..., None]).sum(dim=-1)
        starts = starts[1:]
    for j in starts:
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(dim=-1)) if running else block.amax(dim=-1)
        shift = _safe(m_new) if safe else m_new
        alpha = torch.exp(rescale * (m - shift)) if rescale else 1.0
        block_sum = torch.exp(block - shift[..., None]).sum(dim=-1)
        l = alpha * l + block_sum if accumulate else block_sum
        m = m_new
    if keepdim:
        return torch.exp(x - m[..., None]) / l[..., None]
    return torch.exp(x - m) / l


def _softmax_each_block(x, block_size):
    return torch.cat([functional.softmax(b, dim=-1) for b in x.split(block_size, dim=-1)], dim=-1)


_ONLINE_KEEPDIM = ("m and l hold one number per row, shape (...,): give them back the row's last dimension to "
                   "line up with its scores, x - m[..., None] and / l[..., None] (or keep it all along, "
                   "block.amax(dim=-1, keepdim=True)); without it, shape (...,) lines up with the columns instead")

_WRONG_SIGN = ("rescale the old sum by exp(m - m_new), old minus new, a factor <= 1: its terms exp(x - m) become "
               "exp(x - m_new) = exp(x - m) * exp(m - m_new); exp(m_new - m) makes them bigger instead (and from "
               "m = -inf it is exp(inf) = inf, and 0 * inf = nan)")

ONLINE_SOFTMAX_MISTAKES = [
    Mistake(lambda x, block_size: _online(x, block_size, rescale=0),
            "when a block raises a row's max from m to m_new, rescale the sum so far: l = l * exp(m - m_new) + "
            "exp(block - m_new).sum(-1); its terms were exp(x - m) under the old max, and the final exp(x - m) / "
            "l needs every term of l under the final max"),
    Mistake(lambda x, block_size: _online(x, block_size, accumulate=False),
            "l adds up over all the blocks, l = l * exp(m - m_new) + (this block's sum), not l = (this block's "
            "sum): that divides by the last block's share of the row only"),
    Mistake(_softmax_each_block,
            "the blocks are pieces of one row, and its probabilities share one denominator, the sum over the "
            "whole row: keep m and l running over the blocks and divide once, at the end, by the final l "
            "(a softmax per block makes each block sum to 1)"),
    Mistake(lambda x, block_size: _online(x, block_size, running=False),
            "the running max is the max of every block so far, m_new = torch.maximum(m, block max), not the "
            "block's own max: a later block with smaller scores lowers it, and exp(x - m) then overflows for "
            "the earlier scores (exp(200) is inf in float32)"),
    Mistake(lambda x, block_size: _online(x, block_size, start=x.max().item()),
            "keep a max per row, not the max of the whole tensor: a row far below it underflows, exp(-1e4) = 0, "
            "and 0 / 0 is nan; a two-pass softmax is fine, with each row's own max, x.amax(dim=-1, "
            "keepdim=True)"),
    Mistake(lambda x, block_size: _online(x, block_size, start=0.0),
            "start the running max at -inf, torch.full(..., float('-inf')), not 0: with m >= 0, a row whose "
            "scores all lie far below 0 (near -1e4) underflows, exp(-1e4) = 0, and 0 / 0 is nan; for the nan of "
            "a first block all -inf, " + _SAFE),
    Mistake(lambda x, block_size: _online(x, block_size, safe=False),
            "a row whose first block is all -inf (masked) still has m_new = -inf after it, and exp(-inf - "
            "(-inf)) = exp(nan) is nan: " + _SAFE + "; exp(-inf - 0) is then 0, as it should be"),
    Mistake(lambda x, block_size: _online(x, block_size, keepdim=False), _ONLINE_KEEPDIM),
    # after the two nan mistakes above: from m = -inf, the wrong sign makes every answer nan
    Mistake(lambda x, block_size: _online(x, block_size, rescale=-1), _WRONG_SIGN),
    Mistake(lambda x, block_size: _online(x, block_size, rescale=-1, first_block=True), _WRONG_SIGN),
]


def _online_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, TypeError) and "return_types" in message:
        return "block.max(dim=-1) returns (values, indices): take its .values (or use block.amax(dim=-1))"
    if isinstance(error, RuntimeError) and "must match the size of tensor" in message:
        return _ONLINE_KEEPDIM
    return None


def check_online_softmax(fn: Callable) -> None:
    """fn(x (..., n), block_size) -> softmax of x over its last dimension, same shape, computed block by block.

    Compared with `minillm.functional.softmax`. The answer is all that is
    checked: any correct softmax passes. Every row has at least one finite
    score (a row of only -inf has no softmax), but a whole block may be -inf.
    """
    def same(a, b):  # rtol 1e-3 as in check_stable_softmax: exp(x - lse) is right too, but rounds more near 1e4
        return _close(a, b, atol=1e-6, rtol=1e-3)

    def case(x: torch.Tensor, block_size: int) -> Callable:
        def observe(impl):
            return _tensor_of_shape(impl(x.clone(), block_size), tuple(x.shape), "the same shape as the scores")

        def run(call):
            expected = functional.softmax(x, dim=-1)
            got = observe(call)
            if same(got, expected):
                return
            row = _first_wrong(got, expected, atol=1e-6, rtol=1e-3)
            raise Mismatch(f"online_softmax(x, block_size={block_size}) for the scores {_probs(x[row])} should be "
                           f"{_probs(expected[row])}, got {_probs(got[row])}",
                           known_mistake(ONLINE_SOFTMAX_MISTAKES, observe, got, same)
                           or "per block: m_new = max(m, block max), l = l * exp(m - m_new) + sum(exp(block - "
                              "m_new)), m = m_new; at the end exp(x - m) / l, over dim=-1 for every row")
        return run

    def leaves_scores_alone(call):
        x = _randn(3, 8, seed=89)
        before = x.clone()
        call(x, 3)
        if not torch.equal(x, before):
            raise Mismatch("the scores passed in were changed in place (e.g. `block -= m_new`, and a block "
                           "x[..., j:j + b] is a view of x)",
                           "compute new tensors, `block - m_new`, so that the caller's scores stay as they were")

    rising = torch.sort(_randn(3, 9, seed=83, scale=2.0), dim=-1).values  # each row's max in its last block
    rising[1] = rising[1].flip(0)                                           # ... but one row's in its first
    far_first = torch.tensor([[203.0, 200.0, 3.0, 0.0], [0.0, 3.0, 200.0, 203.0]])
    first_masked = torch.tensor([[_INF, _INF, _INF, 1.0, 2.0, 0.5, _INF],
                                 [0.5, _INF, 1.5, _INF, _INF, _INF, _INF],
                                 [_INF, _INF, _INF, _INF, _INF, _INF, -1.0]])
    later_masked = _randn(3, 8, seed=88, scale=2.0)
    later_masked[:, 4:] = _INF
    later_masked[1, 2] = _INF
    cases = [Case("attention scores, 4 queries x 4 keys, blocks of 2", case(_randn(4, 4, seed=80, scale=2.0), 2)),
             Case("a batch of 2 x 3 rows of 10 scores, blocks of 4 (the last has 2)",
                  case(_randn(2, 3, 10, seed=81, scale=2.0), 4)),
             Case("one row of 7 scores (1-D), blocks of 3", case(_randn(7, seed=82, scale=2.0), 3)),
             Case("each row's max in a later block, blocks of 3", case(rising, 3)),
             Case("blocks of 1: one score at a time", case(_randn(3, 6, seed=84, scale=2.0), 1)),
             Case("block_size = n: one block", case(_randn(3, 5, seed=85, scale=2.0), 5)),
             Case("block_size > n: one block, shorter", case(_randn(2, 5, seed=86, scale=2.0), 8)),
             Case("scores 200 apart, blocks of 2", case(far_first, 2)),
             Case("large scores near 1e4, rising, blocks of 2",
                  case(torch.tensor([[1e4 - 3, 1e4 - 2, 1e4 - 1, 1e4], [1e4, 1e4 - 1, 1e4 - 3, 1e4 - 2]]), 2)),
             Case("rows of very different sizes, near 1e4 and near 0, blocks of 2",
                  case(torch.tensor([[1e4, 1e4 - 1, 1e4 - 2, 1e4 - 3], [0.0, 1.0, 3.0, 2.0]]), 2)),
             Case("large negative scores near -1e4, blocks of 2",
                  case(torch.tensor([[-1e4, -1e4 + 1, -1e4 + 3, -1e4 + 2], [-1e4 + 1, -1e4, -1e4, -1e4]]), 2)),
             Case("masked scores (-inf), later blocks all -inf, blocks of 4", case(later_masked, 4)),
             Case("masked scores: the first block of some rows all -inf, blocks of 3", case(first_masked, 3)),
             Case("the caller's scores are left unchanged", leaves_scores_alone)]
    run_cases("check_online_softmax", fn, cases, _online_error_hint)


# ----------------------------------------------------------------------------
# one tile of FlashAttention's forward loop


def solution_flash_tile_update(m, l, acc, s, v):
    """One tile: m, l (M,), acc (M, D), s (M, N), v (N, D) -> (m_new, l_new, acc_new), the step that
    `minillm.flash.tiled_attention` takes for each tile of keys.

    >>> m, l, acc = solution_flash_tile_update(torch.full((1,), float("-inf")), torch.zeros(1), torch.zeros(1, 1),
    ...                                        torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0], [3.0]]))
    >>> m, l, acc, acc / l[:, None]
    (tensor([0.]), tensor([2.]), tensor([[4.]]), tensor([[2.]]))
    """
    m_new = torch.maximum(m, s.amax(dim=-1))
    safe = _safe(m_new)                 # rows that have seen only masked keys: exp(-inf - 0) = 0, not nan
    p = torch.exp(s - safe[:, None])    # the tile's unnormalised probabilities
    alpha = torch.exp(m - safe)         # rescales what was summed under the old max
    return m_new, alpha * l + p.sum(dim=-1), alpha[:, None] * acc + p @ v


def _tile(m, l, acc, s, v, rescale_l=True, rescale_acc=True, sign=1, p_from_old=False, safe=True, running=True,
          v_transposed=False, p_keepdim=True, alpha_keepdim=True, alpha_by_ratio=False, normalise=False):
    """The tile update with its choices spelled out, to write the known mistakes with."""
    m_new = torch.maximum(m, s.amax(dim=-1)) if running else s.amax(dim=-1)
    shift = _safe(m_new) if safe else m_new
    alpha = torch.exp(m) / torch.exp(shift) if alpha_by_ratio else torch.exp(sign * (m - shift))
    p_max = m if p_from_old else shift
    p = torch.exp(s - (p_max[:, None] if p_keepdim else p_max))
    l_new = (alpha * l if rescale_l else l) + p.sum(dim=-1)
    old = (alpha[:, None] if alpha_keepdim else alpha) * acc if rescale_acc else acc
    acc_new = old + p @ (v.T if v_transposed else v)
    if normalise:
        acc_new = acc_new / l_new[:, None]
    return m_new, l_new, acc_new


_ROW_BROADCAST = ("m_new, alpha and l hold one number per query row, shape (M,): index them as m_new[:, None], "
                  "shape (M, 1), to line up with the rows of s (M, N) and of acc (M, D); without it, shape (M,) "
                  "lines up with the columns instead")

_P_AT_V = ("p is (M, N), one row per query and one column per key, and v is (N, D), one row per key: the tile "
           "adds p @ v, of shape (M, D), with no transpose")

FLASH_TILE_UPDATE_MISTAKES = [
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, rescale_acc=False),
            "rescale acc too when the max goes up: acc_new = alpha[:, None] * acc + p @ v with alpha = exp(m - "
            "m_new); acc was summed as exp(s - m) @ v under the old max, like l"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, rescale_l=False),
            "rescale l too when the max goes up: l_new = alpha * l + p.sum(-1) with alpha = exp(m - m_new); l "
            "was summed as exp(s - m) under the old max, and acc / l only works if both use the same max"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, rescale_l=False, rescale_acc=False),
            "rescale l and acc when the max goes up: both were summed under the old max m, so multiply both by "
            "alpha = exp(m - m_new) before adding this tile's p.sum(-1) and p @ v"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, sign=-1),
            "alpha = exp(m - m_new), old minus new, a factor <= 1: the old terms exp(s - m) become exp(s - m_new) "
            "= exp(s - m) * exp(m - m_new); exp(m_new - m) makes them bigger instead (and from m = -inf it is "
            "exp(inf) = inf, and 0 * inf = nan)"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, p_from_old=True),
            "compute p with the new max, p = exp(s - m_new[:, None]): the sums are all kept under m_new from "
            "this tile on (with the old m, a score above it gives exp(> 0), and from m = -inf, exp(inf) = inf)"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, running=False),
            "m_new is the max of everything the row has seen, torch.maximum(m, s.amax(dim=-1)), not this tile's "
            "max alone: a tile of smaller scores would lower it"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, normalise=True),
            "acc is the running sum exp(s - m) @ v, not yet divided: divide by l only once, after the last tile "
            "(out = acc / l[:, None])"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, alpha_by_ratio=True),
            "compute alpha as the exp of a difference, exp(m - m_new), not exp(m) / exp(m_new): near 1e4, "
            "exp(1e4) is inf in float32, and inf / inf is nan"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, safe=False),
            "a row whose keys so far are all masked (-inf) has m_new = -inf, and -inf - (-inf) is nan: "
            + _SAFE + "; p and alpha are then exp(-inf) = 0 there, and the row stays m = -inf, l = 0, acc = 0"),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, v_transposed=True), _P_AT_V),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, p_keepdim=False), _ROW_BROADCAST),
    Mistake(lambda m, l, acc, s, v: _tile(m, l, acc, s, v, alpha_keepdim=False), _ROW_BROADCAST),
]


def _tile_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, TypeError) and "return_types" in message:
        return "s.max(dim=-1) returns (values, indices): take its .values (or use s.amax(dim=-1))"
    if isinstance(error, RuntimeError) and ("cannot be multiplied" in message or "size mismatch" in message):
        return _P_AT_V
    if isinstance(error, RuntimeError) and "must match the size of tensor" in message:
        return _ROW_BROADCAST
    return None


_NAMES = ("m_new", "l_new", "acc_new")


def _new_state(value: Any, M: int, D: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The student's (m_new, l_new, acc_new) as float64 tensors of shapes (M,), (M,), (M, D), or a Mismatch."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise Mismatch(f"expected the three new running values (m_new, l_new, acc_new), got a "
                       f"{type(value).__name__}: {value!r:.80}",
                       "return m_new, l_new, acc_new (a tuple), the state the next tile starts from")
    shapes = ((M,), (M,), (M, D))
    whats = ("one running max per query row", "one running sum per query row", "one running vector per query row")
    out = []
    for name, item, shape, what in zip(_NAMES, value, shapes, whats):
        t = _as_tensor(item, f"{name}, a tensor of shape {shape}")
        if tuple(t.shape) != shape:
            raise Mismatch(f"expected {name} of shape {shape} ({what}), got {tuple(t.shape)}",
                           "return (m_new, l_new, acc_new) in this order, m_new and l_new of shape (M,) like m and "
                           "l (no keepdim), acc_new of shape (M, D) like acc")
        out.append(t.detach().double())
    return tuple(out)


def _same_state(a, b) -> bool:
    return all(_close(x, y) for x, y in zip(a, b))


def _first_row(got: torch.Tensor, expected: torch.Tensor) -> int:
    wrong = ~torch.isclose(got, expected, rtol=1e-4, atol=1e-5, equal_nan=True)
    if wrong.dim() > 1:
        wrong = wrong.any(dim=-1)
    return int(wrong.nonzero()[0, 0])


def _show_state(x: torch.Tensor) -> str:
    return f"{x.item():.3f}" if x.dim() == 0 else _probs(x)


def check_flash_tile_update(fn: Callable) -> None:
    """fn(m (M,), l (M,), acc (M, D), s (M, N), v (N, D)) -> (m_new, l_new, acc_new): one tile of keys.

    m_new = max(m, s.max(-1)), p = exp(s - m_new[:, None]), alpha = exp(m - m_new),
    l_new = alpha * l + p.sum(-1), acc_new = alpha[:, None] * acc + p @ v; where
    m_new is -inf (every key so far masked) the row stays m = -inf, l = 0, acc = 0.
    Single tiles are compared with that update; then the function is looped
    over the key tiles of a block of queries from m = -inf, l = 0, acc = 0,
    and acc / l is compared with `minillm.attention.reference_attention`.
    """
    def step(m: torch.Tensor, l: torch.Tensor, acc: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> Callable:
        M, D = acc.shape

        def observe(impl):
            return _new_state(impl(m.clone(), l.clone(), acc.clone(), s.clone(), v.clone()), M, D)

        def run(call):
            expected = tuple(t.double() for t in solution_flash_tile_update(m.double(), l.double(), acc.double(),
                                                                            s.double(), v.double()))
            got = observe(call)
            if _same_state(got, expected):
                return
            k = next(k for k in range(3) if not _close(got[k], expected[k]))
            i = _first_row(got[k], expected[k])
            raise Mismatch(f"for a tile of {M} queries x {s.size(1)} keys, D = {D}: row {i}, with m = "
                           f"{m[i].item():.3f}, l = {l[i].item():.3f} and scores {_probs(s[i])}, should get "
                           f"{_NAMES[k]} = {_show_state(expected[k][i])}, got {_show_state(got[k][i])}",
                           known_mistake(FLASH_TILE_UPDATE_MISTAKES, observe, got, _same_state)
                           or "m_new = max(m, s.amax(-1)), p = exp(s - m_new[:, None]), alpha = exp(m - m_new), "
                              "l_new = alpha * l + p.sum(-1), acc_new = alpha[:, None] * acc + p @ v")
        return run

    def loop(M: int, Tk: int, N: int, D: int, seed: int, keep: torch.Tensor | None = None) -> Callable:
        q, k, v = _randn(M, D, seed=seed), _randn(Tk, D, seed=seed + 1), _randn(Tk, D, seed=seed + 2)
        S = q @ k.T / math.sqrt(D)
        if keep is not None:
            S = S.masked_fill(~keep, _INF)

        def observe(impl):
            m, l, acc = torch.full((M,), _INF), torch.zeros(M), torch.zeros(M, D)
            for j in range(0, Tk, N):
                m, l, acc = _new_state(impl(m, l, acc, S[:, j:j + N].clone(), v[j:j + N].clone()), M, D)
                m, l, acc = m.float(), l.float(), acc.float()
            return (acc / l[:, None]).double()

        def run(call):
            expected = reference_attention(q[None, None], k[None, None], v[None, None], keep, causal=False)[0, 0]
            got = observe(call)
            if _close(got, expected):
                return
            i = _first_row(got, expected.double())
            masked = "" if keep is None else ", masked keys -inf"
            raise Mismatch(f"looping over {Tk} keys in tiles of {N} from m = -inf, l = 0, acc = 0 ({M} queries, "
                           f"D = {D}{masked}): acc / l for query {i} should be softmax(S) @ V = "
                           f"{_probs(expected[i])}, got {_probs(got[i])}",
                           known_mistake(FLASH_TILE_UPDATE_MISTAKES, observe, got, _close)
                           or "each tile: m_new = max(m, s.amax(-1)), rescale l and acc by exp(m - m_new), add "
                              "p.sum(-1) and p @ v with p = exp(s - m_new[:, None]); out = acc / l at the end")
        return run

    def start(M: int, D: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.full((M,), _INF), torch.zeros(M), torch.zeros(M, D)

    def after(s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The running state after one first tile: a consistent m, l, acc to continue from."""
        return solution_flash_tile_update(*start(s.size(0), v.size(1)), s, v)

    def positions(M: int, Tk: int, window: int | None = None) -> torch.Tensor:
        """(M, Tk) bool: the last M of Tk positions, each seeing the keys at or before it (the last `window`)."""
        i = torch.arange(Tk - M, Tk)[:, None]
        j = torch.arange(Tk)[None, :]
        return (j <= i) if window is None else (j <= i) & (j > i - window)

    # a middle tile: rows 0 and 2 go above their running max, rows 1 and 3 stay below it
    state1 = after(_randn(4, 4, seed=90, scale=2.0), _randn(4, 4, seed=91))
    s1 = _randn(4, 4, seed=92) + torch.tensor([4.0, -4.0, 2.5, -1.5])[:, None]
    state3 = after(_randn(3, 6, seed=95, scale=2.0) + 4.0, _randn(6, 4, seed=96))
    state4 = after(_randn(4, 5, seed=98, scale=2.0), _randn(5, 3, seed=99))
    s4 = _randn(4, 5, seed=100, scale=2.0) + 1.0
    s4[0, 1] = s4[1, 0] = s4[1, 4] = s4[3, 2] = _INF
    s5 = _randn(4, 3, seed=102, scale=2.0)
    s5[:2] = s5[2, 1:] = s5[3, 2] = _INF  # rows 0 and 1: no key of this tile is visible (as causal rows before it)
    m6 = torch.tensor([_INF, 1.2, _INF, 0.5])
    l6 = torch.tensor([0.0, 1.7, 0.0, 2.1])
    acc6 = _randn(4, 3, seed=104) * torch.tensor([0.0, 1.0, 0.0, 1.0])[:, None]
    s6 = _randn(4, 5, seed=105)
    s6[2, :3] = _INF
    state7 = after(_randn(3, 4, seed=107) + 1e4, _randn(4, 2, seed=108))
    s7 = _randn(3, 4, seed=109) + torch.tensor([1e4 + 3, 1e4 - 3, 1e4 + 1])[:, None]
    cases = [Case("a tile that raises the max of some rows and not others, 4 queries x 4 keys, D = 4",
                  step(*state1, s1, _randn(4, 4, seed=93))),
             Case("the first tile, from m = -inf, l = 0, acc = 0: 3 queries x 5 keys, D = 2",
                  step(*start(3, 2), _randn(3, 5, seed=94, scale=2.0), _randn(5, 2, seed=97))),
             Case("a tile below every row's running max (alpha = 1), 3 queries x 6 keys",
                  step(*state3, _randn(3, 6, seed=110), _randn(6, 4, seed=111))),
             Case("masked keys (-inf) in the tile", step(*state4, s4, _randn(5, 3, seed=101))),
             Case("the first tile, with every key of 2 rows masked (-inf)", step(*start(4, 2), s5,
                                                                                 _randn(3, 2, seed=103))),
             Case("rows that have seen only masked keys so far (m = -inf, l = 0) meet their first keys",
                  step(m6, l6, acc6, s6, _randn(5, 3, seed=106))),
             Case("large scores near 1e4", step(*state7, s7, _randn(4, 2, seed=112))),
             Case("one query and one key (M = N = 1)", step(torch.tensor([0.5]), torch.tensor([1.3]),
                                                            torch.tensor([[0.2, -0.4]]), torch.tensor([[1.5]]),
                                                            torch.tensor([[1.0, 2.0]]))),
             Case("looped over 12 keys in tiles of 4: acc / l = softmax(S) @ V", loop(4, 12, 4, 8, seed=120)),
             Case("looped over 13 keys in tiles of 5 (the last tile has 3)", loop(3, 13, 5, 4, seed=123)),
             Case("looped, causal: the last 4 of 10 positions, tiles of 3", loop(4, 10, 3, 8, seed=126,
                                                                               keep=positions(4, 10))),
             Case("looped, a sliding window of 3 keys: the first tiles of some rows all masked",
                  loop(4, 12, 4, 8, seed=129, keep=positions(4, 12, window=3)))]
    run_cases("check_flash_tile_update", fn, cases, _tile_error_hint)
