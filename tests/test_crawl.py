"""The raw crawl (minillm.curation.crawl): reproducible, sized, and its labels true to its text."""

import re
from collections import Counter

import pytest

pytest.importorskip("faker")

from minillm.curation.crawl import (GOOD_KINDS, JUNK_KINDS, cut_pages, load_crawl, make_crawl,  # noqa: E402
                                    save_crawl)
from minillm.errors import DataError  # noqa: E402


def luhn_ok(number: str) -> bool:
    """The Luhn check, written independently of the package: double every second digit from the right."""
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


@pytest.fixture(scope="module")
def crawl():
    return make_crawl(1.2, seed=3, progress=False)


def test_same_seed_same_crawl_and_about_the_size_asked(crawl):
    again = make_crawl(1.2, seed=3, progress=False)
    assert [(p.id, p.text, p.kind, p.pii, p.duplicate_of) for p in crawl] == \
           [(p.id, p.text, p.kind, p.pii, p.duplicate_of) for p in again]
    assert make_crawl(1.2, seed=4, progress=False)[5].text != crawl[5].text
    assert 1.2e6 <= sum(len(p.text) for p in crawl) < 1.22e6  # stops within a page (and its copy) of the size
    assert sorted(p.id for p in crawl) == list(range(len(crawl)))


def test_every_kind_is_there_and_good_pages_are_real_text(crawl):
    kinds = Counter(p.kind for p in crawl)
    assert set(kinds) == set(GOOD_KINDS) | set(JUNK_KINDS)
    for p in crawl:
        assert p.is_good == (p.source in ("shakespeare", "shakespeare_folio", "python_docs"))
        if p.kind == "foreign":
            assert p.language in {"de", "fr", "es", "it", "nl", "pl"}
    assert any("Ã" in p.text or "â€" in p.text for p in crawl if p.kind == "mojibake")


def test_copies_are_labelled_with_their_original(crawl):
    by_id = {p.id: p for p in crawl}
    kinds = Counter(p.duplicate_kind for p in crawl if p.duplicate_of is not None)
    assert kinds["exact"] > 0 and kinds["near"] > 0 and kinds["edition"] == 3
    norm = lambda t: re.sub(r"\s+", " ", t.lower()).strip()  # noqa: E731
    for p in crawl:
        if p.duplicate_of is None:
            continue
        original = by_id[p.duplicate_of]
        assert original.duplicate_of is None and original.kind == p.kind
        if p.duplicate_kind == "exact":
            assert norm(p.text) == norm(original.text)
        elif p.duplicate_kind == "near":
            words, original_words = Counter(p.text.split()), Counter(original.text.split())
            assert norm(p.text) != norm(original.text)
            assert sum((words & original_words).values()) >= 0.9 * sum(original_words.values())
        else:  # the First Folio edition of a play whose modern edition is in the crawl
            assert p.source == "shakespeare_folio" and original.source == "shakespeare"
            assert p.title.split(" (")[0] == original.title.split(" (")[0]


def test_planted_personal_data_is_where_the_labels_say(crawl):
    checks = {"EMAIL": lambda s: re.fullmatch(r"\S+@\S+\.\w+", s), "IPV4": lambda s: re.fullmatch(r"(\d+\.){3}\d+", s),
              "IPV6": lambda s: ":" in s and re.fullmatch(r"[0-9a-f:]+", s), "CARD": luhn_ok,
              "PHONE": lambda s: sum(c.isdigit() for c in s) >= 7, "NAME": lambda s: s[:1].isupper()}
    seen = Counter()
    for p in crawl:
        for span in p.pii:
            value = p.text[span.start:span.end]
            assert checks[span.kind](value), (span.kind, value)
            seen[span.kind] += 1
        for span in p.decoys:
            assert span.kind == "CARD_LIKE" and not luhn_ok(p.text[span.start:span.end])
    assert set(seen) == set(checks)
    assert any(p.pii for p in crawl if p.is_good)  # good pages carry some too: redaction, not dropping


def test_cut_pages_keeps_every_character():
    text = "".join(f"line {i}\n" for i in range(500))
    pages = cut_pages(text, chars=300)
    assert "".join(pages) == text and all(len(p) >= 150 for p in pages)


def test_save_and_load_round_trip_and_a_broken_file_says_so(crawl, tmp_path):
    path = tmp_path / "crawl.jsonl"
    save_crawl(crawl[:20], path)
    assert load_crawl(path) == crawl[:20]
    path.write_text(path.read_text()[:-40])
    with pytest.raises(DataError, match="line 20: not a crawl page"):
        load_crawl(path)
    with pytest.raises(DataError, match="size_mb must be positive"):
        make_crawl(0)


def test_every_folio_play_maps_to_its_modern_edition():
    """By content: of all modern works, the one sharing the most words with a folio play is its twin."""
    from minillm.curation.crawl import FOLIO_NAMES
    from minillm.data import shakespeare_works

    modern, folio = shakespeare_works("modern"), shakespeare_works("folio")
    assert len(folio) == 35 and set(FOLIO_NAMES) <= set(folio)
    words = {name: set(re.findall(r"[a-z]+", text.lower())) for name, text in modern.items()}
    for name, text in folio.items():
        mine = set(re.findall(r"[a-z]+", text.lower()))
        closest = max(words, key=lambda m: len(mine & words[m]) / len(mine | words[m]))
        assert FOLIO_NAMES.get(name, name) == closest, name


def test_held_out_text_never_enters_the_crawl(crawl):
    from minillm.curation.crawl import reference_pages
    from minillm.data import SHAKESPEARE_VAL_WORKS

    held_out = reference_pages(held_out=True)
    titles = {title.rsplit(", page", 1)[0] for title, _ in held_out}
    assert set(SHAKESPEARE_VAL_WORKS) <= titles and any(t.startswith("module: ") for t in titles)
    assert not titles & {title.rsplit(", page", 1)[0] for title, _ in reference_pages(held_out=False)}
    crawled = {p.title.rsplit(", page", 1)[0].split(" (")[0] for p in crawl}
    assert not titles & crawled
    held_texts = {text for _, text in held_out}
    assert not any(p.text in held_texts for p in crawl)


def test_a_folder_of_files_skips_binary_non_utf8_and_empty_ones_with_counts(tmp_path, capsys):
    from minillm.curation.crawl import read_folder

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("To be, or not to be.\n")
    (tmp_path / "sub" / "b.txt").write_text("Words, words, words.\n")
    (tmp_path / "c.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (tmp_path / "d.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "e.txt").write_text("  \n")
    pages, skipped = read_folder(tmp_path)
    assert [p.title for p in pages] == ["a.txt", "sub/b.txt"] and pages[1].kind == "unknown"
    assert skipped == Counter({"binary (a NUL byte)": 1, "not UTF-8": 1, "empty": 1})
    assert "skipped 1 binary (a NUL byte), 1 not UTF-8, 1 empty" in capsys.readouterr().out
    with pytest.raises(DataError, match="is not a folder"):
        read_folder(tmp_path / "a.txt")
