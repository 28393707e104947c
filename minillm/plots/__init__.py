"""The course's figures, drawn from minillm's own code: one plotting module per course module.

    style.py              font sizes, colours, axes helpers: the look all figures share
    sources.py            Sources: the data deck figures are drawn from, computed on demand
    decks.py              which module draws a deck's figures; the figure cache
    language_modeling.py  M0-M1: lifecycle, shift by one, bigrams, training curves, sampling
    tokenization.py       M2: UTF-8 bytes, BPE merges, token boundaries, compression
    transformer.py        M3: design choices compared (the ablation's validation curves), attention maps
    attention_kernels.py  M4: memory kept for backward (T^2 vs T), FlashAttention's tiles, the GPU benchmark
    data.py               M5: the curation funnel, LSH's S-curve, quality scores, raw vs curated training

Notebooks call the plot functions to show results; scripts/build_slides.py
draws the decks' figures with the same functions, so a slide never shows a
picture the package can no longer produce. Each returns a matplotlib Figure
(or draws into the `ax` it is given).

Every public function and class of a course module is re-exported here, so
`from minillm import plots; plots.plot_history(...)` works whatever module
holds it; the deck recipes (`deck_*`, reached through each module's
DECK_FIGURES) are not.

Adding the figures of a later module, say M3 "the Transformer":
1. Write minillm/plots/transformer.py: plot functions decorated with
   `@style.styled`, using style's helpers and font sizes.
2. For its deck slides/03_transformer.md, end the module with
   `DECK_FIGURES = {"attention_pattern": lambda src: ..., ...}`, each recipe a
   function of `Sources` returning a Figure. Data several figures share goes
   into `Sources` as a cached property; a measurement too slow for a build
   comes from a committed result file, `src.result(name)` (minillm.results).
3. Add "transformer" to COURSE_MODULES below.
"""

from __future__ import annotations

import importlib
import inspect

COURSE_MODULES = ("language_modeling", "tokenization", "transformer", "attention_kernels", "data")  # in course order; see decks.py for the decks


def _public(module) -> dict:
    """The functions and classes `module` defines whose names start with neither '_' nor 'deck_'."""
    return {name: value for name, value in vars(module).items()
            if not name.startswith(("_", "deck_")) and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__}


def _reexport() -> list[str]:
    names = []
    for course_module in COURSE_MODULES:
        module = importlib.import_module(f"{__name__}.{course_module}")
        for name, value in _public(module).items():
            if name in globals():
                raise ImportError(f"{module.__name__}.{name} clashes with another {name} in minillm.plots: rename one")
            globals()[name] = value
            names.append(name)
    return names


__all__ = _reexport()
