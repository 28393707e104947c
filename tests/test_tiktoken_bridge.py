import base64

import pytest
from hypothesis import given, settings, strategies as st

from minillm.bpe import ENDOFTEXT, GPT2_PATTERN, BPETokenizer
from minillm.errors import DataError, TokenizerError
from minillm.tiktoken_bridge import (from_tiktoken, from_tiktoken_ranks, gpt2_encoding, gpt2_ranks,
                                     gpt2_tokenizer, parse_tiktoken_file, to_tiktoken)

CORPUS = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
          "The slings and arrows of outrageous fortune,\n\n  Or to take arms against a sea of troubles\n"
          "1599 1600 1601 -- café über 日本 🎭\n") * 4

VARIED = [
    "Hello world! It's a beautiful day, isn't it? We'll see; they've gone, I'm here, you'd know.",
    "Numbers: 3.14159, 1,000,000, 42nd, 2024-06-01, 0x1F, 1e-9, $19.99 and 100%.",
    "Whitespace:  two   three    four\t\ttabs\n\n\nnewlines   \n  trailing   ",
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)  # slow\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }  // C\n<div class=\"x\">&amp;</div>",
    "Français: ça coûte très cher. Deutsch: Straße, über. Español: ¿qué tal?",
    "Русский текст. Ελληνικά. العربية. עברית. हिन्दी.",
    "日本語の文章です。中文句子。한국어 문장.",
    "Emoji: 🙂🎭👨\u200d👩\u200d👧 👍🏽 ❤\ufe0f flags 🇫🇷",
    "Combining: e\u0301 a\u0308 n\u0303; controls \x00\x07\x1b[31m; odd spaces \u00a0\u2003\u3000.",
]


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(CORPUS, vocab_size=360, special_tokens=[ENDOFTEXT, "<|pad|>"])


@pytest.fixture(scope="module")
def gpt2():
    try:
        return gpt2_tokenizer(), gpt2_encoding()
    except DataError as e:
        pytest.skip(f"GPT-2's vocabulary could not be obtained (no tiktoken download, no pip access to "
                    f"openai-whisper): {e}")


def test_export_matches_minillm(tok):
    enc = to_tiktoken(tok)
    assert enc.n_vocab == tok.vocab_size
    for text in [CORPUS, *VARIED]:
        assert enc.encode(text) == tok.encode(text)
    text = "to be<|pad|>or not<|endoftext|>"
    assert enc.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert enc.decode(tok.encode(CORPUS)) == CORPUS


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="ab \n\u00e9!", min_size=1, max_size=150), st.text(alphabet="ab \n\u00e9!c", max_size=80))
def test_export_matches_minillm_on_random_corpora(corpus, text):
    small = BPETokenizer.train(corpus, vocab_size=300)
    assert to_tiktoken(small).encode(text) == small.encode(text)


def test_import_export_round_trip(tok):
    back = from_tiktoken(to_tiktoken(tok))
    assert back.to_dict() == tok.to_dict()


def test_parse_tiktoken_file_and_bad_ranks():
    data = b"".join(base64.b64encode(bytes([b])) + b" %d\n" % b for b in range(256)) + b"YWI= 256\n"
    ranks = parse_tiktoken_file(data)
    assert ranks[b"ab"] == 256 and len(ranks) == 257
    tok = from_tiktoken_ranks(ranks, GPT2_PATTERN, {})
    assert tok.merge_list() == [(97, 98, 256)]
    with pytest.raises(TokenizerError, match="without gaps"):
        from_tiktoken_ranks({**ranks, b"abc": 300}, GPT2_PATTERN, {})
    with pytest.raises(TokenizerError, match="not the merge of two"):
        from_tiktoken_ranks({**ranks, b"xyz": 257}, GPT2_PATTERN, {})


def test_gpt2_vocabulary(gpt2):
    tok, enc = gpt2
    assert tok.vocab_size == enc.n_vocab == 50257 and len(tok.merges) == 50000
    assert len(gpt2_ranks()) == 50256
    assert enc.encode("Hello world") == tok.encode("Hello world") == [15496, 995]
    assert tok.encode(ENDOFTEXT, allowed_special="all") == [50256]
    assert tok.vocab[tok.merge_list()[0][2]] == b" t"  # GPT-2's first merge
    assert enc.decode(tok.encode("\u00fcber \U0001f642")) == "\u00fcber \U0001f642"


@pytest.mark.parametrize("text", VARIED)
def test_gpt2_matches_tiktoken(gpt2, text):
    tok, enc = gpt2
    assert tok.encode(text) == enc.encode(text)
    assert tok.decode(tok.encode(text)) == text


def test_gpt2_matches_tiktoken_on_mixed_text(gpt2):
    tok, enc = gpt2
    text = "".join(VARIED) + CORPUS + "<|endoftext|>" + "".join(reversed(VARIED))
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
