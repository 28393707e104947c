"""Exercise checkers: run a student's function against minillm's own code.

Every exercise in the notebooks follows one pattern:

1. An exercise cell defines a function. In the instructor notebook its body
   lies between a `### BEGIN SOLUTION` line and a `### END SOLUTION` line;
   `scripts/make_student.py` replaces that region with
   `raise NotImplementedError("exercise: ...")` in the student notebook.
2. The next cell hands the function (not its result) to a checker here:
   `exercises.check_merge(merge)`.
3. The checker calls it on a few small inputs, seeded random ones and edge
   cases, and compares every answer with the package's implementation (or
   PyTorch's). When all agree it prints one line,

       ✓ check_merge: 12 cases passed

   and at the first disagreement it raises an AssertionError that shows, in
   a notebook, in a few lines:

       ✗ check_merge failed on case 1 of 12 (pairs at odd positions: [3, 1, 2, 1, 2]):
       merge([3, 1, 2, 1, 2], (1, 2), 4) should give [3, 4, 4], got [3, 4, 2, 4, 2]
       hint: occurrences can't overlap: after replacing a pair, skip both of its tokens (i += 2), ...
       stuck? `merge = exercises.solution("merge")` gives you a working merge, so the cells below can run; ...

   The hint comes from the checker's known mistakes when the student's
   answer is the answer of one of them, else from a generic rule. A stub that
   still raises NotImplementedError fails as "not implemented yet", so a
   student notebook run top to bottom stops at the first unsolved exercise.

The way forward: `exercises.solution("merge")` returns a working function
with the exercise's signature, built from minillm's own code, so a stuck
student can go on with `merge = exercises.solution("merge")`. Setting the
environment variable MINILLM_NO_SOLUTIONS=1 makes `solution()` refuse and
drops the "stuck?" line (for exams; minillm's own modules stay importable, so
the checkers are feedback, not grading: see docs/instructors.md).

Found by naming convention, in every module of this package not starting
with "_" (no list to keep up to date here):

    check_<name>(fn)         a checker; exported as exercises.check_<name>
    solution_<name>          the reference for solution("<name>")
    <NAME>_MISTAKES          its known mistakes, a list of Mistake(fn, hint),
                             collected in exercises.MISTAKES["<name>"]

Modules today:

    _core.py              Case, Mismatch, Mistake, run_cases, needs, ExerciseFailed
    language_modeling.py  M1: shift by one, bigram counts, cross-entropy
    ngrams.py             M1: n-gram counts, add-k smoothing
    embeddings.py         M1: token + position embeddings (the bridge to M3)
    sampling.py           M1: sample the next token, the autoregressive loop
    tokenization.py       M2: pair counts, merge, the next pair to merge
    encoding.py           M2: BPE encoding, decoding, special tokens as boundaries
    transformer.py        M3: stable softmax, RMSNorm, RoPE, masked attention, counting parameters
    flash.py              M4: the online softmax, one tile of FlashAttention's forward loop
    triton_softmax.py     M4: the fused softmax kernel in Triton (checked in its interpreter on a CPU)
    curation.py           M5: a filter rule (stop words), the Luhn check, MinHash, LSH band keys, mixture epochs

Adding a checker: in a module here (a new file for a new course module),
write `check_<concept>(fn)` that builds a list of `Case(label, run)`, where
`run(call)` calls the student's function through `call`, compares the answer
with the reference and raises `Mismatch(problem, hint)`; take the hint from
`known_mistake(<CONCEPT>_MISTAKES, observe, got)` first. Then return
`run_cases("check_<concept>", fn, cases)`, and define `solution_<concept>`.
A checker that needs a GPU or several processes gets `@needs("cuda")` or
`@needs(processes=2)`. tests/test_exercises_core.py then runs the generic
tests on it (passes its solution, fails a stub, gives each mistake its own
hint); add wrong answers written the way a student would write them.

Checkers run inside `torch.random.fork_rng`: checking an exercise does not
change the random numbers the notebook draws afterwards.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from types import ModuleType
from typing import Callable

from ._core import Case, ExerciseFailed, Mismatch, Mistake, known_mistake, needs, run_cases, solutions_switched_off


def _collect(modules: list[ModuleType]) -> tuple[dict[str, Callable], dict[str, Callable], dict[str, list[Mistake]]]:
    """(checkers by name, solutions by exercise, mistakes by exercise) from the modules' names.

    Checkers are the public `check_*` functions a module defines itself; two
    modules defining the same exercise is an error.
    """
    checkers: dict[str, Callable] = {}
    solutions: dict[str, Callable] = {}
    mistakes: dict[str, list[Mistake]] = {}
    where: dict[str, str] = {}
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("check_") and callable(value) and getattr(value, "__module__", None) == module.__name__:
                if name in checkers:
                    raise ImportError(f"{name} is defined twice, in {where[name]} and in {module.__name__}; "
                                      "an exercise belongs to one module")
                checkers[name], where[name] = value, module.__name__
            elif name.startswith("solution_") and callable(value):
                solutions[name.removeprefix("solution_")] = value
            elif name.endswith("_MISTAKES") and isinstance(value, list):
                mistakes[name.removesuffix("_MISTAKES").lower()] = value
    return checkers, solutions, mistakes


ExerciseFailed.__module__ = __name__  # shown in plain-Python tracebacks: minillm.exercises.ExerciseFailed

_MODULES = [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
            if not info.name.startswith("_")]
CHECKERS, SOLUTIONS, MISTAKES = _collect(_MODULES)
globals().update(CHECKERS)


def solution(name: str) -> Callable:
    """A working function for exercise `name`, with the exercise's signature, built from minillm's code.

    For a student who is stuck: `merge = exercises.solution("merge")` lets the
    cells after the exercise run. Refused where MINILLM_NO_SOLUTIONS is set.
    """
    if solutions_switched_off():
        raise PermissionError("solutions are switched off here (MINILLM_NO_SOLUTIONS is set, e.g. for an "
                              "exam): write this function yourself, or ask your instructor")
    key = name.removeprefix("check_") if isinstance(name, str) else name
    if key not in SOLUTIONS:
        close = difflib.get_close_matches(str(key), SOLUTIONS, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        raise LookupError(f"no exercise named {name!r}{guess}; the exercises are: {', '.join(sorted(SOLUTIONS))}")
    return SOLUTIONS[key]


__all__ = ["Case", "ExerciseFailed", "Mismatch", "Mistake", "known_mistake", "needs", "run_cases", "solution",
           "CHECKERS", "SOLUTIONS", "MISTAKES", *CHECKERS]
