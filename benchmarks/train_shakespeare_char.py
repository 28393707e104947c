"""Quality bar for the CPU preset: a character-level baby GPT on Shakespeare.

Trains the "cpu" preset (4 layers, 4 heads, width 128, context 64, batch 12,
2000 steps: the widely quoted baby-GPT setting) on minillm's Shakespeare train
split and prints the exact validation loss per character, the wall time and
the training throughput. The widely quoted reference reaches about 1.88 in
about 3 minutes on a laptop CPU; minillm's bar is val loss <= 1.88.

    python benchmarks/train_shakespeare_char.py            # the CPU preset
    python benchmarks/train_shakespeare_char.py --preset gpu   # on a GPU
    python benchmarks/train_shakespeare_char.py --preset gpu --save-result gpu_preset
        # and keep the numbers in minillm/results/gpu_preset.json (see minillm/results/__init__.py), for figures to draw
"""

import argparse
import shlex
import sys
import time

import torch

from minillm import data, results
from minillm.evaluate import dataset_loss
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.train import PRESETS, set_seed, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--max-iters", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--save-result", metavar="NAME", type=str,
                        help="write the measurement to minillm/results/NAME.json (e.g. gpu_preset) to commit")
    args = parser.parse_args()
    if args.save_result is not None and not results.NAME.fullmatch(args.save_result):
        parser.error(f"--save-result {args.save_result!r}: use lower-case letters, digits and _")

    corpus = data.shakespeare()
    tok = CharTokenizer.from_text(corpus.train + corpus.val)
    train_ids = torch.tensor(tok.encode(corpus.train), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(corpus.val), dtype=torch.long)
    model_cfg, train_cfg = PRESETS[args.preset]
    overrides = {"seed": args.seed}
    if args.max_iters:
        overrides["max_iters"] = args.max_iters
    set_seed(args.seed)
    model = GPT(GPTConfig(**{**model_cfg.to_dict(), "vocab_size": tok.vocab_size}))
    print(f"preset {args.preset}: {model.num_params():,} parameters, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    hist = train(model, train_ids, val_ids, train_cfg, tokenizer=tok, **overrides)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    val = dataset_loss(model, val_ids.to(next(model.parameters()).device))
    print(f"val loss (exact, all {len(val_ids):,} val chars): {val:.4f}   target <= 1.88")
    print(f"val loss (training estimate):                 {hist.val_loss[-1]:.4f}")
    print(f"wall time: {wall:.1f} s training incl. evals (+{time.perf_counter() - t1:.1f} s final eval)")
    print(f"throughput: {hist.tokens_per_sec:,.0f} tokens/s")
    if args.save_result:
        device = next(model.parameters()).device
        steps = args.max_iters or train_cfg.max_iters
        values = {"val_loss": round(val, 4), "val_loss_estimate": round(hist.val_loss[-1], 4),
                  "train_seconds": round(wall, 1), "tokens_per_sec": round(hist.tokens_per_sec),
                  "params": model.num_params(), "steps": steps, "preset": args.preset, "seed": args.seed}
        notes = (f"char-level Shakespeare, exact val loss per character over all {len(val_ids):,} validation "
                 f"characters; train_seconds includes evaluations; torch {torch.__version__} on {device.type}")
        command = shlex.join(["python", "benchmarks/train_shakespeare_char.py", *sys.argv[1:]])
        path = results.save(results.Result(args.save_result, values, command, results.machine(), notes=notes))
        print(f"saved {path}")


if __name__ == "__main__":
    main()
