"""Smoke tests for minillm.plots: each function draws a Figure; worked examples where a picture has a known answer."""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minillm import plots  # noqa: E402
from minillm.bpe import BPETokenizer  # noqa: E402
from minillm.errors import DataError  # noqa: E402
from minillm.plots import style  # noqa: E402
from minillm.tiktoken_bridge import gpt2_encoding, to_tiktoken  # noqa: E402
from minillm.tokenizer import CharTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


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
    assert pieces[-4:] == ["<f0>", "<9f>", "<98>", "<80>"]  # four bytes, none a whole character on its own


CAFE = "Café \U0001F600"  # é is c3 a9, the emoji f0 9f 98 80


def _byte_tokenizers():
    """A minillm BPE and tiktoken encodings that cut CAFE inside characters."""
    bytes_only = BPETokenizer([])  # no merges: every byte is a token
    yield "minillm BPE, bytes only", bytes_only, ["C", "a", "f", "<c3>", "<a9>", " ", "<f0>", "<9f>", "<98>", "<80>"]
    yield "tiktoken, bytes only", to_tiktoken(bytes_only), ["C", "a", "f", "<c3>", "<a9>", " ", "<f0>", "<9f>", "<98>",
                                                            "<80>"]
    merged = BPETokenizer.train("Café café " * 20, vocab_size=257, special_tokens=())  # one merge: c3+a9, é
    yield "minillm BPE, é merged", merged, ["C", "a", "f", "é", " ", "<f0>", "<9f>", "<98>", "<80>"]
    try:
        yield "GPT-2", gpt2_encoding(), ["C", "af", "é", " <f0><9f><98>", "<80>"]
    except DataError:  # its vocabulary could not be fetched here
        pass


@pytest.mark.parametrize("label, tok, expected", list(_byte_tokenizers()), ids=[t[0] for t in _byte_tokenizers()])
def test_a_partial_character_shows_as_hex_bytes_and_whole_ones_as_text(label, tok, expected):
    assert plots.token_pieces(tok, CAFE) == expected
    view = plots.show_tokens(tok, CAFE).data
    for piece in expected:
        assert f">{piece.replace('<', '&lt;').replace('>', '&gt;').replace(' ', '·')}</span>" in view
    assert "\ufffd" not in view
    texts = _texts(plots.plot_tokens({label: plots.token_pieces(tok, CAFE)}))
    assert [t for t in texts if "<" in t] == [p.replace(" ", "␣") for p in expected if "<" in p]


def test_token_text_turns_only_undecodable_bytes_into_hex():
    assert plots.token_text("é😀".encode()) == "é😀"
    assert plots.token_text(b"ab\xc3") == "ab<c3>"
    assert plots.token_text(b"\xa9 and \xff") == "<a9> and <ff>"
    assert plots.token_text(b"") == ""


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


# ----------------------------------------------------------------------------
# the package: one plotting module per course module, one look

def test_every_plots_name_the_notebooks_and_scripts_use_exists():
    used = set()
    for path in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py"),
                 *ROOT.glob("minillm/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
        used |= set(re.findall(r"(?<![\w.])plots\.([A-Za-z_]\w*)", text))  # plots.x, not minillm.plots.x
    assert {"plot_history", "show_tokens", "token_pieces", "LiveLossPlot"} <= used
    assert not [name for name in used if not hasattr(plots, name)]


def test_course_modules_are_reexported_by_convention():
    for name in plots.COURSE_MODULES:
        module = getattr(plots, name)
        public = [n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", "") == module.__name__
                  and not n.startswith(("_", "deck_"))]
        assert public and all(getattr(plots, n) is getattr(module, n) for n in public)
    assert not hasattr(plots, "deck_token_boundaries") and not hasattr(plots, "DECK_FIGURES")


def test_plots_use_the_course_font_sizes_and_leave_global_settings_alone():
    before = dict(matplotlib.rcParams)
    from minillm.train import History

    fig = plots.plot_history(History(eval_steps=[0, 1], train_loss=[2.0, 1.0], val_loss=[2.1, 1.2]))
    fig.canvas.draw()
    ax = fig.axes[0]
    assert {t.get_fontsize() for t in ax.get_xticklabels()} == {style.NORMAL}
    assert ax.title.get_fontsize() == style.LARGE
    assert dict(matplotlib.rcParams) == before


def test_plot_compression_keeps_its_labels_inside_the_axes():
    # as notebook 02 calls it: the reference far right of the course BPE, no xlim set
    fig = plots.plot_compression([257, 512, 1024, 2048, 4096], [1.0, 1.9, 2.3, 2.7, 2.9], {"GPT-2": (50257, 3.2)})
    fig.canvas.draw()
    ax = fig.axes[0]
    box, label = ax.get_window_extent(), next(t for t in ax.texts if t.get_text() == "GPT-2")
    extent = label.get_window_extent()
    assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1
    # a reference left of the others gets its label on its right
    fig = plots.plot_compression([512, 1024], [1.9, 2.3], {"tiny": (300, 1.2)})
    fig.canvas.draw()
    ax = fig.axes[0]
    extent = next(t for t in ax.texts if t.get_text() == "tiny").get_window_extent()
    assert ax.get_window_extent().x0 <= extent.x0 and extent.x1 <= ax.get_window_extent().x1


def _rungs():
    from minillm.ngram import Rung

    losses = {"add-k": [3.3, 2.5, 2.0, 1.7, 1.64, 1.74], "kneser-ney": [3.3, 2.5, 2.0, 1.7, 1.54, 1.49]}
    return [Rung(n, s, losses[s][n - 1], 10 ** (n + 1), 0.0, None) for n in range(1, 7) for s in losses]


def test_plot_ngram_ladder_marks_each_smoothings_best_and_draws_the_gpts_on_both_panels():
    fig = plots.plot_ngram_ladder(_rungs(), gpts={"gpu preset": (1.28, 10_000_000)})
    left, right = fig.axes
    assert sorted(t.get_text() for t in left.texts) == ["1.49", "1.64"]  # the best of each ladder, not the last
    assert any(line.get_label() == "gpu preset: 1.28" for line in left.lines)
    assert [list(line.get_ydata()) for line in right.lines][-1] == [10_000_000, 10_000_000]
    assert right.get_yscale() == "log"
    assert list(right.lines[0].get_ydata()) == [10 ** (n + 1) for n in range(1, 7)]


def test_plot_loss_vs_steps_marks_only_crossings_inside_the_run():
    fig = plots.plot_loss_vs_steps([0, 100, 200, 300], [4.4, 2.3, 1.9, 1.6],
                                   {"bigram": 2.5, "5-gram": 1.8, "never": 1.0}, title="t")
    assert _texts(fig) == ["below at step 300"]  # 2.5: already below at the first point; 1.0: never
    assert list(fig.axes[0].lines[0].get_xdata()) == [100, 200, 300]  # step 0 left out


def test_plot_validation_curves_draws_each_run_after_step_0():
    from minillm.train import History

    runs = {name: History(eval_steps=[0, 10, 20], val_loss=[4.4, 2.5, loss], train_loss=[4.4, 2.5, loss])
            for name, loss in (("baseline", 2.1), ("RoPE", 2.0))}
    fig = plots.plot_validation_curves(runs)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["baseline", "RoPE"]
    assert list(ax.lines[1].get_ydata()) == [2.5, 2.0]
    assert list(ax.lines[1].get_xdata()) == [10, 20]  # step 0 left out


def _maps(n_layer=2, n_head=3, T=6):
    torch = pytest.importorskip("torch")
    return torch.softmax(torch.randn(n_layer, 1, n_head, T, T), dim=-1)


def test_plot_attention_labels_queries_and_keys_and_refuses_a_mismatch():
    maps = _maps()
    fig = plots.plot_attention(maps[1, 0, 2], list("a bat!"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "␣", "b", "a", "t", "!"]
    assert (ax.images[0].get_array() == maps[1, 0, 2].numpy()).all()
    with pytest.raises(ValueError, match="maps\\[layer, 0, head\\]"):
        plots.plot_attention(maps[1, 0], list("a bat!"))


def test_plot_attention_heads_draws_every_head_of_the_layer():
    maps = _maps(n_head=6)
    fig = plots.plot_attention_heads(maps, list("abcdef"), layer=1)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 6
    assert (drawn[5].images[0].get_array() == maps[1, 0, 5].numpy()).all()


def test_attention_explorer_redraws_the_picked_layer_and_head(monkeypatch):
    from minillm.plots import transformer

    drawn = []
    monkeypatch.setattr(transformer, "plot_attention", lambda weights, tokens, title: drawn.append(weights) or
                        plt.figure())
    maps = _maps()
    ui = plots.attention_explorer(maps, list("abcdef"))
    layer, head = ui.children[0].children
    layer.value, head.value = 1, 2
    assert drawn[-1] is not None and (drawn[-1] == maps[1, 0, 2]).all()
    assert (drawn[0] == maps[0, 0, 0]).all()  # drawn once when created


def test_plot_ablation_draws_each_variant_against_the_baseline():
    fig = plots.plot_ablation(["base", "a", "b"], [2.0, 2.1, 1.9], noise=0.02)
    bars = fig.axes[0].patches
    widths = sorted(round(p.get_width(), 6) for p in bars if p.get_height() < 1)  # the bars, not the noise band
    assert widths == [-0.1, 0.1]
    assert [t.get_text().strip() for t in fig.axes[0].texts] == ["+0.100", "-0.100"]


def test_plot_activations_draws_minillms_functions():
    import torch

    from minillm import functional

    fig = plots.plot_activations()
    relu, gelu = fig.axes[0].lines[:2]
    x = relu.get_xdata()
    assert (relu.get_ydata() == functional.relu(torch.as_tensor(x)).numpy()).all()
    assert gelu.get_ydata().min() < 0  # GELU dips below zero, ReLU never does


def test_plot_loss_curves_draws_running_means():
    fig = plots.plot_loss_curves({"a": [4.0, 2.0, 3.0, 1.0]}, window=2)
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [2, 3, 4]
    assert list(line.get_ydata()) == [3.0, 2.5, 2.0]


# ----------------------------------------------------------------------------
# M4: attention on the GPU

def test_tiles_figure_counts_the_tiles_the_loops_visit():
    assert "10 of 16 tiles computed" in plots.plot_tiles(64, 64, 16, 16, causal=True).axes[0].get_title()
    assert "16 of 16 tiles computed" in plots.plot_tiles(64, 64, 16, 16, causal=False).axes[0].get_title()
    # 2 queries at the end of 64 keys (a KV cache): every key block is needed, the last one masked in part
    assert "4 of 4 tiles computed" in plots.plot_tiles(2, 64, 16, 16, causal=True).axes[0].get_title()
    plt.close("all")


def test_saved_memory_grows_as_t_squared_for_the_reference_and_t_for_flash():
    mib = plots.measure_saved_memory(lengths=(32, 64), n_head=2, head_dim=16)
    assert mib["reference"][1] / mib["reference"][0] > 3.5 and abs(mib["FlashAttention"][1] / mib["FlashAttention"][0] - 2) < 0.05
    fig = plots.plot_saved_memory((32, 64), mib)
    assert len(fig.axes[0].get_lines()) == 2
    plt.close(fig)


def test_attention_benchmark_plot_draws_each_implementation():
    row = lambda T, ms: dict(gpu="A GPU", dtype="bfloat16", head_dim=64, causal=True, T=T, **{"pass": "forward+backward"},
                             sdpa=dict(ms=ms, tflops=1.0, peak_mib=T / 100), triton=dict(ms=2 * ms, tflops=0.5, peak_mib=T / 100))
    fig = plots.plot_attention_benchmark([row(1024, 1.0), row(4096, 9.0)])
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    with pytest.raises(ValueError, match="no forward\\+backward rows"):
        plots.plot_attention_benchmark([row(1024, 1.0)], head_dim=128)
    plt.close(fig)
