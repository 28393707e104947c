"""Checkers for module M1, language modeling (notebook 01): training pairs, counts, the loss.

Each compares a student's function with the code the package itself uses:
the training loop's batcher, the counting bigram model and PyTorch's
cross-entropy. Above each checker, its known mistakes: wrong solutions a
student is likely to write, each with the hint for its bug.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..bigram import bigram_counts
from ..data import get_batch
from ._core import Case, Mismatch, Mistake, _as_tensor, _random_ids, _random_logits, _show, known_mistake, run_cases

# ----------------------------------------------------------------------------
# shift by one


def solution_shift_by_one(ids):
    """(inputs, targets) from the training loop's own batcher, `get_batch` on one window as long as ids.

    Returns tensors for a tensor and lists for a list, like slicing would.
    """
    x, y = get_batch(torch.as_tensor(ids), batch_size=1, block_size=len(ids) - 1)  # the only window there is
    if isinstance(ids, torch.Tensor):
        return x[0], y[0]
    return x[0].tolist(), y[0].tolist()


SHIFT_BY_ONE_MISTAKES = [
    Mistake(lambda ids: (ids[1:], ids[:-1]),
            "inputs and targets are swapped: the target at each position is the token that comes *after* the "
            "input there"),
    Mistake(lambda ids: (ids, ids[1:]),
            "a list of n tokens gives n - 1 pairs: the last token has no next token, so it is not an input "
            "(inputs = ids[:-1])"),
    Mistake(lambda ids: (list(ids), list(ids[1:]) + list(ids[:1])),
            "the last token has no next token to predict: leave it out of the inputs instead of wrapping "
            "around to the first token"),
    Mistake(lambda ids: (ids[:-1], ids[:-1]),
            "the targets are the inputs moved left by one, ids[1:], not the inputs again"),
    Mistake(lambda ids: (ids[:-2], ids[2:]),
            "shift by one position, not two: the target at position t is ids[t + 1]"),
]


def check_shift_by_one(fn: Callable) -> None:
    """fn(ids) -> (inputs, targets): inputs = every token but the last, targets = every token but the first.

    The reference is the training loop's own batcher: `get_batch` on a window
    as long as the whole list returns exactly (ids[:-1], ids[1:]).
    """
    def case(ids: list[int] | torch.Tensor) -> Callable:
        def observe(impl):
            given = ids.clone() if isinstance(ids, torch.Tensor) else list(ids)
            answer = impl(given)
            if not isinstance(answer, (tuple, list)) or len(answer) != 2:
                raise Mismatch(f"return two things, `inputs, targets`; got {answer!r:.80}")
            return (_as_tensor(answer[0], "inputs as a list or tensor of token ids").tolist(),
                    _as_tensor(answer[1], "targets as a list or tensor of token ids").tolist())

        def run(call):
            expected = observe(solution_shift_by_one)
            got = observe(call)
            if got == expected:
                return
            (x, y), n = got, len(expected[0])
            problem = (f"for ids {_show(ids)} expected inputs {_show(expected[0])} and targets "
                       f"{_show(expected[1])}, got {_show(x)} and {_show(y)}")
            hint = known_mistake(SHIFT_BY_ONE_MISTAKES, observe, got)
            if hint is None and (len(x) != n or len(y) != n):
                hint = (f"a list of {n + 1} tokens gives {n} inputs and {n} targets (the last token has no next "
                        f"token to predict, and the first is never a target); got {len(x)} inputs and "
                        f"{len(y)} targets")
            raise Mismatch(problem, hint or "the target at position t is ids[t + 1]")
        return run

    cases = [Case("the docstring example [5, 1, 4, 1]", case([5, 1, 4, 1])),
             Case("two tokens: a single training pair", case([3, 9])),
             Case("one token repeated [7, 7, 7]", case([7, 7, 7])),
             Case("a 1-D tensor instead of a list", case(_random_ids(12, 65, seed=1)))]
    cases += [Case(f"{n} random ids", case(_random_ids(n, 65, seed=n).tolist())) for n in (10, 33)]
    run_cases("check_shift_by_one", fn, cases)


# ----------------------------------------------------------------------------
# bigram counts

solution_bigram_counts = bigram_counts


def _counts_stop_early(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)
    for t in range(len(ids) - 2):
        counts[ids[t], ids[t + 1]] += 1
    return counts


def _counts_without_repeats(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)
    counts[ids[:-1], ids[1:]] += 1  # with index tensors, each distinct (a, b) is written once
    return counts


def _counts_both_ways(ids, vocab_size):
    counts = bigram_counts(ids, vocab_size)
    return counts + counts.T


def _counts_normalised(ids, vocab_size):
    counts = bigram_counts(ids, vocab_size).double()
    return counts / counts.sum(dim=1, keepdim=True)


BIGRAM_COUNTS_MISTAKES = [
    Mistake(lambda ids, V: bigram_counts(ids, V).T,
            "rows and columns are swapped: counts[a, b] counts token b following token a, so the row is the "
            "current token and the column the next one"),
    Mistake(_counts_stop_early,
            "the last pair is missing: n tokens have n - 1 pairs, (ids[t], ids[t + 1]) for t = 0 .. n - 2, so "
            "loop over range(len(ids) - 1)"),
    Mistake(lambda ids, V: bigram_counts(torch.cat([ids, ids[:1]]), V),
            "the last token has no next token: don't pair it with the first one (n tokens have n - 1 pairs)"),
    Mistake(_counts_without_repeats,
            "a pair that occurs k times must count k; `counts[a, b] += 1` with index tensors adds only once per "
            "distinct pair, so use index_put_(..., accumulate=True) or torch.bincount"),
    Mistake(_counts_both_ways,
            "count only (current, next): token b following token a says nothing about a following b"),
    Mistake(_counts_normalised,
            "return the raw counts, whole numbers; turning them into probabilities (with smoothing) is the next "
            "step, BigramModel"),
]


def check_bigram_counts(fn: Callable) -> None:
    """fn(ids, vocab_size) -> counts (V, V), counts[a, b] = how often b directly follows a.

    Compared with `minillm.bigram.bigram_counts`.
    """
    def case(ids: list[int] | torch.Tensor, vocab_size: int) -> Callable:
        ids = torch.as_tensor(ids, dtype=torch.long)

        def observe(impl):
            V = vocab_size
            got = _as_tensor(impl(ids.clone(), V), f"a ({V}, {V}) tensor of counts")
            if got.shape != (V, V):
                raise Mismatch(f"expected shape ({V}, {V}): one row per current token a and one column per "
                               f"next token b, for all {V} tokens of the vocabulary; got {tuple(got.shape)}")
            return got.double()

        def same(a, b):
            return torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)

        def run(call):
            expected = bigram_counts(ids, vocab_size).double()
            got = observe(call)
            if same(got, expected):
                return
            a, b = (got != expected).nonzero()[0].tolist()
            problem = (f"for ids {_show(ids)}, counts[{a}, {b}] should be {expected[a, b].item():g} (token {b} "
                       f"follows token {a} that often), got {got[a, b].item():g}")
            hint = known_mistake(BIGRAM_COUNTS_MISTAKES, observe, got, same)
            pairs = max(len(ids) - 1, 0)
            if hint is None and got.sum().item() != pairs:
                hint = (f"the counts add up to {got.sum().item():g}, but {len(ids)} tokens have {pairs} "
                        "neighbouring pairs (ids[t], ids[t + 1]), and each adds exactly one")
            raise Mismatch(problem, hint)
        return run

    cases = [Case("(0, 1) occurs twice in [0, 1, 0, 1, 2], V=3", case([0, 1, 0, 1, 2], 3)),
             Case("the docstring example [0, 1, 2, 0, 1], V=3", case([0, 1, 2, 0, 1], 3)),
             Case("one token repeated [2, 2, 2, 2], V=4", case([2, 2, 2, 2], 4)),
             Case("a single token: no pairs at all", case([1], 3)),
             Case("tokens 3 and 4 never occur, V=5", case(_random_ids(20, 3, seed=3), 5)),
             Case("50 random ids, V=6", case(_random_ids(50, 6, seed=4), 6)),
             Case("500 random ids, V=20", case(_random_ids(500, 20, seed=5), 20))]
    run_cases("check_bigram_counts", fn, cases)


# ----------------------------------------------------------------------------
# cross-entropy

solution_cross_entropy = F.cross_entropy


def _log_softmax(logits):
    return logits - logits.logsumexp(dim=-1, keepdim=True)


def _pick(log_probs, targets):
    return log_probs[torch.arange(len(targets)), targets]  # (N,) log P(target) at each position


def _ce_naive_softmax(logits, targets):
    probs = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)  # inf / inf = nan for large logits
    return -_pick(probs, targets).log().mean()


def _ce_log_of_softmax(logits, targets):
    return -_pick(torch.softmax(logits, dim=-1).log(), targets).mean()  # log(0) = -inf after underflow


def _ce_naive_logsumexp(logits, targets):
    return -_pick(logits - logits.exp().sum(dim=-1, keepdim=True).log(), targets).mean()


def _ce_one_hot_mean(logits, targets):
    return -(_log_softmax(logits) * F.one_hot(targets, logits.size(-1))).mean()


CROSS_ENTROPY_MISTAKES = [
    Mistake(lambda logits, targets: -_pick(_log_softmax(logits), targets).sum(),
            "that is the sum over positions; the loss is the mean"),
    Mistake(lambda logits, targets: _pick(_log_softmax(logits), targets).mean(),
            "the sign is flipped: the loss is the *negative* log-probability of the target"),
    Mistake(lambda logits, targets: -_pick(logits, targets).mean(),
            "logits are not log-probabilities: subtract each row's log-normaliser first, log softmax(z) = "
            "z - logsumexp(z)"),
    Mistake(lambda logits, targets: -_pick(torch.log_softmax(logits, dim=0), targets).mean(),
            "take the softmax over the vocabulary, dim=-1 (each row holds one position's scores), not over "
            "the positions"),
    Mistake(lambda logits, targets: -_log_softmax(logits)[:, targets].mean(),
            "log_probs[:, targets] picks every target's column in every row (N x N values); pick one per row, "
            "log_probs[torch.arange(N), targets]"),
    Mistake(_ce_one_hot_mean,
            "average over positions only: (log_probs * one_hot).mean() also divides by V; sum over the "
            "vocabulary first, or pick each row's target entry"),
    Mistake(lambda logits, targets: -_pick(_log_softmax(logits), targets).mean() / math.log(2),
            "use the natural log (nats), as F.cross_entropy does; log2 gives bits"),
    Mistake(_ce_naive_softmax,
            "exp(logits) overflows to inf for logits in the hundreds, and inf / inf is nan: subtract each "
            "row's max before exp (the softmax doesn't change), or work in log space with torch.logsumexp"),
    Mistake(_ce_log_of_softmax,
            "softmax, then log: a probability that underflows to 0 has log -inf; work in log space instead, "
            "log softmax(z) = z - torch.logsumexp(z, dim=-1, keepdim=True)"),
    Mistake(_ce_naive_logsumexp,
            "log(sum(exp(z))) is the right formula, but exp overflows for logits in the hundreds: subtract the "
            "row's max m first, logsumexp(z) = m + log(sum(exp(z - m))), or call torch.logsumexp"),
]


def _same_number(a: float, b: float) -> bool:
    """Equal within float32 rounding; nan equals nan and inf equals inf of the same sign."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)


def check_cross_entropy(fn: Callable) -> None:
    """fn(logits (N, V), targets (N,)) -> mean over positions of -log softmax(logits)[target].

    Compared with `torch.nn.functional.cross_entropy`, which the model uses.
    """
    def case(logits: torch.Tensor, targets: torch.Tensor) -> Callable:
        def observe(impl):
            got = _as_tensor(impl(logits.clone(), targets.clone()), "one number (a float or a 0-d tensor)")
            if got.numel() != 1:
                raise Mismatch(f"return one number, the mean over all {len(targets)} positions; got a tensor "
                               f"of shape {tuple(got.shape)} (one loss per position? take the mean)")
            return got.item()

        def run(call):
            expected = F.cross_entropy(logits, targets).item()
            got = observe(call)
            if _same_number(got, expected):
                return
            hint = known_mistake(CROSS_ENTROPY_MISTAKES, observe, got, _same_number)
            if hint is None and not math.isfinite(got):
                hint = ("exp of large logits overflows (or a probability underflows to 0 and its log is -inf); "
                        "work in log space: log softmax(z) = z - logsumexp(z), e.g. with torch.logsumexp")
            raise Mismatch(f"for logits of shape {tuple(logits.shape)} expected {expected:.6f}, got {got:.6f}",
                           hint or "loss = mean over positions of -log softmax(logits)[target]")
        return run

    confident = torch.full((3, 5), -10.0)
    confident[torch.arange(3), torch.tensor([4, 0, 2])] = 10.0
    cases = [Case("uniform logits: the loss is ln V = ln 10",
                  case(torch.zeros(4, 10), torch.tensor([0, 3, 9, 3]))),
             Case("confident and right: the loss is near 0", case(confident, torch.tensor([4, 0, 2]))),
             Case("a single position", case(_random_logits(1, 7, seed=6), torch.tensor([5]))),
             Case("8 positions, V=5", case(_random_logits(8, 5, seed=7), _random_ids(8, 5, seed=7))),
             Case("32 positions, V=65", case(_random_logits(32, 65, seed=8), _random_ids(32, 65, seed=8))),
             Case("logits near 200 that differ by a few units",
                  case(200 + _random_logits(6, 9, seed=15), _random_ids(6, 9, seed=15))),
             Case("large logits, hundreds apart",
                  case(_random_logits(16, 12, seed=9, scale=100.0), _random_ids(16, 12, seed=9)))]
    run_cases("check_cross_entropy", fn, cases)
