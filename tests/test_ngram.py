"""The n-gram models against hand-worked numbers and a slow dict-based reference written from the formulas."""

import math
from collections import Counter, defaultdict

import pytest
import torch

from minillm.bigram import BigramModel
from minillm.errors import ConfigError
from minillm.ngram import NGramModel, choose_k, count_ngrams, ladder

# ----------------------------------------------------------------------------
# the slow, obvious reference: dictionaries and recursion, straight from ngram.py's docstring


def reference_prob(ids: list[int], n: int, V: int, smoothing: str, history: list[int], w: int,
                   k: float = 0.1, discount: float = 0.5) -> float:
    history = history[len(history) - (n - 1):] if n > 1 else []
    raw = [Counter(tuple(ids[i:i + m]) for i in range(len(ids) - m + 1)) for m in range(1, n + 1)]
    if smoothing == "add-k":
        m = len(history) + 1
        c = raw[m - 1][tuple(history) + (w,)]
        c_h = sum(c for g, c in raw[m - 1].items() if g[:-1] == tuple(history))
        return (c + k) / (c_h + k * V)

    def count(g: tuple) -> int:  # the top order counts raw; lower orders count distinct left neighbours
        if len(g) == n:
            return raw[n - 1][g]
        return len({h[0] for h in raw[len(g)] if h[1:] == g})

    def kn(h: tuple, w: int) -> float:
        below = 1 / V if not h else kn(h[1:], w)  # P(w | h without its first token); uniform below unigrams
        followers = {v: count(h + (v,)) for v in range(V)}
        c_h = sum(followers.values())
        if c_h == 0:
            return below
        seen = sum(c > 0 for c in followers.values())
        return max(followers[w] - discount, 0) / c_h + discount * seen / c_h * below

    return kn(tuple(history), w)


def random_text(seed: int, length: int = 60, V: int = 4) -> list[int]:
    # few symbols and a bias, so histories repeat and some are unseen
    g = torch.Generator().manual_seed(seed)
    return torch.multinomial(torch.tensor([4.0, 2.0, 1.0, 0.5])[:V], length, replacement=True, generator=g).tolist()


# ----------------------------------------------------------------------------
# counting

def test_count_ngrams_matches_a_sliding_window():
    ids = random_text(0, 50)
    for n in (1, 2, 3):
        assert count_ngrams(ids, n) == dict(Counter(tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)))
    assert count_ngrams([1, 2], 3) == {}


def test_packed_counts_agree_with_count_ngrams():
    ids = random_text(1, 80)
    model = NGramModel.fit(ids, 3, 4, smoothing="add-k")
    top = model.levels[-1]
    assert top.counts.sum().item() == len(ids) - 2
    for gram, c in count_ngrams(ids, 3).items():
        key = (gram[0] * 4 + gram[1]) * 4 + gram[2]
        i = torch.searchsorted(top.keys, torch.tensor(key)).item()
        assert top.keys[i].item() == key and top.counts[i].item() == c


# ----------------------------------------------------------------------------
# hand-worked examples

def test_add_k_by_hand():
    # "a b a b a c": c(a b) = 2, c(a .) = 3; with k = 0.5 and V = 3: (2 + 0.5) / (3 + 1.5)
    model = NGramModel.fit([0, 1, 0, 1, 0, 2], 2, 3, smoothing="add-k", k=0.5)
    assert model.prob([0], 1) == pytest.approx(2.5 / 4.5)
    assert model.prob([0], 0) == pytest.approx(0.5 / 4.5)
    assert model.prob([2], 0) == pytest.approx(1 / 3)  # "c" is never followed by anything: uniform


def test_kneser_ney_by_hand():
    # "a b c b a b" = [0, 1, 2, 1, 0, 1], V = 3, D = 0.5 at both orders.
    # Continuation counts N(. w): a follows {b}, b follows {a, c}, c follows {b} -> 1, 2, 1 (total 4, 3 types)
    # P(w) = max(N(. w) - 0.5, 0) / 4 + 0.5 * 3/4 * 1/3  ->  P(a) = 0.25, P(b) = 0.5, P(c) = 0.25
    # After a: c(a b) = 2 only, c(a .) = 2, 1 type: P(b | a) = 1.5/2 + 0.5 * 1/2 * 0.5 = 0.875
    # After b: c(b c) = c(b a) = 1, 2 types:   P(a | b) = 0.5/2 + 0.5 * 2/2 * 0.25 = 0.375
    model = NGramModel.fit([0, 1, 2, 1, 0, 1], 2, 3, smoothing="kneser-ney", discount=0.5)
    assert model.probs([]).tolist() == pytest.approx([0.25, 0.5, 0.25])  # the lower-order distribution
    assert model.probs([0]).tolist() == pytest.approx([0.0625, 0.875, 0.0625])
    assert model.probs([1]).tolist() == pytest.approx([0.375, 0.25, 0.375])
    assert model.probs([2]).tolist() == pytest.approx([0.125, 0.75, 0.125])


def test_discounts_are_estimated_per_order():
    # bigram counts of [0, 1, 2, 1, 0, 1]: (0,1) 2, (1,2) 1, (2,1) 1, (1,0) 1 -> n1 = 3, n2 = 1 -> D = 3/5
    # continuation counts 1, 2, 1 -> n1 = 2, n2 = 1 -> D = 2/4
    model = NGramModel.fit([0, 1, 2, 1, 0, 1], 2, 3, smoothing="kneser-ney")
    assert [level.discount for level in model.levels] == pytest.approx([0.5, 0.6])


# ----------------------------------------------------------------------------
# against the reference, and properties every model must have

@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_matches_the_reference(n, smoothing):
    ids = random_text(n, 70)
    model = NGramModel.fit(ids, n, 4, smoothing=smoothing, k=0.3, discount=0.5)
    histories = [ids[10:10 + n - 1], [3] * (n - 1), [2, 3, 3][: n - 1], ids[:1][: n - 1]]  # seen, rare, unseen
    for history in histories:
        expected = [reference_prob(ids, n, 4, smoothing, history, w, k=0.3, discount=0.5) for w in range(4)]
        assert model.probs(history).tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_distribution_sums_to_one(n, smoothing):
    ids = random_text(10 + n, 200)
    model = NGramModel.fit(ids, n, 4, smoothing=smoothing)  # estimated discounts
    g = torch.Generator().manual_seed(n)
    for _ in range(10):
        history = torch.randint(4, (n - 1,), generator=g).tolist()
        p = model.probs(history)
        assert p.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all()


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
def test_loss_predicts_every_target_with_the_history_there_is(smoothing):
    ids, held_out = random_text(3, 120), random_text(4, 30)
    model = NGramModel.fit(ids, 3, 4, smoothing=smoothing, discount=0.5)
    expected = [-math.log(reference_prob(ids, 3, 4, smoothing, held_out[max(0, t - 2):t], held_out[t],
                                         discount=0.5)) for t in range(1, len(held_out))]
    assert model.token_losses(held_out).tolist() == pytest.approx(expected, rel=1e-12)
    assert model.loss(held_out) == pytest.approx(sum(expected) / len(expected))


def test_add_k_bigram_is_the_bigram_model():
    ids = torch.tensor(random_text(5, 300))
    assert NGramModel.fit(ids, 2, 4, "add-k", k=0.25).loss(ids[:50]) == pytest.approx(
        BigramModel.fit(ids, 4, alpha=0.25).loss(ids[:50]), rel=1e-12)


def test_table_size_and_unseen_fraction():
    ids = [0, 1, 2, 1, 0, 1]
    model = NGramModel.fit(ids, 2, 3, smoothing="add-k")
    assert model.table_size == 3 + 4  # 3 distinct tokens, 4 distinct pairs
    assert model.unseen_fraction([0, 1, 0]) == 0.0
    assert model.unseen_fraction([1, 2, 2, 0]) == pytest.approx(0.0)  # every single-token history was counted
    model3 = NGramModel.fit(ids, 3, 3, smoothing="kneser-ney")
    assert model3.unseen_fraction([0, 1, 2, 2, 2]) == pytest.approx(1 / 3)  # (0 1) and (1 2) were counted, (2 2) not


def test_choose_k_picks_the_best_candidate_on_the_held_out_slice():
    ids = torch.tensor(random_text(6, 400))
    candidates = (2.0, 0.5, 0.01)
    best = choose_k(ids, 3, 4, candidates=candidates, holdout=0.25)
    head = NGramModel.fit(ids[:300], 3, 4, "add-k")
    losses = {}
    for k in candidates:
        head.k = k
        losses[k] = head.loss(ids[300:])
    assert best == min(losses, key=losses.get)


def test_ladder_reports_each_order_and_smoothing():
    ids = torch.tensor(random_text(7, 500))
    rungs = ladder(ids[:400], ids[400:], 4, orders=[1, 2, 3], progress=False)
    assert [(r.n, r.smoothing) for r in rungs[:4]] == [(1, "add-k"), (1, "kneser-ney"), (2, "add-k"), (2, "kneser-ney")]
    assert rungs[2].val_loss == pytest.approx(NGramModel.fit(ids[:400], 2, 4, "add-k", k=rungs[2].k).loss(ids[400:]))
    assert rungs[3].val_loss == pytest.approx(NGramModel.fit(ids[:400], 2, 4, "kneser-ney").loss(ids[400:]))
    assert rungs[3].table_size == NGramModel.fit(ids[:400], 2, 4, "kneser-ney").table_size
    assert rungs[1].k is None and rungs[0].k == choose_k(ids[:400], 1, 4)


# ----------------------------------------------------------------------------
# bad input

def test_bad_settings_are_refused_clearly():
    with pytest.raises(ConfigError, match="n must be an integer"):
        NGramModel.fit([1, 2, 3], 0, 4)
    with pytest.raises(ConfigError, match="unknown smoothing 'laplace'"):
        NGramModel.fit([1, 2, 3], 2, 4, smoothing="laplace")
    with pytest.raises(ConfigError, match="k must be"):
        NGramModel.fit([1, 2, 3], 2, 4, smoothing="add-k", k=0)
    with pytest.raises(ConfigError, match="discount must"):
        NGramModel.fit([1, 2, 3], 2, 4, discount=1.5)
    with pytest.raises(ConfigError, match="at most 5"):
        NGramModel.fit([1, 2, 3], 6, 4096)
    with pytest.raises(ValueError, match="0..3"):
        NGramModel.fit([1, 2, 7], 2, 4)
    with pytest.raises(ValueError, match="at least 3 tokens"):
        NGramModel.fit([1, 2], 3, 4)
    model = NGramModel.fit([1, 2, 3, 1], 2, 4)
    with pytest.raises(ValueError, match=r"shape \(B, m\)"):
        model.window_probs(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        model.loss([1])
