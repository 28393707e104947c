"""Reference attention vs PyTorch's fused SDPA: forward + backward time.

The reference materialises the (T, T) score matrix and runs mask, softmax and
two matmuls as separate kernels; `scaled_dot_product_attention` fuses them.
Prints the median time of each and their ratio at several sequence lengths,
both measured in the same run on the same inputs.

    python benchmarks/attention.py            # CPU, or the GPU if present
    python benchmarks/attention.py --device cpu --repeats 20
"""

import argparse
import statistics
import time

import torch

from minillm.attention import reference_attention, sdpa_attention
from minillm.train import pick_device


def median_time(fn, q, k, v, repeats: int) -> float:
    """Median seconds of one forward + backward pass."""
    def run():
        out = fn(q, k, v)
        out.sum().backward()
    run()  # warm up
    times = []
    for _ in range(repeats):
        q.grad = k.grad = v.grad = None
        if q.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        run()
        if q.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 512, 1024])
    args = parser.parse_args()
    device = pick_device(args.device)
    B, nh, hs = 4, 4, 32
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"B={B}, heads={nh}, head size={hs}, float32, median of {args.repeats}")
    print(f"{'T':>6} {'reference ms':>13} {'sdpa ms':>9} {'reference / sdpa':>17}")
    for T in args.lengths:
        q, k, v = (torch.randn(B, nh, T, hs, device=device, requires_grad=True) for _ in range(3))
        ref = median_time(reference_attention, q, k, v, args.repeats)
        fused = median_time(sdpa_attention, q, k, v, args.repeats)
        print(f"{T:>6} {ref * 1e3:>13.2f} {fused * 1e3:>9.2f} {ref / fused:>16.2f}x")


if __name__ == "__main__":
    main()
