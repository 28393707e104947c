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
optimizer moments, schedule and random number streams, so N steps in one go
and N/2 + resume + N/2 give the same model.

What can go wrong, and what the loop does about it:
- The loss becomes nan or inf (too high a learning rate): training stops at
  that step with `TrainingError`, and no checkpoint is written from it.
- Resuming with more steps: the learning-rate schedule of the checkpoint is
  kept (a cosine stretched mid-run would jump the rate), unless this run sets
  `lr_decay_iters` or another schedule setting; one line says which.
- Resuming on other data or with another tokenizer: refused, with the reason.
- Two trainings into one checkpoint: the second is refused (`exclusive`).
- A model far too big for the CPU: one line after the first step says how
  long the run would take.

Simplifications: one process, one device (module M8 covers parallelism), no
`torch.compile`. On CUDA the forward pass runs under bf16 autocast (fp16 with a
gradient scaler on GPUs without bf16); on CPU and Apple's MPS in fp32. On the
CPU the number of threads is chosen by `minillm.device.cpu_threads`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from . import checkpoint
from . import config as _config
from .data import get_batch
from .device import DTYPES, CpuMeter, autocast, cpu_threads, pick_device, pick_dtype
from .errors import CheckpointError, ConfigError, TrainingError
from .io import exclusive
from .model import GPT, GPTConfig
from .optim import AdamW, clip_grad_norm, lr_at, param_groups
from .tokenizer import Tokenizer, tokenizer_from_dict


@dataclass
class TrainConfig:
    max_iters: int = 2000            # optimizer steps in the whole run
    batch_size: int = 12             # sequences per micro-batch
    grad_accum_steps: int = 1        # micro-batches per step: effective batch = batch_size * this
    learning_rate: float = 1e-3      # peak LR, reached after warmup
    warmup_iters: int = 100          # linear warmup from ~0: avoids large, noisy early updates
    lr_decay_iters: int | None = None  # cosine decay ends here; None: max_iters (on resume: the checkpoint's)
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
    threads: int | None = None       # CPU threads; None leaves the cores other programs use (minillm.device)
    checkpoint_path: str | None = None  # where to save (and resume from); None saves nothing

    def __post_init__(self):
        if isinstance(self.checkpoint_path, os.PathLike):
            self.checkpoint_path = os.fspath(self.checkpoint_path)
        _config.check_types(self)
        for name in ("max_iters", "batch_size", "grad_accum_steps", "eval_interval", "eval_iters",
                     "lr_decay_iters", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("warmup_iters", "weight_decay", "grad_clip", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must lie in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"min_lr_ratio must lie in [0, 1], got {self.min_lr_ratio}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of {sorted(DTYPES)}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _config.from_dict(cls, d)


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


def accumulate_gradients(model: GPT, micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                         scaler: torch.amp.GradScaler | None = None,
                         dtype: torch.dtype = torch.float32) -> float:
    """Forward and backward over k micro-batches; returns their mean loss.

    Each micro-batch's loss is divided by k before `backward`, which adds into
    `.grad`, so k micro-batches of B sequences give the gradients of one batch
    of kB sequences (without dropout) in the memory of one micro-batch.
    """
    k = len(micro_batches)
    total = 0.0
    for x, y in micro_batches:
        with autocast(x.device, dtype):
            _, loss = model(x, y)
        scaled = loss / k
        (scaler.scale(scaled) if scaler is not None else scaled).backward()
        total += loss.item()
    return total / k


def _rng_state(batch_gen: torch.Generator, device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "batches": batch_gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def _restore_rng(state: dict, batch_gen: torch.Generator) -> None:
    """Put back every random stream; the states must be CPU byte tensors (load the checkpoint on the CPU)."""
    torch.set_rng_state(state["torch"])
    batch_gen.set_state(state["batches"])
    if "cuda" in state and torch.cuda.is_available():
        for i, s in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def _resumed_config(cfg: TrainConfig, saved: dict, step: int) -> tuple[TrainConfig, str]:
    """Keep the checkpoint's schedule unless `cfg` changes it; returns the config and a one-line report."""
    saved = {**saved, "lr_decay_iters": saved.get("lr_decay_iters") or saved["max_iters"]}
    if cfg.lr_decay_iters is None:
        cfg = _config.replace(cfg, lr_decay_iters=saved["lr_decay_iters"])
    ignore = {"max_iters", "checkpoint_path", "device", "dtype", "threads"}
    changed = [f"{k} {saved[k]} -> {v}" for k, v in asdict(cfg).items()
               if k in saved and k not in ignore and saved[k] != v]
    kept = (f"peak lr {cfg.learning_rate:g} after {cfg.warmup_iters} warmup steps, cosine decay to "
            f"{cfg.learning_rate * cfg.min_lr_ratio:g} at step {cfg.lr_decay_iters}")
    report = f"resuming at step {step} of {cfg.max_iters}: schedule {kept}"
    if changed:
        report += f"; changed from the checkpoint: {', '.join(changed)}"
    elif cfg.max_iters > cfg.lr_decay_iters:
        report += " (kept from the checkpoint; set lr_decay_iters, --lr-decay-iters, to stretch it)"
    return cfg, report


def _check_same_run(state: dict, tokenizer: Tokenizer | None, data_fingerprint: str, path) -> None:
    """Refuse to resume on other data or with another tokenizer than the checkpoint's."""
    saved_tok = state.get("tokenizer")
    if tokenizer is not None and saved_tok is not None and tokenizer.to_dict() != saved_tok:
        raise CheckpointError(f"{path} was trained with another tokenizer (type {saved_tok.get('type')!r}, other "
                              "ids); resuming with this one would scramble its inputs. Resume with the same "
                              "corpus and tokenizer settings, or start a new run elsewhere")
    saved_data = state.get("data_fingerprint")
    if saved_data is not None and saved_data != data_fingerprint:
        raise CheckpointError(f"{path} was trained on other data (fingerprint {saved_data}, this data "
                              f"{data_fingerprint}); resume with the same corpus, or start a new run "
                              "elsewhere to train on this one")


def slow_run_note(seconds_per_step: float, steps_left: int, device: torch.device,
                  limit_hours: float = 1.0) -> str | None:
    """A warning when a CPU run would take more than `limit_hours`; None otherwise.

    >>> slow_run_note(22.0, 4999, torch.device("cpu"))[:52]
    'note: at 22.0 s per step, the remaining 4,999 steps '
    """
    hours = seconds_per_step * steps_left / 3600
    if device.type != "cpu" or hours <= limit_hours:
        return None
    return (f"note: at {seconds_per_step:.1f} s per step, the remaining {steps_left:,} steps will take about "
            f"{hours:.1f} hours on this CPU. This model is sized for a GPU: on a CPU use the 'cpu' preset, "
            "a smaller model or fewer steps (Ctrl-C stops here)")


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
    block_size = model.config.block_size
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data.ndim != 1 or len(data) <= block_size:
            raise ConfigError(f"{name} must be a 1-D tensor of more than block_size={block_size} "
                              f"token ids, got shape {tuple(data.shape)}")
    if tokenizer is not None and tokenizer.vocab_size != model.config.vocab_size:
        raise ConfigError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model's vocab_size is "
                          f"{model.config.vocab_size}; build GPTConfig(vocab_size=tokenizer.vocab_size, ...)")
    if resume and cfg.checkpoint_path is None:
        raise ConfigError("resume=True needs checkpoint_path: the checkpoint to continue from")
    if device.type == "cpu":
        cpu_threads(cfg.threads or "auto")
    ckpt_path = Path(cfg.checkpoint_path) if cfg.checkpoint_path else None
    with exclusive(ckpt_path) if ckpt_path else contextlib.nullcontext():
        return _train(model, train_data, val_data, cfg, device, dtype, ckpt_path, tokenizer, resume,
                      callback, progress)


def _train(model, train_data, val_data, cfg, device, dtype, ckpt_path, tokenizer, resume, callback,
           progress) -> History:
    block_size = model.config.block_size
    data_fingerprint = checkpoint.fingerprint(train_data, val_data)
    history, start, state = History(), 0, None
    if resume:
        state = checkpoint.load(ckpt_path)  # on the CPU: see minillm/checkpoint.py
        checkpoint.check_config(state, model.config, ckpt_path)
        _check_same_run(state, tokenizer, data_fingerprint, ckpt_path)
        start = state["step"]
        cfg, report = _resumed_config(cfg, state["train_config"], start)
        print(report)
        if tokenizer is None and state.get("tokenizer"):
            tokenizer = tokenizer_from_dict(state["tokenizer"])  # keep it in later saves
    cfg = _config.replace(cfg, lr_decay_iters=cfg.lr_decay_iters or cfg.max_iters)

    model.to(device)
    optimizer = AdamW(param_groups(model, cfg.weight_decay), lr=cfg.learning_rate,
                      betas=(cfg.beta1, cfg.beta2))
    scaler = torch.amp.GradScaler(device.type, enabled=(dtype == torch.float16))
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        saved_dtype = state.get("autocast_dtype", str(dtype))
        if saved_dtype != str(dtype):
            print(f"note: the checkpoint trained in {saved_dtype}, this run uses {dtype}: "
                  "it continues, but not bit for bit as an unbroken run would")
        _restore_rng(state["rng"], batch_gen)
        history = History(**state["history"])
    else:
        torch.manual_seed(cfg.seed)  # dropout masks

    meter = CpuMeter() if device.type == "cpu" and cfg.threads is None else None

    def evaluate(step: int) -> None:
        if meter is not None and (busy := meter.others(min_seconds=1.0)) is not None:
            cpu_threads("auto", busy=busy)  # a neighbour may have started or stopped: see minillm/device.py
        losses = [estimate_loss(model, data, cfg.batch_size, cfg.eval_iters, seed=cfg.seed + 1, device=device,
                                dtype=dtype) for data in (train_data, val_data)]
        if not all(map(math.isfinite, losses)):
            raise TrainingError(f"the estimated loss at step {step} is {losses[0]} (train), {losses[1]} (val): "
                                "the weights are no longer finite, so no checkpoint is written. "
                                + _divergence_advice(cfg))
        history.eval_steps.append(step)
        history.train_loss.append(losses[0])
        history.val_loss.append(losses[1])
        if ckpt_path is not None:
            checkpoint.save(ckpt_path, {
                "model_config": model.config.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(), "step": step,
                "train_config": asdict(cfg), "rng": _rng_state(batch_gen, device), "history": asdict(history),
                "autocast_dtype": str(dtype), "data_fingerprint": data_fingerprint,
                "tokenizer": tokenizer.to_dict() if tokenizer is not None else None})
        if callback is not None:
            callback(history)

    model.train()
    if not history.eval_steps or history.eval_steps[-1] != start:
        evaluate(start)
    if start >= cfg.max_iters:
        print(f"the checkpoint is already at step {start}; raise max_iters to train further")
    tokens_per_step = cfg.batch_size * block_size * cfg.grad_accum_steps
    train_time, bar = 0.0, tqdm(total=cfg.max_iters, initial=start, desc="training", unit="step",
                                disable=not progress)
    for step in range(start, cfg.max_iters):
        t0 = time.perf_counter()
        lr = lr_at(step, cfg.learning_rate, cfg.warmup_iters, cfg.lr_decay_iters, cfg.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = [get_batch(train_data, cfg.batch_size, block_size, batch_gen, device)
                   for _ in range(cfg.grad_accum_steps)]
        loss = accumulate_gradients(model, batches, scaler, dtype)
        if not math.isfinite(loss):
            saved = (f" The last good checkpoint (step {history.eval_steps[-1]}) is untouched: {ckpt_path}."
                     if ckpt_path is not None else "")
            raise TrainingError(f"the training loss became {loss} at step {step + 1} (learning rate {lr:.3g}): "
                                f"training diverged, so it stops here.{saved} " + _divergence_advice(cfg))
        if cfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            clip_grad_norm(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        step_time = time.perf_counter() - t0
        train_time += step_time

        if step == start and (note := slow_run_note(step_time, cfg.max_iters - step - 1, device)):
            tqdm.write(note)
        history.steps.append(step + 1)
        history.loss.append(loss)
        history.lr.append(lr)
        history.tokens_per_sec = (step + 1 - start) * tokens_per_step / train_time
        bar.update()
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{history.tokens_per_sec:,.0f}")
        if (step + 1) % cfg.eval_interval == 0 or step + 1 == cfg.max_iters:
            evaluate(step + 1)
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{history.val_loss[-1]:.3f}",
                            tok_s=f"{history.tokens_per_sec:,.0f}")
    bar.close()
    model.eval()
    return history


def _divergence_advice(cfg: TrainConfig) -> str:
    return (f"Try a lower learning rate (this run: {cfg.learning_rate:g}), a longer warmup "
            f"(warmup_iters: {cfg.warmup_iters})" + ("" if cfg.grad_clip > 0 else ", or gradient clipping "
                                                       "(grad_clip=1.0)"))
