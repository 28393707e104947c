"""LayerNorm and RMSNorm from scratch against PyTorch's own, values and gradients; both in the model."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minillm.layers import LayerNorm, RMSNorm
from minillm.model import GPT, GPTConfig


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


@pytest.mark.parametrize("norm, activation", [("rmsnorm", "silu"), ("layernorm", "relu"), ("layernorm", "gelu_tanh")])
def test_the_model_builds_and_learns_with_each_choice(norm, activation):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, norm=norm,
                          activation=activation, bias=norm == "layernorm"))
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
