"""The curation pipeline: crawl -> filters -> language -> dedup -> quality classifier -> PII -> mixture -> shards.

`curate(pages)` runs every step in order on a crawl (`minillm.curation.crawl.make_crawl`) and returns
the kept pages with a `Stage` record per step: pages and characters in and out, and, scored against
the crawl's labels, what each step dropped. `write_training_shards` then draws the kept pages by
source weight (`MixtureSampler`) up to a token budget and writes them as token shards, the same
way for raw and curated data, so the two can be compared at an equal budget.

Choices, each measured on the crawl in notebook 05's setting:
- Deduplication comes before the quality classifier. The classifier is trained the way GPT-3's
  was (reference pages positive, crawl pages negative) but cross-fitted: the crawl is split in two
  halves by page id, and each half is scored by the classifier trained against the other, so no page
  is scored by a model that saw it as a negative. With copies still in, a page's copy in the other
  half was such a negative, and the classifier dropped most copied good pages: measured, not guessed.
- Near-duplicates are found with MinHash on word 5-grams at Jaccard 0.5 (a 3% word edit already costs
  about 15% of a page's 5-grams), and, among documents over 50,000 characters, by character 5-grams
  (`edition_pairs`): the First Folio spells the same play so differently that few word 5-grams
  survive. Of each cluster of copies the first page is kept.
- Personal data is redacted (typed placeholders), not dropped: a good page with an e-mail address
  in it stays, without the address.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..tokenizer import Tokenizer
from ..train import History
from .classifier import QualityClassifier, pareto_keep
from .crawl import GOOD_KINDS, UNLABELLED, Page, reference_pages
from .dedup import cluster_labels, exact_duplicates, near_duplicates
from .dedup import shingles as dedup_shingles
from .filters import first_failed_rule
from .langid import NaiveBayesLangID, training_texts
from .mixture import MixtureSampler
from .pii import redact
from .shards import encode_documents, write_shards

LONG_DOCUMENT = 50_000  # characters: compared by character 5-grams too


@dataclass
class Stage:
    """What one step did: pages and characters before and after, and the true kinds it dropped."""

    name: str
    pages_in: int
    pages_out: int
    chars_in: int
    chars_out: int
    dropped: Counter = field(default_factory=Counter)  # true kind (or duplicate kind) -> pages dropped
    note: str = ""
    kept_ids: frozenset = field(default_factory=frozenset, repr=False)  # ids of the pages it kept

    def line(self, tokens: tuple[int, int] | None = None) -> str:
        """One line of the funnel; `tokens` (in, out) adds the step's tokens (see `stage_tokens`)."""
        size = f"{self.chars_in / 1e6:>5.2f} -> {self.chars_out / 1e6:>5.2f} MB"
        if tokens:
            size += f", {tokens[0] / 1e6:>5.2f}M -> {tokens[1] / 1e6:>5.2f}M tokens"
        dropped = ""
        if self.dropped and set(self.dropped) != {UNLABELLED}:  # pages from a folder have no true kinds to show
            dropped = "; dropped: " + ", ".join(f"{k} {n}" for k, n in self.dropped.most_common())
        return (f"{self.name:<12} {self.pages_in:>6,} -> {self.pages_out:>6,} pages, {size}{dropped}"
                f"{'; ' + self.note if self.note else ''}")


def _chars(pages: Sequence[Page]) -> int:
    return sum(len(p.text) for p in pages)


def _stage(name: str, before: Sequence[Page], after: Sequence[Page], key=lambda p: p.kind, note: str = "") -> Stage:
    kept = frozenset(p.id for p in after)
    return Stage(name, len(before), len(after), _chars(before), _chars(after),
                 Counter(UNLABELLED if p.kind == UNLABELLED else key(p) for p in before if p.id not in kept),
                 note, kept)


def quality_scores(pages: Sequence[Page], seed: int = 0, progress: bool = True) -> np.ndarray:
    """Each page's classifier score, cross-fitted: trained against one half of the crawl, scoring the other."""
    crawled = {p.text for p in pages}
    plays, docs = [], []
    for title, text in reference_pages():
        if text not in crawled:  # reference pages the crawl does not hold
            (docs if title.startswith(("topic: ", "module: ")) else plays).append(text)
    # the documentation pool is small: repeat it until it weighs about half as much as the plays
    reference = plays + docs * max(1, len(plays) // (2 * max(1, len(docs))))
    scores = np.zeros(len(pages))
    halves = [np.array([p.id % 2 == k for p in pages]) for k in (0, 1)]
    for train_half, score_half in (halves, halves[::-1]):
        if not score_half.any():
            continue
        if not train_half.any():  # every page has the same parity (a handful of pages): score without cross-fitting
            train_half = score_half
        model = QualityClassifier()
        model.fit(reference, [p.text for p, t in zip(pages, train_half) if t], learning_rate=0.01, epochs=3,
                  seed=seed, progress=progress)
        scores[score_half] = model.score([p.text for p, s in zip(pages, score_half) if s])
    return scores


def edition_pairs(texts: Sequence[str], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Pairs of long documents that are the same work in another spelling: exact character 5-gram
    Jaccard at least `threshold`.

    Measured over six crawls: the two editions of a play share 0.61 to 0.64 of their character
    5-grams, two different plays at most 0.44. MinHash's 128-slot estimates (about +-0.04) blur that
    gap, and there are few long documents, so they are compared exactly.
    """
    sets = [set(dedup_shingles(t, n=5, unit="char").tolist()) for t in texts]
    pairs = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            similarity = len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))
            if similarity >= threshold:
                pairs.append((i, j, similarity))
    return pairs


def duplicate_clusters(texts: Sequence[str], seed: int = 0) -> list[int]:
    """Each text's cluster label (the smallest index of its copies): exact, near (word 5-grams, Jaccard
    0.5) and, between long documents, other editions (`edition_pairs`)."""
    pairs = [(j, i) for i, j in enumerate(exact_duplicates(texts)) if j is not None]
    pairs += [(i, j) for i, j, _ in near_duplicates(texts, threshold=0.5, n=5, unit="word", seed=seed)]
    long = [i for i, t in enumerate(texts) if len(t) > LONG_DOCUMENT]
    pairs += [(long[i], long[j]) for i, j, _ in edition_pairs([texts[i] for i in long])]
    return cluster_labels(len(texts), pairs)


def curate(pages: Sequence[Page], seed: int = 0, progress: bool = True) -> tuple[list[Page], list[Stage]]:
    """Run every step on the crawl; -> (kept pages, PII redacted; a Stage per step)."""
    stages: list[Stage] = []
    steps = tqdm(total=5, desc="curating", unit="step", disable=not progress)

    failed = {p.id: first_failed_rule(p.text) for p in pages}
    kept = [p for p in pages if failed[p.id] is None]
    by_rule = Counter(rule for rule in failed.values() if rule is not None)
    stages.append(_stage("filters", pages, kept, note="by rule: " + (", ".join(f"{r} {n}" for r, n in
                                                                            by_rule.most_common()) or "none")))
    steps.update()

    langid = NaiveBayesLangID().fit(training_texts(seed=seed + 1))
    before, kept = kept, [p for p in kept if langid.predict(p.text) == "en"]
    stages.append(_stage("language", before, kept))
    steps.update()

    labels = duplicate_clusters([p.text for p in kept], seed)
    before, kept = kept, [p for i, p in enumerate(kept) if labels[i] == i]
    copied = {p.duplicate_of for p in kept if p.duplicate_of is not None}
    stages.append(_stage("dedup", before, kept, key=lambda p: p.duplicate_kind or (
        "an original, its copy kept" if p.id in copied else "not a planted copy")))
    steps.update()

    scores = dict(zip((p.id for p in kept), quality_scores(kept, seed, progress=False)))
    keep = pareto_keep(np.array([scores[p.id] for p in kept]), seed=seed)
    before, kept = kept, [p for p, k in zip(kept, keep) if k]
    stages.append(_stage("classifier", before, kept, note="GPT-3's Pareto(9) keep rule"))
    steps.update()

    redacted = [replace(p, text=redact(p.text)[0]) for p in kept]
    changed = sum(r.text != p.text for r, p in zip(redacted, kept))
    stages.append(Stage("pii", len(kept), len(kept), _chars(kept), _chars(redacted),
                        note=f"{changed} pages redacted, none dropped", kept_ids=frozenset(p.id for p in kept)))
    steps.update()
    steps.close()
    return redacted, stages


def stage_tokens(stages: Sequence[Stage], pages: Sequence[Page], kept: Sequence[Page], tok: Tokenizer) -> list[int]:
    """Tokens of `tok` in the crawl and after each step of `curate`: the funnel counted in tokens.

    Each page is encoded once, so `tok` must encode every page of the crawl: a byte-level BPE does, a
    character tokenizer made from the kept pages need not. Every step but the last keeps its pages'
    text as it is; the last one (PII) rewrites it, so it is counted on `kept`, the redacted pages
    `curate` returned.
    """
    if stages[-1].name != "pii" or stages[-1].kept_ids != {p.id for p in kept}:
        raise ConfigError("stage_tokens needs the stages and the kept pages of one `curate` run")
    n = {p.id: len(tok.encode(p.text)) for p in pages}
    return ([sum(n.values())] + [sum(n[i] for i in s.kept_ids) for s in stages[:-1]]
            + [sum(len(tok.encode(p.text)) for p in kept)])


def report(stages: Sequence[Stage], pages: Sequence[Page], kept: Sequence[Page],
           tokens: Sequence[int] | None = None) -> str:
    """The funnel, one line per step (in `tokens`, from `stage_tokens`, when given), then, for a labelled
    crawl, what share of the good and the junk pages survived."""
    lines = [s.line((tokens[i], tokens[i + 1]) if tokens else None) for i, s in enumerate(stages)]
    if any(p.kind != UNLABELLED for p in pages):
        good = sum(p.kind in GOOD_KINDS for p in pages)
        junk = len(pages) - good
        kept_good = sum(p.kind in GOOD_KINDS for p in kept)
        lines.append(f"kept {kept_good:,} of {good:,} good pages ({kept_good / max(1, good):.1%}) and "
                     f"{len(kept) - kept_good:,} of {junk:,} junk pages ({(len(kept) - kept_good) / max(1, junk):.1%})")
    return "\n".join(lines)


def write_training_shards(pages: Sequence[Page], tok: Tokenizer, folder, token_budget: int,
                          weights: dict[str, float] | None = None, seed: int = 0, processes: int = 1,
                          progress: bool = True) -> dict:
    """Draw pages by source weight (default: each source's share of the pages' characters) up to
    `token_budget` characters' worth, tokenize them in order and write shards; returns the manifest.

    The budget is counted in characters of text drawn (the sampler's unit), which for both raw and
    curated data buys about the same number of tokens of the same tokenizer.
    """
    by_source: dict[str, list[str]] = {}
    for p in pages:
        by_source.setdefault(p.source, []).append(p.text)
    if weights is None:
        total = _chars(pages)
        weights = {s: sum(map(len, texts)) / total for s, texts in by_source.items()}
    sampler = MixtureSampler(by_source, weights, seed=seed)
    drawn = [text for _, text in sampler.sample_tokens(token_budget)]
    return write_shards(encode_documents(tok, drawn, processes=processes, progress=progress), folder, tok,
                        progress=progress)



# ----------------------------------------------------------------------------
# the payoff: train on raw and on curated data at the same token budget

PAYOFF_MODEL = dict(block_size=128, n_layer=4, n_head=4, n_embd=128)  # the course's CPU-sized GPT


@dataclass
class Payoff:
    """Held-out loss of the same GPT trained on raw and on curated data, same tokens, seed and steps."""

    raw_loss: float                 # nats per character on text neither crawl nor filters have seen
    curated_loss: float
    tokens: int                     # characters of training data each run drew (its token budget)
    steps: int
    held_out_chars: int
    raw_history: History | None = field(repr=False, default=None)
    curated_history: History | None = field(repr=False, default=None)

    def __str__(self) -> str:
        return (f"held-out loss after {self.steps} steps on {self.tokens:,} characters: raw {self.raw_loss:.3f}, "
                f"curated {self.curated_loss:.3f} nats per character ({self.held_out_chars:,} held-out characters)")


def raw_vs_curated(pages: Sequence[Page], kept: Sequence[Page], steps: int = 600, token_budget: int = 1_200_000,
                   batch_size: int = 16, learning_rate: float = 2e-3, model: dict | None = None, seed: int = 0,
                   progress: bool = True) -> Payoff:
    """Train the same character GPT on raw pages and on curated ones and score both on held-out text.

    Both runs draw `token_budget` characters by source weight, see the same number of steps, seed and
    settings; the held-out text is `reference_pages(held_out=True)` (plays and documentation no crawl
    contains). One character tokenizer covers all three, so the losses are comparable.
    """
    import tempfile

    import torch

    from ..evaluate import dataset_loss
    from ..model import GPT, GPTConfig
    from ..tokenizer import CharTokenizer
    from ..train import TrainConfig, train
    from .shards import load_shards

    held_out = "".join(text for _, text in reference_pages(held_out=True))
    tok = CharTokenizer.from_text("".join(p.text for p in pages) + "".join(p.text for p in kept) + held_out)
    val = torch.tensor(tok.encode(held_out))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, chosen in (("raw", pages), ("curated", kept)):
            write_training_shards(chosen, tok, f"{tmp}/{name}", token_budget, seed=seed, progress=False)
            ids = torch.from_numpy(load_shards(f"{tmp}/{name}", tok).astype(np.int64))
            torch.manual_seed(seed)
            gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, **{**PAYOFF_MODEL, **(model or {})}))
            history = train(gpt, ids, val, TrainConfig(max_iters=steps, batch_size=batch_size,
                            learning_rate=learning_rate, warmup_iters=min(50, steps // 10), eval_interval=max(1, steps // 6),
                            eval_iters=10, seed=seed), progress=progress)
            results[name] = (dataset_loss(gpt, val, batch_size=32), history, len(ids))
    return Payoff(results["raw"][0], results["curated"][0], results["raw"][2], steps, len(held_out),
                  results["raw"][1], results["curated"][1])
