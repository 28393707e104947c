"""The M3 (Transformer) checkers, softmax to parameter counts: each passes right answers however they are
written, and fails each typical mistake with the hint that names it.

The wrong answers below are written the way a student would write them, not
with the checkers' own helpers, so that a hint is only found when the checker
really recognises the mistake. (Every checker is also run against its own
list of known mistakes, its solution and a stub in test_exercises_core.py.)
"""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from minillm import exercises, scaling
from minillm.attention import reference_attention, sdpa_attention
from minillm.functional import softmax
from minillm.model import GPT, GPTConfig

# ----------------------------------------------------------------------------
# right answers


def softmax_by_logsumexp(x):
    return (x - x.logsumexp(dim=-1, keepdim=True)).exp()


def softmax_with_amax(x):
    e = torch.exp(x - x.amax(-1, keepdim=True))
    return e / e.sum(-1, keepdim=True)


def rms_with_rsqrt(x, weight, eps=1e-6):
    return weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rms_with_torch(x, weight, eps=1e-6):
    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def rope_rotate_half(x, offset=0):  # Hugging Face's LLaMA: x * cos + rotate_half(x) * sin, angles repeated
    T, hs = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
    angles = torch.outer(torch.arange(offset, offset + T).float(), inv_freq)  # (T, hs/2)
    cos, sin = torch.cat([angles, angles], dim=-1).cos(), torch.cat([angles, angles], dim=-1).sin()
    rotated_half = torch.cat([-x[..., hs // 2:], x[..., : hs // 2]], dim=-1)
    return x * cos + rotated_half * sin


def rope_pair_by_pair(x, offset=0):  # a loop over the pairs, one 2-D rotation each
    out = x.clone()
    T, hs = x.shape[-2], x.shape[-1]
    half = hs // 2
    positions = torch.arange(offset, offset + T, dtype=torch.float32)
    for i in range(half):
        angle = positions * 10000 ** (-2 * i / hs)  # (T,)
        a, b = x[..., i], x[..., i + half]
        out[..., i] = a * torch.cos(angle) - b * torch.sin(angle)
        out[..., i + half] = a * torch.sin(angle) + b * torch.cos(angle)
    return out


def attention_with_sdpa(q, k, v, mask=None, causal=True):
    Tq, Tk = q.shape[-2], k.shape[-2]
    allowed = torch.ones(Tq, Tk, dtype=torch.bool)
    if causal:
        allowed = allowed.tril(diagonal=Tk - Tq)
    if mask is not None:
        allowed = allowed & mask
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


def attention_one_query_at_a_time(q, k, v, mask=None, causal=True):
    Tq, Tk, hs = q.shape[-2], k.shape[-2], q.shape[-1]
    rows = []
    for i in range(Tq):
        scores = (q[..., i:i + 1, :] @ k.transpose(-2, -1)) / hs ** 0.5  # (B, nh, 1, Tk)
        if causal:
            scores[..., Tk - Tq + i + 1:] = float("-inf")  # keys after query i's position
        if mask is not None:
            allowed = mask.expand(*q.shape[:-2], Tq, Tk)[..., i:i + 1, :]  # (B, nh, 1, Tk)
            scores = scores.masked_fill(~allowed, float("-inf"))
        rows.append(torch.softmax(scores, dim=-1) @ v)
    return torch.cat(rows, dim=-2)


def count_by_formula(n_layer, n_embd, vocab_size, block_size):  # per layer 12 d^2 + 13 d, plus the tables
    d = n_embd
    return n_layer * (12 * d * d + 13 * d) + (vocab_size + block_size + 2) * d


def count_by_building(n_layer, n_embd, vocab_size, block_size):  # fine while the model fits in memory
    if n_embd > 64:
        return count_by_formula(n_layer, n_embd, vocab_size, block_size)
    cfg = GPTConfig(n_layer=n_layer, n_embd=n_embd, n_head=1, vocab_size=vocab_size, block_size=block_size)
    return GPT(cfg).num_params()


RIGHT = [
    (exercises.check_stable_softmax, softmax),
    (exercises.check_stable_softmax, lambda x: torch.softmax(x, dim=-1)),
    (exercises.check_stable_softmax, softmax_by_logsumexp),
    (exercises.check_stable_softmax, softmax_with_amax),
    (exercises.check_rms_norm, rms_with_rsqrt),
    (exercises.check_rms_norm, rms_with_torch),
    (exercises.check_apply_rope, rope_rotate_half),
    (exercises.check_apply_rope, rope_pair_by_pair),
    (exercises.check_masked_attention, reference_attention),
    (exercises.check_masked_attention, sdpa_attention),
    (exercises.check_masked_attention, attention_with_sdpa),
    (exercises.check_masked_attention, attention_one_query_at_a_time),
    (exercises.check_count_params, count_by_formula),
    (exercises.check_count_params, count_by_building),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_right_answers(checker, right, capsys):
    checker(right)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


def test_gpt2_small_has_124_439_808_parameters():
    count = exercises.solution("count_params")
    assert count(12, 768, 50257, 1024) == count_by_formula(12, 768, 50257, 1024) == 124_439_808
    cfg = GPTConfig.architecture("gpt2", n_layer=12, n_embd=768, n_head=12, vocab_size=50257, block_size=1024)
    assert scaling.param_count(scaling.from_gpt_config(cfg))["total"] == 124_439_808


def test_the_solutions_keep_gradients():
    x, weight = torch.randn(3, 8, requires_grad=True), torch.randn(8, requires_grad=True)
    exercises.solution("rms_norm")(x, weight).sum().backward()
    assert x.grad is not None and weight.grad is not None
    q = torch.randn(1, 2, 4, 8, requires_grad=True)
    exercises.solution("apply_rope")(q, offset=3).sum().backward()
    assert q.grad is not None


# ----------------------------------------------------------------------------
# the stable softmax

def softmax_naive(x):
    return torch.exp(x) / torch.exp(x).sum(dim=-1, keepdim=True)


def softmax_minus_min(x):
    e = torch.exp(x - x.min(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def softmax_minus_global_max(x):
    e = torch.exp(x - torch.max(x))
    return e / torch.sum(e, dim=-1, keepdim=True)


def softmax_max_without_keepdim(x):
    e = (x - x.max(-1)[0]).exp()
    return e / e.sum(-1, keepdim=True)


def softmax_over_columns(x):
    m = x.max(dim=0, keepdim=True).values
    e = (x - m).exp()
    return e / e.sum(dim=0, keepdim=True)


def softmax_in_place(x):
    x -= x.max(dim=-1, keepdim=True).values
    return x.exp() / x.exp().sum(dim=-1, keepdim=True)


def softmax_max_tuple(x):
    e = (x - x.max(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def softmax_keepdim_nowhere(x):
    e = (x - x.max(-1).values).exp()
    return e / e.sum(-1)


# ----------------------------------------------------------------------------
# RMSNorm

def rms_layer_norm(x, weight, eps=1e-6):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * weight


def rms_no_sqrt(x, weight, eps=1e-6):
    return x / (x ** 2).mean(dim=-1, keepdim=True).add(eps) * weight


def rms_eps_outside(x, weight, eps=1e-6):
    return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight


def rms_own_eps(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * weight


def rms_no_eps(x, weight, eps=1e-6):
    return x / torch.sqrt(torch.mean(x ** 2, dim=-1, keepdim=True)) * weight


def rms_no_weight(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rms_l2_norm(x, weight, eps=1e-6):
    return x / x.norm(dim=-1, keepdim=True) * weight


def rms_whole_tensor(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean() + eps) * weight


def rms_no_keepdim(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1) + eps) * weight


def rms_weight_data(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight.data


@torch.no_grad()
def rms_under_no_grad(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


# ----------------------------------------------------------------------------
# RoPE

def rope_complex(x, offset=0):  # Meta's LLaMA code: complex numbers, so pairs (2i, 2i + 1)
    T, hs = x.shape[-2], x.shape[-1]
    freqs = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
    angles = torch.outer(torch.arange(offset, offset + T).float(), freqs)
    x_c = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(x_c * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


def rope_angles(x, offset, exponent):
    T, hs = x.shape[-2], x.shape[-1]
    theta = 10000.0 ** exponent(torch.arange(hs // 2, dtype=torch.float32), hs)
    return torch.arange(offset, offset + T, dtype=torch.float32)[:, None] * theta  # (T, hs/2)


def rotate(x, angles, sign=1.0):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = angles.cos(), sign * angles.sin()
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def rope_turns_backwards(x, offset=0):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    a = rope_angles(x, offset, lambda i, hs: -2 * i / hs)
    return torch.cat([x1 * a.cos() + x2 * a.sin(), -x1 * a.sin() + x2 * a.cos()], dim=-1)


def rope_no_offset(x, offset=0):
    return rotate(x, rope_angles(x, 0, lambda i, hs: -2 * i / hs))


def rope_exponent_without_2(x, offset=0):
    return rotate(x, rope_angles(x, offset, lambda i, hs: -i / hs))


def rope_positive_exponent(x, offset=0):
    return rotate(x, rope_angles(x, offset, lambda i, hs: 2 * i / hs))


def rope_angles_transposed(x, offset=0):  # (hs/2, T) where (T, hs/2) is needed
    return rotate(x, rope_angles(x, offset, lambda i, hs: -2 * i / hs).T)


# ----------------------------------------------------------------------------
# masked attention

def scores_of(q, k, scale=True):
    s = q @ k.transpose(-2, -1)
    return s / math.sqrt(q.shape[-1]) if scale else s


def causal_keep(q, k):
    Tq, Tk = q.shape[-2], k.shape[-2]
    return torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)


def attention_unscaled(q, k, v, mask=None, causal=True):
    s = scores_of(q, k, scale=False)
    if causal:
        s = s.masked_fill(~causal_keep(q, k), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_fills_zero(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    if causal:
        s = s.masked_fill(~causal_keep(q, k), 0)
    if mask is not None:
        s = s.masked_fill(~mask, 0)
    return F.softmax(s, dim=-1) @ v


def attention_masks_weights(q, k, v, mask=None, causal=True):
    w = F.softmax(scores_of(q, k), dim=-1)
    if causal:
        w = w * causal_keep(q, k)
    if mask is not None:
        w = w * mask
    return w @ v


def attention_upper_triangle(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    if causal:
        s = s.masked_fill(torch.triu(torch.ones(q.shape[-2], k.shape[-2])) == 0, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_top_left(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    if causal:
        s = s.masked_fill(torch.tril(torch.ones(q.shape[-2], k.shape[-2])) == 0, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_square_causal_mask(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    T = q.shape[-2]
    if causal:
        s = s.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_over_queries(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    if causal:
        s = s.masked_fill(~causal_keep(q, k), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=2) @ v


def attention_mask_or_causal(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    elif causal:
        s = s.masked_fill(~causal_keep(q, k), float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_mask_inverted(q, k, v, mask=None, causal=True):  # True = masked out, as key_padding_mask reads
    s = scores_of(q, k)
    if causal:
        s = s.masked_fill(~causal_keep(q, k), float("-inf"))
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


def attention_mask_never_none(q, k, v, mask=None, causal=True):
    s = scores_of(q, k)
    s = s.masked_fill(~mask, float("-inf"))
    return F.softmax(s, dim=-1) @ v


# ----------------------------------------------------------------------------
# parameter counts

def count_untied(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    return vocab_size * d + block_size * d + n_layer * per_layer + 2 * d + d * vocab_size  # + the head


def count_without_biases(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = 3 * d * d + d * d + 4 * d * d + 4 * d * d + 2 * 2 * d
    return vocab_size * d + block_size * d + n_layer * per_layer + 2 * d


def count_norm_weights_only(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * d
    return vocab_size * d + block_size * d + n_layer * per_layer + d


def count_no_final_norm(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    return vocab_size * d + block_size * d + n_layer * per_layer


def count_no_positions(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    return vocab_size * d + n_layer * per_layer + 2 * d


def count_no_output_projection(n_layer, n_embd, vocab_size, block_size):
    d = n_embd
    per_layer = (3 * d * d + 3 * d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    return vocab_size * d + block_size * d + n_layer * per_layer + 2 * d


def count_12_d_squared(n_layer, n_embd, vocab_size, block_size):  # the rule of thumb, not the count
    return 12 * n_layer * n_embd ** 2 + vocab_size * n_embd


def count_as_float(n_layer, n_embd, vocab_size, block_size):
    return count_by_formula(n_layer, n_embd, vocab_size, block_size) / 1


WRONG = [
    (exercises.check_stable_softmax, softmax_naive, "inf / inf is nan"),
    (exercises.check_stable_softmax, softmax_minus_min, "not the minimum"),
    (exercises.check_stable_softmax, softmax_minus_global_max, "not the maximum of the whole tensor"),
    (exercises.check_stable_softmax, softmax_max_without_keepdim, "keepdim=True"),
    (exercises.check_stable_softmax, softmax_keepdim_nowhere, "keepdim=True"),
    (exercises.check_stable_softmax, softmax_over_columns, "each row, the last dimension, is one distribution"),
    (exercises.check_stable_softmax, softmax_in_place, "changed in place"),
    (exercises.check_stable_softmax, softmax_max_tuple, "returns (values, indices)"),
    (exercises.check_rms_norm, rms_layer_norm, "that is LayerNorm"),
    (exercises.check_rms_norm, rms_no_sqrt, "the *root* of the mean square"),
    (exercises.check_rms_norm, rms_eps_outside, "add eps inside the square root"),
    (exercises.check_rms_norm, rms_own_eps, "use the eps passed in"),
    (exercises.check_rms_norm, rms_no_eps, "a token of zeros"),
    (exercises.check_rms_norm, rms_no_weight, "multiply by weight"),
    (exercises.check_rms_norm, rms_l2_norm, "take the *mean* of x^2"),
    (exercises.check_rms_norm, rms_whole_tensor, "normalise each token on its own"),
    (exercises.check_rms_norm, rms_no_keepdim, "keepdim=True"),
    (exercises.check_rms_norm, rms_weight_data, "keep weight in autograd"),
    (exercises.check_rms_norm, rms_under_no_grad, "differentiable tensor operations"),
    (exercises.check_apply_rope, rope_complex, "pair channel i with channel i + hs/2"),
    (exercises.check_apply_rope, rope_turns_backwards, "turns the wrong way"),
    (exercises.check_apply_rope, rope_no_offset, "use the offset"),
    (exercises.check_apply_rope, rope_exponent_without_2, "not to -1/2"),
    (exercises.check_apply_rope, rope_positive_exponent, "has a minus sign"),
    (exercises.check_apply_rope, rope_angles_transposed, "the angles are (T, hs/2)"),
    (exercises.check_masked_attention, attention_unscaled, "scale the scores by 1 / sqrt(hs)"),
    (exercises.check_masked_attention, attention_fills_zero, "with -inf, not 0"),
    (exercises.check_masked_attention, attention_masks_weights, "*before* the softmax"),
    (exercises.check_masked_attention, attention_upper_triangle, "itself and the *past*"),
    (exercises.check_masked_attention, attention_top_left, "the *last* Tq positions"),
    (exercises.check_masked_attention, attention_square_causal_mask, "the causal mask is (Tq, Tk)"),
    (exercises.check_masked_attention, attention_over_queries, "over the keys, dim=-1"),
    (exercises.check_masked_attention, attention_mask_or_causal, "apply both"),
    (exercises.check_masked_attention, attention_mask_inverted, "True where attention is *allowed*"),
    (exercises.check_masked_attention, attention_mask_never_none, "only `if mask is not None`"),
    (exercises.check_count_params, count_untied, "counted once"),
    (exercises.check_count_params, count_without_biases, "every linear layer has a bias"),
    (exercises.check_count_params, count_norm_weights_only, "the shift (bias, beta)"),
    (exercises.check_count_params, count_no_final_norm, "the final LayerNorm"),
    (exercises.check_count_params, count_no_positions, "the learned position table"),
    (exercises.check_count_params, count_no_output_projection, "the output projection"),
    (exercises.check_count_params, count_12_d_squared, "per layer (attention + MLP + 2 LayerNorms)"),
    (exercises.check_count_params, count_as_float, "return an int"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_subtly_wrong_answer_with_a_hint(checker, wrong, hint, fails_with_hint):
    fails_with_hint(checker, wrong, hint)


def test_a_failed_softmax_shows_the_row_it_got_wrong():
    with pytest.raises(AssertionError) as e:
        exercises.check_stable_softmax(softmax_naive)
    lines = str(e.value).splitlines()
    assert lines[0] == "check_stable_softmax failed on case 4 of 9 (large scores: 1e4, 1e4 - 1, 1e4 - 2):"
    assert lines[1] == ("the softmax of the scores [10000.000, 9999.000, 9998.000] should be [0.665, 0.245, 0.090], "
                        "got [nan, nan, nan]")


def test_a_wrong_count_says_how_far_off_it_is():
    with pytest.raises(AssertionError) as e:
        exercises.check_count_params(count_no_positions)
    assert ("count_params(n_layer=1, n_embd=4, vocab_size=10, block_size=8) should be 324, got 292 (32 too few)"
            in str(e.value))
