"""A training step of GPT-2 small, minillm against Hugging Face transformers; and LLaMA's design against GPT-2's.

(a) Forward + backward time of the gpt2 shape (124M parameters: 12 layers, 12 heads, width 768,
    vocabulary 50,257) at context 1,024: minillm's GPT (attention="sdpa") against transformers'
    GPT2LMHeadModel holding the same weights (copied by `minillm.pretrained.from_hf`; their first
    losses are printed and must agree). float32, dropout off in both, the loss computed the same way
    (mean cross-entropy over every position). The goal is minillm / transformers <= 1.0.
(b) Training tokens/s (forward + backward) of GPTConfig.architecture("llama") against ("gpt2") at
    equal parameter count: the gpt2 shape is given (--small-*, a 4,096-token vocabulary as the
    course's BPE, context 256), and the llama model gets the same depth and heads and the width
    whose parameter count comes closest (its SwiGLU width rounded to a multiple of 32).

Both parts alternate steps of the two models (which one goes first alternates too), so a change
in the machine's load hits both, and report medians after --warmup steps; ratios are between
numbers measured in the same run. Runs on the GPU when there is one, in float32 there as well.

    python benchmarks/transformer_step.py                                  # the full measurement
    python benchmarks/transformer_step.py --context 512 --steps 3 --warmup 1   # a quick look on 2 cores
    python benchmarks/transformer_step.py --only llama                     # part (b) alone, no transformers

Subtle: on a shared machine (other programs busy on the cores) single times swing a lot; the
medians of interleaved steps are robust to that, but compare absolute times only roughly.
"""

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from minillm.device import pick_device
from minillm.model import GPT, GPTConfig
from minillm.pretrained import from_hf
from minillm.results import machine

GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024)
SMALL_VOCAB, SMALL_CONTEXT = 4096, 256  # part (b): a course-sized BPE vocabulary and context


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved_medians(steps: dict, warmup: int, n: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each step function, over `n` rounds after `warmup`, the functions taking turns."""
    times = {name: [] for name in steps}
    for round_ in range(warmup + n):
        order = list(steps) if round_ % 2 == 0 else list(steps)[::-1]  # neither always goes first
        for name in order:
            sync(device)
            t0 = time.perf_counter()
            steps[name]()
            sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def loss_of(model, idx: torch.Tensor, targets: torch.Tensor, hf: bool = False) -> torch.Tensor:
    """Mean next-token cross-entropy of `model` (minillm's, or transformers' if `hf`) on one batch."""
    if hf:  # the loss as minillm computes it, so that both do the same work
        logits = model(idx).logits  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    return model(idx, targets)[1]


def train_step(model, idx: torch.Tensor, targets: torch.Tensor, hf: bool = False):
    """A function running one forward + backward pass of `model`."""
    def step():
        model.zero_grad(set_to_none=True)
        loss_of(model, idx, targets, hf).backward()
    return step


def random_batch(batch: int, context: int, vocab_size: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, vocab_size, (batch, context + 1), generator=g).to(device)
    return idx[:, :-1], idx[:, 1:]  # inputs (B, T) and next-token targets (B, T)


def minillm_vs_transformers(args, device: torch.device) -> None:
    try:
        import transformers
    except ImportError:
        raise SystemExit("part (a) compares against transformers: pip install transformers (or run --only llama)")
    print(f"\n== (a) gpt2 shape, forward + backward, batch {args.batch} x context {args.context}, float32")
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(**GPT2_SMALL, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                        attn_implementation="sdpa")
    hf = transformers.GPT2LMHeadModel(hf_config).to(device).train()
    ours = from_hf(hf.config.to_dict(), hf.state_dict(), device=device, attention="sdpa").train()
    idx, targets = random_batch(args.batch, args.context, GPT2_SMALL["vocab_size"], device)
    with torch.no_grad():
        first = {"minillm": loss_of(ours, idx, targets).item(),
                 "transformers": loss_of(hf, idx, targets, hf=True).item()}
    steps = {"minillm": train_step(ours, idx, targets), "transformers": train_step(hf, idx, targets, hf=True)}
    print(f"parameters: minillm {ours.num_params():,}, transformers {hf.num_parameters():,}; "
          f"transformers {transformers.__version__} attention: {hf.config._attn_implementation}")
    print(f"first loss: minillm {first['minillm']:.6f}, transformers {first['transformers']:.6f} (same weights)")
    medians = interleaved_medians(steps, args.warmup, args.steps, device)
    for name, seconds in medians.items():
        print(f"{name:<13} {seconds * 1e3:10.1f} ms/step  {args.batch * args.context / seconds:10,.0f} tokens/s")
    print(f"minillm / transformers = {medians['minillm'] / medians['transformers']:.3f} (time; goal <= 1.0)")


def num_params(cfg: GPTConfig) -> int:
    with torch.device("meta"):  # shapes only, nothing allocated
        return GPT(cfg).num_params()


def llama_of_equal_size(gpt2: GPTConfig) -> GPTConfig:
    """The llama config with gpt2's depth, heads, vocabulary and context whose parameter count is closest."""
    target, step = num_params(gpt2), 2 * gpt2.n_head  # RoPE rotates pairs: an even head size
    sizes = dict(vocab_size=gpt2.vocab_size, block_size=gpt2.block_size, n_layer=gpt2.n_layer, n_head=gpt2.n_head)
    widths = range(step, 2 * gpt2.n_embd + 1, step)
    candidates = [GPTConfig.architecture("llama", **sizes, n_embd=w, ffn_multiple_of=32) for w in widths]
    return min(candidates, key=lambda cfg: abs(num_params(cfg) - target))


def llama_vs_gpt2(args, device: torch.device) -> None:
    gpt2 = GPTConfig.architecture("gpt2", vocab_size=SMALL_VOCAB, block_size=SMALL_CONTEXT,
                                  n_layer=args.small_layers, n_head=args.small_width // 64, n_embd=args.small_width)
    configs = {"gpt2": gpt2, "llama": llama_of_equal_size(gpt2)}
    print(f"\n== (b) llama vs gpt2 design at equal parameter count, forward + backward, "
          f"batch {args.small_batch} x context {SMALL_CONTEXT}, float32")
    steps = {}
    for name, cfg in configs.items():
        torch.manual_seed(0)
        model = GPT(cfg).to(device).train()
        idx, targets = random_batch(args.small_batch, SMALL_CONTEXT, SMALL_VOCAB, device)
        steps[name] = train_step(model, idx, targets)
        print(f"{name:<6} {cfg.n_layer} layers, {cfg.n_head} heads, width {cfg.n_embd}: {num_params(cfg):,} parameters")
    ratio = num_params(configs["llama"]) / num_params(configs["gpt2"])
    print(f"parameters llama / gpt2 = {ratio:.4f}")
    medians = interleaved_medians(steps, args.warmup, args.steps, device)
    speed = {name: args.small_batch * SMALL_CONTEXT / seconds for name, seconds in medians.items()}
    for name in configs:
        print(f"{name:<6} {medians[name] * 1e3:10.1f} ms/step  {speed[name]:10,.0f} tokens/s")
    print(f"tokens/s llama / gpt2 = {speed['llama'] / speed['gpt2']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=1024, help="part (a)'s sequence length (at most 1024)")
    parser.add_argument("--batch", type=int, default=1, help="part (a)'s batch size")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model; medians of these")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    parser.add_argument("--small-width", type=int, default=384, help="part (b)'s gpt2 width (heads = width / 64)")
    parser.add_argument("--small-layers", type=int, default=6)
    parser.add_argument("--small-batch", type=int, default=8)
    parser.add_argument("--only", choices=["transformers", "llama"], help="run one part")
    parser.add_argument("--device", default="auto", help="auto: a CUDA GPU if present, else the CPU")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: PyTorch's, one per core)")
    args = parser.parse_args()
    if not 1 <= args.context <= GPT2_SMALL["n_positions"]:
        parser.error(f"--context must lie in 1..{GPT2_SMALL['n_positions']} (GPT-2's positions)")
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {machine()}, {platform.processor() or platform.machine()}; "
          f"nproc {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; device {device}; "
          f"load average {os.getloadavg()[0]:.2f}; {args.warmup} warmup + median of {args.steps} steps")
    if args.only != "llama":
        minillm_vs_transformers(args, device)
    if args.only != "transformers":
        llama_vs_gpt2(args, device)


if __name__ == "__main__":
    main()
