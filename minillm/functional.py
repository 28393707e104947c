"""The numerics under a Transformer, from elementary ops: softmax, cross-entropy, activations.

Softmax turns a row of scores into probabilities:

    softmax(x)_i = exp(x_i) / sum_j exp(x_j)

Written exactly so (`naive_softmax`) it breaks on ordinary inputs: exp(89)
overflows float32 and exp(710) float64, giving inf / inf = nan, and a row
of very negative scores underflows to 0 / 0. The fix is one line: softmax does
not change when the same number is subtracted from every entry, so subtract
the row's maximum m first,

    softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)

Now every exponent is <= 0 (no overflow) and the largest is exactly 0, so the
sum is >= 1 (no 0 / 0). The same shift makes the log of the sum stable:

    logsumexp(x) = m + log sum_j exp(x_j - m)
    log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)   (= x_i - logsumexp(x))

and log_softmax is how a loss should take logs: log(softmax(x)) rounds tiny
probabilities to 0 and returns -inf where x_i - logsumexp(x) is a finite number.

Cross-entropy is the language model's loss: the mean over positions of
-log P(target), i.e. -log_softmax(logits)[target]. Positions whose target is
`ignore_index` are left out of both the sum and the count; fine-tuning uses
this to train only on the answer tokens of a prompt + answer sequence.

Activations, the MLP's non-linearity:

    relu(x) = max(x, 0)
    silu(x) = x * sigmoid(x)                        (LLaMA's SwiGLU uses it)
    gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))          (exact)
           ~= 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2's approximation)

where Phi is the standard normal's cumulative distribution. sigmoid has
softmax's overflow trap (it *is* a two-way softmax: sigmoid(x) =
softmax([x, 0])[0]) and takes the same fix.

Design choices and simplifications for teaching:
- Every function is a few elementary torch ops (exp, amax, log, erf, tanh,
  where, gather); autograd differentiates them, so there are no hand-written
  backward passes. The tests hold values and gradients against PyTorch's own
  ops (`torch.softmax`, `F.cross_entropy`, `F.gelu`, ...), which are fused
  kernels and faster: these are the readable references beside them.
- The maximum subtracted for stability is detached: the result does not depend
  on it, so no gradient should flow through it (and none does, either way,
  up to rounding).
- Edge cases follow PyTorch: a row that is entirely -inf (attention with
  nothing allowed) gives nan from softmax and log_softmax and -inf from
  logsumexp; cross-entropy with every position ignored gives nan (0 / 0).
- No dtype handling: call these on float32 or float64. The model computes its
  loss in float32 for the same reason (exp in bfloat16 has 3 significant digits).
- `cross_entropy` takes the vocabulary on the *last* dimension, (B, T, V), as
  a language model produces it; PyTorch's `F.cross_entropy` wants it on
  dimension 1, (B, V, T), for images' sake. Only the mean is offered (no
  `reduction=`, no label smoothing).
"""

from __future__ import annotations

import math

import torch

GELU_APPROXIMATIONS = ("none", "tanh")


# ----------------------------------------------------------------------------
# softmax and friends


def naive_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) as the formula reads: kept to show why nobody computes it this way.

    >>> naive_softmax(torch.tensor([1.0, 2.0, 3.0]))
    tensor([0.0900, 0.2447, 0.6652])
    >>> naive_softmax(torch.tensor([1e4, 0.0]))  # exp(1e4) = inf, and inf / inf = nan
    tensor([nan, 0.])
    >>> softmax(torch.tensor([1e4, 0.0]))  # the stable version: exp(0) / (exp(0) + exp(-1e4))
    tensor([1., 0.])
    """
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _row_max(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The shift m for the max trick: max along `dim` (kept), detached, with infinite maxima replaced by 0.

    subtle: a row that is entirely -inf has m = -inf, and x - m = -inf - (-inf) = nan. Shifting such a
    row by 0 instead lets logsumexp return log(0) = -inf, as PyTorch's does (softmax is then 0 / 0 = nan
    either way, also as PyTorch's).
    """
    m = x.amax(dim=dim, keepdim=True).detach()
    return torch.where(m.isinf(), torch.zeros_like(m), m)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x - m) / sum(exp(x - m)) along `dim`, with m the maximum: same shape as x, each row sums to 1.

    >>> softmax(torch.tensor([1.0, 2.0, 3.0]))
    tensor([0.0900, 0.2447, 0.6652])
    >>> softmax(torch.tensor([1e4, 1e4 - 1.0]))  # the same as softmax([1, 0])
    tensor([0.7311, 0.2689])
    >>> softmax(torch.tensor([0.0, float("-inf")]))  # -inf, a masked position, gets probability 0
    tensor([1., 0.])
    """
    e = (x - _row_max(x, dim)).exp()  # every exponent <= 0, the largest exactly 0
    return e / e.sum(dim=dim, keepdim=True)  # the sum is >= 1: no overflow, no 0 / 0


def logsumexp(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """log(sum(exp(x))) along `dim`, computed as m + log(sum(exp(x - m))) so it neither overflows nor underflows.

    >>> logsumexp(torch.tensor([0.0, 0.0]))  # log 2
    tensor(0.6931)
    >>> logsumexp(torch.tensor([1e4, 1e4], dtype=torch.float64)).item()  # 1e4 + log 2, where exp(1e4) is inf
    10000.69314718056
    >>> logsumexp(torch.tensor([-1e4, -1e4], dtype=torch.float64)).item()  # -1e4 + log 2, where exp(-1e4) is 0
    -9999.30685281944
    """
    m = _row_max(x, dim)  # (..., 1, ...) with a 1 at `dim`
    out = m + (x - m).exp().sum(dim=dim, keepdim=True).log()
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log(softmax(x)) along `dim`, as (x - m) - log(sum(exp(x - m))): finite wherever x is.

    subtle: x - logsumexp(x) is the same number on paper, but in float32 it subtracts two numbers near
    m, each rounded to m's precision: at m = 1e4 that is 1e-3, so every log-probability is off by up
    to 1e-3. Subtracting m from x first, exactly, keeps the numbers small (PyTorch does the same).

    >>> log_softmax(torch.tensor([0.0, 0.0]))  # log(1/2) twice
    tensor([-0.6931, -0.6931])
    >>> log_softmax(torch.tensor([0.0, -1e4]))  # log(softmax) would say -inf: softmax(...)[1] rounds to 0
    tensor([     0., -10000.])
    """
    shifted = x - _row_max(x, dim)  # the largest entry is exactly 0
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


# ----------------------------------------------------------------------------
# the loss


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """The mean of -log P(target) over the positions whose target is not `ignore_index`: a scalar.

    logits (N, V) with targets (N,), or logits (B, T, V) with targets (B, T): integer class ids in
    0..V-1, or `ignore_index` for a position that should not count (a prompt token in fine-tuning,
    padding). The mean divides by the number of positions kept, not by all of them. If every
    position is ignored the mean is 0 / 0 = nan, as in PyTorch (and, as there, the gradient is 0).

    >>> cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3]))  # uniform over 4 classes: log 4 per position
    tensor(1.3863)
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> cross_entropy(logits, torch.tensor([0, -100]))  # only row 0 counts: -log(e^2 / (e^2 + 1))
    tensor(0.1269)
    """
    if logits.ndim not in (2, 3):
        raise ValueError(f"logits must have shape (N, V) or (B, T, V), got {tuple(logits.shape)}")
    if targets.shape != logits.shape[:-1]:
        expected = "(N,)" if logits.ndim == 2 else "(B, T)"
        raise ValueError(f"targets must have shape {expected} = {tuple(logits.shape[:-1])} to match logits "
                         f"{tuple(logits.shape)} (one target per position, the vocabulary last), "
                         f"got {tuple(targets.shape)}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be integer class ids (torch.long), got {targets.dtype}")
    V = logits.size(-1)
    keep = targets != ignore_index  # (N,) or (B, T): the positions that count
    if (keep & ((targets < 0) | (targets >= V))).any():  # subtle: on a GPU this check waits for the GPU
        raise ValueError(f"targets must lie in 0..{V - 1} or equal ignore_index = {ignore_index}")
    safe = torch.where(keep, targets, torch.zeros_like(targets))  # ignored positions look up class 0, then drop it
    logp = log_softmax(logits, dim=-1)  # (..., V)
    picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (...,) log P(target)
    # subtle: where, not multiplying by keep: an ignored position's log P(class 0) may be -inf, and -inf * 0 = nan
    nll = torch.where(keep, -picked, torch.zeros_like(picked))
    return nll.sum() / keep.sum()


# ----------------------------------------------------------------------------
# activations


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0), elementwise; its gradient at 0 is taken as 0, as PyTorch's.

    >>> relu(torch.tensor([-2.0, 0.0, 3.0]))
    tensor([0., 0., 3.])
    """
    # `x <= 0` rather than `x > 0`: nan <= 0 is False, so nan passes through as in F.relu
    return torch.where(x <= 0, torch.zeros_like(x), x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)), computed without overflow as a two-way softmax: softmax([x, 0])[0].

    With m = max(x, 0) it is exp(x - m) / (exp(x - m) + exp(-m)): both exponents are <= 0 and one is 0,
    so neither the value nor its gradient overflows (1 / (1 + exp(-x)) has a nan gradient at x = -1e4).

    >>> sigmoid(torch.tensor([0.0, -1e4, 1e4]))
    tensor([0.5000, 0.0000, 1.0000])
    """
    m = torch.where(x > 0, x, torch.zeros_like(x)).detach()
    a, b = (x - m).exp(), (-m).exp()  # each in (0, 1], at least one of them exactly 1
    return a / (a + b)


def silu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(x) (also called swish): like relu, but smooth and slightly negative just below 0.

    >>> silu(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.2689,  0.0000,  0.7311])
    """
    return x * sigmoid(x)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """x * Phi(x), Phi the standard normal CDF: exactly with erf ("none"), or GPT-2's tanh formula ("tanh").

    The two differ by at most about 5e-4 (near |x| = 2.7); a model trained with one should still be run with
    the same one.

    >>> gelu(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.1587,  0.0000,  0.8413])
    >>> gelu(torch.tensor([-1.0, 0.0, 1.0]), approximate="tanh")
    tensor([-0.1588,  0.0000,  0.8412])
    """
    if approximate == "none":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))  # Phi(x) = (1 + erf(x / sqrt 2)) / 2
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)  # Hendrycks & Gimpel (2016), the GELU paper
        return 0.5 * x * (1.0 + torch.tanh(inner))
    raise ValueError(f"unknown approximate {approximate!r}; choose one of {', '.join(map(repr, GELU_APPROXIMATIONS))}")
