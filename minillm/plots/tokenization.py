"""Figures of module M2: bytes, BPE merges, token boundaries, compression, loss per byte.

Tokens are shown as text where their bytes are whole UTF-8 characters, and
as hex bytes such as `<c3>` where a token holds part of a character
(`token_text`): GPT-2, for one, cuts an emoji after three of its four bytes.
Functions that take a tokenizer accept minillm's and tiktoken's alike.
`DECK_FIGURES` at the end lists what slides/02_tokenization.md shows.
"""

from __future__ import annotations

from typing import Callable, Collection, Sequence

import matplotlib.pyplot as plt
import numpy as np
import regex
from matplotlib.figure import Figure

from ..bpe import GPT2_PATTERN, BPETokenizer, bytes_per_token, merge, merge_usage, pair_counts
from ..tiktoken_bridge import to_tiktoken
from ..train import History
from .sources import Sources
from .style import LARGE, MONO, NORMAL, TOKEN_COLORS, axes, cells, styled, visible


def token_text(raw: bytes) -> str:
    """A token's bytes as text, each byte that is not part of a whole UTF-8 character as hex.

    >>> token_text("é".encode("utf-8"))
    'é'
    >>> token_text(b" \\xf0\\x9f\\x98")    # a space and 3 of the 4 bytes of an emoji
    ' <f0><9f><98>'
    """
    # subtle: "surrogateescape" decodes each undecodable byte b to the lone surrogate U+DC00 + b
    text = raw.decode("utf-8", errors="surrogateescape")
    return "".join(f"<{ord(c) - 0xDC00:02x}>" if "\udc80" <= c <= "\udcff" else c for c in text)


def _token_bytes(tok, i: int) -> bytes:
    """The bytes of token `i`: minillm's BPE and tiktoken have decode_bytes, the character tokenizer text."""
    if hasattr(tok, "decode_bytes"):
        return tok.decode_bytes([i])
    return tok.decode([i]).encode("utf-8")


def token_pieces(tok, text: str) -> list[str]:
    """The text of each token `tok` cuts `text` into, a partial character as hex bytes (`token_text`).

    Takes minillm tokenizers and tiktoken encodings alike, e.g.
    token_pieces(gpt2_encoding(), " tokenization") -> [' token', 'ization'],
    token_pieces(gpt2_encoding(), "Café \\U0001F600") -> ['C', 'af', 'é', ' <f0><9f><98>', '<80>'].
    """
    return [token_text(_token_bytes(tok, i)) for i in tok.encode(text)]


def show_tokens(tok, text: str, allowed_special="all"):
    """`text` as a notebook HTML view with one coloured box per token.

    Spaces show as '·', tabs as '→' and newlines as '↵' (then a line break);
    hover over a box for its id. A token holding part of a character shows
    its bytes in hex, e.g. <c3>, in grey italics.
    """
    import html

    from IPython.display import HTML

    if hasattr(tok, "special_tokens_set") or getattr(tok, "kind", "") == "bpe":  # tiktoken or minillm BPE
        ids = tok.encode(text, allowed_special=allowed_special)
    else:
        ids = tok.encode(text)
    boxes = []
    for k, i in enumerate(ids):
        raw = _token_bytes(tok, i)
        piece = token_text(raw)
        shown = html.escape(piece).replace(" ", "·").replace("\t", "→").replace("\n", "↵<br>")
        partial = "color:#777;font-style:italic;" if piece != raw.decode("utf-8", errors="replace") else ""
        boxes.append(f'<span title="id {i}" style="background:{TOKEN_COLORS[k % len(TOKEN_COLORS)]};{partial}'
                     f'border-radius:3px;padding:1px 0;margin-right:1px">{shown}</span>')
    n_bytes = len(text.encode("utf-8"))
    header = (f"<div style='color:#666;font-size:90%'>{len(ids)} tokens, {n_bytes} bytes, "
              f"{n_bytes / max(len(ids), 1):.2f} bytes per token</div>")
    return HTML(header + "<div style='font-family:monospace;line-height:1.9;white-space:pre-wrap'>"
                + "".join(boxes) + "</div>")


@styled
def plot_compression(vocab_sizes: Sequence[int], bytes_per_token: Sequence[float],
                     references: dict[str, tuple[int, float]] | None = None, ax=None):
    """Compression against vocabulary size: UTF-8 bytes per token on held-out text.

    `references` adds labelled points such as {"GPT-2": (50257, 4.1)}. A label
    goes to the left of its point when the point is the rightmost of the plot,
    so that it stays inside the axes.
    """
    fig, ax = axes(ax)
    ax.plot(vocab_sizes, bytes_per_token, "o-", label="BPE trained here")
    rightmost = max([*vocab_sizes, *(v for v, _ in (references or {}).values())])
    for name, (v, bpt) in (references or {}).items():
        ax.plot(v, bpt, "s", markersize=8, label=name)
        left = v == rightmost
        ax.annotate(name, (v, bpt), textcoords="offset points", xytext=(-10 if left else 10, 0),
                    ha="right" if left else "left", va="center")
    ax.axhline(1.0, color="gray", ls="--", lw=1, label="raw bytes (256 tokens)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("vocabulary size")
    ax.set_ylabel("bytes per token")
    ax.set_title("A bigger vocabulary packs more text into each token")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


@styled
def plot_merge_usage(fired: Sequence[int], ax=None, title: str = "How often each merge fires"):
    """Times each merge fired while encoding a text (see `minillm.bpe.merge_usage`), in merge order."""
    fired = np.asarray(fired)
    fig, ax = axes(ax)
    ax.plot(np.arange(len(fired)), np.maximum(fired, 0.8), ".", markersize=2, alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("merge (in the order learned)")
    ax.set_ylabel("times it fired")
    never = int((fired == 0).sum())
    ax.set_title(f"{title}\n{never:,} of {len(fired):,} merges never fire (drawn at the bottom)")
    ax.grid(alpha=0.3)
    return fig


@styled
def plot_utf8_bytes(text: str, ax=None):
    """Each character of `text` above the UTF-8 bytes that encode it (1 byte for ASCII, up to 4).

    The bytes are a byte-level tokenizer's base tokens: each byte's value,
    0-255, is its token id, so any text at all can be encoded.
    """
    n_bytes = len(text.encode("utf-8"))
    fig, ax = cells(ax, (0, 5 * n_bytes), (-0.65, 2.0), row=0.9)  # a byte is 5 cells wide
    x = 0
    for k, char in enumerate(text):
        encoded, color = char.encode("utf-8"), TOKEN_COLORS[k % len(TOKEN_COLORS)]
        width = 5 * len(encoded)
        ax.add_patch(plt.Rectangle((x + 0.2, 0.75), width - 0.4, 1.2, color=color))
        ax.text(x + width / 2, 1.45, visible(char), ha="center", va="center", fontsize=22, family=MONO)
        ax.text(x + width / 2, 0.93, f"U+{ord(char):04X}", ha="center", va="center", fontsize=NORMAL, color="0.35")
        for j, b in enumerate(encoded):
            ax.add_patch(plt.Rectangle((x + 5 * j + 0.2, -0.6), 4.6, 1.15, color=color))
            ax.text(x + 5 * j + 2.5, 0.08, str(b), ha="center", va="center", fontsize=LARGE, family=MONO)
            ax.text(x + 5 * j + 2.5, -0.36, f"0x{b:02X}", ha="center", va="center", fontsize=NORMAL, color="0.35",
                    family=MONO)
        x += width
    ax.text(-1, 1.35, "characters", ha="right", va="center", fontsize=NORMAL)
    ax.text(-1, -0.03, "UTF-8 bytes\n= token ids", ha="right", va="center", fontsize=NORMAL)
    ax.set_title(f"{len(text)} characters, {n_bytes} bytes")
    return fig


def _draw_pieces(ax, pieces: Sequence[str], y: float, x: float = 0.0, gaps: Collection[int] = ()) -> float:
    """Draw `pieces` side by side as coloured boxes, one cell wide per character shown.

    Half a cell of space goes before each index in `gaps`. Returns the x where the row ends.
    """
    for k, piece in enumerate(pieces):
        if k in gaps:
            x += 0.5
        shown = visible(piece)
        ax.add_patch(plt.Rectangle((x + 0.05, y - 0.34), len(shown) - 0.1, 0.68,
                                   color=TOKEN_COLORS[k % len(TOKEN_COLORS)]))
        ax.text(x + len(shown) / 2, y, shown, ha="center", va="center", fontsize=NORMAL, family=MONO)
        x += len(shown)
    return x


@styled
def plot_tokens(rows: dict[str, Sequence[str]], title: str | None = None, unit: str = "tokens", ax=None):
    """Token boundaries as a figure: one row of coloured boxes per labelled tokenization.

    `rows` maps a label to the pieces of text, e.g. from `token_pieces` (which
    shows part of a character as hex bytes, <c3>). Spaces show as '␣' and
    newlines as '\\n'; each row ends with its count of `unit`.
    """
    width = max(sum(len(visible(p)) for p in pieces) for pieces in rows.values())
    fig, ax = cells(ax, (0, width), (-len(rows) + 0.5, 0.5))
    for row, (label, pieces) in enumerate(rows.items()):
        ax.text(-1, -row, label, ha="right", va="center", fontsize=NORMAL)
        end = _draw_pieces(ax, pieces, -row)
        ax.text(end + 1, -row, f"{len(pieces)} {unit}", va="center", fontsize=NORMAL, color="0.35")
    if title:
        ax.set_title(title)
    return fig


@styled
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
        return visible(token_text(tok.vocab[i]))

    width = len(text) + 0.5 * (len(words) - 1)
    fig, ax = cells(ax, (0, width), (-len(steps) + 0.5, 0.5))
    for row, (step_words, ranked, chosen) in enumerate(steps):
        pieces = [token_text(tok.vocab[i]) for ids in step_words for i in ids]
        starts = np.cumsum([len(ids) for ids in step_words[:-1]])  # where each pre-token after the first begins
        _draw_pieces(ax, pieces, -row, gaps=set(starts.tolist()))
        ax.text(-1, -row, f"{len(pieces)} tokens", ha="right", va="center", fontsize=NORMAL, color="0.35")
        if chosen is None:
            ax.text(width + 1.5, -row, f"after {len(steps) - 1} merges", va="center", fontsize=NORMAL, color="0.35")
            continue
        pairs = "  ".join(f"({shown(a)},{shown(b)}) ×{c}" for (a, b), c in ranked)
        tie = "  (tie: the greater pair wins)" if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ""
        ax.text(width + 1.5, -row, f"{pairs}  → {shown(chosen[0])}{shown(chosen[1])}{tie}",
                va="center", fontsize=NORMAL, family=MONO)
    if title:
        ax.set_title(title)
    return fig


@styled
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


# ----------------------------------------------------------------------------
# the deck's figures: slides/02_tokenization.md shows figures/<name>.png

# Shown under the character tokenizer too, so every character must occur in the corpus
TOKENS_TEXT = "But, soft! What light through yonder window breaks?"
MODERN_TEXT = "The GPU finished training in 42 minutes."
PRETOKEN_TEXT = "  I'll pay 300 ducats, won't you?"
UTF8_TEXT = "Café \U0001F600"         # ASCII, an accented letter and an emoji: 1, 2 and 4 bytes
MERGE_TEXT = "banana bandana banana"  # the merge loop step by step, with two ties
ODD_TEXTS = {"digits": " 12345 + 678 = 13023", "indentation": "    return x",
             "French": "Ça coûte 10 €.", "Russian": "Привет, мир"}
COMPRESSION_SIZES = (257, 512, 1024, 2048, 4096)  # 257: the bytes and <|endoftext|>, no merges


def deck_token_boundaries(src: Sources, text: str = TOKENS_TEXT) -> Figure:
    """`text` under the character tokenizer, the BPE trained on the corpus, and GPT-2."""
    return plot_tokens({f"characters ({src.char_tokenizer.vocab_size})": token_pieces(src.char_tokenizer, text),
                        f"BPE trained here ({src.bpe.vocab_size:,})": token_pieces(src.bpe, text),
                        f"GPT-2 ({src.gpt2.n_vocab:,})": token_pieces(src.gpt2, text)})


def deck_pretokens(src: Sources) -> Figure:
    """One sentence as GPT-2's regex cuts it, then as two BPEs tokenize it: no token crosses a cut."""
    text = PRETOKEN_TEXT
    return plot_tokens({"GPT-2 regex pre-tokens": regex.findall(GPT2_PATTERN, text),
                        f"BPE trained here ({src.bpe.vocab_size:,})": token_pieces(src.bpe, text),
                        f"GPT-2 ({src.gpt2.n_vocab:,})": token_pieces(src.gpt2, text)},
                       unit="pieces")


@styled
def deck_vocabulary_returns(src: Sources) -> Figure:
    """Side by side, on the held-out works: bytes per token as the course BPE grows (GPT-2 for
    reference), and how often each of its merges fires."""
    text = src.corpus.val
    sizes = [v for v in COMPRESSION_SIZES if v <= src.bpe.vocab_size]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    # exported to tiktoken: the same ids as minillm's encoder, several times faster
    plot_compression(sizes, [bytes_per_token(to_tiktoken(src.bpe.with_vocab_size(v)), text) for v in sizes],
                     {"GPT-2": (src.gpt2.n_vocab, bytes_per_token(src.gpt2, text))}, ax=left)
    plot_merge_usage(merge_usage(src.bpe, text), ax=right,
                     title=f"The merges of the BPE trained here ({src.bpe.vocab_size:,})")
    return fig


DECK_FIGURES: dict[str, Callable[[Sources], Figure]] = {
    "utf8_bytes": lambda src: plot_utf8_bytes(UTF8_TEXT),
    "bpe_merges": lambda src: plot_bpe_merges(MERGE_TEXT, n_merges=4, top=2, title=None),
    "token_boundaries": deck_token_boundaries,
    "token_boundaries_modern": lambda src: deck_token_boundaries(src, MODERN_TEXT),
    "pretokens": deck_pretokens,
    "odd_splits": lambda src: plot_tokens({label: token_pieces(src.gpt2, text) for label, text in ODD_TEXTS.items()},
                                          title="GPT-2"),
    "vocabulary_returns": deck_vocabulary_returns,
}
