"""Triton kernels for the GPU (module M4): a fused softmax, then FlashAttention forward and backward.

    softmax.py          the warm-up: one program per row, the whole row in on-chip memory
    flash_attention.py  FlashAttention-2: forward (online softmax), backward (recompute, dQ, dK, dV)
    configs.py          block sizes per GPU generation; an ahead-of-time check that they fit

Triton is optional: `import minillm` works without it, and the model's attention="triton" falls back to
PyTorch's SDPA with a one-time note saying why (`triton_attention`). The kernels also run on the CPU
under Triton's interpreter, which the tests use: set TRITON_INTERPRET=1 before minillm.kernels is
imported (Triton reads it when a kernel is defined) and pass CPU tensors. The interpreter runs the
programs one after another in numpy: right for checking the arithmetic at tiny shapes, slow, blind
to races, and wrong for bfloat16 (numpy has none).
"""

from __future__ import annotations

import os
import re
import statistics
import time
import warnings
from typing import Callable

import torch

# Triton 3.9 warns on every compile unless this is set; "1" keeps its current default (fused multiply-add)
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
try:
    import triton
    HAS_TRITON = True
except ImportError:
    HAS_TRITON = False


class FallbackWarning(UserWarning):
    """attention="triton" ran PyTorch's SDPA instead; the message says why."""


def interpreting() -> bool:
    """True when Triton's interpreter is on (TRITON_INTERPRET=1): kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _release(version: str) -> tuple[int, int]:
    """_release("3.2.0+git1a2b") -> (3, 2)"""
    major, minor = re.findall(r"\d+", version)[:2]
    return int(major), int(minor)


def interpreter_problem() -> str | None:
    """Why Triton's interpreter can't run the attention kernels here, in one line; None if it can or is off.

    Before 3.7, Triton's interpreter turns a loop bound into an int with int(array of shape (1,)), which
    numpy 2.4 refuses (checked with scripts/triton_versions.sh); compiled kernels on a GPU are fine.
    """
    if not (HAS_TRITON and interpreting()):
        return None
    import numpy

    if _release(triton.__version__) < (3, 7) and _release(numpy.__version__) >= (2, 4):
        return (f"Triton {triton.__version__}'s interpreter can't run the attention kernels' loops with numpy "
                f"{numpy.__version__}: pip install 'numpy<2.4', or Triton 3.7 or newer")
    return None


def why_not_triton(q: torch.Tensor, mask: torch.Tensor | None = None, dropout_p: float = 0.0) -> str | None:
    """Why the FlashAttention kernels can't run on these inputs, in one line, or None when they can."""
    if not HAS_TRITON:
        return "Triton is not installed (pip install triton: Linux only; it comes with PyTorch's CUDA wheels)"
    if q.device.type != "cuda" and not interpreting():
        return (f"the Triton kernels need a CUDA GPU and q is on {q.device.type} (on a CPU they run only under "
                f"TRITON_INTERPRET=1, for tests)")
    if q.device.type != "cuda" and (problem := interpreter_problem()):
        return problem
    if q.device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(q.device)
        if (major, minor) < (7, 5):
            return f"the kernels need compute capability 7.5 or newer (T4, A100, H100), this GPU has {major}.{minor}"
        if q.dtype == torch.bfloat16 and major < 8:
            return (f"this GPU (compute capability {major}.{minor}, e.g. a T4) has no bfloat16 arithmetic: "
                    f"use float16 (train with --dtype float16)")
        from .configs import compile_problem, generation

        if problem := compile_problem(generation((major, minor)), q.dtype):
            return problem
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        return f"the kernels take float16, bfloat16 or float32, not {q.dtype}"
    if mask is not None:
        return "the kernels do causal or full attention only; a padding or custom mask goes to SDPA"
    if dropout_p > 0:
        return "the kernels have no attention dropout; with dropout > 0 attention goes to SDPA"
    if not 1 <= q.size(-1) <= 128:
        return f"the kernels take head dims up to 128, got {q.size(-1)}"
    return None


_noted: set[str] = set()


def triton_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                     causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """The attention backend "triton" (same signature as `minillm.attention.ATTENTION`'s others).

    Runs the FlashAttention kernels when they can; otherwise SDPA, with a `FallbackWarning` the first
    time each reason comes up.
    """
    reason = why_not_triton(q, mask, dropout_p)
    if reason is None:
        from .flash_attention import flash_attention
        return flash_attention(q, k, v, causal)
    if reason not in _noted:
        _noted.add(reason)
        warnings.warn(f"attention='triton' is using PyTorch's SDPA instead: {reason}", FallbackWarning, stacklevel=2)
    from ..attention import sdpa_attention
    return sdpa_attention(q, k, v, mask, causal, dropout_p)


# ----------------------------------------------------------------------------
# attention="auto": whichever of SDPA and the kernels is faster here

_fastest: dict[tuple, str] = {}


def pick_fastest(candidates: dict[str, Callable], q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                 causal: bool, repeats: int = 3) -> str:
    """The name of the candidate fn(q, k, v, causal) with the shortest median forward + backward time."""
    dout = torch.randn_like(q)
    leaves = [t.detach().requires_grad_() for t in (q, k, v)]
    times = {}
    for name, fn in candidates.items():
        samples = []
        for i in range(repeats + 1):  # the first run warms up (compiles, picks algorithms) and is not timed
            if q.is_cuda:
                torch.cuda.synchronize(q.device)
            t0 = time.perf_counter()
            torch.autograd.grad(fn(*leaves, causal), leaves, dout)
            if q.is_cuda:
                torch.cuda.synchronize(q.device)
            if i:
                samples.append(time.perf_counter() - t0)
        times[name] = statistics.median(samples)
    best = min(times, key=times.get)
    print("attention='auto': " + ", ".join(f"{n} {t * 1e3:.2f} ms" for n, t in times.items()) +
          f" (forward + backward, {q.dtype}, head dim {q.size(-1)}, T {q.size(2)}) -> {best}")
    return best


def auto_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                   causal: bool = True, dropout_p: float = 0.0) -> torch.Tensor:
    """The attention backend "auto": SDPA, or the Triton kernels where they run and are faster.

    The first call for each (GPU, dtype, head dim, causal, grouped heads) times both on that call's
    inputs and keeps the faster for every later call, with a one-line note. Where the kernels can't
    run (no GPU, a mask, dropout, ...), SDPA without timing. PyTorch's SDPA is FlashAttention-2 or
    cuDNN on recent GPUs, so it usually wins; on a T4 (no tensor cores for Triton) it always should.
    """
    from ..attention import sdpa_attention

    if q.device.type != "cuda" or why_not_triton(q, mask, dropout_p) is not None:
        return sdpa_attention(q, k, v, mask, causal, dropout_p)
    from .flash_attention import flash_attention

    backends = {"sdpa": lambda q, k, v, c: sdpa_attention(q, k, v, causal=c), "triton": flash_attention}
    key = (q.device, q.dtype, q.size(-1), causal, q.size(1) != k.size(1))
    if key not in _fastest:
        with torch.enable_grad():
            _fastest[key] = pick_fastest(backends, q, k, v, causal)
    return backends[_fastest[key]](q, k, v, causal)
