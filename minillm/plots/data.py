"""Figures of module M5, data: the curation funnel, LSH's S-curve, quality scores, and the payoff.

`DECK_FIGURES` at the end lists what slides/05_data.md shows.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..curation.dedup import candidate_probability
from .sources import Sources
from .style import SMALL, axes, styled


@styled
def plot_funnel(stages: Sequence, tokens: Sequence[int] | None = None, ax=None):
    """Pages left after each step of `minillm.curation.pipeline.curate`, labelled with the megabytes left
    and, when given, the tokens left (`pipeline.stage_tokens`: the crawl's, then each step's)."""
    fig, ax = axes(ax, figsize=(8, 4.2))
    names = ["crawl"] + [s.name for s in stages]
    pages = [stages[0].pages_in] + [s.pages_out for s in stages]
    sizes = [f"{n / 1e6:.2f} MB" for n in [stages[0].chars_in] + [s.chars_out for s in stages]]
    if tokens is not None:
        sizes = [f"{size}, {n / 1e6:.2f}M tokens" for size, n in zip(sizes, tokens)]
    y = np.arange(len(names))[::-1]
    ax.barh(y, pages, color="#9fc5e8")
    for yi, n, size in zip(y, pages, sizes):
        ax.text(n, yi, f"  {n:,} pages, {size}", va="center", fontsize=SMALL)
    ax.set_yticks(y, names)
    ax.set_xlim(0, max(pages) * (1.8 if tokens is not None else 1.6))
    ax.set_xlabel("pages left")
    ax.set_title("The curation funnel")
    return fig


@styled
def plot_s_curve(choices: Sequence[tuple[int, int]] = ((8, 16), (16, 8), (32, 4)), threshold: float | None = 0.5,
                 ax=None):
    """P(two documents become LSH candidates) against their Jaccard similarity, for bands x rows choices."""
    fig, ax = axes(ax, figsize=(7, 4.2))
    s = np.linspace(0, 1, 201)
    for bands, rows in choices:
        ax.plot(s, candidate_probability(s, bands, rows), lw=2.5, label=f"{bands} bands x {rows} rows")
    if threshold is not None:
        ax.axvline(threshold, color="0.5", ls="--", lw=1)
        ax.text(threshold, 0.02, f" threshold {threshold}", fontsize=SMALL, color="0.3")
    ax.set_xlabel("Jaccard similarity of the two documents")
    ax.set_ylabel("P(candidate pair)")
    ax.set_title(r"LSH banding: $1 - (1 - s^r)^b$")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


@styled
def plot_quality_scores(scores: Sequence[float], groups: Sequence[str], ax=None):
    """Histogram of the quality classifier's scores, one outline per group (source or kind of page)."""
    fig, ax = axes(ax, figsize=(8, 4.2))
    scores, groups = np.asarray(scores), np.asarray(groups)
    bins = np.linspace(0, 1, 21)
    for name in sorted(set(groups.tolist())):
        ax.hist(scores[groups == name], bins=bins, histtype="step", lw=2, label=f"{name} ({(groups == name).sum()})")
    ax.set_yscale("log")
    ax.set_xlabel("classifier score: P(reference quality)")
    ax.set_ylabel("pages")
    ax.set_title("Quality scores per kind of page")
    ax.legend(fontsize=SMALL, ncol=2)
    return fig


@styled
def plot_precision_recall(curve, points: dict[str, tuple[float, float]] | None = None, ax=None):
    """A precision/recall curve (`minillm.curation.classifier.precision_recall`), with named operating points."""
    fig, ax = axes(ax, figsize=(6, 4.5))
    ax.plot(curve.recall, curve.precision, lw=2.5)
    for name, (precision, recall) in (points or {}).items():
        ax.plot(recall, precision, "o", ms=8)
        ax.annotate(name, (recall, precision), textcoords="offset points", xytext=(6, -14), fontsize=SMALL)
    ax.set_xlabel("recall (good pages kept)")
    ax.set_ylabel("precision (kept pages that are good)")
    ax.set_title("Keeping pages by classifier score")
    ax.grid(alpha=0.3)
    return fig


@styled
def plot_payoff(raw_loss: Sequence[float], curated_loss: Sequence[float], ax=None):
    """Held-out loss of raw vs curated training, one pair of bars per seed."""
    fig, ax = axes(ax, figsize=(6.5, 4.2))
    x = np.arange(len(raw_loss))
    ax.bar(x - 0.2, raw_loss, 0.4, label="raw crawl", color="#f4cccc")
    ax.bar(x + 0.2, curated_loss, 0.4, label="curated", color="#9fc5e8")
    for xi, r, c in zip(x, raw_loss, curated_loss):
        ax.text(xi - 0.2, r, f"{r:.3f}", ha="center", va="bottom", fontsize=SMALL)
        ax.text(xi + 0.2, c, f"{c:.3f}", ha="center", va="bottom", fontsize=SMALL)
    low = min(min(raw_loss), min(curated_loss))
    ax.set_ylim(low - 0.3, max(max(raw_loss), max(curated_loss)) + 0.1)
    ax.set_xticks(x, [f"seed {i}" for i in range(len(x))])
    ax.set_ylabel("held-out loss (nats per character)")
    ax.set_title("Same GPT, same token budget")
    ax.legend(loc="lower right")
    return fig


# ----------------------------------------------------------------------------
# the deck's figures

@functools.lru_cache(maxsize=1)
def _notebook_crawl() -> tuple:
    """Notebook 05's crawl (3 MB, seed 0), made once for all the deck's figures."""
    from ..curation.crawl import make_crawl

    return tuple(make_crawl(3.0, seed=0, progress=False))


def deck_funnel(src: Sources) -> Figure:
    from ..bpe import BPETokenizer
    from ..curation.pipeline import curate, stage_tokens

    pages = _notebook_crawl()  # notebook 05's section 8: its crawl, its BPE of 1,024 tokens
    kept, stages = curate(pages, progress=False)
    bpe = BPETokenizer.train("".join(p.text for p in kept), 1024)
    return plot_funnel(stages, stage_tokens(stages, pages, kept, bpe))


def deck_payoff(src: Sources) -> Figure:
    values = src.result("curation_payoff").values
    return plot_payoff(values["raw_loss"], values["curated_loss"])


@functools.lru_cache(maxsize=1)
def _scored_crawl() -> tuple[np.ndarray, tuple[str, ...]]:
    """Notebook 05's crawl with its cross-fitted quality scores and each page's group (its kind if good,
    else "junk"), as in the notebook's section 5; computed once for the two figures below."""
    from ..curation.crawl import GOOD_KINDS
    from ..curation.pipeline import quality_scores

    pages = _notebook_crawl()
    scores = quality_scores(pages, seed=0, progress=False)
    return scores, tuple(p.kind if p.kind in GOOD_KINDS else "junk" for p in pages)


def deck_quality_scores(src: Sources) -> Figure:
    scores, groups = _scored_crawl()
    return plot_quality_scores(scores, groups)


def deck_precision_recall(src: Sources) -> Figure:
    from ..curation.classifier import pareto_keep, precision_recall

    scores, groups = _scored_crawl()
    good = np.array([g != "junk" for g in groups])
    keep, hard = pareto_keep(scores, seed=0), scores >= 0.5  # the notebook's two rules, its seed
    points = {"Pareto(9)": (good[keep].mean(), keep[good].mean()),
              "score >= 0.5": (good[hard].mean(), hard[good].mean())}
    return plot_precision_recall(precision_recall(scores, good), points)


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {
    "funnel": deck_funnel,
    "s_curve": lambda src: plot_s_curve(),
    "quality_scores": deck_quality_scores,
    "precision_recall": deck_precision_recall,
    "payoff": deck_payoff,
}
