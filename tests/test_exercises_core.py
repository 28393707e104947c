"""The checker machinery, run over every checker: solutions, known mistakes, brief failures, needs, discovery.

Generic tests parametrized over `exercises.CHECKERS`, so a new checker gets
them for free: it passes its own solution, fails a stub with "not implemented
yet", reports errors and non-functions as AssertionErrors, and gives each of
its known mistakes exactly that mistake's hint. Then how a failure shows in
IPython (`_render_traceback_`) and in plain Python, `solution()` and the
MINILLM_NO_SOLUTIONS switch, `@needs` with monkeypatched hardware, and the
discovery of checkers by name.
"""

import importlib
import pkgutil
import re
import traceback
import types

import pytest
import torch

from minillm import exercises, kernels
from minillm.exercises import _core

CHECKERS = exercises.CHECKERS
MISTAKES = [(name, i) for name, mistakes in exercises.MISTAKES.items() for i in range(len(mistakes))]

# Checkers that take a @triton.jit kernel, not a Python function: they run only where Triton is installed (in
# its interpreter on a CPU, which the root conftest.py turns on), and their stub, error and non-kernel tests are
# written with kernels, in test_exercises_triton_softmax.py.
KERNEL_CHECKERS = {"check_softmax_kernel"}
needs_triton = pytest.mark.skipif(not kernels.HAS_TRITON, reason="a kernel checker needs Triton (Linux only)")
FUNCTION_CHECKERS = [name for name in CHECKERS if name not in KERNEL_CHECKERS]


def with_triton_marks(names):
    return [pytest.param(name, marks=needs_triton) if name in KERNEL_CHECKERS else name for name in names]


def exercise_of(checker_name):
    return checker_name.removeprefix("check_")


def failure(checker, fn) -> exercises.ExerciseFailed:
    with pytest.raises(AssertionError) as e:
        checker(fn)
    assert isinstance(e.value, exercises.ExerciseFailed)
    return e.value


# ----------------------------------------------------------------------------
# every checker

def test_every_checker_has_a_solution_and_known_mistakes():
    assert CHECKERS, "no checkers found"
    for name in CHECKERS:
        assert exercise_of(name) in exercises.SOLUTIONS, f"{name} has no solution_{exercise_of(name)}"
        assert exercises.MISTAKES.get(exercise_of(name)), f"{name} has no {exercise_of(name).upper()}_MISTAKES"
    assert set(exercises.SOLUTIONS) == set(exercises.MISTAKES) == {exercise_of(n) for n in CHECKERS}


def test_the_kernel_checkers_are_checkers():  # a renamed kernel checker is renamed here too
    assert KERNEL_CHECKERS <= set(CHECKERS)


@pytest.mark.parametrize("name", with_triton_marks(CHECKERS))
def test_checker_passes_its_solution(name, capsys):
    CHECKERS[name](exercises.solution(exercise_of(name)))
    assert re.fullmatch(rf"✓ {name}: \d+ cases passed\n", capsys.readouterr().out)


@pytest.mark.parametrize("exercise, index", [
    pytest.param(name, i, id=f"{name}-{i}", marks=[needs_triton] if f"check_{name}" in KERNEL_CHECKERS else [])
    for name, i in MISTAKES])
def test_each_known_mistake_gets_its_own_hint(exercise, index, capsys):
    mistake = exercises.MISTAKES[exercise][index]
    e = failure(CHECKERS[f"check_{exercise}"], mistake.fn)
    assert e.hint == mistake.hint, f"mistake {index} got another hint: {e.hint!r}"
    assert f"hint: {mistake.hint}" in str(e)
    assert re.search(rf"check_{exercise} failed on case \d+ of \d+", str(e))
    assert "✓" not in capsys.readouterr().out


@pytest.mark.parametrize("name", FUNCTION_CHECKERS)
def test_checker_fails_a_stub_with_not_implemented_yet(name):
    def my_exercise(*args, **kwargs):
        raise NotImplementedError("exercise: replace this line with your solution")

    e = failure(CHECKERS[name], my_exercise)
    assert "`my_exercise` is not implemented yet: fill in the cell" in str(e)


@pytest.mark.parametrize("name", FUNCTION_CHECKERS)
def test_checker_reports_errors_and_non_functions_as_assertion_errors(name):
    checker = CHECKERS[name]
    assert "raised ZeroDivisionError" in str(failure(checker, lambda *args, **kwargs: 1 / 0))
    assert "needs the function itself" in str(failure(checker, None))
    assert "failed on case 1" in str(failure(checker, lambda *args, **kwargs: None))


def test_checking_leaves_the_global_random_stream_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    exercises.check_sample_next(exercises.solution("sample_next"))
    exercises.check_sample_loop(exercises.solution("sample_loop"))
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------
# a failure, briefly

def merge_overlapping(ids, pair, new_id):  # a student's merge with the overlap bug
    out = []
    for i in range(len(ids) - 1):
        out.append(new_id if (ids[i], ids[i + 1]) == pair else ids[i])
    return out + ids[-1:]


def pair_counts_past_the_end(ids):  # a student's pair_counts that reads past the end
    counts = {}
    for i in range(len(ids)):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def test_a_wrong_answer_renders_in_four_lines():
    e = failure(exercises.check_merge, merge_overlapping)
    lines = e._render_traceback_()
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    assert len(lines) == 4
    assert re.fullmatch(r"✗ check_merge failed on case \d+ of \d+ \(.*\):", lines[0])
    assert re.match(r"merge\(\[.*\], \(\d+, \d+\), \d+\) should give \[.*\], got \[.*\]", lines[1])
    assert lines[2] == f"hint: {exercises.MISTAKES['merge'][0].hint}"
    assert lines[3].startswith('stuck? `merge_overlapping = exercises.solution("merge")` gives you a working')
    assert str(e) == "\n".join([lines[0][2:], *lines[1:]])  # plain Python: the same lines, without the mark


def test_an_error_in_the_students_code_shows_only_their_frames():
    e = failure(exercises.check_pair_counts, pair_counts_past_the_end)
    lines = e._render_traceback_()
    assert lines[0].endswith("`pair_counts_past_the_end` raised IndexError: list index out of range")
    frames = [line for line in lines if line.lstrip().startswith(("File ", "Cell "))]
    assert len(frames) == 1 and frames[0].endswith("in pair_counts_past_the_end")
    assert "pair = (ids[i], ids[i + 1])" in lines[lines.index(frames[0]) + 1]
    assert "IndexError: list index out of range" in lines
    assert not any("minillm/exercises" in line or "run_cases" in line for line in lines)
    assert isinstance(e.__cause__, IndexError)  # the full traceback stays reachable, e.g. for %debug


def test_frames_of_libraries_the_student_calls_are_left_out_too():
    def loop_without_crop(model, ids, max_new_tokens, generator=None):
        for _ in range(max_new_tokens):
            logits, _ = model(ids)  # raises in GPT.forward, called through torch's Module.__call__
            next_id = torch.multinomial(torch.softmax(logits[:, -1], dim=-1), 1, generator=generator)
            ids = torch.cat([ids, next_id], dim=1)
        return ids

    e = failure(exercises.check_sample_loop, loop_without_crop)
    assert len(traceback.extract_tb(e.error.__traceback__)) > 3  # the call, the student, torch, minillm.model
    frames = [line for line in e._render_traceback_() if line.lstrip().startswith(("File ", "Cell "))]
    assert [frame.rsplit(" in ", 1)[1] for frame in frames] == ["loop_without_crop"]
    assert "ValueError: sequence of 9 tokens is longer than the model's block_size 8" in "\n".join(
        e._render_traceback_())
    assert e.hint and "crop the context to its last block_size tokens" in e.hint  # the checker's hint for it


def test_failures_show_briefly_in_a_real_ipython_shell(capsys):
    shell_module = pytest.importorskip("IPython.core.interactiveshell")
    shell = shell_module.InteractiveShell.instance()
    shell.user_ns["merge_overlapping"] = merge_overlapping
    capsys.readouterr()
    shell.run_cell("from minillm import exercises\nexercises.check_merge(merge_overlapping)")
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert "✗ check_merge failed on case" in out and "hint: occurrences can't overlap" in out
    assert "Traceback" not in out and "run_cases" not in out
    assert len(out.strip().splitlines()) == 4


# ----------------------------------------------------------------------------
# the way forward, and switching it off

def test_solution_returns_a_function_with_the_exercises_signature():
    merge = exercises.solution("merge")
    assert merge([7, 7, 7], (7, 7), 8) == [8, 7]
    assert exercises.solution("check_merge") is merge  # the checker's name works too
    assert exercises.solution("decode")([104, 105], [bytes([b]) for b in range(256)]) == "hi"


def test_an_unknown_exercise_names_the_ones_there_are():
    with pytest.raises(LookupError, match=r"no exercise named 'mrege' \(did you mean 'merge'\?\); the exercises "
                                          r"are: add_k_prob, .*merge.*, split_special"):
        exercises.solution("mrege")


def test_no_solutions_switch(monkeypatch):
    monkeypatch.setenv("MINILLM_NO_SOLUTIONS", "1")
    with pytest.raises(PermissionError, match="solutions are switched off here"):
        exercises.solution("merge")
    e = failure(exercises.check_merge, merge_overlapping)
    assert "stuck?" not in str(e) and "solution(" not in "\n".join(e._render_traceback_())
    assert e.hint  # the feedback itself stays

    monkeypatch.setenv("MINILLM_NO_SOLUTIONS", "0")  # 0 or empty: solutions on
    assert exercises.solution("merge")([1, 2], (1, 2), 3) == [3]
    assert "stuck?" in str(failure(exercises.check_merge, merge_overlapping))


# ----------------------------------------------------------------------------
# checkers that need hardware

def make_checker(calls, **needed):
    device = needed.pop("device", None)

    @exercises.needs(device, **needed)
    def check_something(fn):
        calls.append(fn)
        print("✓ check_something: 1 cases passed")
    return check_something


def test_a_gpu_checker_is_skipped_without_a_gpu(monkeypatch, capsys):
    calls = []
    check = make_checker(calls, device="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check(print) is None
    assert calls == []
    assert capsys.readouterr().out == ("- check_something skipped: needs a CUDA GPU, run this on a GPU runtime "
                                       "(Colab: Runtime > Change runtime type)\n")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check(print)
    assert calls == [print] and "✓" in capsys.readouterr().out
    assert check.__name__ == "check_something" and check.needs == ("cuda", 1)


def test_a_checker_for_two_processes(monkeypatch, capsys):
    calls = []
    check = make_checker(calls, processes=2)
    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    check(print)
    assert calls == [] and "skipped: needs 2 processes talking through torch.distributed" in capsys.readouterr().out
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    check(print)
    assert calls == [print]


def test_a_checker_for_two_gpus(monkeypatch, capsys):
    calls = []
    check = make_checker(calls, device="cuda", processes=2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    check(print)
    assert calls == [] and "needs 2 CUDA GPUs, one per process (this machine has 1)" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check(print)
    assert calls == [print]


@pytest.mark.parametrize("args, kwargs", [(("tpu",), {}), ((), {"processes": 0}), ((), {"processes": 1.5})])
def test_needs_refuses_what_it_cant_check(args, kwargs):
    with pytest.raises(ValueError):
        exercises.needs(*args, **kwargs)


# ----------------------------------------------------------------------------
# discovery by name

def test_every_public_checker_of_every_module_is_exported():
    found = set()
    for info in pkgutil.iter_modules(exercises.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"minillm.exercises.{info.name}")
        found |= {name for name, value in vars(module).items()
                  if name.startswith("check_") and getattr(value, "__module__", None) == module.__name__}
    assert found == set(CHECKERS)
    for name in found:
        assert getattr(exercises, name) is CHECKERS[name] and name in exercises.__all__


def fake_module(name, imported=None, **own):
    """A module `name` that defines the functions in `own` and imports the names in `imported`."""
    module = types.ModuleType(name)
    for key, value in own.items():
        if isinstance(value, types.FunctionType):
            value.__module__ = name
        setattr(module, key, value)
    for key, value in (imported or {}).items():
        setattr(module, key, value)
    return module


def test_collect_finds_checkers_solutions_and_mistakes_by_name():
    def check_thing(fn): ...
    def solution_thing(x): ...
    mistakes = [exercises.Mistake(lambda x: x, "a hint")]
    module = fake_module("course.m9", imported={"check_merge": exercises.check_merge}, check_thing=check_thing,
                         solution_thing=solution_thing, THING_MISTAKES=mistakes)
    checkers, solutions, found = exercises._collect([module])
    assert checkers == {"check_thing": check_thing}  # not the checker it imports
    assert solutions == {"thing": solution_thing} and found == {"thing": mistakes}


def test_collect_refuses_one_exercise_in_two_modules():
    def check_thing(fn): ...
    def check_thing_too(fn): ...
    first = fake_module("course.a", check_thing=check_thing)
    second = fake_module("course.b", check_thing=check_thing_too)
    with pytest.raises(ImportError, match="check_thing is defined twice, in course.a and in course.b"):
        exercises._collect([first, second])


def test_known_mistake_skips_mistakes_that_raise():
    def observe(fn):
        return fn(3)

    mistakes = [exercises.Mistake(lambda x: 1 / 0, "raises"), exercises.Mistake(lambda x: x + 1, "off by one")]
    assert exercises.known_mistake(mistakes, observe, 4) == "off by one"
    assert exercises.known_mistake(mistakes, observe, 5) is None
    assert _core.known_mistake([], observe, 4) is None
