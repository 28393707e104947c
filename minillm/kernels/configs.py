"""Block sizes for the attention kernels, per GPU generation, and a CPU check that they fit.

A Triton program holds its tiles of Q, K, V (and, backward, dO) in shared memory; bigger tiles reuse
each load more but need more of it, and a config that needs more than the GPU has per block fails to
launch ("out of resource: shared memory"). The limits per block:

    compute capability   GPUs                       shared memory per block   tensor cores in tl.dot
    7.5                  T4 (Colab's free GPU)      64 KB                     no: Triton emits FMA
    8.0, 8.6, 8.9        A100; RTX 30xx, A10, L4    163 KB; 99 KB             yes
    9.0                  H100, H200                 227 KB                    yes

so one table per generation, chosen to fit the smallest GPU of the generation. On a 7.5 GPU Triton
ignores num_stages (no asynchronous copies) and each compile takes seconds, so there is exactly one
config per job there, no autotuning. `shared_memory` compiles a kernel ahead of time for a GPU this
machine need not have (`triton.compile` with a `GPUTarget`), which the tests use to check every config
against its generation's limit on a CPU-only machine.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import triton

from . import _release

SHARED_MEMORY_LIMIT = {75: 64 * 1024, 80: 99 * 1024, 90: 227 * 1024}  # bytes per block, smallest GPU of each


@dataclass(frozen=True)
class KernelConfig:
    block_m: int      # queries per program (forward, dQ) / per inner step (dK, dV)
    block_n: int      # keys per inner step (forward, dQ) / per program (dK, dV)
    num_warps: int
    num_stages: int   # software pipelining depth of the loop's loads (ignored on compute capability 7.5)

    @staticmethod
    def block_d(head_dim: int) -> int:
        """The head dimension rounded up to a power of two (tl.arange needs one), at least 16 (tl.dot does)."""
        return max(16, triton.next_power_of_2(head_dim))


# (generation, job, tile width) -> config. The tile width is the bytes of one row of a Q/K/V tile, the
# head dim (rounded up to a power of two) times the element size: "narrow" up to 128 bytes (float16 up to
# D = 64), "medium" 256 (float16 at D = 128, float32 at D = 64), "wide" 512 (float32 at D = 128). Wider
# rows need fewer rows per tile to fit. Checked to fit by tests/test_kernels.py (ahead-of-time compiles);
# not tuned on every GPU: benchmarks/attention.py tells.
CONFIGS = {
    (75, "forward", "narrow"): KernelConfig(64, 64, 4, 1),
    (75, "forward", "medium"): KernelConfig(64, 32, 4, 1),
    (75, "forward", "wide"): KernelConfig(64, 32, 4, 1),
    (75, "backward", "narrow"): KernelConfig(32, 64, 4, 1),
    (75, "backward", "medium"): KernelConfig(16, 32, 4, 1),
    (75, "backward", "wide"): KernelConfig(16, 32, 4, 1),
    (80, "forward", "narrow"): KernelConfig(128, 64, 4, 3),
    (80, "forward", "medium"): KernelConfig(128, 32, 8, 2),
    (80, "forward", "wide"): KernelConfig(64, 32, 4, 2),
    (80, "backward", "narrow"): KernelConfig(64, 64, 4, 2),
    (80, "backward", "medium"): KernelConfig(64, 32, 8, 2),
    (80, "backward", "wide"): KernelConfig(32, 32, 4, 1),
    (90, "forward", "narrow"): KernelConfig(128, 64, 4, 3),
    (90, "forward", "medium"): KernelConfig(128, 64, 8, 3),
    (90, "forward", "wide"): KernelConfig(64, 64, 8, 2),
    (90, "backward", "narrow"): KernelConfig(64, 64, 4, 3),
    (90, "backward", "medium"): KernelConfig(64, 64, 8, 2),
    (90, "backward", "wide"): KernelConfig(64, 32, 8, 2),
}
INTERPRETER_CONFIG = KernelConfig(16, 16, 4, 1)  # CPU tensors under TRITON_INTERPRET=1: small, many blocks


def generation(capability: tuple[int, int]) -> int:
    """A compute capability -> the row of CONFIGS it uses: 75, 80 or 90."""
    cc = 10 * capability[0] + capability[1]
    if cc < 75:
        raise RuntimeError(f"the Triton attention kernels need compute capability 7.5 or newer (T4, A100, H100), "
                           f"this GPU has {capability[0]}.{capability[1]}; use attention='sdpa'")
    return 90 if cc >= 90 else 80 if cc >= 80 else 75


def dot_precision(arch: int) -> str:
    """How tl.dot multiplies float32 tiles on a generation: "tf32" (tensor cores) from 8.0 on, else "ieee".

    A T4 has no TF32, and Triton 3.2 crashes compiling a TF32 dot for one ("IndexError: map::at"), so
    its float32 dots are exact; float16 and bfloat16 dots are the same either way.
    """
    return "tf32" if arch >= 80 else "ieee"


def pick_precision(device: torch.device) -> str:
    """`dot_precision` for this device; "ieee" for CPU tensors in the interpreter (numpy multiplies exactly)."""
    if device.type != "cuda":
        return "ieee"
    return dot_precision(generation(torch.cuda.get_device_capability(device)))


def pick_config(job: str, head_dim: int, dtype: torch.dtype, device: torch.device) -> KernelConfig:
    """The config for `job` ("forward" or "backward") at this head dim on this device."""
    if device.type != "cuda":
        return INTERPRETER_CONFIG
    return CONFIGS[generation(torch.cuda.get_device_capability(device)), job, tile_width(head_dim, dtype)]


def tile_width(head_dim: int, dtype: torch.dtype) -> str:
    """"narrow", "medium" or "wide": the bytes of one tile row (see CONFIGS).

    >>> tile_width(64, torch.float16), tile_width(64, torch.float32), tile_width(128, torch.float32)
    ('narrow', 'medium', 'wide')
    """
    row = KernelConfig.block_d(head_dim) * dtype.itemsize
    return "narrow" if row <= 128 else "medium" if row <= 256 else "wide"


def shared_memory(kernel, signature: dict[str, str], constants: dict, arch: int, num_warps: int,
                  num_stages: int) -> int:
    """Bytes of shared memory `kernel` needs per block when compiled for compute capability `arch`.

    Compiles ahead of time for `GPUTarget("cuda", arch, 32)`: no GPU needed. `kernel` must be a
    compiled @triton.jit function (not one made under TRITON_INTERPRET=1).
    """
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if "constexprs" in inspect.signature(ASTSource).parameters:  # Triton 3.3 and later
        src = ASTSource(kernel, {**signature, **{name: "constexpr" for name in constants}}, constexprs=constants)
    else:  # Triton 3.2: constants by name, not in the signature
        src = ASTSource(kernel, signature, constants=constants)
    compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                              options=dict(num_warps=num_warps, num_stages=num_stages))
    return compiled.metadata.shared


# ----------------------------------------------------------------------------
# the ahead-of-time check: every config the dispatcher can choose, compiled for its generation

TRITON_TYPES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32"}


def _signature(kernel, dtype: torch.dtype) -> dict[str, str]:
    """Argument types for `kernel`: tensors of `dtype` (lse and delta float32), float scales, int32 the rest."""
    sig = {}
    for name in kernel.arg_names:
        if name in ("LSE", "DELTA"):
            sig[name] = "*fp32"
        elif name.isupper() and "_" not in name:   # Q, K, V, O, DO, DQ, DK, DV: tensors
            sig[name] = "*" + TRITON_TYPES[dtype]
        elif name in ("qk_scale", "sm_scale"):
            sig[name] = "fp32"
        elif not name.isupper():                   # strides, head counts, lengths
            sig[name] = "i32"
    return sig


def compile_problem(arch: int, dtype: torch.dtype) -> str | None:
    """Why this Triton can't compile the kernels in `dtype` for generation `arch`, in one line, or None.

    Found by compiling ahead of time with each release from 3.2 to 3.9 (scripts/triton_versions.sh):
    Triton 3.3 fails on every float16 dot for compute capability 7.5.
    """
    if arch == 75 and dtype == torch.float16 and _release(triton.__version__) == (3, 3):
        return (f"Triton {triton.__version__} can't compile float16 dots for compute capability 7.5 (a T4): "
                f"'Unsupported conversion from f16 to f16', triton-lang/triton#6698; use float32 there, or "
                f"Triton 3.4 or newer (PyTorch 2.8 or newer)")
    return None


def aot_cases() -> list[tuple[int, str, int, torch.dtype]]:
    """(arch, job, head dim, dtype) for each config the dispatcher can choose, at its widest tile row.

    bfloat16 tiles take the bytes of float16 ones, so float16 stands for both; D = 64 in float16 is the
    widest "narrow" row, 128 in float16 and 64 in float32 the "medium" ones, 128 in float32 "wide".
    Leaves out what this Triton can't compile (`compile_problem`): those inputs go to SDPA.
    """
    return [(arch, job, d, dtype) for arch in SHARED_MEMORY_LIMIT for job in ("forward", "backward")
            for d in (64, 128) for dtype in (torch.float16, torch.float32) if not compile_problem(arch, dtype)]


def kernel_shared_memory(arch: int, job: str, head_dim: int, dtype: torch.dtype, causal: bool = True
                         ) -> dict[str, int]:
    """{kernel name: bytes of shared memory per block} for `job`'s kernels as dispatched on `arch`."""
    from .flash_attention import _backward_dkdv, _backward_dq, _forward

    cfg = CONFIGS[arch, job, tile_width(head_dim, dtype)]
    constants = dict(HEAD_DIM=head_dim, BLOCK_D=cfg.block_d(head_dim), BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n,
                     CAUSAL=causal, PRECISION=dot_precision(arch))
    kernels = [_forward] if job == "forward" else [_backward_dkdv, _backward_dq]
    return {k.__name__: shared_memory(k, _signature(k, dtype), constants, arch, cfg.num_warps, cfg.num_stages)
            for k in kernels}


def shared_memory_table(archs=tuple(SHARED_MEMORY_LIMIT), jobs=("forward", "backward")) -> list[dict]:
    """One row per kernel of each `aot_cases` config on `archs`: its shared memory and its GPU's limit."""
    rows = []
    for arch, job, d, dtype in aot_cases():
        if arch in archs and job in jobs:
            cfg = CONFIGS[arch, job, tile_width(d, dtype)]
            for name, smem in kernel_shared_memory(arch, job, d, dtype).items():
                rows.append(dict(arch=arch, job=job, head_dim=d, dtype=TRITON_TYPES[dtype], config=cfg, kernel=name,
                                 shared=smem, limit=SHARED_MEMORY_LIMIT[arch]))
    return rows


if __name__ == "__main__":  # python -m minillm.kernels.configs [--arch 75 ...] [--job forward]: the table
    import argparse

    parser = argparse.ArgumentParser(description="Shared memory of each attention kernel config, compiled "
                                                 "ahead of time for each GPU generation (no GPU needed).")
    parser.add_argument("--arch", type=int, nargs="+", default=list(SHARED_MEMORY_LIMIT), choices=SHARED_MEMORY_LIMIT)
    parser.add_argument("--job", nargs="+", default=["forward", "backward"], choices=["forward", "backward"])
    args = parser.parse_args()
    print(f"{'arch':>4} {'job':>8} {'D':>4} {'dtype':>6} {'config':>28} {'kernel':>15} {'KB':>6} {'limit':>6}")
    for r in shared_memory_table(args.arch, args.job):
        cfg = r["config"]
        print(f"{r['arch']:>4} {r['job']:>8} {r['head_dim']:>4} {r['dtype']:>6} "
              f"{f'{cfg.block_m}x{cfg.block_n} w{cfg.num_warps} s{cfg.num_stages}':>28} {r['kernel']:>15} "
              f"{r['shared'] / 1024:>6.1f} {r['limit'] / 1024:>6.0f}")
