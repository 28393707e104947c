"""The M4 Triton checker, the fused softmax kernel: right kernels pass however they are written, each typical
mistake fails with the hint that names it, and what is no kernel, or can't run here, is refused clearly.

Without a GPU the kernels run on CPU tensors in Triton's interpreter: the root conftest.py sets
TRITON_INTERPRET=1 before any kernel is defined, those in this file too. With one, they compile. The wrong
kernels below are written the way a student would write them, not with the checker's own mistakes, so that
a hint is only found when the checker really recognises the mistake. (The checker's own mistakes, its
solution and the package's kernel are run in test_exercises_core.py and below.)
"""

import os
import re
import subprocess
import sys
import time

import pytest
import torch

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402

from minillm import exercises, kernels  # noqa: E402
from minillm.exercises import triton_softmax  # noqa: E402
from minillm.kernels.softmax import _softmax_rows  # noqa: E402

if not torch.cuda.is_available() and not kernels.interpreting():
    pytest.skip("no GPU and TRITON_INTERPRET is not set (run through pytest, whose conftest sets it)",
                allow_module_level=True)

check = exercises.check_softmax_kernel

# ----------------------------------------------------------------------------
# right kernels


@triton.jit
def softmax_exp2(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):  # base 2, as the FlashAttention kernels
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + offs, mask=offs < n_cols, other=-float("inf")).to(tl.float32)
    p = tl.exp2((x - tl.max(x, 0)) * 1.4426950408889634)
    tl.store(Y + row * stride_y + offs, p / tl.sum(p, 0), mask=offs < n_cols)


@triton.jit
def softmax_zero_then_where(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):  # -inf put in after loading
    pid = tl.program_id(axis=0)
    cols = tl.arange(0, BLOCK)
    inside = cols < n_cols
    x = tl.load(X + pid * stride_x + cols, mask=inside, other=0.0).to(tl.float32)
    x = tl.where(inside, x, float("-inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    inverse = 1.0 / tl.sum(e, axis=0)  # one division, then multiply
    tl.store(Y + pid * stride_y + cols, (e * inverse).to(Y.dtype.element_ty), mask=inside)


@triton.jit
def softmax_log_space(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):  # exp(x - log-sum-exp)
    row = tl.program_id(0).to(tl.int64)
    x_row = X + row * stride_x
    y_row = Y + row * stride_y
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_row + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    m = tl.max(x, axis=0)
    lse = m + tl.log(tl.sum(tl.exp(x - m), axis=0))
    tl.store(y_row + cols, tl.exp(x - lse), mask=cols < n_cols)


@triton.jit
def softmax_masked_twice(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):  # -inf, and the exp masked too
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(X + row * stride_x + cols, mask=mask, other=float("-inf"))
    numerator = tl.where(mask, tl.exp(x.to(tl.float32) - tl.max(x, axis=0)), 0.0)
    denominator = tl.sum(numerator, axis=0)
    tl.store(Y + row * stride_y + cols, numerator / denominator, mask=mask)


RIGHT = [exercises.solution("softmax_kernel"), _softmax_rows, softmax_exp2, softmax_zero_then_where,
         softmax_log_space, softmax_masked_twice]


@pytest.mark.parametrize("kernel", RIGHT, ids=lambda k: k.fn.__name__)
def test_checker_passes_right_kernels(kernel, capsys):
    check(kernel)
    assert re.fullmatch(r"✓ check_softmax_kernel: \d+ cases passed\n", capsys.readouterr().out)


@pytest.mark.skipif(not kernels.interpreting(), reason="times the interpreter; on a GPU each kernel compiles first")
def test_the_whole_check_takes_seconds_in_the_interpreter(capsys):
    start = time.perf_counter()
    check(softmax_exp2)
    with pytest.raises(AssertionError):  # a failure also runs every known mistake, for its hint
        check(no_store_mask)
    assert time.perf_counter() - start < 20  # about 0.3 s on a 2-core CPU; generous for a busy machine


# ----------------------------------------------------------------------------
# wrong kernels, each with the hint it should get


@triton.jit
def no_max(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf"))
    num = tl.exp(x)
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


@triton.jit
def masked_lanes_zero(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=0.0)
    x = x - tl.max(x, axis=0)
    num = tl.exp(x)
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


@triton.jit
def masked_lanes_zero_left_out_of_the_sum(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    inside = cols < n_cols
    x = tl.load(X + row * stride_x + cols, mask=inside, other=0.0)
    num = tl.exp(x - tl.max(x, axis=0))
    num = tl.where(inside, num, 0.0)
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=inside)


@triton.jit
def no_load_mask(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols)
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


@triton.jit
def no_store_mask(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0))


@triton.jit
def rows_n_cols_apart(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    start = tl.program_id(0) * n_cols
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + start + cols, mask=cols < n_cols, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + start + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


@triton.jit
def rows_block_apart(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = tl.arange(0, BLOCK) < n_cols
    x = tl.load(X + offsets, mask=mask, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + offsets, num / tl.sum(num, axis=0), mask=mask)


@triton.jit
def one_stride_for_both(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * stride_x + tl.arange(0, BLOCK)
    mask = tl.arange(0, BLOCK) < n_cols
    x = tl.load(X + offsets, mask=mask, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + offsets, num / tl.sum(num, axis=0), mask=mask)


@triton.jit
def arange_to_n_cols(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, n_cols)
    x = tl.load(X + row * stride_x + cols)
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0))


@triton.jit
def wrong_axis_of_the_grid(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):  # every program does row 0
    row = tl.program_id(1)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


@triton.jit
def normalises_x_in_place(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf"))
    num = tl.exp(x - tl.max(x, axis=0))
    tl.store(X + row * stride_x + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)
    tl.store(Y + row * stride_y + cols, num / tl.sum(num, axis=0), mask=cols < n_cols)


WRONG = [
    (no_max, "subtract the row's max before the exp"),
    (masked_lanes_zero, "load the masked lanes as -inf, other=float('-inf'), not 0.0"),
    (masked_lanes_zero_left_out_of_the_sum, "leaving them out of the sum is not enough"),
    (no_load_mask, "mask the load"),
    (no_store_mask, "mask the store too"),
    (rows_n_cols_apart, "X + row * stride_x and Y + row * stride_y"),
    (rows_block_apart, "X + row * stride_x and Y + row * stride_y"),
    (one_stride_for_both, "X and Y have a stride each"),
    (arange_to_n_cols, "tl.arange(0, BLOCK) with the parameter declared BLOCK: tl.constexpr"),
    (wrong_axis_of_the_grid, "every program stores its own row: row = tl.program_id(0)"),
    (normalises_x_in_place, "store into Y only"),
]


@pytest.mark.parametrize("wrong, hint", WRONG, ids=[w.fn.__name__ for w, _ in WRONG])
def test_checker_fails_a_wrong_kernel_with_its_hint(wrong, hint, fails_with_hint):
    fails_with_hint(check, wrong, hint)


def test_every_known_mistake_has_a_wrong_kernel_here():
    for mistake in triton_softmax.SOFTMAX_KERNEL_MISTAKES:
        assert any(hint in mistake.hint for _, hint in WRONG), f"no wrong kernel here gets {mistake.hint!r}"


def test_a_failure_shows_the_launch_and_the_row():
    with pytest.raises(AssertionError) as e:
        check(masked_lanes_zero)
    lines = str(e.value).splitlines()
    assert lines[0] == ("check_softmax_kernel failed on case 2 of 10 (3 rows of 10 scores, BLOCK 16, in X and Y "
                        "with rows 16 apart: the last 6 lanes masked):")
    assert lines[1].startswith("launched as masked_lanes_zero[(3,)](X, Y, n_cols=10, stride_x=16, stride_y=16, "
                               "BLOCK=16): row 0 of Y should be the softmax of its scores [")
    assert lines[-1].startswith('stuck? `masked_lanes_zero = exercises.solution("softmax_kernel")`')


def test_a_store_past_the_row_names_where():
    with pytest.raises(AssertionError, match=r"the kernel wrote 0 at Y\[0, 10\], past the 10 numbers of row 0 "
                                             r"\(its rows are 16 apart\), where nothing may be written"):
        check(no_store_mask)


def test_a_row_never_written_says_so():
    with pytest.raises(AssertionError, match=r"row 1 of Y was never written, it still holds -123.25"):
        check(wrong_axis_of_the_grid)


# ----------------------------------------------------------------------------
# what is not a kernel, a stub, a kernel that raises, and where kernels can't run


def softmax_kernel(X, Y, n_cols, stride_x, stride_y, BLOCK):  # a plain function: no @triton.jit
    raise AssertionError("the checker must not call a plain function")


@triton.jit
def stub(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    raise NotImplementedError("exercise: replace this line with your solution")


@triton.jit
def divides_by_zero(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    scale = 1 / 0
    tl.store(Y + row * stride_y, scale)


@triton.jit
def does_nothing(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)


@triton.jit
def three_arguments(X, Y, n_cols):
    row = tl.program_id(0)


def failure(kernel) -> exercises.ExerciseFailed:
    with pytest.raises(AssertionError) as e:
        check(kernel)
    assert isinstance(e.value, exercises.ExerciseFailed)
    return e.value


def test_a_plain_python_function_is_refused_with_the_decorator_to_add():
    e = failure(softmax_kernel)
    assert str(e).startswith("check_softmax_kernel needs a Triton kernel, and `softmax_kernel` is a plain Python "
                             "function:")
    assert e.hint.startswith("put @triton.jit on the line above `def softmax_kernel` and run that cell again")


def test_what_is_not_a_function_is_refused():
    assert "needs the kernel itself, not None" in str(failure(None))
    assert "needs the kernel itself" in str(failure(torch.zeros(3)))


def test_a_stub_is_not_implemented_yet():
    assert "`stub` is not implemented yet: fill in the cell" in str(failure(stub))


def test_an_error_in_the_kernel_is_reported_with_the_students_frame():
    e = failure(divides_by_zero)
    assert "failed on case 1 of 10" in str(e) and "`divides_by_zero` raised " in str(e)
    if kernels.interpreting():  # it runs the kernel's own lines (compiled, the error is Triton's CompilationError)
        assert isinstance(e.error, ZeroDivisionError) and "raised ZeroDivisionError: division by zero" in str(e)
        shown = "\n".join(e._render_traceback_())
        assert "in divides_by_zero" in shown and "scale = 1 / 0" in shown


def test_a_kernel_that_writes_nothing_fails_the_first_case():
    e = failure(does_nothing)
    assert "failed on case 1 of 10" in str(e) and "row 0 of Y was never written" in str(e)


def test_a_kernel_with_another_signature_is_refused_before_it_runs():
    e = failure(three_arguments)
    assert "`three_arguments` takes (X, Y, n_cols)" in str(e)
    assert e.hint == "give it the signature (X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr)"


def test_without_triton_the_checker_says_to_install_it(monkeypatch):
    monkeypatch.setattr(triton_softmax, "HAS_TRITON", False)
    e = failure(stub)
    assert "needs Triton to run `stub`, and it is not installed here" in str(e) and "pip install triton" in e.hint


def compiled_kernel():
    """A kernel defined with the interpreter off, as on a CPU where TRITON_INTERPRET was never set."""
    def softmax_kernel(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
        row = tl.program_id(0)

    return softmax_kernel


def test_on_a_cpu_without_the_interpreter_the_checker_says_how_to_turn_it_on(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    e = failure(triton.jit(compiled_kernel()))
    assert str(e).startswith("check_softmax_kernel can't run `softmax_kernel` here: `softmax_kernel` compiles for "
                             "a CUDA GPU, this machine has none, and Triton's interpreter is off")
    assert "os.environ['TRITON_INTERPRET'] = '1'" in e.hint and "restart" in e.hint

    kernel = triton.jit(compiled_kernel())
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # on now, but after the kernel was defined
    e = failure(kernel)
    assert "Triton's interpreter is on now, but `softmax_kernel` was defined before it was" in str(e)
    assert e.hint.startswith("run the cell that defines `softmax_kernel` again")


# ----------------------------------------------------------------------------
# the paths this machine may not take: no Triton at all, compiled for a GPU

def test_the_exercises_import_without_triton_and_the_checker_says_why():
    code = ("import sys; sys.modules['triton'] = None\n"  # makes `import triton` raise ImportError
            "from minillm import exercises\n"
            "def softmax_kernel(X, Y, n_cols, stride_x, stride_y, BLOCK):\n"
            "    pass\n"
            "try:\n"
            "    exercises.check_softmax_kernel(softmax_kernel)\n"
            "except AssertionError as e:\n"
            "    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "needs Triton to run `softmax_kernel`, and it is not installed here" in run.stdout


NO_CAST = '''
import triton
import triton.language as tl


@triton.jit
def no_cast(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf"))
    e = tl.exp(x - tl.max(x, axis=0).to(x.dtype))
    tl.store(Y + row * stride_y + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)
'''

COMPILE = '''
import no_cast
from minillm.exercises import triton_softmax
from minillm.kernels.configs import shared_memory

def compile(kernel, dtype, block):  # ahead of time, for compute capability 8.0: no GPU needed
    signature = dict(X="*" + dtype, Y="*" + dtype, n_cols="i32", stride_x="i32", stride_y="i32")
    shared_memory(kernel, signature, dict(BLOCK=block), arch=80, num_warps=4, num_stages=1)

kernels = [triton_softmax.solution_softmax_kernel, *(m.fn for m in triton_softmax.SOFTMAX_KERNEL_MISTAKES)]
for kernel in kernels:
    for dtype, block in [("fp32", 1), ("fp32", 16), ("fp16", 32)]:
        compile(kernel, dtype, block)
print(f"compiled {len(kernels)} kernels")
compile(no_cast.no_cast, "fp32", 16)
try:
    compile(no_cast.no_cast, "fp16", 16)
except Exception as e:
    print(triton_softmax._error_hint(e))
'''


def test_the_checkers_kernels_compile_for_a_gpu_and_a_float16_exp_gets_a_hint(tmp_path):
    """On a GPU the kernels compile, and Triton refuses what the interpreter lets pass: tl.exp of float16.

    In a fresh process: compiling ahead of time needs kernels defined without TRITON_INTERPRET.
    """
    (tmp_path / "no_cast.py").write_text(NO_CAST)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    run = subprocess.run([sys.executable, "-c", COMPILE], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"compiled {1 + len(triton_softmax.SOFTMAX_KERNEL_MISTAKES)} kernels"
    assert lines[1].startswith("compute in float32, x = tl.load(...).to(tl.float32): compiled, tl.exp takes")
