"""Figures of module M4, attention on the GPU: what plain attention keeps in memory, and how FlashAttention tiles it.

`DECK_FIGURES` at the end lists what slides/04_attention_kernels.md shows.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..attention import reference_attention
from ..flash import flash_attention_torch, key_blocks, saved_bytes
from .sources import Sources
from .style import SMALL, axes, styled

MEMORY_SETTINGS = dict(n_head=4, head_dim=64, lengths=(128, 256, 512, 1024, 2048))  # one layer, batch 1, float32


def measure_saved_memory(lengths: Sequence[int] = MEMORY_SETTINGS["lengths"], n_head: int = MEMORY_SETTINGS["n_head"],
                         head_dim: int = MEMORY_SETTINGS["head_dim"]) -> dict[str, list[float]]:
    """MiB autograd keeps for the backward pass of one attention call (batch 1, float32, causal), per length:
    {"reference": [...], "FlashAttention": [...]}, measured with `minillm.flash.saved_bytes`."""
    found: dict[str, list[float]] = {"reference": [], "FlashAttention": []}
    for T in lengths:
        q, k, v = (torch.randn(1, n_head, T, head_dim, requires_grad=True) for _ in range(3))
        found["reference"].append(saved_bytes(reference_attention, q, k, v) / 2**20)
        found["FlashAttention"].append(saved_bytes(flash_attention_torch, q, k, v) / 2**20)
    return found


@styled
def plot_saved_memory(lengths: Sequence[int], mib: dict[str, Sequence[float]], ax=None):
    """Memory kept for the backward pass against sequence length, log-log: slope 2 (T^2) vs slope 1 (T)."""
    fig, ax = axes(ax, figsize=(7.5, 4.5))
    for (name, values), marker, below in zip(mib.items(), ("o-", "s-"), (True, False)):
        ax.loglog(lengths, values, marker, lw=2.5, base=2, label=name)
        ax.annotate(f"{values[-1]:,.0f} MiB" if values[-1] >= 10 else f"{values[-1]:.1f} MiB",
                    (lengths[-1], values[-1]), textcoords="offset points", xytext=(-12, -6 if below else 8),
                    ha="right", va="top" if below else "bottom", fontsize=SMALL)
    ax.set_xticks(list(lengths), [str(t) for t in lengths])
    low, high = min(min(v) for v in mib.values()), max(max(v) for v in mib.values())
    ticks = [4.0**k for k in range(-4, 8) if low / 4 <= 4.0**k <= high * 4]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("MiB kept for backward")
    ax.set_title("One attention layer: the reference keeps T x T, Flash keeps T")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


@styled
def plot_tiles(Tq: int = 64, Tk: int = 64, block_m: int = 16, block_n: int = 16, causal: bool = True, ax=None):
    """The score matrix cut into (block_m, block_n) tiles: which ones a FlashAttention pass computes.

    Uses the loop bounds of `minillm.flash.key_blocks`, which the kernels share: with a causal mask the
    tiles above the diagonal are skipped, tiles on it are computed and masked, the rest computed whole.
    """
    fig, ax = axes(ax, figsize=(5.6, 5.6))
    colors = {"computed": "#9fc5e8", "computed, then masked in part": "#f9cb9c", "skipped": "#eeeeee"}
    counts = dict.fromkeys(colors, 0)
    for i0 in range(0, Tq, block_m):
        i1 = min(i0 + block_m, Tq)
        visited = set(key_blocks(i0, i1, Tq, Tk, block_n, causal))
        for j0 in range(0, Tk, block_n):
            j1 = min(j0 + block_n, Tk)
            if j0 not in visited:
                kind = "skipped"
            elif causal and j1 - 1 > i0 + Tk - Tq:  # some key lies after some query's position
                kind = "computed, then masked in part"
            else:
                kind = "computed"
            counts[kind] += 1
            ax.add_patch(Rectangle((j0, i0), j1 - j0, i1 - i0, facecolor=colors[kind], edgecolor="white", lw=2))
    if causal:
        ax.plot([Tk - Tq, Tk], [0, Tq], color="0.3", lw=1.5, ls="--")
    ax.set_xlim(0, Tk)
    ax.set_ylim(Tq, 0)
    ax.set_aspect("equal")
    ax.set_xlabel(f"keys (blocks of {block_n})")
    ax.set_ylabel(f"queries (blocks of {block_m})")
    done = counts["computed"] + counts["computed, then masked in part"]
    ax.set_title(f"{'Causal' if causal else 'Full'} attention: {done} of {sum(counts.values())} tiles computed")
    ax.legend(handles=[Patch(facecolor=c, label=k) for k, c in colors.items() if counts[k]],
              loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    return fig


@styled
def plot_attention_benchmark(rows: Sequence[dict], head_dim: int = 64, causal: bool = True):
    """benchmarks/attention.py's rows: forward + backward time and peak memory against T, per implementation."""
    picked = [r for r in rows if r["head_dim"] == head_dim and r["causal"] == causal and r["pass"] == "forward+backward"]
    if not picked:
        raise ValueError(f"no forward+backward rows at head dim {head_dim}, causal={causal}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in ("reference", "sdpa", "triton"):
        points = [(r["T"], r[name]) for r in picked if name in r]
        if not points:
            continue
        T = [t for t, _ in points]
        left.loglog(T, [m["ms"] for _, m in points], "o-", base=2, lw=2, label=name)
        if points[0][1]["peak_mib"] is not None:
            right.loglog(T, [m["peak_mib"] for _, m in points], "o-", base=2, lw=2, label=name)
    first = picked[0]
    left.set_title(f"forward + backward, {first['dtype']}, D={head_dim}{', causal' if causal else ''}")
    left.set_ylabel("ms (median)")
    right.set_title("peak memory above the inputs")
    right.set_ylabel("MiB")
    for ax in (left, right):
        ax.set_xlabel("sequence length T")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(first["gpu"])
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------
# the deck's figures

def deck_saved_memory(src: Sources) -> Figure:
    return plot_saved_memory(MEMORY_SETTINGS["lengths"], measure_saved_memory())


def deck_attention_h100(src: Sources) -> Figure:
    """The committed H100 benchmark (minillm/results/attention_h100.json), at the issue's goal setting."""
    from ..kernels.benchmark import rows_from_values

    return plot_attention_benchmark(rows_from_values(src.result("attention_h100").values), head_dim=64, causal=True)


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {
    "saved_memory": deck_saved_memory,
    "tiles": lambda src: plot_tiles(),
    "attention_h100": deck_attention_h100,
}
