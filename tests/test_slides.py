"""The slide build without Marp: every figure a deck shows is drawn by the build, and draws."""

import base64
import importlib.util
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minillm.data import Corpus  # noqa: E402
from minillm.errors import DataError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_slides", ROOT / "scripts" / "build_slides.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # subtle: @dataclass looks its module up in sys.modules
    spec.loader.exec_module(module)
    return module


build_slides = _load_build_script()


@pytest.fixture(scope="module")
def figure_data():
    """A few lines of text standing in for Shakespeare, a GPT run of a few steps, a BPE of 300 tokens."""
    lines = [build_slides.SHIFT_TEXT, build_slides.LOSS_TEXT, build_slides.PROMPT,
             build_slides.TOKENS_TEXT, build_slides.MODERN_TEXT,
             "Now is the winter of our discontent", "What's in a name? That which we call a rose"]
    text = "\n".join(lines * 4) + "\n"
    return build_slides.figure_data(Corpus("tiny", train=text, val=text), train_steps=4, bpe_vocab_size=300)


def test_decks_exist_and_show_only_figures_the_build_draws():
    decks = build_slides.decks()
    assert decks, "slides/ has no decks"
    for deck in decks:
        names = build_slides.check_refs(deck)  # raises BuildError for an unknown image
        assert names, f"{deck.name} shows no figures"


def test_an_unknown_or_external_image_is_an_error(tmp_path):
    deck = tmp_path / "deck.md"
    deck.write_text("# x\n\n![w:600](figures/no_such_figure.png)\n\n![bg](https://example.org/a.png)\n")
    with pytest.raises(build_slides.BuildError, match="no_such_figure.png.*https://example.org/a.png"):
        build_slides.check_refs(deck)


@pytest.mark.parametrize("name", sorted(build_slides.FIGURES))
def test_every_figure_draws(name, figure_data):
    try:
        fig = build_slides.FIGURES[name](figure_data)
    except DataError as e:  # only the figures that show GPT-2's tokens need its vocabulary
        pytest.skip(f"GPT-2's vocabulary could not be obtained here: {e}")
    assert isinstance(fig, Figure)
    assert fig.axes, f"{name} is an empty figure"
    matplotlib.pyplot.close(fig)


def test_the_tokenization_deck_shows_its_figures():
    names = build_slides.check_refs(build_slides.SLIDES / "02_tokenization.md")
    assert {"utf8_bytes.png", "bpe_merges.png", "token_boundaries.png", "vocabulary_returns.png"} <= set(names)


def test_tokenizer_data_is_computed_only_when_a_figure_asks(figure_data):
    fresh = build_slides.figure_data(figure_data.corpus, train_steps=1, bpe_vocab_size=300)
    assert "bpe" not in vars(fresh) and "gpt2" not in vars(fresh)
    assert fresh.bpe is fresh.bpe  # trained once, then cached
    assert fresh.bpe.vocab_size <= 300


def test_figures_are_inlined_as_data_uris(tmp_path):
    png = b"\x89PNG\r\n\x1a\n not really a picture"
    (tmp_path / "a.png").write_bytes(png)
    out = build_slides.inline_figures("before ![bg right:40%](figures/a.png) after", figure_dir=tmp_path)
    prefix = "before ![bg right:40%](data:image/png;base64,"
    assert out.startswith(prefix) and out.endswith(") after")
    assert base64.b64decode(out[len(prefix):-len(") after")]) == png


def test_external_loads_are_found_but_links_are_not():
    html = ('<a href="https://marp.app">Marp</a><img src="data:image/png;base64,AAAA">'
            '<script src="https://cdn.example/x.js"></script><style>@import "https://f.example/c.css";</style>'
            '<div style="background:url(//cdn.example/b.png)"></div>')
    found = build_slides.external_loads(html)
    assert len(found) == 3
    assert not build_slides.external_loads('<a href="https://marp.app">x</a><svg xmlns="http://www.w3.org/2000/svg">')
