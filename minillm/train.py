"""The pretraining loop, as functions you can import and call from a notebook.

One step of training:
    1. draw a batch of random windows (inputs x, targets y = x shifted by one)
    2. forward: logits and the mean cross-entropy of predicting y from x
    3. backward: gradients (accumulated over `grad_accum_steps` micro-batches)
    4. clip the global gradient norm, set this step's learning rate, AdamW step

Every `eval_interval` steps the loss is estimated on fixed batches of train
and validation data (the same batches each time, so curves are smooth), and a
checkpoint is written if `checkpoint_path` is set. `train(..., resume=True)`
continues from that checkpoint exactly where it stopped: same weights,
optimizer moments, schedule step and random number streams, so N steps in one
go and N/2 + resume + N/2 give the same model.

Simplifications: one process, one device (module M8 covers parallelism), no
`torch.compile`. On CUDA the forward pass runs under bf16 autocast (fp16 with a
gradient scaler on GPUs without bf16); on CPU and Apple's MPS in fp32.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import checkpoint
from . import config as _config
from .data import get_batch
from .errors import ConfigError
from .model import GPT, GPTConfig
from .optim import AdamW, clip_grad_norm, lr_at, param_groups
from .tokenizer import Tokenizer


@dataclass
class TrainConfig:
    max_iters: int = 2000            # optimizer steps in the whole run
    batch_size: int = 12             # sequences per micro-batch
    grad_accum_steps: int = 1        # micro-batches per step: effective batch = batch_size * this
    learning_rate: float = 1e-3      # peak LR, reached after warmup
    warmup_iters: int = 100          # linear warmup from ~0: avoids large, noisy early updates
    lr_decay_iters: int | None = None  # cosine decay ends here; None means max_iters
    min_lr_ratio: float = 0.1        # decay to 10% of the peak, as GPT-3 and LLaMA did
    weight_decay: float = 0.1        # decoupled decay of weight matrices (not biases/norms/embeddings)
    beta1: float = 0.9               # AdamW's gradient average
    beta2: float = 0.99              # AdamW's squared-gradient average; 0.99 suits small, short runs
    grad_clip: float = 1.0           # clip the global gradient norm to this; 0 turns it off
    eval_interval: int = 250         # estimate train/val loss (and checkpoint) every this many steps
    eval_iters: int = 50             # batches per loss estimate
    seed: int = 1337                 # seeds batches and dropout: same seed, same numbers
    device: str = "auto"             # "auto" picks cuda, then mps, then cpu
    dtype: str = "auto"              # "auto", "float32", "bfloat16" or "float16" (autocast dtype)
    checkpoint_path: str | None = None  # where to save (and resume from); None saves nothing

    def __post_init__(self):
        for name in ("max_iters", "batch_size", "grad_accum_steps", "eval_interval", "eval_iters"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of {sorted(DTYPES)}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _config.from_dict(cls, d)


DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Ready-made runs. "cpu" is the classic baby GPT on characters (a few minutes on
# a laptop); "gpu" is the larger model that needs a GPU (a few minutes on an A100).
PRESETS: dict[str, tuple[GPTConfig, TrainConfig]] = {
    "cpu": (GPTConfig(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
            TrainConfig(max_iters=2000, batch_size=12, learning_rate=2e-3, warmup_iters=100,
                        eval_interval=250, eval_iters=50)),
    "gpu": (GPTConfig(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
            TrainConfig(max_iters=5000, batch_size=64, learning_rate=1e-3, warmup_iters=100,
                        eval_interval=500, eval_iters=200)),
}


@dataclass
class History:
    """What happened during training, ready to plot."""

    steps: list[int] = field(default_factory=list)        # every optimizer step
    loss: list[float] = field(default_factory=list)       # that step's training loss
    lr: list[float] = field(default_factory=list)         # that step's learning rate
    eval_steps: list[int] = field(default_factory=list)   # steps at which losses were estimated
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_per_sec: float = 0.0                           # training throughput, evals excluded


def set_seed(seed: int) -> None:
    """Seed PyTorch's global generators (CPU and all GPUs)."""
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """"auto" -> the best available of cuda, mps, cpu; otherwise check the name is usable."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here; "
                          "use device='auto' or 'cpu' (on Colab: Runtime > Change runtime type > GPU)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for, but Apple's Metal backend is not available; use 'cpu'")
    return device


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype: bf16 on CUDA GPUs that have it, fp16 on older ones, else fp32."""
    if name != "auto":
        dtype = DTYPES[name]
        if dtype == torch.float16 and device.type != "cuda":
            raise ConfigError("float16 training needs a CUDA GPU; use dtype='float32' or 'bfloat16' here")
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision for the forward pass; a no-op in fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.no_grad()
def estimate_loss(model: GPT, data: torch.Tensor, batch_size: int, iters: int, seed: int = 0,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> float:
    """Mean loss over `iters` random batches; the same batches for the same seed."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    total = 0.0
    for _ in range(iters):
        x, y = get_batch(data, batch_size, model.config.block_size, generator, device)
        with autocast(device, dtype):
            _, loss = model(x, y)
        total += loss.item()
    model.train(was_training)
    return total / iters


def _rng_state(batch_gen: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "batches": batch_gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict, batch_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    batch_gen.set_state(state["batches"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(model: GPT, train_data: torch.Tensor, val_data: torch.Tensor, config: TrainConfig | None = None,
          *, tokenizer: Tokenizer | None = None, resume: bool = False,
          callback: Callable[[History], None] | None = None, progress: bool = True,
          **overrides) -> History:
    """Train `model` on 1-D tensors of token ids; returns the loss history.

    Settings come from `config` (default `TrainConfig()`) with keyword
    `overrides`, e.g. `train(model, tr, va, max_iters=200)`. With `resume=True`
    and an existing `checkpoint_path`, training continues from it. `callback`
    is called with the history after every evaluation (e.g. a live plot). The
    tokenizer, if given, is stored in checkpoints so `sample` can decode.
    The model is left in eval mode.
    """
    cfg = _config.replace(config or TrainConfig(), **overrides)
    device = pick_device(cfg.device)
    dtype = pick_dtype(cfg.dtype, device)
    decay_iters = cfg.lr_decay_iters or cfg.max_iters
    block_size = model.config.block_size
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data.ndim != 1 or len(data) <= block_size:
            raise ConfigError(f"{name} must be a 1-D tensor of more than block_size={block_size} "
                              f"token ids, got shape {tuple(data.shape)}")
    if tokenizer is not None and tokenizer.vocab_size != model.config.vocab_size:
        raise ConfigError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model's vocab_size is "
                          f"{model.config.vocab_size}; build GPTConfig(vocab_size=tokenizer.vocab_size, ...)")

    model.to(device)
    optimizer = AdamW(param_groups(model, cfg.weight_decay), lr=cfg.learning_rate,
                      betas=(cfg.beta1, cfg.beta2))
    scaler = torch.amp.GradScaler(device.type, enabled=(dtype == torch.float16))
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    history, start = History(), 0

    ckpt_path = Path(cfg.checkpoint_path) if cfg.checkpoint_path else None
    if resume:
        if ckpt_path is None:
            raise ConfigError("resume=True needs checkpoint_path: the checkpoint to continue from")
        state = checkpoint.load(ckpt_path, map_location=device)
        checkpoint.check_config(state, model.config, ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        _restore_rng(state["rng"], batch_gen)
        history = History(**state["history"])
        start = state["step"]
    else:
        torch.manual_seed(cfg.seed)  # dropout masks

    def evaluate(step: int) -> None:
        history.eval_steps.append(step)
        for split, data, losses in (("train", train_data, history.train_loss), ("val", val_data, history.val_loss)):
            losses.append(estimate_loss(model, data, cfg.batch_size, cfg.eval_iters, seed=cfg.seed + 1,
                                        device=device, dtype=dtype))
        if ckpt_path is not None:
            checkpoint.save(ckpt_path, {
                "model_config": model.config.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(), "step": step,
                "train_config": asdict(cfg), "rng": _rng_state(batch_gen), "history": asdict(history),
                "tokenizer": tokenizer.to_dict() if tokenizer is not None else None})
        if callback is not None:
            callback(history)

    model.train()
    if start == 0:
        evaluate(0)
    tokens_per_step = cfg.batch_size * block_size * cfg.grad_accum_steps
    train_time, bar = 0.0, tqdm(total=cfg.max_iters, initial=start, desc="training", unit="step",
                                disable=not progress)
    for step in range(start, cfg.max_iters):
        t0 = time.perf_counter()
        lr = lr_at(step, cfg.learning_rate, cfg.warmup_iters, decay_iters, cfg.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss_sum = 0.0
        for _ in range(cfg.grad_accum_steps):
            x, y = get_batch(train_data, cfg.batch_size, block_size, batch_gen, device)
            with autocast(device, dtype):
                _, loss = model(x, y)
            scaler.scale(loss / cfg.grad_accum_steps).backward()
            loss_sum += loss.item()
        if cfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            clip_grad_norm(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        train_time += time.perf_counter() - t0

        history.steps.append(step + 1)
        history.loss.append(loss_sum / cfg.grad_accum_steps)
        history.lr.append(lr)
        history.tokens_per_sec = (step + 1 - start) * tokens_per_step / train_time
        bar.update()
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", tok_s=f"{history.tokens_per_sec:,.0f}")
        if (step + 1) % cfg.eval_interval == 0 or step + 1 == cfg.max_iters:
            evaluate(step + 1)
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}",
                            tok_s=f"{history.tokens_per_sec:,.0f}")
    bar.close()
    model.eval()
    return history
