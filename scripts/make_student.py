"""Build the student notebooks from the instructor notebooks.

In a code cell, every region from a `### BEGIN SOLUTION` line to the next
`### END SOLUTION` line (nbgrader's markers) becomes a single line,

    raise NotImplementedError("exercise: replace this line with your solution")

indented like the `### BEGIN SOLUTION` line, so the function around it still
parses. Every output and execution count is cleared, and the result is written
atomically to `<out>/<same name>.ipynb`. A marker without its partner stops
the build with the notebook, cell and line, and writes nothing for that notebook.

    python scripts/make_student.py                      # every notebooks/*.ipynb -> student/
    python scripts/make_student.py notebooks/01_language_modeling.ipynb --out /tmp/student

How the exercises, their checkers and `exercises.solution()` fit together,
and what to use for grading: docs/instructors.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from minillm.io import write_text

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("exercise: replace this line with your solution")'
ROOT = Path(__file__).resolve().parent.parent


class MarkerError(ValueError):
    """A solution marker without its partner, or a line that looks like a marker but is not one."""


def strip_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each marked solution region of one cell's source by an indented stub.

    Returns the new source and the number of regions replaced.
    strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION")
    -> ('def f():\\n    raise NotImplementedError("exercise: ...")', 1)
    """
    out: list[str] = []
    begin_line = None  # line number of the open `### BEGIN SOLUTION`, None outside a region
    regions = 0
    for number, line in enumerate(source.split("\n"), 1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line is not None:
                raise MarkerError(f"{where}, line {number}: a second `{BEGIN}` before the `{END}` "
                                  f"of the one on line {begin_line}")
            begin_line = number
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if begin_line is None:
                raise MarkerError(f"{where}, line {number}: `{END}` without a `{BEGIN}` before it")
            begin_line = None
            regions += 1
        elif "BEGIN SOLUTION" in marker or "END SOLUTION" in marker:
            # subtle: a misspelt marker would silently leave the solution in the student notebook
            raise MarkerError(f"{where}, line {number}: {marker!r} looks like a solution marker; "
                              f"write it exactly as `{BEGIN}` or `{END}` on a line of its own")
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise MarkerError(f"{where}, line {begin_line}: `{BEGIN}` has no `{END}` after it")
    return "\n".join(out), regions


def make_student(notebook: Path, out_dir: Path) -> tuple[Path, int]:
    """Write the student version of `notebook` into `out_dir`; returns its path and the exercise count."""
    nb = nbformat.read(notebook, as_version=4)
    regions = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source, n = strip_solutions(cell.source, where=f"{notebook}, cell {i}")
        regions += n
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)  # run timings some front ends store
    nbformat.validate(nb)
    target = out_dir / notebook.name
    write_text(target, nbformat.writes(nb))  # temporary file, then os.replace
    return target, regions


def _relative(path: Path) -> Path:
    """`path` relative to the working directory when it lies below it, for shorter messages."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build student notebooks: solutions replaced by stubs, "
                                                 "outputs cleared.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="instructor notebooks (default: every notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print("make_student: no notebooks found in notebooks/", file=sys.stderr)
        return 1
    for path in notebooks:
        if not path.is_file():
            print(f"make_student: no notebook at {path}", file=sys.stderr)
            return 1
        try:
            target, regions = make_student(path, args.out)
        except MarkerError as e:
            print(f"make_student: {e}", file=sys.stderr)
            return 1
        except nbformat.ValidationError as e:
            print(f"make_student: {path} is not a valid notebook ({e.message})", file=sys.stderr)
            return 1
        print(f"{_relative(path)} -> {_relative(target)} ({regions} exercise{'s' if regions != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
