"""The checker machinery every module's exercises share.

`run_cases` runs a list of labelled `Case`s against a student's function and
turns whatever goes wrong into one `ExerciseFailed`, an AssertionError that
names the case: a `Mismatch` raised by the case (a wrong answer, with a
hint), an exception raised by the student's code, or a stub that still
raises NotImplementedError.

Hints come from known mistakes first. A checker keeps a list of `Mistake`s,
small wrong implementations of the exercise, each with the hint for its bug;
when the student's answer is wrong, `known_mistake` runs each of them on the
same input, and the first whose answer is the student's names the bug. Only
then does a checker fall back to a generic hint or a diff.

A failed check reads in a few lines in Jupyter/IPython: `ExerciseFailed`
implements IPython's `_render_traceback_` hook (a list of lines to show
instead of the traceback), so the student sees the case, what was expected,
what came back, the hint and the way forward, `exercises.solution(...)`,
and of a traceback only the frames of their own code. In plain Python the
message reads the same, after "AssertionError: ".

`needs` marks a checker that needs a GPU or several processes: where those
are missing it prints one "skipped" line instead of failing.
"""

from __future__ import annotations

import functools
import os
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch


class Mismatch(Exception):
    """Raised by a case when the student's answer is wrong: what is wrong, and a hint to fix it."""

    def __init__(self, problem: str, hint: str | None = None):
        super().__init__(f"{problem}; {hint}" if hint else problem)
        self.problem = problem
        self.hint = hint


class _NotImplemented(Exception):
    """The student's function raised NotImplementedError (the stub is still there)."""


class _StudentRaised(Exception):
    """The student's function raised something else; __cause__ holds it."""


@dataclass(frozen=True)
class Case:
    label: str                                # names the case in failure messages, e.g. "a repeated token"
    run: Callable[[Callable[..., Any]], None]  # run(call): call the function, raise Mismatch if wrong


@dataclass(frozen=True)
class Mistake:
    """A known wrong solution of an exercise, with the exercise's signature, and the hint for its bug."""

    fn: Callable[..., Any]
    hint: str


def known_mistake(mistakes: list[Mistake], observe: Callable[[Callable], Any], got: Any,
                  same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> str | None:
    """The hint of the first mistake whose answer, seen through `observe`, is the student's `got`.

    `observe(fn)` runs an implementation on the case's input and returns what
    the case compares (the answer, a shape, frequencies); `same` compares two
    of those. A mistake that raises on this input is not the student's.
    """
    for mistake in mistakes:
        try:
            if same(got, observe(mistake.fn)):
                return mistake.hint
        except Exception:
            continue
    return None


# ----------------------------------------------------------------------------
# a failed check, shown briefly

_EXERCISES_DIR = Path(__file__).resolve().parent
_LIBRARY_DIRS = tuple(
    {_EXERCISES_DIR.parent, Path(torch.__file__).resolve().parent}
    | {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "purelib", "platlib")})


def solutions_switched_off() -> bool:
    """True where MINILLM_NO_SOLUTIONS is set (to anything but 0), e.g. for an exam."""
    return os.environ.get("MINILLM_NO_SOLUTIONS", "").strip() not in ("", "0")


def _is_library(filename: str) -> bool:
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    return any(path.is_relative_to(d) for d in _LIBRARY_DIRS)


def _frame_place(filename: str) -> str:
    """'Cell In[5]' for a notebook cell, as IPython names it; else 'File "<path>"'."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
        label = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:  # no IPython, a stand-in, or one without this method
        label = None
    return f"{label[0]} {label[1]}" if label else f'File "{filename}"'


def student_frames(error: BaseException) -> list[str]:
    """The frames of `error`'s traceback that are the student's own code, formatted like Python does.

    Frames of minillm (its checkers included), PyTorch and the standard
    library are left out; if that leaves nothing (the function passed in was
    a library function), the frame that raised is kept.
    """
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if not _is_library(f.filename)] or frames[-1:]
    lines = []
    for f in theirs:
        lines.append(f"  {_frame_place(f.filename)}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line.strip()}")
    return lines


class ExerciseFailed(AssertionError):
    """A failed check: an AssertionError (a notebook run top to bottom stops here) that shows briefly.

    `str(e)` holds the headline, what was wrong, the hint and the way
    forward, one per line; in IPython, `_render_traceback_` shows those lines
    instead of a traceback through the checker, with the student's own frames
    when their function raised.
    """

    def __init__(self, checker: str, headline: str, problem: str | None = None, hint: str | None = None,
                 function: str | None = None, error: BaseException | None = None):
        self.checker = checker      # e.g. "check_merge"
        self.headline = headline    # e.g. "check_merge failed on case 2 of 11 (...)"
        self.problem = problem      # what was expected and what came back
        self.hint = hint            # what the mistake most likely is, and the fix
        self.function = function    # the name of the student's function, to suggest `name = solution(...)`
        self.error = error          # the exception the student's function raised, if it did
        super().__init__("\n".join(self._lines()))

    def __reduce__(self):  # pickles (e.g. to another process) without the student's exception
        return type(self), (self.checker, self.headline, self.problem, self.hint, self.function)

    @property
    def exercise(self) -> str:
        return self.checker.removeprefix("check_")

    def way_forward(self) -> str | None:
        """One line: how to get a working version and go on, or None where that isn't offered."""
        if self.function is None or solutions_switched_off():
            return None
        from . import SOLUTIONS  # the package collects them; imported here to avoid a cycle
        if self.exercise not in SOLUTIONS:
            return None
        name = self.function if self.function.isidentifier() else self.exercise
        return (f'stuck? `{name} = exercises.solution("{self.exercise}")` gives you a working {name}, so the '
                "cells below can run; come back to this one later")

    def _lines(self, frames: bool = False) -> list[str]:
        lines = [self.headline]
        if self.error is not None and frames:
            lines += student_frames(self.error)
            lines.append(traceback.format_exception_only(type(self.error), self.error)[-1].rstrip("\n"))
        if self.problem:
            lines.append(self.problem)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        forward = self.way_forward()
        if forward:
            lines.append(forward)
        return lines

    def _render_traceback_(self) -> list[str]:
        """IPython shows these lines instead of the traceback (its hook for custom exceptions)."""
        lines = self._lines(frames=True)
        return [f"✗ {lines[0]}"] + lines[1:]


# ----------------------------------------------------------------------------
# running the cases

def run_cases(checker: str, fn: Callable, cases: list[Case],
              error_hint: Callable[[BaseException], str | None] | None = None) -> None:
    """Run every case against `fn`; print one line if all pass, else raise ExerciseFailed.

    `error_hint(e)` may name the likely cause of an exception the student's
    function raised (e.g. "crop the context" for the model's length error).
    """
    if not callable(fn):
        raise ExerciseFailed(checker, f"{checker} needs the function itself, not {fn!r:.40}; pass it without "
                                      f"calling it, e.g. {checker}(my_function)")
    name = getattr(fn, "__name__", "your function")

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise _NotImplemented from None
        except Exception as e:
            raise _StudentRaised from e

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for i, case in enumerate(cases, 1):
            where = f"{checker} failed on case {i} of {len(cases)} ({case.label})"
            try:
                case.run(call)
            except _NotImplemented:
                raise ExerciseFailed(
                    checker, f"{checker}: `{name}` is not implemented yet: fill in the cell marked "
                             f"`raise NotImplementedError(\"exercise: ...\")` that defines `{name}`, run that "
                             "cell, then run this check again", function=name) from None
            except _StudentRaised as e:
                err = e.__cause__
                hint = error_hint(err) if error_hint else None
                raise ExerciseFailed(checker, f"{where}: `{name}` raised {type(err).__name__}: {err}",
                                     hint=hint, function=name, error=err) from err
            except Mismatch as e:
                raise ExerciseFailed(checker, f"{where}:", e.problem, e.hint, function=name) from None
    print(f"✓ {checker}: {len(cases)} cases passed")


# ----------------------------------------------------------------------------
# checkers that need hardware

def _missing(device: str | None, processes: int) -> tuple[str, str] | None:
    """(what is missing, where to run instead), or None when this machine has what is needed."""
    if device == "cuda":
        if not torch.cuda.is_available():
            return "a CUDA GPU", "run this on a GPU runtime (Colab: Runtime > Change runtime type)"
        if processes > 1 and torch.cuda.device_count() < processes:
            return (f"{processes} CUDA GPUs, one per process (this machine has {torch.cuda.device_count()})",
                    f"run this on a machine with {processes} GPUs (Kaggle offers two T4s; Colab has one)")
    if processes > 1 and not torch.distributed.is_available():
        return (f"{processes} processes talking through torch.distributed, which this PyTorch build lacks",
                "run this where PyTorch has it, e.g. on Linux or Colab")
    return None


def needs(device: str | None = None, *, processes: int = 1) -> Callable[[Callable], Callable]:
    """Mark a checker as needing a CUDA GPU and/or several processes.

    Where those are missing, the checker prints one line and returns instead
    of failing, so a notebook run on a CPU goes on:

        @needs("cuda")
        def check_fused_softmax(fn): ...

        - check_fused_softmax skipped: needs a CUDA GPU, run this on a GPU runtime (Colab: ...)
    """
    if device not in (None, "cuda"):
        raise ValueError(f"needs() knows device 'cuda' (or None), got {device!r}")
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive integer, got {processes!r}")

    def decorate(checker: Callable) -> Callable:
        @functools.wraps(checker)
        def gated(fn, *args, **kwargs):
            missing = _missing(device, processes)
            if missing is not None:
                print(f"- {checker.__name__} skipped: needs {missing[0]}, {missing[1]}")
                return None
            return checker(fn, *args, **kwargs)

        gated.needs = (device, processes)
        return gated
    return decorate


# ----------------------------------------------------------------------------
# helpers for writing cases

def _show(x: Any, limit: int = 12) -> str:
    """A short printable form of a list or tensor: _show(list(range(20)), 3) -> '[0, 1, 2, ...] (20 items)'"""
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    if isinstance(x, (list, tuple)) and len(x) > limit:
        return f"[{', '.join(map(str, x[:limit]))}, ...] ({len(x)} items)"
    return repr(list(x) if isinstance(x, tuple) else x)


def _probs(p: torch.Tensor) -> str:
    """_probs(torch.tensor([0.8650, 0.1171])) -> '[0.865, 0.117]'"""
    return "[" + ", ".join(f"{v:.3f}" for v in p.tolist()) + "]"


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    """The student's answer as a tensor, or a Mismatch saying what was expected instead."""
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise Mismatch(f"expected {what}, got a {type(value).__name__}: {value!r:.80}") from None


def _random_ids(n: int, vocab_size: int, seed: int) -> torch.Tensor:
    return torch.randint(vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def _random_logits(rows: int, vocab_size: int, seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(rows, vocab_size, generator=torch.Generator().manual_seed(seed))
