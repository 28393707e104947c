"""Smoke tests for minillm.plots: each function draws a Figure; worked examples where a picture has a known answer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minillm import plots  # noqa: E402
from minillm.bpe import BPETokenizer  # noqa: E402
from minillm.tokenizer import CharTokenizer  # noqa: E402


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------
# figures for the slides of module M2

def test_plot_utf8_bytes_shows_each_byte_under_its_character():
    fig = plots.plot_utf8_bytes("aé€\U0001F600")  # 1, 2, 3 and 4 bytes
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    assert ["195", "169"] == [t for t in texts if t in ("195", "169")]  # é is C3 A9
    assert "U+1F600" in texts and "0xF0" in texts
    assert fig.axes[0].get_title() == "4 characters, 10 bytes"


def test_token_pieces_works_for_any_tokenizer():
    assert plots.token_pieces(CharTokenizer.from_text("hi there"), "hit") == ["h", "i", "t"]
    bpe = BPETokenizer.train("low lower lowest " * 10, vocab_size=262)
    pieces = plots.token_pieces(bpe, "lowest \U0001F600")
    assert "".join(pieces[:3]) == "lowest"
    assert pieces[-4:] == ["\ufffd"] * 4  # four bytes, none a whole character on its own


def test_plot_tokens_draws_one_row_per_tokenization_with_its_count():
    fig = plots.plot_tokens({"a": ["To", " be"], "b": ["T", "o", " ", "b", "e"]}, title="t", unit="pieces")
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    assert "2 pieces" in texts and "5 pieces" in texts
    assert "␣be" in texts  # spaces stay visible


def test_plot_bpe_merges_shows_the_trainers_merges_and_ties():
    fig = plots.plot_bpe_merges("banana bandana banana", n_merges=4, top=2)
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    assert "21 tokens" in texts and "7 tokens" in texts
    first, second = [t for t in texts if "→" in t][:2]
    assert first.startswith("(a,n) ×6") and first.endswith("→ an")
    # (b, an) and (an, a) both occur 3 times: the greater bytes, b"b" > b"an", win
    assert second.startswith("(b,an) ×3  (an,a) ×3  → ban") and "tie" in second


# ----------------------------------------------------------------------------
# figures for module M2 notebooks

def test_plot_loss_per_byte_scales_each_run_by_its_tokens_per_byte():
    from minillm.train import History

    chars = History(eval_steps=[0, 10], val_loss=[4.0, 2.5])
    bpe = History(eval_steps=[0, 10], val_loss=[8.0, 5.0])
    fig = plots.plot_loss_per_byte({"characters": (chars, 1.0), "BPE": (bpe, 0.25)})
    assert isinstance(fig, Figure)
    per_token, per_byte = fig.axes
    assert [list(line.get_ydata()) for line in per_token.lines] == [[4.0, 2.5], [8.0, 5.0]]
    assert [list(line.get_ydata()) for line in per_byte.lines] == [[4.0, 2.5], [2.0, 1.25]]
    assert "nats per byte" in per_byte.get_ylabel()
    assert [t.get_text() for t in per_byte.get_legend().get_texts()][1] == "BPE (0.25 tokens per byte)"
