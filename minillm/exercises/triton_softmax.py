"""Checker for module M4 (notebook 04, Triton): the fused softmax kernel, one program per row.

The student writes a `@triton.jit` kernel with the signature of the package's
`minillm.kernels.softmax._softmax_rows`,

    softmax_kernel(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr)

and the checker launches it itself, as `minillm.kernels.softmax.softmax` does:
one program per row, BLOCK = triton.next_power_of_2(n_cols). It compares Y
with torch.softmax (float64) on the inputs where the usual bugs show:

    the inputs                                   the bugs they show
    3 rows of 10 scores (BLOCK 16), 16 apart in  a load without mask, masked lanes loaded as 0.0 (each adds
    X and in Y, with padding after each row      exp(0 - max) to the sum), a store without mask, rows n_cols apart
    scores all negative                          masked lanes loaded as 0.0
    scores near 1e3; near -1e3                   no max subtracted (exp(1000) is inf in float32); masked lanes
                                                 loaded as 0.0 and left out of the sum (0 is then the max)
    X and Y slices of wider tensors, their rows  rows BLOCK apart; Y's rows stride_x apart
    24 and 20 apart
    a row of one score, masked scores (-inf),    anything else; float16 in and out
    40 scores (BLOCK 64), float16

Where it runs: a kernel defined while Triton's interpreter was on
(TRITON_INTERPRET=1, which notebook 04 sets on a CPU) runs there, on CPU
tensors, one program after another; any other kernel compiles for a CUDA GPU.
Without either, or without Triton, the checker says what to do instead.

Every buffer is padded so that the known wrong kernels touch only memory the
checker allocated: X's numbers outside its rows are large (an unmasked load
reads them into the softmax), Y starts filled with a number no softmax gives
(a masked store must leave it there), and both extend past their last row by
enough for a row offset of up to max(stride_x, stride_y, BLOCK) per row. A
wilder bug can still read outside them: the interpreter then reads garbage or
crashes, and a GPU may fault.

The interpreter computes in numpy: float32 and float16 are exact enough to
compare, bfloat16 is wrong there (numpy has none), so it is not checked. A
kernel that forgets .to(tl.float32) is no known mistake: in the interpreter
its float16 softmax came out the same, and compiled, Triton refuses tl.exp of
float16 outright, an error the checker gives a hint for.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import torch

from ..kernels import HAS_TRITON, interpreting
from ._core import Case, ExerciseFailed, Mismatch, Mistake, known_mistake, run_cases

if HAS_TRITON:
    import triton
    import triton.language as tl
    from triton.runtime import InterpreterError, KernelInterface
    from triton.runtime.interpreter import InterpretedFunction

    jit = triton.jit
else:  # Triton is Linux-only: without it the kernels below stay plain functions, which nothing launches
    def jit(fn):
        return fn

CHECKER = "check_softmax_kernel"
SIGNATURE = "(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr)"
_PADDING = 100.0      # X outside its rows: an unmasked load reads these into the softmax
_UNWRITTEN = -123.25  # Y before the kernel runs: no softmax gives it, and float16 holds it exactly

# ----------------------------------------------------------------------------
# the kernel, and its known mistakes


@jit
def solution_softmax_kernel(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    # one program per row: Y[row, :n_cols] = softmax(X[row, :n_cols]), in float32
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)    # BLOCK is n_cols rounded up to a power of two ...
    inside = cols < n_cols        # ... so the lanes past the row's end are masked
    x = tl.load(X + row * stride_x + cols, mask=inside, other=float("-inf")).to(tl.float32)
    x = x - tl.max(x, axis=0)     # subtract the row's max: exp never overflows
    e = tl.exp(x)                 # masked lanes: exp(-inf) = 0, nothing added to the sum
    y = e / tl.sum(e, axis=0)
    tl.store(Y + row * stride_y + cols, y.to(Y.dtype.element_ty), mask=inside)


@jit
def _stable(x):
    # the stable softmax of one loaded row, for the mistakes whose bug is elsewhere
    e = tl.exp(x - tl.max(x, axis=0))
    return e / tl.sum(e, axis=0)


@jit
def _no_max(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    e = tl.exp(x)
    tl.store(Y + row * stride_y + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)


@jit
def _other_zero(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    tl.store(Y + row * stride_y + cols, _stable(x), mask=cols < n_cols)


@jit
def _other_zero_summed_inside(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    e = tl.where(cols < n_cols, tl.exp(x - tl.max(x, axis=0)), 0.0)  # a right sum, but the max may be a 0
    tl.store(Y + row * stride_y + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)


@jit
def _load_unmasked(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols).to(tl.float32)
    tl.store(Y + row * stride_y + cols, _stable(x), mask=cols < n_cols)


@jit
def _store_unmasked(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    tl.store(Y + row * stride_y + cols, _stable(x))


@jit
def _rows_n_cols_apart(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * n_cols + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    tl.store(Y + row * n_cols + cols, _stable(x), mask=cols < n_cols)


@jit
def _rows_block_apart(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * BLOCK + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    tl.store(Y + row * BLOCK + cols, _stable(x), mask=cols < n_cols)


@jit
def _y_with_stride_x(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
    tl.store(Y + row * stride_x + cols, _stable(x), mask=cols < n_cols)


_STORE_MASK = ("mask the store too, tl.store(Y + row * stride_y + cols, y, mask=cols < n_cols): the lanes past "
               "n_cols (BLOCK is n_cols rounded up to a power of two) would write into whatever follows the row in "
               "Y, another row's output or memory past Y's end; on a GPU the programs run at once and race there")

_ROW_STRIDE = ("a row starts stride numbers after the one before, and that is n_cols (or BLOCK) only for some "
               "contiguous tensors: X + row * stride_x and Y + row * stride_y (a slice x[:, :12] of a wider tensor "
               "has rows more than 12 apart, and the launcher passes x.stride(0))")

SOFTMAX_KERNEL_MISTAKES = [
    Mistake(_load_unmasked,
            "mask the load, tl.load(X + row * stride_x + cols, mask=cols < n_cols, other=float('-inf')): BLOCK is "
            "n_cols rounded up to a power of two, and unmasked the lanes past n_cols read whatever follows the "
            "row (the next row, or the padding of a strided tensor) into its softmax"),
    Mistake(_other_zero,
            "load the masked lanes as -inf, other=float('-inf'), not 0.0: each 0.0 adds exp(0 - max) to the sum "
            "(and is the max of a row of negative scores), where exp(-inf - max) = 0 adds nothing"),
    # before _no_max: on scores near -1e3 both give nan everywhere, and only this one gets that far
    Mistake(_other_zero_summed_inside,
            "load the masked lanes as -inf, other=float('-inf'): leaving them out of the sum is not enough, as "
            "a 0.0 is still the max of a row of negative scores, and scores near -1e3 minus that max underflow, "
            "exp(-1000) = 0, so 0 / 0 = nan"),
    Mistake(_no_max,
            "subtract the row's max before the exp, x = x - tl.max(x, axis=0): exp(1000) overflows float32 to "
            "inf, and inf / inf is nan (exp(-1000) underflows to 0, and 0 / 0 is nan); softmax(x - max) is the "
            "same softmax, with every exp at most 1"),
    Mistake(_store_unmasked, _STORE_MASK),
    Mistake(_rows_n_cols_apart, _ROW_STRIDE),
    Mistake(_rows_block_apart, _ROW_STRIDE),
    Mistake(_y_with_stride_x,
            "X and Y have a stride each: store at Y + row * stride_y + cols, not row * stride_x (they differ "
            "when either is a slice of a wider tensor)"),
]


def _error_hint(error: BaseException) -> str | None:
    message = f"{error} {error.__cause__ or ''}"  # Triton 3.2 keeps the reason in the cause, later ones in both
    if "arange's arguments must be of type tl.constexpr" in message:
        return ("tl.arange takes bounds known when the kernel is compiled: tl.arange(0, BLOCK) with the parameter "
                "declared BLOCK: tl.constexpr; n_cols is known only at run time, so mask with cols < n_cols")
    if "Expected dtype ['fp32', 'fp64'] but got fp16" in message:  # compiled only; the interpreter takes float16
        return ("compute in float32, x = tl.load(...).to(tl.float32): compiled, tl.exp takes float32 or float64, "
                "and float16 scores load as float16 (store back in Y's type, y.to(Y.dtype.element_ty))")
    return None


# ----------------------------------------------------------------------------
# launching the student's kernel


def _name(kernel) -> str:
    return getattr(getattr(kernel, "fn", kernel), "__name__", "your kernel")


def _is_stub(kernel) -> bool:
    """The student notebook's stub, whose body raises NotImplementedError (compiled, `raise` is a
    CompilationError; in the interpreter it raises, wrapped)."""
    try:
        return "raise NotImplementedError" in inspect.getsource(kernel.fn)
    except (AttributeError, OSError, TypeError):
        return False


def _device(kernel) -> str:
    """Where `kernel` runs: "cpu" for one made by the interpreter, else "cuda"; or ExerciseFailed saying why neither."""
    if isinstance(kernel, InterpretedFunction):
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    name = _name(kernel)
    if interpreting():
        why = (f"Triton's interpreter is on now, but `{name}` was defined before it was, so it compiles for a "
               f"GPU, and this machine has none")
        fix = (f"run the cell that defines `{name}` again; if the hints look wrong, restart and run the notebook "
               "from the top, so that TRITON_INTERPRET=1 is set before minillm is imported")
    else:
        why = f"`{name}` compiles for a CUDA GPU, this machine has none, and Triton's interpreter is off"
        fix = ("turn the interpreter on before any kernel is defined: restart, run import os; "
               "os.environ['TRITON_INTERPRET'] = '1' first (notebook 04 does it in its first cells when there is "
               "no GPU), then define the kernel again and check it; or run the notebook on a GPU")
    raise ExerciseFailed(CHECKER, f"{CHECKER} can't run `{name}` here: {why}", hint=fix)


def _launcher(kernel) -> Callable:
    """`kernel` as a function of (x, y, rows, n_cols, stride_x, stride_y) that launches one program per row."""
    def launch(x, y, rows, n_cols, stride_x, stride_y):
        if _is_stub(kernel):
            raise NotImplementedError
        try:
            kernel[(rows,)](x, y, n_cols, stride_x, stride_y, triton.next_power_of_2(n_cols))
        except InterpreterError as e:  # the interpreter wraps what the kernel raised: report that instead
            if e.__cause__ is None:
                raise
            raise e.__cause__ from None

    launch.__name__ = _name(kernel)
    return launch


def _refuse(kernel) -> None:
    """ExerciseFailed where `kernel` is not a kernel this checker can launch here."""
    if not callable(kernel):
        raise ExerciseFailed(CHECKER, f"{CHECKER} needs the kernel itself, not {kernel!r:.40}; pass it without "
                                      f"launching it, e.g. {CHECKER}(softmax_kernel)")
    name = _name(kernel)
    if not HAS_TRITON:
        raise ExerciseFailed(CHECKER, f"{CHECKER} needs Triton to run `{name}`, and it is not installed here",
                             hint="pip install triton (Linux only; Colab has it), or run this notebook on Colab")
    if not isinstance(kernel, (KernelInterface, InterpretedFunction)):  # the interpreter's is no KernelInterface in 3.2
        raise ExerciseFailed(CHECKER, f"{CHECKER} needs a Triton kernel, and `{name}` is a plain Python function:",
                             hint=f"put @triton.jit on the line above `def {name}` and run that cell again; the "
                                  f"checker launches it as {name}[(rows,)](X, Y, n_cols, stride_x, stride_y, BLOCK)",
                             function=name)
    params = list(inspect.signature(kernel.fn).parameters)
    if len(params) != 6:
        raise ExerciseFailed(CHECKER, f"{CHECKER}: `{name}` takes ({', '.join(params)}), and the checker launches "
                                      f"it as {name}[(rows,)](X, Y, n_cols, stride_x, stride_y, BLOCK):",
                             hint=f"give it the signature {SIGNATURE}", function=name)


# ----------------------------------------------------------------------------
# the cases


def _row(t: torch.Tensor, limit: int = 8) -> str:
    """_row(torch.tensor([0.25, -123.25])) -> '[0.25, -123.25]'; long rows are cut after `limit` numbers."""
    shown = ", ".join(str(_UNWRITTEN) if v == _UNWRITTEN else f"{v:.4g}" for v in t[:limit].tolist())
    return f"[{shown}]" if len(t) <= limit else f"[{shown}, ...] ({len(t)} numbers)"


def check_softmax_kernel(kernel: Callable) -> None:
    """kernel: a @triton.jit kernel (X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr) writing the softmax
    of each row of X into Y, launched here with one program per row and BLOCK = triton.next_power_of_2(n_cols).

    Compared with torch.softmax; Y's padding and X must be left untouched.
    Runs in Triton's interpreter on CPU tensors where the kernel was defined
    with TRITON_INTERPRET=1, else compiled on a CUDA GPU.
    """
    _refuse(kernel)
    device = _device(kernel)

    def case(scores: torch.Tensor, stride_x: int | None = None, stride_y: int | None = None) -> Callable:
        rows, n = scores.shape
        stride_x, stride_y = stride_x or n, stride_y or n
        block = triton.next_power_of_2(n)
        size = rows * max(stride_x, stride_y, block) + block  # room for every known mistake's loads and stores
        x0 = torch.full((size,), _PADDING, dtype=scores.dtype)
        x0[:rows * stride_x].view(rows, stride_x)[:, :n] = scores
        atol, rtol = (1e-3, 1e-2) if scores.dtype == torch.float16 else (1e-6, 1e-4)
        launched = f"[({rows},)](X, Y, n_cols={n}, stride_x={stride_x}, stride_y={stride_y}, BLOCK={block})"

        def observe(launch) -> tuple[torch.Tensor, torch.Tensor]:
            x = x0.to(device, copy=True)  # a copy on the CPU too: x0 must stay as it was
            y = torch.full((size,), _UNWRITTEN, dtype=scores.dtype, device=device)
            with np.errstate(all="ignore"):  # the interpreter's numpy would warn of the nan and inf it computes
                launch(x, y, rows, n, stride_x, stride_y)
            return x.double().cpu(), y.double().cpu()

        def same(a, b) -> bool:
            return all(torch.allclose(s, t, atol=atol, rtol=rtol, equal_nan=True) for s, t in zip(a, b))

        def run(call):
            x, y = observe(call)
            expected = torch.softmax(scores.double(), dim=-1)
            written = y[:rows * stride_y].view(rows, stride_y)
            wrong = ~torch.isclose(written[:, :n], expected, atol=atol, rtol=rtol)
            outside = torch.ones(size, dtype=torch.bool)
            outside[:rows * stride_y].view(rows, stride_y)[:, :n] = False
            stray = outside & (y != _UNWRITTEN)
            if not (wrong.any() or stray.any() or x.ne(x0.double()).any()):
                return
            header = f"launched as {_name(kernel)}{launched}"
            if wrong.any():
                r = int(wrong.any(dim=1).nonzero()[0, 0])
                if written[r, :n].eq(_UNWRITTEN).all():
                    problem = (f"{header}: row {r} of Y was never written, it still holds {_UNWRITTEN}, the number "
                               "the checker filled Y with")
                    fallback = ("every program stores its own row: row = tl.program_id(0), then "
                                "tl.store(Y + row * stride_y + cols, y, mask=cols < n_cols)")
                else:
                    problem = (f"{header}: row {r} of Y should be the softmax of its scores {_row(scores[r])}, "
                               f"that is {_row(expected[r])}, got {_row(written[r, :n])}")
                    if written[r, :n].eq(_UNWRITTEN).any():
                        problem += f" ({_UNWRITTEN}: never written, what the checker filled Y with)"
                    fallback = ("row = tl.program_id(0), cols = tl.arange(0, BLOCK); load X + row * stride_x + cols "
                                "with mask=cols < n_cols, other=float('-inf'); subtract tl.max(x, axis=0), tl.exp, "
                                "divide by tl.sum(e, axis=0); store to Y + row * stride_y + cols with the same mask")
            elif stray.any():
                k = int(stray.nonzero()[0, 0])
                r, c = divmod(k, stride_y)
                where = (f"Y + {k}, past the end of Y's {rows} rows" if r >= rows else
                         f"Y[{r}, {c}], past the {n} numbers of row {r} (its rows are {stride_y} apart)")
                problem = f"{header}: the kernel wrote {y[k].item():.4g} at {where}, where nothing may be written"
                fallback = _STORE_MASK
            else:
                k = int(x.ne(x0.double()).nonzero()[0, 0])
                r, c = divmod(k, stride_x)
                problem = (f"{header}: the kernel changed X, the scores: X[{r}, {c}] was {x0[k].item():.4g}, "
                           f"is now {x[k].item():.4g}")
                fallback = "store into Y only: X holds the scores, and the caller still needs them"
            mistakes = [Mistake(_launcher(m.fn), m.hint) for m in SOFTMAX_KERNEL_MISTAKES]
            raise Mismatch(problem, known_mistake(mistakes, observe, (x, y), same) or fallback)
        return run

    def randn(rows: int, n: int, seed: int, scale: float = 2.0, shift: float = 0.0) -> torch.Tensor:
        return shift + scale * torch.randn(rows, n, generator=torch.Generator().manual_seed(seed))

    masked = randn(4, 6, seed=146)
    masked[torch.ones(4, 6, dtype=torch.bool).triu(diagonal=3)] = float("-inf")  # as a causal mask would
    cases = [Case("4 rows of 16 scores: each row fills its block", case(randn(4, 16, seed=140))),
             Case("3 rows of 10 scores, BLOCK 16, in X and Y with rows 16 apart: the last 6 lanes masked",
                  case(randn(3, 10, seed=141), stride_x=16, stride_y=16)),
             Case("3 rows of 5 scores, all negative (between -1 and -9)",
                  case(randn(3, 5, seed=142, scale=1.0).abs().mul(2).add(1).clamp(max=9).neg())),
             Case("large scores near 1e3", case(randn(3, 8, seed=143, shift=1e3))),
             Case("large negative scores near -1e3, rows of 5", case(randn(3, 5, seed=144, shift=-1e3))),
             Case("X and Y slices of wider tensors: 4 rows of 12 scores, X's rows 24 apart, Y's 20",
                  case(randn(4, 12, seed=145), stride_x=24, stride_y=20)),
             Case("one row of one score (BLOCK 1)", case(torch.tensor([[0.7]]))),
             Case("masked scores (-inf), as in causal attention", case(masked)),
             Case("8 rows of 40 scores, BLOCK 64", case(randn(8, 40, seed=147, scale=4.0))),
             Case("float16 scores in, float16 probabilities out (compute in float32)",
                  case(randn(4, 20, seed=148, scale=3.0).half(), stride_y=24))]
    run_cases(CHECKER, _launcher(kernel), cases, _error_hint)
