"""The counting bigram model: the baseline every neural LM must beat.

A bigram model predicts the next token from the current one alone, with
probabilities estimated by counting:

    P(b | a) = (count(a, b) + alpha) / (count(a, .) + alpha * V)

`alpha` (add-alpha smoothing) gives pairs never seen in training a small
probability, so the loss on new text stays finite. There is nothing to train
by gradient descent: the counts are the maximum-likelihood answer (alpha = 0).
Its loss is the mark a Transformer must go below to show it uses more than
one token of context.
"""

from __future__ import annotations

import torch


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """counts[a, b] = how often token b directly follows token a in `ids`.

    >>> bigram_counts(torch.tensor([0, 1, 2, 0, 1]), 3)
    tensor([[0, 2, 0],
            [0, 0, 1],
            [1, 0, 0]])
    """
    ids = torch.as_tensor(ids).long()
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
    pair_index = ids[:-1] * vocab_size + ids[1:]  # each (a, b) pair as one number a*V + b
    return torch.bincount(pair_index, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


class BigramModel:
    """P(next | current) from smoothed counts."""

    def __init__(self, counts: torch.Tensor, alpha: float = 1.0):
        counts = counts.double() + alpha
        self.probs = counts / counts.sum(dim=1, keepdim=True)  # (V, V), rows sum to 1

    @classmethod
    def fit(cls, ids: torch.Tensor, vocab_size: int, alpha: float = 1.0) -> "BigramModel":
        return cls(bigram_counts(ids, vocab_size), alpha)

    def loss(self, ids: torch.Tensor) -> float:
        """Mean cross-entropy (nats per token) of predicting ids[1:] from ids[:-1]."""
        ids = torch.as_tensor(ids).long()
        return -self.probs[ids[:-1], ids[1:]].log().mean().item()

    def sample(self, start: int, length: int, generator: torch.Generator | None = None) -> list[int]:
        """Generate `length` tokens after `start`, each drawn from P(. | previous)."""
        out = [start]
        for _ in range(length):
            out.append(torch.multinomial(self.probs[out[-1]].float(), 1, generator=generator).item())
        return out[1:]
