"""Heuristic quality filters in the style of C4 (Raffel et al., 2020) and Gopher (Rae et al., 2021).

Each rule is a small named function of a page's text that says "drop" (True) or "keep" (False), with
a one-line rationale. The thresholds are Gopher's and C4's published ones unless a comment says
otherwise. A page is dropped by the first rule it fails; `filter_report` counts drops per rule and per
true kind of page and scores the whole filter against the crawl's labels, so you can see what each
rule catches and what good text it throws away (C4's curly-brace rule and Python's documentation, for
one).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .crawl import GOOD_KINDS, Page

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # Gopher's list
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Rule:
    name: str
    why: str                          # the one-line rationale
    drops: Callable[[str], bool]      # True: the page fails this rule


def _words(text: str) -> list[str]:
    return WORD.findall(text)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def too_few_or_many_words(text: str) -> bool:
    """Gopher: keep pages of 50 to 100,000 words."""
    return not 50 <= len(_words(text)) <= 100_000


def odd_mean_word_length(text: str) -> bool:
    """Gopher: keep a mean word length of 3 to 10 characters."""
    words = _words(text)
    return not words or not 3 <= sum(map(len, words)) / len(words) <= 10


def many_symbols(text: str) -> bool:
    """Gopher: drop pages with more than 0.1 hash signs or ellipses per word."""
    words = _words(text)
    return not words or (text.count("#") + text.count("...") + text.count("…")) / len(words) > 0.1


def bullet_or_ellipsis_lines(text: str) -> bool:
    """Gopher: drop pages where over 90% of lines start with a bullet or over 30% end in an ellipsis."""
    lines = _lines(text)
    if not lines:
        return True
    bullets = sum(line.startswith(("•", "*", "-", "–", "·")) for line in lines)
    ellipses = sum(line.endswith(("...", "…")) for line in lines)
    return bullets > 0.9 * len(lines) or ellipses > 0.3 * len(lines)


def little_alphabetic_text(text: str) -> bool:
    """Gopher: keep pages where at least 80% of words contain a letter."""
    words = _words(text)
    return not words or sum(any(c.isalpha() for c in w) for w in words) < 0.8 * len(words)


def few_stop_words(text: str) -> bool:
    """Gopher: natural English uses "the", "of", "and", ...: keep pages with at least 2 of its 8 stop words."""
    present = {w.lower().strip(".,;:!?\"'()") for w in _words(text)}
    return len(present & set(STOP_WORDS)) < 2


def repeated_lines(text: str) -> bool:
    """Gopher: drop pages whose duplicated lines are over 30% of lines or 20% of characters."""
    lines = _lines(text)
    if not lines:
        return True
    counts = Counter(lines)
    dup_lines = sum(n for n in counts.values() if n > 1)
    dup_chars = sum(len(line) * n for line, n in counts.items() if n > 1)
    return dup_lines > 0.3 * len(lines) or dup_chars > 0.2 * sum(map(len, lines))


def repeated_ngrams(text: str) -> bool:
    """Gopher: drop pages where the most frequent word 2-, 3- or 4-gram covers over 20%, 18%, 16% of the
    characters (keyword stuffing)."""
    words = [w.lower() for w in _words(text)]
    chars = sum(map(len, words))
    for n, limit in ((2, 0.20), (3, 0.18), (4, 0.16)):
        grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
        if grams:
            gram, count = grams.most_common(1)[0]
            if count > 1 and count * sum(map(len, gram)) > limit * chars:
                return True
    return False


def lorem_ipsum(text: str) -> bool:
    """C4: drop pages with "lorem ipsum" placeholder text (here also its tell-tale Latin words)."""
    lower = text.lower()
    return "lorem ipsum" in lower or sum(lower.count(w) for w in (" dolor", " amet", " consectetur", " sed ",
                                                                    " voluptas", " quia ", " aut ")) >= 5


def curly_braces(text: str) -> bool:
    """C4: drop pages with a curly brace, which in web text means code or templates."""
    return "{" in text or "}" in text


def javascript(text: str) -> bool:
    """C4: drop pages mentioning javascript (C4 drops the line; pages that need it to show are junk)."""
    return "javascript" in text.lower()


def mojibake(text: str) -> bool:
    """Not C4 or Gopher: text decoded with the wrong codec shows "Ã", "â€" or the replacement
    character; drop pages with more than 1 per 1,000 characters."""
    marks = text.count("Ã") + text.count("â€") + text.count("\ufffd")
    return marks > len(text) / 1000


def few_sentences(text: str) -> bool:
    """C4: drop pages with fewer than 5 sentences, counted as lines of 3 or more words that end in
    terminal punctuation (menus, banners and tables have few)."""
    return sum(len(line.split()) >= 3 and line.endswith((".", "!", "?", '"', "'", "”")) for line in _lines(text)) < 5


# Order matters only for the report (a page is counted under the first rule it fails): the specific
# markers first, then Gopher's quantity and repetition rules, then C4's sentence count.
RULES: tuple[Rule, ...] = tuple(Rule(f.__name__, " ".join((f.__doc__ or "").split()), f) for f in (
    lorem_ipsum, mojibake, javascript, curly_braces, too_few_or_many_words, odd_mean_word_length, many_symbols,
    bullet_or_ellipsis_lines, little_alphabetic_text, few_stop_words, repeated_lines, repeated_ngrams,
    few_sentences))


def first_failed_rule(text: str, rules: Sequence[Rule] = RULES) -> str | None:
    """The name of the first rule the text fails, or None when it passes them all."""
    for rule in rules:
        if rule.drops(text):
            return rule.name
    return None


@dataclass
class FilterReport:
    """What the filters did to a crawl, scored against its labels (a dropped page is a "junk" guess)."""

    dropped_by: dict[str, Counter] = field(default_factory=dict)  # rule -> Counter of the true kinds it dropped
    kept: Counter = field(default_factory=Counter)                # true kind -> pages kept
    total: Counter = field(default_factory=Counter)               # true kind -> pages

    @property
    def precision(self) -> float:
        """Of the dropped pages, the fraction that were junk."""
        dropped = sum(sum(c.values()) for c in self.dropped_by.values())
        junk = sum(n for c in self.dropped_by.values() for kind, n in c.items() if kind not in GOOD_KINDS)
        return junk / dropped if dropped else 1.0

    @property
    def recall(self) -> float:
        """Of the junk pages, the fraction dropped."""
        junk = sum(n for kind, n in self.total.items() if kind not in GOOD_KINDS)
        kept_junk = sum(n for kind, n in self.kept.items() if kind not in GOOD_KINDS)
        return (junk - kept_junk) / junk if junk else 1.0

    def table(self) -> str:
        """Drops per rule (rows) and true kind (columns), then kept pages, and precision and recall."""
        kinds = sorted(self.total, key=lambda k: (k not in GOOD_KINDS, k))
        width = max(len(k) for k in kinds) + 1
        lines = [f"{'rule':<26}" + "".join(f"{k:>{width}}" for k in kinds)]
        for rule, counts in self.dropped_by.items():
            lines.append(f"{rule:<26}" + "".join(f"{counts[k]:>{width}}" for k in kinds))
        lines.append(f"{'kept':<26}" + "".join(f"{self.kept[k]:>{width}}" for k in kinds))
        lines.append(f"{'pages':<26}" + "".join(f"{self.total[k]:>{width}}" for k in kinds))
        lines.append(f"precision {self.precision:.3f} (dropped pages that were junk), "
                     f"recall {self.recall:.3f} (junk pages dropped)")
        return "\n".join(lines)


def filter_report(pages: Sequence[Page], rules: Sequence[Rule] = RULES) -> FilterReport:
    """Run the rules over the pages (first failed rule wins) and count against the true kinds."""
    report = FilterReport(dropped_by={rule.name: Counter() for rule in rules})
    for page in pages:
        report.total[page.kind] += 1
        failed = first_failed_rule(page.text, rules)
        if failed is None:
            report.kept[page.kind] += 1
        else:
            report.dropped_by[failed][page.kind] += 1
    return report
