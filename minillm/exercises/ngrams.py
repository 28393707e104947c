"""Checkers for n-gram models (notebook 01): counting n-grams, and add-k smoothing.

Both compare with `minillm.ngram`: its `count_ngrams`, and the probability
an add-k `NGramModel` fitted on the same ids gives,

    P(token | context) = (c(context + token) + k) / (c(context) + k V),

where c(context) sums the counts of the n-grams that start with the context.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Callable

from ..ngram import NGramModel, count_ngrams
from ._core import Case, Mismatch, Mistake, _show, known_mistake, run_cases

# ----------------------------------------------------------------------------
# counting n-grams


def solution_count_ngrams(ids, n):
    """{tuple of n ids: count} for every run of n consecutive ids: `minillm.ngram.count_ngrams`."""
    return count_ngrams(ids, n)


def _ngrams(ids, n, starts) -> dict[tuple[int, ...], int]:
    counts: dict[tuple[int, ...], int] = {}
    for i in starts:
        gram = tuple(ids[i: i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


COUNT_NGRAMS_MISTAKES = [
    Mistake(lambda ids, n: _ngrams(ids, n, range(len(ids) - n)),
            "the last n-gram is missing: n-grams start at 0 .. len(ids) - n, so loop over "
            "range(len(ids) - n + 1)"),
    Mistake(lambda ids, n: _ngrams(ids, n, range(len(ids))),
            "stop where a whole n-gram still fits, range(len(ids) - n + 1): the windows that start later are "
            "shorter than n"),
    Mistake(lambda ids, n: _ngrams(list(ids) + list(ids[: n - 1]), n, range(len(ids))),
            "don't wrap around from the end of the text to its start: an n-gram is n ids that really follow "
            "each other"),
    Mistake(lambda ids, n: _ngrams(ids, n, range(0, len(ids) - n + 1, n)),
            "the windows overlap: slide by one id at a time, not by n, so every position starts an n-gram"),
    Mistake(lambda ids, n: {gram: 1 for gram in _ngrams(ids, n, range(len(ids) - n + 1))},
            "an n-gram that occurs k times must have count k, not 1"),
    Mistake(lambda ids, n: _ngrams(ids, n - 1, range(len(ids) - n + 2)),
            "each key holds n ids: ids[i : i + n], not n - 1"),
]


def check_count_ngrams(fn: Callable) -> None:
    """fn(ids, n) -> {tuple of n ids: count} for every run of n consecutive ids; compared with `ngram.count_ngrams`."""
    def case(ids: list[int], n: int) -> Callable:
        def observe(impl):
            got = impl(list(ids), n)
            if not isinstance(got, Mapping):
                raise Mismatch(f"return a dict that maps each n-gram, a tuple of {n} ids, to its count; got a "
                               f"{type(got).__name__}: {got!r:.80}")
            for key in got:
                if not (isinstance(key, tuple) and all(isinstance(i, int) for i in key)):
                    raise Mismatch(f"every key must be a tuple of Python ints, e.g. (1, 2, 3); got the key "
                                   f"{key!r:.60} (with a tensor, call .tolist() first)")
            return dict(got)

        def run(call):
            expected = count_ngrams(ids, n)
            got = observe(call)
            if got == expected:
                return
            wrong = next(g for g in {**expected, **got} if expected.get(g, 0) != got.get(g, 0))
            raise Mismatch(f"for ids {_show(ids)} and n={n}, the n-gram {wrong} occurs {expected.get(wrong, 0)} "
                           f"time(s), got count {got.get(wrong, 0)}",
                           known_mistake(COUNT_NGRAMS_MISTAKES, observe, got)
                           or f"count every run of {n} neighbouring ids, tuple(ids[i : i + {n}]), once per start i")
        return run

    rng = random.Random(31)
    cases = [Case("the docstring example [1, 2, 1, 2, 1], n=2", case([1, 2, 1, 2, 1], 2)),
             Case("trigrams of 6 ids", case([4, 8, 15, 16, 23, 42], 3)),
             Case("one id repeated: overlapping n-grams all count", case([7] * 6, 3)),
             Case("n=1: how often each id occurs", case([3, 1, 3, 3, 2], 1)),
             Case("exactly n ids: one n-gram", case([5, 6, 7, 8], 4)),
             Case("fewer than n ids: no n-grams", case([1, 2], 3)),
             Case("300 random ids in 0..4, n=3", case([rng.randrange(5) for _ in range(300)], 3)),
             Case("100 random ids in 0..64, n=4", case([rng.randrange(65) for _ in range(100)], 4))]
    run_cases("check_count_ngrams", fn, cases)


# ----------------------------------------------------------------------------
# add-k smoothing

def solution_add_k_prob(counts, context, token, k, vocab_size):
    """(c(context + token) + k) / (c(context) + k V), from a dict of n-gram counts."""
    context = tuple(context)
    return (counts.get(context + (token,), 0) + k) / (_following(counts, context) + k * vocab_size)


def _following(counts, context, starts_with=True) -> int:
    """c(context): the summed counts of the n-grams that start with context (or, wrongly, end with it)."""
    return sum(c for gram, c in counts.items() if (gram[:-1] if starts_with else gram[1:]) == context)


def _add_k_once(counts, context, token, k, V):
    context = tuple(context)
    return (counts.get(context + (token,), 0) + k) / (_following(counts, context) + k)


def _add_k_numerator_only(counts, context, token, k, V):
    context = tuple(context)
    return (counts.get(context + (token,), 0) + k) / _following(counts, context)


def _add_k_context_at_end(counts, context, token, k, V):
    context = tuple(context)
    return (counts.get(context + (token,), 0) + k) / (_following(counts, context, starts_with=False) + k * V)


def _add_k_context_anywhere(counts, context, token, k, V):
    context = tuple(context)
    total = sum(c for gram, c in counts.items() if context in (gram[:-1], gram[1:]))
    return (counts.get(context + (token,), 0) + k) / (total + k * V)


def _add_k_distinct(counts, context, token, k, V):
    context = tuple(context)
    total = sum(1 for gram in counts if gram[:-1] == context)
    return (counts.get(context + (token,), 0) + k) / (total + k * V)


def _add_k_unconditional(counts, context, token, k, V):
    return (counts.get(tuple(context) + (token,), 0) + k) / (sum(counts.values()) + k * V)


def _add_k_grams_as_vocabulary(counts, context, token, k, V):
    context = tuple(context)
    return (counts.get(context + (token,), 0) + k) / (_following(counts, context) + k * len(counts))


ADD_K_PROB_MISTAKES = [
    Mistake(_add_k_once,
            "the denominator adds k once for every token of the vocabulary, k * V, not k once: that is what "
            "makes the V probabilities after a context add up to 1"),
    Mistake(_add_k_numerator_only,
            "add k * V to the denominator too: k is added to each of the V counts in the numerator, so "
            "the total grows by k * V (and a context never seen no longer divides by 0)"),
    Mistake(_add_k_context_at_end,
            "c(context) sums the n-grams that *start* with the context (the context followed by any token), "
            "gram[:-1] == context, not those that end with it"),
    Mistake(_add_k_context_anywhere,
            "c(context) counts the context where a next token follows it: the n-grams whose first n - 1 ids are "
            "the context, not every n-gram that contains it"),
    Mistake(_add_k_distinct,
            "sum the counts of the n-grams that start with the context, not how many distinct ones there are"),
    Mistake(_add_k_unconditional,
            "c(context) counts only the n-grams that start with the context, not all of them: the probability "
            "is conditional on the context"),
    Mistake(_add_k_grams_as_vocabulary,
            "V is vocab_size, the number of tokens that could come next, not the number of distinct n-grams"),
]


def _add_k_error_hint(error: BaseException) -> str | None:
    if isinstance(error, ZeroDivisionError):
        return ("a context never seen has c(context) = 0; with k * V added to the denominator, add-k never "
                "divides by 0 (that is what the smoothing is for)")
    if isinstance(error, KeyError):
        return "an n-gram never seen is not a key of counts: look it up with counts.get(gram, 0)"
    return None


def check_add_k_prob(fn: Callable) -> None:
    """fn(counts, context, token, k, vocab_size) -> P(token | context) with add-k smoothing.

    `counts` is `count_ngrams(ids, n)`, `context` a tuple of n - 1 ids. Compared
    with `NGramModel.fit(ids, n, vocab_size, smoothing="add-k", k=k).prob(context, token)`.
    """
    def case(ids: list[int], n: int, vocab_size: int, context: tuple[int, ...], token: int, k: float) -> Callable:
        counts = count_ngrams(ids, n)

        def observe(impl):
            got = impl(dict(counts), tuple(context), token, k, vocab_size)
            try:
                return float(got)
            except (TypeError, ValueError):
                raise Mismatch(f"return the probability as one number; got {got!r:.80}") from None

        def same(a, b):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

        def run(call):
            model = NGramModel.fit(ids, n, vocab_size, smoothing="add-k", k=k)
            expected = model.prob(list(context), token)
            got = observe(call)
            if same(got, expected):
                return
            gram = tuple(context) + (token,)
            following = _following(counts, tuple(context))
            raise Mismatch(f"P({token} | {context}) with k={k:g}, V={vocab_size} should be ({counts.get(gram, 0)} "
                           f"+ {k:g}) / ({following:g} + {k:g} * {vocab_size}) = {expected:.6f}, got {got:.6f}",
                           known_mistake(ADD_K_PROB_MISTAKES, observe, got, same)
                           or "(c(context + token) + k) / (c(context) + k * V)")
        return run

    text = [0, 1, 2, 0, 1, 0, 1, 2, 2, 0]  # V = 3
    rng = random.Random(32)
    long = [rng.randrange(6) for _ in range(400)]
    cases = [Case("bigrams, a seen pair, k=1", case(text, 2, 3, (1,), 2, 1.0)),
             Case("bigrams, a pair never seen, k=0.5", case(text, 2, 3, (2,), 1, 0.5)),
             Case("trigrams, k=0.1", case(text, 3, 3, (0, 1), 2, 0.1)),
             Case("a context never seen: a uniform 1/V", case(text, 3, 3, (2, 1), 0, 0.1)),
             Case("a context at the very end of the text", case(text, 3, 3, (2, 0), 1, 1.0)),
             Case("V=8: tokens 3..7 never occur", case(text, 2, 8, (1,), 2, 0.01)),
             Case("400 random ids, 4-grams, k=0.05", case(long, 4, 6, tuple(long[:3]), long[3], 0.05))]
    run_cases("check_add_k_prob", fn, cases, _add_k_error_hint)
