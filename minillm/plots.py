"""The course's figures, drawn from minillm's own code.

Notebooks call these to show results; `scripts/build_slides.py` calls the
same functions to regenerate the decks' figures on every build, so a slide
never shows a picture the package can no longer produce. Each function returns
a matplotlib `Figure` (or draws into the `ax` it is given).
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .optim import lr_at
from .train import History


def _axes(ax, figsize=(7, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_history(history: History, baselines: dict[str, float] | None = None, ax=None, title: str | None = None):
    """Training curves: per-step loss, estimated train/val loss, and reference lines.

    baselines maps a label to a loss drawn as a dashed line, e.g.
    {"uniform guess": math.log(V), "bigram counts": 2.45}.
    """
    fig, ax = _axes(ax)
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

    def __init__(self, baselines: dict[str, float] | None = None, title: str | None = None):
        self.baselines, self.title = baselines, title
        self.fig, self.ax = plt.subplots(figsize=(7, 4), layout="constrained")
        plt.close(self.fig)  # drawn by display() below, not by the notebook's auto-show
        self.handle = None

    def __call__(self, history: History) -> None:
        from IPython.display import display

        self.ax.clear()
        plot_history(history, self.baselines, ax=self.ax, title=self.title)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)


def plot_shift_by_one(text: str, ax=None):
    """Inputs and targets of one training window: the targets are the inputs moved left by one."""
    fig, ax = _axes(ax, figsize=(max(6, 0.55 * len(text)), 1.9))
    x, y = text[:-1], text[1:]
    for row, (label, chars, color) in enumerate((("input x", x, "#dbe9f6"), ("target y", y, "#fde3c8"))):
        ax.text(-0.7, -row, label, ha="right", va="center", fontsize=11)
        for i, c in enumerate(chars):
            ax.add_patch(plt.Rectangle((i - 0.45, -row - 0.4), 0.9, 0.8, color=color))
            ax.text(i, -row, repr(c)[1:-1] if c in "\n\t " else c, ha="center", va="center",
                    fontsize=12, family="monospace")
    for i in range(len(x)):
        ax.annotate("", xy=(i, -0.6), xytext=(i, -0.4), arrowprops=dict(arrowstyle="->", color="gray"))
    ax.set_xlim(-3.5, len(x))
    ax.set_ylim(-1.6, 0.6)
    ax.axis("off")
    ax.set_title("Each position predicts the token that comes next")
    return fig


def plot_bigram_counts(counts: torch.Tensor, labels: Sequence[str], top: int = 20, ax=None):
    """Heat map of bigram counts among the `top` most frequent tokens."""
    counts = torch.as_tensor(counts)
    keep = counts.sum(dim=1).argsort(descending=True)[:top].sort().values
    sub = counts[keep][:, keep].double()
    fig, ax = _axes(ax, figsize=(6.5, 5.5))
    im = ax.imshow(torch.log1p(sub).numpy(), cmap="Blues")
    names = [repr(labels[i])[1:-1] if labels[i] in "\n " else labels[i] for i in keep.tolist()]
    ax.set_xticks(range(len(keep)), names, family="monospace")
    ax.set_yticks(range(len(keep)), names, family="monospace")
    ax.set_xlabel("next token b")
    ax.set_ylabel("current token a")
    ax.set_title("Bigram counts, log(1 + count(a, b))")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_temperatures(logits: torch.Tensor, labels: Sequence[str], temperatures=(0.5, 1.0, 2.0), top: int = 12):
    """The next-token distribution softmax(logits / T) at several temperatures."""
    logits = torch.as_tensor(logits).float()
    order = logits.argsort(descending=True)[:top]
    names = [repr(labels[i])[1:-1] if labels[i] in "\n " else labels[i] for i in order.tolist()]
    fig, axes = plt.subplots(1, len(temperatures), figsize=(3.6 * len(temperatures), 3.2),
                             sharey=True, layout="constrained")
    for ax, t in zip(np.atleast_1d(axes), temperatures):
        probs = torch.softmax(logits / t, dim=-1)[order]
        ax.bar(range(len(order)), probs.numpy(), color="tab:purple")
        ax.set_xticks(range(len(order)), names, family="monospace")
        ax.set_title(f"temperature {t}")
    np.atleast_1d(axes)[0].set_ylabel("probability")
    fig.suptitle("Lower temperature sharpens the distribution, higher flattens it")
    return fig


def plot_lr_schedule(max_lr: float, warmup_steps: int, decay_steps: int, min_lr_ratio: float = 0.1, ax=None):
    """The learning-rate schedule: linear warmup, cosine decay to a floor."""
    fig, ax = _axes(ax, figsize=(6, 3))
    steps = np.arange(int(decay_steps * 1.1))
    ax.plot(steps, [lr_at(s, max_lr, warmup_steps, decay_steps, min_lr_ratio) for s in steps])
    ax.axvline(warmup_steps, ls=":", color="gray")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warmup for {warmup_steps} steps, cosine decay to {min_lr_ratio:.0%} of the peak")
    ax.grid(alpha=0.3)
    return fig


def plot_perplexity(max_loss: float = 5.0, ax=None):
    """Perplexity = exp(loss): the effective number of equally likely choices."""
    fig, ax = _axes(ax, figsize=(5, 3))
    loss = np.linspace(0, max_loss, 200)
    ax.plot(loss, np.exp(loss))
    ax.set_xlabel("loss (nats per token)")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title("Perplexity is exp(loss)")
    ax.grid(alpha=0.3, which="both")
    for v in (2, 10, 65):
        ax.annotate(f"{v} choices", (math.log(v), v), textcoords="offset points", xytext=(5, -12))
        ax.plot(math.log(v), v, "o", color="tab:red")
    return fig
