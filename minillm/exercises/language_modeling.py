"""Checkers for module M1, language modeling (notebook 01).

Each compares a student's function with the code the package itself uses:
the training loop's batcher, the counting bigram model, PyTorch's
cross-entropy and minillm's sampler.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..bigram import bigram_counts
from ..data import get_batch
from ..generate import sample_next
from ._core import Case, Mismatch, _as_tensor, _probs, _random_ids, _random_logits, _show, run_cases


def check_shift_by_one(fn: Callable) -> None:
    """fn(ids) -> (inputs, targets): inputs = every token but the last, targets = every token but the first.

    The reference is the training loop's own batcher: `get_batch` on a window
    as long as the whole list returns exactly (ids[:-1], ids[1:]).
    """
    def reference(ids: torch.Tensor) -> tuple[list[int], list[int]]:
        x, y = get_batch(ids, batch_size=1, block_size=len(ids) - 1)  # the only window there is
        return x[0].tolist(), y[0].tolist()

    def case(ids: list[int] | torch.Tensor) -> Callable:
        def run(call):
            given = ids.clone() if isinstance(ids, torch.Tensor) else list(ids)
            expected_x, expected_y = reference(torch.as_tensor(ids))
            answer = call(given)
            if not isinstance(answer, (tuple, list)) or len(answer) != 2:
                raise Mismatch(f"return two things, `inputs, targets`; got {answer!r:.80}")
            x = _as_tensor(answer[0], "inputs as a list or tensor of token ids").tolist()
            y = _as_tensor(answer[1], "targets as a list or tensor of token ids").tolist()
            n = len(expected_x)
            if (x, y) == (expected_x, expected_y):
                return
            if (x, y) == (expected_y, expected_x):
                raise Mismatch("inputs and targets are swapped: the target at each position is the "
                               "token that comes *after* the input there")
            if len(x) != n or len(y) != n:
                raise Mismatch(f"a list of {n + 1} tokens gives {n} inputs and {n} targets (the last token has "
                               f"no next token to predict, and the first is never a target); got {len(x)} "
                               f"inputs and {len(y)} targets")
            raise Mismatch(f"for ids {_show(ids)} expected inputs {_show(expected_x)} and targets "
                               f"{_show(expected_y)}, got {_show(x)} and {_show(y)}; the target at position "
                               "t is ids[t + 1]")
        return run

    cases = [Case("the docstring example [5, 1, 4, 1]", case([5, 1, 4, 1])),
             Case("two tokens: a single training pair", case([3, 9])),
             Case("one token repeated [7, 7, 7]", case([7, 7, 7])),
             Case("a 1-D tensor instead of a list", case(_random_ids(12, 65, seed=1)))]
    cases += [Case(f"{n} random ids", case(_random_ids(n, 65, seed=n).tolist())) for n in (10, 33)]
    run_cases("check_shift_by_one", fn, cases)


def check_bigram_counts(fn: Callable) -> None:
    """fn(ids, vocab_size) -> counts (V, V), counts[a, b] = how often b directly follows a.

    Compared with `minillm.bigram.bigram_counts`.
    """
    def case(ids: list[int] | torch.Tensor, vocab_size: int) -> Callable:
        ids = torch.as_tensor(ids, dtype=torch.long)

        def run(call):
            expected = bigram_counts(ids, vocab_size)
            got = _as_tensor(call(ids.clone(), vocab_size), f"a ({vocab_size}, {vocab_size}) tensor of counts")
            V = vocab_size
            if got.shape != (V, V):
                raise Mismatch(f"expected shape ({V}, {V}): one row per current token a and one column per "
                               f"next token b, for all {V} tokens of the vocabulary; got {tuple(got.shape)}")
            got = got.double()
            if torch.equal(got, expected.double()):
                return
            if torch.equal(got.T, expected.double()):
                raise Mismatch("rows and columns are swapped: counts[a, b] counts token b following token a, "
                               "so the row is the current token and the column the next one")
            pairs = len(ids) - 1 if len(ids) else 0
            if got.sum().item() != pairs:
                hint = "each pair adds exactly one"
                if got.sum().item() < pairs:
                    hint = ("a pair that occurs k times must add k; `counts[a, b] += 1` with index tensors "
                            "adds only once per distinct pair, so use index_put_(..., accumulate=True) or "
                            "torch.bincount")
                raise Mismatch(f"the counts add up to {got.sum().item():g}, but {len(ids)} tokens have {pairs} "
                               f"neighbouring pairs (ids[t], ids[t + 1]); {hint}")
            a, b = (got != expected.double()).nonzero()[0].tolist()
            raise Mismatch(f"for ids {_show(ids)}, counts[{a}, {b}] should be {expected[a, b].item()} "
                           f"(token {b} follows token {a} that often), got {got[a, b].item():g}")
        return run

    cases = [Case("the docstring example [0, 1, 2, 0, 1], V=3", case([0, 1, 2, 0, 1], 3)),
             Case("one token repeated [2, 2, 2, 2], V=4", case([2, 2, 2, 2], 4)),
             Case("a single token: no pairs at all", case([1], 3)),
             Case("tokens 3 and 4 never occur, V=5", case(_random_ids(20, 3, seed=3), 5)),
             Case("50 random ids, V=6", case(_random_ids(50, 6, seed=4), 6)),
             Case("500 random ids, V=20", case(_random_ids(500, 20, seed=5), 20))]
    run_cases("check_bigram_counts", fn, cases)


def check_cross_entropy(fn: Callable) -> None:
    """fn(logits (N, V), targets (N,)) -> mean over positions of -log softmax(logits)[target].

    Compared with `torch.nn.functional.cross_entropy`, which the model uses.
    """
    def case(logits: torch.Tensor, targets: torch.Tensor) -> Callable:
        def run(call):
            expected = F.cross_entropy(logits, targets).item()
            answer = call(logits.clone(), targets.clone())
            got = _as_tensor(answer, "one number (a float or a 0-d tensor)")
            if got.numel() != 1:
                raise Mismatch(f"return one number, the mean over all {len(targets)} positions; got a tensor "
                               f"of shape {tuple(got.shape)} (one loss per position? take the mean)")
            got = got.item()
            if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
                return
            hint = "loss = mean over positions of -log softmax(logits)[target]"
            if not math.isfinite(got):
                hint = ("exp of large logits overflows (or a probability underflows to 0 and its log is -inf); "
                        "work in log space: log softmax(z) = z - logsumexp(z), e.g. with torch.logsumexp")
            elif math.isclose(got, -expected, rel_tol=1e-4):
                hint = "the sign is flipped: the loss is the *negative* log-probability of the target"
            elif math.isclose(got, expected * len(targets), rel_tol=1e-4):
                hint = "that is the sum over positions; the loss is the mean"
            raise Mismatch(f"for logits of shape {tuple(logits.shape)} expected {expected:.6f}, got {got:.6f}; "
                           f"{hint}")
        return run

    confident = torch.full((3, 5), -10.0)
    confident[torch.arange(3), torch.tensor([4, 0, 2])] = 10.0
    cases = [Case("uniform logits: the loss is ln V = ln 10",
                  case(torch.zeros(4, 10), torch.tensor([0, 3, 9, 3]))),
             Case("confident and right: the loss is near 0", case(confident, torch.tensor([4, 0, 2]))),
             Case("a single position", case(_random_logits(1, 7, seed=6), torch.tensor([5]))),
             Case("8 positions, V=5", case(_random_logits(8, 5, seed=7), _random_ids(8, 5, seed=7))),
             Case("32 positions, V=65", case(_random_logits(32, 65, seed=8), _random_ids(32, 65, seed=8))),
             Case("large logits, in the hundreds",
                  case(_random_logits(16, 12, seed=9, scale=100.0), _random_ids(16, 12, seed=9)))]
    run_cases("check_cross_entropy", fn, cases)


def check_sample_next(fn: Callable) -> None:
    """fn(logits (B, V), temperature=1.0, generator=None) -> ids (B, 1); temperature 0 is greedy.

    Greedy picks are compared exactly with `minillm.generate.sample_next`;
    sampled ones by their frequencies over many rows, which must match
    softmax(logits / temperature).
    """
    def shape_and_dtype(ids: Any, rows: int) -> torch.Tensor:
        ids = _as_tensor(ids, f"a ({rows}, 1) tensor of token ids")
        if ids.shape != (rows, 1):
            raise Mismatch(f"expected shape ({rows}, 1), one id per row (keepdim=True, or num_samples=1), so "
                           f"the loop can append it with torch.cat(..., dim=1); got {tuple(ids.shape)}")
        if ids.dtype not in (torch.int64, torch.int32):
            raise Mismatch(f"return token ids as integers (torch.long), got dtype {ids.dtype}")
        return ids

    def greedy(logits: torch.Tensor) -> Callable:
        def run(call):
            expected = sample_next(logits, temperature=0)
            got = shape_and_dtype(call(logits.clone(), temperature=0), len(logits))
            if not torch.equal(got.long(), expected):
                raise Mismatch(f"temperature 0 means greedy: the id of the largest logit in each row, "
                               f"{_show(expected.squeeze(1))}; got {_show(got.squeeze(1))}")
        return run

    def frequencies(temperature: float) -> Callable:
        def run(call):
            logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]])
            n = 20_000
            expected = torch.softmax(logits[0] / temperature, dim=-1)
            ids = shape_and_dtype(call(logits.expand(n, -1).clone(), temperature=temperature,
                                       generator=torch.Generator().manual_seed(11)), n)
            if ids.min() < 0 or ids.max() >= logits.size(1):
                raise Mismatch(f"ids must lie in 0..{logits.size(1) - 1}, "
                               f"got {ids.min().item()}..{ids.max().item()}")
            freq = torch.bincount(ids.long().squeeze(1), minlength=logits.size(1)) / n
            if (freq - expected).abs().max() > 0.02:
                raise Mismatch(f"over {n:,} draws from logits {_show(logits[0])} at temperature {temperature} "
                               f"the frequencies should be near softmax(logits / T) = {_probs(expected)}, "
                               f"got {_probs(freq)}; divide the logits by the temperature "
                               "before the softmax, then draw with torch.multinomial")
        return run

    def reproducible(call):
        logits = _random_logits(200, 30, seed=12)
        first = call(logits.clone(), temperature=1.0, generator=torch.Generator().manual_seed(5))
        second = call(logits.clone(), temperature=1.0, generator=torch.Generator().manual_seed(5))
        if not torch.equal(shape_and_dtype(first, 200), shape_and_dtype(second, 200)):
            raise Mismatch("two calls with generators seeded alike drew different tokens; pass "
                           "generator=generator to torch.multinomial so that a seed reproduces the text")

    def leaves_logits_alone(call):
        logits = _random_logits(4, 9, seed=13)
        before = logits.clone()
        call(logits, temperature=0.5, generator=torch.Generator().manual_seed(0))
        if not torch.equal(logits, before):
            raise Mismatch("the logits passed in were changed in place (e.g. `logits /= temperature`); "
                           "compute a new tensor, `logits / temperature`, so the caller's logits stay as "
                           "they were")

    cases = [Case("greedy, a batch of 4 rows", greedy(_random_logits(4, 10, seed=10))),
             Case("greedy, one row of 84 tokens", greedy(_random_logits(1, 84, seed=14))),
             Case("temperature 1: frequencies follow softmax(logits)", frequencies(1.0)),
             Case("temperature 0.5 sharpens the distribution", frequencies(0.5)),
             Case("temperature 2 flattens the distribution", frequencies(2.0)),
             Case("the same seed gives the same tokens", reproducible),
             Case("the caller's logits are left unchanged", leaves_logits_alone)]
    run_cases("check_sample_next", fn, cases)
