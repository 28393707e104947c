"""Tokenizers: text to integer ids and back.

Every tokenizer in minillm has the same small interface, so the model, the
training loop, the notebooks and the command line take any of them:

    tok.vocab_size        number of distinct ids, 0 .. vocab_size - 1
    tok.encode(text)      -> list[int]
    tok.decode(ids)       -> str
    tok.to_dict()         a JSON-ready description; tokenizer_from_dict() inverts it
    tok.save(path)        writes that JSON atomically; load_tokenizer(path) reads it
    tok.special_tokens    {text: id} of tokens such as <|endoftext|> and [MASK]

This module starts with the simplest tokenizer there is: one token per
character, with the vocabulary taken from the training corpus. Byte-level BPE
(module M2, `minillm/bpe.py`) plugs into the same interface, and
`encode_to_array` turns a corpus into a cached array of ids for training.

Special tokens are ids with a job rather than a piece of text: <|endoftext|>
separates documents, [MASK] marks the positions a BERT-style encoder must
fill in (`minillm.families`), [PAD], [BOS] and [EOS] frame sequences. Both
tokenizers give them the ids after the ordinary ones and handle them the
same way (tiktoken's rules): `encode` turns their text into their id only
when asked to (`allowed_special`), so ordinary text, a user's message, can
never produce one.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
from pathlib import Path
from typing import Collection, Iterable, Iterator, Literal, Sequence

import numpy as np
import regex

from .data import data_dir
from .errors import TokenizerError
from .io import atomic_write, write_text

MASK = "[MASK]"  # a masked-LM's "fill me in" token (BERT's spelling)


def split_special(text: str, special_tokens: Collection[str]) -> list[str]:
    """Cut text around special tokens, keeping them as pieces of their own.

    >>> split_special("a<|endoftext|>b", ["<|endoftext|>"])
    ['a', '<|endoftext|>', 'b']
    """
    if not special_tokens:
        return [text] if text else []
    # longest first, so a special token that contains another one wins
    alternatives = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
    return [piece for piece in regex.split(f"({alternatives})", text) if piece]


class Tokenizer:
    """The shared interface; subclasses implement encode, decode and to_dict."""

    kind: str = ""
    special_tokens: dict[str, int]  # text -> id, set by each subclass

    def allowed_specials(self, text: str, allowed_special: Literal["all"] | Collection[str] = (),
                         disallowed_special: Literal["all"] | Collection[str] = "all") -> set[str]:
        """The special tokens `encode` turns into their ids; refuses text with a disallowed one in it.

        Special tokens in `allowed_special` ("all" or a set) become their ids.
        A special token from `disallowed_special` (by default every special
        token not allowed) in the text is an error: text from users should
        not be able to inject <|endoftext|>. Pass disallowed_special=() to
        encode such text as ordinary characters.
        """
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        disallowed = set(self.special_tokens) - allowed if disallowed_special == "all" else set(disallowed_special)
        unknown = (allowed | disallowed) - set(self.special_tokens)
        if unknown:
            raise TokenizerError(f"unknown special token(s) {sorted(unknown)}; this tokenizer's special tokens "
                                 f"are {sorted(self.special_tokens)}")
        for s in disallowed:
            if s in text:
                raise TokenizerError(
                    f"the text contains the special token {s!r}, which is not allowed here. Pass "
                    f"allowed_special={{{s!r}}} (or 'all') to encode it as a special token, or "
                    f"disallowed_special=() to encode it as ordinary text")
        return allowed

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def encode_corpus(self, text: str, progress: bool = False) -> list[int]:
        """Encode a whole training corpus (BPE: special tokens in it are document separators)."""
        return self.encode(text)

    def encode_iterable(self, chunks: Iterable[str]) -> Iterator[int]:
        """Encode text arriving in pieces (lines of a file, documents), holding only a little at a time.

        Yields the same ids as encoding the concatenated text at once (special tokens as plain text,
        as `encode` with disallowed_special=() would), with memory bounded by the longest chunk.
        """
        for chunk in chunks:  # characters: no token can span two chunks
            yield from self.encode(chunk, disallowed_special=())

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1))


class CharTokenizer(Tokenizer):
    """One token per character; ids follow the sorted order of the characters, special tokens come last.

    >>> tok = CharTokenizer.from_text("hello", special_tokens=[MASK])
    >>> tok.chars, tok.encode("hell"), tok.decode([3, 2]), tok.special_tokens
    ('ehlo', [1, 0, 2, 2], 'ol', {'[MASK]': 4})
    >>> tok.encode("he[MASK]o", allowed_special="all")
    [1, 0, 4, 3]
    """

    kind = "char"

    def __init__(self, chars: str, special_tokens: Sequence[str] = ()):
        if not chars:
            raise TokenizerError("a character tokenizer needs at least one character; the text was empty")
        if len(set(chars)) != len(chars):
            raise TokenizerError("the character list has duplicates; build it with CharTokenizer.from_text")
        if isinstance(special_tokens, str):
            raise TokenizerError(f"special_tokens must be a list of strings, got the string {special_tokens!r}; "
                                 f"write [{special_tokens!r}]")
        specials = list(special_tokens)
        if len(set(specials)) != len(specials) or not all(isinstance(t, str) and t for t in specials):
            raise TokenizerError(f"special tokens must be distinct non-empty strings, got {specials}")
        clash = [t for t in specials if t in chars]
        if clash:  # subtle: "a" as a special token would give the text "a" two ids
            raise TokenizerError(f"special token {clash[0]!r} is also an ordinary character; "
                                 f"give it a name of two or more characters, such as '[{clash[0]}]'")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.special_tokens = {t: len(chars) + k for k, t in enumerate(specials)}  # after the characters
        self._itos = list(chars) + specials  # id -> text

    @classmethod
    def from_text(cls, text: str, special_tokens: Sequence[str] = ()) -> "CharTokenizer":
        """The vocabulary is every distinct character of `text`, sorted, then the special tokens."""
        return cls("".join(sorted(set(text))), special_tokens)

    def with_special_tokens(self, special_tokens: Sequence[str]) -> "CharTokenizer":
        """This tokenizer with more special tokens, at the next ids; every existing id keeps its meaning."""
        return CharTokenizer(self.chars, [*self.special_tokens, *special_tokens])

    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    def encode(self, text: str, allowed_special: Literal["all"] | Collection[str] = (),
               disallowed_special: Literal["all"] | Collection[str] = "all") -> list[int]:
        """Text -> ids; special tokens as in `BPETokenizer.encode` (see `Tokenizer.allowed_specials`)."""
        allowed = self.allowed_specials(text, allowed_special, disallowed_special)
        out: list[int] = []
        for piece in split_special(text, allowed):
            if piece in allowed:
                out.append(self.special_tokens[piece])
                continue
            try:
                out.extend(self.stoi[c] for c in piece)
            except KeyError:
                unknown = sorted(set(piece) - set(self.stoi))
                raise TokenizerError(
                    f"the text has {len(unknown)} character(s) outside this tokenizer's vocabulary: "
                    f"{''.join(unknown)[:20]!r}; remove them, or build the tokenizer from text that has them"
                ) from None
        return out

    def decode(self, ids: Iterable[int]) -> str:
        try:
            ids = [operator.index(i) for i in ids]  # ints, numpy ints, 0-d tensors
        except TypeError:
            raise TokenizerError(f"ids must be integers in 0..{self.vocab_size - 1}") from None
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:  # subtle: chars[-1] is a valid Python index, but not a valid id
            raise TokenizerError(f"ids must be integers in 0..{self.vocab_size - 1}, got {bad[0]}")
        return "".join(self._itos[i] for i in ids)

    def to_dict(self) -> dict:
        d = {"type": self.kind, "chars": self.chars}
        if self.special_tokens:  # only then: descriptions saved before special tokens existed stay equal
            d["special_tokens"] = list(self.special_tokens)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        if not isinstance(d.get("chars"), str):
            raise TokenizerError("a char tokenizer description needs a 'chars' string")
        specials = d.get("special_tokens", [])
        if not isinstance(specials, list):
            raise TokenizerError("a char tokenizer's 'special_tokens' must be a list of strings, in id order")
        return cls(d["chars"], specials)

    def __repr__(self) -> str:
        specials = f", special_tokens={list(self.special_tokens)}" if self.special_tokens else ""
        return f"CharTokenizer(vocab_size={self.vocab_size}{specials})"


# The tokenizer types a saved description can name; minillm/bpe.py adds "bpe".
TOKENIZERS: dict[str, type[Tokenizer]] = {"char": CharTokenizer}


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from its `to_dict()` description."""
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in TOKENIZERS:
        raise TokenizerError(f"not a minillm tokenizer description (type {kind!r}); "
                             f"known types: {sorted(TOKENIZERS)}")
    return TOKENIZERS[kind].from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer saved with `tok.save(path)`."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(f"no tokenizer file at {path}")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TokenizerError(f"{path} is not a valid tokenizer file ({e}); save it again with tok.save()") from e
    return tokenizer_from_dict(d)


def encode_to_array(tok: Tokenizer, text: str, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> np.ndarray:
    """`tok.encode(text)` as a compact integer array, cached on disk.

    uint16 when every id fits (vocab_size <= 65,536), else uint32: a quarter
    or half of what int64 would take. The array is saved as .npy under
    `cache_dir` (default `data_dir()/tokens`), named by a hash of the tokenizer
    and the text, so a second run with the same pair loads it instantly and a
    changed tokenizer or text never reads a stale file.
    """
    key = hashlib.sha256(json.dumps(tok.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    key.update(b"\0" + text.encode("utf-8"))
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "tokens"
    path = folder / f"{tok.kind}-{key.hexdigest()[:20]}.npy"
    dtype = np.uint16 if tok.vocab_size <= 2**16 else np.uint32
    if path.is_file():
        try:
            arr = np.load(path)
            if arr.ndim == 1 and arr.dtype == dtype:
                return arr
            problem = f"holds a {arr.dtype} array of shape {arr.shape}"
        except (ValueError, OSError, EOFError) as e:  # e.g. cut short by a full disk
            problem = f"can't be read ({type(e).__name__}: {e})"
        print(f"note: the cached token ids {path} {problem}; encoding the text again")
    arr = np.asarray(tok.encode_corpus(text, progress=progress), dtype=dtype)
    with atomic_write(path, "wb") as f:
        np.save(f, arr)
    return arr


# Byte-level BPE builds on Tokenizer above, so it is imported last; importing it
# adds "bpe" to TOKENIZERS.
from . import bpe as _bpe  # noqa: E402,F401
