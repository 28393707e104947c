"""FlashAttention's algorithm in plain PyTorch (minillm.flash) against the reference attention."""


import pytest
import torch

from minillm.attention import reference_attention
from minillm.flash import reference_lse, tiled_attention, tiled_attention_backward


CASES = [  # B, nh, n_kv, Tq, Tk, hs, causal
    (2, 2, 2, 16, 16, 8, True),
    (1, 4, 2, 37, 37, 16, True),    # lengths that are not block multiples, grouped-query heads
    (2, 3, 1, 20, 45, 8, True),     # fewer queries than keys (a KV cache's shape), multi-query
    (1, 2, 2, 29, 13, 16, False),   # an encoder or cross-attention: more queries than keys
]


@pytest.mark.parametrize("B, nh, n_kv, Tq, Tk, hs, causal", CASES)
def test_tiled_attention_equals_the_reference(B, nh, n_kv, Tq, Tk, hs, causal):
    g = torch.Generator().manual_seed(Tq * Tk)
    q = torch.randn(B, nh, Tq, hs, generator=g, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(B, n_kv, Tk, hs, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    ref = reference_attention(q, k, v, causal=causal)
    dout = torch.randn_like(ref)
    ref.backward(dout)
    out, lse = tiled_attention(q.detach(), k.detach(), v.detach(), causal, block_m=8, block_n=16)
    torch.testing.assert_close(out, ref.detach())
    torch.testing.assert_close(lse, reference_lse(q, k, causal).detach())
    grads = tiled_attention_backward(q.detach(), k.detach(), v.detach(), out, lse, dout, causal, block_m=16,
                                     block_n=8)
    for mine, theirs, name in zip(grads, (q.grad, k.grad, v.grad), "qkv"):
        torch.testing.assert_close(mine, theirs, msg=lambda m: f"d{name}: {m}")


def test_tiled_attention_keeps_the_dtype_and_accumulates_in_float32():
    q, k, v = (torch.randn(1, 2, 24, 16, dtype=torch.bfloat16) for _ in range(3))
    out, lse = tiled_attention(q, k, v)
    assert out.dtype == torch.bfloat16 and lse.dtype == torch.float32
    ref = reference_attention(q.double(), k.double(), v.double())
    assert (out.double() - ref).abs().max() < 2e-2  # bf16 rounding of the output only


def test_flash_function_gives_the_references_gradients_and_keeps_linear_memory():
    from minillm.flash import flash_attention_torch, saved_bytes

    q, k, v = (torch.randn(1, 2, 40, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out = flash_attention_torch(q, k, v)
    torch.testing.assert_close(out, reference_attention(q, k, v))
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    for a, b in zip(grads, torch.autograd.grad(reference_attention(q, k, v).square().sum(), (q, k, v))):
        torch.testing.assert_close(a, b)
    # memory kept for backward: out (T x 8 x 8 bytes) and lse (T x 8 bytes) per head, vs T x T per head and more
    T, nh = 40, 2
    assert saved_bytes(flash_attention_torch, q, k, v) == nh * T * 8 * 8 + nh * T * 8
    assert saved_bytes(reference_attention, q, k, v) >= nh * T * T * 8
