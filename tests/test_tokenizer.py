import pytest
from hypothesis import given, strategies as st

from minillm.errors import TokenizerError
from minillm.tokenizer import MASK, CharTokenizer, load_tokenizer, tokenizer_from_dict


def test_char_tokenizer_worked_example():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == " dehlorw"
    assert tok.encode("hold") == [3, 5, 4, 1]
    assert tok.decode([7, 5, 6, 4, 1]) == "world"


@given(st.text(min_size=1))
def test_round_trip(text):
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))


def test_unknown_characters_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TokenizerError, match="outside this tokenizer's vocabulary: 'z'"):
        tok.encode("abz")


@pytest.mark.parametrize("ids", [[3], [-1], [0, -3], ["a"], [1.5]])
def test_bad_ids_are_refused(ids):
    with pytest.raises(TokenizerError, match="0..2"):
        CharTokenizer("abc").decode(ids)


def test_ids_of_any_integer_type_decode():
    import numpy as np
    import torch

    tok = CharTokenizer("abc")
    assert tok.decode(np.array([2, 0])) == tok.decode(torch.tensor([2, 0])) == "ca"


def test_empty_vocab():
    with pytest.raises(TokenizerError, match="empty"):
        CharTokenizer.from_text("")


def test_save_load(tmp_path):
    tok = CharTokenizer.from_text("Thou art 🎭\n")
    tok.save(tmp_path / "tok.json")
    assert load_tokenizer(tmp_path / "tok.json").chars == tok.chars
    assert tokenizer_from_dict(tok.to_dict()).chars == tok.chars


def test_corrupt_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="not a valid tokenizer file"):
        load_tokenizer(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"type": "wordpiece"}')
    with pytest.raises(TokenizerError, match="known types"):
        load_tokenizer(tmp_path / "other.json")
    with pytest.raises(TokenizerError, match="no tokenizer file"):
        load_tokenizer(tmp_path / "missing.json")


def test_mask_token_round_trips_and_never_comes_from_ordinary_text():
    tok = CharTokenizer.from_text("[MASK] is also text", special_tokens=[MASK])
    mask_id = tok.special_tokens[MASK]
    assert mask_id == tok.vocab_size - 1 == len(tok.chars)  # after every character
    ids = tok.encode("is [MASK] text", allowed_special="all")
    assert ids.count(mask_id) == 1 and len(ids) == len("is ") + 1 + len(" text")
    assert tok.decode(ids) == "is [MASK] text"
    plain = tok.encode("is [MASK] text", disallowed_special=())  # six ordinary characters
    assert mask_id not in plain and tok.decode(plain) == "is [MASK] text"
    with pytest.raises(TokenizerError, match=r"contains the special token '\[MASK\]'"):
        tok.encode("is [MASK] text")  # by default a special token in text is refused, as in BPE
    with pytest.raises(TokenizerError, match="unknown special token"):
        tok.encode("is", allowed_special={"[PAD]"})
    assert CharTokenizer("ab").encode("ab", allowed_special="all") == [0, 1]  # no special tokens: nothing changes


@given(st.text(min_size=1))
def test_ordinary_text_never_encodes_to_a_special_id(text):
    tok = CharTokenizer.from_text(text + "[MASK]", special_tokens=[MASK, "[PAD]"])
    ids = tok.encode(text, disallowed_special=())
    assert max(ids) < len(tok.chars) and tok.decode(ids) == text


def test_special_tokens_are_saved_and_added_at_the_next_ids(tmp_path):
    tok = CharTokenizer.from_text("abc").with_special_tokens(["[PAD]", MASK])
    assert tok.special_tokens == {"[PAD]": 3, MASK: 4} and tok.vocab_size == 5
    tok.save(tmp_path / "tok.json")
    loaded = load_tokenizer(tmp_path / "tok.json")
    assert loaded.special_tokens == tok.special_tokens and loaded.decode([4, 0]) == "[MASK]a"
    assert CharTokenizer("abc").to_dict() == {"type": "char", "chars": "abc"}  # as saved before special tokens
    assert tokenizer_from_dict({"type": "char", "chars": "abc"}).special_tokens == {}


@pytest.mark.parametrize("specials, match", [
    (["a"], "also an ordinary character"),
    ([MASK, MASK], "distinct non-empty"),
    ([""], "distinct non-empty"),
    (MASK, "got the string"),
])
def test_bad_special_tokens_are_refused(specials, match):
    with pytest.raises(TokenizerError, match=match):
        CharTokenizer("abc", specials)


# ----------------------------------------------------------------------------
# streaming: encode_iterable

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STREAM_ALPHABET = "ab \n\t'sd1.,!é"


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=STREAM_ALPHABET, max_size=80), cuts=st.lists(st.integers(0, 80), max_size=6))
def test_encode_iterable_equals_encoding_the_whole_text(text, cuts):
    from minillm.bpe import BPETokenizer

    tok = _stream_bpe()
    bounds = sorted({0, len(text), *[c for c in cuts if c <= len(text)]})
    chunks = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    assert list(tok.encode_iterable(chunks)) == tok.encode_ordinary(text)
    char = CharTokenizer(STREAM_ALPHABET)
    assert list(char.encode_iterable(chunks)) == char.encode(text)
    assert isinstance(tok, BPETokenizer)


_STREAM_BPE = []


def _stream_bpe():
    if not _STREAM_BPE:
        from minillm.bpe import BPETokenizer
        _STREAM_BPE.append(BPETokenizer.train("ab ab  abs 'sd\n\n d1 d11 ab.ab, ab!\t\tab " * 20, 300))
    return _STREAM_BPE[0]


def test_encode_iterable_at_every_cut_of_a_text():
    """Every way of cutting a text in two (and in three, for a short one): words and whitespace runs split."""
    tok = _stream_bpe()
    text = "ab ab  abs 'sd\n\n d1 d11 ab.ab, ab!\t\tab  \n\n1 \n\nab"
    whole = tok.encode_ordinary(text)
    assert len(whole) < len(text)  # merges apply, so a bad cut would show
    for i in range(len(text) + 1):
        assert list(tok.encode_iterable([text[:i], text[i:]])) == whole, i
    short = text[:16]
    for i in range(len(short) + 1):
        for j in range(i, len(short) + 1):
            assert list(tok.encode_iterable([short[:i], short[i:j], short[j:]])) == tok.encode_ordinary(short), (i, j)
