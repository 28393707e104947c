import pytest
from hypothesis import given, strategies as st

from minillm.errors import TokenizerError
from minillm.tokenizer import CharTokenizer, load_tokenizer, tokenizer_from_dict


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
