"""The curation pipeline (minillm.curation.pipeline) on a small crawl: junk out, one page per set of
copies, personal data redacted, the funnel adding up, and shards at a token budget."""

import re

import numpy as np
import pytest

pytest.importorskip("faker")

from minillm.bpe import BPETokenizer  # noqa: E402
from minillm.curation.crawl import GOOD_KINDS, UNLABELLED, Page, make_crawl  # noqa: E402
from minillm.curation.filters import lorem_ipsum  # noqa: E402
from minillm.curation.filters import lorem_ipsum  # noqa: E402
from minillm.curation.pipeline import curate, report, stage_tokens, write_training_shards  # noqa: E402
from minillm.curation.shards import load_shards  # noqa: E402
from minillm.errors import ConfigError  # noqa: E402
from minillm.tokenizer import CharTokenizer  # noqa: E402


@pytest.fixture(scope="module")
def run():
    pages = make_crawl(1.2, seed=5, progress=False)
    kept, stages = curate(pages, progress=False)
    return pages, kept, stages


def test_junk_goes_and_most_good_text_stays(run):
    pages, kept, _ = run
    assert sum(p.kind not in GOOD_KINDS for p in kept) <= 0.02 * len(kept)
    assert sum(p.kind in GOOD_KINDS for p in kept) >= 0.5 * sum(p.kind in GOOD_KINDS for p in pages)


def test_no_two_copies_survive(run):
    _, kept, _ = run
    ids = {p.id for p in kept}
    assert not [p.id for p in kept if p.duplicate_of in ids]


def test_planted_contact_details_are_redacted(run):
    pages, kept, _ = run
    by_id = {p.id: p for p in pages}
    with_pii = [p for p in kept if by_id[p.id].pii]
    assert with_pii and all(re.search(r"<(EMAIL|PHONE|IP_ADDRESS|CARD)>", p.text) or
                            {s.kind for s in by_id[p.id].pii} == {"NAME"} for p in with_pii)
    for p in with_pii:
        original = by_id[p.id]
        for span in original.pii:
            if span.kind in ("EMAIL", "IPV4", "IPV6"):  # detected with recall 1.0 on faker's data
                assert original.text[span.start:span.end] not in p.text


def test_the_funnel_adds_up(run):
    pages, kept, stages = run
    assert stages[0].pages_in == len(pages) and stages[-1].pages_out == len(kept)
    for a, b in zip(stages, stages[1:]):
        assert a.pages_out == b.pages_in and a.chars_out == b.chars_in
    for s in stages:
        assert s.pages_in - s.pages_out == sum(s.dropped.values())
    assert [s.name for s in stages] == ["filters", "language", "dedup", "classifier", "pii"]
    assert "good pages" in report(stages, pages, kept)


def test_the_filters_step_counts_its_drops_per_rule(run):
    pages, _, stages = run
    counts = dict((rule, int(n)) for rule, n in re.findall(r"(\w+) (\d+)", stages[0].note.removeprefix("by rule: ")))
    assert sum(counts.values()) == stages[0].pages_in - stages[0].pages_out
    assert counts["lorem_ipsum"] == sum(lorem_ipsum(p.text) for p in pages) > 0  # the rule run first


def test_the_funnel_in_tokens_of_a_character_tokenizer_is_the_funnel_in_characters(run):
    pages, kept, stages = run
    tok = CharTokenizer("".join(sorted({c for p in list(pages) + list(kept) for c in p.text})))
    tokens = stage_tokens(stages, pages, kept, tok)
    assert tokens == [stages[0].chars_in] + [s.chars_out for s in stages]
    lines = report(stages, pages, kept, tokens).splitlines()
    assert lines[0].startswith(f"filters      {len(pages):>6,} -> {stages[0].pages_out:>6,} pages, "
                               f"{tokens[0] / 1e6:>5.2f} -> {tokens[1] / 1e6:>5.2f} MB, {tokens[0] / 1e6:>5.2f}M -> "
                               f"{tokens[1] / 1e6:>5.2f}M tokens; dropped: ")


def test_bpe_tokens_shrink_step_by_step_and_other_runs_stages_are_refused(run):
    pages, kept, stages = run
    tok = BPETokenizer.train("".join(p.text for p in kept[:40]), 300)
    tokens = stage_tokens(stages, pages, kept, tok)
    assert tokens[0] == sum(len(tok.encode(p.text)) for p in pages) and tokens[-1] == sum(len(tok.encode(p.text))
                                                                                          for p in kept)
    assert tokens[:-1] == sorted(tokens[:-1], reverse=True) and tokens[-1] <= tokens[-2]  # placeholders are short
    with pytest.raises(ConfigError, match="one `curate` run"):
        stage_tokens(stages, pages, kept[1:], tok)


def test_unlabelled_pages_are_curated_without_claims_about_their_kinds():
    pages = [Page(i, p.text, "folder", UNLABELLED) for i, p in enumerate(make_crawl(1.0, seed=3, progress=False))]
    kept, stages = curate(pages, progress=False)
    text = report(stages, pages, kept)
    assert 0 < len(kept) < len(pages) and "by rule: " in text
    assert "dropped:" not in text and "good pages" not in text
    assert curate([Page(0, "Home | Login", "folder", UNLABELLED)], progress=False)[0] == []
    one_good_page = curate([Page(0, kept[0].text, "folder", UNLABELLED)], progress=False)[1]  # no other half to
    assert [s.pages_out for s in one_good_page][:3] == [1, 1, 1]                               # cross-fit with


def test_training_shards_hold_about_the_budget(run, tmp_path):
    _, kept, _ = run
    tok = CharTokenizer("".join(sorted({c for p in kept for c in p.text})))
    manifest = write_training_shards(kept, tok, tmp_path / "shards", token_budget=100_000, progress=False)
    ids = load_shards(tmp_path / "shards", tok)
    assert 100_000 <= len(ids) == manifest["total_tokens"] < 100_000 + max(len(p.text) for p in kept)
    assert re.search(r"\w", tok.decode(ids[:200].tolist()))
    assert ids.dtype == np.uint16
    with pytest.raises(ConfigError):
        write_training_shards(kept, tok, tmp_path / "bad", 1000, weights={"shakespeare": 0.5, "wikipedia": 0.5})


def test_editions_are_paired_by_content_and_different_plays_are_not():
    from minillm.curation.pipeline import edition_pairs

    for seed in (0, 1, 2):
        pages = [p for p in make_crawl(0.9, seed=seed, progress=False) if len(p.text) > 50_000]
        pairs = {frozenset((pages[i].id, pages[j].id)) for i, j, _ in edition_pairs([p.text for p in pages])}
        assert pairs == {frozenset((p.id, p.duplicate_of)) for p in pages if p.duplicate_kind == "edition"}
