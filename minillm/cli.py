"""The command line: `python -m minillm train ...`, `... sample ...` and `... data ...`.

Only argument parsing and error reporting live here; the work is done by the
package's functions, which a notebook can call just the same.

Exit codes follow the usual convention: 0 success; 2 a usage error (a flag
or setting that can't work, said in one line); 1 bad data or files (a
corrupted checkpoint, a corpus that isn't text, a run that diverged, a run
folder in use or not writable: one line that says what to do); 130 after Ctrl-C and 143 after
SIGTERM. Anything else is a bug in minillm and shows its traceback, as does
every error with `--debug` or `MINILLM_DEBUG=1`.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

import torch

from . import checkpoint, data
from . import config as _config
from .bpe import BPETokenizer
from .device import pick_device
from .errors import CheckpointError, ConfigError, DataError, MinillmError
from .generate import complete
from .io import exclusive
from .model import GPT
from .tokenizer import CharTokenizer, encode_to_array
from .train import PRESETS, set_seed, train


# ----------------------------------------------------------------------------
# flag types: a bad value is a usage error before anything runs

def _number(kind, low, low_ok: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not low_ok):
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}")
        return value
    return parse


positive_int = _number(int, 1, True, "a positive integer")
count = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0.0, False, "a positive number")
nonnegative_float = _number(float, 0.0, True, "a number >= 0")
any_int = _number(int, -math.inf, True, "an integer")
bpe_vocab_size = _number(int, 257, True, "a vocabulary size of at least 257 (256 bytes and <|endoftext|>)")

MODEL_FLAGS = {  # flag -> (GPTConfig field, type, help)
    "--n-layer": ("n_layer", positive_int, "Transformer blocks"),
    "--n-head": ("n_head", positive_int, "attention heads per block (must divide --n-embd)"),
    "--n-embd": ("n_embd", positive_int, "model width"),
    "--block-size": ("block_size", positive_int, "context length in tokens"),
    "--dropout": ("dropout", nonnegative_float, "dropout probability, 0 for small data"),
    "--attention": ("attention", str, "attention implementation: reference or sdpa"),
}
TRAIN_FLAGS = {  # flag -> (TrainConfig field, type, help)
    "--max-iters": ("max_iters", positive_int, "optimizer steps"),
    "--batch-size": ("batch_size", positive_int, "sequences per micro-batch"),
    "--grad-accum": ("grad_accum_steps", positive_int, "micro-batches per step"),
    "--lr": ("learning_rate", positive_float, "peak learning rate"),
    "--warmup-iters": ("warmup_iters", count, "linear warmup steps"),
    "--lr-decay-iters": ("lr_decay_iters", positive_int,
                         "step where the cosine decay ends (default: --max-iters; with --resume: the "
                         "checkpoint's, so a longer run keeps its schedule)"),
    "--weight-decay": ("weight_decay", nonnegative_float, "AdamW's decoupled weight decay"),
    "--eval-interval": ("eval_interval", positive_int, "steps between loss estimates and checkpoints"),
    "--eval-iters": ("eval_iters", positive_int, "batches per loss estimate"),
    "--device": ("device", str, "auto, cpu, cuda or mps"),
    "--dtype": ("dtype", str, "auto, float32, bfloat16 or float16"),
    "--threads": ("threads", positive_int,
                  "CPU threads (default: the cores other programs leave free; MINILLM_THREADS also sets it)"),
}


def _preset_values(field: str, index: int) -> str:
    """' (cpu preset: 4, gpu preset: 6)' or ' (default: auto)'; '' when the help says it."""
    values = {name: getattr(configs[index], field) for name, configs in PRESETS.items()}
    if None in values.values():
        return ""
    if len(set(values.values())) == 1:
        return f" (default: {next(iter(values.values()))})"
    return " (" + ", ".join(f"{name} preset: {v}" for name, v in values.items()) + ")"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minillm",
        description="Train a small GPT from scratch and sample from it.",
        epilog="Run `python -m minillm train --help` (or sample, data) for each command's flags.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,data}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (or set MINILLM_DEBUG=1)")

    tr = commands.add_parser(
        "train", help="train a GPT on a corpus, save a checkpoint, print samples", parents=[common],
        description="Train a GPT on a text corpus with a character or BPE tokenizer. Model and training "
                    "flags override the preset's values.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                    help="cpu: 4-layer baby GPT, minutes on a laptop; gpu: 6-layer model for a GPU")
    tr.add_argument("--corpus", default="shakespeare",
                    help="'shakespeare' (built on first use) or the path of a UTF-8 text file")
    tr.add_argument("--out-dir", default="runs/shakespeare-char", type=Path,
                    help="the run's folder, where the checkpoint (ckpt.pt) is written")
    tr.add_argument("--resume", action="store_true", help="continue from OUT_DIR/ckpt.pt")
    tr.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                    help="char: one token per character; bpe: byte-level BPE trained on the corpus")
    tr.add_argument("--vocab-size", type=bpe_vocab_size, default=argparse.SUPPRESS,
                    help="BPE vocabulary size, with --tokenizer bpe (default: 4096)")
    tr.add_argument("--seed", type=any_int, default=1337, help="seeds model init, batches and dropout")
    tr.add_argument("--samples", type=count, default=2, help="samples to print after training")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for index, (flags, title) in enumerate(((MODEL_FLAGS, "model (override the preset)"),
                                            (TRAIN_FLAGS, "training (override the preset)"))):
        group = tr.add_argument_group(title)
        for flag, (field, typ, text) in flags.items():
            group.add_argument(flag, type=typ, default=argparse.SUPPRESS, help=text + _preset_values(field, index))

    sa = commands.add_parser(
        "sample", help="generate text from a checkpoint", parents=[common],
        description="Generate text from a trained checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sa.add_argument("--checkpoint", type=Path, default=Path("runs/shakespeare-char/ckpt.pt"),
                    help="checkpoint written by `train`")
    sa.add_argument("--prompt", default="\n",
                    help="text to continue; special tokens such as <|endoftext|> are read as such")
    sa.add_argument("--num-samples", type=positive_int, default=3, help="how many continuations")
    sa.add_argument("--max-new-tokens", type=positive_int, default=300, help="tokens to generate per sample")
    sa.add_argument("--temperature", type=nonnegative_float, default=0.8,
                    help="0 is greedy; higher is more random")
    sa.add_argument("--top-k", type=positive_int, default=argparse.SUPPRESS,
                    help="sample only among the k likeliest tokens (default: all)")
    sa.add_argument("--top-p", type=positive_float, default=argparse.SUPPRESS,
                    help="sample only within probability mass p, at most 1 (default: 1, all)")
    sa.add_argument("--seed", type=any_int, default=0, help="same seed, same text")
    sa.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")

    da = commands.add_parser(
        "data", help="make a raw crawl, curate it, and write token shards", parents=[common],
        description="Module 5's pipeline: a raw crawl with ground truth, curated by heuristic filters, language "
                    "ID, deduplication, GPT-3's quality classifier and PII redaction, then drawn to a token "
                    "budget and written as token shards (with --raw: the crawl as it is, for comparison).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    da.add_argument("--out-dir", type=Path, default=Path("runs/curated"),
                    help="where the shards, manifest.json and tokenizer.json go")
    da.add_argument("--size-mb", type=positive_float, default=3.0, help="size of the raw crawl")
    da.add_argument("--folder", type=Path, default=argparse.SUPPRESS,
                    help="curate the .txt files under this folder (one page each, unlabelled) instead of a crawl")
    da.add_argument("--token-budget", type=positive_int, default=1_200_000,
                    help="characters of text to draw into the shards")
    da.add_argument("--tokenizer", choices=["char", "bpe"], default="char")
    da.add_argument("--vocab-size", type=bpe_vocab_size, default=4096, help="with --tokenizer bpe")
    da.add_argument("--processes", type=positive_int, default=1, help="processes that encode the documents")
    da.add_argument("--raw", action="store_true", help="skip curation: shard the raw crawl")
    da.add_argument("--seed", type=any_int, default=0, help="seeds the crawl and every random step")
    da.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def cmd_data(args) -> None:
    from .curation.crawl import make_crawl, read_folder
    from .curation.pipeline import curate, report, stage_tokens, write_training_shards

    progress = not args.no_progress
    if hasattr(args, "folder"):
        pages, _ = read_folder(args.folder)
        if not pages:
            raise DataError(f"--folder {args.folder}: no readable .txt files in it (see the count above); "
                            "give a folder of UTF-8 text files")
    else:
        pages = make_crawl(args.size_mb, seed=args.seed, progress=progress)
    kept = pages
    if not args.raw:
        kept, stages = curate(pages, seed=args.seed, progress=progress)
        if not kept:
            print(report(stages, pages, kept))
            raise DataError(f"curation dropped all {len(pages):,} pages (see the funnel above); nothing to shard. "
                            "Add --raw to shard them as they are")
    text = "".join(p.text for p in kept)
    tok = (BPETokenizer.train(text, args.vocab_size) if args.tokenizer == "bpe"
           else CharTokenizer.from_text(text))
    if not args.raw:  # a character tokenizer's tokens are the characters: the funnel in MB says it already
        print(report(stages, pages, kept, stage_tokens(stages, pages, kept, tok) if args.tokenizer == "bpe" else None))
    manifest = write_training_shards(kept, tok, args.out_dir, args.token_budget, seed=args.seed,
                                     processes=args.processes, progress=progress)
    tok.save(args.out_dir / "tokenizer.json")
    print(f"wrote {manifest['total_tokens']:,} tokens in {len(manifest['shards'])} shard(s) to {args.out_dir}, "
          f"with tokenizer.json ({tok.kind}, {tok.vocab_size:,} tokens)")


def _print_samples(samples: list[str], prompt: str) -> None:
    for i, text in enumerate(samples):
        print(f"--- sample {i + 1} " + "-" * 50)
        print(prompt + text)


def _given(flags: dict, args) -> dict:
    """{config field: value} for those of `flags` given on the command line."""
    given = vars(args)
    return {field: given[dest] for flag, (field, _, _) in flags.items()
            if (dest := flag[2:].replace("-", "_")) in given}


def cmd_train(args) -> None:
    model_cfg, train_cfg = PRESETS[args.preset]
    # check every flag before the (slow) corpus build, so typos fail fast
    model_cfg = _config.replace(model_cfg, **_given(MODEL_FLAGS, args))
    ckpt = args.out_dir / "ckpt.pt"
    train_cfg = _config.replace(train_cfg, seed=args.seed, checkpoint_path=str(ckpt), **_given(TRAIN_FLAGS, args))
    if hasattr(args, "vocab_size") and args.tokenizer != "bpe":
        raise ConfigError("--vocab-size sets the size of a BPE vocabulary; add --tokenizer bpe, or drop it "
                          "(the character tokenizer takes its vocabulary from the corpus)")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise ConfigError(f"--out-dir {args.out_dir} is a file; give the name of a folder for the run")
    if args.resume and not ckpt.is_file():
        raise CheckpointError(f"--resume: no checkpoint at {ckpt} to continue; train without --resume first, "
                              "or point --out-dir at the run's folder")
    device = pick_device(train_cfg.device)
    if args.preset == "gpu" and device.type == "cpu":
        print("warning: the gpu preset on a machine without a GPU takes hours, not minutes (an estimate "
              "follows the first step); --preset cpu trains in a few minutes")
    with exclusive(ckpt):  # before the slow corpus and tokenizer work, so a second run stops at once
        corpus = data.load_corpus(args.corpus)
        if args.tokenizer == "bpe":  # trained on the training split only; deterministic, so --resume agrees
            tokenizer = BPETokenizer.train(corpus.train, getattr(args, "vocab_size", 4096))
        else:
            tokenizer = CharTokenizer.from_text(corpus.train + corpus.val)
        model_cfg = _config.replace(model_cfg, vocab_size=tokenizer.vocab_size)
        print(f"corpus: {corpus}")
        print(f"tokenizer: {tokenizer}")
        if ckpt.exists() and not args.resume:
            print(f"note: {ckpt} exists and will be overwritten (pass --resume to continue it instead)")
        set_seed(args.seed)
        model = GPT(model_cfg)
        print(f"model: {model.num_params():,} parameters ({model_cfg.n_layer} layers, {model_cfg.n_head} heads, "
              f"width {model_cfg.n_embd}, context {model_cfg.block_size})")
        # ids cached on disk as uint16/uint32, so a second run skips the encoding
        progress = not args.no_progress
        train_ids, val_ids = (torch.from_numpy(encode_to_array(tokenizer, text, progress=progress).astype("int32"))
                              for text in (corpus.train, corpus.val))
        history = train(model, train_ids, val_ids, train_cfg, tokenizer=tokenizer, resume=args.resume,
                        progress=progress)
    print(f"done: val loss {history.val_loss[-1]:.3f}, {history.tokens_per_sec:,.0f} tokens/s")
    print(f"checkpoint: {ckpt}")
    if args.samples:
        _print_samples(complete(model, tokenizer, "\n", max_new_tokens=300, num_samples=args.samples,
                                temperature=0.8, seed=args.seed), "\n")
    print(f"\nsample more with: python -m minillm sample --checkpoint {ckpt}")


def cmd_sample(args) -> None:
    model, tokenizer = checkpoint.load_model(args.checkpoint, device=pick_device(args.device))
    if tokenizer is None:
        raise CheckpointError(f"{args.checkpoint} has no tokenizer saved, so its ids can't be turned into text")
    samples = complete(model, tokenizer, args.prompt, max_new_tokens=args.max_new_tokens,
                       num_samples=args.num_samples, temperature=args.temperature,
                       top_k=getattr(args, "top_k", None), top_p=getattr(args, "top_p", None), seed=args.seed,
                       allow_special=True)
    _print_samples(samples, args.prompt)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler, `kill`, a closing terminal), handled like Ctrl-C."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _interrupted_note(args) -> str:
    """What survived an interrupted command, in one line."""
    if args.command == "data":
        return f"interrupted; shards are renamed into place only when complete, so {args.out_dir} is as it was"
    if args.command != "train":
        return "interrupted"
    ckpt = args.out_dir / "ckpt.pt"
    try:
        step = checkpoint.load(ckpt)["step"]
    except CheckpointError:
        return "interrupted before any checkpoint was written; nothing was saved"
    return f"interrupted; the last checkpoint, {ckpt} at step {step}, is intact: continue it with --resume"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or os.environ.get("MINILLM_DEBUG", "") not in ("", "0")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        {"train": cmd_train, "sample": cmd_sample, "data": cmd_data}[args.command](args)
    except (MinillmError, OSError) as e:  # OSError: a folder we may not write to, a full disk
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1
    except KeyboardInterrupt as e:
        if debug:
            raise
        print(f"\n{_interrupted_note(args)}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
