"""Checkers for module M2's merge loop (notebook 02): count pairs, merge one, pick the next.

Each compares a student's function with `minillm.bpe`. Inputs are token ids
(bytes 0-255, merged tokens from 256), so answers can be compared exactly.
Above each checker, its known mistakes: wrong solutions a student is likely
to write, each with the hint for its bug.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Callable

from ..bpe import BPETokenizer, merge, most_frequent_pair, pair_counts
from ._core import Case, Mismatch, Mistake, _show, known_mistake, run_cases

# A small training text for the checkers' tokenizers: words that repeat,
# contractions, numbers, punctuation and runs of spaces.
_TRAINING_TEXT = (
    "The tokenizer reads the text as bytes. It counts the pairs of neighbouring tokens, "
    "merges the most frequent pair into a new token, and counts again. The new tokens "
    "are pieces of words: the, ing, tion, and whole words that the text repeats. "
    "It doesn't matter whether the text is 2024 or 3.14159, a question? or a shout! "
    "Tokens, tokens,   tokens:   the tokenizer tokenizes the tokens it has tokenized.\n"
) * 3


def _pairs(d: Mapping, limit: int = 6) -> str:
    """A short printable form of a {pair: count} dict, most frequent first."""
    items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{k}: {v}" for k, v in items[:limit])
    more = f", ... ({len(items)} pairs)" if len(items) > limit else ""
    return "{" + shown + more + "}"


def _as_ids(value: Any, what: str = "a list of token ids") -> list[int]:
    """The student's answer as a list of ints (a list, tuple or 1-D tensor is fine)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, int) for i in value):
        raise Mismatch(f"expected {what}, got {value!r:.80}")
    return list(value)


def _checked_call(impl: Callable, ids: list[int], *args) -> Any:
    """Call `impl` on a copy of `ids` and make sure the copy comes back unchanged."""
    given = list(ids)
    answer = impl(given, *args)
    if given != ids:
        raise Mismatch(f"the list of ids passed in was changed (from {_show(ids)} to {_show(given)})",
                       "build and return a new list: the caller still needs the original ids")
    return answer


# ----------------------------------------------------------------------------
# counting pairs

def solution_pair_counts(ids):
    """{(a, b): count} for every pair of neighbouring ids: `minillm.bpe.pair_counts`."""
    return pair_counts(ids)


def _count(pairs) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def _pair_counts_without_overlaps(ids):
    """Counts each pair the way `merge` would replace it, skipping overlaps."""
    return {pair: len(ids) - len(merge(ids, pair, -1)) for pair in set(zip(ids, ids[1:]))}


PAIR_COUNTS_MISTAKES = [
    Mistake(lambda ids: {pair: 1 for pair in zip(ids, ids[1:])},
            "a pair that occurs k times must have count k, not 1"),
    Mistake(lambda ids: _count(zip(ids, list(ids[1:]) + list(ids[:1]))),
            "the last id has no right neighbour, so don't pair it with the first: a list of n ids has n - 1 pairs"),
    Mistake(lambda ids: _count(tuple(sorted(pair)) for pair in zip(ids, ids[1:])),
            "(a, b) and (b, a) are different pairs: the order of the two ids matters, because merging (a, b) "
            "replaces a followed by b"),
    Mistake(_pair_counts_without_overlaps,
            "counting does include overlapping pairs: [7, 7, 7] holds (7, 7) at positions 0-1 and 1-2, so its "
            "count is 2 (only a merge can't use both)"),
    Mistake(lambda ids: _count((ids[i], ids[i + 1]) for i in range(len(ids) - 2)),
            "the last pair was left out: a list of n ids has n - 1 pairs, i = 0 .. n - 2, so loop over "
            "range(len(ids) - 1), or zip(ids, ids[1:])"),
]


def check_pair_counts(fn: Callable) -> None:
    """fn(ids) -> {(a, b): count} for every pair of neighbouring ids. Compared with `bpe.pair_counts`."""
    def case(ids: list[int]) -> Callable:
        def observe(impl):
            got = _checked_call(impl, ids)
            if not isinstance(got, Mapping):
                raise Mismatch(f"return a dict that maps each pair (a, b) to its count, e.g. "
                               f"{{(1, 2): 2, (2, 3): 1}}; got a {type(got).__name__}: {got!r:.80}")
            bad = next((k for k in got if not (isinstance(k, tuple) and len(k) == 2)), None)
            if bad is not None:
                raise Mismatch(f"every key must be a tuple of two ids (a, b); got the key {bad!r:.40}")
            return dict(got)

        def run(call):
            expected = pair_counts(ids)
            got = observe(call)
            if got == expected:
                return
            problem = f"for ids {_show(ids)} expected {_pairs(expected)}, got {_pairs(got)}"
            zeros = [k for k, v in got.items() if v == 0]
            if zeros and {k: v for k, v in got.items() if v != 0} == expected:
                raise Mismatch(problem, f"pairs that never occur must not be in the dict; {zeros[0]} has count 0")
            wrong = next(p for p in {**expected, **got} if expected.get(p, 0) != got.get(p, 0))
            raise Mismatch(f"{problem}: the pair {wrong} occurs {expected.get(wrong, 0)} time(s), got count "
                           f"{got.get(wrong, 0)}", known_mistake(PAIR_COUNTS_MISTAKES, observe, got))
        return run

    rng = random.Random(21)
    cases = [Case("(1, 2) occurs twice in [1, 2, 1, 2, 3]", case([1, 2, 1, 2, 3])),
             Case("the docstring example [1, 2, 3, 1, 2]", case([1, 2, 3, 1, 2])),
             Case("one id repeated [7, 7, 7, 7]: overlapping pairs all count", case([7, 7, 7, 7])),
             Case("(1, 2) and (2, 1) are different pairs", case([1, 2, 1, 2, 1])),
             Case("a single id: no pairs", case([5])),
             Case("an empty list", case([])),
             Case("the bytes of 'hello world'", case(list(b"hello world"))),
             Case("200 random ids in 0..9", case([rng.randrange(10) for _ in range(200)])),
             Case("60 random ids in 0..299 (merged tokens too)", case([rng.randrange(300) for _ in range(60)]))]
    run_cases("check_pair_counts", fn, cases)


# ----------------------------------------------------------------------------
# one merge

solution_merge = merge


def _merge_overlapping(ids, pair, new_id):
    """Looks at every position, so a token can be part of two replaced pairs."""
    out = [new_id if (a, b) == tuple(pair) else a for a, b in zip(ids, ids[1:])]
    return out + list(ids[-1:])


def _merge_first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == tuple(pair):
            return list(ids[:i]) + [new_id] + list(ids[i + 2:])
    return list(ids)


def _merge_drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_steps_by_two(ids, pair, new_id):
    out = []
    for i in range(0, len(ids), 2):  # looks only at pairs that start at even positions
        if tuple(ids[i: i + 2]) == tuple(pair):
            out.append(new_id)
        else:
            out.extend(ids[i: i + 2])
    return out


MERGE_MISTAKES = [
    Mistake(_merge_overlapping,
            "occurrences can't overlap: after replacing a pair, skip both of its tokens (i += 2), so [7, 7, 7] "
            "becomes [8, 7]"),
    Mistake(lambda ids, pair, new_id: merge(list(ids)[::-1], (pair[1], pair[0]), new_id)[::-1],
            "scan from left to right: in [7, 7, 7] the first two 7s form the pair"),
    Mistake(_merge_first_only,
            "replace every occurrence of the pair, not only the first"),
    Mistake(_merge_drops_last,
            "the last token went missing: a token with no right neighbour still belongs in the output"),
    Mistake(_merge_steps_by_two,
            "move on by one token when there is no match (i += 1), and by two only after a merge: a pair can "
            "start at any position"),
]


def check_merge(fn: Callable) -> None:
    """fn(ids, pair, new_id) -> a new list with every occurrence of `pair`, left to right, replaced.

    Compared with `bpe.merge`; the list passed in must come back unchanged.
    """
    def case(ids: list[int], pair: tuple[int, int], new_id: int) -> Callable:
        def observe(impl):
            return _as_ids(_checked_call(impl, ids, pair, new_id))

        def run(call):
            expected = merge(ids, pair, new_id)
            got = observe(call)
            if got != expected:
                raise Mismatch(f"merge({_show(ids)}, {pair}, {new_id}) should give {_show(expected)}, "
                               f"got {_show(got)}", known_mistake(MERGE_MISTAKES, observe, got))
        return run

    rng = random.Random(22)
    random_ids = [rng.randrange(5) for _ in range(100)]
    text = list("the cat sat on the mat".encode("utf-8"))
    cases = [Case("pairs at odd positions: [3, 1, 2, 1, 2]", case([3, 1, 2, 1, 2], (1, 2), 4)),
             Case("the docstring example", case([1, 2, 3, 1, 2], (1, 2), 4)),
             Case("[7, 7, 7]: occurrences can't overlap", case([7, 7, 7], (7, 7), 8)),
             Case("[7, 7, 7, 7] becomes two new tokens", case([7, 7, 7, 7], (7, 7), 8)),
             Case("the pair at the very end", case([3, 1, 2], (1, 2), 9)),
             Case("the pair never occurs", case([1, 3, 2, 3], (1, 2), 9)),
             Case("only (2, 1) occurs, not (1, 2)", case([2, 1, 2, 1], (1, 2), 5)),
             Case("a single id", case([1], (1, 2), 5)),
             Case("an empty list", case([], (1, 2), 5)),
             Case("(116, 104) = 'th' in the bytes of 'the cat sat on the mat'", case(text, (116, 104), 256)),
             Case("merged tokens merge again", case([256, 99, 256, 99, 256], (256, 99), 300)),
             Case("100 random ids in 0..4, pair (2, 3)", case(random_ids, (2, 3), 256))]
    run_cases("check_merge", fn, cases)


# ----------------------------------------------------------------------------
# which pair to merge next

solution_most_frequent_pair = most_frequent_pair


def _top_pairs(counts):
    top = max(counts.values())
    return [p for p in counts if counts[p] == top]


MOST_FREQUENT_PAIR_MISTAKES = [
    Mistake(lambda counts, vocab: max(counts, key=lambda p: (vocab[p[0]], vocab[p[1]], counts[p])),
            "the most frequent pair wins; the bytes only break ties between equally frequent pairs"),
    Mistake(lambda counts, vocab: max(counts, key=counts.get),
            "among equally frequent pairs, `max(counts, key=counts.get)` returns whichever comes first in the "
            "dict; break ties by the bytes: key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]])"),
    Mistake(lambda counts, vocab: max(counts, key=lambda p: (counts[p], p)),
            "compare the tokens' bytes, vocab[a] and vocab[b], not their ids: a merged token such as 256 "
            "(b'ab') has a large id but its bytes sort before b'z' (id 122)"),
    Mistake(lambda counts, vocab: max(counts, key=lambda p: (counts[p], vocab[p[0]] + vocab[p[1]])),
            "compare the pair as a tuple (vocab[a], vocab[b]), not the concatenation vocab[a] + vocab[b]: "
            "(b'ab', b'a') is greater than (b'a', b'bz') because b'ab' > b'a', although b'aba' < b'abz'"),
    Mistake(lambda counts, vocab: min(_top_pairs(counts), key=lambda p: (vocab[p[0]], vocab[p[1]])),
            "a tie goes to the *greater* pair of bytes, not the smaller one"),
    Mistake(lambda counts, vocab: min(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]])),
            "merge the *most* frequent pair (max), not the least frequent"),
]


def check_most_frequent_pair(fn: Callable) -> None:
    """fn(counts, vocab) -> the pair to merge next; compared with `bpe.most_frequent_pair`.

    `counts` maps pairs of ids to their counts, `vocab[i]` is the bytes of
    token i. The most frequent pair wins; a tie goes to the pair whose bytes
    (vocab[a], vocab[b]) compare greater.
    """
    def case(counts: dict[tuple[int, int], int], vocab: list[bytes]) -> Callable:
        def observe(impl):
            got = impl(dict(counts), list(vocab))
            if isinstance(got, int):
                raise Mismatch(f"return the pair itself, a tuple (a, b), not its count; got {got}")
            if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], (tuple, list)):
                raise Mismatch(f"return only the pair (a, b), not (pair, count); got {got!r:.60}")
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Mismatch(f"return the pair to merge as a tuple (a, b); got {got!r:.60}")
            got = tuple(got)
            if got not in counts:
                raise Mismatch(f"{got} is not one of the pairs in counts; return a key of counts")
            return got

        def run(call):
            expected = most_frequent_pair(counts, vocab)
            got = observe(call)
            if got != expected:
                raise Mismatch(f"for counts {_pairs(counts)} expected {expected} ({vocab[expected[0]]!r}, "
                               f"{vocab[expected[1]]!r}, count {counts[expected]}), got {got} ({vocab[got[0]]!r}, "
                               f"{vocab[got[1]]!r}, count {counts[got]})",
                               known_mistake(MOST_FREQUENT_PAIR_MISTAKES, observe, got)
                               or "the most frequent pair wins, and a tie goes to the greater (vocab[a], vocab[b])")
        return run

    byte_vocab = [bytes([b]) for b in range(256)]
    merged = byte_vocab + [b"ab", b"bz"]  # ids 256 and 257
    trained = BPETokenizer.train(_TRAINING_TEXT, vocab_size=320, special_tokens=())
    rng = random.Random(23)
    random_counts = {}
    while len(random_counts) < 40:
        random_counts[(rng.randrange(320), rng.randrange(320))] = rng.randint(1, 3)
    # subtle: the order of the tied pairs in each dict makes every mistake above give a wrong answer
    three_way = {(98, 99): 3, (120, 121): 3, (97, 98): 3, (99, 100): 1}
    cases = [Case("one clear winner", case({(97, 98): 1, (98, 99): 5, (99, 100): 2}, byte_vocab)),
             Case("a three-way tie: (b'x', b'y') wins", case(three_way, byte_vocab)),
             Case("the count comes before the bytes", case({(122, 122): 2, (97, 97): 5}, byte_vocab)),
             Case("a tie with the same first token", case({(104, 122): 2, (104, 97): 2}, byte_vocab)),
             Case("a tie: merged token 256 = b'ab' sorts before b'z'", case({(122, 97): 4, (256, 99): 4}, merged)),
             Case("a tie: (b'ab', b'a') beats (b'a', b'bz')", case({(256, 97): 2, (97, 257): 2}, merged)),
             Case("a single pair", case({(0, 255): 1}, byte_vocab)),
             Case("40 random pairs of a trained vocabulary, many ties", case(random_counts, trained.vocab))]
    run_cases("check_most_frequent_pair", fn, cases)
