"""A quality classifier as GPT-3 filtered Common Crawl: logistic regression on hashed word n-grams.

GPT-3's authors trained a logistic regression to tell their curated corpora (WebText, Wikipedia,
books) from raw Common Crawl, scored every crawl page with it, and kept a page when

    np.random.pareto(alpha=9) > 1 - score,

a stochastic rule that keeps almost every high-scoring page and still some low-scoring ones (so the
kept data does not collapse onto one style). Here the same, from scratch:

- features: the page's word 1- and 2-grams (lowercased, digits as 0), each hashed into one of `n_features` buckets
  (the "hashing trick": no vocabulary to build or store; collisions are rare at 2^18 buckets and cost
  little), weighted by log(1 + count);
- the model: one weight per bucket and a bias, score = sigmoid(w . x + b), stored as a
  `torch.nn.EmbeddingBag` with one output, so a page's sum over its few hundred buckets is one
  lookup-and-add instead of a 262,144-long dot product;
- training: minibatch AdamW on the binary cross-entropy, written out below.

Train it with reference pages as positives and crawl pages as negatives (as GPT-3 did: the crawl
contains good pages too, labelled negative; the classifier learns what the reference looks like, and
good crawl pages still score high). Score pages it was not trained on.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import ConfigError

N_FEATURES = 2**18


def hashed_ngrams(text: str, n_features: int = N_FEATURES, orders: Sequence[int] = (1, 2)) -> tuple[list[int], list[float]]:
    """A page as (bucket ids, weights): its word n-grams hashed with CRC-32 (stable across runs and
    machines, unlike Python's hash()), each bucket weighted log(1 + count). Words are lowercased and
    every digit becomes 0, so "1984.5" and "2023.7" share a feature (numbers are a style, not a word).

    >>> ids, weights = hashed_ngrams("the cat saw the cat", n_features=1024, orders=(1,))
    >>> len(ids), sorted(round(w, 3) for w in weights)
    (3, [0.693, 1.099, 1.099])
    """
    words = re.sub(r"\d", "0", text.lower()).split()
    counts: dict[int, int] = {}
    for n in orders:
        for i in range(len(words) - n + 1):
            bucket = zlib.crc32(" ".join(words[i:i + n]).encode("utf-8")) % n_features
            counts[bucket] = counts.get(bucket, 0) + 1
    return list(counts), [math.log1p(c) for c in counts.values()]


def _batch(features: Sequence[tuple[list[int], list[float]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EmbeddingBag's flat form: all bucket ids, their weights, and where each page starts."""
    ids = torch.tensor([i for f in features for i in f[0]], dtype=torch.long)
    weights = torch.tensor([w for f in features for w in f[1]], dtype=torch.float32)
    offsets = torch.tensor(np.cumsum([0] + [len(f[0]) for f in features[:-1]]), dtype=torch.long)
    return ids, weights, offsets


class QualityClassifier(nn.Module):
    """P(reference quality | page) = sigmoid(w . x + b) over hashed word n-grams."""

    def __init__(self, n_features: int = N_FEATURES, orders: Sequence[int] = (1, 2)):
        super().__init__()
        self.n_features, self.orders = n_features, tuple(orders)
        self.weights = nn.EmbeddingBag(n_features, 1, mode="sum")  # w: one number per bucket
        nn.init.zeros_(self.weights.weight)
        self.bias = nn.Parameter(torch.zeros(1))

    def featurize(self, texts: Sequence[str]) -> list[tuple[list[int], list[float]]]:
        return [hashed_ngrams(t, self.n_features, self.orders) for t in texts]

    def logits(self, features: Sequence[tuple[list[int], list[float]]]) -> torch.Tensor:
        ids, weights, offsets = _batch(features)
        return self.weights(ids, offsets, per_sample_weights=weights).squeeze(1) + self.bias  # (pages,)

    def fit(self, good: Sequence[str], raw: Sequence[str], epochs: int = 4, batch_size: int = 32,
            learning_rate: float = 0.05, weight_decay: float = 1e-4, seed: int = 0, progress: bool = True) -> list[float]:
        """Train on `good` (label 1) and `raw` (label 0) pages; returns the loss of every step.

        The two classes are weighted to count equally, whatever their sizes.
        """
        if not good or not raw:
            raise ConfigError(f"need pages of both classes, got {len(good)} good and {len(raw)} raw")
        features = self.featurize(list(good) + list(raw))
        labels = torch.cat([torch.ones(len(good)), torch.zeros(len(raw))])
        class_weight = torch.where(labels == 1, len(labels) / (2 * len(good)), len(labels) / (2 * len(raw)))
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(self.parameters(), lr=learning_rate, weight_decay=weight_decay)
        losses = []
        steps = epochs * math.ceil(len(labels) / batch_size)
        bar = tqdm(total=steps, desc="quality classifier", unit="step", disable=not progress)
        for _ in range(epochs):
            for batch in torch.randperm(len(labels), generator=generator).split(batch_size):
                logits = self.logits([features[i] for i in batch.tolist()])
                # binary cross-entropy, -[y log s + (1 - y) log(1 - s)], weighted per class
                loss = (F.binary_cross_entropy_with_logits(logits, labels[batch], reduction="none")
                        * class_weight[batch]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                bar.update()
        bar.close()
        return losses

    @torch.no_grad()
    def score(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """P(reference quality) of each page, in (0, 1)."""
        features = self.featurize(texts)
        return np.concatenate([torch.sigmoid(self.logits(features[i:i + batch_size])).numpy()
                               for i in range(0, len(features), batch_size)]) if features else np.zeros(0)


def pareto_keep(scores: np.ndarray, alpha: float = 9.0, seed: int = 0) -> np.ndarray:
    """GPT-3's keep rule: keep a page when a Pareto(alpha) draw exceeds 1 - score (bool per page).

    numpy's pareto is the Lomax distribution (Pareto minus 1), as in GPT-3's np.random.pareto.
    """
    draws = np.random.default_rng(seed).pareto(alpha, size=len(scores))
    return draws > 1 - np.asarray(scores)


@dataclass
class PrecisionRecall:
    thresholds: np.ndarray   # keep pages scoring at least this
    precision: np.ndarray    # of the kept pages, the fraction good
    recall: np.ndarray       # of the good pages, the fraction kept


def precision_recall(scores: np.ndarray, good: np.ndarray) -> PrecisionRecall:
    """Precision and recall of "keep when score >= t" at every distinct score t, highest first."""
    scores, good = np.asarray(scores, dtype=float), np.asarray(good, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    kept_good = np.cumsum(good[order])
    kept = np.arange(1, len(scores) + 1)
    last_of_each = np.r_[scores[order][1:] != scores[order][:-1], True]  # ties: all or none
    return PrecisionRecall(scores[order][last_of_each], (kept_good / kept)[last_of_each],
                           (kept_good / max(1, good.sum()))[last_of_each])
