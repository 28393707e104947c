"""Checkers for module M2's tokenizer in use (notebook 02): encode, decode, and special tokens.

Each compares a student's function with `minillm.bpe.BPETokenizer` (its
`encode_ordinary` and `decode`) or with `bpe.split_special`, the step that
keeps special tokens out of the merges. Above each checker, its known
mistakes, each with the hint for its bug.
"""

from __future__ import annotations

from typing import Callable

import regex

from ..bpe import GPT2_PATTERN, BPETokenizer, apply_merges, merge, split_special
from ._core import Case, Mismatch, Mistake, _show, known_mistake, run_cases
from .tokenization import _TRAINING_TEXT, _as_ids

# ----------------------------------------------------------------------------
# encoding with learned merges


def solution_encode(text, merges):
    """Token ids of text for merges {(left, right): new id}: `BPETokenizer(list(merges)).encode_ordinary`."""
    return BPETokenizer(list(merges)).encode_ordinary(text)


def _merges(*pairs: tuple[bytes, bytes]) -> dict[tuple[int, int], int]:
    """Merges given by bytes, numbered 256, 257, ... in order: _merges((b"a", b"b")) -> {(97, 98): 256}"""
    ids = {bytes([b]): b for b in range(256)}
    out = {}
    for left, right in pairs:
        out[(ids[left], ids[right])] = ids[left + right] = 256 + len(out)
    return out


def _encode_characters(text, merges):
    """Starts from code points instead of UTF-8 bytes."""
    return [i for piece in regex.findall(GPT2_PATTERN, text) for i in apply_merges([ord(c) for c in piece], merges)]


def _encode_whole_text(text, merges):
    """Skips the pre-tokenizer: merges may cross word boundaries."""
    return apply_merges(list(text.encode("utf-8")), merges)


def _encode_left_to_right(text, merges):
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


def _encode_one_pass(text, merges):
    """Merges only the pairs present in the original bytes, never pairs made of new tokens."""
    out = []
    for piece in regex.findall(GPT2_PATTERN, text):
        ids = list(piece.encode("utf-8"))
        for pair in sorted(set(zip(ids, ids[1:])) & set(merges), key=merges.get):
            ids = merge(ids, pair, merges[pair])
        out.extend(ids)
    return out


def _encode_latest_first(text, merges):
    """Applies every merge once, from the last learned to the first."""
    out = []
    for piece in regex.findall(GPT2_PATTERN, text):
        ids = list(piece.encode("utf-8"))
        for pair in sorted(merges, key=merges.get, reverse=True):
            ids = merge(ids, pair, merges[pair])
        out.extend(ids)
    return out


# subtle: the order matters where two mistakes give the same answer on a case; the case list is built so
# that each mistake's first failing case names it (tests/test_exercises_mistakes.py checks this)
ENCODE_MISTAKES = [
    Mistake(_encode_characters,
            "work on the UTF-8 bytes of each piece, list(piece.encode('utf-8')), not on ord() of each character: "
            "a character outside ASCII is 2 to 4 bytes"),
    Mistake(_encode_whole_text,
            "split the text into pre-tokens first, with regex.findall(GPT2_PATTERN, text), and encode each one "
            "on its own: a merge never crosses a pre-token boundary"),
    Mistake(_encode_left_to_right,
            "apply the merges in the order they were learned: at each step merge the neighbouring pair with the "
            "lowest merged id (merges.get(pair, inf)), not the first mergeable pair from the left"),
    Mistake(_encode_one_pass,
            "keep merging until no neighbouring pair is in merges: a merged token can merge again"),
    Mistake(_encode_latest_first,
            "apply the merges in the order they were learned, earliest (lowest id) first, not latest first: "
            "in 'abc' with (a, b) learned before (b, c), 'ab' wins"),
]


def _encode_error_hint(error: BaseException) -> str | None:
    if "bad escape \\p" in str(error):
        return "GPT2_PATTERN needs the `regex` module (import regex): Python's `re` doesn't know \\p{L}"
    return None


def check_encode(fn: Callable) -> None:
    """fn(text, merges) -> ids, the BPE encoding of `text`; compared with `BPETokenizer.encode_ordinary`.

    `merges` maps (left id, right id) to the merged id, in the order learned
    (a `BPETokenizer`'s `.merges`). The text must be split with GPT-2's
    pattern first, and merges replayed earliest first inside each piece.
    """
    def case(text: str, merges: dict[tuple[int, int], int]) -> Callable:
        def observe(impl):
            return _as_ids(impl(text, dict(merges)))

        def run(call):
            tok = BPETokenizer(list(merges))
            expected = tok.encode_ordinary(text)
            got = observe(call)
            if got == expected:
                return
            problem = f"encoding {text!r:.50} should give {_show(expected)}, got {_show(got)}"
            hint = known_mistake(ENCODE_MISTAKES, observe, got)
            if hint is None and any(not 0 <= i < len(tok.vocab) for i in got):
                hint = ("every id must be a byte (0-255) or a merged id from merges, and bytes are those of "
                        "text.encode('utf-8')")
            elif hint is None and tok.decode_bytes(got) != text.encode("utf-8"):
                hint = ("these tokens don't spell the text: their bytes, joined, must give back "
                        "text.encode('utf-8')")
            raise Mismatch(problem, hint or "split with GPT2_PATTERN, then in each piece merge the pair with the "
                                            "lowest merged id until no pair is in merges")
        return run

    trained = BPETokenizer.train(_TRAINING_TEXT, vocab_size=360, special_tokens=()).merges
    cases = [Case("no merges: just the UTF-8 bytes", case("hi!", {})),
             Case("no merges, non-ASCII: 'é' is two bytes", case("café", {})),
             Case("an empty string", case("", trained)),
             Case("'abc' when (a, b) was learned before (b, c)", case("abc", _merges((b"a", b"b"), (b"b", b"c")))),
             Case("'abc' when (b, c) was learned before (a, b)", case("abc", _merges((b"b", b"c"), (b"a", b"b")))),
             Case("merged tokens merge again: 'aaaaa'", case("aaaaa", _merges((b"a", b"a"), (b"aa", b"aa"),
                                                                              (b"aa", b"a")))),
             Case("a merge (b'e', b' ') that would cross a pre-token boundary",
                  case("the cat", _merges((b"e", b" ")))),
             Case("a sentence, with merges trained on similar text",
                  case("The tokenizer merges the most frequent pairs.", trained)),
             Case("numbers, contractions and punctuation", case("It doesn't count 2024 pairs, or 3.14?", trained)),
             Case("runs of spaces and newlines", case("tokens   are\n\n  pieces", trained)),
             Case("non-English text and an emoji", case("Die Tokens zählen 👋 トークン", trained))]
    run_cases("check_encode", fn, cases, _encode_error_hint)


# ----------------------------------------------------------------------------
# decoding

def solution_decode(ids, vocab):
    """Text from token ids: join the bytes vocab[i], then decode UTF-8 once, a cut character as U+FFFD."""
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


DECODE_MISTAKES = [
    Mistake(lambda ids, vocab: "".join(vocab[i].decode("utf-8", errors="replace") for i in ids),
            "join the bytes first and decode once, b''.join(vocab[i] for i in ids).decode('utf-8', "
            "errors='replace'): decoding each token alone breaks a character whose bytes are split across "
            "tokens (é is 2 bytes, 👋 is 4)"),
    Mistake(lambda ids, vocab: b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore"),
            "use errors='replace': a cut character must show as U+FFFD '\ufffd', not vanish"),
    Mistake(lambda ids, vocab: b"".join(vocab[i] for i in ids).decode("latin-1"),
            "decode as UTF-8: latin-1 (like chr() of each byte) turns each byte of a multi-byte character into "
            "a character of its own, 'cafÃ©'"),
    Mistake(lambda ids, vocab: "".join(str(vocab[i]) for i in ids),
            "vocab[i] is bytes, and str(b'ab') is \"b'ab'\": join the bytes with b''.join(...) and decode them "
            "once with .decode('utf-8', errors='replace')"),
]


def _decode_error_hint(error: BaseException) -> str | None:
    if isinstance(error, UnicodeDecodeError):
        return ("bytes that don't form valid UTF-8 (a character cut in half) must not be an error: decode with "
                "errors='replace'")
    if isinstance(error, ValueError) and "range(0, 256)" in str(error):
        return "ids above 255 are merged tokens: look up each id's bytes, vocab[i], instead of bytes(ids)"
    return None


def check_decode(fn: Callable) -> None:
    """fn(ids, vocab) -> text; compared with `BPETokenizer.decode` of a tokenizer with that vocabulary.

    `vocab[i]` holds the bytes of token i (a tokenizer's `.vocab`). Bytes that
    are not valid UTF-8 become U+FFFD, the replacement character.
    """
    def case(tok: BPETokenizer, ids: list[int]) -> Callable:
        def observe(impl):
            got = impl(list(ids), list(tok.vocab))
            if isinstance(got, (bytes, bytearray)):
                raise Mismatch(f"return text, a str, not bytes; got {bytes(got)!r:.60}",
                               "decode the joined bytes with .decode('utf-8', errors='replace')")
            if not isinstance(got, str):
                raise Mismatch(f"return the text as a str; got a {type(got).__name__}: {got!r:.60}")
            return got

        def run(call):
            expected = tok.decode(ids)
            got = observe(call)
            if got != expected:
                raise Mismatch(f"the ids {_show(ids)} should decode to {expected!r:.60}, got {got!r:.60}",
                               known_mistake(DECODE_MISTAKES, observe, got)
                               or "join the tokens' bytes, vocab[i], in order, and decode UTF-8 once")
        return run

    plain = BPETokenizer([])  # the 256 bytes, no merges
    text = "Tokens are bytes: café, naïve, zählen, 東京, 👋. " * 4
    trained = BPETokenizer.train(_TRAINING_TEXT + text, vocab_size=400, special_tokens=())
    cases = [Case("ASCII text with merged tokens", case(trained, trained.encode("The tokens merge again."))),
             Case("no ids: the empty string", case(trained, [])),
             Case("'café' as bytes: 'é' is two tokens", case(plain, plain.encode("café"))),
             Case("Japanese and an emoji as bytes", case(plain, plain.encode("東京 👋"))),
             Case("the first byte of 👋 alone: a cut character is U+FFFD", case(plain, plain.encode("👋")[:1])),
             Case("text outside ASCII with merged tokens", case(trained, trained.encode(text))),
             Case("ids in any order, merged and not", case(trained, [300, 116, 399, 256, 104, 320]))]
    run_cases("check_decode", fn, cases, _decode_error_hint)


# ----------------------------------------------------------------------------
# special tokens as hard boundaries

solution_split_special = split_special


def _split_pattern(special_tokens, escape=True, longest_first=True) -> str:
    specials = sorted(special_tokens, key=len, reverse=True) if longest_first else list(special_tokens)
    return "|".join(regex.escape(s) if escape else s for s in specials)


def _split_dropping_specials(text, special_tokens):
    return [piece for piece in regex.split(_split_pattern(special_tokens), text) if piece]


def _split_keeping_empty(text, special_tokens):
    return regex.split(f"({_split_pattern(special_tokens)})", text)


def _split_unescaped(text, special_tokens):
    return [piece for piece in regex.split(f"({_split_pattern(special_tokens, escape=False)})", text) if piece]


def _split_in_given_order(text, special_tokens):
    return [piece for piece in regex.split(f"({_split_pattern(special_tokens, longest_first=False)})", text)
            if piece]


def _split_first_special_only(text, special_tokens):
    special = list(special_tokens)[0]
    return [piece for piece in regex.split(f"({regex.escape(special)})", text) if piece]


def _split_empty_pattern(text, special_tokens):
    return [piece for piece in regex.split(f"({_split_pattern(special_tokens)})", text) if piece]


SPLIT_SPECIAL_MISTAKES = [
    Mistake(_split_empty_pattern,
            "with no special tokens, the whole text is one piece, [text] (or [] for an empty text): an empty "
            "pattern matches everywhere, between every two characters"),
    Mistake(_split_dropping_specials,
            "keep each special token as a piece of its own: put the pattern in a capturing group, "
            "regex.split(f'({pattern})', text), and split returns the separators too"),
    Mistake(_split_keeping_empty,
            "leave out the empty strings: regex.split gives '' where the text starts or ends with a special "
            "token, or where two follow each other"),
    Mistake(_split_unescaped,
            "escape each special token, regex.escape(s): in a pattern, the '|' in '<|endoftext|>' means 'or'"),
    Mistake(_split_in_given_order,
            "try the longest special token first (sort them by length, longest first), so that a special token "
            "that contains another one wins"),
    Mistake(_split_first_special_only,
            "split at every special token, not only the first one: join them all into one pattern with '|'"),
]


def check_split_special(fn: Callable) -> None:
    """fn(text, special_tokens) -> pieces, each special token a piece of its own; compared with `bpe.split_special`.

    Ordinary text lies between the special tokens; no piece is empty, and
    joined, the pieces give back the text. The encoder then encodes each
    ordinary piece on its own, so that no merge crosses a special token.
    """
    def case(text: str, special_tokens) -> Callable:
        def observe(impl):
            given = dict(special_tokens) if isinstance(special_tokens, dict) else list(special_tokens)
            got = impl(text, given)
            if not (isinstance(got, (list, tuple)) and all(isinstance(piece, str) for piece in got)):
                raise Mismatch(f"return a list of strings, the pieces of the text; got {got!r:.80}")
            return list(got)

        def run(call):
            expected = split_special(text, special_tokens)
            got = observe(call)
            if got != expected:
                raise Mismatch(f"split_special({text!r:.50}, {list(special_tokens)!r:.50}) should give "
                               f"{expected!r:.120}, got {got!r:.120}",
                               known_mistake(SPLIT_SPECIAL_MISTAKES, observe, got)
                               or "each special token is a piece of its own, the text between them the other "
                                  "pieces, and no piece is empty")
        return run

    eot, pad = "<|endoftext|>", "<|pad|>"
    cases = [Case("the docstring example", case(f"a{eot}b", [eot])),
             Case("two documents, each ended by the special token", case(f"Exeunt.{eot}ACT I.{eot}", [eot])),
             Case("no special token in the text", case("plain text, no specials", [eot])),
             Case("two special tokens in a row, then text", case(f"{eot}{eot}Hello", [eot])),
             Case("an empty text", case("", [eot])),
             Case("two kinds of special tokens", case(f"a{pad}b{eot}c", [eot, pad])),
             Case("one special token inside another: the longest wins",
                  case(f"hi{eot}{pad}there{eot}", [eot, eot + pad])),
             Case("a dict {special token: id}, like tok.special_tokens", case(f"x{eot}y", {eot: 4095})),
             Case("no special tokens at all", case("a<b|c>d", []))]
    run_cases("check_split_special", fn, cases)
