"""Checkers for module M2, tokenization (notebook 02).

Each compares a student's function with `minillm.bpe`: pair counting, one
merge, the choice of the next pair to merge, and encoding text with a list of
learned merges. Inputs are token ids (bytes 0-255, merged tokens from 256),
so answers can be compared exactly.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Callable

import regex

from ..bpe import GPT2_PATTERN, BPETokenizer, apply_merges, merge, most_frequent_pair, pair_counts
from ._core import Case, Mismatch, _show, run_cases

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


def _checked_call(call: Callable, ids: list[int], *args) -> Any:
    """Call the student's function on a copy of `ids` and make sure the copy comes back unchanged."""
    given = list(ids)
    answer = call(given, *args)
    if given != ids:
        raise Mismatch(f"the list of ids passed in was changed (from {_show(ids)} to {_show(given)}); build "
                       "and return a new list: the caller still needs the original ids")
    return answer


# ----------------------------------------------------------------------------
# counting pairs

def _pair_counts_without_overlaps(ids: list[int]) -> dict[tuple[int, int], int]:
    """A classic mistake: count each pair the way `merge` would replace it, skipping overlaps."""
    counts: dict[tuple[int, int], int] = {}
    for pair in set(zip(ids, ids[1:])):
        counts[pair] = len(ids) - len(merge(ids, pair, -1))
    return counts


def check_pair_counts(fn: Callable) -> None:
    """fn(ids) -> {(a, b): count} for every pair of neighbouring ids. Compared with `bpe.pair_counts`."""
    def case(ids: list[int]) -> Callable:
        def run(call):
            expected = pair_counts(ids)
            got = _checked_call(call, ids)
            if not isinstance(got, Mapping):
                raise Mismatch(f"return a dict that maps each pair (a, b) to its count, e.g. "
                               f"{{(1, 2): 2, (2, 3): 1}}; got a {type(got).__name__}: {got!r:.80}")
            if any(not (isinstance(k, tuple) and len(k) == 2) for k in got):
                bad = next(k for k in got if not (isinstance(k, tuple) and len(k) == 2))
                raise Mismatch(f"every key must be a tuple of two ids (a, b); got the key {bad!r:.40}")
            got = dict(got)
            if got == expected:
                return
            zeros = [k for k, v in got.items() if v == 0]
            if zeros and {k: v for k, v in got.items() if v != 0} == expected:
                raise Mismatch(f"pairs that never occur must not be in the dict; {zeros[0]} has count 0")
            if len(ids) >= 2 and got == pair_counts(ids + ids[:1]):
                raise Mismatch(f"the pair ({ids[-1]}, {ids[0]}) joins the last id to the first; the last id "
                               "has no right neighbour, so a list of n ids has n - 1 pairs")
            if got == _pair_counts_without_overlaps(ids):
                raise Mismatch(f"for ids {_show(ids)} expected {_pairs(expected)}, got {_pairs(got)}; counting "
                               "does include overlapping pairs: [7, 7, 7] holds (7, 7) at positions 0-1 and 1-2, "
                               "so its count is 2 (only a merge can't use both)")
            if got == {pair: 1 for pair in expected}:
                raise Mismatch(f"for ids {_show(ids)} expected {_pairs(expected)}, got {_pairs(got)}; a pair "
                               "that occurs k times must have count k, not 1")
            if len(ids) >= 2 and got == pair_counts(ids[:-1]):
                raise Mismatch(f"for ids {_show(ids)} expected {_pairs(expected)}, got {_pairs(got)}; the last "
                               f"pair ({ids[-2]}, {ids[-1]}) was left out: a list of n ids has n - 1 pairs, "
                               "zip(ids, ids[1:]) gives them all")
            unordered = {}
            for (a, b), n in expected.items():
                key = (min(a, b), max(a, b))
                unordered[key] = unordered.get(key, 0) + n
            if got == unordered:
                raise Mismatch("(a, b) and (b, a) are different pairs: the order of the two ids matters, "
                               "because merging (a, b) replaces a followed by b")
            wrong = next((p for p in {**expected, **got} if expected.get(p, 0) != got.get(p, 0)))
            raise Mismatch(f"for ids {_show(ids)} expected {_pairs(expected)}, got {_pairs(got)}; the pair "
                           f"{wrong} occurs {expected.get(wrong, 0)} time(s), got count {got.get(wrong, 0)}")
        return run

    rng = random.Random(21)
    cases = [Case("(1, 2) occurs twice in [1, 2, 1, 2, 3]", case([1, 2, 1, 2, 3])),
             Case("the docstring example [1, 2, 3, 1, 2]", case([1, 2, 3, 1, 2])),
             Case("one id repeated [7, 7, 7]: overlapping pairs count twice", case([7, 7, 7])),
             Case("(1, 2) and (2, 1) are different pairs", case([1, 2, 1, 2, 1])),
             Case("a single id: no pairs", case([5])),
             Case("an empty list", case([])),
             Case("the bytes of 'hello world'", case(list(b"hello world"))),
             Case("200 random ids in 0..9", case([rng.randrange(10) for _ in range(200)])),
             Case("60 random ids in 0..299 (merged tokens too)", case([rng.randrange(300) for _ in range(60)]))]
    run_cases("check_pair_counts", fn, cases)


# ----------------------------------------------------------------------------
# one merge

def _merge_no_skip(ids, pair, new_id):
    """A classic mistake: look at every position, so a token can be part of two replaced pairs."""
    out = [new_id if (a, b) == tuple(pair) else a for a, b in zip(ids, ids[1:])]
    return out + list(ids[-1:])


def _merge_right_to_left(ids, pair, new_id):
    return merge(ids[::-1], (pair[1], pair[0]), new_id)[::-1]


def _merge_first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == tuple(pair):
            return list(ids[:i]) + [new_id] + list(ids[i + 2:])
    return list(ids)


def check_merge(fn: Callable) -> None:
    """fn(ids, pair, new_id) -> a new list with every occurrence of `pair`, left to right, replaced.

    Compared with `bpe.merge`; the list passed in must come back unchanged.
    """
    def case(ids: list[int], pair: tuple[int, int], new_id: int) -> Callable:
        def run(call):
            expected = merge(ids, pair, new_id)
            got = _as_ids(_checked_call(call, ids, pair, new_id))
            if got == expected:
                return
            shown = f"merge({_show(ids)}, {pair}, {new_id})"
            if got == _merge_no_skip(ids, pair, new_id):
                raise Mismatch(f"{shown} should give {_show(expected)}, got {_show(got)}; occurrences can't "
                               "overlap: after replacing a pair, skip both of its tokens (i += 2), so "
                               "[7, 7, 7] becomes [8, 7]")
            if got == _merge_right_to_left(ids, pair, new_id):
                raise Mismatch(f"{shown} should give {_show(expected)}, got {_show(got)}; scan from left to "
                               "right: in [7, 7, 7] the first two 7s form the pair")
            if got == _merge_first_only(ids, pair, new_id):
                raise Mismatch(f"{shown} should give {_show(expected)}, got {_show(got)}; replace every "
                               "occurrence of the pair, not only the first")
            if expected and got == expected[:-1]:
                raise Mismatch(f"{shown} should give {_show(expected)}, got {_show(got)}; the last token went "
                               "missing: a token with no right neighbour still belongs in the output")
            raise Mismatch(f"{shown} should give {_show(expected)}, got {_show(got)}")
        return run

    rng = random.Random(22)
    random_ids = [rng.randrange(5) for _ in range(100)]
    text = list("the cat sat on the mat".encode("utf-8"))
    cases = [Case("the docstring example", case([1, 2, 3, 1, 2], (1, 2), 4)),
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

def check_most_frequent_pair(fn: Callable) -> None:
    """fn(counts, vocab) -> the pair to merge next; compared with `bpe.most_frequent_pair`.

    `counts` maps pairs of ids to their counts, `vocab[i]` is the bytes of
    token i. The most frequent pair wins; a tie goes to the pair whose bytes
    (vocab[a], vocab[b]) compare greater.
    """
    def wrong_rules(counts, vocab):
        """(answer under a mistaken rule, hint), the likeliest mistakes first."""
        top = max(counts.values())
        return [
            (max(counts, key=lambda p: (vocab[p[0]], vocab[p[1]], counts[p])),
             "the most frequent pair wins; the bytes only break ties between equally frequent pairs"),
            (max(counts, key=counts.get),
             "among equally frequent pairs, `max(counts, key=counts.get)` returns whichever comes first in "
             "the dict; break ties by the bytes: key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]])"),
            (max(counts, key=lambda p: (counts[p], p)),
             "compare the tokens' bytes, vocab[a] and vocab[b], not their ids: a merged token such as 256 "
             "(b'ab') has a large id but its bytes sort before b'z' (id 122)"),
            (max(counts, key=lambda p: (counts[p], vocab[p[0]] + vocab[p[1]])),
             "compare the pair as a tuple (vocab[a], vocab[b]), not the concatenation vocab[a] + vocab[b]: "
             "(b'ab', b'a') is greater than (b'a', b'bz') because b'ab' > b'a', although b'aba' < b'abz'"),
            (min((p for p in counts if counts[p] == top), key=lambda p: (vocab[p[0]], vocab[p[1]])),
             "a tie goes to the *greater* pair of bytes, not the smaller one"),
        ]

    def case(counts: dict[tuple[int, int], int], vocab: list[bytes]) -> Callable:
        def run(call):
            expected = most_frequent_pair(counts, vocab)
            got = call(dict(counts), list(vocab))
            if isinstance(got, int):
                raise Mismatch(f"return the pair itself, a tuple (a, b), not its count; got {got}")
            if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], (tuple, list)):
                raise Mismatch(f"return only the pair (a, b), not (pair, count); got {got!r:.60}")
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Mismatch(f"return the pair to merge as a tuple (a, b); got {got!r:.60}")
            got = tuple(got)
            if got == expected:
                return
            if got not in counts:
                raise Mismatch(f"{got} is not one of the pairs in counts; return a key of counts")
            described = (f"for counts {_pairs(counts)} expected {expected} ({vocab[expected[0]]!r}, "
                         f"{vocab[expected[1]]!r}, count {counts[expected]}), got {got} ({vocab[got[0]]!r}, "
                         f"{vocab[got[1]]!r}, count {counts[got]})")
            for answer, hint in wrong_rules(counts, vocab):
                if got == answer:
                    raise Mismatch(f"{described}; {hint}")
            raise Mismatch(f"{described}; the most frequent pair wins, and a tie goes to the greater "
                           "(vocab[a], vocab[b])")
        return run

    byte_vocab = [bytes([b]) for b in range(256)]
    merged = byte_vocab + [b"ab", b"bz"]  # ids 256 and 257
    trained = BPETokenizer.train(_TRAINING_TEXT, vocab_size=320, special_tokens=())
    rng = random.Random(23)
    random_counts = {}
    while len(random_counts) < 40:
        random_counts[(rng.randrange(320), rng.randrange(320))] = rng.randint(1, 3)
    # subtle: the order of the tied pairs in each dict makes every wrong rule above give a wrong answer
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


# ----------------------------------------------------------------------------
# encoding with learned merges

def _merges(*pairs: tuple[bytes, bytes]) -> dict[tuple[int, int], int]:
    """Merges given by bytes, numbered 256, 257, ... in order: _merges((b"a", b"b")) -> {(97, 98): 256}"""
    ids = {bytes([b]): b for b in range(256)}
    out = {}
    for left, right in pairs:
        out[(ids[left], ids[right])] = ids[left + right] = 256 + len(out)
    return out


def check_encode(fn: Callable) -> None:
    """fn(text, merges) -> ids, the BPE encoding of `text`; compared with `BPETokenizer.encode_ordinary`.

    `merges` maps (left id, right id) to the merged id, in the order learned
    (a `BPETokenizer`'s `.merges`). The text must be split with GPT-2's
    pattern first, and merges replayed earliest first inside each piece.
    """
    def mistakes(text, merges):
        """(what a mistaken encoder returns, hint), the likeliest mistakes first."""
        return [
            (_encode_characters(text, merges),
             "work on the UTF-8 bytes of each piece, list(piece.encode('utf-8')), not on ord() of each "
             "character: a character outside ASCII is 2 to 4 bytes"),
            (BPETokenizer(list(merges), pattern=r"(?s).+").encode_ordinary(text),  # the whole text as one piece
             "split the text into pre-tokens first, with regex.findall(GPT2_PATTERN, text), and encode each "
             "one on its own: a merge never crosses a pre-token boundary"),
            (_encode_left_to_right(text, merges),
             "apply the merges in the order they were learned: at each step merge the neighbouring pair "
             "with the lowest merged id (merges.get(pair, inf)), not the first mergeable pair from the left"),
            (_encode_one_pass(text, merges),
             "keep merging until no neighbouring pair is in merges: a merged token can merge again"),
            (_encode_latest_first(text, merges),
             "apply the merges in the order they were learned, earliest (lowest id) first, not latest first"),
        ]

    def case(text: str, merges: dict[tuple[int, int], int]) -> Callable:
        def run(call):
            tok = BPETokenizer(list(merges))
            expected = tok.encode_ordinary(text)
            got = _as_ids(call(text, dict(merges)))
            if got == expected:
                return
            described = f"encoding {text!r:.50} should give {_show(expected)}, got {_show(got)}"
            for answer, hint in mistakes(text, merges):
                if got == answer:
                    raise Mismatch(f"{described}; {hint}")
            if any(not 0 <= i < len(tok.vocab) for i in got):
                raise Mismatch(f"{described}; every id must be a byte (0-255) or a merged id from merges, "
                               "and bytes are those of text.encode('utf-8')")
            if tok.decode_bytes(got) != text.encode("utf-8"):
                raise Mismatch(f"{described}; these tokens don't spell the text: their bytes, joined, must "
                               "give back text.encode('utf-8')")
            raise Mismatch(f"{described}; split with GPT2_PATTERN, then in each piece merge the pair with the "
                           "lowest merged id until no pair is in merges")
        return run

    trained = BPETokenizer.train(_TRAINING_TEXT, vocab_size=360, special_tokens=()).merges
    order = _merges((b"b", b"c"), (b"a", b"b"))  # in "abc", (b, c) wins: it was learned first
    chain = _merges((b"a", b"a"), (b"aa", b"aa"), (b"aa", b"a"))
    cases = [Case("no merges: just the UTF-8 bytes", case("hi!", {})),
             Case("no merges, non-ASCII: 'é' is two bytes", case("café", {})),
             Case("an empty string", case("", trained)),
             Case("'abc' when (b, c) was learned before (a, b)", case("abc", order)),
             Case("merged tokens merge again: 'aaaaa'", case("aaaaa", chain)),
             Case("a merge (b'e', b' ') that would cross a pre-token boundary",
                  case("the cat", _merges((b"e", b" ")))),
             Case("a sentence, with merges trained on similar text",
                  case("The tokenizer merges the most frequent pairs.", trained)),
             Case("numbers, contractions and punctuation", case("It doesn't count 2024 pairs, or 3.14?", trained)),
             Case("runs of spaces and newlines", case("tokens   are\n\n  pieces", trained)),
             Case("non-English text and an emoji", case("Die Tokens zählen 👋 トークン", trained))]
    run_cases("check_encode", fn, cases)


# classic mistakes, each a whole (wrong) encoder, so that a checker can name the one a student made

def _encode_characters(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Starts from code points instead of UTF-8 bytes."""
    pieces = regex.findall(GPT2_PATTERN, text)
    return [i for piece in pieces for i in apply_merges([ord(c) for c in piece], merges)]


def _encode_left_to_right(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Merges the first mergeable pair from the left, whatever its rank."""
    out = []
    for piece in regex.findall(GPT2_PATTERN, text):
        ids, i = list(piece.encode("utf-8")), 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) in merges:
                ids[i: i + 2] = [merges[(ids[i], ids[i + 1])]]
                i = 0
            else:
                i += 1
        out.extend(ids)
    return out


def _encode_one_pass(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Merges only the pairs present in the original bytes, never pairs made of new tokens."""
    out = []
    for piece in regex.findall(GPT2_PATTERN, text):
        ids = list(piece.encode("utf-8"))
        for pair in sorted(set(zip(ids, ids[1:])) & set(merges), key=merges.get):
            ids = merge(ids, pair, merges[pair])
        out.extend(ids)
    return out


def _encode_latest_first(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """Applies every merge once, from the last learned to the first."""
    out = []
    for piece in regex.findall(GPT2_PATTERN, text):
        ids = list(piece.encode("utf-8"))
        for pair in sorted(merges, key=merges.get, reverse=True):
            ids = merge(ids, pair, merges[pair])
        out.extend(ids)
    return out
