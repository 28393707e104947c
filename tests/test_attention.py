"""Attention with any mask: the reference and every backend agree on causal, padding, cross and cached shapes."""

import pytest
import torch

from minillm.attention import ATTENTION, causal_mask, reference_attention


def qkv(Tq, Tk, B=2, nh=3, hs=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, nh, Tq, hs, generator=g, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(B, nh, Tk, hs, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    return q, k, v


def padding(lengths, Tk):
    """(B, 1, 1, Tk): True for each sequence's first `length` keys, False for its padding."""
    return (torch.arange(Tk)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]


CASES = {  # name -> (Tq, Tk, mask builder, causal)
    "causal, square": (6, 6, None, True),
    "causal, the last 2 queries of 7 (a KV cache)": (2, 7, None, True),
    "no mask (an encoder)": (5, 5, None, False),
    "padding mask, encoder": (5, 5, lambda: padding([5, 3], 5), False),
    "padding mask and causal": (5, 5, lambda: padding([5, 3], 5), True),
    "cross-attention: 3 queries, 6 keys, padded": (3, 6, lambda: padding([6, 4], 6), False),
    "a mask per head": (4, 4, lambda: (torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.7)
                        | torch.eye(4, dtype=torch.bool), False),
}


@pytest.mark.parametrize("impl", sorted(set(ATTENTION) - {"reference"}))
@pytest.mark.parametrize("case", CASES)
def test_every_backend_matches_the_reference_values_and_grads(impl, case):
    Tq, Tk, make_mask, causal = CASES[case]
    mask = make_mask() if make_mask else None
    q, k, v = qkv(Tq, Tk)
    out_ref = reference_attention(q, k, v, mask=mask, causal=causal)
    out = ATTENTION[impl](q, k, v, mask=mask, causal=causal)
    torch.testing.assert_close(out, out_ref)
    for a, b in zip(torch.autograd.grad(out.square().sum(), (q, k, v)),
                    torch.autograd.grad(out_ref.square().sum(), (q, k, v))):
        torch.testing.assert_close(a, b)


def test_causal_queries_at_the_end_see_what_the_full_sequence_would():
    """With a KV cache the last queries attend exactly as those rows of full causal attention do."""
    q, k, v = qkv(7, 7)
    full = reference_attention(q, k, v)
    torch.testing.assert_close(reference_attention(q[:, :, -2:], k, v), full[:, :, -2:])
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]


@pytest.mark.parametrize("impl", sorted(ATTENTION))
@pytest.mark.parametrize("causal", [False, True])
def test_masked_keys_do_not_matter(impl, causal):
    """Sequence 1 is left-padded by 2 (as in batched generation): its keys 0 and 1 must not count."""
    q, k, v = qkv(6, 6)
    mask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    mask[1, :, :, :2] = False
    out = ATTENTION[impl](q, k, v, mask=mask, causal=causal)
    k2, v2 = k.detach().clone(), v.detach().clone()
    k2[1, :, :2] += 50.0
    v2[1, :, :2] -= 50.0
    changed = ATTENTION[impl](q, k2, v2, mask=mask, causal=causal)
    torch.testing.assert_close(changed[1, :, 2:], out[1, :, 2:])


def test_without_the_causal_mask_the_future_counts():
    q, k, v = qkv(5, 5)
    v2 = v.detach().clone()
    v2[:, :, -1] += 10.0
    assert not torch.allclose(reference_attention(q, k, v2, causal=False)[:, :, 0],
                              reference_attention(q, k, v, causal=False)[:, :, 0])
    torch.testing.assert_close(reference_attention(q, k, v2)[:, :, 0], reference_attention(q, k, v)[:, :, 0])


@pytest.mark.parametrize("impl", sorted(ATTENTION))
def test_bad_masks_are_refused_clearly(impl):
    q, k, v = qkv(3, 5)
    with pytest.raises(TypeError, match="bool"):
        ATTENTION[impl](q, k, v, mask=torch.ones(3, 5), causal=False)
    with pytest.raises(ValueError, match=r"does not broadcast to \(B, nh, Tq, Tk\)"):
        ATTENTION[impl](q, k, v, mask=torch.ones(3, 4, dtype=torch.bool), causal=False)
    with pytest.raises(ValueError, match="at least as many keys as queries"):
        ATTENTION[impl](*qkv(5, 3), causal=True)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_attention_dropout_drops_links_at_the_rate_and_rescales(p):
    """With every value a one-hot of its key, the output is the (dropped) attention weights themselves."""
    torch.manual_seed(0)
    T = 64
    q, k = torch.zeros(4, 8, T, 16), torch.zeros(4, 8, T, 16)  # equal scores: row i has weight 1 / T per key
    v = torch.eye(T).expand(4, 8, T, T)
    weights = reference_attention(q, k, v, causal=False, dropout_p=p)
    dropped = (weights == 0).float().mean().item()
    assert abs(dropped - p) < 0.01, f"dropped {dropped:.3f} of the links, expected {p}"
    kept = weights[weights != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / T / (1 - p)))  # survivors scaled by 1 / (1 - p)


@pytest.mark.parametrize("impl", sorted(ATTENTION))
@pytest.mark.parametrize("n_kv", [1, 3])
def test_grouped_query_heads_share_keys_and_values(impl, n_kv):
    """k, v with n_kv heads for 6 query heads: the same as each key/value head repeated 6 // n_kv times."""
    g = torch.Generator().manual_seed(n_kv)
    q = torch.randn(2, 6, 5, 16, generator=g)
    k, v = (torch.randn(2, n_kv, 5, 16, generator=g, requires_grad=True) for _ in range(2))
    out = ATTENTION[impl](q, k, v, causal=True)
    repeated = [t.repeat_interleave(6 // n_kv, dim=1) for t in (k, v)]
    torch.testing.assert_close(out, reference_attention(q, *repeated, causal=True), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="divide the query heads"):
        ATTENTION[impl](q, k[:, :1].expand(2, 4, 5, 16), v[:, :1].expand(2, 4, 5, 16))
