"""Figures of modules M0-M1: the LLM lifecycle, next-token prediction, training curves, sampling.

The plot functions take plain data (a `History`, a tensor of counts, a list
of losses) and return a matplotlib Figure, or draw into the `ax` they are
given. `DECK_FIGURES` at the end lists what slides/01_language_modeling.md
shows, each figure as a recipe from the deck's data (`Sources`).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .. import results
from ..ngram import Rung
from ..optim import lr_at
from ..train import History
from .sources import Sources
from .style import LARGE, NORMAL, SMALL, axes, styled, visible


@styled
def plot_history(history: History, baselines: dict[str, float] | None = None, ax=None, title: str | None = None):
    """Training curves: per-step loss, estimated train/val loss, and reference lines.

    baselines maps a label to a loss drawn as a dashed line, e.g.
    {"uniform guess": math.log(V), "bigram counts": 2.45}.
    """
    fig, ax = axes(ax)
    if history.steps:
        ax.plot(history.steps, history.loss, color="tab:blue", alpha=0.3, lw=1, label="train (per step)")
    ax.plot(history.eval_steps, history.train_loss, "o-", color="tab:blue", label="train (estimate)")
    ax.plot(history.eval_steps, history.val_loss, "o-", color="tab:orange", label="validation")
    for i, (label, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{i + 2}", label=f"{label}: {value:.2f}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title or "Learning to predict the next token")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


class LiveLossPlot:
    """A loss plot that redraws itself in a notebook while `train` runs.

        live = LiveLossPlot(baselines={"bigram": 2.45})
        history = train(model, tr, va, callback=live)
    """

    @styled
    def __init__(self, baselines: dict[str, float] | None = None, title: str | None = None):
        self.baselines, self.title = baselines, title
        self.fig, self.ax = plt.subplots(figsize=(7, 4), layout="constrained")
        plt.close(self.fig)  # drawn by display() below, not by the notebook's auto-show
        self.handle = None

    @styled
    def __call__(self, history: History) -> None:
        from IPython.display import display

        self.ax.clear()
        plot_history(history, self.baselines, ax=self.ax, title=self.title)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)


@styled
def plot_shift_by_one(text: str, ax=None):
    """Inputs and targets of one training window: the targets are the inputs moved left by one."""
    fig, ax = axes(ax, figsize=(max(6, 0.55 * len(text)), 1.9))
    x, y = text[:-1], text[1:]
    for row, (label, chars, color) in enumerate((("input x", x, "#dbe9f6"), ("target y", y, "#fde3c8"))):
        ax.text(-0.7, -row, label, ha="right", va="center", fontsize=NORMAL)
        for i, c in enumerate(chars):
            ax.add_patch(plt.Rectangle((i - 0.45, -row - 0.4), 0.9, 0.8, color=color))
            ax.text(i, -row, visible(c), ha="center", va="center", fontsize=NORMAL, family="monospace")
    for i in range(len(x)):
        ax.annotate("", xy=(i, -0.6), xytext=(i, -0.4), arrowprops=dict(arrowstyle="->", color="gray"))
    ax.set_xlim(-3.5, len(x))
    ax.set_ylim(-1.6, 0.6)
    ax.axis("off")
    ax.set_title("Each position predicts the token that comes next")
    return fig


@styled
def plot_bigram_counts(counts: torch.Tensor, labels: Sequence[str], top: int = 20, ax=None):
    """Heat map of bigram counts among the `top` most frequent tokens."""
    counts = torch.as_tensor(counts)
    keep = counts.sum(dim=1).argsort(descending=True)[:top].sort().values
    sub = counts[keep][:, keep].double()
    fig, ax = axes(ax, figsize=(6.5, 5.5))
    im = ax.imshow(torch.log1p(sub).numpy(), cmap="Blues")
    names = [visible(labels[i]) for i in keep.tolist()]
    ax.set_xticks(range(len(keep)), names, family="monospace")
    ax.set_yticks(range(len(keep)), names, family="monospace")
    ax.set_xlabel("next token b")
    ax.set_ylabel("current token a")
    ax.set_title("Bigram counts, log(1 + count(a, b))")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


@styled
def plot_temperatures(logits: torch.Tensor, labels: Sequence[str], temperatures=(0.5, 1.0, 2.0), top: int = 12):
    """The next-token distribution softmax(logits / T) at several temperatures."""
    logits = torch.as_tensor(logits).float()
    order = logits.argsort(descending=True)[:top]
    names = [visible(labels[i]) for i in order.tolist()]
    fig, axs = plt.subplots(1, len(temperatures), figsize=(3.6 * len(temperatures), 3.2),
                            sharey=True, layout="constrained")
    for ax, t in zip(np.atleast_1d(axs), temperatures):
        probs = torch.softmax(logits / t, dim=-1)[order]
        ax.bar(range(len(order)), probs.numpy(), color="tab:purple")
        ax.set_xticks(range(len(order)), names, family="monospace")
        ax.set_title(f"temperature {t}")
    np.atleast_1d(axs)[0].set_ylabel("probability")
    fig.suptitle("Lower temperature sharpens the distribution, higher flattens it")
    return fig


@styled
def plot_lr_schedule(max_lr: float, warmup_steps: int, decay_steps: int, min_lr_ratio: float = 0.1, ax=None):
    """The learning-rate schedule: linear warmup, cosine decay to a floor."""
    fig, ax = axes(ax, figsize=(6, 3))
    steps = np.arange(int(decay_steps * 1.1))
    ax.plot(steps, [lr_at(s, max_lr, warmup_steps, decay_steps, min_lr_ratio) for s in steps])
    ax.axvline(warmup_steps, ls=":", color="gray")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warmup for {warmup_steps} steps, cosine decay to {min_lr_ratio:.0%} of the peak")
    ax.grid(alpha=0.3)
    return fig


@styled
def plot_perplexity(max_loss: float = 5.0, marks: Sequence[int] = (2, 10, 84), ax=None):
    """Perplexity = exp(loss): the effective number of equally likely choices.

    `marks` are numbers of choices to point out, e.g. the vocabulary size.
    """
    fig, ax = axes(ax, figsize=(5, 3))
    loss = np.linspace(0, max_loss, 200)
    ax.plot(loss, np.exp(loss))
    ax.set_xlabel("loss (nats per token)")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title("Perplexity is exp(loss)")
    ax.grid(alpha=0.3, which="both")
    for v in marks:
        ax.annotate(f"{v} choices", (math.log(v), v), textcoords="offset points", xytext=(5, -12))
        ax.plot(math.log(v), v, "o", color="tab:red")
    return fig


# (stage, data, objective, compute) of each stage, as module M0 quotes them
LLM_LIFECYCLE = (
    ("Pretraining", "raw web text,\ntrillions of words",
     "predict the next token\n(cross-entropy)", "1000s of GPUs\nfor months"),
    ("Supervised\nfine-tuning", "~10-100K\ndemonstrations",
     "the same loss,\non the answers only", "1-100 GPUs\nfor days"),
    ("Reward\nmodeling", "100K-1M\ncomparisons",
     "rank the preferred\nanswer higher", "1-100 GPUs\nfor days"),
    ("RLHF", "~10-100K prompts",
     "maximise the reward,\nstay near the SFT model", "1-100 GPUs\nfor days"),
)


@styled
def plot_llm_lifecycle(stages=LLM_LIFECYCLE, ax=None):
    """The LLM lifecycle as a pipeline: one box per stage with its data, objective and compute."""
    n = len(stages)
    fig, ax = axes(ax, figsize=(2.9 * n, 4.3))
    width, gap, cell = 2.8, 0.45, 1.0
    rows = (("data", 2.55, "#dbe9f6"), ("objective", 1.5, "#fde3c8"), ("compute", 0.45, "#e2f0d9"))
    for i, (stage, *texts) in enumerate(stages):
        x = i * (width + gap)
        ax.add_patch(plt.Rectangle((x, -0.15), width, 4.05, facecolor="white", edgecolor="0.3", lw=1.5))
        ax.text(x + width / 2, 3.45, stage, ha="center", va="center", fontsize=LARGE, weight="bold")
        for (label, y, color), text in zip(rows, texts):
            ax.add_patch(plt.Rectangle((x + 0.08, y - cell / 2), width - 0.16, cell * 0.95, facecolor=color, lw=0))
            ax.text(x + 0.14, y + 0.33, label, ha="left", va="center", fontsize=SMALL, color="0.4")
            ax.text(x + width / 2, y - 0.08, text, ha="center", va="center", fontsize=NORMAL, linespacing=1.25)
        if i < n - 1:
            ax.annotate("", xy=(x + width + gap - 0.03, 1.9), xytext=(x + width + 0.03, 1.9),
                        arrowprops=dict(arrowstyle="-|>", lw=2, color="0.3"))
    ax.set_xlim(-0.05, n * (width + gap) - gap + 0.05)
    ax.set_ylim(-0.2, 3.95)
    ax.axis("off")
    return fig


@styled
def plot_token_losses(text: str, losses: Sequence[float], baseline: float | None = None, ax=None):
    """Cross-entropy token by token: the bar over text[i + 1] is -log P(text[i + 1] | context).

    losses[i] is the loss of predicting text[i + 1], so len(losses) == len(text) - 1.
    The mean of the bars is the loss a training run reports; `baseline` (e.g.
    log V, the loss of a uniform guess) is drawn as a dashed line.
    """
    losses = np.asarray(losses, dtype=float)
    if len(losses) != len(text) - 1:
        raise ValueError(f"need one loss per predicted token: {len(text) - 1}, got {len(losses)}")
    fig, ax = axes(ax, figsize=(max(6, 0.45 * len(losses)), 3.4))
    ax.bar(range(len(losses)), losses, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(losses)), [visible(c) for c in text[1:]], family="monospace")
    ax.axhline(losses.mean(), color="tab:red", lw=1.5, label=f"mean = loss = {losses.mean():.2f}")
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", lw=1, label=f"uniform guess = {baseline:.2f}")
    ax.set_xlabel("target token")
    ax.set_ylabel("-log P(target)  (nats)")
    ax.set_title("Cross-entropy: how surprised the model is by each next token")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3, axis="y")
    return fig


@styled
def plot_autoregressive_steps(prompt: str, steps: Sequence[tuple[Sequence[tuple[str, float]], str]], ax=None):
    """The autoregressive loop, one row per step.

    Each step is (top, picked): the model's most likely next tokens with their
    probabilities, and the token that was sampled and appended to the context.
    """
    right = len(prompt) + len(steps) + 0.8  # where the next-token distribution is written
    text_width = 10.8  # room for the distribution and the pick, in character-box units
    fig, ax = axes(ax, figsize=(0.45 * (right + text_width + 0.6), 0.62 * len(steps) + 0.9))
    context = prompt
    for row, (top, picked) in enumerate(steps):
        y = -row
        for i, c in enumerate(context):
            fresh = i >= len(prompt)
            ax.add_patch(plt.Rectangle((i - 0.45, y - 0.38), 0.9, 0.76, color="#fde3c8" if fresh else "#dbe9f6"))
            ax.text(i, y, visible(c), ha="center", va="center", fontsize=NORMAL, family="monospace")
        ax.annotate("", xy=(right - 0.2, y), xytext=(len(context) - 0.3, y),
                    arrowprops=dict(arrowstyle="->", color="gray"))
        dist = "  ".join(f"{visible(t)} {p:.2f}" for t, p in top)
        ax.text(right, y, f"P(next): {dist}  ->  picked '{visible(picked)}'", va="center",
                fontsize=NORMAL, family="monospace")
        context += picked
    ax.set_xlim(-0.6, right + text_width)
    ax.set_ylim(-len(steps) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title("Generate: predict, pick one token, append it, repeat", loc="left")
    return fig


# ----------------------------------------------------------------------------
@styled
def plot_ngram_ladder(rungs: Sequence[Rung], gpts: dict[str, tuple[float, int]] | None = None, axes=None):
    """Validation loss against n for each smoothing (left) and what each model stores (right).

    rungs: `minillm.ngram.ladder`'s results. gpts maps a label naming the run to
    (validation loss, parameters), drawn as horizontal lines on both panels.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", width_ratios=(3, 2))
    left, right = axes
    fig = left.figure
    styles = {"add-k": ("o-", "tab:blue"), "kneser-ney": ("s-", "tab:green")}
    names = {"add-k": "n-gram, add-k", "kneser-ney": "n-gram, Kneser-Ney"}
    for smoothing, (marker, color) in styles.items():
        rows = sorted((r for r in rungs if r.smoothing == smoothing), key=lambda r: r.n)
        if not rows:
            continue
        best = min(rows, key=lambda r: r.val_loss)
        left.plot([r.n for r in rows], [r.val_loss for r in rows], marker, color=color, label=names[smoothing])
        above = smoothing == "add-k"  # add-k's best sits above Kneser-Ney's: label it above, the other below
        left.annotate(f"{best.val_loss:.2f}", (best.n, best.val_loss), textcoords="offset points",
                      xytext=(0, 9 if above else -9), va="bottom" if above else "top", ha="center", color=color,
                      fontweight="bold")
    kn = sorted((r for r in rungs if r.smoothing == "kneser-ney"), key=lambda r: r.n) or sorted(rungs, key=lambda r: r.n)
    right.plot([r.n for r in kn], [r.table_size for r in kn], "s-", color="dimgray", label="n-gram: counts stored")
    for i, (label, (loss, params)) in enumerate((gpts or {}).items()):
        color = f"C{i + 3}"
        left.axhline(loss, ls="--", lw=1.5, color=color, label=f"{label}: {loss:.2f}")
        right.axhline(params, ls="--", lw=1.5, color=color)
    left.set_xlabel("n (history of n - 1 characters)")
    left.set_ylabel("validation loss (nats per token)")
    left.set_title("Longer histories help, until sparsity wins")
    left.set_xticks(sorted({r.n for r in rungs}))
    left.grid(alpha=0.3)
    left.legend(fontsize="small", loc="upper right")
    right.set_yscale("log")
    right.set_xlabel("n")
    right.set_ylabel("numbers stored")
    right.set_title("Counts grow with n; a GPT's\nparameters don't (dashed)")
    right.set_xticks(sorted({r.n for r in kn}))
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize="small", loc="upper left")
    return fig


@styled
def plot_loss_vs_steps(steps: Sequence[int], losses: Sequence[float], lines: dict[str, float], title: str, ax=None):
    """A long run's exact validation loss at each step against reference losses; marks where it crosses each.

    steps, losses: e.g. a result file of benchmarks/ngram_crossover.py; lines: label -> loss, e.g. the
    best n-gram models.
    """
    fig, ax = axes(ax, figsize=(8, 4.2))
    steps, losses = zip(*[(s, v) for s, v in zip(steps, losses) if s > 0])  # step 0 (ln V) would squash the rest
    ax.plot(steps, losses, "o-", color="tab:orange", label="GPT: exact validation loss")
    for i, (label, value) in enumerate(lines.items()):
        color = f"C{i + 2}"
        ax.axhline(value, ls="--", lw=1.5, color=color, label=f"{label}: {value:.2f}")
        # mark a crossing inside the plotted range (not a line the first point is already below)
        crossed = next((s for s, before, v in zip(steps[1:], losses, losses[1:]) if v < value <= before), None)
        if crossed:
            ax.annotate(f"below at step {crossed:,}", (crossed, value), textcoords="offset points", xytext=(8, 10),
                        color=color)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


# ----------------------------------------------------------------------------
# the deck's figures: slides/01_language_modeling.md shows figures/<name>.png

# Text the figures show; the test corpus in tests/test_slides.py contains them.
SHIFT_TEXT = "To be, or not"
LOSS_TEXT = "But soft, what light"
PROMPT = "To b"  # autoregressive_steps.png starts from this
TEMPERATURE_CONTEXT = "t"  # temperatures.png: the distribution of the character after this one


def deck_token_losses(src: Sources) -> Figure:
    ids = torch.tensor(src.char_tokenizer.encode(LOSS_TEXT))
    losses = -src.bigram.probs[ids[:-1], ids[1:]].log()  # -log P(next | current), one per target
    return plot_token_losses(LOSS_TEXT, losses.tolist(), baseline=math.log(src.char_tokenizer.vocab_size))


def deck_training_curve(src: Sources) -> Figure:
    """The tiny GPT of `Sources.tiny_gpt` against the uniform and bigram baselines."""
    model, history = src.tiny_gpt
    baselines = {"uniform guess, log V": math.log(src.char_tokenizer.vocab_size),
                 "bigram counts": src.bigram.loss(src.val_ids)}
    return plot_history(history, baselines,
                        title=f"A {model.num_params() / 1e3:.0f}K-parameter GPT, {src.train_steps} steps on a CPU")


def run_label(r: results.Result) -> str:
    """'gpu preset, 5,000 steps (H200)': which model and which run a measured line comes from."""
    device = r.hardware.removeprefix("NVIDIA ").split(" (")[0]
    return f"{r.values['preset']} preset, {r.values['steps']:,} steps ({device})"


def preset_runs(src: Sources) -> dict[str, tuple[float, int]]:
    """The GPT presets' measured validation losses and sizes, from the committed result files."""
    runs = {}
    for name in ("cpu_preset", "ngram_crossover_cpu", "gpu_preset"):
        v = src.result(name).values
        runs[run_label(src.result(name))] = (v["val_loss"], v["params"])
    return runs


def deck_ngram_ladder(src: Sources) -> Figure:
    return plot_ngram_ladder(src.ngram_ladder, gpts=preset_runs(src))


def deck_crossover(src: Sources) -> Figure:
    """The CPU preset trained 10,000 steps (a committed result) against the bigram and the best n-grams."""
    r = src.result("ngram_crossover_cpu")
    v = r.values
    lines = {"bigram counts": src.bigram.loss(src.val_ids),
             f"{v['best_addk_n']}-gram, add-k": v["best_addk_loss"],
             f"{v['best_kn_n']}-gram, Kneser-Ney": v["best_kn_loss"]}
    return plot_loss_vs_steps(v["curve_steps"], v["curve_val_losses"], lines, title=f"The CPU preset ({v['params'] / 1e6:.2f}M parameters), "
                                                  f"{v['steps']:,} steps")


def deck_autoregressive_steps(src: Sources, n_steps: int = 4, seed: int = 3) -> Figure:
    """Sample from the bigram model one character at a time, recording each step's top choices."""
    generator = torch.Generator().manual_seed(seed)
    chars, probs = src.char_tokenizer.chars, src.bigram.probs.float()
    last, steps = src.char_tokenizer.encode(PROMPT)[-1], []
    for _ in range(n_steps):
        p = probs[last]
        top = p.topk(3)
        picked = torch.multinomial(p, 1, generator=generator).item()
        steps.append(([(chars[i], v) for v, i in zip(top.values.tolist(), top.indices.tolist())], chars[picked]))
        last = picked
    return plot_autoregressive_steps(PROMPT, steps)


def deck_temperatures(src: Sources) -> Figure:
    logits = src.bigram.probs[src.char_tokenizer.stoi[TEMPERATURE_CONTEXT]].log()  # log-probs are logits
    return plot_temperatures(logits, src.char_tokenizer.chars, temperatures=(0.5, 1.0, 2.0), top=10)


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {
    "llm_lifecycle": lambda src: plot_llm_lifecycle(),
    "shift_by_one": lambda src: plot_shift_by_one(SHIFT_TEXT),
    "token_losses": deck_token_losses,
    "bigram_counts": lambda src: plot_bigram_counts(src.bigram_counts, src.char_tokenizer.chars, top=20),
    "training_curve": deck_training_curve,
    "ngram_ladder": deck_ngram_ladder,
    "crossover": deck_crossover,
    "perplexity": lambda src: plot_perplexity(),
    "autoregressive_steps": deck_autoregressive_steps,
    "temperatures": deck_temperatures,
}
