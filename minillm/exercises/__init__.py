"""Exercise checkers: run a student's function against minillm's own code.

Every exercise in the notebooks follows one pattern:

1. An exercise cell defines a function. In the instructor notebook its body
   lies between a `### BEGIN SOLUTION` line and a `### END SOLUTION` line;
   `scripts/make_student.py` replaces that region with
   `raise NotImplementedError("exercise: ...")` in the student notebook.
2. The next cell hands the function (not its result) to a checker here:
   `exercises.check_shift_by_one(shift_by_one)`.
3. The checker calls it on a few small inputs, seeded random ones and edge
   cases, and compares every answer with the package's implementation (or
   PyTorch's). When all agree it prints one line,

       ✓ check_shift_by_one: 6 cases passed

   and at the first disagreement it raises AssertionError naming the case,
   what was expected, what came back, and a hint. A function that still raises
   NotImplementedError gets a "not implemented yet" AssertionError, so a
   student notebook run top to bottom stops at the first unsolved exercise.

One module per course module holds its checkers, and this package re-exports
them all, so a notebook only needs `from minillm import exercises`:

    _core.py              Case, Mismatch, run_cases and small helpers
    language_modeling.py  M1: shift by one, bigram counts, cross-entropy, sampling
    tokenization.py       M2: pair counts, merge, the next pair, BPE encoding

Adding a checker for a later module: in that module's file, write
`check_<concept>(fn)` that builds a list of `Case(label, run)`, where
`run(call)` calls the student's function through `call` (which turns its
exceptions into clear messages), compares the answer with the reference and
raises `Mismatch("what is wrong; a nudge")`; then return
`run_cases("check_<concept>", fn, cases)`, and re-export it below. In the
tests, show that it passes on the reference and fails on a subtly wrong
version and on a stub.

Checkers run inside `torch.random.fork_rng`: checking an exercise does not
change the random numbers the notebook draws afterwards.
"""

from ._core import Case, Mismatch, run_cases
from .language_modeling import check_bigram_counts, check_cross_entropy, check_sample_next, check_shift_by_one
from .tokenization import check_encode, check_merge, check_most_frequent_pair, check_pair_counts

__all__ = [
    "Case", "Mismatch", "run_cases",
    "check_shift_by_one", "check_bigram_counts", "check_cross_entropy", "check_sample_next",
    "check_pair_counts", "check_merge", "check_most_frequent_pair", "check_encode",
]
