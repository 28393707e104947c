"""CPU training speed by thread count, on a quiet machine and next to busy processes.

PyTorch uses one thread per core by default. For the course's small CPU
models that is fast on a quiet machine and can be many times slower when
another program wants a core too: each matrix product is split across the
threads, and a step waits for the thread the operating system put to sleep.
This benchmark measures training throughput (tokens/s, evaluations excluded)
for 1, 2, ... all threads and for minillm's automatic choice
(`minillm.device.cpu_threads`), first on a quiet machine, then next to 1, 2,
... CPU-bound processes (pure-Python busy loops started by this script).
The last rows start the neighbours a quarter of the way into each run, where
"auto" has to notice them at its next evaluation. Each figure is the median of
--repeats runs; ratios are against one thread under the same load, measured in
the same run.

    python benchmarks/cpu_threads.py                      # about 40 minutes on 2 cores
    python benchmarks/cpu_threads.py --models cpu --busy 0 1 --repeats 1   # a quick look
"""

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time

import torch

from minillm.data import shakespeare
from minillm.device import available_cpus, cpu_threads
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.train import PRESETS, train

# The CPU models of the course: the quickstart's preset and notebook 01's model.
MODELS = {
    "cpu": (PRESETS["cpu"][0], PRESETS["cpu"][1].batch_size),
    "notebook01": (GPTConfig(block_size=64, n_layer=3, n_head=4, n_embd=96), 16),
}


def tokens_per_sec(config: GPTConfig, batch_size: int, ids: torch.Tensor, threads: int | None, steps: int,
                   arriving: int = 0) -> float:
    """Training throughput of a fresh model; threads None is minillm's automatic choice.

    With `arriving`, that many busy neighbours start a quarter of the way in.
    """
    torch.manual_seed(0)
    model = GPT(config)
    neighbours = []

    def arrive(history):
        if arriving and history.eval_steps[-1] == steps // 4:
            neighbours.extend(busy_processes(arriving))

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # train() announces each change of thread count
            history = train(model, ids, ids[:10_000], max_iters=steps, batch_size=batch_size, warmup_iters=1,
                            eval_interval=steps // 4, eval_iters=1, device="cpu", progress=False,
                            threads=threads, callback=arrive)
    finally:
        stop(neighbours)
    return history.tokens_per_sec


def busy_processes(n: int) -> list[subprocess.Popen]:
    """Start n CPU-bound neighbours (each keeps one core busy)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(0.5)  # let them get going
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
        p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--busy", type=int, nargs="+", default=None,
                        help="numbers of busy neighbours to measure next to (default: 0, 1, ... cores)")
    parser.add_argument("--steps", type=int, default=80, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cores = available_cpus()
    thread_counts = sorted({1, 2, cores} & set(range(1, cores + 1)))
    busy_counts = args.busy if args.busy is not None else list(range(cores + 1))
    corpus = shakespeare()
    tok = CharTokenizer.from_text(corpus.train + corpus.val)
    ids = torch.tensor(tok.encode(corpus.train[:500_000]))
    print(f"torch {torch.__version__}, {cores} CPUs available to this process (os.cpu_count() = "
          f"{os.cpu_count()}); {args.steps} steps per run, median of {args.repeats} runs")
    print(f"{'model':<11} {'neighbours':>16} {'threads':>8} {'tokens/s':>9} {'vs 1 thread':>12}")
    for name in args.models:
        base_config, batch_size = MODELS[name]
        config = GPTConfig(**{**base_config.to_dict(), "vocab_size": tok.vocab_size})
        tokens_per_sec(config, batch_size, ids, 1, 8)  # warm up allocator and kernels

        def median(threads, arriving=0):
            return statistics.median(tokens_per_sec(config, batch_size, ids, threads, args.steps, arriving)
                                     for _ in range(args.repeats))

        for busy in busy_counts:
            procs = busy_processes(busy)
            try:
                results = {str(t): median(t) for t in thread_counts}
                results[f"auto={cpu_threads('auto', announce=False)}"] = median(None)
            finally:
                stop(procs)
            report(name, str(busy), results)
        for busy in [b for b in busy_counts if b > 0]:  # the neighbours start a quarter of the way in
            results = {str(t): median(t, busy) for t in thread_counts}
            results["auto"] = median(None, busy)
            report(name, f"{busy} from 1/4 in", results)


def report(name: str, neighbours: str, results: dict[str, float]) -> None:
    for label, speed in results.items():
        print(f"{name:<11} {neighbours:>16} {label:>8} {speed:>9,.0f} {speed / results['1']:>11.2f}x", flush=True)


if __name__ == "__main__":
    main()
