"""An ablation you can run in class: one design choice of the Transformer changed at a time.

Trains the same character model on minillm's Shakespeare split with the same
data order, token budget and seed, once per variant, each differing from the
baseline (GPT-2's choices: pre-norm, LayerNorm, GELU, learned positions,
multi-head attention) in one setting. Prints the exact validation loss (every
validation character), the parameters and the training tokens/s of each, and
saves a plot of the validation curves.

    python benchmarks/ablation.py                       # CPU settings: a few minutes on two cores
    python benchmarks/ablation.py --steps 3000 --width 256 --layers 6 --context 256   # on a GPU
    python benchmarks/ablation.py --save-result ablation_cpu   # keep the numbers in minillm/results/

It also trains the baseline from three more seeds (`--baseline-seeds`): the
spread of those losses is the noise a difference must clear.

Subtle: one seed per variant; differences of a few hundredths are within the
run-to-run noise of a different seed. tokens/s depend on the machine's load
(on a shared machine, compare them only roughly).
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from minillm import data, plots, results  # noqa: E402
from minillm.evaluate import dataset_loss  # noqa: E402
from minillm.model import GPT, GPTConfig  # noqa: E402
from minillm.tokenizer import CharTokenizer  # noqa: E402
from minillm.train import train  # noqa: E402

# each variant changes one setting of the baseline
VARIANTS = {
    "baseline (GPT-2 choices)": {},
    "post-norm": {"norm_position": "post"},
    "RMSNorm": {"norm": "rmsnorm"},
    "SwiGLU": {"activation": "swiglu"},
    "RoPE": {"position": "rope"},
    "GQA (2 kv heads)": {"n_kv_head": 2},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--baseline-seeds", type=int, nargs="*", default=[1, 2, 3],
                        help="train the baseline again with these seeds, to measure the noise of one seed")
    parser.add_argument("--plot", default="ablation.png", help="where to save the validation curves")
    parser.add_argument("--save-result", metavar="NAME", help="write the table to minillm/results/NAME.json")
    args = parser.parse_args()

    corpus = data.shakespeare()
    tok = CharTokenizer.from_text(corpus.train + corpus.val)
    train_ids = torch.tensor(tok.encode(corpus.train))
    val_ids = torch.tensor(tok.encode(corpus.val))
    base = dict(vocab_size=tok.vocab_size, block_size=args.context, n_layer=args.layers, n_head=args.heads,
                n_embd=args.width, ffn_multiple_of=32)

    warm = GPT(GPTConfig(**base))  # a short throwaway run first: the first run in a process is slower
    train(warm, train_ids, val_ids, max_iters=20, batch_size=args.batch_size, eval_interval=20, eval_iters=1,
          progress=False)
    rows, histories = {}, {}
    for name, change in VARIANTS.items():
        torch.manual_seed(args.seed)
        model = GPT(GPTConfig(**{**base, **change}))
        t0 = time.perf_counter()
        history = train(model, train_ids, val_ids, max_iters=args.steps, batch_size=args.batch_size,
                        learning_rate=args.lr, warmup_iters=args.steps // 10, eval_interval=max(1, args.steps // 10),
                        eval_iters=10, seed=args.seed, progress=False)
        seconds = time.perf_counter() - t0
        device = next(model.parameters()).device
        loss = dataset_loss(model, val_ids.to(device), batch_size=64)
        rows[name] = dict(val_loss=loss, params=model.num_params(), tokens_per_sec=history.tokens_per_sec)
        histories[name] = history
        print(f"{name:<26} val loss {loss:.4f}  {model.num_params():>9,} params  "
              f"{history.tokens_per_sec:>9,.0f} tokens/s  ({seconds:.0f} s)", flush=True)

    baseline = rows["baseline (GPT-2 choices)"]
    seed_losses = [baseline["val_loss"]]
    for seed in args.baseline_seeds:  # the same baseline from other seeds (weights and batches): the noise
        torch.manual_seed(seed)
        model = GPT(GPTConfig(**base))
        train(model, train_ids, val_ids, max_iters=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
              warmup_iters=args.steps // 10, eval_interval=args.steps, eval_iters=1, seed=seed, progress=False)
        seed_losses.append(dataset_loss(model, val_ids.to(next(model.parameters()).device), batch_size=64))
        print(f"baseline with seed {seed:<14} val loss {seed_losses[-1]:.4f}", flush=True)
    spread = max(seed_losses) - min(seed_losses)
    print(f"baseline over {len(seed_losses)} seeds: spread (max - min) {spread:.3f}")
    print(f"\n{'variant':<26}{'val loss':>9}{'vs baseline':>13}{'params':>10}{'tokens/s':>10}{'speed':>7}")
    for name, r in rows.items():
        print(f"{name:<26}{r['val_loss']:>9.3f}{r['val_loss'] - baseline['val_loss']:>+13.3f}{r['params']:>10,}"
              f"{r['tokens_per_sec']:>10,.0f}{r['tokens_per_sec'] / baseline['tokens_per_sec']:>6.2f}x")

    fig = plots.plot_validation_curves(histories, title=f"{args.steps} steps of {args.batch_size} x {args.context} "
                                                        f"characters, width {args.width}, {args.layers} layers")
    fig.savefig(args.plot, dpi=150, bbox_inches="tight")
    print(f"saved {args.plot}")
    if args.save_result:
        values = {"steps": args.steps, "batch_size": args.batch_size, "context": args.context, "width": args.width,
                  "layers": args.layers, "variants": " | ".join(rows),
                  "baseline_seeds": [args.seed, *args.baseline_seeds],
                  "baseline_seed_losses": [round(x, 4) for x in seed_losses], "seed_spread": round(spread, 4)}
        for i, r in enumerate(rows.values()):
            values.update({f"val_loss_{i}": round(r["val_loss"], 4), f"params_{i}": r["params"],
                           f"tokens_per_sec_{i}": round(r["tokens_per_sec"])})
        path = results.save(results.Result(
            args.save_result, values, produced_by=f"python benchmarks/ablation.py --save-result {args.save_result}",
            hardware=results.machine(), notes=f"torch {torch.__version__}; one seed ({args.seed}) per variant; "
                                              "variant i of `variants` has val_loss_i, params_i, tokens_per_sec_i; "
                                              "the baseline again from each of baseline_seeds for the noise"))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
