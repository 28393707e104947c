import pytest
import torch

from minillm.errors import ConfigError
from minillm.generate import complete, generate, sample_next
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer


def test_temperature_zero_is_greedy():
    logits = torch.randn(5, 20)
    assert torch.equal(sample_next(logits, temperature=0).squeeze(1), logits.argmax(-1))


def test_top_k_only_samples_the_k_best():
    logits = torch.randn(1, 50)
    allowed = set(logits.topk(3).indices[0].tolist())
    g = torch.Generator().manual_seed(0)
    drawn = {sample_next(logits, 1.0, top_k=3, generator=g).item() for _ in range(300)}
    assert drawn <= allowed and len(drawn) == 3


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    g = torch.Generator().manual_seed(0)
    drawn = {sample_next(logits, 1.0, top_p=0.8, generator=g).item() for _ in range(300)}
    assert drawn == {0, 1}  # 0.5 + 0.3 reaches 0.8
    drawn = {sample_next(logits, 1.0, top_p=0.81, generator=g).item() for _ in range(300)}
    assert drawn == {0, 1, 2}
    assert {sample_next(logits, 1.0, top_p=0.1, generator=g).item() for _ in range(50)} == {0}


def test_sampling_frequencies_follow_softmax_of_scaled_logits():
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    g = torch.Generator().manual_seed(0)
    n = 4000
    counts = torch.bincount(sample_next(logits.expand(n, 3), 0.5, generator=g).squeeze(1), minlength=3)
    expected = torch.softmax(logits[0] / 0.5, -1)
    torch.testing.assert_close(counts / n, expected, atol=0.03, rtol=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=-1), "temperature"), (dict(temperature=float("nan")), "temperature"),
    (dict(temperature=float("inf")), "temperature"), (dict(top_k=0), "top_k"), (dict(top_k=2.5), "top_k"),
    (dict(top_p=1.5), "top_p"), (dict(top_p=0.0), "top_p"), (dict(top_p=float("nan")), "top_p")])
def test_bad_sampling_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        sample_next(torch.randn(1, 4), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=0), "num_samples"), (dict(max_new_tokens=-5), "max_new_tokens"), (dict(prompt=""), "empty")])
def test_bad_completion_requests(kwargs, message):
    tok = CharTokenizer.from_text("abc ")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ConfigError, match=message):
        complete(model, tok, **{"prompt": "ab", **kwargs})


def test_generate_is_seeded_and_respects_context():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=1, n_embd=8))
    idx = torch.zeros(2, 1, dtype=torch.long)
    a = generate(model, idx, 10, generator=torch.Generator().manual_seed(3))
    b = generate(model, idx, 10, generator=torch.Generator().manual_seed(3))
    assert a.shape == (2, 11) and torch.equal(a, b)  # longer than block_size: context is cropped
    assert torch.equal(a[:, :1], idx)


def test_complete_returns_text_after_the_prompt():
    tok = CharTokenizer.from_text("abc ")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    out = complete(model, tok, "ab", max_new_tokens=5, num_samples=3, seed=1)
    assert len(out) == 3 and all(len(s) == 5 and set(s) <= set("abc ") for s in out)
    assert out == complete(model, tok, "ab", max_new_tokens=5, num_samples=3, seed=1)


def _tiny_char_model():
    tok = CharTokenizer.from_text("abc ")
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)), tok


def test_the_edges_of_the_settings_are_allowed():
    logits = torch.randn(3, 10)
    greedy = logits.argmax(-1, keepdim=True)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_next(logits, 1.0, top_k=1, generator=g), greedy)  # k = 1 is greedy
    drawn = {sample_next(logits[:1], 5.0, top_p=1.0, generator=g).item() for _ in range(400)}
    assert len(drawn) == 10  # p = 1 keeps every token
    model, _ = _tiny_char_model()
    idx = torch.zeros(2, 3, dtype=torch.long)
    assert torch.equal(generate(model, idx, 0), idx)  # nothing new asked for


def test_generate_and_complete_pass_top_k_and_top_p_on():
    model, tok = _tiny_char_model()
    idx = torch.zeros(1, 1, dtype=torch.long)
    greedy = generate(model, idx, 12, temperature=0)
    for kwargs in (dict(top_k=1), dict(top_p=1e-6)):  # each leaves only the likeliest token
        assert torch.equal(generate(model, idx, 12, temperature=1.0, generator=torch.Generator().manual_seed(1),
                                    **kwargs), greedy)
        assert complete(model, tok, "a", 12, temperature=1.0, seed=1, **kwargs) == \
            complete(model, tok, "a", 12, temperature=0)


def test_complete_defaults():
    model, tok = _tiny_char_model()
    with torch.no_grad():
        model.head.weight.mul_(30)  # a peaked distribution, so that temperature shows
    (default,) = complete(model, tok, "ab", max_new_tokens=60)  # one sample, temperature 1, seed 0
    assert [default] == complete(model, tok, "ab", max_new_tokens=60, num_samples=1, temperature=1.0, seed=0)
    assert [default] != complete(model, tok, "ab", max_new_tokens=60, temperature=2.0, seed=0)
    assert len(complete(model, tok, "ab", max_new_tokens=6, seed=None)[0]) == 6  # unseeded works too


def test_special_tokens_in_a_prompt_need_allow_special():
    from minillm.bpe import ENDOFTEXT, BPETokenizer

    tok = BPETokenizer.train("to be or not to be " * 20, vocab_size=270)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match="special token"):
        complete(model, tok, ENDOFTEXT + "to", max_new_tokens=2)
    assert len(complete(model, tok, ENDOFTEXT + "to", max_new_tokens=2, allow_special=True)) == 1
