"""When does a GPT beat counting? A preset's validation loss against the n-gram ladder.

Fits character n-gram models (n = 1..7, add-k and interpolated Kneser-Ney,
minillm.ngram) on minillm's Shakespeare training split, then trains a GPT
preset and scores it exactly on every validation character at regular steps.
Prints the step and the training time (evaluations excluded) at which the
GPT's validation loss first falls below the best add-k model and the best
Kneser-Ney model, or how far above them it ended.

    python benchmarks/ngram_crossover.py                          # cpu preset, 10,000 steps (~15 min on 2 cores)
    python benchmarks/ngram_crossover.py --save-result ngram_crossover_cpu   # and update the committed result
    python benchmarks/ngram_crossover.py --max-iters 2000         # the preset as the quickstart trains it
    python benchmarks/ngram_crossover.py --preset gpu --max-iters 5000 --eval-every 250   # on a GPU

Subtle: the cosine schedule runs over --max-iters, so the loss at step 2,000
of a 10,000-step run is higher than at the end of a 2,000-step run. The
n-gram losses need nothing but counting and take a few seconds each.
"""

import argparse
import time

import torch

from minillm import data, results
from minillm.evaluate import dataset_loss
from minillm.model import GPT, GPTConfig
from minillm.ngram import ladder
from minillm.tokenizer import CharTokenizer
from minillm.train import PRESETS, set_seed, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--max-iters", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=1000, help="steps between exact validation losses")
    parser.add_argument("--max-n", type=int, default=6, help="longest n-gram (notebook 01 goes up to 6)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--save-result", metavar="NAME", help="write the curve to minillm/results/NAME.json (minillm.results)")
    args = parser.parse_args()

    corpus = data.shakespeare()
    tok = CharTokenizer.from_text(corpus.train + corpus.val)
    train_ids = torch.tensor(tok.encode(corpus.train), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(corpus.val), dtype=torch.long)

    rungs = ladder(train_ids, val_ids, tok.vocab_size, orders=range(1, args.max_n + 1))
    print(f"{'n':>2} {'smoothing':<11}{'val loss':>9}{'counts':>12}{'unseen':>8}")
    for r in rungs:
        print(f"{r.n:>2} {r.smoothing:<11}{r.val_loss:>9.3f}{r.table_size:>12,}{r.unseen:>8.1%}")
    best = {s: min((r for r in rungs if r.smoothing == s), key=lambda r: r.val_loss) for s in ("add-k", "kneser-ney")}

    model_cfg, train_cfg = PRESETS[args.preset]
    set_seed(args.seed)
    model = GPT(GPTConfig(**{**model_cfg.to_dict(), "vocab_size": tok.vocab_size}))
    tokens_per_step = train_cfg.batch_size * model_cfg.block_size * train_cfg.grad_accum_steps
    curve = []  # (step, training seconds so far, exact validation loss)

    def score(history):
        step = history.eval_steps[-1]
        seconds = step * tokens_per_step / history.tokens_per_sec if history.tokens_per_sec else 0.0
        device = next(model.parameters()).device
        curve.append((step, seconds, dataset_loss(model, val_ids.to(device), batch_size=64)))
        print(f"step {step:>6}  {seconds:>7.0f} s  exact val loss {curve[-1][2]:.4f}", flush=True)

    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, train_cfg, max_iters=args.max_iters, eval_interval=args.eval_every,
          eval_iters=1, seed=args.seed, callback=score)  # eval_iters=1: the exact score is in the callback
    wall = time.perf_counter() - t0

    print(f"\npreset {args.preset}: {model.num_params():,} parameters, {args.max_iters} steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {wall:.0f} s wall in all")
    for smoothing, rung in best.items():
        crossed = next(((s, t, v) for s, t, v in curve if v < rung.val_loss), None)
        line = f"best {smoothing} n-gram (n = {rung.n}): {rung.val_loss:.3f}; "
        if crossed:
            print(line + f"the GPT goes below it at step {crossed[0]} after {crossed[1]:.0f} s of training "
                  f"({crossed[2]:.3f})")
        else:
            print(line + f"not crossed in {args.max_iters} steps: the GPT ended at {curve[-1][2]:.3f}")
    if args.save_result:
        cross = {s: next(((st, t) for st, t, v in curve if v < r.val_loss), (0, 0.0)) for s, r in best.items()}
        path = results.save(results.Result(args.save_result, {
            "preset": args.preset, "params": model.num_params(), "steps": args.max_iters,
            "val_loss": round(curve[-1][2], 4), "tokens_per_sec": round(history.tokens_per_sec),
            "curve_steps": [s for s, _, _ in curve], "curve_train_seconds": [round(t, 1) for _, t, _ in curve],
            "curve_val_losses": [round(v, 4) for _, _, v in curve],
            "best_addk_n": best["add-k"].n, "best_addk_loss": round(best["add-k"].val_loss, 4),
            "best_kn_n": best["kneser-ney"].n, "best_kn_loss": round(best["kneser-ney"].val_loss, 4),
            "addk_crossed_at_step": cross["add-k"][0], "kn_crossed_at_step": cross["kneser-ney"][0]},
            produced_by=f"python benchmarks/ngram_crossover.py --preset {args.preset} --max-iters {args.max_iters} "
                        f"--eval-every {args.eval_every} --save-result {args.save_result}",
            hardware=results.machine(),
            notes=f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads at the end; crossed_at_step 0 "
                  "means not crossed. train_seconds exclude evaluations and depend on the machine's load."))
        print(f"wrote {path}")

if __name__ == "__main__":
    main()
