"""Tokenizers: text to integer ids and back.

Every tokenizer in minillm has the same small interface, so the model, the
training loop, the notebooks and the command line take any of them:

    tok.vocab_size        number of distinct ids, 0 .. vocab_size - 1
    tok.encode(text)      -> list[int]
    tok.decode(ids)       -> str
    tok.to_dict()         a JSON-ready description; tokenizer_from_dict() inverts it
    tok.save(path)        writes that JSON atomically; load_tokenizer(path) reads it

This module starts with the simplest tokenizer there is: one token per
character, with the vocabulary taken from the training corpus. Byte-level BPE
(module M2, `minillm/bpe.py`) plugs into the same interface, and
`encode_to_array` turns a corpus into a cached array of ids for training.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from .data import data_dir
from .errors import TokenizerError
from .io import atomic_write, write_text


class Tokenizer:
    """The shared interface; subclasses implement encode, decode and to_dict."""

    kind: str = ""

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

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1))


class CharTokenizer(Tokenizer):
    """One token per character; ids follow the sorted order of the characters.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars, tok.encode("hell"), tok.decode([3, 2])
    ('ehlo', [1, 0, 2, 2], 'ol')
    """

    kind = "char"

    def __init__(self, chars: str):
        if not chars:
            raise TokenizerError("a character tokenizer needs at least one character; the text was empty")
        if len(set(chars)) != len(chars):
            raise TokenizerError("the character list has duplicates; build it with CharTokenizer.from_text")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The vocabulary is every distinct character of `text`, sorted."""
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            unknown = sorted(set(text) - set(self.stoi))
            raise TokenizerError(
                f"the text has {len(unknown)} character(s) outside this tokenizer's vocabulary: "
                f"{''.join(unknown)[:20]!r}; remove them, or build the tokenizer from text that has them"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        try:
            ids = [operator.index(i) for i in ids]  # ints, numpy ints, 0-d tensors
        except TypeError:
            raise TokenizerError(f"ids must be integers in 0..{self.vocab_size - 1}") from None
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:  # subtle: chars[-1] is a valid Python index, but not a valid id
            raise TokenizerError(f"ids must be integers in 0..{self.vocab_size - 1}, got {bad[0]}")
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict:
        return {"type": self.kind, "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        if not isinstance(d.get("chars"), str):
            raise TokenizerError("a char tokenizer description needs a 'chars' string")
        return cls(d["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


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
