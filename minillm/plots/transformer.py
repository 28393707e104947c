"""Figures of module M3, the Transformer: what each design choice does to training.

The deck slides/03_transformer.md does not exist yet; `DECK_FIGURES` will
list its figures when it does.
"""

from __future__ import annotations

from typing import Callable

from matplotlib.figure import Figure

from ..train import History
from .sources import Sources
from .style import axes, styled


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


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {}
