"""The command line: `python -m minillm train ...` and `python -m minillm sample ...`.

Only argument parsing lives here; the work is done by the package's functions,
which a notebook can call just the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from . import checkpoint, data
from . import config as _config
from .errors import MinillmError
from .generate import complete
from .model import GPT
from .bpe import BPETokenizer
from .tokenizer import CharTokenizer, encode_to_array
from .train import PRESETS, pick_device, set_seed, train

MODEL_FLAGS = {  # flag -> (GPTConfig field, type, help)
    "--n-layer": ("n_layer", int, "Transformer blocks"),
    "--n-head": ("n_head", int, "attention heads per block (must divide --n-embd)"),
    "--n-embd": ("n_embd", int, "model width"),
    "--block-size": ("block_size", int, "context length in tokens"),
    "--dropout": ("dropout", float, "dropout probability, 0 for small data"),
    "--attention": ("attention", str, "attention implementation: reference or sdpa"),
}
TRAIN_FLAGS = {  # flag -> (TrainConfig field, type, help)
    "--max-iters": ("max_iters", int, "optimizer steps"),
    "--batch-size": ("batch_size", int, "sequences per micro-batch"),
    "--grad-accum": ("grad_accum_steps", int, "micro-batches per step"),
    "--lr": ("learning_rate", float, "peak learning rate"),
    "--warmup-iters": ("warmup_iters", int, "linear warmup steps"),
    "--weight-decay": ("weight_decay", float, "AdamW's decoupled weight decay"),
    "--eval-interval": ("eval_interval", int, "steps between loss estimates and checkpoints"),
    "--eval-iters": ("eval_iters", int, "batches per loss estimate"),
    "--device": ("device", str, "auto, cpu, cuda or mps"),
    "--dtype": ("dtype", str, "auto, float32, bfloat16 or float16"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minillm",
        description="Train a small GPT from scratch and sample from it.",
        epilog="Run `python -m minillm train --help` or `... sample --help` for each command's flags.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample}")

    tr = commands.add_parser(
        "train", help="train a GPT on a corpus, save a checkpoint, print samples",
        description="Train a GPT on a text corpus with a character or BPE tokenizer. Model and training "
                    "flags override the preset's values.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                    help="cpu: 4-layer baby GPT, minutes on a laptop; gpu: 6-layer model for a GPU")
    tr.add_argument("--corpus", default="shakespeare",
                    help="'shakespeare' (built on first use) or the path of a UTF-8 text file")
    tr.add_argument("--out-dir", default="runs/shakespeare-char", type=Path,
                    help="where the checkpoint (ckpt.pt) is written")
    tr.add_argument("--resume", action="store_true", help="continue from OUT_DIR/ckpt.pt")
    tr.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                    help="char: one token per character; bpe: byte-level BPE trained on the corpus")
    tr.add_argument("--vocab-size", type=int, default=4096, help="BPE vocabulary size (with --tokenizer bpe)")
    tr.add_argument("--seed", type=int, default=1337, help="seeds model init, batches and dropout")
    tr.add_argument("--samples", type=int, default=2, help="samples to print after training")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for flags, title in ((MODEL_FLAGS, "model (override the preset)"), (TRAIN_FLAGS, "training (override the preset)")):
        group = tr.add_argument_group(title)
        for flag, (_, typ, text) in flags.items():
            group.add_argument(flag, type=typ, default=None, help=text)

    sa = commands.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate text from a trained checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sa.add_argument("--checkpoint", type=Path, default=Path("runs/shakespeare-char/ckpt.pt"),
                    help="checkpoint written by `train`")
    sa.add_argument("--prompt", default="\n", help="text to continue")
    sa.add_argument("--num-samples", type=int, default=3, help="how many continuations")
    sa.add_argument("--max-new-tokens", type=int, default=300, help="tokens to generate per sample")
    sa.add_argument("--temperature", type=float, default=0.8, help="0 is greedy; higher is more random")
    sa.add_argument("--top-k", type=int, default=None, help="sample only among the k likeliest tokens")
    sa.add_argument("--top-p", type=float, default=None, help="sample only within probability mass p")
    sa.add_argument("--seed", type=int, default=0, help="same seed, same text")
    sa.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    return parser


def _print_samples(samples: list[str], prompt: str) -> None:
    for i, text in enumerate(samples):
        print(f"--- sample {i + 1} " + "-" * 50)
        print(prompt + text)


def cmd_train(args) -> None:
    model_cfg, train_cfg = PRESETS[args.preset]
    # check every flag before the (slow) corpus build, so typos fail fast
    model_over = {field: getattr(args, flag[2:].replace("-", "_")) for flag, (field, _, _) in MODEL_FLAGS.items()}
    train_over = {field: getattr(args, flag[2:].replace("-", "_")) for flag, (field, _, _) in TRAIN_FLAGS.items()}
    model_cfg = _config.replace(model_cfg, **{k: v for k, v in model_over.items() if v is not None})
    train_cfg = _config.replace(train_cfg, seed=args.seed, checkpoint_path=str(args.out_dir / "ckpt.pt"),
                                **{k: v for k, v in train_over.items() if v is not None})
    pick_device(train_cfg.device)
    corpus = data.load_corpus(args.corpus)
    if args.tokenizer == "bpe":  # trained on the training split only; deterministic, so --resume agrees
        tokenizer = BPETokenizer.train(corpus.train, args.vocab_size)
    else:
        tokenizer = CharTokenizer.from_text(corpus.train + corpus.val)
    model_cfg = _config.replace(model_cfg, vocab_size=tokenizer.vocab_size)
    print(f"corpus: {corpus}")
    print(f"tokenizer: {tokenizer}")
    ckpt = args.out_dir / "ckpt.pt"
    if ckpt.exists() and not args.resume:
        print(f"note: {ckpt} exists and will be overwritten (pass --resume to continue it instead)")
    set_seed(args.seed)
    model = GPT(model_cfg)
    print(f"model: {model.num_params():,} parameters ({model_cfg.n_layer} layers, {model_cfg.n_head} heads, "
          f"width {model_cfg.n_embd}, context {model_cfg.block_size})")
    # ids cached on disk as uint16/uint32, so a second run skips the encoding
    progress = not args.no_progress
    train_ids = torch.from_numpy(encode_to_array(tokenizer, corpus.train, progress=progress).astype("int32"))
    val_ids = torch.from_numpy(encode_to_array(tokenizer, corpus.val, progress=progress).astype("int32"))
    history = train(model, train_ids, val_ids, train_cfg, tokenizer=tokenizer, resume=args.resume,
                    progress=not args.no_progress)
    print(f"done: val loss {history.val_loss[-1]:.3f}, {history.tokens_per_sec:,.0f} tokens/s")
    print(f"checkpoint: {ckpt}")
    if args.samples:
        _print_samples(complete(model, tokenizer, "\n", max_new_tokens=300, num_samples=args.samples,
                                temperature=0.8, seed=args.seed), "\n")
    print(f"\nsample more with: python -m minillm sample --checkpoint {ckpt}")


def cmd_sample(args) -> None:
    model, tokenizer = checkpoint.load_model(args.checkpoint, device=pick_device(args.device))
    if tokenizer is None:
        raise MinillmError(f"{args.checkpoint} has no tokenizer saved, so its ids can't be turned into text")
    samples = complete(model, tokenizer, args.prompt, max_new_tokens=args.max_new_tokens,
                       num_samples=args.num_samples, temperature=args.temperature, top_k=args.top_k,
                       top_p=args.top_p, seed=args.seed)
    _print_samples(samples, args.prompt)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"train": cmd_train, "sample": cmd_sample}[args.command](args)
    except (MinillmError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; the last checkpoint written is intact", file=sys.stderr)
        return 130
    return 0
