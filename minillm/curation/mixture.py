"""Data mixtures (module M5): draw training documents from several sources by weight, count the epochs.

A pretraining set is a mixture: so much web text, so much code, so many books. The weights are chosen,
not found: small, clean sources (Wikipedia, books) are weighted above their size, so training sees them
several times, while the web is seen less than once. For a source of S tokens with weight w in a run
of T tokens,

    epochs elapsed = w x T / S

GPT-3 (Brown et al. 2020, table 2.2) drew 3% of its 300B tokens from a 3B-token Wikipedia: three epochs;
60% from 410B tokens of filtered Common Crawl: 0.44 of an epoch.

Design choices, and the simplifications made for teaching:
- Weights are shares of tokens, as in the papers. `MixtureSampler` draws whole documents, so it picks a
  source with probability proportional to weight / mean document length: a source of long documents
  is picked less often, and each source's share of the tokens drawn still converges to its weight.
  With documents of equal length this is just the weights.
- Within a source, documents come in a shuffled order, one pass (epoch) after another, each pass
  freshly shuffled: every document is seen once before any is seen twice, so "epochs" mean what they
  say. Each source shuffles with its own generator, seeded from the seed and the source's name, so
  its order does not depend on the other sources.
- Documents are anything with a length: strings (characters), lists of token ids, or plain token
  counts with `length=int`. Nothing is tokenized here.
- `check_weights` refuses weights that name unknown sources, are negative or not numbers, or do not sum
  to 1 within 1e-6. A source left out of the weights gets weight 0. `epochs_elapsed` takes weights as
  printed, since published ones are rounded: GPT-3's sum to 101%.

The published tables, and what can be recomputed from them:
- GPT-3 (`GPT3_MIXTURE`): the epochs column should follow from weight x 300B / tokens. Recomputed from
  the printed (rounded) inputs, only Common Crawl comes back as printed (0.44). Allowing for the
  rounding of the inputs (weights to the percent, tokens to the billion) Books1, Books2 and Wikipedia
  are consistent too; WebText2 is not: 22% of 300B from 19B tokens is 3.3-3.6 epochs, not 2.9 (2.9
  would need about 23B tokens, or a weight of 18%). `gpt3_epochs_check` lays this out row by row.
- LLaMA (`LLAMA_MIXTURE`, Touvron et al. 2023, table 1: sampling proportion, epochs when training on
  1.4T tokens, disk size): no token counts are printed, so the epochs cannot be recomputed. What follows
  from the table is each source's size in tokens, proportion x 1.4T / epochs, and with the disk sizes
  its bytes per token (`llama_implied_sizes`): 2.8 to 4.0 bytes per token, the web sources highest,
  ArXiv and StackExchange lowest, code (GitHub) in between at 3.3. The sizes add up to 1.26T distinct
  tokens. The paper does not say whether its disk sizes are compressed, nor whether a TB is 10^12 or
  2^40 bytes (decimal units assumed here), so the bytes per token are a rough guide.
- PaLM (`PALM_MIXTURE`, Chowdhery et al. 2022, 780B tokens): proportions only.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import ConfigError, DataError

WEIGHT_TOLERANCE = 1e-6  # how far from 1 the weights may sum


def check_weights(weights: Mapping[str, float], sources) -> None:
    """Raise ConfigError unless the weights name known sources, are non-negative and sum to 1.

    >>> check_weights({"web": 0.7, "books": 0.3}, ["web", "books", "code"])
    >>> check_weights({"web": 0.7, "bookz": 0.3}, ["web", "books"])
    Traceback (most recent call last):
    minillm.errors.ConfigError: mixture weight for unknown source 'bookz'; the sources are ['books', 'web']
    """
    _check_names_and_signs(weights, sources)
    total = math.fsum(weights.values())
    if not abs(total - 1) <= WEIGHT_TOLERANCE:
        raise ConfigError(f"mixture weights must sum to 1 (within {WEIGHT_TOLERANCE:g}), they sum to {total:.6g}: "
                          f"{dict(weights)}")


def _check_names_and_signs(weights: Mapping[str, float], sources) -> None:
    for name, weight in weights.items():
        if name not in sources:
            raise ConfigError(f"mixture weight for unknown source {name!r}; the sources are {sorted(sources)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:  # nan fails >= 0
            raise ConfigError(f"mixture weight of {name!r} must be a non-negative number, got {weight!r}")


def epochs_elapsed(weights: Mapping[str, float], source_tokens: Mapping[str, float],
                   total_tokens: float) -> dict[str, float]:
    """How many times each source is gone through when `total_tokens` are drawn: weight x total / size.

    Weights are taken as given (published ones are rounded and need not sum to 1).

    >>> epochs_elapsed({"web": 0.6, "wiki": 0.03}, {"web": 410e9, "wiki": 3e9}, 300e9)
    {'web': 0.43902439024390244, 'wiki': 3.0}
    """
    _check_names_and_signs(weights, source_tokens)
    for name, weight in weights.items():
        if weight > 0 and not source_tokens[name] > 0:
            raise DataError(f"source {name!r} has weight {weight} but {source_tokens[name]} tokens")
    return {name: weight * total_tokens / source_tokens[name] if weight else 0.0 for name, weight in weights.items()}


class MixtureSampler:
    """Draws (source name, document) pairs so that each source supplies its weight's share of the tokens.

    >>> sampler = MixtureSampler({"web": ["a", "b", "c"], "books": ["X", "Y"]}, {"web": 0.5, "books": 0.5}, seed=0)
    >>> sorted(doc for _, doc in sampler.sample(10))  # equal lengths: about 5 of each, a whole epoch before repeats
    ['X', 'X', 'Y', 'Y', 'Y', 'a', 'b', 'b', 'c', 'c']
    >>> sampler.epochs_elapsed(10)  # what 10 tokens (characters here) mean for each source
    {'web': 1.6666666666666667, 'books': 2.5}
    """

    def __init__(self, sources: Mapping[str, Sequence], weights: Mapping[str, float], seed: int = 0,
                 length: Callable[[Any], int] = len):
        check_weights(weights, sources)
        self.sources = dict(sources)
        self.weights = {name: float(weights.get(name, 0)) for name in self.sources}
        self.length = length  # a document's size in tokens
        self.source_tokens = {name: sum(map(length, docs)) for name, docs in self.sources.items()}
        for name, weight in self.weights.items():
            if weight > 0 and not self.source_tokens[name] > 0:
                raise DataError(f"source {name!r} has weight {weight} but no documents (or only empty ones)")
        # subtle: a draw takes a whole document, so a source of long documents must be picked less often
        # for its share of the tokens to be its weight: P(source) is proportional to weight / mean length.
        per_token = {name: weight * len(self.sources[name]) / self.source_tokens[name]
                     for name, weight in self.weights.items() if weight > 0}
        norm = sum(per_token.values())
        self.draw_probabilities = {name: per_token.get(name, 0.0) / norm for name in self.sources}
        self._names = list(per_token)
        self._cumulative = list(accumulate(self.draw_probabilities[name] for name in self._names))
        self._rng = random.Random(seed)  # picks the source of each draw
        self._shufflers = {name: random.Random(f"{seed}/{name}") for name in self.sources}
        self._order = {name: [] for name in self.sources}  # this epoch's order of document indices
        self._position = {name: 0 for name in self.sources}
        self.epochs_started = {name: 0 for name in self.sources}
        self.documents_drawn = {name: 0 for name in self.sources}
        self.tokens_drawn = {name: 0 for name in self.sources}

    def draw(self) -> tuple[str, Any]:
        """One document: pick a source by `draw_probabilities`, then its next document in this epoch's order."""
        u = self._rng.random() * self._cumulative[-1]
        name = self._names[min(bisect_right(self._cumulative, u), len(self._names) - 1)]
        if self._position[name] == len(self._order[name]):  # a new epoch: a fresh order
            self._order[name] = list(range(len(self.sources[name])))
            self._shufflers[name].shuffle(self._order[name])
            self._position[name] = 0
            self.epochs_started[name] += 1
        document = self.sources[name][self._order[name][self._position[name]]]
        self._position[name] += 1
        self.documents_drawn[name] += 1
        self.tokens_drawn[name] += self.length(document)
        return name, document

    def sample(self, n: int) -> list[tuple[str, Any]]:
        """`n` draws."""
        return [self.draw() for _ in range(n)]

    def sample_tokens(self, budget: int) -> list[tuple[str, Any]]:
        """Draw until at least `budget` tokens have been drawn by this call (the last document may overshoot)."""
        drawn, total = [], 0
        while total < budget:
            name, document = self.draw()
            drawn.append((name, document))
            total += self.length(document)
        return drawn

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        while True:
            yield self.draw()

    def epochs_elapsed(self, tokens_drawn: float) -> dict[str, float]:
        """Epochs of each source that `tokens_drawn` tokens of this mixture are expected to go through."""
        return epochs_elapsed(self.weights, self.source_tokens, tokens_drawn)

    def epochs_seen(self) -> dict[str, float]:
        """Epochs of each source actually drawn so far: its tokens drawn / its size (0 for an empty source)."""
        return {name: self.tokens_drawn[name] / size if size else 0.0 for name, size in self.source_tokens.items()}


# ----------------------------------------------------------------------------
# published mixtures

@dataclass(frozen=True)
class GPT3Source:
    """One row of GPT-3's training mixture (Brown et al. 2020, table 2.2), as printed."""

    name: str
    tokens: float  # tokens in the source, printed in whole billions
    weight: float  # share of the training tokens drawn from it, printed in whole percent
    epochs: float  # epochs elapsed when training for 300B tokens, printed to two significant figures


GPT3_MIXTURE = (
    GPT3Source("Common Crawl (filtered)", 410e9, 0.60, 0.44),
    GPT3Source("WebText2", 19e9, 0.22, 2.9),
    GPT3Source("Books1", 12e9, 0.08, 1.9),
    GPT3Source("Books2", 55e9, 0.08, 0.43),
    GPT3Source("Wikipedia", 3e9, 0.03, 3.4),
)
GPT3_TRAIN_TOKENS = 300e9


def round_significant(x: float, digits: int = 2) -> float:
    """`x` rounded to `digits` significant figures, as a table prints it.

    >>> round_significant(3.4737), round_significant(0.43902)
    (3.5, 0.44)
    """
    return float(f"{x:.{digits}g}")


def printed_interval(x: float, digits: int = 2) -> tuple[float, float]:
    """The values that print as `x` with `digits` significant figures: x +- half a unit of the last one.

    >>> printed_interval(2.9)
    (2.85, 2.95)
    """
    half = 0.5 * 10 ** (math.floor(math.log10(abs(x))) - digits + 1)
    return round(x - half, 12), round(x + half, 12)


def epochs_interval(weight: float, tokens: float, total_tokens: float, weight_unit: float = 0.01,
                    tokens_unit: float = 1e9) -> tuple[float, float]:
    """The range of epochs that a weight and a size, each rounded to its unit, allow.

    The fewest epochs come from the smallest weight over the largest size, the most from the reverse.

    >>> [round(e, 2) for e in epochs_interval(0.22, 19e9, 300e9)]  # WebText2: the printed 2.9 is outside
    [3.31, 3.65]
    """
    low = (weight - weight_unit / 2) * total_tokens / (tokens + tokens_unit / 2)
    high = (weight + weight_unit / 2) * total_tokens / (tokens - tokens_unit / 2)
    return low, high


def gpt3_epochs_check(rows: Sequence[GPT3Source] = GPT3_MIXTURE,
                      total_tokens: float = GPT3_TRAIN_TOKENS) -> list[dict]:
    """Recompute GPT-3's epochs column from its weights and sizes and compare with the printed one.

    Per row: the printed epochs, the recomputed weight x 300B / tokens, the range the rounded inputs
    allow, `as_printed` (the recomputed value rounds to the printed one) and `within_rounding` (that
    range meets the values that print as the published one).

    >>> [(r["name"], r["as_printed"], r["within_rounding"]) for r in gpt3_epochs_check()][:2]
    [('Common Crawl (filtered)', True, True), ('WebText2', False, False)]
    """
    computed = epochs_elapsed({r.name: r.weight for r in rows}, {r.name: r.tokens for r in rows}, total_tokens)
    checks = []
    for r in rows:
        low, high = epochs_interval(r.weight, r.tokens, total_tokens)
        printed_low, printed_high = printed_interval(r.epochs)
        checks.append(dict(name=r.name, published=r.epochs, computed=computed[r.name], low=low, high=high,
                           as_printed=round_significant(computed[r.name]) == r.epochs,
                           within_rounding=low <= printed_high and printed_low <= high))
    return checks


@dataclass(frozen=True)
class LlamaSource:
    """One row of LLaMA's pretraining mixture (Touvron et al. 2023, table 1), as printed."""

    name: str
    proportion: float  # sampling proportion (share of the training tokens)
    epochs: float      # epochs performed on the source when training on 1.4T tokens
    disk_bytes: float  # disk size, decimal units assumed (1 GB = 1e9 bytes)


LLAMA_MIXTURE = (
    LlamaSource("CommonCrawl", 0.670, 1.10, 3.3e12),
    LlamaSource("C4", 0.150, 1.06, 783e9),
    LlamaSource("Github", 0.045, 0.64, 328e9),
    LlamaSource("Wikipedia", 0.045, 2.45, 83e9),
    LlamaSource("Books", 0.045, 2.23, 85e9),
    LlamaSource("ArXiv", 0.025, 1.06, 92e9),
    LlamaSource("StackExchange", 0.020, 1.03, 78e9),
)
LLAMA_TRAIN_TOKENS = 1.4e12  # the 33B and 65B models; the 7B and 13B saw 1.0T


def llama_implied_sizes(rows: Sequence[LlamaSource] = LLAMA_MIXTURE,
                        total_tokens: float = LLAMA_TRAIN_TOKENS) -> list[dict]:
    """What LLaMA's table implies: each source's size in tokens (proportion x 1.4T / epochs, the epochs
    formula solved for the size) and its bytes per token on disk. Derived, not published.

    >>> wiki = llama_implied_sizes()[3]
    >>> wiki["name"], round(wiki["tokens"] / 1e9, 1), round(wiki["bytes_per_token"], 2)
    ('Wikipedia', 25.7, 3.23)
    """
    return [dict(name=r.name, tokens=r.proportion * total_tokens / r.epochs,
                 bytes_per_token=r.disk_bytes * r.epochs / (r.proportion * total_tokens)) for r in rows]


PALM_MIXTURE = {  # Chowdhery et al. 2022, table 2: share of PaLM's 780B training tokens
    "social media conversations": 0.50,
    "filtered webpages": 0.27,
    "books": 0.13,
    "GitHub": 0.05,
    "Wikipedia": 0.04,
    "news": 0.01,
}
PALM_TRAIN_TOKENS = 780e9
