import math

import pytest
import torch
import torch.nn.functional as F

from minillm.bigram import BigramModel, bigram_counts
from minillm.evaluate import dataset_loss, perplexity
from minillm.model import GPT


def _per_window_reference(model, data):
    """Every target once, window by window, written out the slow way: a sum of -log P over positions."""
    T = model.config.block_size
    total, count = 0.0, 0
    for start in range(0, len(data) - 1, T):
        window = data[start: start + T + 1]
        logits, _ = model(window[:-1][None])
        total += F.cross_entropy(logits[0], window[1:], reduction="sum").item()
        count += len(window) - 1
    assert count == len(data) - 1
    return total / count


@pytest.mark.parametrize("n", [2, 9, 17, 30, 41])  # with T=8: one short window, exact windows, remainders
def test_dataset_loss_predicts_every_token_once(n, tiny_config):
    model = GPT(tiny_config).eval()
    data = torch.randint(0, tiny_config.vocab_size, (n,))
    with torch.no_grad():
        expected = _per_window_reference(model, data)
    assert dataset_loss(model, data, batch_size=2) == pytest.approx(expected, rel=1e-6)


def test_dataset_loss_counts_the_last_tokens(tiny_config):
    model = GPT(tiny_config).eval()
    data = torch.randint(0, tiny_config.vocab_size, (30,))  # (30 - 1) % 8 = 5 tokens after the whole windows
    changed = data.clone()
    changed[-1] = (changed[-1] + 1) % tiny_config.vocab_size
    assert dataset_loss(model, data) != dataset_loss(model, changed)


def test_dataset_loss_keeps_the_mode_and_rejects_bad_data(tiny_config):
    model = GPT(tiny_config).train()
    dataset_loss(model, torch.arange(10) % 11)
    assert model.training
    with pytest.raises(ValueError, match="at least 2 token ids"):
        dataset_loss(model, torch.tensor([1]))


def test_perplexity():
    assert perplexity(math.log(65)) == pytest.approx(65)
    assert perplexity(0.0) == 1.0


def test_bigram_counts_match_a_python_loop():
    ids = torch.randint(0, 6, (200,))
    counts = torch.zeros(6, 6, dtype=torch.long)
    for a, b in zip(ids.tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    assert torch.equal(bigram_counts(ids, 6), counts)


def test_bigram_probabilities_loss_and_smoothing():
    ids = torch.tensor([0, 1, 0, 1, 0, 2])
    model = BigramModel.fit(ids, 3, alpha=1.0)
    # after 0: 1 twice and 2 once, plus one of each from smoothing -> (1, 3, 2) / 6
    torch.testing.assert_close(model.probs[0], torch.tensor([1 / 6, 3 / 6, 2 / 6], dtype=torch.float64))
    expected = -sum(math.log(model.probs[a, b].item()) for a, b in zip([1, 0, 2], [0, 2, 1])) / 3
    assert model.loss(torch.tensor([1, 0, 2, 1])) == pytest.approx(expected)
    assert BigramModel.fit(ids, 3, alpha=0.0).loss(torch.tensor([1, 1])) == math.inf  # never seen, no smoothing


def test_bigram_sampling_follows_the_table():
    cycle = BigramModel.fit(torch.tensor([0, 1, 2] * 10), 3, alpha=0.0)  # 0 -> 1 -> 2 -> 0, always
    assert cycle.sample(0, 7) == [1, 2, 0, 1, 2, 0, 1]
    model = BigramModel.fit(torch.randint(0, 5, (500,)), 5)
    g = torch.Generator().manual_seed(0)
    a = model.sample(3, 50, generator=g)
    assert a == model.sample(3, 50, generator=torch.Generator().manual_seed(0)) and set(a) <= set(range(5))
