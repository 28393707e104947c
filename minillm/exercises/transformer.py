"""Checkers for module M3 (notebook 03, the Transformer): softmax, RMSNorm, RoPE, masked attention, model size.

Each compares the student's function with the package's own code on seeded
random inputs and on the inputs where the usual bugs show:

    exercise          compared with (in minillm)      the inputs where bugs show
    stable_softmax    functional.softmax              scores near 1e4, 200 apart, -inf (masked) entries
    rms_norm          layers.RMSNorm                  off-centre tokens, a token of zeros, a large eps; gradients
    apply_rope        layers.Rotary                   the pairs (i, i + hs/2), offsets (a KV cache)
    masked_attention  attention.reference_attention   causal, padding, both, fewer queries than keys
    count_params      model.GPT(...).num_params()     tiny GPT-2-style models, built and counted;
                      scaling.param_count             GPT-2 small (124,439,808), medium and XL, from the shapes

Tensors are compared with a tolerance (float32, and a student's formula may
round differently from the package's); parameter counts exactly.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
from torch.func import functional_call

from .. import functional, scaling
from ..attention import reference_attention
from ..layers import RMSNorm, Rotary
from ..model import GPT, GPTConfig
from ._core import Case, Mismatch, Mistake, _as_tensor, _probs, known_mistake, run_cases

_KEEPDIM = ("keep the reduced dimension, dim=-1 with keepdim=True: a row's max (or mean) of shape (..., 1) lines "
            "up with its own row; without keepdim, shape (...,) lines up with the columns instead")


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Same shape and values (nan where the other has nan), whatever the two floating dtypes."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)


def _tensor_of_shape(value: Any, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """The student's answer as a float tensor of `shape`, or a Mismatch saying what was expected."""
    out = _as_tensor(value, f"a tensor of shape {shape}")
    if tuple(out.shape) != shape:
        raise Mismatch(f"expected shape {shape} ({what}), got {tuple(out.shape)}")
    return out.detach().double()


def _first_wrong(got: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> tuple:
    """The index of the first row (all dimensions but the last) where got and expected differ."""
    wrong = ~torch.isclose(got.double(), expected.double(), rtol=rtol, atol=atol, equal_nan=True)
    return tuple(wrong.any(dim=-1).nonzero()[0].tolist())


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------
# the stable softmax


def solution_stable_softmax(x):
    """softmax over the last dimension, exp(x - m) / sum(exp(x - m)) with m each row's maximum."""
    return functional.softmax(x, dim=-1)


def _softmax_shifted_by(x, m, dim=-1):
    e = (x - m).exp()
    return e / e.sum(dim=dim, keepdim=True)


STABLE_SOFTMAX_MISTAKES = [
    Mistake(lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True),
            "subtract each row's maximum before the exp: exp(1e4) overflows to inf and inf / inf is nan, while "
            "exp(-1e4) underflows to 0 and 0 / 0 is nan; the softmax of x - max(x) is the same, and computable"),
    Mistake(lambda x: _softmax_shifted_by(x, x.amin(dim=-1, keepdim=True)),
            "subtract the maximum, not the minimum: x - min(x) is >= 0, so exp still overflows when the scores "
            "are far apart (exp(200) is inf in float32), and a -inf entry makes the minimum -inf (nan)"),
    Mistake(lambda x: _softmax_shifted_by(x, x.max()),
            "subtract each row's own maximum, x.max(dim=-1, keepdim=True).values, not the maximum of the whole "
            "tensor: a row far below it underflows to all zeros, and 0 / 0 is nan"),
    Mistake(lambda x: _softmax_shifted_by(x, x.max(dim=-1).values), _KEEPDIM),
    Mistake(lambda x: _softmax_shifted_by(x, x.max(dim=0, keepdim=True).values, dim=0),
            "each row, the last dimension, is one distribution: take the max and the sum over dim=-1, so that "
            "every row sums to 1"),
]


def _softmax_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, TypeError) and "return_types" in message:
        return "x.max(dim=-1, keepdim=True) returns (values, indices): take its .values (or use x.amax)"
    return None


def check_stable_softmax(fn: Callable) -> None:
    """fn(x) -> softmax of x over its last dimension, same shape; finite for scores near 1e4 and -inf entries.

    Compared with `minillm.functional.softmax` (itself tested against
    torch.softmax). Every row has at least one finite score: a row of only
    -inf has no softmax (nan in PyTorch too).
    """
    def same(a, b):  # rtol 1e-3: exp(x - logsumexp(x)) is right too, but rounds more for scores near 1e4
        return _close(a, b, atol=1e-6, rtol=1e-3)

    def case(x: torch.Tensor) -> Callable:
        def observe(impl):
            return _tensor_of_shape(impl(x.clone()), tuple(x.shape), "the same shape as the scores")

        def run(call):
            expected = functional.softmax(x, dim=-1)
            got = observe(call)
            if same(got, expected):
                return
            row = _first_wrong(got, expected, atol=1e-6, rtol=1e-3)
            raise Mismatch(f"the softmax of the scores {_probs(x[row])} should be {_probs(expected[row])}, got "
                           f"{_probs(got[row])}",
                           known_mistake(STABLE_SOFTMAX_MISTAKES, observe, got, same)
                           or "softmax(x) = exp(x - m) / sum(exp(x - m)), m the row's maximum; reduce over "
                              "dim=-1 with keepdim=True")
        return run

    def leaves_scores_alone(call):
        x = _randn(3, 6, seed=25)
        before = x.clone()
        call(x)
        if not torch.equal(x, before):
            raise Mismatch("the scores passed in were changed in place (e.g. `x -= m`)",
                           "compute new tensors, `x - m`, so that the caller's scores stay as they were")

    inf = float("inf")
    cases = [Case("attention scores, 4 queries x 4 keys", case(_randn(4, 4, seed=20, scale=2.0))),
             Case("a batch of 2 x 3 rows of 7 scores", case(_randn(2, 3, 7, seed=21, scale=2.0))),
             Case("one row of 5 scores (1-D)", case(torch.tensor([1.0, 2.0, 3.0, 0.5, -1.0]))),
             Case("large scores: 1e4, 1e4 - 1, 1e4 - 2", case(torch.tensor([[1e4, 1e4 - 1, 1e4 - 2]]))),
             Case("large negative scores near -1e4", case(torch.tensor([[-1e4, -1e4 + 1, -1e4 + 3]]))),
             Case("scores 200 apart", case(torch.tensor([[0.0, -200.0, -1.0], [3.0, 203.0, 200.0]]))),
             Case("masked scores: -inf gets probability 0", case(torch.tensor([[0.0, -inf, 1.0, -inf],
                                                                               [-inf, 2.0, -inf, -inf]]))),
             Case("rows of very different sizes", case(torch.tensor([[1e4, 1e4 - 1, 1e4 - 2], [0.0, 1.0, 2.0]]))),
             Case("the caller's scores are left unchanged", leaves_scores_alone)]
    run_cases("check_stable_softmax", fn, cases, _softmax_error_hint)


# ----------------------------------------------------------------------------
# RMSNorm


def solution_rms_norm(x, weight, eps=1e-6):
    """x / sqrt(mean(x^2) + eps) * weight over the last dimension: `minillm.layers.RMSNorm` with this weight."""
    return functional_call(RMSNorm(x.size(-1), eps=eps).to(x.device), {"weight": weight}, (x,))


def _mean_square(x):
    return x.square().mean(dim=-1, keepdim=True)


RMS_NORM_MISTAKES = [
    Mistake(lambda x, weight, eps=1e-6:
            (x - x.mean(dim=-1, keepdim=True)) / torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + eps) * weight,
            "that is LayerNorm: RMSNorm doesn't subtract the mean, it divides x itself by its root mean square, "
            "sqrt(mean(x^2) + eps)"),
    Mistake(lambda x, weight, eps=1e-6: x / (_mean_square(x) + eps) * weight,
            "divide by the *root* of the mean square, torch.sqrt(mean(x^2) + eps): mean(x^2) alone scales by "
            "the square of the size"),
    Mistake(lambda x, weight, eps=1e-6: x / (torch.sqrt(_mean_square(x)) + eps) * weight,
            "add eps inside the square root, sqrt(mean(x^2) + eps), as minillm's RMSNorm (and LLaMA's) does; "
            "outside it, eps acts differently on small tokens and when eps is large"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(_mean_square(x) + 1e-6) * weight,
            "use the eps passed in, not a number of your own: minillm's RMSNorm takes it as an argument, and "
            "models differ (1e-5 in LLaMA 1, 1e-6 here)"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(_mean_square(x)) * weight,
            "add eps under the square root: a token of zeros has mean(x^2) = 0, and 0 / 0 is nan"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(_mean_square(x) + eps),
            "multiply by weight at the end: the learned scale gamma, one number per channel"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(x.square().sum(dim=-1, keepdim=True) + eps) * weight,
            "take the *mean* of x^2 over the channels, not the sum (x.norm(dim=-1) is the square root of the "
            "sum): the output should have a root mean square of 1, not a length of 1"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(x.square().mean() + eps) * weight,
            "normalise each token on its own: the mean of x^2 over its channels, dim=-1 with keepdim=True, not "
            "over the whole tensor"),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(x.square().mean(dim=-1) + eps) * weight, _KEEPDIM),
    Mistake(lambda x, weight, eps=1e-6: x / torch.sqrt(_mean_square(x) + eps) * weight.detach(),
            "keep weight in autograd: weight.data or weight.detach() (or torch.no_grad) cuts its gradient, and "
            "gamma would never learn"),
]


def check_rms_norm(fn: Callable) -> None:
    """fn(x (..., C), weight (C,), eps=1e-6) -> x / sqrt(mean(x^2) + eps) * weight, over the last dimension.

    Compared with `minillm.layers.RMSNorm` given the same weight, for the
    values and, in the last case, the gradients of x and weight.
    """
    def reference(x, weight, eps):
        with torch.no_grad():
            return solution_rms_norm(x, weight, eps)

    def case(x: torch.Tensor, weight: torch.Tensor, eps: float | None = None) -> Callable:
        def observe(impl):
            args = (x.clone(), weight.clone()) if eps is None else (x.clone(), weight.clone(), eps)
            return _tensor_of_shape(impl(*args), tuple(x.shape), "the same shape as x")

        def run(call):
            expected = reference(x, weight, 1e-6 if eps is None else eps)
            got = observe(call)
            if _close(got, expected):
                return
            row = _first_wrong(got, expected)
            given = "" if eps is None else f", eps={eps}"
            where = f" at {list(row)}" if row else ""
            raise Mismatch(f"for x of shape {tuple(x.shape)}{given}, the token{where}, {_probs(x[row])}, should "
                           f"become {_probs(expected[row])}, got {_probs(got[row])}",
                           known_mistake(RMS_NORM_MISTAKES, observe, got, _close)
                           or "y = x / sqrt(mean(x^2) + eps) * weight, the mean over the last dimension")
        return run

    def gradients(call):
        x0, w0 = _randn(2, 3, 6, seed=34, scale=2.0) + 1.0, _randn(6, seed=35) + 1.0
        upstream = _randn(2, 3, 6, seed=36)

        def observe(impl):
            x, weight = x0.clone().requires_grad_(), w0.clone().requires_grad_()
            out = _as_tensor(impl(x, weight), "a tensor")
            if out.requires_grad:
                (out * upstream).sum().backward()
            return x.grad, weight.grad

        def same(a, b):
            return all((u is None) == (v is None) and (u is None or _close(u, v)) for u, v in zip(a, b))

        got = observe(call)
        if not same(got, observe(solution_rms_norm)):
            missing = [name for name, g in zip(("x", "weight"), got) if g is None]
            problem = (f"no gradient reaches {' or '.join(missing)}" if missing
                       else "the gradients of x and weight differ from RMSNorm's")
            raise Mismatch(problem, known_mistake(RMS_NORM_MISTAKES, observe, got, same)
                           or "compute the output from x and weight with differentiable tensor operations")

    weight8 = _randn(8, seed=31) + 1.0  # gamma: one scale per channel, not all ones
    cases = [Case("8 tokens of 8 channels, off-centre", case(_randn(8, 8, seed=30, scale=3.0) + 1.5, weight8)),
             Case("a batch (2, 5, 8)", case(_randn(2, 5, 8, seed=32, scale=2.0) - 1.0, weight8)),
             Case("one token (1-D)", case(torch.tensor([1.0, -2.0, 3.0, -4.0]), torch.tensor([1.0, 0.5, 2.0, 1.0]))),
             Case("a token of zeros", case(torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]]),
                                           torch.tensor([2.0, 1.0, 1.0, 0.5]))),
             Case("eps=0.1 given", case(_randn(4, 8, seed=33), weight8, eps=0.1)),
             Case("small tokens, where eps counts", case(0.01 * _randn(3, 8, seed=37), weight8)),
             Case("gradients reach x and weight", gradients)]
    run_cases("check_rms_norm", fn, cases)


# ----------------------------------------------------------------------------
# rotary position embeddings


def solution_apply_rope(x, offset=0):
    """Rotate (B, nh, T, hs) to positions offset..offset+T-1: `minillm.layers.Rotary` (pairs i, i + hs/2)."""
    return Rotary(x.size(-1), max_positions=offset + x.size(-2)).to(x.device)(x, offset)


def _rope(x, offset=0, base=10000.0, exponent=None, sign=1.0, interleaved=False):
    """RoPE with its choices spelled out, to write the known mistakes with: exponent(i, hs) gives theta_i's."""
    T, hs = x.size(-2), x.size(-1)
    i = torch.arange(hs // 2, dtype=torch.float32)
    inv_freq = base ** (exponent(i, hs) if exponent else -2 * i / hs)                 # (hs/2,)
    angles = torch.arange(offset, offset + T, dtype=torch.float32)[:, None] * inv_freq  # (T, hs/2)
    cos, sin = angles.cos(), sign * angles.sin()
    if interleaved:  # pairs (2i, 2i + 1), as the RoFormer paper and GPT-J write it
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
    x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


APPLY_ROPE_MISTAKES = [
    Mistake(lambda x, offset=0: _rope(x, offset, interleaved=True),
            "pair channel i with channel i + hs/2 (minillm's \"rotate half\" layout, as GPT-NeoX and LLaMA in "
            "Hugging Face): x1, x2 = x[..., :hs//2], x[..., hs//2:]; the pairs (2i, 2i+1) of the RoFormer paper "
            "are the same idea in another layout, and a model trained in one layout can't use the other"),
    Mistake(lambda x, offset=0: _rope(x, offset, sign=-1.0),
            "your rotation turns the wrong way, by minus the angle: it is (x1, x2) -> (x1 cos - x2 sin, "
            "x1 sin + x2 cos)"),
    Mistake(lambda x, offset=0: _rope(x, 0),
            "use the offset: the T positions are offset, offset + 1, ..., offset + T - 1 (a KV cache feeds one "
            "new token at position offset = T)"),
    Mistake(lambda x, offset=0: _rope(x, offset, exponent=lambda i, hs: -i / hs),
            "theta_i = 10000^(-2i/hs) for i = 0 .. hs/2 - 1, i.e. 10000 ** (-torch.arange(0, hs, 2) / hs): "
            "the exponent runs from 0 to almost -1, not to -1/2"),
    Mistake(lambda x, offset=0: _rope(x, offset, exponent=lambda i, hs: 2 * i / hs),
            "theta_i = 10000^(-2i/hs) has a minus sign: the first pair turns fastest (1 radian per position), "
            "the last slowest"),
]


def _rope_error_hint(error: BaseException) -> str | None:
    if isinstance(error, RuntimeError) and "must match the size of tensor" in str(error):
        return ("the angles are (T, hs/2), one per position and pair; they broadcast against each half of x, "
                "x[..., :hs//2] of shape (B, nh, T, hs/2)")
    return None


def check_apply_rope(fn: Callable) -> None:
    """fn(x (B, nh, T, hs), offset=0) -> x rotated to positions offset..offset+T-1, pairs (i, i + hs/2).

    Compared with `minillm.layers.Rotary(hs, offset + T)(x, offset)`.
    """
    def case(shape: tuple[int, ...], offset: int, seed: int) -> Callable:
        x = _randn(*shape, seed=seed)

        def observe(impl):
            out = impl(x.clone()) if offset == 0 else impl(x.clone(), offset)
            return _tensor_of_shape(out, shape, "one rotated vector per head and position")

        def run(call):
            expected = Rotary(shape[-1], offset + shape[-2])(x, offset)
            got = observe(call)
            if _close(got, expected):
                return
            *_, t = _first_wrong(got, expected)
            raise Mismatch(f"for x of shape {shape} with offset={offset}, the vector at position {offset + t} "
                           f"(index {t} along T) is rotated wrongly",
                           known_mistake(APPLY_ROPE_MISTAKES, observe, got, _close)
                           or "pair channel i with i + hs/2 and turn each pair at position p by p * theta_i, "
                              "theta_i = 10000^(-2i/hs)")
        return run

    cases = [Case("one head, 5 positions of 8 channels", case((1, 1, 5, 8), 0, seed=40)),
             Case("2 sequences, 3 heads, 6 positions of 16 channels", case((2, 3, 6, 16), 0, seed=41)),
             Case("position 0 stays as it is", case((1, 2, 1, 8), 0, seed=42)),
             Case("offset 5: positions 5..8 (a KV cache)", case((2, 2, 4, 8), 5, seed=43)),
             Case("one new token at position 37", case((1, 2, 1, 16), 37, seed=44)),
             Case("64 positions of head size 64", case((1, 1, 64, 64), 0, seed=45))]
    run_cases("check_apply_rope", fn, cases, _rope_error_hint)


# ----------------------------------------------------------------------------
# attention with masks


def solution_masked_attention(q, k, v, mask=None, causal=True):
    """softmax(q k^T / sqrt(hs), -inf where not allowed) v: `minillm.attention.reference_attention`."""
    return reference_attention(q, k, v, mask, causal)


def _attention(q, k, v, mask=None, causal=True, scale=None, fill=float("-inf"), tril=None, softmax_dim=-1,
               combine=True, after_softmax=False):
    """Attention with its choices spelled out, to write the known mistakes with."""
    Tq, Tk = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.size(-1)))  # (B, nh, Tq, Tk)
    keep = torch.ones(Tq, Tk, dtype=torch.bool)
    if causal and (mask is None or combine):
        keep = tril(keep) if tril else keep.tril(diagonal=Tk - Tq)
    if mask is not None:
        keep = keep & mask
    if after_softmax:
        return torch.softmax(scores, dim=-1).masked_fill(~keep, 0.0) @ v
    return torch.softmax(scores.masked_fill(~keep, fill), dim=softmax_dim) @ v


MASKED_ATTENTION_MISTAKES = [
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, scale=1.0),
            "scale the scores by 1 / sqrt(hs): q . k grows like sqrt(hs), and unscaled scores make the softmax "
            "nearly one-hot, with vanishing gradients"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, fill=0.0),
            "fill the positions that are not allowed with -inf, not 0: exp(0) = 1 still gives them weight, "
            "exp(-inf) = 0 gives none"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, after_softmax=True),
            "mask the scores *before* the softmax (with -inf): zeroing weights after it leaves rows that no "
            "longer sum to 1"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, tril=lambda m: m.triu()),
            "a query sees itself and the *past*: keep the lower triangle, tril, and mask the keys above it "
            "(triu keeps the future)"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, tril=lambda m: m.tril()),
            "with fewer queries than keys, the queries are the *last* Tq positions: query i sits at position "
            "Tk - Tq + i and sees keys 0 .. Tk - Tq + i, so shift the triangle, tril(diagonal=Tk - Tq)"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, softmax_dim=-2),
            "take the softmax over the keys, dim=-1: each query's row of weights must sum to 1"),
    Mistake(lambda q, k, v, mask=None, causal=True: _attention(q, k, v, mask, causal, combine=False),
            "with both a mask and causal=True, apply both: a key must be allowed by the mask *and* not lie in "
            "the future"),
    Mistake(lambda q, k, v, mask=None, causal=True:
            _attention(q, k, v, None if mask is None else ~mask, causal),
            "the mask is True where attention is *allowed*: fill the scores with -inf where it is False, "
            "scores.masked_fill(~mask, float('-inf'))"),
]


def _attention_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, RuntimeError) and "must match the size of tensor" in message:
        return ("the scores are (B, nh, Tq, Tk), so the causal mask is (Tq, Tk), "
                "torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq); the mask broadcasts to the scores")
    if isinstance(error, TypeError) and "NoneType" in message:
        return "mask may be None, meaning no mask: apply it only `if mask is not None`"
    return None


def check_masked_attention(fn: Callable) -> None:
    """fn(q (B, nh, Tq, hs), k, v (B, nh, Tk, hs), mask=None, causal=True) -> (B, nh, Tq, hs).

    mask is bool, True where attention is allowed, broadcastable to
    (B, nh, Tq, Tk); causal=True keeps keys at or before each query, the
    queries being the last Tq positions. Compared with
    `minillm.attention.reference_attention`.
    """
    def padding(lengths: list[int], T: int) -> torch.Tensor:
        """(B, 1, 1, T) bool: True for each sequence's first `length` keys."""
        return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]

    def case(B: int, nh: int, Tq: int, Tk: int, hs: int, seed: int, mask: torch.Tensor | None = None,
             causal: bool = True) -> Callable:
        q = _randn(B, nh, Tq, hs, seed=seed)
        k, v = _randn(B, nh, Tk, hs, seed=seed + 1), _randn(B, nh, Tk, hs, seed=seed + 2)

        def observe(impl):
            out = impl(q.clone(), k.clone(), v.clone(), mask=mask, causal=causal)
            return _tensor_of_shape(out, (B, nh, Tq, hs), "(B, nh, Tq, hs): one output vector per query")

        def run(call):
            expected = reference_attention(q, k, v, mask, causal)
            got = observe(call)
            if _close(got, expected):
                return
            b, h, i = _first_wrong(got, expected)
            given = "no mask" if mask is None else f"a mask of shape {tuple(mask.shape)}"
            raise Mismatch(f"for q {(B, nh, Tq, hs)}, k and v {(B, nh, Tk, hs)}, {given}, causal={causal}: the "
                           f"output of query {i} (batch {b}, head {h}) is wrong",
                           known_mistake(MASKED_ATTENTION_MISTAKES, observe, got, _close)
                           or "scores = q @ k^T / sqrt(hs), -inf where not allowed, softmax over the keys "
                              "(dim=-1), then @ v")
        return run

    chosen = torch.rand(2, 1, 5, 5, generator=torch.Generator().manual_seed(57)) < 0.5
    any_mask = chosen | torch.eye(5, dtype=torch.bool)  # each query may see at least itself
    cases = [Case("causal self-attention, 2 x 3 heads x 5 tokens", case(2, 3, 5, 5, 8, seed=50)),
             Case("causal, a single token", case(1, 2, 1, 1, 8, seed=53)),
             Case("both ways (an encoder), no mask", case(2, 2, 5, 5, 8, seed=56, causal=False)),
             Case("a padding mask, both ways", case(2, 2, 6, 6, 8, seed=59, mask=padding([6, 4], 6), causal=False)),
             Case("a padding mask and causal together", case(2, 2, 6, 6, 8, seed=62, mask=padding([6, 3], 6))),
             Case("a mask of shape (B, 1, Tq, Tk), both ways", case(2, 3, 5, 5, 4, seed=65, mask=any_mask,
                                                                    causal=False)),
             Case("cross-attention: 3 queries, 6 keys, padding", case(2, 2, 3, 6, 8, seed=68, mask=padding([6, 5], 6),
                                                                     causal=False)),
             Case("causal, the last 2 queries of 6 (a KV cache)", case(2, 2, 2, 6, 8, seed=71)),
             Case("causal, head size 64", case(1, 2, 7, 7, 64, seed=74))]
    run_cases("check_masked_attention", fn, cases, _attention_error_hint)


# ----------------------------------------------------------------------------
# counting a GPT's parameters


def _gpt2_config(n_layer, n_embd, vocab_size, block_size) -> GPTConfig:
    """GPT-2's layout at this size; one head (the heads split the width and don't change the count)."""
    return GPTConfig.architecture("gpt2", n_layer=n_layer, n_embd=n_embd, n_head=1, vocab_size=vocab_size,
                                  block_size=block_size)


def solution_count_params(n_layer, n_embd, vocab_size, block_size):
    """Parameters of a GPT-2-style model (tied head), counted from the shapes by `minillm.scaling`."""
    return scaling.param_count(scaling.from_gpt_config(_gpt2_config(n_layer, n_embd, vocab_size, block_size)))["total"]


def _count(n_layer, n_embd, vocab_size, block_size, tied=True, linear_bias=True, norm_bias=True, final_norm=True,
           positions=True, out_proj=True):
    """GPT-2's count with its parts switchable, to write the known mistakes with."""
    d = n_embd

    def linear(d_in, d_out):
        return d_in * d_out + (d_out if linear_bias else 0)

    attention = linear(d, 3 * d) + (linear(d, d) if out_proj else 0)
    mlp = linear(d, 4 * d) + linear(4 * d, d)
    norm = 2 * d if norm_bias else d
    return (vocab_size * d + (block_size * d if positions else 0) + n_layer * (attention + mlp + 2 * norm)
            + (norm if final_norm else 0) + (0 if tied else vocab_size * d))


COUNT_PARAMS_MISTAKES = [
    Mistake(lambda L, d, V, T: _count(L, d, V, T, tied=False),
            "GPT-2 ties the output head to the token embedding: one (V, C) matrix used twice, counted once"),
    Mistake(lambda L, d, V, T: _count(L, d, V, T, linear_bias=False),
            "every linear layer has a bias too (bias=True in GPT-2): 3C for q, k, v, C for the attention's "
            "output projection, 4C and C in the MLP"),
    Mistake(lambda L, d, V, T: _count(L, d, V, T, norm_bias=False),
            "a LayerNorm has two vectors of C numbers: the scale (weight, gamma) and the shift (bias, beta)"),
    Mistake(lambda L, d, V, T: _count(L, d, V, T, final_norm=False),
            "count the final LayerNorm, after the last block and before the head: 2C more"),
    Mistake(lambda L, d, V, T: _count(L, d, V, T, positions=False),
            "count the learned position table too: block_size rows of C numbers"),
    Mistake(lambda L, d, V, T: _count(L, d, V, T, out_proj=False),
            "attention has four C x C matrices: query, key and value, and the output projection after the heads "
            "(each with its bias)"),
]


def check_count_params(fn: Callable) -> None:
    """fn(n_layer, n_embd, vocab_size, block_size) -> int, the parameters of a GPT-2-style model.

    GPT-2's layout: learned positions, LayerNorms with biases, a 4x MLP,
    biases in every linear layer, the output head tied to the token
    embedding. Small models are built and counted, `GPT(...).num_params()`;
    GPT-2 small, medium and XL are counted from their shapes by
    `minillm.scaling` (GPT-2 small: 124,439,808).
    """
    def answer(value: Any, args: tuple) -> int:
        if isinstance(value, float) and value.is_integer():
            raise Mismatch(f"count_params{args} returned the float {value}: return an int (integer arithmetic, "
                           "// rather than /, or int(...))")
        try:
            if not isinstance(value, bool):
                return operator.index(value)  # an int, or a NumPy or one-element PyTorch integer
        except TypeError:
            pass
        raise Mismatch(f"expected a number of parameters (an int), got a {type(value).__name__}: {value!r:.80}")

    def case(n_layer: int, n_embd: int, vocab_size: int, block_size: int, build: bool) -> Callable:
        args = (n_layer, n_embd, vocab_size, block_size)

        def observe(impl):
            return answer(impl(*args), args)

        def run(call):
            if build:
                expected = GPT(_gpt2_config(*args)).num_params()
            else:
                expected = solution_count_params(*args)
            got = observe(call)
            if got == expected:
                return
            off = f"{got - expected:,} too many" if got > expected else f"{expected - got:,} too few"
            raise Mismatch(f"count_params(n_layer={n_layer}, n_embd={n_embd}, vocab_size={vocab_size}, "
                           f"block_size={block_size}) should be {expected:,}, got {got:,} ({off})",
                           known_mistake(COUNT_PARAMS_MISTAKES, observe, got)
                           or "token embedding + position table + per layer (attention + MLP + 2 LayerNorms) "
                              "+ final LayerNorm; the head is the embedding")
        return run

    cases = [Case("a tiny model built and counted: 1 layer of width 4", case(1, 4, 10, 8, build=True)),
             Case("a model built and counted: 2 layers of width 8", case(2, 8, 13, 16, build=True)),
             Case("a model built and counted: 3 layers of width 12", case(3, 12, 65, 32, build=True)),
             Case("GPT-2 small: 124,439,808", case(12, 768, 50257, 1024, build=False)),
             Case("GPT-2 medium", case(24, 1024, 50257, 1024, build=False)),
             Case("GPT-2 XL", case(48, 1600, 50257, 1024, build=False))]
    run_cases("check_count_params", fn, cases)
