"""Build the slide decks in slides/ into one self-contained HTML file each.

    python scripts/build_slides.py              # every deck: slides/build/<deck>.html
    python scripts/build_slides.py --deck 01    # one deck, by number or file name (01_language_modeling)
    python scripts/build_slides.py --pdf        # and slides/build/<deck>.pdf (needs Chromium)
    python scripts/build_slides.py --force      # redraw every figure, even those the cache would reuse

What a build does:
1. Checks every deck's image references before any work: the deck
   slides/NN_<module>.md may show only figures/<name>.png for a <name> in the
   DECK_FIGURES of minillm/plots/<module>.py, so a slide never shows a picture
   the package can no longer draw.
2. Draws those figures into slides/figures/ from minillm's own plotting code
   (minillm.plots.decks). A figure whose code, data and settings are unchanged
   since it was last drawn is reused; the build says which.
3. Installs Marp, pinned in slides/package-lock.json, with `npm ci` when
   slides/node_modules/ is missing or older than the lock file.
4. Renders each deck with Marp and the course theme, slides/theme/minillm.css.
   Marp inlines its CSS and draws math as inline SVG, but keeps images as links
   to files; so each deck is first copied to a temporary file whose figures
   are base64 `data:` URIs. The HTML then opens offline on its own, e.g. sent
   by mail or opened from a USB stick. Speaker notes (HTML comments in a
   slide) show in the presenter view: press `p` in the HTML.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files, never to a window; must precede importing pyplot

from minillm.errors import MinillmError  # noqa: E402
from minillm.plots import decks as deck_figures  # noqa: E402
from minillm.plots.sources import Sources  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLIDES = ROOT / "slides"
FIGURE_DIR = SLIDES / "figures"
THEME_DIR = SLIDES / "theme"
BUILD_DIR = SLIDES / "build"
MARP = SLIDES / "node_modules" / ".bin" / "marp"
MIN_NODE = 18  # Marp CLI 4 needs Node.js 18 or newer


class BuildError(Exception):
    """A problem the user can fix; main() prints it without a traceback."""


# ----------------------------------------------------------------------------
# decks

# ![alt](path) in Markdown, Marp's sizing keywords (w:, bg, ...) live in alt
IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)\s*\)")


def decks(select: str | None = None) -> list[Path]:
    """The decks in slides/, or the one `select` names by number ("01") or file stem."""
    found = sorted(SLIDES.glob("[0-9]*_*.md"))
    if select is None:
        return found
    chosen = [d for d in found if select in (d.stem, d.stem.split("_")[0], deck_figures.module_name(d))]
    if not chosen:
        raise BuildError(f"no deck {select!r} in {SLIDES}: choose one of {[d.stem for d in found]}")
    return chosen


def figure_refs(markdown: str) -> list[str]:
    """Paths of the images a deck shows, in order of appearance.

    >>> figure_refs("![w:600](figures/a.png) text ![bg right](figures/b.png)")
    ['figures/a.png', 'figures/b.png']
    """
    return [m.group(2) for m in IMAGE.finditer(markdown)]


def check_refs(deck: Path) -> list[str]:
    """The figure names a deck shows; BuildError for any image its plotting module does not draw."""
    try:
        module = deck_figures.deck_module(deck)
    except deck_figures.DeckError as e:
        raise BuildError(str(e)) from None
    names, bad = [], []
    for ref in figure_refs(deck.read_text(encoding="utf-8")):
        name = ref.removeprefix("figures/").removesuffix(".png")
        if ref == f"figures/{name}.png" and name in module.DECK_FIGURES:
            names.append(name)
        else:
            bad.append(ref)
    if bad:
        raise BuildError(f"{deck.name} shows images the build does not draw: {', '.join(bad)}. "
                         f"It may show only figures/<name>.png with <name> one of {sorted(module.DECK_FIGURES)}; "
                         f"for a new figure, add a recipe to DECK_FIGURES in {module.__name__.replace('.', '/')}.py")
    return list(dict.fromkeys(names))


BUILTIN_THEMES = ("default", "gaia", "uncover")  # Marp's own


def check_theme(deck: Path, theme_dir: Path = THEME_DIR) -> str:
    """The theme a deck's front matter names; BuildError unless slides/theme/ or Marp has it.

    (Marp itself falls back to its default theme without a word.)
    """
    front = re.match(r"---\n(.*?)\n---", deck.read_text(encoding="utf-8"), re.S)
    name = re.search(r"^theme:\s*(\S+)", front.group(1), re.M) if front else None
    ours = [m.group(1) for css in sorted(theme_dir.glob("*.css"))
            for m in [re.search(r"@theme\s+(\S+)", css.read_text(encoding="utf-8"))] if m]
    if name is None or name.group(1) not in (*ours, *BUILTIN_THEMES):
        raise BuildError(f"{deck.name} must name a theme in its front matter, e.g. `theme: minillm`; "
                         f"themes in {theme_dir}: {ours}")
    return name.group(1)


def inline_figures(markdown: str, figure_dir: Path = FIGURE_DIR) -> str:
    """Replace each figures/<name> image link with the PNG as a base64 data URI."""
    def data_uri(m: re.Match) -> str:
        png = (figure_dir / m.group(2).removeprefix("figures/")).read_bytes()
        return f"![{m.group(1)}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

    return IMAGE.sub(data_uri, markdown)


# Marp's directives, which HTML comments may also hold; every other comment is a speaker note
DIRECTIVES = {"theme", "style", "headingDivider", "lang", "math", "title", "description", "author", "image",
              "keywords", "url", "marp", "size", "paginate", "header", "footer", "class", "backgroundColor",
              "backgroundImage", "backgroundPosition", "backgroundRepeat", "backgroundSize", "color"}
COMMENT = re.compile(r"<!--(.*?)-->", re.S)
FENCE = re.compile(r"^(```|~~~)")


def slide_texts(markdown: str) -> list[str]:
    """The deck's slides as Markdown: split at `---` lines outside code blocks, front matter dropped.

    >>> [s.strip() for s in slide_texts("---\\nmarp: true\\n---\\n\\n# A\\n\\n---\\n\\n# B\\n")]
    ['# A', '# B']
    """
    lines = markdown.splitlines()
    if lines and lines[0] == "---":  # front matter: up to the next ---
        lines = lines[lines.index("---", 1) + 1:]
    slides, current, in_code = [], [], False
    for line in lines:
        if FENCE.match(line.strip()):
            in_code = not in_code
        if line.strip() == "---" and not in_code:
            slides.append("\n".join(current) + "\n")
            current = []
        else:
            current.append(line)
    slides.append("\n".join(current) + "\n")
    return slides


def speaker_notes(slide: str) -> list[str]:
    """The notes of one slide: its HTML comments that are not Marp directives such as `_class: title`.

    >>> speaker_notes("<!-- _class: title -->\\n# Hi\\n<!--\\nSay hello.\\n-->")
    ['Say hello.']
    """
    notes = []
    for m in COMMENT.finditer(slide):
        text = m.group(1).strip()
        keys = [re.match(r"_?(\w+)\s*:", line) for line in text.splitlines()]
        if not (keys and all(k and k.group(1) in DIRECTIVES for k in keys)):
            notes.append(text)
    return notes


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
    """Render one deck with the course theme (--theme-set: the decks say `theme: minillm`)."""
    cmd = [str(MARP), str(markdown), "-o", str(output), "--no-stdin", "--no-config-file",
           "--theme-set", str(THEME_DIR)]
    if pdf:
        cmd += ["--pdf", "--browser-path", browser]
    result = subprocess.run(cmd, cwd=SLIDES, capture_output=True, text=True)
    if result.returncode != 0 or not output.is_file():
        raise BuildError(f"Marp could not render {output.name}:\n{(result.stderr or result.stdout).strip()[-2000:]}")


# ----------------------------------------------------------------------------

def draw_figures(used: dict[Path, list[str]], sources: Sources, force: bool = False) -> None:
    """Draw (or reuse) the figures each deck shows, from its plotting module."""
    owner: dict[str, str] = {}  # figure name -> the module that draws it
    for deck, names in used.items():
        module = deck_figures.module_name(deck)
        for name in names:
            if owner.setdefault(name, module) != module:
                raise BuildError(f"the modules {owner[name]} and {module} both draw a figure {name!r}; both would be "
                                 f"saved as figures/{name}.png: rename one")
    for deck, names in used.items():
        print(f"{deck.name}: {len(names)} figures into {FIGURE_DIR.relative_to(ROOT)}/", flush=True)
        _, reused = deck_figures.draw(names, deck_figures.deck_module(deck), sources, FIGURE_DIR, force=force)
        if reused:
            print(f"  reused {len(reused)} unchanged: {', '.join(reused)}", flush=True)


def build(select: str | None = None, pdf: bool = False, force: bool = False) -> list[Path]:
    """Build every deck, or the one `select` names; returns the files written."""
    t_start = time.perf_counter()
    chosen = decks(select)
    if not chosen:
        raise BuildError(f"no decks: {SLIDES} has no NN_<module>.md files")
    used = {deck: check_refs(deck) for deck in chosen}  # fail on a bad reference before any work
    for deck in chosen:
        check_theme(deck)
    browser = find_chromium() if pdf else None
    ensure_marp()
    draw_figures(used, Sources(), force=force)

    BUILD_DIR.mkdir(exist_ok=True)
    written = []
    for i, deck in enumerate(chosen, 1):
        t0 = time.perf_counter()
        markdown = deck.read_text(encoding="utf-8")
        silent = [k for k, slide in enumerate(slide_texts(markdown), 1) if not speaker_notes(slide)]
        if silent:
            print(f"  note: {deck.name} slides {silent} have no speaker notes", flush=True)
        with tempfile.TemporaryDirectory(prefix="minillm-slides-") as tmp:
            inlined = Path(tmp) / deck.name
            inlined.write_text(inline_figures(markdown), encoding="utf-8")
            outputs = [BUILD_DIR / f"{deck.stem}.html"] + ([BUILD_DIR / f"{deck.stem}.pdf"] if pdf else [])
            for out in outputs:
                marp(inlined, out, pdf=out.suffix == ".pdf", browser=browser)
        loads = external_loads(outputs[0].read_text(encoding="utf-8"))
        if loads:
            raise BuildError(f"{outputs[0].name} would load resources from the network: {loads[:3]}")
        sizes = ", ".join(f"{out.relative_to(ROOT)} ({out.stat().st_size / 1e6:.1f} MB)" for out in outputs)
        print(f"[{i}/{len(chosen)}] {deck.name}: {len(used[deck])} figures -> {sizes} "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        written += outputs
    print(f"built {len(chosen)} deck(s) in {time.perf_counter() - t_start:.1f} s")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deck", metavar="DECK", help="build only this deck: its number (01) or file stem")
    parser.add_argument("--pdf", action="store_true", help="also write PDFs (needs Chromium)")
    parser.add_argument("--force", action="store_true", help="redraw every figure, ignoring the cache")
    args = parser.parse_args(argv)
    try:
        build(args.deck, pdf=args.pdf, force=args.force)
    except (BuildError, MinillmError) as e:  # e.g. GPT-2's vocabulary could not be fetched
        print(f"build_slides: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
