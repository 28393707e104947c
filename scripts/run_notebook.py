"""Run a notebook's code cells top to bottom as a plain Python script.

For machines without Jupyter (the GPU check lane's machine has PyTorch but
no IPython, nbformat or kernel): reads the .ipynb JSON, runs each code cell in
one shared namespace, and reports the time per cell. IPython-only lines
(`%pip ...`, `!cmd`) become `pass`, since they only install on Colab, and
when IPython is missing a stand-in for `IPython.display` lets live plots and
HTML views run (drawn nowhere). An exception stops the run with the cell's
number and exits 1; figures use matplotlib's Agg backend.

    python scripts/run_notebook.py notebooks/01_language_modeling.ipynb
"""

from __future__ import annotations

import argparse
import json
import linecache
import os
import sys
import time
import traceback
import types


def code_cells(path: str) -> list[str]:
    """The notebook's code cells as source strings; IPython magics and shell lines become `pass`."""
    with open(path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    out = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).split("\n")
        out.append("\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!")
                             else line for line in lines))
    return out


def _stand_in_for_ipython() -> None:
    """A do-nothing `IPython.display` (display, HTML) when IPython isn't installed."""
    try:
        import IPython.display  # noqa: F401
        return
    except ImportError:
        pass

    class Handle:
        def update(self, obj):
            pass

    display = types.ModuleType("IPython.display")
    display.display = lambda *objs, **kwargs: Handle()
    display.HTML = type("HTML", (), {"__init__": lambda self, data=None: setattr(self, "data", data)})
    ipython = types.ModuleType("IPython")
    ipython.display = display
    ipython.get_ipython = lambda: None  # matplotlib asks both: "not inside IPython", "a recent one"
    ipython.version_info = (9, 0)
    sys.modules.update({"IPython": ipython, "IPython.display": display})


def run_cell(source: str, namespace: dict, filename: str) -> None:
    """exec a cell as IPython does, under a file name that linecache knows: @triton.jit reads a kernel's source."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)


def run(path: str) -> float:
    """Run every code cell; returns the total seconds. Raises what a cell raises."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    _stand_in_for_ipython()
    namespace = {"__name__": "__main__"}
    total = 0.0
    for i, source in enumerate(code_cells(path), start=1):
        t0 = time.perf_counter()
        try:
            run_cell(source, namespace, f"{path} cell {i}")
        except Exception:
            print(f"FAILED in code cell {i} of {path}:\n{source}\n", file=sys.stderr)
            raise
        finally:
            total += time.perf_counter() - t0
        print(f"[cell {i}: {time.perf_counter() - t0:.1f} s]", flush=True)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    failed = []
    for path in args.notebooks:
        try:
            print(f"{path}: ran every cell in {run(path):.1f} s")
        except Exception:
            traceback.print_exc()
            failed.append(path)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
