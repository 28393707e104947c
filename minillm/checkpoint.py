"""Checkpoints: everything needed to resume training exactly, or to sample.

A checkpoint is one `torch.save` file holding the model weights and config,
the optimizer state, the step reached, the training settings, every random
number generator state that training uses, the tokenizer, a fingerprint of the
training data, and the loss history. Written to a path, it is written
atomically (temporary file, then rename), so an interrupted save never leaves
a half-written checkpoint behind. `save` and `load` also take an open binary
file (`io.BytesIO()` checkpoints into memory); that write is not atomic.

Subtle: `load` puts every tensor on the CPU by default. The random number
generator states must stay CPU byte tensors (`torch.set_rng_state` takes
nothing else), and `load_state_dict` copies weights and optimizer moments
onto whatever device the model is on.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import BinaryIO

import torch

from .errors import CheckpointError, ConfigError
from .io import atomic_write
from .model import GPT, GPTConfig
from .tokenizer import Tokenizer, tokenizer_from_dict

FORMAT = "minillm-checkpoint-v1"

File = str | os.PathLike | BinaryIO


def save(file: File, state: dict) -> File:
    """Write `state` (plain dicts, numbers, strings, tensors) to a path (atomically) or a binary file."""
    if hasattr(file, "write"):
        torch.save({"format": FORMAT, **state}, file)
        return file
    path = Path(file)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the checkpoint a file name, e.g. {path / 'ckpt.pt'}")
    with atomic_write(path, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)
    return path


def load(file: File, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by `save`, with a clear error when it can't be used."""
    name = getattr(file, "name", "the checkpoint file") if hasattr(file, "read") else Path(file)
    if not hasattr(file, "read") and not Path(file).is_file():
        raise CheckpointError(f"no checkpoint at {name}; train one first with `python -m minillm train`, "
                              "or check the path")
    try:
        state = torch.load(file, map_location=map_location, weights_only=True)
    except PermissionError:
        raise CheckpointError(f"{name} can't be read: permission denied") from None
    except pickle.UnpicklingError:  # subtle: unpickling arbitrary objects can run code, so torch refuses them
        raise CheckpointError(f"{name} is corrupted, or holds Python objects besides tensors and plain data, "
                              "which minillm does not load (unpickling them could run any code)") from None
    except Exception as e:  # a torn or damaged file fails in many places: zip, pickle, struct, storage sizes
        raise CheckpointError(f"{name} is truncated or corrupted and cannot be read ({type(e).__name__}); "
                              "delete it and train again, or use an earlier checkpoint") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name} is not a minillm checkpoint (expected format {FORMAT!r})")
    return state


def check_config(state: dict, config: GPTConfig, path: str | os.PathLike = "the checkpoint") -> None:
    """Raise if the checkpoint was trained with a different model config."""
    saved = {**GPTConfig().to_dict(), **state["model_config"]}  # settings added since it was saved: defaults
    diffs = [f"{k}={saved.get(k)!r} (model has {v!r})" for k, v in config.to_dict().items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"{path} was saved from another model config: {', '.join(diffs)}. "
                              "Build the model from the checkpoint with minillm.checkpoint.load_model(path), "
                              "or start a fresh run in another directory")


def fingerprint(*arrays: torch.Tensor) -> str:
    """A short hash of token-id tensors: equal ids give equal fingerprints, whatever their int dtype."""
    h = hashlib.sha256()
    for ids in arrays:
        h.update(len(ids).to_bytes(8, "little"))
        for chunk in ids.reshape(-1).split(1 << 20):  # int64 a million ids at a time
            h.update(chunk.to("cpu", torch.int64).numpy().tobytes())
    return h.hexdigest()[:16]


def load_model(file: File, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer | None]:
    """Rebuild the trained model (in eval mode) and its tokenizer from a checkpoint."""
    state = load(file)
    try:
        config = GPTConfig.from_dict(state["model_config"])
    except ConfigError as e:
        raise CheckpointError(f"the checkpoint holds a model config this version of minillm can't build: {e}") \
            from None
    model = GPT(config)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    tokenizer = tokenizer_from_dict(state["tokenizer"]) if state.get("tokenizer") else None
    return model, tokenizer
