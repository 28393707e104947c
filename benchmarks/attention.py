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

import argparse
import json
import shlex
import sys

import torch

from minillm import results
from minillm.kernels import benchmark


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
    parser.add_argument("--save-result", metavar="NAME",
                        help="write the measurement to minillm/results/NAME.json (e.g. attention_h100) to commit")
    args = parser.parse_args(argv)
    if args.save_result is not None and not results.NAME.fullmatch(args.save_result):
        parser.error(f"--save-result {args.save_result!r}: use lower-case letters, digits and _")

    if args.device == "auto" and not torch.cuda.is_available():
        print("benchmarks/attention.py measures the Triton kernels on a CUDA GPU, and there is none here "
              "(run it on Colab or a GPU machine; --device cpu compares reference and SDPA on the CPU).")
        return []
    device = torch.device("cuda" if args.device == "auto" else args.device)
    if args.save_result and device.type != "cuda":
        parser.error("--save-result keeps a GPU measurement (peak memory, the Triton column): run it on a GPU")
    if args.dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else (
            torch.float16 if device.type == "cuda" else torch.float32)
    else:
        dtype = getattr(torch, args.dtype)
    causal_options = {"both": [False, True], "only": [True], "no": [False]}[args.causal]
    rows = benchmark.run(device, dtype, args.lengths, args.head_dims, causal_options, args.batch, args.heads,
                         args.repeats)
    if args.json:
        from minillm.io import atomic_write
        with atomic_write(args.json, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"wrote {args.json}")
    if args.save_result and rows:
        command = shlex.join(["python", "benchmarks/attention.py", *(sys.argv[1:] if argv is None else argv)])
        notes = NOTES.format(torch=torch.__version__, repeats=args.repeats)
        result = results.Result(args.save_result, benchmark.result_values(rows), command, results.machine(), notes=notes)
        print(f"saved {results.save(result)}")
    return rows


NOTES = ("torch {torch}; median of {repeats} wall-clock timings per call (synchronised, so Python's launch overhead "
         "counts: it dominates below T = 2048); SDPA pinned to its FlashAttention (else memory-efficient) backend; "
         "peak memory above the inputs")


if __name__ == "__main__":
    main()
