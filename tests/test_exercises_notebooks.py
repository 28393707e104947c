"""The notebooks' exercises: building the student notebooks, stubs and solutions.

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

from minillm import exercises, kernels

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAKE_STUDENT = ROOT / "scripts" / "make_student.py"


def load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


INSTRUCTOR = {path.name: nbformat.read(path, as_version=4) for path in NOTEBOOKS}


# ----------------------------------------------------------------------------
# the student-notebook builder

def test_strip_solutions_keeps_indentation_and_the_code_around():
    make_student = load_script(MAKE_STUDENT)
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
    make_student = load_script(MAKE_STUDENT)
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
    result = subprocess.run([sys.executable, str(MAKE_STUDENT), *map(str, NOTEBOOKS), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


# ----------------------------------------------------------------------------
# the notebooks' exercises

def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name", INSTRUCTOR)
def test_student_notebook_has_no_solutions_and_no_outputs(name, student_dir):
    instructor = INSTRUCTOR[name]
    student = nbformat.read(student_dir / name, as_version=4)
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
                                   "check_count_ngrams", "check_add_k_prob", "check_embed", "check_sample_next",
                                   "check_sample_loop"],
    "02_tokenization.ipynb": ["check_pair_counts", "check_merge", "check_most_frequent_pair", "check_encode",
                              "check_decode", "check_split_special"],
    "03_transformer.ipynb": ["check_stable_softmax", "check_masked_attention", "check_rms_norm", "check_apply_rope",
                             "check_count_params"],
    "04_attention_kernels.ipynb": ["check_online_softmax", "check_flash_tile_update", "check_softmax_kernel"],
    "05_data.ipynb": ["check_few_stop_words", "check_minhash_signature", "check_band_keys", "check_luhn_valid",
                      "check_epochs_elapsed"],
}


@pytest.mark.parametrize("name", EXPECTED_EXERCISES)
def test_notebook_has_its_exercises(name):
    assert [checker for _, checker, _ in exercises_of(INSTRUCTOR[name])] == EXPECTED_EXERCISES[name]


def test_every_checker_has_an_exercise_in_a_notebook():
    used = {checker for nb in INSTRUCTOR.values() for _, checker, _ in exercises_of(nb)}
    assert used == set(exercises.CHECKERS)


run_cell = load_script(ROOT / "scripts" / "run_notebook.py").run_cell  # as scripts/run_notebook.py runs cells


def test_run_cell_lets_inspect_read_what_a_cell_defines():
    """@triton.jit reads its function's source (a KeyError in the interpreter otherwise): exec alone can't give it."""
    import inspect

    namespace = {}
    run_cell("def kernel(x):\n    return x + 1\n", namespace, "<a notebook cell>")
    assert inspect.getsource(namespace["kernel"]) == "def kernel(x):\n    return x + 1\n"


ALL_EXERCISES = [(name, *exercise) for name, nb in INSTRUCTOR.items() for exercise in exercises_of(nb)]
KERNEL_EXERCISES = {"check_softmax_kernel"}  # their cells import Triton (Linux only)


@pytest.mark.parametrize("name, index, checker, function", [
    pytest.param(name, index, checker, function, id=f"{name.removesuffix('.ipynb')}-{function}",
                 marks=pytest.mark.skipif(checker in KERNEL_EXERCISES and not kernels.HAS_TRITON,
                                          reason="a Triton kernel exercise needs Triton (Linux only)"))
    for name, index, checker, function in ALL_EXERCISES])
def test_exercise_fails_as_stub_and_passes_as_solved(name, index, checker, function, student_dir, capsys):
    instructor = INSTRUCTOR[name]
    student = nbformat.read(student_dir / name, as_version=4)
    imports = "\n".join(cell.source for cell in code_cells(instructor) if is_import_cell(cell.source))
    check = getattr(exercises, checker)

    namespace = {}
    exec(imports, namespace)
    for earlier, _, _ in exercises_of(instructor):  # a later exercise may call an earlier one's function
        if earlier < index:
            run_cell(instructor.cells[earlier].source, namespace, f"<{name} cell {earlier}>")
    run_cell(student.cells[index].source, namespace, f"<student {name} cell {index}>")
    with pytest.raises(AssertionError, match=f"`{function}` is not implemented yet"):
        check(namespace[function])

    run_cell(instructor.cells[index].source, namespace, f"<{name} cell {index}>")
    check(namespace[function])
    assert f"✓ {checker}:" in capsys.readouterr().out
