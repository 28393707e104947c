"""The M4 (FlashAttention) checkers, the online softmax and one tile of the forward loop: each passes right
answers however they are written, and fails each typical mistake with the hint that names it.

The wrong answers below are written the way a student would write them, not
with the checkers' own helpers, so that a hint is only found when the checker
really recognises the mistake. (Every checker is also run against its own
list of known mistakes, its solution and a stub in test_exercises_core.py.)
"""

import re

import pytest
import torch

from minillm import exercises
from minillm.attention import reference_attention

NEG_INF = float("-inf")

# ----------------------------------------------------------------------------
# right answers: the online softmax


def online_with_where(x, block_size):  # the running max by torch.where, the -inf guard by nan_to_num
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        block_max = block.amax(-1)
        m_new = torch.where(block_max > m, block_max, m)
        l = l * torch.exp(m - m_new).nan_to_num(0.0) + torch.exp(block - m_new[..., None]).nan_to_num(0.0).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_keepdim_all_along(x, block_size):  # m and l of shape (..., 1) throughout, blocks by torch.split
    m = x.new_full((*x.shape[:-1], 1), NEG_INF)
    l = x.new_zeros((*x.shape[:-1], 1))
    for block in torch.split(x, block_size, dim=-1):
        m_new = torch.maximum(m, block.max(dim=-1, keepdim=True).values)
        shift = m_new.masked_fill(m_new == NEG_INF, 0.0)
        l = l * (m - shift).exp() + (block - shift).exp().sum(dim=-1, keepdim=True)
        m = m_new
    return (x - m).exp() / l


def online_in_float64(x, block_size):  # the same loop in float64, the answer given back as float64
    x = x.double()
    m = torch.full(x.shape[:-1], NEG_INF, dtype=torch.float64)
    l = torch.zeros(x.shape[:-1], dtype=torch.float64)
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.max(-1).values)
        safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)
        l = l * torch.exp(m - safe) + torch.exp(block - safe.unsqueeze(-1)).sum(-1)
        m = m_new
    return torch.exp(x - m.unsqueeze(-1)) / l.unsqueeze(-1)


def online_two_pass(x, block_size):  # each row's max up front, then the sums block by block: right, and passes
    m = x.amax(dim=-1, keepdim=True)
    l = torch.zeros_like(m)
    for j in range(0, x.shape[-1], block_size):
        l = l + torch.exp(x[..., j:j + block_size] - m).sum(dim=-1, keepdim=True)
    return torch.exp(x - m) / l


def online_log_space(x, block_size):  # a running log-sum-exp instead of m and l
    lse = torch.full(x.shape[:-1], NEG_INF)
    for j in range(0, x.shape[-1], block_size):
        lse = torch.logaddexp(lse, x[..., j:j + block_size].logsumexp(dim=-1))
    return torch.exp(x - lse[..., None])


def online_first_block_separately(x, block_size):  # starts m and l from the first block, not from -inf and 0
    first = x[..., :block_size]
    m = first.amax(-1)
    l = torch.exp(first - torch.where(m == NEG_INF, 0.0, m)[..., None]).sum(-1)
    for j in range(block_size, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        safe = torch.where(m_new == NEG_INF, 0.0, m_new)
        l = l * torch.exp(m - safe) + torch.exp(block - safe[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


# ----------------------------------------------------------------------------
# right answers: one tile


def tile_with_where(m, l, acc, s, v):
    tile_max = s.max(dim=1).values
    m_new = torch.where(tile_max > m, tile_max, m)
    shift = torch.where(torch.isneginf(m_new), torch.zeros_like(m_new), m_new)
    p = torch.exp(s - shift.unsqueeze(1))
    alpha = torch.exp(m - shift)
    return m_new, alpha * l + p.sum(dim=1), alpha.unsqueeze(1) * acc + torch.matmul(p, v)


def tile_in_float64(m, l, acc, s, v):
    m, l, acc, s, v = (t.double() for t in (m, l, acc, s, v))
    m_new = torch.maximum(m, s.amax(-1))
    safe = m_new.nan_to_num(neginf=0.0)
    p = (s - safe[:, None]).exp()
    alpha = (m - safe).exp()
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_with_einsum_and_nan_to_num(m, l, acc, s, v):  # a list back, not a tuple
    m_new = torch.maximum(m, s.amax(-1))
    p = torch.exp(s - m_new[:, None]).nan_to_num(0.0)
    alpha = torch.exp(m - m_new).nan_to_num(0.0)
    return [m_new, alpha * l + p.sum(-1), torch.einsum("m,md->md", alpha, acc) + torch.einsum("mn,nd->md", p, v)]


def tile_in_place(m, l, acc, s, v):  # updates the state it was given, as a kernel does in its registers
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    l.mul_(alpha).add_(p.sum(-1))
    acc.mul_(alpha[:, None]).add_(p @ v)
    m.copy_(m_new)
    return m, l, acc


RIGHT = [
    (exercises.check_online_softmax, exercises.solution("online_softmax")),
    (exercises.check_online_softmax, online_with_where),
    (exercises.check_online_softmax, online_keepdim_all_along),
    (exercises.check_online_softmax, online_in_float64),
    (exercises.check_online_softmax, online_two_pass),
    (exercises.check_online_softmax, online_log_space),
    (exercises.check_online_softmax, online_first_block_separately),
    (exercises.check_online_softmax, lambda x, block_size: torch.softmax(x, dim=-1)),
    (exercises.check_flash_tile_update, exercises.solution("flash_tile_update")),
    (exercises.check_flash_tile_update, tile_with_where),
    (exercises.check_flash_tile_update, tile_in_float64),
    (exercises.check_flash_tile_update, tile_with_einsum_and_nan_to_num),
    (exercises.check_flash_tile_update, tile_in_place),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_right_answers(checker, right, capsys):
    checker(right)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


def test_the_solutions_are_finite_where_a_whole_block_is_masked():
    x = torch.tensor([[NEG_INF, NEG_INF, 0.0, 1.0], [2.0, NEG_INF, NEG_INF, NEG_INF]])
    out = exercises.solution("online_softmax")(x, 2)
    assert torch.allclose(out, torch.softmax(x, dim=-1)) and not out.isnan().any()
    m, l, acc = exercises.solution("flash_tile_update")(torch.full((2,), NEG_INF), torch.zeros(2), torch.zeros(2, 3),
                                                         x[:, :2], torch.ones(2, 3))
    assert m.tolist() == [NEG_INF, 2.0] and l.tolist() == [0.0, 1.0] and acc.tolist() == [[0.0] * 3, [1.0] * 3]


def test_the_tile_solution_looped_is_attention():
    q, k, v = torch.randn(5, 8), torch.randn(11, 8), torch.randn(11, 8)
    S = q @ k.T / 8 ** 0.5
    m, l, acc = torch.full((5,), NEG_INF), torch.zeros(5), torch.zeros(5, 8)
    for j in range(0, 11, 4):
        m, l, acc = exercises.solution("flash_tile_update")(m, l, acc, S[:, j:j + 4], v[j:j + 4])
    expected = reference_attention(q[None, None], k[None, None], v[None, None], causal=False)[0, 0]
    assert torch.allclose(acc / l[:, None], expected, atol=1e-6)
    assert torch.allclose(m + l.log(), S.logsumexp(dim=-1))  # the lse FlashAttention keeps for the backward


# ----------------------------------------------------------------------------
# wrong answers: the online softmax

def online_no_rescale(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m = torch.maximum(m, block.amax(-1))
        l = l + torch.exp(block - m[..., None]).sum(-1)
    return torch.exp(x - m[..., None]) / l[..., None]


def online_rescale_wrong_sign(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        l = l * torch.exp(m_new - m) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_wrong_sign_from_first_block(x, block_size):
    m = x[..., :block_size].amax(-1)
    l = torch.exp(x[..., :block_size] - m[..., None]).sum(-1)
    for j in range(block_size, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        l = l * torch.exp(m_new - m) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_last_block_sum(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m = torch.maximum(m, block.amax(-1))
        l = torch.exp(block - m[..., None]).sum(-1)
    return torch.exp(x - m[..., None]) / l[..., None]


def online_softmax_per_block(x, block_size):
    return torch.cat([torch.softmax(block, dim=-1) for block in x.split(block_size, dim=-1)], dim=-1)


def online_block_max_only(x, block_size):  # rescales, but with each block's own max
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = block.amax(-1)
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_whole_tensor_max(x, block_size):  # two passes, but one max for the whole tensor
    m = x.max()
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        l += torch.exp(x[..., j:j + block_size] - m).sum(-1)
    return torch.exp(x - m) / l[..., None]


def online_m_starts_at_zero(x, block_size):
    m = torch.zeros(x.shape[:-1])
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_no_nan_guard(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_no_keepdim_at_the_end(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        safe = torch.where(m_new == NEG_INF, 0.0, m_new)
        l = l * torch.exp(m - safe) + torch.exp(block - safe[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m) / l


def online_no_keepdim_in_the_loop(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.amax(-1))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_max_tuple(x, block_size):
    m = torch.full(x.shape[:-1], NEG_INF)
    l = torch.zeros(x.shape[:-1])
    for j in range(0, x.shape[-1], block_size):
        block = x[..., j:j + block_size]
        m_new = torch.maximum(m, block.max(dim=-1))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / l[..., None]


def online_two_pass_in_place(x, block_size):
    x -= x.amax(dim=-1, keepdim=True)
    l = sum(torch.exp(x[..., j:j + block_size]).sum(-1, keepdim=True) for j in range(0, x.shape[-1], block_size))
    return torch.exp(x) / l


# ----------------------------------------------------------------------------
# wrong answers: one tile

def tile_acc_not_rescaled(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), acc + p @ v


def tile_l_not_rescaled(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    return m_new, l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_nothing_rescaled(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    p = torch.exp(s - torch.where(m_new == NEG_INF, 0.0, m_new)[:, None])
    return m_new, l + p.sum(-1), acc + p @ v


def tile_alpha_wrong_sign(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(safe - m)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_p_with_old_max(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - m[:, None])
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_max_of_the_tile_only(m, l, acc, s, v):
    m_new = s.amax(-1)
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_divides_every_step(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    l_new = alpha * l + p.sum(-1)
    return m_new, l_new, (alpha[:, None] * acc + p @ v) / l_new[:, None]


def tile_alpha_as_a_ratio(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m) / torch.exp(safe)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_no_nan_guard(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    p = torch.exp(s - m_new[:, None])
    alpha = torch.exp(m - m_new)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_v_transposed(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v.T


def tile_p_without_none(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe)
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_alpha_without_none(m, l, acc, s, v):
    m_new = torch.maximum(m, s.amax(-1))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe[:, None])
    alpha = torch.exp(m - safe)
    return m_new, alpha * l + p.sum(-1), alpha * acc + p @ v


def tile_max_tuple(m, l, acc, s, v):
    m_new = torch.max(m, s.max(dim=-1))
    p = torch.exp(s - m_new[:, None])
    alpha = torch.exp(m - m_new)
    return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v


def tile_returns_in_another_order(m, l, acc, s, v):
    m_new, l_new, acc_new = exercises.solution("flash_tile_update")(m, l, acc, s, v)
    return m_new, acc_new, l_new


def tile_keepdim(m, l, acc, s, v):  # m_new of shape (M, 1)
    m_new = torch.maximum(m[:, None], s.amax(-1, keepdim=True))
    safe = torch.where(m_new == NEG_INF, 0.0, m_new)
    p = torch.exp(s - safe)
    alpha = torch.exp(m[:, None] - safe)
    return m_new, alpha[:, 0] * l + p.sum(-1), alpha * acc + p @ v


def tile_returns_acc_only(m, l, acc, s, v):
    return exercises.solution("flash_tile_update")(m, l, acc, s, v)[2]


WRONG = [
    (exercises.check_online_softmax, online_no_rescale, "rescale the sum so far"),
    (exercises.check_online_softmax, online_rescale_wrong_sign, "exp(m - m_new), old minus new"),
    (exercises.check_online_softmax, online_wrong_sign_from_first_block, "exp(m - m_new), old minus new"),
    (exercises.check_online_softmax, online_last_block_sum, "l adds up over all the blocks"),
    (exercises.check_online_softmax, online_softmax_per_block, "share one denominator"),
    (exercises.check_online_softmax, online_block_max_only, "not the block's own max"),
    (exercises.check_online_softmax, online_whole_tensor_max, "not the max of the whole tensor"),
    (exercises.check_online_softmax, online_m_starts_at_zero, "start the running max at -inf"),
    (exercises.check_online_softmax, online_no_nan_guard, "exp(-inf - (-inf)) = exp(nan) is nan"),
    (exercises.check_online_softmax, online_no_keepdim_at_the_end, "x - m[..., None]"),
    (exercises.check_online_softmax, online_no_keepdim_in_the_loop, "x - m[..., None]"),
    (exercises.check_online_softmax, online_max_tuple, "returns (values, indices)"),
    (exercises.check_online_softmax, online_two_pass_in_place, "changed in place"),
    (exercises.check_flash_tile_update, tile_acc_not_rescaled, "rescale acc too"),
    (exercises.check_flash_tile_update, tile_l_not_rescaled, "rescale l too"),
    (exercises.check_flash_tile_update, tile_nothing_rescaled, "rescale l and acc"),
    (exercises.check_flash_tile_update, tile_alpha_wrong_sign, "alpha = exp(m - m_new), old minus new"),
    (exercises.check_flash_tile_update, tile_p_with_old_max, "compute p with the new max"),
    (exercises.check_flash_tile_update, tile_max_of_the_tile_only, "not this tile's max alone"),
    (exercises.check_flash_tile_update, tile_divides_every_step, "divide by l only once"),
    (exercises.check_flash_tile_update, tile_alpha_as_a_ratio, "not exp(m) / exp(m_new)"),
    (exercises.check_flash_tile_update, tile_no_nan_guard, "-inf - (-inf) is nan"),
    (exercises.check_flash_tile_update, tile_v_transposed, "p @ v, of shape (M, D), with no transpose"),
    (exercises.check_flash_tile_update, tile_p_without_none, "m_new[:, None]"),
    (exercises.check_flash_tile_update, tile_alpha_without_none, "m_new[:, None]"),
    (exercises.check_flash_tile_update, tile_max_tuple, "returns (values, indices)"),
    (exercises.check_flash_tile_update, tile_returns_in_another_order, "(m_new, l_new, acc_new) in this order"),
    (exercises.check_flash_tile_update, tile_keepdim, "of shape (M,) like m and l (no keepdim)"),
    (exercises.check_flash_tile_update, tile_returns_acc_only, "return m_new, l_new, acc_new (a tuple)"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_subtly_wrong_answer_with_a_hint(checker, wrong, hint, fails_with_hint):
    fails_with_hint(checker, wrong, hint)


def test_a_missing_rescale_shows_the_row_it_got_wrong():
    with pytest.raises(AssertionError) as e:
        exercises.check_online_softmax(online_no_rescale)
    lines = str(e.value).splitlines()
    assert lines[0] == ("check_online_softmax failed on case 1 of 14 (attention scores, 4 queries x 4 keys, "
                        "blocks of 2):")
    assert re.fullmatch(r"online_softmax\(x, block_size=2\) for the scores \[.*\] should be \[.*\], got \[.*\]",
                        lines[1])
    assert lines[2].startswith("hint: when a block raises a row's max from m to m_new, rescale the sum so far")


def test_the_nan_of_a_masked_first_block_is_shown():
    with pytest.raises(AssertionError) as e:
        exercises.check_online_softmax(online_no_nan_guard)
    lines = str(e.value).splitlines()
    assert "the first block of some rows all -inf" in lines[0]
    assert lines[1] == ("online_softmax(x, block_size=3) for the scores [-inf, -inf, -inf, 1.000, 2.000, 0.500, -inf] "
                        "should be [0.000, 0.000, 0.000, 0.231, 0.629, 0.140, 0.000], got [nan, nan, nan, nan, nan, "
                        "nan, nan]")
    with pytest.raises(AssertionError) as e:
        exercises.check_flash_tile_update(tile_no_nan_guard)
    assert "with m = -inf, l = 0.000 and scores [-inf, -inf, -inf], should get l_new = 0.000, got nan" in str(e.value)


def test_a_wrong_tile_names_the_value_and_the_row():
    with pytest.raises(AssertionError) as e:
        exercises.check_flash_tile_update(tile_acc_not_rescaled)
    lines = str(e.value).splitlines()
    assert lines[0].startswith("check_flash_tile_update failed on case 1 of 12 (a tile that raises the max")
    assert re.fullmatch(r"for a tile of 4 queries x 4 keys, D = 4: row \d, with m = -?[\d.]+, l = [\d.]+ and scores "
                        r"\[.*\], should get acc_new = \[.*\], got \[.*\]", lines[1])

