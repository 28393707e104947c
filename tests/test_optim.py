import math

import pytest
import torch
import torch.nn as nn

from minillm.model import GPT
from minillm.optim import AdamW, clip_grad_norm, lr_at, param_groups


def _two_models(tiny_config):
    torch.manual_seed(0)
    a = GPT(tiny_config).double()  # float64, so only a real difference in the algorithm shows
    b = GPT(tiny_config).double()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adamw_matches_torch_step_for_step(tiny_config, weight_decay):
    ours_model, ref_model = _two_models(tiny_config)
    kw = dict(lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
    ours = AdamW(param_groups(ours_model, weight_decay), **kw)
    ref = torch.optim.AdamW(param_groups(ref_model, weight_decay), **kw)
    for step in range(6):
        idx = torch.randint(0, tiny_config.vocab_size, (4, 8))
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            opt.zero_grad()
            model(idx, idx.roll(1, 1))[1].backward()
            for g in opt.param_groups:
                g["lr"] = lr_at(step, 3e-3, 2, 6)
            opt.step()
        for p, q in zip(ours_model.parameters(), ref_model.parameters()):
            torch.testing.assert_close(p, q, atol=1e-12, rtol=1e-10)


def test_adamw_state_dict_round_trip(tiny_config):
    model, _ = _two_models(tiny_config)
    opt = AdamW(model.parameters(), lr=1e-3)
    model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))[1].backward()
    opt.step()
    fresh = AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(opt.state_dict())
    p = next(model.parameters())
    torch.testing.assert_close(fresh.state[p]["exp_avg"], opt.state[p]["exp_avg"])
    assert fresh.state[p]["step"] == 1


def test_decoupled_weight_decay_shrinks_weights_without_gradient_signal():
    p = nn.Parameter(torch.ones(3))
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(3)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 1 - 0.1 * 0.5))


def test_param_groups_skip_biases_norms_and_embeddings(tiny_config):
    model = GPT(tiny_config)
    decay, no_decay = param_groups(model, 0.1)
    decayed = {id(p) for p in decay["params"]}
    assert id(model.blocks[0].attn.qkv.weight) in decayed
    assert id(model.blocks[0].attn.qkv.bias) not in decayed
    assert id(model.blocks[0].norm1.weight) not in decayed
    assert id(model.tok_emb.weight) not in decayed and id(model.pos_emb.weight) not in decayed
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    with_emb = param_groups(model, 0.1, decay_embeddings=True)[0]
    assert id(model.tok_emb.weight) in {id(p) for p in with_emb["params"]}


def test_lr_schedule_golden_values():
    # warmup 10 steps to 1e-3, cosine to 1e-4 at step 110
    got = [lr_at(s, 1e-3, 10, 110) for s in (0, 4, 9, 10, 35, 60, 85, 110, 500)]
    want = [1e-4, 5e-4, 1e-3, 1e-3, 1e-4 + 0.9e-3 * (1 + math.cos(math.pi / 4)) / 2, 5.5e-4,
            1e-4 + 0.9e-3 * (1 + math.cos(3 * math.pi / 4)) / 2, 1e-4, 1e-4]
    assert got == pytest.approx(want, rel=1e-12)


def test_lr_schedule_is_continuous_and_monotone_after_warmup():
    lrs = [lr_at(s, 1.0, 20, 200) for s in range(250)]
    assert max(lrs) == 1.0
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:]))
    assert lrs[-1] == pytest.approx(0.1)


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e6])
def test_clip_grad_norm_matches_torch(max_norm):
    ours = [nn.Parameter(torch.randn(5, 3)), nn.Parameter(torch.randn(7))]
    ref = [nn.Parameter(p.detach().clone()) for p in ours]
    for a, b in zip(ours, ref):
        a.grad = torch.randn_like(a) * 3
        b.grad = a.grad.clone()
    total = clip_grad_norm(ours, max_norm)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm)
    torch.testing.assert_close(total, total_ref)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.grad, b.grad)


def test_adamw_defaults_are_torchs(tiny_config):
    ours_model, ref_model = _two_models(tiny_config)
    ours, ref = AdamW(ours_model.parameters()), torch.optim.AdamW(ref_model.parameters())
    for model, opt in ((ours_model, ours), (ref_model, ref)):
        idx = torch.arange(8).view(1, 8) % tiny_config.vocab_size
        model(idx, idx)[1].backward()
        opt.step()
    for p, q in zip(ours_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("bad, message", [
    (dict(lr=-1e-3), "must be >= 0"), (dict(eps=-1e-8), "must be >= 0"), (dict(weight_decay=-0.1), "must be >= 0"),
    (dict(betas=(1.0, 0.99)), "betas must lie in"), (dict(betas=(0.9, 1.5)), "betas must lie in"),
    (dict(betas=(-0.1, 0.99)), "betas must lie in")])
def test_adamw_rejects_impossible_settings(bad, message):
    with pytest.raises(ValueError, match=message):
        AdamW([nn.Parameter(torch.ones(2))], **bad)


def test_adamw_accepts_the_edges():
    AdamW([nn.Parameter(torch.ones(2))], lr=0.0, eps=0.0, weight_decay=0.0, betas=(0.0, 0.0))


def test_frozen_parameters_are_left_out_of_the_groups(tiny_config):
    model = GPT(tiny_config)
    model.tok_emb.weight.requires_grad_(False)  # the first parameter, frozen
    decay, no_decay = param_groups(model, 0.1)
    grouped = {id(p) for p in decay["params"] + no_decay["params"]}
    assert id(model.tok_emb.weight) not in grouped
    assert len(grouped) == len([p for p in model.parameters() if p.requires_grad])


def test_clip_grad_norm_without_gradients():
    assert clip_grad_norm([nn.Parameter(torch.ones(2))], 1.0).item() == 0.0


def test_adamw_step_skips_parameters_without_gradients_and_returns_the_closures_loss():
    frozen, trained = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = AdamW([frozen, trained], lr=0.1, weight_decay=0.0)

    def closure():
        opt.zero_grad()
        loss = (trained * 3).sum()  # frozen gets no gradient
        loss.backward()
        return loss

    assert opt.step(closure).item() == 6.0
    assert torch.equal(frozen.detach(), torch.ones(2)) and (trained.detach() < 1).all()
