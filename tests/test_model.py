import math

import pytest
import torch
import torch.nn.functional as F

from minillm.attention import ATTENTION, reference_attention, sdpa_attention
from minillm.errors import ConfigError
from minillm.model import GPT, GPTConfig


@pytest.mark.parametrize("T", [1, 5, 16])
def test_reference_attention_matches_sdpa_values_and_grads(T):
    q, k, v = (torch.randn(2, 3, T, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out_ref = reference_attention(q, k, v)
    grads_ref = torch.autograd.grad(out_ref.square().sum(), (q, k, v))
    out = sdpa_attention(q, k, v)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    torch.testing.assert_close(out_ref, out)
    for a, b in zip(grads_ref, grads):
        torch.testing.assert_close(a, b)


def test_reference_attention_is_causal():
    q, k, v = (torch.randn(1, 1, 6, 4) for _ in range(3))
    out = reference_attention(q, k, v)
    v2 = v.clone()
    v2[:, :, 4:] += 100.0  # change the future
    torch.testing.assert_close(reference_attention(q, k, v2)[:, :, :4], out[:, :, :4])


def test_first_position_attends_only_to_itself():
    q, k, v = (torch.randn(1, 2, 5, 4) for _ in range(3))
    torch.testing.assert_close(reference_attention(q, k, v)[:, :, 0], v[:, :, 0])


@pytest.mark.parametrize("impl", sorted(set(ATTENTION) - {"reference"}))
def test_model_output_does_not_depend_on_attention_impl(impl, tiny_config):
    """Every fast attention against the reference, in the whole model: logits and all gradients."""
    torch.manual_seed(0)
    base = GPT(GPTConfig(**{**tiny_config.to_dict(), "attention": "reference"}))
    other = GPT(GPTConfig(**{**tiny_config.to_dict(), "attention": impl}))
    other.load_state_dict(base.state_dict())
    idx = torch.randint(0, tiny_config.vocab_size, (3, 8))
    logits_a, loss_a = base(idx, idx)
    logits_b, loss_b = other(idx, idx)
    torch.testing.assert_close(logits_a, logits_b, atol=1e-5, rtol=1e-5)
    grads_a = torch.autograd.grad(loss_a, list(base.parameters()))
    grads_b = torch.autograd.grad(loss_b, list(other.parameters()))
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_forward_shapes_and_loss_at_init(tiny_config):
    model = GPT(tiny_config)
    idx = torch.randint(0, 11, (4, 8))
    logits, loss = model(idx, idx)
    assert logits.shape == (4, 8, 11)
    # with small init the prediction is near uniform: loss ~ ln(V)
    assert abs(loss.item() - math.log(11)) < 0.3
    assert model(idx)[1] is None


def test_loss_is_cross_entropy(tiny_config):
    model = GPT(tiny_config)
    idx, targets = torch.randint(0, 11, (2, 8)), torch.randint(0, 11, (2, 8))
    logits, loss = model(idx, targets)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)))


def test_model_is_causal(tiny_config):
    model = GPT(tiny_config).eval()
    idx = torch.randint(0, 11, (1, 8))
    changed = idx.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 11
    torch.testing.assert_close(model(idx)[0][:, :5], model(changed)[0][:, :5])


def test_parameter_count_matches_formula(tiny_config):
    c = tiny_config
    model = GPT(c)
    C, V, L, T = c.n_embd, c.vocab_size, c.n_layer, c.block_size
    per_block = (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C) + 2 * 2 * C
    expected = V * C + T * C + L * per_block + 2 * C  # tied head adds nothing
    assert model.num_params() == expected
    assert model.num_params(exclude_embeddings=True) == expected - V * C - T * C
    untied = GPT(GPTConfig(**{**c.to_dict(), "tie_weights": False}))
    assert untied.num_params() == expected + V * C


def test_tied_weights_share_storage(tiny_config):
    model = GPT(tiny_config)
    assert model.head.weight is model.tok_emb.weight


def test_gpt2_initialisation_statistics():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=500, block_size=256, n_layer=8, n_head=4, n_embd=256)
    model = GPT(cfg)
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 0.002
    assert abs(model.pos_emb.weight.std().item() - 0.01) < 0.001
    assert abs(model.blocks[0].attn.qkv.weight.std().item() - 0.02) < 0.002
    assert abs(model.blocks[0].mlp.proj.weight.std().item() - 0.02 / math.sqrt(16)) < 0.001
    assert model.blocks[0].attn.qkv.bias.abs().max() == 0


@pytest.mark.parametrize("bad, message", [
    (dict(n_embd=30, n_head=4), "not divisible by n_head"),
    (dict(n_layer=0), "n_layer must be a positive integer"),
    (dict(dropout=1.0), "dropout"),
    (dict(attention="flash"), "unknown attention"),
    (dict(norm="batchnorm"), "unknown norm"),
    (dict(bias="no"), "bias must be a bool"),
    (dict(dropout="0.1"), "dropout must be a float, got '0.1'"),
    (dict(dropout=float("nan")), "dropout must be a finite float"),
    (dict(n_layer=True), "n_layer must be an int"),
    (dict(n_embd=128.0), "n_embd must be an int"),
])
def test_impossible_configs_raise_clear_errors(bad, message):
    with pytest.raises(ConfigError, match=message):
        GPTConfig(**bad)


def test_unknown_config_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'n_layer'"):
        GPTConfig.from_dict({"n_layers": 3})


def test_sequence_longer_than_context_is_rejected(tiny_config):
    model = GPT(tiny_config)
    with pytest.raises(ValueError, match="longer than the model's block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_float_input_is_rejected(tiny_config):
    with pytest.raises(ValueError, match="integer token ids"):
        GPT(tiny_config)(torch.zeros(1, 4))


@pytest.mark.parametrize("choices", [
    dict(),                                                         # GPT-2: LayerNorm, GELU
    dict(norm="rmsnorm", activation="swiglu", bias=False),          # LLaMA
    dict(activation="gelu_tanh"), dict(activation="relu"), dict(activation="silu"), dict(activation="geglu"),
    dict(norm_position="post"),
])
def test_scratch_ops_give_the_torch_model(choices):
    """ops="scratch" (minillm.functional, minillm.layers) against ops="torch": logits, loss and every gradient."""
    cfg = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16, ffn_multiple_of=8, **choices)
    torch.manual_seed(0)
    fast = GPT(GPTConfig(**cfg)).double()
    slow = GPT(GPTConfig(**cfg, ops="scratch", attention="reference")).double()
    slow.load_state_dict(fast.state_dict())
    idx = torch.randint(0, 13, (3, 8))
    targets = idx.roll(-1, dims=1)
    targets[0, :3] = -100  # ignored positions go through both losses too
    (logits_a, loss_a), (logits_b, loss_b) = fast(idx, targets), slow(idx, targets)
    torch.testing.assert_close(logits_b, logits_a)
    torch.testing.assert_close(loss_b, loss_a)
    for a, b in zip(torch.autograd.grad(loss_a, list(fast.parameters())),
                    torch.autograd.grad(loss_b, list(slow.parameters()))):
        torch.testing.assert_close(b, a)
    assert type(slow.blocks[0].norm1).__module__ == "minillm.layers"  # the scratch path really is ours


def test_ignored_targets_leave_the_loss(tiny_config):
    model = GPT(tiny_config)
    idx = torch.randint(0, 11, (2, 8))
    targets = idx.clone()
    targets[:, :5] = -100
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, 11), idx[:, 5:].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_dropout_is_on_in_training_and_off_in_eval():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.3))
    idx = torch.randint(0, 11, (2, 8))
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    torch.testing.assert_close(model(idx)[0], model(idx)[0], rtol=0, atol=0)


@pytest.mark.parametrize("extra", [dict(), dict(n_kv_head=1, position="rope"), dict(attention="reference")])
def test_attention_maps_are_the_weights_each_layer_used(extra):
    """Rebuild layer 0's output from its recorded weights: the maps are what the model computed."""
    from minillm.model import attention_maps

    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.1, **extra))
    model.train()
    idx = torch.randint(0, 11, (2, 7))
    maps = attention_maps(model, idx)
    assert maps.shape == (2, 2, 2, 7, 7) and model.training  # training mode restored
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 2, 2, 7))
    assert maps.triu(1).abs().max() == 0  # causal: nothing above the diagonal
    model.eval()
    attn = model.blocks[0].attn
    x = model.blocks[0].norm1(model.embed(idx))
    v = attn.qkv(x).split([16, attn.n_kv_head * 8, attn.n_kv_head * 8], dim=2)[2]
    v = v.view(2, 7, attn.n_kv_head, 8).transpose(1, 2).repeat_interleave(2 // attn.n_kv_head, dim=1)
    y = (maps[0] @ v).transpose(1, 2).reshape(2, 7, 16)
    torch.testing.assert_close(attn.proj(y), attn(x))
    assert attn.weights is None and not attn.keep_weights  # nothing kept after the call
