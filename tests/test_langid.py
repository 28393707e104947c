"""Language identification (minillm.curation.langid): the naive Bayes arithmetic, held-out accuracy,
and agreement with langdetect."""

import math
from collections import Counter

import pytest

pytest.importorskip("faker")

from minillm.curation.langid import LOCALES, NaiveBayesLangID, accuracy, char_ngrams, training_texts  # noqa: E402
from minillm.errors import ConfigError  # noqa: E402


def test_scores_follow_the_naive_bayes_formula():
    texts = {"a": ["ab ab", "ba"], "b": ["cc"]}
    model = NaiveBayesLangID(orders=(1,), alpha=0.5).fit(texts)
    counts = {"a": Counter("abab" + "ba"), "b": Counter("cc")}  # unigrams (the padding spaces too)
    counts["a"][" "] += 6
    counts["b"][" "] += 2
    vocab = set(counts["a"]) | set(counts["b"])
    for lang in texts:
        total = sum(counts[lang].values())
        log_p = lambda g: math.log(counts[lang][g] + 0.5) - math.log(total + 0.5 * (len(vocab) + 1))  # noqa: E731
        expected = math.log(len(texts[lang]) / 3) + sum(n * log_p(g) for g, n in char_ngrams("abc", (1,)).items())
        assert model.scores("abc")[lang] == pytest.approx(expected)
    assert model.predict("abba") == "a" and model.predict("cccc") == "b"


def test_held_out_pages_of_every_language_are_recognised():
    model = NaiveBayesLangID().fit(training_texts(seed=1))
    held_out = training_texts(pages_per_language=15, seed=2)  # other faker seeds: other sentences
    texts = [t for lang in held_out for t in held_out[lang]]
    labels = [lang for lang in held_out for _ in held_out[lang]]
    acc, pairs = accuracy(model, texts, labels)
    assert acc >= 0.97, sorted((k, n) for k, n in pairs.items() if k[0] != k[1])
    assert {true for true, _ in pairs} == set(LOCALES)


def test_agrees_with_langdetect_on_real_pages():
    langdetect = pytest.importorskip("langdetect")
    from minillm.data import shakespeare_works

    langdetect.DetectorFactory.seed = 0  # langdetect samples n-grams at random: seed it
    model = NaiveBayesLangID().fit(training_texts())
    pages = [text[i:i + 2000] for text in list(shakespeare_works().values())[:5] for i in (5000, 20000)]
    pages += [p for lang in ("de", "fr", "es", "it", "nl", "pl") for p in training_texts(3, seed=9)[lang]]
    agree = sum(langdetect.detect(p) == model.predict(p) for p in pages)
    assert agree / len(pages) >= 0.9


def test_bad_settings_and_untrained_use_say_what_to_do():
    with pytest.raises(ConfigError, match="alpha"):
        NaiveBayesLangID(alpha=0)
    with pytest.raises(ConfigError, match="call fit"):
        NaiveBayesLangID().predict("hello")
    with pytest.raises(ConfigError, match="training text with letters"):
        NaiveBayesLangID().fit({"en": ["123 456"]})


def test_char_ngrams_counts_every_order_of_each_padded_word():
    assert char_ngrams("Ab, 42 b") == Counter({" ": 4, "a": 1, "b": 2, " a": 1, "ab": 1, "b ": 2, " b": 1,
                                               " ab": 1, "ab ": 1, " b ": 1})
