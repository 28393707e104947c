"""The slide build without Marp: decks show only figures their module draws, figures are legible and
cached, every slide has speaker notes."""

import base64
import importlib
import importlib.util
import re
import struct
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from minillm import plots  # noqa: E402
from minillm.data import Corpus  # noqa: E402
from minillm.errors import DataError  # noqa: E402
from minillm.plots import decks, language_modeling, style, tokenization, transformer  # noqa: E402
from minillm.plots.sources import Sources  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_slides", ROOT / "scripts" / "build_slides.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build_slides = _load_build_script()
MODULES = [decks.deck_module(deck) for deck in build_slides.decks()]
ALL_FIGURES = [(m, name) for m in MODULES for name in m.DECK_FIGURES]


@pytest.fixture(scope="module")
def sources():
    """A few lines of text standing in for Shakespeare, a GPT run of a few steps, a BPE of 300 tokens."""
    lines = [language_modeling.SHIFT_TEXT, language_modeling.LOSS_TEXT, language_modeling.PROMPT,
             tokenization.TOKENS_TEXT, tokenization.MODERN_TEXT,
             *transformer.SENTENCES, "Now is the winter of our discontent", "What's in a name? That which we call a rose"]
    text = "\n".join(lines * 4) + "\n"
    return Sources(Corpus("tiny", train=text, val=text), train_steps=4, bpe_vocab_size=300)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------
# decks and their figures

def test_decks_exist_and_show_only_figures_their_module_draws():
    assert build_slides.decks(), "slides/ has no decks"
    for deck in build_slides.decks():
        names = build_slides.check_refs(deck)  # raises BuildError for an unknown image
        assert names, f"{deck.name} shows no figures"
        assert decks.module_name(deck) in plots.COURSE_MODULES


def test_a_deck_is_chosen_by_number_or_name():
    first = ROOT / "slides" / "01_language_modeling.md"
    assert build_slides.decks("01") == [first]
    assert build_slides.decks("01_language_modeling") == [first]
    assert len(build_slides.decks()) >= 2
    with pytest.raises(build_slides.BuildError, match="no deck '99'.*01_language_modeling"):
        build_slides.decks("99")


def test_a_deck_draws_from_the_plotting_module_of_its_name():
    assert decks.deck_module(Path("slides/02_tokenization.md")) is tokenization
    assert decks.deck_module(Path("07_language_modeling.md")) is language_modeling


def test_an_unknown_or_external_image_is_an_error(tmp_path):
    deck = tmp_path / "01_language_modeling.md"
    deck.write_text("# x\n\n![w:600](figures/no_such_figure.png)\n\n![bg](https://example.org/a.png)\n"
                    "![w:600](figures/shift_by_one.png)\n")
    with pytest.raises(build_slides.BuildError, match=r"no_such_figure.png, https://example.org/a.png\. "
                                                      r"It may show .*language_modeling.py"):
        build_slides.check_refs(deck)


def test_a_deck_without_a_plotting_module_is_an_error(tmp_path):
    deck = tmp_path / "05_no_such_module.md"
    deck.write_text("# x\n")
    with pytest.raises(build_slides.BuildError, match="minillm/plots/no_such_module.py"):
        build_slides.check_refs(deck)


def test_decks_use_the_course_theme(tmp_path):
    for deck in build_slides.decks():
        assert build_slides.check_theme(deck) == "minillm"
        assert "\nstyle:" not in deck.read_text(encoding="utf-8").split("\n---", 1)[0], "CSS belongs in the theme"
    css = (ROOT / "slides" / "theme" / "minillm.css").read_text(encoding="utf-8")
    assert "@theme minillm" in css
    deck = tmp_path / "01_x.md"
    deck.write_text("---\nmarp: true\ntheme: minilm\n---\n# x\n")
    with pytest.raises(build_slides.BuildError, match="theme.*minillm"):
        build_slides.check_theme(deck)


def test_figure_names_are_unique_across_modules():
    names = [name for _, name in ALL_FIGURES]
    assert len(names) == len(set(names))


# ----------------------------------------------------------------------------
# every figure draws, legibly

def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])  # the IHDR chunk: width, height


def displayed_width(alt: str, width: int, height: int) -> float:
    """Pixels of a 1280x720 slide a `width` x `height` image takes, from Marp's sizing keywords in `alt`.

    >>> displayed_width("w:640", 2000, 1000), displayed_width("h:200", 2000, 1000)
    (640.0, 400.0)
    >>> displayed_width("bg right:50% fit", 2000, 1000), displayed_width("", 2000, 1000)
    (640.0, 1280.0)
    """
    words = alt.split()
    for word in words:
        if m := re.fullmatch(r"(?:w|width):(\d+)(?:px)?", word):
            return float(m.group(1))
        if m := re.fullmatch(r"(?:h|height):(\d+)(?:px)?", word):
            return float(m.group(1)) * width / height
    if "bg" in words:  # a background, in its share of the slide: fit/contain shows all of it
        share = next((int(m.group(1)) / 100 for w in words if (m := re.fullmatch(r"(?:left|right):(\d+)%", w))),
                     0.5 if {"left", "right"} & set(words) else 1.0)
        box_w, box_h = share * SLIDE_WIDTH, SLIDE_HEIGHT
        scale = (min if {"fit", "contain"} & set(words) else max)(box_w / width, box_h / height)
        return width * scale
    return float(SLIDE_WIDTH)


def smallest_text_px(fig: Figure, alt: str, dpi: int = decks.DPI) -> tuple[float, str]:
    """The smallest text of `fig` in pixels of the slide, saved as the build saves it and sized by `alt`."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    width, height = _png_size(buffer.getvalue())
    scale = displayed_width(alt, width, height) / width  # slide pixels per image pixel
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    smallest = min(texts, key=lambda t: t.get_fontsize())
    return smallest.get_fontsize() * dpi / 72 * scale, smallest.get_text()


def _sizing() -> dict[str, str]:
    """Each figure's sizing keywords in the deck that shows it (the first time it does)."""
    found = {}
    for deck in build_slides.decks():
        for m in build_slides.IMAGE.finditer(deck.read_text(encoding="utf-8")):
            found.setdefault(Path(m.group(2)).stem, m.group(1))
    return found


@pytest.mark.parametrize("module, name", ALL_FIGURES, ids=[name for _, name in ALL_FIGURES])
def test_every_figure_draws_with_text_of_at_least_14_px_on_the_slide(module, name, sources):
    try:
        with plt.rc_context(style.RC):  # as decks.draw does
            fig = module.DECK_FIGURES[name](sources)
    except DataError as e:  # only the figures that show GPT-2's tokens need its vocabulary
        pytest.skip(f"GPT-2's vocabulary could not be obtained here: {e}")
    assert isinstance(fig, Figure)
    assert fig.axes, f"{name} is an empty figure"
    px, text = smallest_text_px(fig, _sizing().get(name, ""))
    assert px >= style.MIN_SLIDE_TEXT_PX, f"{name}: {text!r} is {px:.1f} px tall on the slide"


def test_the_legibility_measure_sees_small_text():
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.text(0.1, 0.5, "big", fontsize=30)
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    ax.axis("off")
    px, text = smallest_text_px(fig, "w:1280")
    assert text == "tiny" and px < 14


def test_tokenizer_data_is_computed_only_when_a_figure_asks(sources):
    fresh = Sources(sources.corpus, train_steps=1, bpe_vocab_size=300)
    for name in ("llm_lifecycle", "utf8_bytes", "bpe_merges"):
        figure = {**language_modeling.DECK_FIGURES, **tokenization.DECK_FIGURES}.get(name)
        if figure:
            figure(fresh)
    assert not {"bpe", "gpt2", "tiny_gpt", "bigram_counts"} & set(vars(fresh))
    assert fresh.bpe is fresh.bpe  # trained once, then kept
    assert fresh.bpe.vocab_size <= 300


# ----------------------------------------------------------------------------
# the figure cache

def _write_module(path: Path, title: str) -> None:
    path.write_text(textwrap.dedent(f"""
        import matplotlib.pyplot as plt

        def _draw(src):
            fig, ax = plt.subplots(figsize=(2, 1))
            ax.set_title({title!r})
            return fig

        DECK_FIGURES = {{"dot": _draw}}
    """))


@pytest.fixture
def figure_module(tmp_path, monkeypatch):
    """A plotting module outside minillm, in a file, whose code a test may change."""
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path / "fake_figures.py", "one")
    module = importlib.import_module("fake_figures")
    yield module
    sys.modules.pop("fake_figures", None)


def test_a_figure_is_redrawn_only_when_its_inputs_change(figure_module, sources, tmp_path, capsys):
    out = tmp_path / "figures"
    assert decks.draw(["dot"], figure_module, sources, out) == (["dot"], [])
    assert (out / "dot.png").is_file() and (out / "dot.json").is_file()
    assert decks.draw(["dot"], figure_module, sources, out) == ([], ["dot"])   # unchanged: reused
    assert decks.draw(["dot"], figure_module, sources, out, dpi=72) == (["dot"], [])  # another DPI
    assert decks.draw(["dot"], figure_module, sources, out, dpi=72, force=True) == (["dot"], [])
    other_data = Sources(Corpus("other", train="abc", val="abd"), sources.train_steps, sources.bpe_vocab_size)
    assert decks.draw(["dot"], figure_module, other_data, out, dpi=72) == (["dot"], [])  # another corpus
    other_settings = Sources(other_data.corpus, sources.train_steps + 1, sources.bpe_vocab_size)
    assert decks.draw(["dot"], figure_module, other_settings, out, dpi=72) == (["dot"], [])
    assert decks.draw(["dot"], figure_module, other_data, out, dpi=72) == (["dot"], [])
    assert decks.draw(["dot"], figure_module, other_data, out, dpi=72) == ([], ["dot"])
    (out / "dot.png").unlink()
    assert decks.draw(["dot"], figure_module, other_data, out, dpi=72) == (["dot"], [])

    _write_module(Path(figure_module.__file__), "two, a changed recipe")
    changed = importlib.reload(figure_module)
    capsys.readouterr()
    assert decks.draw(["dot"], changed, other_data, out, dpi=72) == (["dot"], [])
    assert "(figure, code)" in capsys.readouterr().out


def test_the_cache_key_covers_results_and_the_minillm_code_a_module_imports(tmp_path):
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    src = Sources(Corpus("c", train="ab", val="ba"), results_dir=results_dir)
    before = decks.figure_key("perplexity", language_modeling, src)
    (results_dir / "x.json").write_text("{}")
    assert decks.figure_key("perplexity", language_modeling, src)["data"] != before["data"]
    names = {m.__name__ for m in decks.code_modules(language_modeling)}
    assert {"minillm.plots.style", "minillm.plots.sources", "minillm.optim", "minillm.train",
            "minillm.model", "minillm.attention"} <= names
    assert "minillm.cli" not in names


# ----------------------------------------------------------------------------
# Markdown: inlined figures, network loads, speaker notes

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


def test_speaker_notes_are_comments_that_are_not_directives():
    slide = ("<!-- _class: title -->\n<!-- _paginate: false -->\n# Hi\n```python\nx = 1\n```\n"
             "<!--\nAsk the class: what comes next?\n-->")
    assert build_slides.speaker_notes(slide) == ["Ask the class: what comes next?"]
    assert build_slides.speaker_notes("# Hi\n<!-- paginate: true -->") == []
    deck = "---\nmarp: true\n---\n# A\n```\n---\n```\n<!-- a -->\n---\n# B\n"
    assert [build_slides.speaker_notes(s) for s in build_slides.slide_texts(deck)] == [["a"], []]


@pytest.mark.parametrize("deck", build_slides.decks(), ids=lambda d: d.stem)
def test_every_slide_has_speaker_notes(deck):
    slides = build_slides.slide_texts(deck.read_text(encoding="utf-8"))
    silent = [k for k, slide in enumerate(slides, 1) if not any(build_slides.speaker_notes(slide))]
    assert not silent, f"{deck.name}: slides {silent} have no speaker notes"
