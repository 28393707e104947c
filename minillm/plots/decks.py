"""Deck figures: which module draws a deck's figures, and a cache that redraws only what changed.

By naming convention the deck `slides/NN_<module>.md` shows the figures of
`minillm.plots.<module>`: slides/02_tokenization.md draws from
minillm/plots/tokenization.py. That module's `DECK_FIGURES` maps each
figure's name to a recipe, a function of the shared `Sources`, and the deck
shows it as `![w:900](figures/<name>.png)`.

`draw` saves each figure to `<dir>/<name>.png` with `<name>.json` beside it:
the key of everything the picture was made from. A figure is drawn again only
when its key changes:
- "figure": the recipe's source code;
- "code": the plotting module, the shared plotting modules (style, sources,
  this one), and every minillm module they import, followed transitively; an
  approximation of "the code the figure depends on" that redraws a module's
  figures when any of it changes;
- "data": `Sources.fingerprint()`: the corpus, the sources' settings and the
  committed result files;
- "dpi" and the matplotlib version.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import time
import types
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from ..errors import MinillmError
from ..io import atomic_write
from . import style
from .sources import Sources

DPI = 200  # figures are shown up to ~1200 px wide; 200 dpi keeps text sharp when projected


class DeckError(MinillmError, ValueError):
    """A deck without a plotting module, or a figure its module does not draw."""


def module_name(deck: Path) -> str:
    """The plotting module a deck draws from: its file name without the number.

    >>> module_name(Path("slides/02_tokenization.md"))
    'tokenization'
    """
    return re.sub(r"^\d+_", "", Path(deck).stem)


def deck_module(deck: Path) -> types.ModuleType:
    """minillm.plots.<module> for slides/NN_<module>.md; DeckError if there is none or it lists no figures."""
    name = f"{__package__}.{module_name(deck)}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise DeckError(f"{Path(deck).name} needs a plotting module {name.replace('.', '/')}.py "
                        "(a deck NN_<module>.md draws its figures from minillm/plots/<module>.py)") from None
    if not isinstance(getattr(module, "DECK_FIGURES", None), dict):
        raise DeckError(f"{name} has no DECK_FIGURES: a dict mapping each figure name to a function of Sources")
    return module


def _digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:16]


def _minillm_imports(module: types.ModuleType) -> list[str]:
    """The minillm modules `module`'s source imports, read from its import statements."""
    package = __package__.split(".")[0]
    names = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (importlib.util.resolve_name("." * node.level + (node.module or ""), module.__package__)
                    if node.level else node.module)
            # `from .io import atomic_write` imports from minillm.io; `from .. import results`, minillm.results
            names += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in sys.modules else base for alias in node.names]
    return [name for name in names if name.split(".")[0] == package and name in sys.modules]


def code_modules(module: types.ModuleType) -> list[types.ModuleType]:
    """`module`, the shared plotting modules and every minillm module they import, transitively."""
    found: dict[str, types.ModuleType] = {}
    todo = [module, style, sys.modules[Sources.__module__], sys.modules[__name__]]
    while todo:
        m = todo.pop()
        if m.__name__ not in found:
            found[m.__name__] = m
            todo += [sys.modules[name] for name in _minillm_imports(m)]
    return [found[name] for name in sorted(found)]


def figure_key(name: str, module: types.ModuleType, sources: Sources, dpi: int = DPI) -> dict[str, str]:
    """What figure `name` of `module` is made from, as short hashes (see the module docstring)."""
    recipe = module.DECK_FIGURES[name]
    try:
        recipe_source = inspect.getsource(recipe)
    except (OSError, TypeError):  # no source file (defined in a notebook or a test): its bytecode then
        recipe_source = recipe.__code__.co_code.hex()
    code = "".join(f"{m.__name__}:{_digest(inspect.getsource(m))}\n" for m in code_modules(module))
    return {"figure": _digest(recipe_source), "code": _digest(code), "data": sources.fingerprint(),
            "dpi": str(dpi), "matplotlib": matplotlib.__version__}


def draw(names: list[str], module: types.ModuleType, sources: Sources, out_dir: Path, dpi: int = DPI,
         force: bool = False) -> tuple[list[str], list[str]]:
    """Save each figure `name` of `module` as out_dir/<name>.png, unless its key is unchanged.

    Returns (drawn, reused). `force` draws every figure again.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn, reused = [], []
    for name in names:
        png, stamp = out_dir / f"{name}.png", out_dir / f"{name}.json"
        key = figure_key(name, module, sources, dpi)
        try:
            old = json.loads(stamp.read_text(encoding="utf-8"))["key"]
        except (OSError, ValueError, KeyError, TypeError):
            old = None
        if not force and old == key and png.is_file():
            reused.append(name)
            continue
        t0 = time.perf_counter()
        with plt.rc_context(style.RC):  # figures a recipe makes itself get the course's look too
            fig = module.DECK_FIGURES[name](sources)
            with atomic_write(png) as f:
                fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
        plt.close(fig)
        seconds = time.perf_counter() - t0
        with atomic_write(stamp, "w") as f:
            json.dump({"key": key, "seconds": round(seconds, 2)}, f, indent=1)
        if not isinstance(old, dict):
            changed = "new"
        else:
            changed = ", ".join(k for k in key if old.get(k) != key[k]) or "png missing"
        print(f"  drew {name}.png in {seconds:.1f} s ({'forced' if force else changed})", flush=True)
        drawn.append(name)
    return drawn, reused
