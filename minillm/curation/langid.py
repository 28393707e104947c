"""Language identification from scratch: a naive Bayes classifier over character n-grams.

Languages differ most visibly in their short letter sequences: "th" and "the" in English, "sch" and
"ei" in German, "ou" and "qu" in French, "ij" in Dutch, "cz" and "sz" in Polish. The classifier counts
character 1- to 3-grams (of the lowercased text, words padded with spaces) per language, and scores a
page by

    log P(lang) + sum over the page's n-grams g of count(g) * log P(g | lang),

with add-alpha smoothing, P(g | lang) = (count(g, lang) + alpha) / (total(lang) + alpha * V). This is the
"naive" assumption: n-grams treated as independent draws, which they are not, yet the ranking of
languages is what matters and it is usually right for a page of text (less so for a line).

`training_texts` makes its training data with faker's word lists per locale (no download), so the
languages it knows are those of the crawl: en, de, fr, es, it, nl, pl, and la (lorem ipsum).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

from ..errors import ConfigError

LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "nl": "nl_NL",
           "pl": "pl_PL", "la": "la"}


def char_ngrams(text: str, orders: Sequence[int] = (1, 2, 3)) -> Counter:
    """Counts of the character n-grams of each word, padded with a space on each side.

    >>> sorted(char_ngrams("Ab", orders=(2,)).items())
    [(' a', 1), ('ab', 1), ('b ', 1)]
    """
    counts: Counter = Counter()
    for word in text.lower().split():
        word = f" {''.join(c for c in word if c.isalpha())} "
        if len(word) == 2:  # no letters at all: numbers, symbols
            continue
        for n in orders:
            counts.update(word[i:i + n] for i in range(len(word) - n + 1))
    return counts


def training_texts(pages_per_language: int = 40, seed: int = 1) -> dict[str, list[str]]:
    """{language: [text, ...]}: paragraphs of faker's word lists per locale (sentences of real words)."""
    from faker import Faker

    texts = {}
    for i, (lang, locale) in enumerate(LOCALES.items()):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + i)
        texts[lang] = [fake.paragraph(nb_sentences=8) for _ in range(pages_per_language)]
    return texts


class NaiveBayesLangID:
    """fit(texts per language) then predict(text) -> language code; scores(text) -> log-probabilities."""

    def __init__(self, orders: Sequence[int] = (1, 2, 3), alpha: float = 0.5):
        if alpha <= 0:
            raise ConfigError(f"alpha (add-alpha smoothing) must be positive, got {alpha}")
        self.orders, self.alpha = tuple(orders), alpha
        self.log_prob: dict[str, dict[str, float]] = {}  # lang -> n-gram -> log P(g | lang)
        self.unseen: dict[str, float] = {}                # lang -> log P of an n-gram it never saw
        self.log_prior: dict[str, float] = {}

    def fit(self, texts: dict[str, Sequence[str]]) -> "NaiveBayesLangID":
        counts = {lang: sum((char_ngrams(t, self.orders) for t in docs), Counter()) for lang, docs in texts.items()}
        if not counts or any(not c for c in counts.values()):
            raise ConfigError("every language needs training text with letters in it")
        vocab = set().union(*counts.values())
        n_docs = sum(len(docs) for docs in texts.values())
        for lang, c in counts.items():
            denominator = math.log(sum(c.values()) + self.alpha * (len(vocab) + 1))  # + 1: room for unseen n-grams
            self.log_prob[lang] = {g: math.log(n + self.alpha) - denominator for g, n in c.items()}
            self.unseen[lang] = math.log(self.alpha) - denominator
            self.log_prior[lang] = math.log(len(texts[lang]) / n_docs)
        return self

    def scores(self, text: str) -> dict[str, float]:
        """log P(lang) + log P(text's n-grams | lang), for every language (unnormalised)."""
        if not self.log_prob:
            raise ConfigError("the classifier is not trained: call fit(texts) first")
        grams = char_ngrams(text, self.orders)
        return {lang: self.log_prior[lang] + sum(n * table.get(g, self.unseen[lang]) for g, n in grams.items())
                for lang, table in self.log_prob.items()}

    def predict(self, text: str) -> str:
        scores = self.scores(text)
        return max(scores, key=scores.get)


def accuracy(model: NaiveBayesLangID, texts: Sequence[str], labels: Sequence[str]) -> tuple[float, Counter]:
    """(fraction predicted right, Counter of (true, predicted) pairs for the confusion table)."""
    pairs = Counter((label, model.predict(text)) for text, label in zip(texts, labels))
    right = sum(n for (true, guess), n in pairs.items() if true == guess)
    return right / max(1, len(texts)), pairs
