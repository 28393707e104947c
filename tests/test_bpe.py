from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minillm.bpe import (ENDOFTEXT, MASK, BPETokenizer, apply_merges, bytes_per_token, merge, merge_usage,
                         most_frequent_pair, pair_counts, split_special, train_merges, train_merges_reference,
                         word_counts)
from minillm.errors import TokenizerError
from minillm.tokenizer import encode_to_array, load_tokenizer, tokenizer_from_dict

TRAINERS = [train_merges, train_merges_reference]

SAMPLE = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
          "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\n"
          "All:\nResolved. resolved.\n\t  2024 1,000,000 café naïve 日本語 🎭🙂 "
          "it's we'll they're\n") * 3


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(SAMPLE, vocab_size=330)


def test_pair_counts_and_merge():
    assert pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([7, 7, 7, 7, 7], (7, 7), 8) == [8, 8, 7]


def test_most_frequent_pair_breaks_ties_by_bytes():
    vocab = [bytes([b]) for b in range(256)] + [b"ab"]  # token 256 is b"ab"
    assert most_frequent_pair({(97, 98): 2, (120, 121): 2, (98, 99): 1}, vocab) == (120, 121)
    assert most_frequent_pair({(122, 97): 4, (256, 99): 4}, vocab) == (122, 97)  # b"z" > b"ab", though 256 > 122
    assert most_frequent_pair({(122, 122): 1, (97, 97): 2}, vocab) == (97, 97)  # the count comes first


@pytest.mark.parametrize("trainer", TRAINERS)
def test_worked_example(trainer):
    # "aaabdaaabac", one pre-token; merges worked out by hand:
    # 1. (a, a) occurs 4 times                                  -> 256 = "aa"
    # 2. ("aa", a) and (a, b) occur twice; b"aa" > b"a" breaks the tie -> 257 = "aaa"
    # 3. ("aaa", b) occurs twice                                -> 258 = "aaab"
    # 4. all four pairs occur once; (b"d", b"aaab") is the greatest -> 259 = "daaab"
    tok = BPETokenizer.train("aaabdaaabac", vocab_size=261, trainer=trainer)
    a, b, c, d = map(ord, "abcd")
    assert tok.merge_list() == [(a, a, 256), (256, a, 257), (257, b, 258), (d, 258, 259)]
    assert [tok.vocab[i] for i in range(256, 260)] == [b"aa", b"aaa", b"aaab", b"daaab"]
    assert tok.special_tokens == {ENDOFTEXT: 260} and tok.vocab_size == 261
    assert tok.encode("aaabdaaabac") == [258, 259, a, c]


def test_merges_never_cross_pretokens():
    assert word_counts("to be, or not to be") == {b"to": 1, b" be": 2, b",": 1, b" or": 1, b" not": 1, b" to": 1}
    tok = BPETokenizer.train("hello world " * 50 + "it's 123.", vocab_size=320)
    assert tok.vocab_size < 320  # the corpus ran out of pairs first
    for token in tok.vocab[256:]:
        assert b"o w" not in token and b"s " not in token
        assert not (token[:1].isalpha() and token[-1:].isdigit())


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aab  c\n\u00e9\U0001f642'", max_size=120), st.integers(257, 300))
def test_fast_trainer_matches_reference(text, vocab_size):
    words = word_counts(text)
    n = vocab_size - 257
    assert train_merges(words, n) == train_merges_reference(words, n)


def test_fast_trainer_matches_reference_on_prose():
    words = word_counts(SAMPLE)
    assert train_merges(words, 200) == train_merges_reference(words, 200)


def test_training_is_deterministic():
    words = word_counts(SAMPLE)
    backwards = dict(reversed(list(words.items())))  # the order words were seen in must not matter
    assert train_merges(words, 150) == train_merges(backwards, 150) == train_merges(words, 150)
    assert BPETokenizer.train(SAMPLE, 300).to_dict() == BPETokenizer.train(SAMPLE, 300).to_dict()


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_any_unicode(tok, text):
    assert tok.decode(tok.encode(text, disallowed_special=())) == text


@pytest.mark.parametrize("text", ["", " ", "   \n\n\t \r\n  ", "e\u0301\u0308", "\x00\x07\x1b[0m",
                                  "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\ud7ff\ufffd\U0010ffff"])
def test_round_trip_edge_cases(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_invalid_utf8_decodes_with_replacement(tok):
    ids = tok.encode("\u00e9")  # two bytes, 0xC3 0xA9
    assert tok.decode_bytes(ids) == b"\xc3\xa9"
    assert tok.decode([0xC3]) == "\ufffd"
    assert tok.decode([ord("a"), 0xFF, ord("b")]) == "a\ufffdb"
    with pytest.raises(TokenizerError, match="0..329"):
        tok.decode([330])
    with pytest.raises(TokenizerError):
        tok.decode(["a"])


def test_special_tokens():
    tok = BPETokenizer.train(("hello<|endoftext|>world<|pad|>" * 20), vocab_size=300,
                             special_tokens=[ENDOFTEXT, "<|pad|>"])
    eot, pad = tok.special_tokens[ENDOFTEXT], tok.special_tokens["<|pad|>"]
    assert (eot, pad) == (tok.vocab_size - 2, tok.vocab_size - 1)
    assert all(b"<|" not in t and b"|>" not in t for t in tok.vocab)  # kept out of training
    text = "hi<|endoftext|>there<|pad|>"
    assert tok.encode(text, allowed_special="all")[-1] == pad
    ids = tok.encode(text, allowed_special={ENDOFTEXT}, disallowed_special=())
    assert eot in ids and pad not in ids
    assert tok.decode(ids) == text
    plain = tok.encode(text, disallowed_special=())
    assert eot not in plain and tok.decode(plain) == text
    with pytest.raises(TokenizerError, match="contains the special token '<|endoftext|>'"):
        tok.encode(text)
    with pytest.raises(TokenizerError, match="unknown special token"):
        tok.encode(text, allowed_special={"<|im_start|>"})



def test_mask_token():
    tok = BPETokenizer.train("to be [MASK] not to be " * 20, vocab_size=280, special_tokens=[ENDOFTEXT, MASK])
    mask_id = tok.special_tokens[MASK]
    assert mask_id == tok.vocab_size - 1
    assert all(b"[MASK]" not in t for t in tok.vocab)  # kept out of training
    ids = tok.encode("to be [MASK] not", allowed_special={MASK})
    assert ids.count(mask_id) == 1 and tok.decode(ids) == "to be [MASK] not"
    assert mask_id not in tok.encode("to be [MASK] not", disallowed_special=())  # plain text can't make it
    with pytest.raises(TokenizerError, match="contains the special token"):
        tok.encode("to be [MASK] not")


def test_with_special_tokens_keeps_every_id(tok):
    added = tok.with_special_tokens([MASK])
    assert added.special_tokens == {**tok.special_tokens, MASK: tok.vocab_size}
    assert added.vocab_size == tok.vocab_size + 1
    assert added.encode(SAMPLE, allowed_special={ENDOFTEXT}) == tok.encode(SAMPLE, allowed_special={ENDOFTEXT})
    assert tokenizer_from_dict(added.to_dict()).special_tokens == added.special_tokens
    with pytest.raises(TokenizerError, match="already has the special token"):
        added.with_special_tokens([MASK])

def test_errors():
    with pytest.raises(TokenizerError, match="at least 256"):
        BPETokenizer.train("some text", vocab_size=200)
    with pytest.raises(TokenizerError, match="= 257"):
        BPETokenizer.train("some text", vocab_size=256)
    with pytest.raises(TokenizerError, match="empty"):
        BPETokenizer.train("", vocab_size=300)
    with pytest.raises(TokenizerError, match="empty"):
        BPETokenizer.train(ENDOFTEXT * 3, vocab_size=300)
    with pytest.raises(TokenizerError, match="doesn't exist yet"):
        BPETokenizer([(97, 300)])


def test_save_load(tok, tmp_path):
    tok.save(tmp_path / "bpe.json")
    loaded = load_tokenizer(tmp_path / "bpe.json")
    assert isinstance(loaded, BPETokenizer)
    assert loaded.to_dict() == tok.to_dict() == tokenizer_from_dict(tok.to_dict()).to_dict()
    assert loaded.encode(SAMPLE) == tok.encode(SAMPLE)
    text = (tmp_path / "bpe.json").read_text(encoding="utf-8")
    a, b = next(iter(tok.merges))
    assert f'[{a}, {b}, "{chr(a)}", "{chr(b)}"]' in text.splitlines()[6]  # one readable merge per line
    assert len(text.splitlines()) == len(tok.merges) + 8


@pytest.mark.parametrize("broken", [
    '{"type": "bpe", "pattern": "x", "special_tokens": {}}',  # no merges
    '{"type": "bpe", "pattern": "x", "special_tokens": {}, "merges": [[1]]}',
    '{"type": "bpe", "pattern": "x", "special_tokens": {}, "merges": [[1, 999, "a", "b"]]}',
    '{"type": "bpe", "pattern": "(", "special_tokens": {}, "merges": []}',
    '{"type": "bpe", "pattern": "x", "special_tokens": {"<|eot|>": 3}, "merges": []}',
    '{"type": "bpe", "pattern": "x", "special_tokens": [], "merges": []}',
    '{"type": "bpe", "pattern": "x", "special_tokens": {}, "merges": [], "byte_ids": [1, 2]}',
])
def test_corrupt_file(tmp_path, broken):
    (tmp_path / "bad.json").write_text(broken)
    with pytest.raises(TokenizerError):
        load_tokenizer(tmp_path / "bad.json")


def test_shorter_vocabulary_is_a_prefix():
    big = BPETokenizer.train(SAMPLE, vocab_size=360)
    small = BPETokenizer.train(SAMPLE, vocab_size=300)
    assert big.with_vocab_size(300).to_dict() == small.to_dict()


def test_measurements(tok):
    text = SAMPLE.replace(ENDOFTEXT, "")
    fired = merge_usage(tok, text)
    assert len(fired) == len(tok.merges)
    # every merge that fires makes the sequence one token shorter
    assert sum(fired) == len(text.encode("utf-8")) - len(tok.encode(text))
    assert bytes_per_token(tok, text) > bytes_per_token(tok.with_vocab_size(300), text) > 1


def test_progress_bar_encode_matches(tok, tmp_path):
    (tmp_path / "t.txt").write_text(SAMPLE * 50, encoding="utf-8")
    assert tok.encode_file(tmp_path / "t.txt") == tok.encode(SAMPLE * 50)


def test_encode_to_array_caches(tok, tmp_path):
    arr = encode_to_array(tok, SAMPLE, cache_dir=tmp_path)
    assert arr.dtype == np.uint16 and arr.tolist() == tok.encode(SAMPLE)
    (file,) = tmp_path.glob("bpe-*.npy")
    np.save(file, arr[:5])  # the second call must read the file, not encode again
    assert encode_to_array(tok, SAMPLE, cache_dir=tmp_path).tolist() == arr[:5].tolist()
    encode_to_array(tok, SAMPLE + "!", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("bpe-*.npy"))) == 2  # another text, another file
    # in a corpus, <|endoftext|> separates documents: it becomes its special id
    assert tok.special_tokens[ENDOFTEXT] in encode_to_array(tok, f"a{ENDOFTEXT}b", cache_dir=tmp_path).tolist()
    wide = BPETokenizer([], {ENDOFTEXT: 70_000})
    assert encode_to_array(wide, "abc", cache_dir=tmp_path).dtype == np.uint32


def test_plots(tok):
    import matplotlib

    matplotlib.use("Agg")
    from minillm.plots import plot_compression, plot_merge_usage, show_tokens

    view = show_tokens(tok, "a <b>\n\tc<|endoftext|>")
    assert "<b>" not in view.data and "&lt;" in view.data  # escaped
    assert all(mark in view.data for mark in ("·", "↵<br>", "→"))  # whitespace made visible
    assert f'title="id {tok.special_tokens[ENDOFTEXT]}"' in view.data
    plot_compression([256, 300, 330], [1.0, 1.8, 2.1], {"GPT-2": (50257, 4.2)})
    plot_merge_usage(merge_usage(tok, SAMPLE))
    matplotlib.pyplot.close("all")



def test_a_merge_learned_twice_is_refused(tok):
    merges = list(tok.merges)
    with pytest.raises(TokenizerError, match="repeats merge 0"):
        BPETokenizer(merges + [merges[0]])


@pytest.mark.parametrize("pattern", [None, "", 5])
def test_a_missing_pattern_is_refused(tok, pattern):
    d = {**tok.to_dict(), "pattern": pattern}
    with pytest.raises(TokenizerError, match="must be a regular expression"):
        tokenizer_from_dict(d)


@pytest.mark.parametrize("pattern, at", [(r"\p{L}+", 5), (r" ?\p{L}+", 11)])
def test_a_pattern_that_skips_text_is_an_error_not_lost_text(pattern, at):
    tok = BPETokenizer([], pattern=pattern)
    with pytest.raises(TokenizerError, match=f"skips the text at character {at}"):
        tok.encode("hello world!")


def test_a_cut_short_token_cache_is_encoded_again(tok, tmp_path, capsys):
    arr = encode_to_array(tok, SAMPLE, cache_dir=tmp_path)
    (file,) = tmp_path.glob("bpe-*.npy")
    file.write_bytes(file.read_bytes()[:200])
    assert encode_to_array(tok, SAMPLE, cache_dir=tmp_path).tolist() == arr.tolist()
    assert f"the cached token ids {file} can't be read" in capsys.readouterr().out
    np.save(file, arr.astype(np.int64))  # not what minillm writes
    assert encode_to_array(tok, SAMPLE, cache_dir=tmp_path).dtype == np.uint16


def test_fast_trainer_matches_reference_on_real_text():
    """Many words share pairs, so counts fall as well as rise: the heap must follow both."""
    from minillm.data import shakespeare

    words = word_counts(shakespeare().train[:25_000])
    assert train_merges(words, 150) == train_merges_reference(words, 150)


def test_split_special_prefers_the_longest_special_token():
    assert split_special("a<|x|>>b", ["<|x|>", "<|x|>>"]) == ["a", "<|x|>>", "b"]
    assert split_special("a<|x|>>b", ["<|x|>>", "<|x|>"]) == ["a", "<|x|>>", "b"]
    assert split_special("", []) == [] and split_special("ab", []) == ["ab"]


def test_merge_ids_must_exist_already():
    BPETokenizer([(0, 0), (256, 0), (0, 257)])  # byte 0 and earlier merges are fine
    for merges in ([(256, 0)], [(0, 256)], [(-1, 0)]):
        with pytest.raises(TokenizerError, match="doesn't exist yet"):
            BPETokenizer(merges)
    with pytest.raises(TokenizerError, match=r"merge 2 \(97, 98\) repeats merge 0"):
        BPETokenizer([(97, 98), (99, 100), (97, 98)])


def test_special_token_rules_and_the_smallest_vocabulary():
    with pytest.raises(TokenizerError, match="can't be the empty string"):
        BPETokenizer([], {"": 256})
    tok = BPETokenizer.train("some text", vocab_size=257)  # just the bytes and <|endoftext|>
    assert not tok.merges and tok.special_tokens == {ENDOFTEXT: 256} and tok.vocab_size == 257
    big = BPETokenizer.train(SAMPLE, vocab_size=300)
    assert big.special_tokens[ENDOFTEXT] == big.vocab_size - 1 == 256 + len(big.merges)
    assert not big.with_vocab_size(257).merges and big.with_vocab_size(300).to_dict() == big.to_dict()
    for size in (256, 301):
        with pytest.raises(TokenizerError, match=r"vocab_size must lie in 257\.\.300"):
            big.with_vocab_size(size)


def test_byte_ids_survive_save_and_load(tmp_path):
    byte_ids = list(range(255, -1, -1))  # byte b is id 255 - b, as GPT-2 numbers bytes its own way
    tok = BPETokenizer([(byte_ids[ord("a")], byte_ids[ord("b")])], {ENDOFTEXT: 257}, byte_ids=byte_ids)
    tok.save(tmp_path / "t.json")
    loaded = load_tokenizer(tmp_path / "t.json")
    assert loaded.byte_ids == byte_ids and loaded.encode("abc") == tok.encode("abc") == [256, 255 - ord("c")]


def test_apply_merges_on_two_ids_and_counting_what_fired():
    fired = Counter()
    assert apply_merges([1, 2], {(1, 2): 300}, fired) == [300]
    assert apply_merges([1, 2, 1, 2], {(1, 2): 300, (300, 300): 301}, fired) == [301]
    assert fired == {300: 3, 301: 1}  # one merge per occurrence, with the default weight of 1
