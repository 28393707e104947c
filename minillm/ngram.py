"""Counting n-gram models: the strongest simple baseline for a small language model.

An n-gram model predicts the next token from the n - 1 tokens before it (its
*history* h), with probabilities estimated by counting how often each n-gram
occurs in the training text. The bigram model (`minillm.bigram`) is n = 2.
Longer histories predict better until most histories of the held-out text
were never seen in training: then the counts say nothing, and everything
rests on the smoothing. Two smoothings, both from scratch:

Add-k (Laplace's add-one with a smaller k):

    P(w | h) = (c(h w) + k) / (c(h) + k V)

where c(h w) counts the n-gram and c(h) = sum over w of c(h w) counts the
history followed by any token. Every unseen n-gram gets the same k / (c(h) + k V),
so a history never seen in training (c(h) = 0) predicts uniformly.

Interpolated Kneser-Ney (Chen & Goodman, 1998), the classic best smoothing:

    P(w | h) = max(c(h w) - D, 0) / c(h)  +  D N(h .) / c(h) * P(w | h')

where h' is h without its first token, D is a discount subtracted from every
seen count, and N(h .) is the number of distinct tokens seen after h: the
mass taken from the seen counts is exactly the weight given to the shorter
history. If h was never seen, P(w | h) = P(w | h'). Two ideas make it work:
(1) the lower orders count *continuations*, N(. h' w) = the number of distinct
tokens seen before h' w, instead of raw counts: P(w | h') is only consulted
when the longer history is rare, so it should reward tokens that follow many
different contexts; (2) the shortest level, P(w), is itself interpolated with
the uniform 1 / V, so no token ever gets probability 0. One discount per
order, D = n1 / (n1 + 2 n2), from the numbers n1 and n2 of n-grams counted
exactly once and twice at that order.

Implementation: each n-gram is packed into one integer, the digits of its ids
in base V (V ** n must fit in 64 bits), so counting is `torch.unique` and
looking up is `torch.searchsorted` on sorted keys: a 6-gram model of 4.6 M
characters fits and scores in seconds. `count_ngrams` is the plain-dict view
for small inputs.

Simplifications: no sentence or document boundaries (the text is one long
stream); at the start of a text, where fewer than n - 1 tokens precede a
target, the model uses the shorter history there is (for Kneser-Ney, the
lower-order distribution it would back off to).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .errors import ConfigError

SMOOTHINGS = ("add-k", "kneser-ney")
K_CANDIDATES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)  # add-k's k is chosen among these


def count_ngrams(ids: Sequence[int] | torch.Tensor, n: int) -> dict[tuple[int, ...], int]:
    """How often each run of n consecutive ids occurs.

    >>> count_ngrams([1, 2, 1, 2, 1], 2)
    {(1, 2): 2, (2, 1): 2}
    """
    ids = _check_ids(ids)
    if len(ids) < n:
        return {}
    grams, counts = torch.unique(ids.unfold(0, n, 1), dim=0, return_counts=True)  # (G, n), (G,)
    return {tuple(g): c for g, c in zip(grams.tolist(), counts.tolist())}


@dataclass
class _Level:
    """The counts of one order m: m-grams as sorted packed keys, and their histories' totals."""

    keys: torch.Tensor          # (G,) sorted packed m-grams seen in training
    counts: torch.Tensor        # (G,) their counts (raw, or continuation counts below the top order)
    history_keys: torch.Tensor  # (H,) sorted packed (m-1)-token histories: keys // V
    history_total: torch.Tensor  # (H,) c(h): sum of the counts of the m-grams starting with h
    history_types: torch.Tensor  # (H,) N(h .): how many distinct tokens follow h
    discount: float             # Kneser-Ney's D for this order


class NGramModel:
    """P(next token | the n - 1 tokens before it), from smoothed counts.

    >>> model = NGramModel.fit(torch.tensor([0, 1, 0, 1, 0, 2]), n=2, vocab_size=3, smoothing="add-k", k=1.0)
    >>> model.prob([0], 1)  # (c(0 1) + 1) / (c(0) + 3) = (2 + 1) / (3 + 3)
    0.5
    """

    def __init__(self, levels: list[_Level], n: int, vocab_size: int, smoothing: str, k: float):
        self.levels, self.n, self.vocab_size, self.smoothing = levels, n, vocab_size, smoothing
        self.k = k  # add-k's k; may be changed after fitting (see `choose_k`)

    @classmethod
    def fit(cls, ids: Sequence[int] | torch.Tensor, n: int, vocab_size: int, smoothing: str = "kneser-ney",
            k: float = 0.1, discount: float | None = None) -> "NGramModel":
        """Count every m-gram of `ids`, m = 1..n, for the given smoothing ("add-k" or "kneser-ney").

        `discount` fixes Kneser-Ney's D at every order (e.g. 0.75); None estimates one per order.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"n must be an integer >= 1 (1 = unigram, 2 = bigram, ...), got {n!r}")
        if smoothing not in SMOOTHINGS:
            raise ConfigError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")
        if not (isinstance(k, (int, float)) and k > 0 and math.isfinite(k)):
            raise ConfigError(f"k must be a finite number > 0 (add-k with k = 0 gives unseen text probability 0), "
                              f"got {k!r}")
        if discount is not None and not 0 < discount < 1:
            raise ConfigError(f"discount must lie strictly between 0 and 1 (or be None to estimate it), got {discount!r}")
        if vocab_size ** n >= 2 ** 63:
            raise ConfigError(f"n = {n} is too long for a vocabulary of {vocab_size:,}: n-grams are packed into "
                              f"64-bit integers, so n can be at most {int(63 / math.log2(vocab_size))}")
        ids = _check_ids(ids, vocab_size)
        if len(ids) < n:
            raise ValueError(f"a {n}-gram model needs a training text of at least {n} tokens, got {len(ids)}")
        raw = [torch.unique(grams, return_counts=True) for grams in _packed_windows(ids, n, vocab_size)]
        levels = []
        for m in range(1, n + 1):
            keys, counts = raw[m - 1]  # sorted distinct m-grams and how often each occurs
            if smoothing == "kneser-ney" and m < n:
                # continuation counts: N(. g) = how many distinct tokens precede g = the number of
                # distinct (m+1)-grams ending in g (an (m+1)-gram minus its first digit)
                keys, counts = torch.unique(raw[m][0] % vocab_size ** m, return_counts=True)
            levels.append(_level(keys, counts, vocab_size, discount))
        return cls(levels, n, vocab_size, smoothing, k)

    # ------------------------------------------------------------------------
    # probabilities

    def window_probs(self, windows: torch.Tensor) -> torch.Tensor:
        """P(last id of each row | the ids before it) for windows (B, m), 1 <= m <= n -> (B,) float64."""
        windows = torch.as_tensor(windows).long()
        if windows.ndim != 2 or not 1 <= windows.size(1) <= self.n:
            raise ValueError(f"windows must have shape (B, m) with 1 <= m <= n = {self.n} (a history of m - 1 ids "
                             f"and the target), got {tuple(windows.shape)}")
        V, m = self.vocab_size, windows.size(1)
        if self.smoothing == "add-k":
            level = self.levels[m - 1]
            key = _pack(windows, V)
            c, total = _lookup(level.keys, level.counts, key), _lookup(level.history_keys, level.history_total, key // V)
            return (c + self.k) / (total + self.k * V)
        p = torch.full((len(windows),), 1.0 / V, dtype=torch.float64)  # the uniform floor
        for j in range(1, m + 1):  # from the target alone up to the whole window
            level = self.levels[j - 1]
            key = _pack(windows[:, m - j:], V)  # the j-gram ending at the target
            c = _lookup(level.keys, level.counts, key)
            total = _lookup(level.history_keys, level.history_total, key // V)
            types = _lookup(level.history_keys, level.history_types, key // V)
            D = level.discount
            seen = total > 0
            safe = total.clamp(min=1)
            interpolated = (c - D).clamp(min=0) / safe + D * types / safe * p
            p = torch.where(seen, interpolated, p)  # an unseen history hands over to the shorter one
        return p

    def prob(self, history: Sequence[int], token: int) -> float:
        """P(token | history); only the last n - 1 ids of the history count."""
        return self.window_probs(torch.tensor([self._recent(history) + [token]])).item()

    def probs(self, history: Sequence[int]) -> torch.Tensor:
        """The whole next-token distribution after `history`, (V,) float64 summing to 1."""
        history, V = self._recent(history), self.vocab_size
        windows = torch.cat([torch.tensor(history, dtype=torch.long).expand(V, len(history)),
                             torch.arange(V)[:, None]], dim=1)
        return self.window_probs(windows)

    def _recent(self, history: Sequence[int]) -> list[int]:
        """The last n - 1 ids of `history`: all the model looks at."""
        history = list(history)
        return history[max(0, len(history) - (self.n - 1)):]

    def token_losses(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """-log P(ids[t] | up to n - 1 ids before it) for t = 1..N-1 -> (N - 1,) float64."""
        ids = _check_ids(ids, self.vocab_size)
        if len(ids) < 2:
            raise ValueError(f"need at least 2 token ids to predict one, got {len(ids)}")
        n = min(self.n, len(ids))
        starts = [self.window_probs(ids[: t + 1][None]) for t in range(1, n - 1)]  # short histories at the start
        rest = self.window_probs(ids.unfold(0, n, 1))  # every full window, targets n-1..N-1
        return -torch.cat(starts + [rest]).log()

    def loss(self, ids: Sequence[int] | torch.Tensor) -> float:
        """Mean cross-entropy in nats per token over every target ids[1:], like `evaluate.dataset_loss`."""
        return self.token_losses(ids).mean().item()

    # ------------------------------------------------------------------------
    # what the model stores and how much of new text it has seen

    @property
    def table_size(self) -> int:
        """How many counts the model stores: the distinct m-grams of every order m = 1..n."""
        return sum(len(level.keys) for level in self.levels)

    def unseen_fraction(self, ids: Sequence[int] | torch.Tensor) -> float:
        """The fraction of targets in `ids` whose full (n - 1)-token history never occurred in training."""
        ids = _check_ids(ids, self.vocab_size)
        if self.n == 1:
            return 0.0
        top = self.levels[-1]  # the top order keeps raw counts under both smoothings
        histories = _pack(ids.unfold(0, self.n, 1), self.vocab_size) // self.vocab_size
        return (_lookup(top.history_keys, top.history_total, histories) == 0).double().mean().item()

    def __repr__(self) -> str:
        detail = f"k={self.k:g}" if self.smoothing == "add-k" else "D=" + "/".join(f"{l.discount:.2f}" for l in self.levels)
        return (f"NGramModel(n={self.n}, V={self.vocab_size}, {self.smoothing}, {detail}, "
                f"{self.table_size:,} counts)")


def choose_k(train_ids: torch.Tensor, n: int, vocab_size: int,
             candidates: Sequence[float] = K_CANDIDATES, holdout: float = 0.1) -> float:
    """The add-k `k` with the lowest loss on the last `holdout` of the training text, counted on the rest.

    The validation text is never used to choose k, so its loss stays an honest estimate.
    """
    return _best_ks(train_ids, [n], vocab_size, candidates, holdout)[n]


def _best_ks(train_ids, orders, vocab_size, candidates=K_CANDIDATES, holdout=0.1) -> dict[int, float]:
    train_ids = _check_ids(train_ids, vocab_size)
    cut = int(len(train_ids) * (1 - holdout))
    counted = NGramModel.fit(train_ids[:cut], max(orders), vocab_size, smoothing="add-k")
    best = {}
    for n in orders:
        model = NGramModel(counted.levels[:n], n, vocab_size, "add-k", k=1.0)
        losses = {}
        for k in candidates:
            model.k = k
            losses[k] = model.loss(train_ids[cut:])
        best[n] = min(losses, key=losses.get)
    return best


@dataclass(frozen=True)
class Rung:
    """One n-gram model of the ladder, scored on held-out text."""

    n: int
    smoothing: str
    val_loss: float        # nats per token on every target of the held-out text
    table_size: int        # counts stored (distinct m-grams, m = 1..n)
    unseen: float          # fraction of held-out targets whose (n - 1)-token history was never counted
    k: float | None        # add-k's k, chosen on a slice of the training text; None for Kneser-Ney


def ladder(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, orders: Sequence[int] = range(1, 7),
           smoothings: Sequence[str] = SMOOTHINGS, progress: bool = True) -> list[Rung]:
    """Fit and score an n-gram model for every order and smoothing: validation loss against n."""
    orders = list(orders)
    top = max(orders)
    bar = tqdm(total=len(orders) * len(smoothings) + 1, desc="n-gram ladder", disable=not progress)
    # Counted once at the longest order: a shorter model's tables are the first levels of a longer one
    # (for Kneser-Ney, the lower levels' continuation counts plus the raw counts of its own top order).
    raw = NGramModel.fit(train_ids, top, vocab_size, smoothing="add-k")
    kn = NGramModel.fit(train_ids, top, vocab_size, smoothing="kneser-ney") if "kneser-ney" in smoothings else None
    ks = _best_ks(train_ids, orders, vocab_size) if "add-k" in smoothings else {}
    bar.update()
    rungs = []
    for n in orders:
        for smoothing in smoothings:
            if smoothing == "add-k":
                model = NGramModel(raw.levels[:n], n, vocab_size, "add-k", ks[n])
            else:
                model = NGramModel(kn.levels[:n - 1] + raw.levels[n - 1: n], n, vocab_size, "kneser-ney", raw.k)
            rungs.append(Rung(n, smoothing, model.loss(val_ids), model.table_size, model.unseen_fraction(val_ids),
                              ks.get(n) if smoothing == "add-k" else None))
            bar.update()
    bar.close()
    return rungs


# ----------------------------------------------------------------------------
# packed keys

def _check_ids(ids, vocab_size: int | None = None) -> torch.Tensor:
    ids = torch.as_tensor(ids).long()
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
    if vocab_size is not None and len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}, got ids from {ids.min()} to {ids.max()}")
    return ids


def _pack(windows: torch.Tensor, V: int) -> torch.Tensor:
    """Rows of ids (B, m) -> (B,) integers with the ids as base-V digits, the last id lowest.

    >>> _pack(torch.tensor([[1, 2, 3]]), 10)
    tensor([123])
    """
    key = torch.zeros(len(windows), dtype=torch.long)
    for j in range(windows.size(1)):
        key = key * V + windows[:, j]
    return key


def _packed_windows(ids: torch.Tensor, n: int, V: int) -> list[torch.Tensor]:
    """[every 1-gram, every 2-gram, ..., every n-gram] of ids, packed; the m-grams start at 0..N-m."""
    grams = [ids.clone()]
    for m in range(2, n + 1):
        grams.append(grams[-1][:-1] * V + ids[m - 1:])  # extend each (m-1)-gram by the id after it
    return grams


def _level(keys: torch.Tensor, counts: torch.Tensor, V: int, discount: float | None) -> _Level:
    """One order's table: its sorted keys and counts, and per history c(h), N(h .) and the discount."""
    history_keys, inverse = torch.unique_consecutive(keys // V, return_inverse=True)  # keys sorted -> histories too
    total = torch.zeros(len(history_keys), dtype=torch.float64).index_add_(0, inverse, counts.double())
    types = torch.bincount(inverse, minlength=len(history_keys)).double()
    if discount is None:
        n1, n2 = (counts == 1).sum().item(), (counts == 2).sum().item()
        discount = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5  # Chen & Goodman's estimate; D = 0 would give 0s
    return _Level(keys, counts.double(), history_keys, total, types, discount)


def _lookup(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """values[i] where keys[i] == query, else 0; keys sorted. (B,) float64."""
    if len(keys) == 0:
        return torch.zeros(len(query), dtype=torch.float64)
    i = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    return torch.where(keys[i] == query, values[i], torch.zeros((), dtype=values.dtype)).double()
