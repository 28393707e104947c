"""Figures of module M3, the Transformer: where attention looks, and what each design choice does to training.

Attention maps come from `minillm.model.attention_maps` as (n_layer, B, nh,
Tq, Tk) weights; these functions draw one (layer, head) pattern, all heads of
a layer, or a widget to pick them. `DECK_FIGURES` at the end lists what
slides/03_transformer.md shows.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import functional
from ..model import attention_maps
from ..train import History
from .sources import Sources
from .style import SMALL, axes, styled, visible


@styled
def plot_validation_curves(histories: dict[str, History], title: str | None = None, ax=None):
    """Validation loss against step for several runs on the same data, token budget and seed (an ablation)."""
    fig, ax = axes(ax, figsize=(8, 4.5))
    for i, (name, history) in enumerate(histories.items()):
        ax.plot(history.eval_steps[1:], history.val_loss[1:], "o-" if i == 0 else ".-", lw=2.5 if i == 0 else 1.5,
                label=name)  # step 0 (about ln V) would squash the rest; exact final losses belong in a table
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation loss (estimate, nats per token)")
    ax.set_title(title or "One design choice changed at a time")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


@styled
def plot_activations(ax=None):
    """The MLP's non-linearities from minillm.functional: ReLU, GELU (exact and GPT-2's tanh form) and SiLU."""
    fig, ax = axes(ax, figsize=(7, 4.2))
    x = torch.linspace(-4, 3, 400)
    curves = {"ReLU": functional.relu(x), "GELU": functional.gelu(x),
              "GELU, tanh form (GPT-2)": functional.gelu(x, approximate="tanh"), "SiLU / Swish (SwiGLU's gate)":
              functional.silu(x)}
    for (name, y), style in zip(curves.items(), ["-", "-", ":", "--"]):
        ax.plot(x, y, style, lw=2.5, label=name)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("input x")
    ax.set_ylabel("activation(x)")
    ax.set_title("Smooth cousins of ReLU: a little negative just below 0")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


@styled
def plot_ablation(names: Sequence[str], val_losses: Sequence[float], noise: float | None = None, ax=None):
    """Each variant's final validation loss minus the first (the baseline) as bars; a band of +-noise around 0."""
    fig, ax = axes(ax, figsize=(8, 0.6 * len(names) + 1.4))
    deltas = [loss - val_losses[0] for loss in val_losses[1:]]
    colors = ["#2a7ab0" if d < 0 else "#c0504d" for d in deltas]
    y = range(len(deltas))
    ax.barh(y, deltas, color=colors)
    ax.set_yticks(y, names[1:])
    ax.invert_yaxis()
    for i, d in enumerate(deltas):
        ax.text(d, i, f" {d:+.3f} ", va="center", ha="left" if d >= 0 else "right")
    if noise:
        ax.axvspan(-noise, noise, color="0.85", zorder=0, label=f"seed noise (±{noise:.3f})")
        ax.legend(loc="lower right")
    ax.axvline(0, color="0.3", lw=1)
    lo, hi = min(deltas + [0]), max(deltas + [0])
    ax.set_xlim(lo - 0.35 * (hi - lo) - 0.01, hi + 0.35 * (hi - lo) + 0.01)
    ax.set_xlabel(f"validation loss minus the baseline's {val_losses[0]:.3f} (lower is better)")
    ax.set_title(f"One change at a time, from {names[0]}")
    return fig


@styled
def plot_loss_curves(curves: dict[str, Sequence[float]], window: int = 25, ax=None):
    """Training loss per step of several runs, each smoothed by a running mean over `window` steps."""
    fig, ax = axes(ax, figsize=(8, 4))
    for name, loss in curves.items():
        y = torch.tensor(loss, dtype=torch.float64)
        w = max(1, min(window, len(y)))
        smooth = y.unfold(0, w, 1).mean(-1) if len(y) else y  # the mean of each run of w steps
        ax.plot(range(w, len(y) + 1), smooth.numpy(), lw=2, label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.set_title("Both families learn their task")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _label_axes(ax, query_tokens: Sequence[str], key_tokens: Sequence[str], labels: bool = True) -> None:
    ax.set_xticks(range(len(key_tokens)), [visible(t) for t in key_tokens] if labels else [], rotation=90)
    ax.set_yticks(range(len(query_tokens)), [visible(t) for t in query_tokens] if labels else [])
    ax.tick_params(length=0)


@styled
def plot_attention(weights: torch.Tensor, query_tokens: Sequence[str], key_tokens: Sequence[str] | None = None,
                   title: str | None = None, colorbar: bool = True, ax=None):
    """One head's attention pattern as a heatmap: row = query token, column = key token, colour = weight.

    weights (Tq, Tk), each row summing to 1; key_tokens defaults to query_tokens (self-attention).
    """
    key_tokens = query_tokens if key_tokens is None else key_tokens
    if tuple(weights.shape) != (len(query_tokens), len(key_tokens)):
        raise ValueError(f"weights of shape {tuple(weights.shape)} do not match {len(query_tokens)} query and "
                         f"{len(key_tokens)} key tokens; pass one head's (Tq, Tk) map, e.g. maps[layer, 0, head]")
    size = 2.5 + 0.24 * max(len(query_tokens), len(key_tokens))
    fig, ax = axes(ax, figsize=(size + 1, size))
    image = ax.imshow(weights.float().cpu().numpy(), cmap="Blues", vmin=0, vmax=1)
    _label_axes(ax, query_tokens, key_tokens)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
    return fig


@styled
def plot_attention_heads(maps: torch.Tensor, tokens: Sequence[str], layer: int = 0, title: str | None = None):
    """All heads of one layer side by side. maps: (n_layer, 1, nh, T, T) from `attention_maps` for one sequence."""
    if maps.ndim != 5 or maps.size(1) != 1:
        raise ValueError(f"maps must be (n_layer, 1, nh, T, T) for one sequence, got {tuple(maps.shape)}: "
                         "call attention_maps(model, idx) with idx of shape (1, T)")
    n_head = maps.size(2)
    cols = min(n_head, 4)
    rows = -(-n_head // cols)
    size = 1.2 + 0.16 * len(tokens)
    fig, axs = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.4) * rows + 0.4), layout="constrained",
                            squeeze=False)
    for head, ax in enumerate(axs.flat):
        if head >= n_head:
            ax.axis("off")
            continue
        ax.imshow(maps[layer, 0, head].float().cpu().numpy(), cmap="Blues", vmin=0)
        _label_axes(ax, tokens, tokens, labels=head % cols == 0)
        ax.set_title(f"head {head}", fontsize=SMALL + 2)
    fig.suptitle(title or f"layer {layer}, all {n_head} heads (darker = more weight)")
    return fig


def attention_explorer(maps: torch.Tensor, tokens: Sequence[str]):
    """An ipywidgets picker for layer and head that redraws `plot_attention`; returns the widget to display.

    maps: (n_layer, 1, nh, T, T) from `attention_maps` for one sequence. In a notebook, end a cell with it.
    """
    import ipywidgets as widgets  # only notebooks need these
    from IPython.display import display

    n_layer, _, n_head = maps.shape[:3]
    layer = widgets.IntSlider(value=0, min=0, max=n_layer - 1, description="layer")
    head = widgets.IntSlider(value=0, min=0, max=n_head - 1, description="head")
    out = widgets.Output()

    def draw(_=None):
        with out:
            out.clear_output(wait=True)
            fig = plot_attention(maps[layer.value, 0, head.value], tokens,
                                 title=f"layer {layer.value}, head {head.value}")
            display(fig)
            plt.close(fig)  # shown once, in the widget; not again at the end of the cell

    layer.observe(draw, names="value")
    head.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([layer, head]), out])


SENTENCES = ("I hit the baseball with a bat", "I hit the bat with a baseball")  # the syllabus' pair


@styled
def deck_attention(src: Sources) -> Figure:
    """Two heads of the deck's character model side by side: the most local one and the "sink"."""
    model, _ = src.tiny_gpt
    maps = attention_maps(model, torch.tensor([src.char_tokenizer.encode(SENTENCES[0])]))
    fig, axs = plt.subplots(1, 2, figsize=(11.5, 6.4), layout="constrained")
    for ax, (layer, head) in zip(axs, [(0, 2), (1, 0)]):
        plot_attention(maps[layer, 0, head], list(SENTENCES[0]), title=f"layer {layer}, head {head}", colorbar=False,
                       ax=ax)
    fig.colorbar(axs[1].images[0], ax=axs, shrink=0.8, label="attention weight")
    return fig


def deck_ablation(src: Sources) -> Figure:
    v = src.result("ablation_cpu").values
    names = v["variants"].split(" | ")
    return plot_ablation(names, [v[f"val_loss_{i}"] for i in range(len(names))], noise=v.get("seed_spread"))


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {
    "attention_heads": deck_attention,
    "activations": lambda src: plot_activations(),
    "ablation": deck_ablation,
}
