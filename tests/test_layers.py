"""LayerNorm and RMSNorm from scratch against PyTorch's own, values and gradients; both in the model."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minillm.errors import ConfigError
from minillm.layers import LayerNorm, RMSNorm, Rotary, sinusoidal_positions
from minillm.model import GPT, MLP, GPTConfig, ffn_width


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (3 * torch.randn(2, 5, 16, generator=g, dtype=torch.float64) + 1.5).requires_grad_()
    gamma = torch.randn(16, generator=g, dtype=torch.float64)
    beta = torch.randn(16, generator=g, dtype=torch.float64)
    return x, gamma, beta


def _check(ours, theirs, x):
    params = [p for p in ours.parameters()]
    y, y_ref = ours(x), theirs(x)
    torch.testing.assert_close(y, y_ref)
    grads = torch.autograd.grad(y.sin().sum(), [x, *params])
    grads_ref = torch.autograd.grad(y_ref.sin().sum(), [x, *theirs.parameters()])
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_pytorch(bias):
    x, gamma, beta = _inputs()
    ours, theirs = LayerNorm(16, bias=bias).double(), nn.LayerNorm(16, bias=bias).double()
    with torch.no_grad():
        for m in (ours, theirs):
            m.weight.copy_(gamma)
            if bias:
                m.bias.copy_(beta)
    _check(ours, theirs, x)


def test_rmsnorm_matches_pytorch():
    x, gamma, _ = _inputs(1)
    ours, theirs = RMSNorm(16).double(), nn.RMSNorm(16, eps=1e-6).double()
    with torch.no_grad():
        ours.weight.copy_(gamma)
        theirs.weight.copy_(gamma)
    _check(ours, theirs, x)
    assert [name for name, _ in RMSNorm(16, bias=True).named_parameters()] == ["weight"]  # never a bias


def test_the_norms_do_what_the_formulas_say():
    x, _, _ = _inputs(2)
    y = LayerNorm(16).double()(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 5, dtype=torch.float64))
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 5, dtype=torch.float64), rtol=1e-4, atol=1e-4)
    r = RMSNorm(16).double()(x)
    torch.testing.assert_close(r.square().mean(-1), torch.ones(2, 5, dtype=torch.float64), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(RMSNorm(16).double()(5 * x), r, rtol=1e-4, atol=1e-4)  # scale-invariant


@pytest.mark.parametrize("norm, activation, extra", [
    ("rmsnorm", "silu", {}), ("layernorm", "relu", {}), ("layernorm", "gelu_tanh", {"norm_position": "post"}),
    ("rmsnorm", "swiglu", {"n_kv_head": 1, "position": "rope"}), ("layernorm", "geglu", {"n_kv_head": 2})])
def test_the_model_builds_and_learns_with_each_choice(norm, activation, extra):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, norm=norm,
                          activation=activation, bias=norm == "layernorm", ffn_multiple_of=16, **extra))
    idx = torch.randint(0, 11, (4, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        _, loss = model(idx, idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # it memorises one batch
    assert any(isinstance(m, RMSNorm) for m in model.modules()) == (norm == "rmsnorm")


# ----------------------------------------------------------------------------
# positions

def test_sinusoidal_table_follows_the_formula():
    table = sinusoidal_positions(50, 16)
    for p, i in [(0, 0), (7, 3), (49, 7)]:
        angle = p / 10000 ** (2 * i / 16)
        assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def _rope_complex(x, offset=0, base=10000.0):
    """The reference: channel pairs (i, i + hs/2) as complex numbers, multiplied by e^(j * position * theta_i)."""
    T, hs = x.size(-2), x.size(-1)
    theta = base ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)
    angles = torch.arange(offset, offset + T, dtype=torch.float64)[:, None] * theta  # (T, hs/2)
    z = torch.complex(x[..., : hs // 2], x[..., hs // 2:]) * torch.polar(torch.ones_like(angles), angles)
    return torch.cat([z.real, z.imag], dim=-1)


@pytest.mark.parametrize("offset", [0, 5])
def test_rope_is_a_rotation_of_each_channel_pair(offset):
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    rope = Rotary(8, 16)
    torch.testing.assert_close(rope(x, offset=offset), _rope_complex(x, offset), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))  # rotations keep lengths


def test_rope_scores_depend_only_on_the_relative_position():
    q, k = torch.randn(1, 1, 1, 8, dtype=torch.float64), torch.randn(1, 1, 1, 8, dtype=torch.float64)
    rope = Rotary(8, 64)

    def score(m, n):  # query at position m, key at position n
        return (rope(q, offset=m) * rope(k, offset=n)).sum().item()

    assert score(3, 1) == pytest.approx(score(13, 11)) == pytest.approx(score(40, 38))
    assert score(3, 1) != pytest.approx(score(3, 2))


@pytest.mark.parametrize("position", ["learned", "sinusoidal", "rope"])
def test_the_model_uses_each_position_encoding(position):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, position=position)
    model = GPT(cfg)
    assert (model.pos_emb is not None) == (position == "learned")
    assert not any("pos_table" in k or "rotary" in k for k in model.state_dict())  # fixed tables aren't saved
    # without positions, attention is blind to order: swapping two earlier tokens would not change the
    # last prediction. With each encoding it does.
    a, _ = model(torch.tensor([[1, 2, 5, 4]]))
    b, _ = model(torch.tensor([[2, 1, 5, 4]]))
    assert not torch.allclose(a[0, -1], b[0, -1])


def test_impossible_position_settings_say_what_to_change():
    with pytest.raises(ConfigError, match=r"head size n_embd // n_head must be even; got 12 // 4 = 3"):
        GPTConfig(n_embd=12, n_head=4, position="rope")
    with pytest.raises(ValueError, match="past the 8"):
        Rotary(4, 8)(torch.zeros(1, 1, 3, 4), offset=6)


# ----------------------------------------------------------------------------
# gated MLPs

@pytest.mark.parametrize("activation, gate", [("swiglu", F.silu), ("geglu", F.gelu)])
def test_gated_mlp_is_the_gate_times_the_up_projection(activation, gate):
    cfg = GPTConfig(n_embd=16, n_head=2, activation=activation, ffn_multiple_of=8, bias=False)
    mlp = MLP(cfg).double()
    x = torch.randn(2, 3, 16, dtype=torch.float64)
    expected = mlp.proj(gate(x @ mlp.fc.weight.T) * (x @ mlp.up.weight.T))
    torch.testing.assert_close(mlp(x), expected)
    assert mlp.fc.out_features == 48  # 8/3 * 16 = 42.7, rounded up to a multiple of 8


def test_gated_widths_match_llama_and_keep_the_parameter_count():
    assert ffn_width(GPTConfig(n_embd=4096, n_head=32, activation="swiglu")) == 11008  # LLaMA-7B
    assert ffn_width(GPTConfig(n_embd=5120, n_head=40, activation="swiglu")) == 13824  # LLaMA-13B
    plain = sum(p.numel() for p in MLP(GPTConfig(n_embd=768, n_head=12, bias=False)).parameters())
    gated = sum(p.numel() for p in MLP(GPTConfig(n_embd=768, n_head=12, activation="swiglu", bias=False)).parameters())
    assert abs(gated / plain - 1) < 0.05  # three matrices of 2/3 the width: about the same count


def test_a_checkpoint_saved_before_a_setting_existed_still_matches_its_model():
    from minillm.checkpoint import check_config

    cfg = GPTConfig()
    old = {k: v for k, v in cfg.to_dict().items() if k != "ffn_multiple_of"}
    check_config({"model_config": old}, cfg)  # no error: the missing setting takes its default


# ----------------------------------------------------------------------------
# grouped-query attention, pre- and post-norm

@pytest.mark.parametrize("n_kv_head", [1, 2])
def test_grouped_query_attention_is_multi_head_attention_with_shared_keys_and_values(n_kv_head):
    """Copy each key/value head to the query heads it serves: an ordinary multi-head model gives the same logits."""
    torch.manual_seed(0)
    small = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=4, n_kv_head=n_kv_head, n_embd=16))
    full = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=4, n_embd=16))
    state, hs, group = small.state_dict(), 4, 4 // n_kv_head
    for name, tensor in list(state.items()):
        if name.endswith("attn.qkv.weight") or name.endswith("attn.qkv.bias"):
            q, k, v = tensor.split([16, n_kv_head * hs, n_kv_head * hs])
            widen = lambda t: t.reshape(n_kv_head, hs, *t.shape[1:]).repeat_interleave(group, 0).reshape(16, *t.shape[1:])
            state[name] = torch.cat([q, widen(k), widen(v)])
    full.load_state_dict(state)
    idx = torch.randint(0, 11, (2, 8))
    torch.testing.assert_close(small(idx)[0], full(idx)[0], atol=1e-5, rtol=1e-5)
    assert small.num_params() < full.num_params()


def test_post_norm_normalises_after_each_residual_addition():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, norm_position="post"))
    block, x = model.blocks[0], torch.randn(2, 5, 16)
    h = block.norm1(x + block.attn(x))
    torch.testing.assert_close(block(x), block.norm2(h + block.mlp(h)))
    assert isinstance(model.norm_f, torch.nn.Identity)  # the last block already ends in a norm


def test_impossible_head_and_norm_settings_say_what_to_change():
    with pytest.raises(ConfigError, match="n_head=4 is not divisible by n_kv_head=3"):
        GPTConfig(n_head=4, n_kv_head=3)
    with pytest.raises(ConfigError, match="unknown norm_position 'middle'"):
        GPTConfig(norm_position="middle")


def test_architectures_set_the_design_choices_and_leave_the_sizes():
    llama = GPTConfig.architecture("llama", vocab_size=11, block_size=8, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
                                   ffn_multiple_of=16)
    assert (llama.position, llama.norm, llama.activation, llama.bias, llama.tie_weights) == \
        ("rope", "rmsnorm", "swiglu", False, False)
    model = GPT(llama)
    assert model.pos_emb is None and model.head.weight is not model.tok_emb.weight
    assert not any(name.endswith(".bias") for name, _ in model.named_parameters())
    gpt2 = GPTConfig.architecture("gpt2", n_layer=1)
    assert (gpt2.position, gpt2.activation, gpt2.tie_weights, gpt2.n_layer) == ("learned", "gelu_tanh", True, 1)
    with pytest.raises(ConfigError, match="unknown architecture 'bert'"):
        GPTConfig.architecture("bert")
