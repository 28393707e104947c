"""Checkpoints: everything needed to resume training exactly, or to sample.

A checkpoint is one `torch.save` file holding the model weights and config,
the optimizer state, the step reached, the training settings, every random
number generator state that training uses, the tokenizer, and the loss history.
It is written atomically (temporary file, then rename), so an interrupted save
never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from .errors import CheckpointError, ConfigError
from .io import atomic_write
from .model import GPT, GPTConfig
from .tokenizer import Tokenizer, tokenizer_from_dict

FORMAT = "minillm-checkpoint-v1"


def save(path: str | os.PathLike, state: dict) -> Path:
    """Write `state` (plain dicts, numbers, strings, tensors) to `path` atomically."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)
    return path


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by `save`, with a clear error when it can't be used."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train one first with `python -m minillm train`, "
                              "or check the path")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path} is truncated or corrupted and cannot be read ({type(e).__name__}); "
                              "delete it and train again, or use an earlier checkpoint") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a minillm checkpoint (expected format {FORMAT!r})")
    return state


def check_config(state: dict, config: GPTConfig, path: str | os.PathLike = "the checkpoint") -> None:
    """Raise if the checkpoint was trained with a different model config."""
    saved = state["model_config"]
    diffs = [f"{k}={saved.get(k)!r} (model has {v!r})" for k, v in config.to_dict().items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"{path} was saved from another model config: {', '.join(diffs)}. "
                              "Build the model from the checkpoint with minillm.checkpoint.load_model(path), "
                              "or start a fresh run in another directory")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer | None]:
    """Rebuild the trained model (in eval mode) and its tokenizer from a checkpoint."""
    state = load(path, map_location=device)
    try:
        config = GPTConfig.from_dict(state["model_config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a model config this version of minillm can't build: {e}") from None
    model = GPT(config).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    tokenizer = tokenizer_from_dict(state["tokenizer"]) if state.get("tokenizer") else None
    return model, tokenizer
