"""Timing attention on a GPU: the FLOP count, a median timer with peak memory, and the benchmark loop.

`benchmarks/attention.py` is its command line; notebook 04 calls `run` directly (on Colab there is no
repository checkout, only the package).
"""

from __future__ import annotations

import contextlib
import statistics
import time

import torch

from ..attention import reference_attention, sdpa_attention
from . import why_not_triton


def flops(B: int, H: int, T: int, D: int, causal: bool, backward: bool) -> float:
    """FLOPs of attention: forward 4 B H T^2 D (halved when causal), backward 2.5x the forward.

    >>> flops(1, 1, 1024, 64, causal=False, backward=False) / 1e9
    0.268435456
    """
    forward = 4 * B * H * T * T * D / (2 if causal else 1)
    return forward * (3.5 if backward else 1)


def sdpa_flash(q, k, v, causal):
    """SDPA pinned to its FlashAttention backend where this PyTorch and GPU have one, else SDPA's choice."""
    context = contextlib.nullcontext()
    if q.is_cuda:
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            context = sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])
        except ImportError:
            pass
    with context:
        return sdpa_attention(q, k, v, causal=causal)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(fn, q, k, v, causal: bool, backward: bool, repeats: int) -> tuple[float, float | None]:
    """(median seconds, peak bytes above the inputs or None on a CPU) of fn forward (+ backward)."""
    dout = torch.randn_like(q)

    def run():
        out = fn(q, k, v, causal)
        if backward:
            torch.autograd.grad(out, (q, k, v), dout)

    run()  # warm up: compiles Triton kernels, picks cuBLAS algorithms
    times = []
    for _ in range(repeats):
        _sync(q.device)
        t0 = time.perf_counter()
        run()
        _sync(q.device)
        times.append(time.perf_counter() - t0)
    peak = None
    if q.is_cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        peak = torch.cuda.max_memory_allocated() - base
    return statistics.median(times), peak


def reference_fits(B: int, H: int, T: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Would the reference's scores, probabilities and their gradients (4 of (B, H, T, T)) fit in half the free memory?"""
    if device.type != "cuda":
        return T <= 4096
    free, _ = torch.cuda.mem_get_info(device)
    return 4 * B * H * T * T * dtype.itemsize < free / 2


def run(device: torch.device, dtype: torch.dtype, lengths, head_dims, causal_options, batch: int = 1,
        heads: int = 16, repeats: int = 10, print_rows: bool = True) -> list[dict]:
    """Time reference, SDPA and (on a GPU with Triton) the Triton kernels at every setting; -> one dict per row."""
    say = print if print_rows else (lambda *a, **k: None)
    impls = {"reference": lambda q, k, v, c: reference_attention(q, k, v, causal=c), "sdpa": sdpa_flash}
    probe = torch.empty(1, 1, 1, 64, device=device, dtype=dtype)
    why_not = why_not_triton(probe)
    if why_not is None and device.type == "cuda":
        from .flash_attention import flash_attention
        impls["triton"] = lambda q, k, v, c: flash_attention(q, k, v, causal=c)
    else:
        say(f"no triton column: {why_not or 'the interpreter is for tests, far too slow to time'}")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    say(f"{gpu}, torch {torch.__version__}, {dtype}; batch {batch}, {heads} heads, "
        f"median of {repeats}; ms, TFLOP/s and MiB of peak memory above the inputs")
    rows = []
    header = f"{'D':>4} {'causal':>6} {'T':>6} {'pass':>8} " + " ".join(
        f"{name + ' ms':>14} {'TFLOP/s':>8} {'MiB':>7}" for name in impls) + (
        f" {'triton/sdpa speed':>18}" if "triton" in impls else "")
    say(header)
    for D in head_dims:
        for causal in causal_options:
            for T in lengths:
                g = torch.Generator(device=device).manual_seed(T)
                q, k, v = (torch.randn(batch, heads, T, D, device=device, dtype=dtype, generator=g)
                           .requires_grad_() for _ in range(3))
                for backward in (False, True):
                    row = dict(gpu=gpu, dtype=str(dtype).removeprefix("torch."), batch=batch,
                               heads=heads, head_dim=D, causal=causal, T=T,
                               **{"pass": "forward+backward" if backward else "forward"})
                    line = f"{D:>4} {str(causal):>6} {T:>6} {'fwd+bwd' if backward else 'fwd':>8} "
                    for name, fn in impls.items():
                        if name == "reference" and not reference_fits(batch, heads, T, dtype, device):
                            line += f"{'(too big)':>14} {'':>8} {'':>7} "
                            continue
                        seconds, peak = measure(fn, q, k, v, causal, backward, repeats)
                        tflops = flops(batch, heads, T, D, causal, backward) / seconds / 1e12
                        row[name] = dict(ms=seconds * 1e3, tflops=tflops, peak_mib=None if peak is None else peak / 2**20)
                        line += f"{seconds * 1e3:>14.3f} {tflops:>8.2f} {'-' if peak is None else f'{peak / 2**20:.0f}':>7} "
                    if "triton" in row and "sdpa" in row:
                        row["triton_vs_sdpa_speed"] = row["sdpa"]["ms"] / row["triton"]["ms"]
                        line += f"{row['triton_vs_sdpa_speed']:>17.2f}x"
                    say(line)
                    rows.append(row)
                del q, k, v
    return rows


# ----------------------------------------------------------------------------
# rows <-> a committed result (minillm.results), whose values are flat lists of numbers

IMPLEMENTATIONS = ("reference", "sdpa", "triton")
_PASSES = {"forward": "fwd", "forward+backward": "fwdbwd"}


def _prefix(head_dim: int, causal: bool, pass_: str) -> str:
    return f"d{head_dim}_{'causal' if causal else 'full'}_{_PASSES[pass_]}"


def result_values(rows: list[dict]) -> dict:
    """`run`'s rows (from a GPU) as a Result's values: per setting and implementation, lists of T, ms and MiB.

    >>> row = dict(gpu="GPU", dtype="bfloat16", batch=1, heads=16, head_dim=64, causal=True, T=1024,
    ...            **{"pass": "forward"}, sdpa=dict(ms=0.5, tflops=1.0, peak_mib=2.0))
    >>> result_values([row])["d64_causal_fwd_sdpa_ms"]
    [0.5]
    """
    first = rows[0]
    values = {key: first[key] for key in ("gpu", "dtype", "batch", "heads")}
    for row in rows:
        prefix = _prefix(row["head_dim"], row["causal"], row["pass"])
        for name in IMPLEMENTATIONS:
            if name in row:
                for field, value in (("T", row["T"]), ("ms", row[name]["ms"]), ("mib", row[name]["peak_mib"])):
                    values.setdefault(f"{prefix}_{name}_{field}", []).append(value)
    return values


def rows_from_values(values: dict) -> list[dict]:
    """The inverse of `result_values`: rows as `run` returns them (TFLOP/s and the speed ratio recomputed)."""
    by_setting: dict[tuple, dict] = {}
    passes = {short: long for long, short in _PASSES.items()}
    for key, Ts in values.items():
        parts = key.split("_")
        if len(parts) != 5 or parts[-1] != "T":
            continue
        head_dim, causal, pass_, name = int(parts[0][1:]), parts[1] == "causal", passes[parts[2]], parts[3]
        prefix = key.removesuffix("_T")
        for T, ms, mib in zip(Ts, values[f"{prefix}_ms"], values[f"{prefix}_mib"]):
            row = by_setting.setdefault((head_dim, causal, T, pass_), dict(
                gpu=values["gpu"], dtype=values["dtype"], batch=values["batch"], heads=values["heads"],
                head_dim=head_dim, causal=causal, T=T, **{"pass": pass_}))
            seconds = ms / 1e3
            row[name] = dict(ms=ms, peak_mib=mib, tflops=flops(row["batch"], row["heads"], T, head_dim, causal,
                                                               pass_ == "forward+backward") / seconds / 1e12)
    rows = [by_setting[key] for key in sorted(by_setting, key=lambda k: (k[0], k[1], k[2], k[3] != "forward"))]
    for row in rows:
        if "triton" in row and "sdpa" in row:
            row["triton_vs_sdpa_speed"] = row["sdpa"]["ms"] / row["triton"]["ms"]
    return rows
