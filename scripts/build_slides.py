"""Build every slide deck in slides/ into one self-contained HTML file each.

    python scripts/build_slides.py          # slides/build/<deck>.html for every slides/*.md
    python scripts/build_slides.py --pdf    # and slides/build/<deck>.pdf (needs Chromium)

What a build does:
1. Redraws every figure the decks show, from minillm's own plotting code
   (the FIGURES table below), into slides/figures/. A deck may show only
   figures from that table, so a slide never shows a picture the package can
   no longer draw. The data behind them is the Shakespeare corpus, a counting
   bigram model and a tiny GPT trained for a few seconds, all seeded, and for
   the tokenization deck a BPE trained on the corpus and GPT-2's vocabulary.
2. Installs Marp, pinned in slides/package-lock.json, with `npm ci` when
   slides/node_modules/ is missing or older than the lock file.
3. Renders each deck with Marp. Marp inlines its CSS and draws math as inline
   SVG, but keeps images as links to files; so each deck is first copied to a
   temporary file whose figures are base64 `data:` URIs. The HTML then opens
   offline on its own, e.g. sent by mail or opened from a USB stick.

Figures are computed once per build and shared by all decks.
"""

from __future__ import annotations

import argparse
import base64
import functools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # draw to files, never to a window; must precede importing pyplot

import matplotlib.pyplot as plt  # noqa: E402
import regex  # noqa: E402
import tiktoken  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minillm import plots  # noqa: E402
from minillm.bigram import BigramModel, bigram_counts  # noqa: E402
from minillm.bpe import GPT2_PATTERN, BPETokenizer, bytes_per_token, merge_usage  # noqa: E402
from minillm.data import Corpus, shakespeare  # noqa: E402
from minillm.model import GPT, GPTConfig  # noqa: E402
from minillm.tiktoken_bridge import gpt2_encoding, to_tiktoken  # noqa: E402
from minillm.tokenizer import CharTokenizer  # noqa: E402
from minillm.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLIDES = ROOT / "slides"
FIGURE_DIR = SLIDES / "figures"
BUILD_DIR = SLIDES / "build"
MARP = SLIDES / "node_modules" / ".bin" / "marp"
DPI = 200  # figures are shown up to ~1200 px wide; 200 dpi keeps text sharp when projected
MIN_NODE = 18  # Marp CLI 4 needs Node.js 18 or newer


class BuildError(Exception):
    """A problem the user can fix; main() prints it without a traceback."""


# ----------------------------------------------------------------------------
# what the figures are computed from

# Text the figures show; the test corpus in tests/test_slides.py contains them.
SHIFT_TEXT = "To be, or not"
LOSS_TEXT = "But soft, what light"
PROMPT = "To b"  # autoregressive_steps.png starts from this
TEMPERATURE_CONTEXT = "t"  # temperatures.png: the distribution of the character after this one
# M2: shown under the character tokenizer too, so every character must occur in the corpus
TOKENS_TEXT = "But, soft! What light through yonder window breaks?"
MODERN_TEXT = "The GPU finished training in 42 minutes."
PRETOKEN_TEXT = "  I'll pay 300 ducats, won't you?"
UTF8_TEXT = "Café \U0001F600"         # ASCII, an accented letter and an emoji: 1, 2 and 4 bytes
MERGE_TEXT = "banana bandana banana"  # the merge loop step by step, with two ties
ODD_TEXTS = {"digits": " 12345 + 678 = 13023", "indentation": "    return x",
             "French": "Ça coûte 10 €.", "Russian": "Привет, мир"}
BPE_VOCAB_SIZE = 4096  # the course BPE behind the M2 figures: 4-10 s to train on two cores
COMPRESSION_SIZES = (257, 512, 1024, 2048, 4096)  # 257: the bytes and <|endoftext|>, no merges


@dataclass
class FigureData:
    """What the data-driven figures are computed from, built once per build."""

    tokenizer: CharTokenizer
    train_ids: torch.Tensor  # the training text as token ids, (N,)
    val_ids: torch.Tensor    # the validation text as token ids
    counts: torch.Tensor     # bigram counts of the training text, (V, V)
    train_steps: int         # optimizer steps of the tiny GPT behind training_curve.png
    corpus: Corpus           # the text itself, for the tokenizer figures
    bpe_vocab_size: int = BPE_VOCAB_SIZE

    # The members below are computed on first use, so a build that doesn't draw
    # their figures doesn't pay for them.

    @functools.cached_property
    def bigram(self) -> BigramModel:
        return BigramModel(self.counts, alpha=1.0)

    @functools.cached_property
    def bpe(self) -> BPETokenizer:
        """A byte-level BPE trained on the training text (fewer tokens if the text runs out of pairs)."""
        return BPETokenizer.train(self.corpus.train, self.bpe_vocab_size)

    @functools.cached_property
    def gpt2(self) -> tiktoken.Encoding:
        """GPT-2's tokenizer; fetched once (see minillm.tiktoken_bridge), DataError if it can't be."""
        return gpt2_encoding()

    def labels(self) -> list[str]:
        """The vocabulary as tick labels that show whitespace."""
        return [{" ": "␣", "\n": "\\n"}.get(c, c) for c in self.tokenizer.chars]


def figure_data(corpus: Corpus, train_steps: int = 300, bpe_vocab_size: int = BPE_VOCAB_SIZE) -> FigureData:
    """Tokenize `corpus` by character and count its bigrams.

    300 steps of the tiny GPT take about 5 s on two CPU cores; tests pass fewer.
    """
    tok = CharTokenizer.from_text(corpus.train + corpus.val)
    train_ids = torch.tensor(tok.encode(corpus.train))
    val_ids = torch.tensor(tok.encode(corpus.val))
    return FigureData(tok, train_ids, val_ids, bigram_counts(train_ids, tok.vocab_size), train_steps,
                      corpus, bpe_vocab_size)


# ----------------------------------------------------------------------------
# the figures: file name -> function of FigureData returning a Figure

def fig_token_losses(data: FigureData) -> Figure:
    ids = torch.tensor(data.tokenizer.encode(LOSS_TEXT))
    losses = -data.bigram.probs[ids[:-1], ids[1:]].log()  # -log P(next | current), one per target
    return plots.plot_token_losses(LOSS_TEXT, losses.tolist(), baseline=math.log(data.tokenizer.vocab_size))


def fig_training_curve(data: FigureData) -> Figure:
    """A tiny GPT trained for a few seconds against the uniform and bigram baselines."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=64))
    # on a busy machine (CI, a shared server) train() takes fewer threads: see minillm/device.py
    history = train(model, data.train_ids, data.val_ids, max_iters=data.train_steps, batch_size=16,
                    learning_rate=3e-3, warmup_iters=min(20, data.train_steps // 5 + 1),
                    eval_interval=max(1, data.train_steps // 6), eval_iters=5, device="cpu", seed=1337,
                    progress=False)
    baselines = {"uniform guess, log V": math.log(data.tokenizer.vocab_size),
                 "bigram counts": data.bigram.loss(data.val_ids)}
    return plots.plot_history(history, baselines,
                              title=f"A {model.num_params() / 1e3:.0f}K-parameter GPT, "
                                    f"{data.train_steps} steps on a CPU")


def fig_autoregressive_steps(data: FigureData, n_steps: int = 4, seed: int = 3) -> Figure:
    """Sample from the bigram model one character at a time, recording each step's top choices."""
    generator = torch.Generator().manual_seed(seed)
    chars, probs = data.tokenizer.chars, data.bigram.probs.float()
    last, steps = data.tokenizer.encode(PROMPT)[-1], []
    for _ in range(n_steps):
        p = probs[last]
        top = p.topk(3)
        picked = torch.multinomial(p, 1, generator=generator).item()
        steps.append(([(chars[i], v) for v, i in zip(top.values.tolist(), top.indices.tolist())], chars[picked]))
        last = picked
    return plots.plot_autoregressive_steps(PROMPT, steps)


def fig_temperatures(data: FigureData) -> Figure:
    logits = data.bigram.probs[data.tokenizer.stoi[TEMPERATURE_CONTEXT]].log()  # log-probs are logits
    return plots.plot_temperatures(logits, data.labels(), temperatures=(0.5, 1.0, 2.0), top=10)


def fig_token_boundaries(data: FigureData, text: str) -> Figure:
    """`text` under the character tokenizer, the BPE trained on the corpus, and GPT-2."""
    return plots.plot_tokens({f"characters ({data.tokenizer.vocab_size})": plots.token_pieces(data.tokenizer, text),
                              f"BPE trained here ({data.bpe.vocab_size:,})": plots.token_pieces(data.bpe, text),
                              f"GPT-2 ({data.gpt2.n_vocab:,})": plots.token_pieces(data.gpt2, text)})


def fig_pretokens(data: FigureData) -> Figure:
    """One sentence as GPT-2's regex cuts it, then as two BPEs tokenize it: no token crosses a cut."""
    text = PRETOKEN_TEXT
    return plots.plot_tokens({"GPT-2 regex pre-tokens": regex.findall(GPT2_PATTERN, text),
                              f"BPE trained here ({data.bpe.vocab_size:,})": plots.token_pieces(data.bpe, text),
                              f"GPT-2 ({data.gpt2.n_vocab:,})": plots.token_pieces(data.gpt2, text)},
                             unit="pieces")


def fig_vocabulary_returns(data: FigureData) -> Figure:
    """Side by side, on the held-out works: bytes per token as the course BPE grows (GPT-2 for
    reference), and how often each of its merges fires."""
    text = data.corpus.val
    sizes = [v for v in COMPRESSION_SIZES if v <= data.bpe.vocab_size]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.9), layout="constrained")
    # exported to tiktoken: the same ids as minillm's encoder, several times faster
    plots.plot_compression(sizes, [bytes_per_token(to_tiktoken(data.bpe.with_vocab_size(v)), text) for v in sizes],
                           {"GPT-2": (data.gpt2.n_vocab, bytes_per_token(data.gpt2, text))}, ax=left)
    left.set_xlim(2 ** 7.6, 2 ** 17.4)  # room for the label beside GPT-2's point
    plots.plot_merge_usage(merge_usage(data.bpe, text), ax=right,
                           title=f"The merges of the BPE trained here ({data.bpe.vocab_size:,})")
    return fig


FIGURES: dict[str, Callable[[FigureData], Figure]] = {
    "llm_lifecycle.png": lambda data: plots.plot_llm_lifecycle(),
    "shift_by_one.png": lambda data: plots.plot_shift_by_one(SHIFT_TEXT),
    "token_losses.png": fig_token_losses,
    "bigram_counts.png": lambda data: plots.plot_bigram_counts(data.counts, data.labels(), top=20),
    "training_curve.png": fig_training_curve,
    "perplexity.png": lambda data: plots.plot_perplexity(),
    "autoregressive_steps.png": fig_autoregressive_steps,
    "temperatures.png": fig_temperatures,
    # M2: tokenization
    "utf8_bytes.png": lambda data: plots.plot_utf8_bytes(UTF8_TEXT),
    "bpe_merges.png": lambda data: plots.plot_bpe_merges(MERGE_TEXT, n_merges=4, top=2, title=None),
    "token_boundaries.png": lambda data: fig_token_boundaries(data, TOKENS_TEXT),
    "token_boundaries_modern.png": lambda data: fig_token_boundaries(data, MODERN_TEXT),
    "pretokens.png": fig_pretokens,
    "odd_splits.png": lambda data: plots.plot_tokens({label: plots.token_pieces(data.gpt2, text)
                                                      for label, text in ODD_TEXTS.items()}, title="GPT-2"),
    "vocabulary_returns.png": fig_vocabulary_returns,
}


# ----------------------------------------------------------------------------
# decks

# ![alt](path) in Markdown, Marp's sizing keywords (w:, bg, ...) live in alt
IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)\s*\)")


def decks() -> list[Path]:
    return sorted(SLIDES.glob("*.md"))


def figure_refs(markdown: str) -> list[str]:
    """Paths of the images a deck shows, in order of appearance.

    >>> figure_refs("![w:600](figures/a.png) text ![bg right](figures/b.png)")
    ['figures/a.png', 'figures/b.png']
    """
    return [m.group(2) for m in IMAGE.finditer(markdown)]


def check_refs(deck: Path) -> list[str]:
    """The figure names a deck uses; BuildError for any image not drawn by FIGURES."""
    names, bad = [], []
    for ref in figure_refs(deck.read_text(encoding="utf-8")):
        name = ref.removeprefix("figures/")
        if ref.startswith("figures/") and name in FIGURES:
            names.append(name)
        else:
            bad.append(ref)
    if bad:
        raise BuildError(f"{deck.name} shows images the build does not draw: {', '.join(bad)}. "
                         f"Decks may show only figures/<name> with <name> one of {sorted(FIGURES)}; "
                         "add a function to FIGURES in scripts/build_slides.py for a new one.")
    return names


def draw_figures(names: list[str], data: FigureData, out_dir: Path = FIGURE_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.perf_counter()
        fig = FIGURES[name](data)
        fig.savefig(out_dir / name, dpi=DPI, bbox_inches="tight", facecolor="white")
        plt.close(fig)
        print(f"  figure {name} ({time.perf_counter() - t0:.1f} s)", flush=True)


def inline_figures(markdown: str, figure_dir: Path = FIGURE_DIR) -> str:
    """Replace each figures/<name> image link with the PNG as a base64 data URI."""
    def data_uri(m: re.Match) -> str:
        png = (figure_dir / m.group(2).removeprefix("figures/")).read_bytes()
        return f"![{m.group(1)}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

    return IMAGE.sub(data_uri, markdown)


# Anything that makes a browser fetch a resource from the network.
EXTERNAL_LOAD = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


def external_loads(html: str) -> list[str]:
    """Snippets of `html` that would load something from the network (ordinary links excepted).

    >>> external_loads('<a href="https://marp.app">x</a><img src="https://x.org/a.png">')
    ['<img src="https://x.org/a.png"']
    """
    found = []
    for m in EXTERNAL_LOAD.finditer(html):
        start = html.rfind("<", 0, m.start())
        if html[start:start + 3].lower() == "<a ":  # a link the reader may click, not a load
            continue
        found.append(html[max(start, m.start() - 40): m.end() + 30].split(">")[0])
    return found


# ----------------------------------------------------------------------------
# tools: node, npm, Marp, Chromium

def ensure_marp() -> None:
    """Install Marp from slides/package-lock.json if needed; BuildError without Node.js."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise BuildError(f"`{tool}` was not found: the slides need Node.js {MIN_NODE}+ and npm for Marp. "
                             "Install them, e.g. `apt-get install nodejs npm` or from https://nodejs.org")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    major = re.match(r"v(\d+)", version)
    if major is None or int(major.group(1)) < MIN_NODE:
        raise BuildError(f"Node.js {version or '(unknown version)'} is too old for Marp CLI 4: "
                         f"install Node.js {MIN_NODE} or newer")
    lock, installed = SLIDES / "package-lock.json", SLIDES / "node_modules" / ".package-lock.json"
    if MARP.exists() and installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing Marp with `npm ci` in slides/", flush=True)
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SLIDES, capture_output=True, text=True)
    if result.returncode != 0 or not MARP.exists():
        raise BuildError(f"`npm ci` in slides/ failed:\n{result.stderr.strip()[-2000:]}")


def find_chromium() -> str:
    """The browser Marp prints PDFs with: $CHROME_PATH, else Chromium or Chrome on the PATH."""
    candidates = [os.environ.get("CHROME_PATH"), "/usr/bin/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise BuildError("--pdf needs Chromium (or Chrome) and none was found. Install it with "
                     "`apt-get install chromium`, or set CHROME_PATH to the browser's executable.")


def marp(markdown: Path, output: Path, pdf: bool = False, browser: str | None = None) -> None:
    cmd = [str(MARP), str(markdown), "-o", str(output), "--no-stdin", "--no-config-file"]
    if pdf:
        cmd += ["--pdf", "--browser-path", browser]
    result = subprocess.run(cmd, cwd=SLIDES, capture_output=True, text=True)
    if result.returncode != 0 or not output.is_file():
        raise BuildError(f"Marp could not render {output.name}:\n{(result.stderr or result.stdout).strip()[-2000:]}")


# ----------------------------------------------------------------------------

def build(pdf: bool = False) -> list[Path]:
    """Build every deck; returns the files written."""
    t_start = time.perf_counter()
    all_decks = decks()
    if not all_decks:
        raise BuildError(f"no decks: {SLIDES} has no *.md files")
    used = {deck: check_refs(deck) for deck in all_decks}  # fail on a bad reference before any work
    browser = find_chromium() if pdf else None
    ensure_marp()

    names = sorted({name for refs in used.values() for name in refs})
    print(f"drawing {len(names)} figures into {FIGURE_DIR.relative_to(ROOT)}/", flush=True)
    draw_figures(names, figure_data(shakespeare()))

    BUILD_DIR.mkdir(exist_ok=True)
    written = []
    for i, deck in enumerate(all_decks, 1):
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="minillm-slides-") as tmp:
            inlined = Path(tmp) / deck.name
            inlined.write_text(inline_figures(deck.read_text(encoding="utf-8")), encoding="utf-8")
            outputs = [BUILD_DIR / f"{deck.stem}.html"] + ([BUILD_DIR / f"{deck.stem}.pdf"] if pdf else [])
            for out in outputs:
                marp(inlined, out, pdf=out.suffix == ".pdf", browser=browser)
        loads = external_loads(outputs[0].read_text(encoding="utf-8"))
        if loads:
            raise BuildError(f"{outputs[0].name} would load resources from the network: {loads[:3]}")
        sizes = ", ".join(f"{out.relative_to(ROOT)} ({out.stat().st_size / 1e6:.1f} MB)" for out in outputs)
        print(f"[{i}/{len(all_decks)}] {deck.name}: {len(used[deck])} figures -> {sizes} "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        written += outputs
    print(f"built {len(all_decks)} deck(s) in {time.perf_counter() - t_start:.1f} s")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pdf", action="store_true", help="also write PDFs (needs Chromium)")
    args = parser.parse_args(argv)
    try:
        build(pdf=args.pdf)
    except BuildError as e:
        print(f"build_slides: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
