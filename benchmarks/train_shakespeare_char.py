"""Quality bar for the CPU preset: a character-level baby GPT on Shakespeare.

Trains the "cpu" preset (4 layers, 4 heads, width 128, context 64, batch 12,
2000 steps: the widely quoted baby-GPT setting) on minillm's Shakespeare train
split and prints the exact validation loss per character, the wall time and
the training throughput. The widely quoted reference reaches about 1.88 in
about 3 minutes on a laptop CPU; minillm's bar is val loss <= 1.88.

    python benchmarks/train_shakespeare_char.py            # the CPU preset
    python benchmarks/train_shakespeare_char.py --preset gpu   # on a GPU
"""

import argparse
import time

import torch

from minillm import data
from minillm.evaluate import dataset_loss
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.train import PRESETS, set_seed, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--max-iters", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
