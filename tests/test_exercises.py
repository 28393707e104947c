"""The exercise machinery: the M1 checkers, the student-notebook builder, and the notebooks' exercises.

Each checker must pass the package's own implementation, fail a subtly wrong
one with a hint that names the mistake, and fail a stub with "not implemented
yet" (the M2 checkers are tested the same way in test_exercises_tokenization.py).
The student build must leave no solution behind, and every exercise of every
notebook must fail its checker as a stub and pass it as solved.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from minillm import exercises
from minillm.bigram import bigram_counts
from minillm.data import get_batch
from minillm.generate import sample_next

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAKE_STUDENT = ROOT / "scripts" / "make_student.py"


def shift_with_get_batch(ids):
    x, y = get_batch(torch.as_tensor(ids), batch_size=1, block_size=len(ids) - 1)
    return x[0], y[0]


REFERENCES = {
    exercises.check_shift_by_one: shift_with_get_batch,
    exercises.check_bigram_counts: bigram_counts,
    exercises.check_cross_entropy: F.cross_entropy,
    exercises.check_sample_next: sample_next,
}


@pytest.mark.parametrize("checker, reference", REFERENCES.items(), ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_the_reference(checker, reference, capsys):
    checker(reference)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


# ----------------------------------------------------------------------------
# subtly wrong answers, each with a word its hint must contain

def shift_swapped(ids):
    return ids[1:], ids[:-1]


def shift_off_by_two(ids):
    return ids[:-2], ids[2:]


def shift_wraps_around(ids):  # treats the text as a circle: the last token "predicts" the first
    return list(ids), list(ids[1:]) + [ids[0]]


def counts_transposed(ids, V):
    return bigram_counts(ids, V).T


def counts_wrap_around(ids, V):
    return bigram_counts(torch.cat([ids, ids[:1]]), V)


def counts_missing_repeats(ids, V):  # fancy-index += writes each distinct (a, b) once
    counts = torch.zeros(V, V, dtype=torch.long)
    counts[ids[:-1], ids[1:]] += 1
    return counts


def ce_sum(logits, targets):
    return F.cross_entropy(logits, targets, reduction="sum")


def ce_wrong_sign(logits, targets):
    return -F.cross_entropy(logits, targets)


def ce_naive_softmax(logits, targets):  # log of a probability that underflowed to 0 is -inf
    probs = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
    return -probs[torch.arange(len(targets)), targets].log().mean()


def ce_per_position(logits, targets):
    return F.cross_entropy(logits, targets, reduction="none")


def sample_multiplies(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits * temperature, dim=-1), 1, generator=generator)


def sample_ignores_temperature(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


def sample_flat_greedy(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)  # (B,), not (B, 1)
    return sample_next(logits, temperature, generator=generator)


def sample_ignores_generator(logits, temperature=1.0, generator=None):
    return sample_next(logits, temperature)


def sample_in_place(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits /= temperature
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


WRONG = [
    (exercises.check_shift_by_one, shift_swapped, "swapped"),
    (exercises.check_shift_by_one, shift_off_by_two, "3 inputs and 3 targets"),
    (exercises.check_shift_by_one, shift_wraps_around, "4 inputs"),
    (exercises.check_bigram_counts, counts_transposed, "swapped"),
    (exercises.check_bigram_counts, counts_wrap_around, "neighbouring pairs"),
    (exercises.check_bigram_counts, counts_missing_repeats, "accumulate=True"),
    (exercises.check_cross_entropy, ce_sum, "the mean"),
    (exercises.check_cross_entropy, ce_wrong_sign, "sign"),
    (exercises.check_cross_entropy, ce_naive_softmax, "logsumexp"),
    (exercises.check_cross_entropy, ce_per_position, "one number"),
    (exercises.check_sample_next, sample_multiplies, "temperature 0.5"),
    (exercises.check_sample_next, sample_ignores_temperature, "temperature 0.5"),
    (exercises.check_sample_next, sample_flat_greedy, "shape (4, 1)"),
    (exercises.check_sample_next, sample_ignores_generator, "generator=generator"),
    (exercises.check_sample_next, sample_in_place, "in place"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_subtly_wrong_answer_with_a_hint(checker, wrong, hint, capsys):
    with pytest.raises(AssertionError, match=rf"{checker.__name__} failed on case \d+ of \d+") as e:
        checker(wrong)
    assert hint in str(e.value)
    assert "✓" not in capsys.readouterr().out


# every checker of every module, so that a new checker gets these tests for free
ALL_CHECKERS = [getattr(exercises, name) for name in sorted(dir(exercises)) if name.startswith("check_")]


@pytest.mark.parametrize("checker", ALL_CHECKERS, ids=lambda f: f.__name__)
def test_checker_fails_a_stub_with_not_implemented_yet(checker):
    def my_exercise(*args, **kwargs):
        raise NotImplementedError("exercise: replace this line with your solution")

    with pytest.raises(AssertionError, match="`my_exercise` is not implemented yet: fill in the cell"):
        checker(my_exercise)


@pytest.mark.parametrize("checker", ALL_CHECKERS, ids=lambda f: f.__name__)
def test_checker_reports_errors_and_non_functions_as_assertion_errors(checker):
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        checker(lambda *args, **kwargs: 1 / 0)
    with pytest.raises(AssertionError, match="needs the function itself"):
        checker(None)
    with pytest.raises(AssertionError, match="failed on case 1"):
        checker(lambda *args, **kwargs: None)


def test_checking_leaves_the_global_random_stream_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    exercises.check_sample_next(sample_next)
    exercises.check_shift_by_one(shift_with_get_batch)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------
# the student-notebook builder

def load_make_student():
    spec = importlib.util.spec_from_file_location("make_student", MAKE_STUDENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_solutions_keeps_indentation_and_the_code_around():
    make_student = load_make_student()
    source = ("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n"
              "    ### END SOLUTION\n\nprint('after')")
    stripped, regions = make_student.strip_solutions(source)
    assert regions == 1
    assert stripped == (f"def f(x):\n    \"\"\"Doc.\"\"\"\n    {make_student.STUB}\n\nprint('after')")
    compile(stripped, "<cell>", "exec")  # still valid Python


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "has no `### END SOLUTION`"),
    ("x = 1\n### END SOLUTION", "without a `### BEGIN SOLUTION`"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "a second"),
    ("## BEGIN SOLUTION\nx = 1\n### END SOLUTION", "looks like a solution marker"),
])
def test_unbalanced_markers_are_reported(source, message):
    make_student = load_make_student()
    with pytest.raises(make_student.MarkerError, match=message):
        make_student.strip_solutions(source, where="nb.ipynb, cell 3")


def test_make_student_stops_on_an_unbalanced_notebook(tmp_path):
    cell = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1")
    nb = nbformat.v4.new_notebook(cells=[cell])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run([sys.executable, str(MAKE_STUDENT), str(path), "--out", str(tmp_path / "student")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "broken.ipynb, cell 0, line 2" in result.stderr and "### END SOLUTION" in result.stderr
    assert not (tmp_path / "student" / "broken.ipynb").exists()


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, str(MAKE_STUDENT), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_has_no_solutions_and_no_outputs(notebook, student_dir):
    instructor = nbformat.read(notebook, as_version=4)
    student = nbformat.read(student_dir / notebook.name, as_version=4)
    assert len(student.cells) == len(instructor.cells)
    regions = sum(cell.source.count("### BEGIN SOLUTION") for cell in code_cells(instructor))
    stubs = 0
    for cell in code_cells(student):
        assert "SOLUTION" not in cell.source
        assert cell.outputs == [] and cell.execution_count is None
        stubs += cell.source.count('raise NotImplementedError("exercise:')
    assert stubs == regions


def is_import_cell(source):
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and all(line.startswith(("import ", "from ")) for line in lines)


def exercises_of(nb):
    """(index of the exercise cell, checker name, function name) for each exercise of a notebook."""
    cells = nb.cells
    found = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or "### BEGIN SOLUTION" not in cell.source:
            continue
        check = next(c for c in cells[i + 1:] if c.cell_type == "code")
        match = re.search(r"exercises\.(check_\w+)\((\w+)\)", check.source)
        assert match, f"cell {i} is an exercise, but the next code cell calls no checker"
        found.append((i, match.group(1), match.group(2)))
    return found


EXPECTED_EXERCISES = {
    "01_language_modeling.ipynb": ["check_shift_by_one", "check_bigram_counts", "check_cross_entropy",
                                   "check_sample_next"],
    "02_tokenization.ipynb": ["check_pair_counts", "check_merge", "check_most_frequent_pair", "check_encode"],
}


@pytest.mark.parametrize("name", EXPECTED_EXERCISES)
def test_notebook_has_its_exercises(name):
    names = [checker for _, checker, _ in exercises_of(nbformat.read(ROOT / "notebooks" / name, as_version=4))]
    assert names == EXPECTED_EXERCISES[name]


def all_exercises():
    """(notebook name, index of the exercise cell, checker name, function name) for every notebook."""
    return [(path.name, *exercise) for path in NOTEBOOKS
            for exercise in exercises_of(nbformat.read(path, as_version=4))]


@pytest.mark.parametrize("name, index, checker, function", all_exercises(),
                         ids=lambda v: v.removesuffix(".ipynb") if isinstance(v, str) else "")
def test_exercise_fails_as_stub_and_passes_as_solved(name, index, checker, function, student_dir, capsys):
    instructor = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    student = nbformat.read(student_dir / name, as_version=4)
    imports = "\n".join(cell.source for cell in code_cells(instructor) if is_import_cell(cell.source))
    check = getattr(exercises, checker)

    namespace = {}
    exec(imports, namespace)
    for earlier, _, _ in exercises_of(instructor):  # a later exercise may call an earlier one's function
        if earlier < index:
            exec(instructor.cells[earlier].source, namespace)
    exec(student.cells[index].source, namespace)
    with pytest.raises(AssertionError, match=f"`{function}` is not implemented yet"):
        check(namespace[function])

    exec(instructor.cells[index].source, namespace)
    check(namespace[function])
    assert f"✓ {checker}:" in capsys.readouterr().out
