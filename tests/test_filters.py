"""Heuristic quality filters (minillm.curation.filters): each rule on pages made to pass and to fail it,
and the report's counts against a hand count."""

from collections import Counter

import pytest

from minillm.curation import filters
from minillm.curation.crawl import Page

PROSE = ("It was the best of times, and it was the worst of times. The city had a king with a large jaw. "
         "The people of that land were poor, and they had to work with their hands. ") * 4


def lines(*texts):
    return "\n".join(texts) + "\n"


SENTENCES = lines(*[f"Line {i} of the story tells what happened to the man." for i in range(6)])

# rule -> (a text it must drop, a text it must keep)
CASES = {
    "too_few_or_many_words": ("Home | About | Contact", PROSE),
    "odd_mean_word_length": ("a b c d e f g h " * 10, PROSE),
    "many_symbols": ("#tag #deal #buy the and of " * 10, PROSE),
    "bullet_or_ellipsis_lines": (lines(*["* item of the list and more"] * 10), SENTENCES),
    "little_alphabetic_text": (lines(*["12.5 | 13.0 | 99 | the | 4"] * 20), PROSE),
    "few_stop_words": ("Zahl laufen wenn turnen zehn Name weit lernen fährt sofort " * 6, PROSE),
    "repeated_lines": (lines(*["HAMLET.", "To be, or not to be."] * 6, "That is the question."), SENTENCES),
    "repeated_ngrams": ("best shoes cheap best shoes and the best shoes of best shoes " * 8, PROSE),
    "lorem_ipsum": ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + PROSE, PROSE),
    "curly_braces": ("Use a dict such as {'a': 1} with the key. " + PROSE, PROSE),
    "javascript": ("Please enable JavaScript to view the page. " + PROSE, PROSE),
    "mojibake": ("The cafÃ© was â€œniceâ€\x9d. " + PROSE, PROSE + " The café was “nice”."),
    "few_sentences": (lines("Home | About | Blog", "Accept all cookies", "© 2024 Acme. All rights reserved."),
                      SENTENCES),
}


def test_every_rule_has_a_case_a_name_and_a_rationale():
    assert [r.name for r in filters.RULES] == list(dict.fromkeys(r.name for r in filters.RULES))
    assert set(CASES) == {r.name for r in filters.RULES}
    assert all(len(r.why) > 20 for r in filters.RULES)


@pytest.mark.parametrize("name", CASES)
def test_each_rule_drops_its_junk_and_keeps_prose(name):
    rule = next(r for r in filters.RULES if r.name == name)
    junk, good = CASES[name]
    assert rule.drops(junk), f"{name} should drop {junk[:60]!r}"
    assert not rule.drops(good), f"{name} should keep {good[:60]!r}"


def test_report_counts_match_a_hand_count():
    pages = [Page(0, PROSE + "\n" + SENTENCES, "shakespeare", "prose"),              # kept
             Page(1, "Home | About", "web", "boilerplate"),                          # dropped (too few words)
             Page(2, "Lorem ipsum dolor. " + PROSE, "web", "lorem_ipsum"),           # dropped (lorem_ipsum)
             Page(3, "d = {'a': 1} " + PROSE + "\n" + SENTENCES, "python_docs", "docs"),  # dropped: a good page
             Page(4, PROSE + "\n" + SENTENCES, "web", "seo_spam")]                   # junk that passes
    report = filters.filter_report(pages)
    assert report.dropped_by["too_few_or_many_words"] == Counter(boilerplate=1)
    assert report.dropped_by["lorem_ipsum"] == Counter(lorem_ipsum=1)
    assert report.dropped_by["curly_braces"] == Counter(docs=1)
    assert report.kept == Counter(prose=1, seo_spam=1)
    assert report.precision == pytest.approx(2 / 3)  # 3 dropped, 2 of them junk
    assert report.recall == pytest.approx(2 / 3)     # 3 junk pages, 2 dropped
    table = report.table()
    assert "precision 0.667" in table and table.splitlines()[0].split()[1:3] == ["docs", "prose"]
