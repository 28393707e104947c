import random
import re

import pytest
import torch

from minillm.data import Corpus
from minillm.errors import ConfigError
from minillm.bpe import BPETokenizer
from minillm.families import (BOS, EOS, PAD, TRANSDUCTIONS, Encoder, EncoderDecoder, evaluate_masked_lm,
                              evaluate_masked_words, mask_tokens, random_strings, train_masked_lm,
                              train_transduction, transduction_batch, transduction_tokenizer, unigram_baselines,
                              whole_word_tokens, word_starts)
from minillm.model import GPT, IGNORE_INDEX, GPTConfig


@pytest.fixture
def cfg():
    return GPTConfig(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16)


# ----------------------------------------------------------------------------
# BERT's masking recipe

def test_mask_tokens_follows_the_80_10_10_recipe():
    V, mask_id, pad_id = 50, 48, 49
    idx = torch.randint(0, 48, (400, 500))
    idx[:, -50:] = pad_id  # padding is never chosen
    inputs, targets = mask_tokens(idx, mask_id, V, generator=torch.Generator().manual_seed(0), special_ids=[pad_id])
    chosen = targets != IGNORE_INDEX
    n = chosen.sum().item()
    assert n / (400 * 450) == pytest.approx(0.15, abs=0.003)  # 180,000 candidates: sd 0.0008
    assert not chosen[:, -50:].any() and (inputs[:, -50:] == pad_id).all()
    assert (targets[chosen] == idx[chosen]).all()  # targets: the original tokens, only where chosen
    assert (inputs[~chosen] == idx[~chosen]).all()  # nothing else is touched
    masked = (inputs == mask_id) & chosen
    changed = (inputs != idx) & ~masked
    assert masked.sum().item() / n == pytest.approx(0.8, abs=0.01)
    # a random token equals the original 1 time in 48: 10% random * 47/48 show up as changed
    assert changed.sum().item() / n == pytest.approx(0.1 * 47 / 48, abs=0.005)
    assert ((inputs == idx) & chosen).sum().item() / n == pytest.approx(0.1 + 0.1 / 48, abs=0.005)
    random_ids = inputs[changed]
    assert random_ids.max() < 48 and random_ids.unique().numel() == 48  # any ordinary token, never a special one


def test_mask_tokens_is_reproducible_and_checks_its_rates():
    idx = torch.randint(0, 10, (4, 30))
    a = mask_tokens(idx, 10, 11, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(idx, 10, 11, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ConfigError, match="p_mask"):
        mask_tokens(idx, 10, 11, p_mask=0.95, p_random=0.1)


def test_whole_words_are_masked_together():
    is_word = torch.tensor([[True, True, False, True, True, True, False, False, True]])
    start = word_starts(is_word)
    assert start.tolist() == [[0, 0, 2, 3, 3, 3, 6, 7, 8]]
    idx = torch.arange(9).repeat(2000, 1)
    _, targets = mask_tokens(idx, 20, 21, p=0.5, maskable=is_word.expand(2000, 9),
                             word_start=start.expand(2000, 9), generator=torch.Generator().manual_seed(0))
    chosen = targets != IGNORE_INDEX
    assert not chosen[:, [2, 6, 7]].any()  # not letters
    assert (chosen[:, 0] == chosen[:, 1]).all() and (chosen[:, 3:6] == chosen[:, 3:4]).all()
    assert chosen[:, 3].float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_masked_lm_loss_is_only_on_the_chosen_positions(cfg):
    model = Encoder(cfg)
    idx = torch.randint(0, 12, (3, 12))
    inputs, targets = mask_tokens(idx, 12, 13, p=0.3, generator=torch.Generator().manual_seed(1))
    logits, loss = model(inputs, targets)
    chosen = targets != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(logits[chosen], idx[chosen])
    assert torch.allclose(loss, expected)


# ----------------------------------------------------------------------------
# the encoder

def test_encoder_attends_both_ways_and_the_gpt_does_not(cfg):
    torch.manual_seed(0)
    idx = torch.randint(0, 13, (2, 10))
    later = idx.clone()
    later[:, -1] = (later[:, -1] + 1) % 13  # change only the last token
    encoder, gpt = Encoder(cfg).eval(), GPT(cfg).eval()
    assert not torch.allclose(encoder(idx)[0][:, 0], encoder(later)[0][:, 0])  # the first position saw it
    assert torch.allclose(gpt(idx)[0][:, :-1], gpt(later)[0][:, :-1])  # a GPT's earlier positions did not


def test_encoder_shares_the_gpt_layout(cfg):
    encoder, gpt = Encoder(cfg), GPT(cfg)
    assert encoder.state_dict().keys() == gpt.state_dict().keys()  # the same network, other masks
    assert encoder.head.weight is encoder.tok_emb.weight
    assert all(not block.attn.causal for block in encoder.blocks) and all(b.attn.causal for b in gpt.blocks)


def test_padding_mask_makes_padded_keys_irrelevant(cfg):
    encoder = Encoder(cfg).eval()
    idx = torch.randint(0, 13, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[:, 6:] = False
    other = idx.clone()
    other[:, 6:] = torch.randint(0, 13, (2, 3))  # different padding
    a, b = encoder(idx, mask=mask)[0], encoder(other, mask=mask)[0]
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert torch.allclose(a[:, :6], encoder(idx[:, :6])[0], atol=1e-5)  # as if the padding were not there
    with pytest.raises(ValueError, match="all padding"):
        encoder(idx, mask=torch.zeros(2, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="shaped like the ids"):
        encoder(idx, mask=mask[:, :5])


# ----------------------------------------------------------------------------
# the encoder-decoder

@pytest.fixture
def seq2seq(cfg):
    torch.manual_seed(0)
    return EncoderDecoder(cfg).eval()


def test_decoder_reads_the_source_through_cross_attention(seq2seq):
    src, tgt = torch.randint(0, 13, (2, 7)), torch.randint(0, 13, (2, 5))
    other = src.clone()
    other[:, 3] = (other[:, 3] + 1) % 13
    assert not torch.allclose(seq2seq(src, tgt)[0], seq2seq(other, tgt)[0])
    blocks = seq2seq.decoder.blocks
    assert all(b.attn.causal and b.cross_attn.cross for b in blocks)
    assert seq2seq.decoder.tok_emb.weight is seq2seq.encoder.tok_emb.weight is seq2seq.decoder.head.weight


def test_decoder_is_causal(seq2seq):
    src, tgt = torch.randint(0, 13, (2, 7)), torch.randint(0, 13, (2, 6))
    later = tgt.clone()
    later[:, 4:] = (later[:, 4:] + 1) % 13
    assert torch.allclose(seq2seq(src, tgt)[0][:, :4], seq2seq(src, later)[0][:, :4], atol=1e-6)
    assert not torch.allclose(seq2seq(src, tgt)[0][:, 4:], seq2seq(src, later)[0][:, 4:])


def test_source_padding_is_ignored(seq2seq):
    src, tgt = torch.randint(0, 13, (2, 7)), torch.randint(0, 13, (2, 4))
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[:, 5:] = False
    other = src.clone()
    other[:, 5:] = (other[:, 5:] + 1) % 13
    padded = seq2seq(src, tgt, src_mask=mask)[0]
    assert torch.allclose(padded, seq2seq(other, tgt, src_mask=mask)[0], atol=1e-6)
    assert torch.allclose(padded, seq2seq(src[:, :5], tgt)[0], atol=1e-5)


def test_teacher_forced_loss_is_the_sum_of_the_per_step_losses(seq2seq):
    src, tgt = torch.randint(0, 13, (3, 6)), torch.randint(0, 13, (3, 6))
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    _, loss = seq2seq(src, tgt_in, tgt_out)
    steps = []  # step t: the decoder reads only the prefix tgt_in[:, :t + 1] and predicts tgt_out[:, t]
    for t in range(tgt_in.size(1)):
        logits = seq2seq(src, tgt_in[:, :t + 1])[0][:, -1]
        steps.append(torch.nn.functional.cross_entropy(logits, tgt_out[:, t], reduction="sum"))
    assert torch.allclose(loss * tgt_out.numel(), torch.stack(steps).sum(), atol=1e-5)


def test_greedy_decode_is_the_argmax_loop_by_hand(cfg):
    seq2seq = EncoderDecoder(GPTConfig(**{**cfg.to_dict(), "tie_weights": False})).eval()
    torch.nn.init.normal_(seq2seq.decoder.head.weight)  # at init every row repeats one token: make rows differ
    for block in seq2seq.decoder.blocks:
        torch.nn.init.normal_(block.cross_attn.proj.weight, std=0.05)
    src = torch.randint(0, 10, (4, 6))
    bos = 10
    never_stops = seq2seq.greedy_decode(src, max_len=8, bos_id=bos, eos_id=-1)
    assert never_stops.shape == (4, 8)

    def first(token):  # where each row first writes `token` (8: never)
        return [row.tolist().index(token) if token in row else 8 for row in never_stops]

    eos = next(t for t in range(13) if min(first(t)) < max(first(t)))  # one row stops, another runs on
    out = seq2seq.greedy_decode(src, max_len=8, bos_id=bos, eos_id=eos)
    for b in range(4):
        prefix = [bos]
        for _ in range(8):
            logits = seq2seq(src[b:b + 1], torch.tensor([prefix]))[0][0, -1]
            prefix.append(logits.argmax().item())
            if prefix[-1] == eos:
                break
        got = out[b].tolist()
        assert got[:len(prefix) - 1] == prefix[1:]
        assert all(i == eos for i in got[len(prefix) - 1:])  # a finished row pads with [EOS]
    with pytest.raises(ConfigError, match="max_len"):
        seq2seq.greedy_decode(src, max_len=13, bos_id=bos, eos_id=eos)


def test_transduction_batch_frames_the_target():
    tok = transduction_tokenizer()
    pad, bos, eos = (tok.special_tokens[s] for s in (PAD, BOS, EOS))
    src, tgt_in, tgt_out, src_mask = transduction_batch(["abc", "de"], ["cba", "ed"], tok)
    assert src.tolist() == [[0, 1, 2], [3, 4, pad]] and src_mask.tolist() == [[True] * 3, [True, True, False]]
    assert tgt_in.tolist() == [[bos, 2, 1, 0], [bos, 4, 3, pad]]
    assert tgt_out.tolist() == [[2, 1, 0, eos], [4, 3, eos, IGNORE_INDEX]]
    assert TRANSDUCTIONS["sort"]("minillm") == "iillmmn"
    test = random_strings(50, random.Random(0), 3, 3)
    assert not set(random_strings(500, random.Random(1), 3, 3, exclude=set(test))) & set(test)


# ----------------------------------------------------------------------------
# the tasks, tiny

TEXT = "to be or not to be that is the question whether tis nobler in the mind to suffer\n" * 40


def test_unigram_baselines():
    assert unigram_baselines("I see the cat; the cat sees me.") == {
        "char": " ", "letter": "e", "word": "the", "by_length": {3: "the", 1: "I", 4: "sees", 2: "me"}}


TINY_ENCODER = dict(block_size=32, n_layer=1, n_embd=32)


def test_tiny_masked_lm_run_learns_and_reports():
    corpus = Corpus("tiny", TEXT, TEXT[:400])
    r = train_masked_lm(steps=60, batch_size=8, warmup_steps=5, corpus=corpus, eval_windows=20, model=TINY_ENCODER,
                        threads=1, progress=False)
    assert len(r.loss) == 60 and sum(r.loss[-10:]) < sum(r.loss[:10])
    assert 0 <= r.baseline <= 1 and 0 <= r.accuracy <= 1 and r.n_masked > 0 and r.word_accuracy is None
    shown, filled, original = r.examples[0]
    assert len(shown) == len(filled) == len(original) == 32 and "_" in shown
    again = evaluate_masked_lm(r.model, r.tokenizer, corpus.val, corpus.train, windows=20)
    assert again["accuracy"] == r.accuracy  # the evaluation is deterministic
    assert isinstance(r.model, Encoder) and r.tokenizer.special_tokens == {"[MASK]": r.tokenizer.vocab_size - 1}


def test_whole_word_masking_scores_whole_words():
    corpus = Corpus("tiny", TEXT, TEXT[:400])
    r = train_masked_lm(steps=3, batch_size=4, warmup_steps=1, whole_words=True, corpus=corpus, eval_windows=20,
                        model=TINY_ENCODER, threads=1, progress=False)
    assert r.n_words > 0 and 0 <= r.word_accuracy <= 1 and 0 <= r.accuracy <= 1
    for shown, _, original in r.examples:
        for m in re.finditer("_+", shown):  # every masked run is a whole word, never cut by the window
            word = original[m.start():m.end()]
            assert word.isalpha() and 0 < m.start() and m.end() < len(original)
            assert not original[m.start() - 1].isalpha() and not original[m.end()].isalpha()



@pytest.mark.parametrize("vocab_size", [260, 300, 400])
def test_whole_word_tokens_are_the_words_of_the_text(vocab_size):
    """Reference: a token is a whole word when its letters are exactly one run of letters of the text."""
    rng = random.Random(vocab_size)
    text = "".join(rng.choice(["to", "be", "or", "not", " ", ", ", "\n", "'d", "ab", "x"]) for _ in range(600))
    tok = BPETokenizer.train(text, vocab_size, special_tokens=[])
    ids = tok.encode(text)
    words = {(m.start(), m.end()) for m in re.finditer("[A-Za-z]+", text)}
    at, expected = 0, []
    for i in ids:
        piece = tok.decode([i])
        lead = len(piece) - len(piece.lstrip(" "))
        expected.append(re.fullmatch(" ?[A-Za-z]+", piece) is not None and (at + lead, at + len(piece)) in words)
        at += len(piece)
    got = whole_word_tokens(torch.tensor(ids), tok).tolist()
    assert got == expected and 0 < sum(got) < len(got)


def test_tiny_bpe_masked_lm_scores_whole_words():
    corpus = Corpus("tiny", TEXT, TEXT[:400])
    r = train_masked_lm(steps=40, batch_size=8, warmup_steps=5, tokens="bpe", vocab_size=300, corpus=corpus,
                        eval_windows=20, model=dict(TINY_ENCODER, block_size=16), threads=1, progress=False)
    assert r.tokens == "bpe" and isinstance(r.tokenizer, BPETokenizer) and r.n_masked > 0
    assert sum(r.loss[-10:]) < sum(r.loss[:10]) and 0 <= r.accuracy <= 1
    assert 0 < r.baseline < 1  # "to" is the most frequent word of TEXT, and some masked words are not "to"
    # with 5 windows every one is an example, so the scores can be recounted from them
    scores = evaluate_masked_words(r.model, r.tokenizer, corpus.val, corpus.train, windows=5, p=0.5)
    assert len(scores["examples"]) == 5
    masked = [(f, o) for shown, filled, original in scores["examples"]
              for s, f, o in zip(shown.split(), filled.split(), original.split(), strict=True) if s == "____"]
    assert scores["n_masked"] == len(masked) > 0
    assert scores["accuracy"] == sum(f == o for f, o in masked) / len(masked)
    assert scores["baseline"] == sum(o == "to" for _, o in masked) / len(masked)  # "to": TEXT's top word
    with pytest.raises(ConfigError, match="whole_words"):
        train_masked_lm(tokens="bpe", whole_words=True, steps=1, progress=False)
    with pytest.raises(ConfigError, match="'char' or 'bpe'"):
        train_masked_lm(tokens="words", steps=1, progress=False)

def test_tiny_transduction_run_learns_and_reports():
    r = train_transduction("reverse", steps=40, batch_size=16, warmup_steps=5, min_len=2, max_len=4, n_test=30,
                           model=dict(block_size=6, n_layer=1, n_embd=32), threads=1, progress=False)
    assert len(r.loss) == 40 and sum(r.loss[-10:]) < sum(r.loss[:10])
    assert 0 <= r.exact_match <= 1 and r.n_test == 30 and len(r.examples) == 8
    with pytest.raises(ConfigError, match="block_size"):
        train_transduction(max_len=10, model=dict(block_size=8), steps=1, progress=False)
    with pytest.raises(ConfigError, match="unknown task"):
        train_transduction("rotate", steps=1, progress=False)
