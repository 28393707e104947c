"""The GPT-3-style quality classifier (minillm.curation.classifier): the sparse model against a dense
computation, learning a separable task, GPT-3's Pareto keep rule, and the precision/recall curve."""

import numpy as np
import pytest
import torch

from minillm.curation.classifier import QualityClassifier, hashed_ngrams, pareto_keep, precision_recall
from minillm.errors import ConfigError


def test_hashed_features_are_stable_and_fold_digits():
    ids, weights = hashed_ngrams("Call 555-1234 or 555-9876", n_features=2**10)
    again = hashed_ngrams("call 555-1234 OR 555-9876", n_features=2**10)
    assert (ids, weights) == again                         # lowercased
    assert hashed_ngrams("in 1984", 2**10) == hashed_ngrams("in 2023", 2**10)  # digits fold to 0
    assert all(0 <= i < 2**10 for i in ids) and len(set(ids)) == len(ids)


def test_sparse_logits_equal_the_dense_dot_product():
    torch.manual_seed(0)
    model = QualityClassifier(n_features=64)
    torch.nn.init.normal_(model.weights.weight)
    model.bias.data.fill_(0.3)
    texts = ["the cat sat on the mat", "a dog", "the the the"]
    features = model.featurize(texts)
    dense = np.zeros((3, 64))
    for row, (ids, weights) in enumerate(features):
        dense[row, ids] = weights
    expected = dense @ model.weights.weight.detach().numpy()[:, 0] + 0.3
    np.testing.assert_allclose(model.logits(features).detach().numpy(), expected, rtol=1e-5)


def test_learns_to_separate_reference_from_raw_pages():
    rng = np.random.default_rng(0)
    good_words, raw_words, shared = ["thou", "art", "lord", "sweet"], ["buy", "cheap", "click", "deal"], ["the", "a"]
    page = lambda words: " ".join(rng.choice(words + shared, size=40))  # noqa: E731
    good, raw = [page(good_words) for _ in range(60)], [page(raw_words) for _ in range(60)]
    model = QualityClassifier(n_features=2**12)
    losses = model.fit(good, raw, epochs=5, progress=False)
    assert losses[-1] < 0.2 * losses[0]
    scores = model.score([page(good_words) for _ in range(20)] + [page(raw_words) for _ in range(20)])
    assert (scores[:20] > 0.9).all() and (scores[20:] < 0.1).all()
    with pytest.raises(ConfigError, match="both classes"):
        model.fit(good, [], progress=False)


def test_pareto_keep_rate_matches_the_lomax_survival_function():
    """numpy's pareto(a) is Lomax: P(draw > x) = (1 + x)^-a, so a page of score s is kept with (2 - s)^-9."""
    for s in (0.5, 0.9, 0.99):
        kept = pareto_keep(np.full(200_000, s), alpha=9, seed=1).mean()
        assert kept == pytest.approx((2 - s) ** -9, abs=0.005)
    assert pareto_keep(np.ones(1000)).all()  # score 1: always kept


def test_precision_recall_equals_a_loop_over_thresholds():
    rng = np.random.default_rng(2)
    scores = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=50)
    good = rng.random(50) < scores
    curve = precision_recall(scores, good)
    for t, p, r in zip(curve.thresholds, curve.precision, curve.recall):
        kept = scores >= t
        assert p == pytest.approx(good[kept].mean()) and r == pytest.approx(kept[good].mean())
    assert list(curve.thresholds) == [0.9, 0.7, 0.5, 0.3, 0.1]
