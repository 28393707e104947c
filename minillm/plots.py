"""The course's figures, drawn from minillm's own code.

Notebooks call these to show results; `scripts/build_slides.py` calls the
same functions to regenerate the decks' figures on every build, so a slide
never shows a picture the package can no longer produce. Each function returns
a matplotlib `Figure` (or draws into the `ax` it is given).
"""

from __future__ import annotations

import math
from typing import Collection, Sequence

import matplotlib.pyplot as plt
import numpy as np
import regex
import torch

from .bpe import GPT2_PATTERN, BPETokenizer, merge, pair_counts
from .optim import lr_at
from .train import History


def _visible(token: str) -> str:
    """A token as a label that shows whitespace: '\\n' for a newline, '␣' for a space."""
    return token.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "␣")


def _axes(ax, figsize=(7, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_history(history: History, baselines: dict[str, float] | None = None, ax=None, title: str | None = None):
    """Training curves: per-step loss, estimated train/val loss, and reference lines.

    baselines maps a label to a loss drawn as a dashed line, e.g.
    {"uniform guess": math.log(V), "bigram counts": 2.45}.
    """
    fig, ax = _axes(ax)
    if history.steps:
        ax.plot(history.steps, history.loss, color="tab:blue", alpha=0.3, lw=1, label="train (per step)")
    ax.plot(history.eval_steps, history.train_loss, "o-", color="tab:blue", label="train (estimate)")
    ax.plot(history.eval_steps, history.val_loss, "o-", color="tab:orange", label="validation")
    for i, (label, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{i + 2}", label=f"{label}: {value:.2f}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title or "Learning to predict the next token")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


class LiveLossPlot:
    """A loss plot that redraws itself in a notebook while `train` runs.

        live = LiveLossPlot(baselines={"bigram": 2.45})
        history = train(model, tr, va, callback=live)
    """

    def __init__(self, baselines: dict[str, float] | None = None, title: str | None = None):
        self.baselines, self.title = baselines, title
        self.fig, self.ax = plt.subplots(figsize=(7, 4), layout="constrained")
        plt.close(self.fig)  # drawn by display() below, not by the notebook's auto-show
        self.handle = None

    def __call__(self, history: History) -> None:
        from IPython.display import display

        self.ax.clear()
        plot_history(history, self.baselines, ax=self.ax, title=self.title)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)


def plot_shift_by_one(text: str, ax=None):
    """Inputs and targets of one training window: the targets are the inputs moved left by one."""
    fig, ax = _axes(ax, figsize=(max(6, 0.55 * len(text)), 1.9))
    x, y = text[:-1], text[1:]
    for row, (label, chars, color) in enumerate((("input x", x, "#dbe9f6"), ("target y", y, "#fde3c8"))):
        ax.text(-0.7, -row, label, ha="right", va="center", fontsize=11)
        for i, c in enumerate(chars):
            ax.add_patch(plt.Rectangle((i - 0.45, -row - 0.4), 0.9, 0.8, color=color))
            ax.text(i, -row, _visible(c), ha="center", va="center",
                    fontsize=12, family="monospace")
    for i in range(len(x)):
        ax.annotate("", xy=(i, -0.6), xytext=(i, -0.4), arrowprops=dict(arrowstyle="->", color="gray"))
    ax.set_xlim(-3.5, len(x))
    ax.set_ylim(-1.6, 0.6)
    ax.axis("off")
    ax.set_title("Each position predicts the token that comes next")
    return fig


def plot_bigram_counts(counts: torch.Tensor, labels: Sequence[str], top: int = 20, ax=None):
    """Heat map of bigram counts among the `top` most frequent tokens."""
    counts = torch.as_tensor(counts)
    keep = counts.sum(dim=1).argsort(descending=True)[:top].sort().values
    sub = counts[keep][:, keep].double()
    fig, ax = _axes(ax, figsize=(6.5, 5.5))
    im = ax.imshow(torch.log1p(sub).numpy(), cmap="Blues")
    names = [_visible(labels[i]) for i in keep.tolist()]
    ax.set_xticks(range(len(keep)), names, family="monospace")
    ax.set_yticks(range(len(keep)), names, family="monospace")
    ax.set_xlabel("next token b")
    ax.set_ylabel("current token a")
    ax.set_title("Bigram counts, log(1 + count(a, b))")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_temperatures(logits: torch.Tensor, labels: Sequence[str], temperatures=(0.5, 1.0, 2.0), top: int = 12):
    """The next-token distribution softmax(logits / T) at several temperatures."""
    logits = torch.as_tensor(logits).float()
    order = logits.argsort(descending=True)[:top]
    names = [_visible(labels[i]) for i in order.tolist()]
    fig, axes = plt.subplots(1, len(temperatures), figsize=(3.6 * len(temperatures), 3.2),
                             sharey=True, layout="constrained")
    for ax, t in zip(np.atleast_1d(axes), temperatures):
        probs = torch.softmax(logits / t, dim=-1)[order]
        ax.bar(range(len(order)), probs.numpy(), color="tab:purple")
        ax.set_xticks(range(len(order)), names, family="monospace")
        ax.set_title(f"temperature {t}")
    np.atleast_1d(axes)[0].set_ylabel("probability")
    fig.suptitle("Lower temperature sharpens the distribution, higher flattens it")
    return fig


def plot_lr_schedule(max_lr: float, warmup_steps: int, decay_steps: int, min_lr_ratio: float = 0.1, ax=None):
    """The learning-rate schedule: linear warmup, cosine decay to a floor."""
    fig, ax = _axes(ax, figsize=(6, 3))
    steps = np.arange(int(decay_steps * 1.1))
    ax.plot(steps, [lr_at(s, max_lr, warmup_steps, decay_steps, min_lr_ratio) for s in steps])
    ax.axvline(warmup_steps, ls=":", color="gray")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Warmup for {warmup_steps} steps, cosine decay to {min_lr_ratio:.0%} of the peak")
    ax.grid(alpha=0.3)
    return fig


def plot_perplexity(max_loss: float = 5.0, marks: Sequence[int] = (2, 10, 84), ax=None):
    """Perplexity = exp(loss): the effective number of equally likely choices.

    `marks` are numbers of choices to point out, e.g. the vocabulary size.
    """
    fig, ax = _axes(ax, figsize=(5, 3))
    loss = np.linspace(0, max_loss, 200)
    ax.plot(loss, np.exp(loss))
    ax.set_xlabel("loss (nats per token)")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.set_title("Perplexity is exp(loss)")
    ax.grid(alpha=0.3, which="both")
    for v in marks:
        ax.annotate(f"{v} choices", (math.log(v), v), textcoords="offset points", xytext=(5, -12))
        ax.plot(math.log(v), v, "o", color="tab:red")
    return fig


# ----------------------------------------------------------------------------
# figures for the slides of modules M0-M1

# (stage, data, objective, compute) of each stage, as module M0 quotes them
LLM_LIFECYCLE = (
    ("Pretraining", "raw web text,\ntrillions of words",
     "predict the next token\n(cross-entropy)", "1000s of GPUs\nfor months"),
    ("Supervised\nfine-tuning", "~10-100K\ndemonstrations",
     "the same loss,\non the answers only", "1-100 GPUs\nfor days"),
    ("Reward\nmodeling", "100K-1M\ncomparisons",
     "rank the preferred\nanswer higher", "1-100 GPUs\nfor days"),
    ("RLHF", "~10-100K prompts",
     "maximise the reward,\nstay near the SFT model", "1-100 GPUs\nfor days"),
)


def plot_llm_lifecycle(stages=LLM_LIFECYCLE, ax=None):
    """The LLM lifecycle as a pipeline: one box per stage with its data, objective and compute."""
    n = len(stages)
    fig, ax = _axes(ax, figsize=(2.9 * n, 4.3))
    width, gap, cell = 2.8, 0.45, 1.0
    rows = (("data", 2.55, "#dbe9f6"), ("objective", 1.5, "#fde3c8"), ("compute", 0.45, "#e2f0d9"))
    for i, (stage, *cells) in enumerate(stages):
        x = i * (width + gap)
        ax.add_patch(plt.Rectangle((x, -0.15), width, 4.05, facecolor="white", edgecolor="0.3", lw=1.5))
        ax.text(x + width / 2, 3.45, stage, ha="center", va="center", fontsize=14, weight="bold")
        for (label, y, color), text in zip(rows, cells):
            ax.add_patch(plt.Rectangle((x + 0.08, y - cell / 2), width - 0.16, cell * 0.95, facecolor=color, lw=0))
            ax.text(x + 0.14, y + 0.33, label, ha="left", va="center", fontsize=9, color="0.4")
            ax.text(x + width / 2, y - 0.08, text, ha="center", va="center", fontsize=11.5, linespacing=1.25)
        if i < n - 1:
            ax.annotate("", xy=(x + width + gap - 0.03, 1.9), xytext=(x + width + 0.03, 1.9),
                        arrowprops=dict(arrowstyle="-|>", lw=2, color="0.3"))
    ax.set_xlim(-0.05, n * (width + gap) - gap + 0.05)
    ax.set_ylim(-0.2, 3.95)
    ax.axis("off")
    return fig


def plot_token_losses(text: str, losses: Sequence[float], baseline: float | None = None, ax=None):
    """Cross-entropy token by token: the bar over text[i + 1] is -log P(text[i + 1] | context).

    losses[i] is the loss of predicting text[i + 1], so len(losses) == len(text) - 1.
    The mean of the bars is the loss a training run reports; `baseline` (e.g.
    log V, the loss of a uniform guess) is drawn as a dashed line.
    """
    losses = np.asarray(losses, dtype=float)
    if len(losses) != len(text) - 1:
        raise ValueError(f"need one loss per predicted token: {len(text) - 1}, got {len(losses)}")
    fig, ax = _axes(ax, figsize=(max(6, 0.45 * len(losses)), 3.4))
    ax.bar(range(len(losses)), losses, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(losses)), [_visible(c) for c in text[1:]], family="monospace", fontsize=12)
    ax.axhline(losses.mean(), color="tab:red", lw=1.5, label=f"mean = loss = {losses.mean():.2f}")
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", lw=1, label=f"uniform guess = {baseline:.2f}")
    ax.set_xlabel("target token")
    ax.set_ylabel("-log P(target)  (nats)")
    ax.set_title("Cross-entropy: how surprised the model is by each next token")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_autoregressive_steps(prompt: str, steps: Sequence[tuple[Sequence[tuple[str, float]], str]], ax=None):
    """The autoregressive loop, one row per step.

    Each step is (top, picked): the model's most likely next tokens with their
    probabilities, and the token that was sampled and appended to the context.
    """
    right = len(prompt) + len(steps) + 0.8  # where the next-token distribution is written
    text_width = 10.8  # room for the distribution and the pick, in character-box units
    fig, ax = _axes(ax, figsize=(0.45 * (right + text_width + 0.6), 0.62 * len(steps) + 0.9))
    context = prompt
    for row, (top, picked) in enumerate(steps):
        y = -row
        for i, c in enumerate(context):
            fresh = i >= len(prompt)
            ax.add_patch(plt.Rectangle((i - 0.45, y - 0.38), 0.9, 0.76, color="#fde3c8" if fresh else "#dbe9f6"))
            ax.text(i, y, _visible(c), ha="center", va="center", fontsize=13, family="monospace")
        ax.annotate("", xy=(right - 0.2, y), xytext=(len(context) - 0.3, y),
                    arrowprops=dict(arrowstyle="->", color="gray"))
        dist = "  ".join(f"{_visible(t)} {p:.2f}" for t, p in top)
        ax.text(right, y, f"P(next): {dist}  ->  picked '{_visible(picked)}'", va="center",
                fontsize=12, family="monospace")
        context += picked
    ax.set_xlim(-0.6, right + text_width)
    ax.set_ylim(-len(steps) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title("Generate: predict, pick one token, append it, repeat", loc="left", fontsize=13)
    return fig


# ----------------------------------------------------------------------------
# tokenization (M2)

_TOKEN_COLORS = ("#cfe2f3", "#fde3c8", "#d9ead3", "#f4cccc", "#e6d5f0", "#fff2cc")


def show_tokens(tok, text: str, allowed_special="all"):
    """`text` as a notebook HTML view with one coloured box per token.

    Spaces show as '·', tabs as '→' and newlines as '↵' (then a line break);
    hover over a box for its id. A token that ends mid-character shows '�'.
    """
    import html

    from IPython.display import HTML

    ids = tok.encode(text, allowed_special=allowed_special) if tok.kind == "bpe" else tok.encode(text)
    boxes = []
    for k, i in enumerate(ids):
        piece = tok.decode([i])
        shown = html.escape(piece).replace(" ", "·").replace("\t", "→").replace("\n", "↵<br>")
        boxes.append(f'<span title="id {i}" style="background:{_TOKEN_COLORS[k % len(_TOKEN_COLORS)]};'
                     f'border-radius:3px;padding:1px 0;margin-right:1px">{shown}</span>')
    n_bytes = len(text.encode("utf-8"))
    header = (f"<div style='color:#666;font-size:90%'>{len(ids)} tokens, {n_bytes} bytes, "
              f"{n_bytes / max(len(ids), 1):.2f} bytes per token</div>")
    return HTML(header + "<div style='font-family:monospace;line-height:1.9;white-space:pre-wrap'>"
                + "".join(boxes) + "</div>")


def plot_compression(vocab_sizes: Sequence[int], bytes_per_token: Sequence[float],
                     references: dict[str, tuple[int, float]] | None = None, ax=None):
    """Compression against vocabulary size: UTF-8 bytes per token on held-out text.

    `references` adds labelled points such as {"GPT-2": (50257, 4.1)}.
    """
    fig, ax = _axes(ax)
    ax.plot(vocab_sizes, bytes_per_token, "o-", label="BPE trained here")
    for name, (v, bpt) in (references or {}).items():
        ax.plot(v, bpt, "s", markersize=8, label=name)
        ax.annotate(name, (v, bpt), textcoords="offset points", xytext=(6, -4))
    ax.axhline(1.0, color="gray", ls="--", lw=1, label="raw bytes (256 tokens)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("vocabulary size")
    ax.set_ylabel("bytes per token")
    ax.set_title("A bigger vocabulary packs more text into each token")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_merge_usage(fired: Sequence[int], ax=None, title: str = "How often each merge fires"):
    """Times each merge fired while encoding a text (see `minillm.bpe.merge_usage`), in merge order."""
    fired = np.asarray(fired)
    fig, ax = _axes(ax)
    ax.plot(np.arange(len(fired)), np.maximum(fired, 0.8), ".", markersize=2, alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("merge (in the order learned)")
    ax.set_ylabel("times it fired")
    never = int((fired == 0).sum())
    ax.set_title(f"{title}\n{never:,} of {len(fired):,} merges never fire (drawn at the bottom)")
    ax.grid(alpha=0.3)
    return fig


# ----------------------------------------------------------------------------
# figures for the slides of module M2

# matplotlib ships both fonts; DejaVu Sans fills in glyphs Mono lacks, such as emoji
_MONO = ["DejaVu Sans Mono", "DejaVu Sans"]
_CELL = 0.17  # inches per character cell; a 14-point monospace character is 0.12 inches wide
_ROW = 0.62   # inches per row of boxes


def _cells(ax, x_range: tuple[float, float], y_range: tuple[float, float], row: float = _ROW):
    """Axes on which one x unit is one character cell and one y unit one row, at fixed inch sizes.

    Labels drawn beyond the limits stay visible: savefig(bbox_inches="tight"),
    as the slide build and notebooks use, widens the picture to include them.
    """
    if ax is None:
        fig = plt.figure(figsize=(_CELL * (x_range[1] - x_range[0]), row * (y_range[1] - y_range[0])))
        ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.axis("off")
    return ax.figure, ax


def plot_utf8_bytes(text: str, ax=None):
    """Each character of `text` above the UTF-8 bytes that encode it (1 byte for ASCII, up to 4).

    The bytes are a byte-level tokenizer's base tokens: each byte's value,
    0-255, is its token id, so any text at all can be encoded.
    """
    n_bytes = len(text.encode("utf-8"))
    fig, ax = _cells(ax, (0, 5 * n_bytes), (-0.65, 2.0), row=0.9)  # a byte is 5 cells wide
    x = 0
    for k, char in enumerate(text):
        encoded, color = char.encode("utf-8"), _TOKEN_COLORS[k % len(_TOKEN_COLORS)]
        width = 5 * len(encoded)
        ax.add_patch(plt.Rectangle((x + 0.2, 0.75), width - 0.4, 1.2, color=color))
        ax.text(x + width / 2, 1.45, _visible(char), ha="center", va="center", fontsize=22, family=_MONO)
        ax.text(x + width / 2, 0.93, f"U+{ord(char):04X}", ha="center", va="center", fontsize=10, color="0.35")
        for j, b in enumerate(encoded):
            ax.add_patch(plt.Rectangle((x + 5 * j + 0.2, -0.6), 4.6, 1.15, color=color))
            ax.text(x + 5 * j + 2.5, 0.08, str(b), ha="center", va="center", fontsize=15, family=_MONO)
            ax.text(x + 5 * j + 2.5, -0.36, f"0x{b:02X}", ha="center", va="center", fontsize=10, color="0.35",
                    family=_MONO)
        x += width
    ax.text(-1, 1.35, "characters", ha="right", va="center", fontsize=13)
    ax.text(-1, -0.03, "UTF-8 bytes\n= token ids", ha="right", va="center", fontsize=13)
    ax.set_title(f"{len(text)} characters, {n_bytes} bytes", fontsize=14)
    return fig


def _draw_pieces(ax, pieces: Sequence[str], y: float, x: float = 0.0, gaps: Collection[int] = ()) -> float:
    """Draw `pieces` side by side as coloured boxes, one cell wide per character shown.

    Half a cell of space goes before each index in `gaps`. Returns the x where the row ends.
    """
    for k, piece in enumerate(pieces):
        if k in gaps:
            x += 0.5
        shown = _visible(piece)
        ax.add_patch(plt.Rectangle((x + 0.05, y - 0.34), len(shown) - 0.1, 0.68,
                                   color=_TOKEN_COLORS[k % len(_TOKEN_COLORS)]))
        ax.text(x + len(shown) / 2, y, shown, ha="center", va="center", fontsize=14, family=_MONO)
        x += len(shown)
    return x


def token_pieces(tok, text: str) -> list[str]:
    """The text of each token `tok` cuts `text` into; a token that ends mid-character shows '�'.

    Takes minillm tokenizers and tiktoken encodings alike, e.g.
    token_pieces(gpt2_encoding(), " tokenization") -> [' token', 'ization'].
    """
    return [tok.decode([i]) for i in tok.encode(text)]


def plot_tokens(rows: dict[str, Sequence[str]], title: str | None = None, unit: str = "tokens", ax=None):
    """Token boundaries as a figure: one row of coloured boxes per labelled tokenization.

    `rows` maps a label to the pieces of text, e.g. from `token_pieces`.
    Spaces show as '␣' and newlines as '\\n'; each row ends with its count of `unit`.
    """
    width = max(sum(len(_visible(p)) for p in pieces) for pieces in rows.values())
    fig, ax = _cells(ax, (0, width), (-len(rows) + 0.5, 0.5))
    for row, (label, pieces) in enumerate(rows.items()):
        ax.text(-1, -row, label, ha="right", va="center", fontsize=13)
        end = _draw_pieces(ax, pieces, -row)
        ax.text(end + 1, -row, f"{len(pieces)} {unit}", va="center", fontsize=13, color="0.35")
    if title:
        ax.set_title(title, fontsize=14)
    return fig


def plot_bpe_merges(text: str, n_merges: int = 4, pattern: str = GPT2_PATTERN, top: int = 3,
                    title: str | None = "Count adjacent pairs, merge the most frequent into a new token, repeat",
                    ax=None):
    """BPE training on a tiny text, one row per step: the tokens, the most frequent pairs, the merge.

    The merges are `BPETokenizer.train`'s; pairs are counted with `pair_counts`
    inside each pre-token (gaps mark pre-token boundaries) and listed in the
    trainer's order: by count, a tie going to the greater pair of bytes.
    """
    tok = BPETokenizer.train(text, 256 + n_merges, special_tokens=(), pattern=pattern)
    words = [list(word.encode("utf-8")) for word in regex.findall(pattern, text)]  # byte b is id b
    steps = []  # (words, the top pairs with their counts, the pair merged) before each merge
    for left, right, new_id in tok.merge_list():
        counts: dict[tuple[int, int], int] = {}
        for ids in words:
            pair_counts(ids, counts)
        # the order `most_frequent_pair` picks from: count first, then the pair's bytes
        ranked = sorted(counts, key=lambda p: (counts[p], tok.vocab[p[0]], tok.vocab[p[1]]), reverse=True)
        steps.append((words, [(p, counts[p]) for p in ranked[:top]], (left, right)))
        words = [merge(ids, (left, right), new_id) for ids in words]
    steps.append((words, [], None))

    def shown(i: int) -> str:
        return _visible(tok.vocab[i].decode("utf-8", errors="replace"))

    width = len(text) + 0.5 * (len(words) - 1)
    fig, ax = _cells(ax, (0, width), (-len(steps) + 0.5, 0.5))
    for row, (step_words, ranked, chosen) in enumerate(steps):
        pieces = [tok.vocab[i].decode("utf-8", errors="replace") for ids in step_words for i in ids]
        starts = np.cumsum([len(ids) for ids in step_words[:-1]])  # where each pre-token after the first begins
        _draw_pieces(ax, pieces, -row, gaps=set(starts.tolist()))
        ax.text(-1, -row, f"{len(pieces)} tokens", ha="right", va="center", fontsize=13, color="0.35")
        if chosen is None:
            ax.text(width + 1.5, -row, f"after {len(steps) - 1} merges", va="center", fontsize=13, color="0.35")
            continue
        pairs = "  ".join(f"({shown(a)},{shown(b)}) ×{c}" for (a, b), c in ranked)
        tie = "  (tie: the greater pair wins)" if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ""
        ax.text(width + 1.5, -row, f"{pairs}  → {shown(chosen[0])}{shown(chosen[1])}{tie}",
                va="center", fontsize=14, family=_MONO)
    if title:
        ax.set_title(title, fontsize=14)
    return fig


# ----------------------------------------------------------------------------
# figures for module M2 notebooks

def plot_loss_per_byte(runs: dict[str, tuple[History, float]], axes=None):
    """Validation loss of runs with different tokenizers: per token (left) and per byte (right).

    `runs` maps a label to (history, tokens per byte of the validation text).
    Per token, a model with longer tokens looks worse because each prediction
    covers more text; loss per byte = (nats per token) x (tokens per byte) is
    the cost of the same text under each model, so only the right panel is a
    fair comparison.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    left, right = axes
    for i, (label, (history, tokens_per_byte)) in enumerate(runs.items()):
        per_byte = [loss * tokens_per_byte for loss in history.val_loss]
        left.plot(history.eval_steps, history.val_loss, "o-", color=f"C{i}", label=label)
        right.plot(history.eval_steps, per_byte, "o-", color=f"C{i}",
                   label=f"{label} ({tokens_per_byte:.2f} tokens per byte)")
    for ax, unit, title in ((left, "nats per token", "Per token: not comparable"),
                            (right, "nats per byte", "Per byte: the same text, a fair comparison")):
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"validation loss ({unit})")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return left.figure
