"""Attention on the GPU: the Triton FlashAttention kernels vs PyTorch's SDPA and the reference.

For each head dim, causal or not, and sequence length: the median time of the forward pass and of
forward + backward, the achieved TFLOP/s, and the peak memory above the inputs, for
    reference   minillm.attention.reference_attention: materialises the (T, T) scores
    sdpa        torch's scaled_dot_product_attention, pinned to its FlashAttention backend when it has one
    triton      minillm.kernels.flash_attention
all measured in the same run on the same inputs, with the ratio triton / sdpa in speed. FLOPs are
counted as 4 B H T^2 D for the forward (two matmuls; half when causal) and 2.5 times that for the
backward (five matmuls, two of them recomputation's share), as FlashAttention's paper does.

    python benchmarks/attention.py                       # batch 1, 16 heads, T 512 .. 16384, D 64 and 128
    python benchmarks/attention.py --lengths 1024 4096 --head-dims 64 --causal only --json out.json
    python benchmarks/attention.py --device cpu --lengths 256 512   # no Triton column: reference vs SDPA

Without a CUDA GPU (and without --device cpu) it says so and exits cleanly. The reference is skipped
where its scores would not fit in memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch

from minillm.attention import reference_attention, sdpa_attention


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


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU, else exit), cuda, or cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--head-dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--causal", choices=["both", "only", "no"], default="both")
    parser.add_argument("--dtype", default="auto", help="auto (bfloat16 where supported, else float16), float16, "
                                                        "bfloat16 or float32")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)

    if args.device == "auto" and not torch.cuda.is_available():
        print("benchmarks/attention.py measures the Triton kernels on a CUDA GPU, and there is none here "
              "(run it on Colab or a GPU machine; --device cpu compares reference and SDPA on the CPU).")
        return []
    device = torch.device("cuda" if args.device == "auto" else args.device)
    if args.dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else (
            torch.float16 if device.type == "cuda" else torch.float32)
    else:
        dtype = getattr(torch, args.dtype)
    impls = {"reference": lambda q, k, v, c: reference_attention(q, k, v, causal=c), "sdpa": sdpa_flash}
    from minillm import kernels
    probe = torch.empty(1, 1, 1, 64, device=device, dtype=dtype)
    why_not = kernels.why_not_triton(probe)
    if why_not is None and device.type == "cuda":
        from minillm.kernels.flash_attention import flash_attention
        impls["triton"] = lambda q, k, v, c: flash_attention(q, k, v, causal=c)
    else:
        print(f"no triton column: {why_not or 'the interpreter is for tests, far too slow to time'}")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{gpu}, torch {torch.__version__}, {dtype}; batch {args.batch}, {args.heads} heads, "
          f"median of {args.repeats}; ms, TFLOP/s and MiB of peak memory above the inputs")
    causal_options = {"both": [False, True], "only": [True], "no": [False]}[args.causal]
    rows = []
    header = f"{'D':>4} {'causal':>6} {'T':>6} {'pass':>8} " + " ".join(
        f"{name + ' ms':>14} {'TFLOP/s':>8} {'MiB':>7}" for name in impls) + (
        f" {'triton/sdpa speed':>18}" if "triton" in impls else "")
    print(header)
    for D in args.head_dims:
        for causal in causal_options:
            for T in args.lengths:
                g = torch.Generator(device=device).manual_seed(T)
                q, k, v = (torch.randn(args.batch, args.heads, T, D, device=device, dtype=dtype, generator=g)
                           .requires_grad_() for _ in range(3))
                for backward in (False, True):
                    row = dict(gpu=gpu, dtype=str(dtype).removeprefix("torch."), batch=args.batch,
                               heads=args.heads, head_dim=D, causal=causal, T=T,
                               **{"pass": "forward+backward" if backward else "forward"})
                    line = f"{D:>4} {str(causal):>6} {T:>6} {'fwd+bwd' if backward else 'fwd':>8} "
                    for name, fn in impls.items():
                        if name == "reference" and not reference_fits(args.batch, args.heads, T, dtype, device):
                            line += f"{'(too big)':>14} {'':>8} {'':>7} "
                            continue
                        seconds, peak = measure(fn, q, k, v, causal, backward, args.repeats)
                        tflops = flops(args.batch, args.heads, T, D, causal, backward) / seconds / 1e12
                        row[name] = dict(ms=seconds * 1e3, tflops=tflops, peak_mib=None if peak is None else peak / 2**20)
                        line += f"{seconds * 1e3:>14.3f} {tflops:>8.2f} {'-' if peak is None else f'{peak / 2**20:.0f}':>7} "
                    if "triton" in row and "sdpa" in row:
                        row["triton_vs_sdpa_speed"] = row["sdpa"]["ms"] / row["triton"]["ms"]
                        line += f"{row['triton_vs_sdpa_speed']:>17.2f}x"
                    print(line)
                    rows.append(row)
                del q, k, v
    if args.json:
        from minillm.io import atomic_write
        with atomic_write(args.json, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
