"""The look every course figure shares: font sizes, colours, and the axes helpers.

Font sizes are chosen for the slides, the harder case: a figure is saved at
`minillm.plots.decks.DPI` and shrunk to fit a 1280x720 slide, and its text
must still be at least `MIN_SLIDE_TEXT_PX` pixels tall there
(tests/test_slides.py measures every deck figure). The same sizes read well
in a notebook, where figures are shown at about their natural size.

Plot functions apply the sizes with `@styled`, which draws inside
`plt.rc_context(RC)`: the notebook's own matplotlib settings are left alone.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt

MIN_SLIDE_TEXT_PX = 14  # the smallest text a projected slide may show, in pixels of a 1280x720 slide

# Font sizes in points, for text placed by hand (ax.text) and for the rc settings below.
SMALL = 12   # secondary labels: units, hex codes, counts
NORMAL = 14  # tick labels, legends, token boxes
LARGE = 15   # axis labels and titles

RC = {
    "font.size": NORMAL,
    "axes.titlesize": LARGE,
    "axes.labelsize": LARGE,
    "xtick.labelsize": NORMAL,
    "ytick.labelsize": NORMAL,
    "legend.fontsize": SMALL,
    "figure.titlesize": LARGE,
}

# Token boxes cycle through these colours, so neighbouring tokens differ.
TOKEN_COLORS = ("#cfe2f3", "#fde3c8", "#d9ead3", "#f4cccc", "#e6d5f0", "#fff2cc")
# matplotlib ships both fonts; DejaVu Sans fills in glyphs Mono lacks, such as emoji
MONO = ["DejaVu Sans Mono", "DejaVu Sans"]
CELL = 0.17  # inches per character cell; a 14-point monospace character is 0.12 inches wide
ROW = 0.62   # inches per row of token boxes


def styled(plot):
    """Decorator: run a plot function with the course's font sizes (RC)."""
    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return plot(*args, **kwargs)
    return wrapper


def visible(token: str) -> str:
    """A token as a label that shows whitespace: '\\n' for a newline, '␣' for a space.

    >>> visible("to be\\n")
    'to␣be\\\\n'
    """
    return token.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "␣")


def axes(ax=None, figsize=(7, 4)):
    """(figure, axes): a new figure of `figsize` inches if `ax` is None, else `ax` and its figure."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def cells(ax, x_range: tuple[float, float], y_range: tuple[float, float], row: float = ROW):
    """Axes on which one x unit is one character cell and one y unit one row, at fixed inch sizes.

    Labels drawn beyond the limits stay visible: savefig(bbox_inches="tight"),
    as the slide build and notebooks use, widens the picture to include them.
    """
    if ax is None:
        fig = plt.figure(figsize=(CELL * (x_range[1] - x_range[0]), row * (y_range[1] - y_range[0])))
        ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.axis("off")
    return ax.figure, ax
