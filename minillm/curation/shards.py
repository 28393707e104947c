"""Token shards: a curated corpus as numbered files of token ids, written atomically, read back checked.

    folder/
        manifest.json        the tokenizer's fingerprint, dtype, and per shard its length and sha256
        shard_00000.npy      uint16 ids (uint32 when the vocabulary has more than 65,536 tokens)
        shard_00001.npy      ...

The shards are written into a temporary folder beside the target and renamed into place only when
the last one and the manifest are complete, so an interrupted run leaves no folder that loads (its
temporary is swept away by the next run, which starts over). `load_shards` refuses shards made by
another tokenizer, and a shard whose bytes changed. `encode_documents` tokenizes many documents in
several processes, in order.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..errors import DataError
from ..io import atomic_write, remove_stale, temp_prefix
from ..tokenizer import Tokenizer, tokenizer_from_dict

SHARD_TOKENS = 1 << 20  # ids per shard: 2 MB of uint16


def tokenizer_fingerprint(tok: Tokenizer) -> str:
    """A short hash of everything that decides the ids: the tokenizer's saved form."""
    return hashlib.sha256(json.dumps(tok.to_dict(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _dtype(tok: Tokenizer) -> np.dtype:
    return np.dtype(np.uint16 if tok.vocab_size <= 2**16 else np.uint32)


def write_shards(ids: Iterable[int] | Iterable[np.ndarray], folder: str | os.PathLike, tok: Tokenizer,
                 tokens_per_shard: int = SHARD_TOKENS, progress: bool = True) -> dict:
    """Write token ids (ints, or arrays of them) to `folder` as shards; returns the manifest.

    An existing folder is replaced only once the new shards are complete.
    """
    if tokens_per_shard < 1:
        raise DataError(f"tokens_per_shard must be at least 1, got {tokens_per_shard}")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(folder)  # a run killed midway left its temporary folder
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=temp_prefix(folder)))
    dtype = _dtype(tok)
    shards: list[dict] = []
    try:
        buffer: list[np.ndarray] = []
        held = 0
        bar = tqdm(desc="writing shards", unit="tok", unit_scale=True, disable=not progress)

        def flush(array: np.ndarray) -> None:
            name = f"shard_{len(shards):05d}.npy"
            with open(tmp / name, "wb") as f:
                np.save(f, array)
            shards.append({"name": name, "tokens": int(len(array)),
                           "sha256": hashlib.sha256((tmp / name).read_bytes()).hexdigest()})

        for piece in _arrays(ids, dtype):
            buffer.append(piece)
            held += len(piece)
            bar.update(len(piece))
            while held >= tokens_per_shard:
                joined = np.concatenate(buffer)
                flush(joined[:tokens_per_shard])
                buffer, held = [joined[tokens_per_shard:]], held - tokens_per_shard
        if held:
            flush(np.concatenate(buffer))
        bar.close()
        manifest = {"tokenizer": tokenizer_fingerprint(tok), "kind": tok.kind, "vocab_size": tok.vocab_size,
                    "dtype": dtype.name, "total_tokens": sum(s["tokens"] for s in shards), "shards": shards}
        with atomic_write(tmp / "manifest.json", "w") as f:
            json.dump(manifest, f, indent=1)
        os.chmod(tmp, 0o755)  # mkdtemp makes a private folder
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _arrays(ids: Iterable, dtype: np.dtype, chunk: int = 1 << 16) -> Iterator[np.ndarray]:
    """Ids arriving as ints or as arrays, regrouped into arrays of `dtype`."""
    pending: list[int] = []
    for item in ids:
        if isinstance(item, np.ndarray):
            if pending:
                yield np.asarray(pending, dtype=dtype)
                pending = []
            yield item.astype(dtype, copy=False)
        else:
            pending.append(item)
            if len(pending) >= chunk:
                yield np.asarray(pending, dtype=dtype)
                pending = []
    if pending:
        yield np.asarray(pending, dtype=dtype)


def load_shards(folder: str | os.PathLike, tok: Tokenizer | None = None, verify: bool = True) -> np.ndarray:
    """All ids of a shard folder, in order. With `tok`, refuses shards another tokenizer made."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(f"{folder} has no manifest.json: it is not a finished shard folder (an interrupted "
                        "run, or another kind of folder); write the shards again")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        shards, dtype = manifest["shards"], np.dtype(manifest["dtype"])
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{manifest_path} is unreadable ({type(e).__name__}: {e}); write the shards again") from None
    if tok is not None and manifest["tokenizer"] != tokenizer_fingerprint(tok):
        raise DataError(f"the shards in {folder} were made by another tokenizer ({manifest['kind']}, vocabulary "
                        f"{manifest['vocab_size']:,}) than the one given ({tok.kind}, {tok.vocab_size:,}); encode "
                        "the corpus again with this tokenizer, or load the tokenizer the shards were made with")
    arrays = []
    for shard in shards:
        path = folder / shard["name"]
        data = path.read_bytes() if path.is_file() else b""
        if verify and hashlib.sha256(data).hexdigest() != shard["sha256"]:
            raise DataError(f"{path} is missing or changed since it was written; write the shards again")
        array = np.load(path)
        if array.dtype != dtype or len(array) != shard["tokens"]:
            raise DataError(f"{path} holds {len(array)} {array.dtype} ids, the manifest says {shard['tokens']} "
                            f"{dtype}; write the shards again")
        arrays.append(array)
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


# ----------------------------------------------------------------------------
# encoding many documents, in several processes

_worker_tok: Tokenizer | None = None


def _init_worker(tok_dict: dict) -> None:
    global _worker_tok
    _worker_tok = tokenizer_from_dict(tok_dict)


def _encode_batch(docs: Sequence[str]) -> np.ndarray:
    ids: list[int] = []
    for doc in docs:
        ids.extend(_worker_tok.encode_iterable([doc]))
        eot = _worker_tok.special_tokens.get("<|endoftext|>")
        if eot is not None:  # a separator between documents, as GPT-2's training data had
            ids.append(eot)
    return np.asarray(ids, dtype=_dtype(_worker_tok))


def encode_documents(tok: Tokenizer, docs: Iterable[str], processes: int = 1, batch_docs: int = 64,
                     progress: bool = True) -> Iterator[np.ndarray]:
    """Encode documents in order, each followed by <|endoftext|> if the tokenizer has it; one array per batch.

    With processes > 1 the batches are encoded in a pool of worker processes (each rebuilds the
    tokenizer from its saved form); the order of the output is the order of `docs`.
    """
    def batches() -> Iterator[list[str]]:
        batch: list[str] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == batch_docs:
                yield batch
                batch = []
        if batch:
            yield batch

    bar = tqdm(desc="encoding documents", unit="doc", disable=not progress)
    if processes <= 1:
        _init_worker(tok.to_dict())
        for batch in batches():
            yield _encode_batch(batch)
            bar.update(len(batch))
    else:
        context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
        with context.Pool(processes, initializer=_init_worker, initargs=(tok.to_dict(),)) as pool:
            for batch_ids, n in pool.imap(_encode_with_count, batches()):
                yield batch_ids
                bar.update(n)
    bar.close()


def _encode_with_count(docs: Sequence[str]) -> tuple[np.ndarray, int]:
    return _encode_batch(docs), len(docs)
