"""Byte-level BPE: train merges on a corpus, encode text with them, decode ids.

Byte-pair encoding starts from the 256 possible bytes of UTF-8 text and
learns merges: the most frequent adjacent pair of tokens becomes a new token,
again and again, until the vocabulary has the size asked for. Encoding
replays the merges in the order they were learned; decoding concatenates the
bytes of each token. This is the tokenizer of GPT-2 and its successors.

Design choices:
- Bytes, not characters, are the base tokens, so every string can be encoded
  (emoji, any script, control characters) and nothing is ever unknown.
  Decoding a sequence that cuts a character in half gives U+FFFD replacement
  characters instead of an error.
- Text is first cut into pre-tokens with GPT-2's regex (a word with its
  leading space, a run of digits, a run of punctuation, whitespace), and
  merges never cross a pre-token boundary: "dog." and "dog!" share "dog".
- Special tokens such as <|endoftext|> and [MASK] are never split or merged
  and are kept out of training; they get the last ids of the vocabulary, and
  `with_special_tokens` adds more to a trained tokenizer.
- Training is deterministic: the most frequent pair wins, and a tie goes to
  the lexicographically greater pair of byte strings, (bytes_a, bytes_b).
- Two trainers return the same merges: `train_merges_reference` recounts every
  pair after every merge (obvious, slow); `train_merges` updates the counts
  of only the words a merge touched and keeps pairs in a heap (fast).
- Ids: bytes take ids 0-255 (byte b is id b after our training; GPT-2
  orders them differently, hence `byte_ids`), merge i makes id 256 + i, and
  special tokens follow. A merged token's id doubles as its priority.

Simplifications for teaching: pure Python throughout (tiktoken, in Rust, is
about 6-8x faster at encoding; see benchmarks/bpe.py); `minillm.tiktoken_bridge`
converts either way.
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections import Counter, defaultdict
from typing import Collection, Iterable, Iterator, Literal, NamedTuple, Sequence

import regex
from tqdm.auto import tqdm

from .errors import TokenizerError
from .io import write_text
from .tokenizer import MASK, TOKENIZERS, Tokenizer, split_special  # noqa: F401 (MASK, for users)

# GPT-2's pre-tokenizer: contractions, letters, digits, other symbols, each
# with at most one leading space; then whitespace. `\s+(?!\S)` leaves the last
# space of a run to start the next word, so "a   b" -> "a", "  ", " b".
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"


# ----------------------------------------------------------------------------
# the two operations everything else is built from

def pair_counts(ids: Sequence[int], counts: dict | None = None, weight: int = 1) -> dict[tuple[int, int], int]:
    """Count adjacent pairs, adding `weight` per occurrence to `counts` if given.

    >>> pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair`, left to right, with `new_id`.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)  # subtle: occurrences can't overlap
    [8, 7]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def apply_merges(ids: Sequence[int], merges: dict[tuple[int, int], int],
                 fired: Counter | None = None, weight: int = 1) -> list[int]:
    """Encode one pre-token's ids: merge the adjacent pair learned earliest, again and again.

    `merges` maps (left, right) to the merged id, and a lower id was learned
    earlier. Stops when no adjacent pair was ever merged. If `fired` is given,
    fired[merged id] grows by `weight` for every occurrence merged.

    >>> apply_merges([1, 2, 3], {(2, 3): 4, (1, 4): 5})
    [5]
    """
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))
        if pair not in merges:
            break  # no adjacent pair was ever merged
        new = merge(ids, pair, merges[pair])
        if fired is not None:
            fired[merges[pair]] += weight * (len(ids) - len(new))
        ids = new
    return ids


def most_frequent_pair(counts: dict[tuple[int, int], int], vocab: Sequence[bytes]) -> tuple[int, int]:
    """The pair to merge next: the most frequent; a tie goes to the greater (vocab[a], vocab[b]).

    `vocab[i]` holds the bytes of token i. Ties are broken by bytes, not ids,
    so the rule doesn't depend on how tokens happen to be numbered.

    >>> most_frequent_pair({(97, 98): 2, (120, 121): 2, (98, 99): 1}, [bytes([b]) for b in range(256)])
    (120, 121)
    """
    return max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))


# ----------------------------------------------------------------------------
# pre-tokenization (split_special, shared with the char tokenizer, lives in minillm.tokenizer)

def word_counts(text: str, pattern: str = GPT2_PATTERN, special_tokens: Collection[str] = ()) -> Counter[bytes]:
    """How often each pre-token occurs, as UTF-8 bytes; special tokens are left out.

    >>> word_counts("to be, or not to be")
    Counter({b' be': 2, b'to': 1, b',': 1, b' or': 1, b' not': 1, b' to': 1})
    """
    split = regex.compile(pattern)
    counts: Counter[bytes] = Counter()
    specials = set(special_tokens)
    for piece in split_special(text, specials):
        if piece not in specials:
            counts.update(word.encode("utf-8") for word in split.findall(piece))
    return counts


# ----------------------------------------------------------------------------
# training

class Merge(NamedTuple):
    """One learned merge: tokens `left` and `right` become a new token."""

    left: int
    right: int
    count: int  # how often the pair occurred in the training corpus when it was merged


def train_merges_reference(words: dict[bytes, int], n_merges: int) -> list[Merge]:
    """The obvious trainer: recount every pair in every word before each merge.

    `words` maps each distinct pre-token to its count (see `word_counts`).
    Stops early when no pair is left (every word is a single token).
    """
    vocab = [bytes([b]) for b in range(256)]  # token id -> its bytes
    corpus = [(list(word), count) for word, count in words.items()]
    merges = []
    for _ in range(n_merges):
        counts: dict[tuple[int, int], int] = {}
        for ids, count in corpus:
            pair_counts(ids, counts, count)
        if not counts:
            break
        best = most_frequent_pair(counts, vocab)
        new_id = len(vocab)
        vocab.append(vocab[best[0]] + vocab[best[1]])
        merges.append(Merge(*best, counts[best]))
        corpus = [(merge(ids, best, new_id), count) for ids, count in corpus]
    return merges


class _Reversed:
    """Wraps a key so that heapq, a min-heap, pops the greatest key first."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __lt__(self, other):
        return self.key > other.key

    def __eq__(self, other):
        return self.key == other.key


def train_merges(words: dict[bytes, int], n_merges: int, progress: bool = False) -> list[Merge]:
    """The same merges as `train_merges_reference`, without recounting the corpus.

    Keeps three structures up to date as merges happen:
      counts[pair]  occurrences of the pair, summed over words with their counts
      where[pair]   the indices of the words that contain the pair
      heap          (-count, reversed pair bytes, pair) entries; an entry whose
                    count no longer matches `counts` is stale and skipped
    A merge then touches only the words in where[pair]: their old pairs are
    subtracted, the merged word's pairs added, and changed pairs re-pushed.
    """
    vocab = [bytes([b]) for b in range(256)]
    corpus = [list(word) for word in words]
    weights = list(words.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for w, ids in enumerate(corpus):
        for pair in zip(ids, ids[1:]):
            counts[pair] += weights[w]
            where[pair].add(w)
    heap = [(-c, _Reversed((vocab[a], vocab[b])), (a, b)) for (a, b), c in counts.items()]
    heapq.heapify(heap)

    merges = []
    for _ in tqdm(range(n_merges), desc="BPE merges", disable=not progress):
        while heap:  # pop until an entry is current
            neg_count, _, best = heapq.heappop(heap)
            if counts.get(best, 0) == -neg_count:
                break
        else:
            break  # no pairs left
        new_id = len(vocab)
        vocab.append(vocab[best[0]] + vocab[best[1]])
        merges.append(Merge(*best, -neg_count))
        changed = set()
        for w in where.pop(best):
            old, weight = corpus[w], weights[w]
            new = merge(old, best, new_id)
            old_pairs, new_pairs = list(zip(old, old[1:])), list(zip(new, new[1:]))
            for pair in old_pairs:
                counts[pair] -= weight
            for pair in new_pairs:
                counts[pair] += weight
                where[pair].add(w)
            for pair in set(old_pairs) - set(new_pairs):
                if pair != best:
                    where[pair].discard(w)
            changed.update(old_pairs, new_pairs)
            corpus[w] = new
        for pair in changed:
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], _Reversed((vocab[pair[0]], vocab[pair[1]])), pair))
            else:  # the pair is gone from every word
                del counts[pair]
                where.pop(pair, None)
    return merges


# ----------------------------------------------------------------------------
# the tokenizer

def _readable(b: bytes) -> str:
    """Token bytes as text; bytes that aren't whole UTF-8 characters as \\xNN."""
    return b.decode("utf-8", errors="backslashreplace")


class BPETokenizer(Tokenizer):
    """Byte-level BPE with the shared minillm tokenizer interface.

    >>> tok = BPETokenizer.train("low lower lowest " * 10, vocab_size=260)
    >>> [tok.vocab[i] for i in range(256, 259)]  # (o, w) ties with (l, o) and is greater
    [b'ow', b'low', b' low']
    >>> tok.decode(tok.encode("slower"))
    'slower'
    """

    kind = "bpe"

    def __init__(self, merges: Sequence[tuple[int, int]], special_tokens: dict[str, int] | None = None,
                 pattern: str = GPT2_PATTERN, byte_ids: Sequence[int] | None = None):
        self.byte_ids = list(range(256)) if byte_ids is None else list(byte_ids)  # byte value -> id
        if sorted(self.byte_ids) != list(range(256)):
            raise TokenizerError("byte_ids must give each of the 256 bytes its own id in 0..255")
        self.vocab: list[bytes] = [b""] * 256  # token id -> bytes
        for b, i in enumerate(self.byte_ids):
            self.vocab[i] = bytes([b])
        self.merges: dict[tuple[int, int], int] = {}  # (left, right) -> merged id, in the order learned
        for left, right in merges:
            new_id = len(self.vocab)
            if not (0 <= left < new_id and 0 <= right < new_id):
                raise TokenizerError(f"merge {len(self.merges)} ({left}, {right}) uses an id that doesn't exist "
                                     f"yet; every merge may only combine earlier tokens")
            if (left, right) in self.merges:
                raise TokenizerError(f"merge {new_id - 256} ({left}, {right}) repeats merge "
                                     f"{self.merges[left, right] - 256}; a pair can only be merged once")
            self.merges[(left, right)] = new_id
            self.vocab.append(self.vocab[left] + self.vocab[right])
        self.special_tokens = dict(special_tokens or {})  # text -> id
        ids = list(self.special_tokens.values())
        if len(set(ids)) != len(ids) or any(not isinstance(i, int) or i < len(self.vocab) for i in ids):
            raise TokenizerError(f"special tokens need distinct ids of at least {len(self.vocab)} "
                                 f"(after the merged tokens), got {self.special_tokens}")
        if any(not s for s in self.special_tokens):
            raise TokenizerError("a special token can't be the empty string")
        if not isinstance(pattern, str) or not pattern:
            raise TokenizerError(f"the pre-tokenizer pattern must be a regular expression, got {pattern!r}; "
                                 "GPT-2's is minillm.bpe.GPT2_PATTERN")
        self.pattern = pattern
        try:
            self._split = regex.compile(pattern)
        except regex.error as e:
            raise TokenizerError(f"the pre-tokenizer pattern doesn't compile: {e}") from e
        self._special_bytes = {i: s.encode("utf-8") for s, i in self.special_tokens.items()}
        self._cache: dict[str, list[int]] = {}  # pre-token -> ids; words repeat a lot

    # -- training ------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, special_tokens: Iterable[str] = (ENDOFTEXT,),
              pattern: str = GPT2_PATTERN, trainer=train_merges) -> "BPETokenizer":
        """Learn merges on `text` until the vocabulary has `vocab_size` tokens.

        The vocabulary counts the 256 bytes, the merges and the special tokens.
        A corpus too small to fill it stops early, with a smaller vocabulary.
        `trainer` is `train_merges` or `train_merges_reference`.
        """
        specials = list(dict.fromkeys(special_tokens))
        if vocab_size < 256 + len(specials):
            raise TokenizerError(f"vocab_size must be at least 256 (one token per byte) plus {len(specials)} "
                                 f"special token(s) = {256 + len(specials)}, got {vocab_size}")
        words = word_counts(text, pattern, specials)
        if not words:
            raise TokenizerError("the training text is empty (or holds only special tokens); "
                                 "BPE needs text to learn merges from")
        merges = trainer(words, vocab_size - 256 - len(specials))
        first = 256 + len(merges)
        return cls([(m.left, m.right) for m in merges], {s: first + i for i, s in enumerate(specials)}, pattern)

    # -- inspection ----------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return max([len(self.vocab) - 1, *self.special_tokens.values()]) + 1

    def id_to_bytes(self, i: int) -> bytes:
        """The bytes of token `i` (a special token's as UTF-8)."""
        if 0 <= i < len(self.vocab):
            return self.vocab[i]
        if i in self._special_bytes:
            return self._special_bytes[i]
        raise TokenizerError(f"no token with id {i}; ids run 0..{self.vocab_size - 1}")

    def merge_list(self) -> list[tuple[int, int, int]]:
        """The merges in the order learned, as (left id, right id, merged id)."""
        return [(a, b, i) for (a, b), i in self.merges.items()]

    def with_vocab_size(self, vocab_size: int) -> "BPETokenizer":
        """This tokenizer with only its first merges, as if training had stopped at `vocab_size`.

        Subtle: training is greedy, so the first k merges of a big vocabulary
        are exactly the merges a smaller run on the same text would learn.
        """
        n_merges = vocab_size - 256 - len(self.special_tokens)
        if not 0 <= n_merges <= len(self.merges):
            raise TokenizerError(f"vocab_size must lie in {256 + len(self.special_tokens)}..{self.vocab_size}")
        order = sorted(self.special_tokens, key=self.special_tokens.get)
        return BPETokenizer(list(self.merges)[:n_merges], {s: 256 + n_merges + k for k, s in enumerate(order)},
                            self.pattern, self.byte_ids)

    def with_special_tokens(self, special_tokens: Iterable[str]) -> "BPETokenizer":
        """This tokenizer with more special tokens (e.g. [MASK]) at the next ids; existing ids keep their meaning.

        >>> BPETokenizer([]).with_special_tokens([ENDOFTEXT, MASK]).special_tokens
        {'<|endoftext|>': 256, '[MASK]': 257}
        """
        specials = dict(self.special_tokens)
        for s in special_tokens:
            if s in specials:
                raise TokenizerError(f"the tokenizer already has the special token {s!r} (id {specials[s]})")
            specials[s] = max([len(self.vocab) - 1, *specials.values()]) + 1
        return BPETokenizer(list(self.merges), specials, self.pattern, self.byte_ids)

    # -- encoding ------------------------------------------------------------

    def _encode_word(self, word: str) -> list[int]:
        """One pre-token: its bytes, then the merges replayed, earliest learned first."""
        return apply_merges([self.byte_ids[b] for b in word.encode("utf-8")], self.merges)

    def _skipped(self, text: str, at: int) -> TokenizerError:
        return TokenizerError(f"the pre-tokenizer pattern {self.pattern!r} skips the text at character {at} "
                              f"({text[at:at + 10]!r}); a BPE pattern must cut all of the text into pieces, "
                              "as minillm.bpe.GPT2_PATTERN does")

    def encode_ordinary(self, text: str, progress: bool = False) -> list[int]:
        """Encode treating special tokens as plain text."""
        out: list[int] = []
        with tqdm(total=len(text), unit="char", unit_scale=True, desc="encoding",
                  disable=not progress, mininterval=0.5) as bar:
            done = end = 0
            for m in self._split.finditer(text):
                if m.start() != end:  # the pattern skipped text: it would vanish without a trace
                    raise self._skipped(text, end)
                word, end = m.group(), m.end()
                ids = self._cache.get(word)
                if ids is None:
                    ids = self._encode_word(word)
                    if len(self._cache) < 500_000:
                        self._cache[word] = ids
                out.extend(ids)
                if end - done > 1 << 16:
                    bar.update(end - done)
                    done = end
            if end != len(text):
                raise self._skipped(text, end)
            bar.update(len(text) - done)
        return out

    def encode_iterable(self, chunks: Iterable[str]) -> Iterator[int]:
        """Encode text arriving in pieces with bounded memory; the same ids as `encode_ordinary` of it all.

        A word may be cut between two chunks, so the last pre-token of what has arrived is held back
        until the next chunk shows where it ends. So is a run of whitespace before it: GPT-2's pattern
        splits "\n\n1" into "\n", "\n", "1" but "\n\n" alone into one piece, so a cut is only made at a
        pre-token that follows a non-space character; everything before the cut is final.
        """
        buffer = ""
        for chunk in chunks:
            buffer += chunk
            starts = [m.start() for m in self._split.finditer(buffer)]
            cut = next((s for s in reversed(starts) if s > 0 and not buffer[s - 1].isspace()), 0)
            if cut:
                yield from self.encode_ordinary(buffer[:cut])
                buffer = buffer[cut:]
        if buffer:
            yield from self.encode_ordinary(buffer)

    def encode(self, text: str, allowed_special: Literal["all"] | Collection[str] = (),
               disallowed_special: Literal["all"] | Collection[str] = "all", progress: bool = False) -> list[int]:
        """Text -> ids, handling special tokens the way tiktoken does (see `Tokenizer.allowed_specials`).

        Special tokens in `allowed_special` ("all" or a set) become their ids;
        text holding one from `disallowed_special` (by default every special
        token not allowed) is refused; disallowed_special=() encodes such text
        as ordinary characters.
        """
        allowed = self.allowed_specials(text, allowed_special, disallowed_special)
        out: list[int] = []
        for piece in split_special(text, allowed):
            if piece in allowed:
                out.append(self.special_tokens[piece])
            else:
                out.extend(self.encode_ordinary(piece, progress=progress))
        return out

    def encode_corpus(self, text: str, progress: bool = False) -> list[int]:
        """Encode training text: <|endoftext|> in a corpus separates documents, so specials are allowed."""
        return self.encode(text, allowed_special="all", progress=progress)

    def encode_file(self, path: str | os.PathLike, progress: bool = True, **kwargs) -> list[int]:
        """Encode a UTF-8 text file, with a progress bar."""
        with open(path, encoding="utf-8") as f:
            return self.encode(f.read(), progress=progress, **kwargs)

    # -- decoding ------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Ids -> the raw bytes they stand for (possibly not valid UTF-8)."""
        try:
            return b"".join(self.vocab[i] if 0 <= i < len(self.vocab) else self._special_bytes[i] for i in ids)
        except (KeyError, TypeError, IndexError):
            raise TokenizerError(f"ids must be integers in 0..{self.vocab_size - 1}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; bytes that don't form valid UTF-8 become U+FFFD (never an error)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # -- saving --------------------------------------------------------------

    def to_dict(self) -> dict:
        """Merges as [left id, right id, left text, right text]; merge i makes id 256 + i."""
        return {
            "type": self.kind,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
            "byte_ids": self.byte_ids,
            "merges": [[a, b, _readable(self.vocab[a]), _readable(self.vocab[b])] for a, b in self.merges],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        try:
            merges = [(int(m[0]), int(m[1])) for m in d["merges"]]
            specials = {str(s): int(i) for s, i in d["special_tokens"].items()}
            return cls(merges, specials, d["pattern"], d.get("byte_ids"))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            if isinstance(e, TokenizerError):
                raise
            raise TokenizerError(f"not a valid BPE tokenizer description ({type(e).__name__}: {e}); it needs "
                                 "'merges', 'special_tokens' and 'pattern' as written by tok.save()") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON description, one merge per line so it reads top to bottom."""
        d = self.to_dict()
        fields = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in d.items() if k != "merges"]
        merges = ",\n  ".join(json.dumps(m, ensure_ascii=False) for m in d["merges"])
        write_text(path, "{\n" + ",\n".join(fields) + ',\n "merges": [\n  ' + merges + "\n ]\n}\n")

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={sorted(self.special_tokens)})")


TOKENIZERS["bpe"] = BPETokenizer


# ----------------------------------------------------------------------------
# measuring a tokenizer

def bytes_per_token(tok: Tokenizer, text: str) -> float:
    """Compression: UTF-8 bytes of `text` per token (higher packs more text into a context).

    Takes minillm tokenizers and tiktoken encodings alike.
    """
    ids = tok.encode(text)
    return len(text.encode("utf-8")) / max(len(ids), 1)


def merge_usage(tok: BPETokenizer, text: str) -> list[int]:
    """How many times each merge fires when encoding `text`, in merge order.

    Counts each distinct pre-token once, weighted by how often it occurs.
    """
    fired: Counter[int] = Counter()  # merged id -> times
    for word, count in word_counts(text, tok.pattern).items():
        apply_merges([tok.byte_ids[b] for b in word], tok.merges, fired, weight=count)
    return [fired[i] for i in tok.merges.values()]
