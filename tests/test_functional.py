"""minillm.functional against PyTorch's own ops: values and gradients in float64, on ordinary and extreme inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

from minillm import functional as mf

NEG_INF = float("-inf")


def randn(*shape: int, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()


def value_and_grad(f, x: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and the vector-Jacobian product v^T df/dx for a fixed random v of f(x)'s shape."""
    x = x.detach().requires_grad_()
    y = f(x)
    v = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    (grad,) = torch.autograd.grad(y, x, v)
    return y.detach(), grad


def assert_same_values_and_grads(ours, theirs, x: torch.Tensor) -> None:
    y_ours, g_ours = value_and_grad(ours, x)
    y_theirs, g_theirs = value_and_grad(theirs, x)
    torch.testing.assert_close(y_ours, y_theirs, equal_nan=True)  # float64 defaults: rtol 1e-7, atol 1e-7
    torch.testing.assert_close(g_ours, g_theirs, equal_nan=True)


# ----------------------------------------------------------------------------
# softmax, logsumexp, log_softmax

ROW_OPS = {  # ours and PyTorch's, both along `dim`
    "softmax": (mf.softmax, lambda x, dim: torch.softmax(x, dim=dim)),
    "logsumexp": (mf.logsumexp, lambda x, dim: torch.logsumexp(x, dim=dim)),
    "log_softmax": (mf.log_softmax, lambda x, dim: F.log_softmax(x, dim=dim)),
}

# rows a real model produces: huge logits, both signs, ties, and -inf where a mask forbids a position
EXTREME = torch.tensor([
    [1e4, 0.0, -1e4, 3.0],
    [1e4, 1e4, 1e4 - 1.0, 1e4],          # naive: inf / inf
    [-1e4, -1e4 + 2.0, -1e4, -1e4],      # naive: 0 / 0
    [0.5, NEG_INF, 2.0, NEG_INF],        # a causal mask's row
    [NEG_INF, NEG_INF, NEG_INF, -1e4],   # one allowed position, far below 0
    [1e4, NEG_INF, NEG_INF, NEG_INF],
], dtype=torch.float64)


@pytest.mark.parametrize("name", ROW_OPS)
@pytest.mark.parametrize("shape, dim", [((5, 7), -1), ((2, 3, 6), -1), ((2, 3, 6), 1), ((4, 5), 0)])
def test_row_ops_match_pytorch(name, shape, dim):
    ours, theirs = ROW_OPS[name]
    assert_same_values_and_grads(lambda x: ours(x, dim=dim), lambda x: theirs(x, dim=dim), randn(*shape))


@pytest.mark.parametrize("name", ROW_OPS)
def test_row_ops_stay_finite_and_match_pytorch_on_extreme_rows(name):
    ours, theirs = ROW_OPS[name]
    assert_same_values_and_grads(lambda x: ours(x, dim=-1), lambda x: theirs(x, dim=-1), EXTREME)
    y, grad = value_and_grad(lambda x: ours(x, dim=-1), EXTREME)
    finite = EXTREME.isfinite()
    if name == "log_softmax":
        assert (y.isfinite() == finite).all()  # -inf exactly at the masked positions, finite elsewhere
    else:
        assert y.isfinite().all()
    assert grad.isfinite().all()


def test_extreme_rows_in_float32_too():
    # log_softmax as x - logsumexp(x) is off by up to 1e-3 here: both terms are rounded near 1e4
    x = EXTREME.float()
    torch.testing.assert_close(mf.softmax(x), torch.softmax(x, dim=-1))
    torch.testing.assert_close(mf.logsumexp(x), torch.logsumexp(x, dim=-1))
    torch.testing.assert_close(mf.log_softmax(x), F.log_softmax(x, dim=-1))


def test_softmax_worked_examples():
    x = torch.tensor([1e4, 1e4 - math.log(3)], dtype=torch.float64)  # odds 3 : 1
    assert mf.softmax(x).tolist() == pytest.approx([0.75, 0.25])
    assert mf.softmax(torch.tensor([0.0, NEG_INF, 0.0])).tolist() == [0.5, 0.0, 0.5]
    assert mf.logsumexp(torch.tensor([-1e4, -1e4], dtype=torch.float64)).item() == pytest.approx(-1e4 + math.log(2))
    p = mf.softmax(randn(3, 9), dim=-1)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, dtype=torch.float64))


def test_naive_softmax_is_right_on_small_inputs_and_nan_on_large_ones():
    x = randn(4, 5).detach()
    torch.testing.assert_close(mf.naive_softmax(x), torch.softmax(x, dim=-1))
    big = torch.tensor([1e4, 0.0], dtype=torch.float64)
    assert mf.naive_softmax(big)[0].isnan()  # exp(1e4) = inf, inf / inf = nan
    small = torch.tensor([-1e4, -1e4], dtype=torch.float64)
    assert mf.naive_softmax(small).isnan().all()  # exp(-1e4) = 0 in both entries: 0 / 0
    assert mf.softmax(big).tolist() == [1.0, 0.0]
    assert mf.softmax(small).tolist() == [0.5, 0.5]


def test_fully_masked_row_follows_pytorch():
    x = torch.full((1, 3), NEG_INF)
    assert mf.softmax(x).isnan().all() and torch.softmax(x, dim=-1).isnan().all()  # a softmax over nothing
    assert mf.log_softmax(x).isnan().all() and F.log_softmax(x, dim=-1).isnan().all()
    assert mf.logsumexp(x).item() == NEG_INF == torch.logsumexp(x, dim=-1).item()  # log 0


def test_logsumexp_keepdim():
    x = randn(2, 3, 4).detach()
    assert mf.logsumexp(x, dim=1, keepdim=True).shape == (2, 1, 4)
    torch.testing.assert_close(mf.logsumexp(x, dim=1, keepdim=True), torch.logsumexp(x, dim=1, keepdim=True))


@pytest.mark.parametrize("name", ROW_OPS)
def test_row_ops_pass_gradcheck(name):
    ours, _ = ROW_OPS[name]
    assert torch.autograd.gradcheck(lambda x: ours(x, dim=-1), (randn(3, 4, scale=1.0),))


# ----------------------------------------------------------------------------
# cross-entropy


def theirs_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """PyTorch's, with the vocabulary moved to dimension 1 where F.cross_entropy wants it."""
    if logits.ndim == 3:
        logits = logits.transpose(1, 2)  # (B, T, V) -> (B, V, T)
    return F.cross_entropy(logits, targets, ignore_index=ignore_index)


def random_targets(shape: tuple[int, ...], V: int, ignore_index: int = -100, p_ignore: float = 0.3,
                   seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(V, shape, generator=g)
    ignored = torch.rand(shape, generator=g) < p_ignore
    if p_ignore > 0:
        ignored.view(-1)[0] = False  # keep at least one position
        ignored.view(-1)[-1] = True  # and ignore at least one
    return torch.where(ignored, torch.full_like(targets, ignore_index), targets)


@pytest.mark.parametrize("shape", [(12,), (3, 5)])  # (N,) and (B, T)
@pytest.mark.parametrize("ignore_index, p_ignore", [(-100, 0.0), (-100, 0.4), (2, 0.4)])
def test_cross_entropy_matches_pytorch(shape, ignore_index, p_ignore):
    V = 6
    logits = randn(*shape, V)
    targets = random_targets(shape, V, ignore_index, p_ignore)
    assert_same_values_and_grads(lambda x: mf.cross_entropy(x, targets, ignore_index),
                                 lambda x: theirs_cross_entropy(x, targets, ignore_index), logits)


def test_cross_entropy_is_the_mean_over_kept_positions_only():
    logits = randn(4, 5).detach()
    targets = torch.tensor([1, -100, 4, -100])
    logp = torch.log_softmax(logits, dim=-1)
    expected = -(logp[0, 1] + logp[2, 4]) / 2  # two positions count, so divide by 2, not 4
    assert mf.cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-12)
    # an ignored position's logits get no gradient
    logits.requires_grad_()
    (grad,) = torch.autograd.grad(mf.cross_entropy(logits, targets), logits)
    assert (grad[1] == 0).all() and (grad[3] == 0).all() and (grad[0] != 0).all()


def test_cross_entropy_worked_example():
    assert mf.cross_entropy(torch.zeros(3, 8), torch.tensor([0, 5, 7])).item() == pytest.approx(math.log(8))


def test_cross_entropy_on_extreme_and_masked_logits():
    # huge logits, and -inf logits as a vocabulary mask produces (on the ignored row even at class 0)
    logits = torch.tensor([[1e4, 0.0, -1e4], [NEG_INF, 1e4, 0.0], [NEG_INF, 3.0, NEG_INF], [-1e4, -1e4, -1e4]],
                          dtype=torch.float64)
    targets = torch.tensor([1, 2, -100, 0])
    assert_same_values_and_grads(lambda x: mf.cross_entropy(x, targets), lambda x: theirs_cross_entropy(x, targets),
                                 logits)
    loss, grad = value_and_grad(lambda x: mf.cross_entropy(x, targets), logits)
    assert loss.item() == pytest.approx((1e4 + 1e4 + math.log(3)) / 3)
    assert grad.isfinite().all()


def test_cross_entropy_with_every_position_ignored_is_nan_as_in_pytorch():
    logits, targets = randn(2, 3, 4), torch.full((2, 3), -100)
    ours, g_ours = value_and_grad(lambda x: mf.cross_entropy(x, targets), logits)
    theirs, g_theirs = value_and_grad(lambda x: theirs_cross_entropy(x, targets), logits)
    assert ours.isnan() and theirs.isnan()
    assert (g_ours == 0).all() and (g_theirs == 0).all()


def test_cross_entropy_passes_gradcheck():
    targets = torch.tensor([[0, 3, -100], [2, -100, 1]])
    assert torch.autograd.gradcheck(lambda x: mf.cross_entropy(x, targets), (randn(2, 3, 4, scale=1.0),))


def test_cross_entropy_refuses_bad_shapes_and_targets():
    logits = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match=r"targets must have shape \(B, T\) = \(2, 3\).*got \(6,\)"):
        mf.cross_entropy(logits, torch.zeros(6, dtype=torch.long))  # flattened targets, unflattened logits
    with pytest.raises(ValueError, match=r"targets must have shape \(N,\) = \(6,\).*got \(2, 3\)"):
        mf.cross_entropy(logits.view(6, 5), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(N,\) = \(2,\).*got \(3,\)"):
        mf.cross_entropy(torch.zeros(2, 5), torch.zeros(3, dtype=torch.long))  # one target too many
    with pytest.raises(ValueError, match=r"logits must have shape \(N, V\) or \(B, T, V\), got \(5,\)"):
        mf.cross_entropy(torch.zeros(5), torch.tensor(1))
    with pytest.raises(ValueError, match=r"logits must have shape"):
        mf.cross_entropy(torch.zeros(1, 2, 3, 5), torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer class ids"):
        mf.cross_entropy(logits, torch.zeros(2, 3))  # probabilities or floats instead of ids
    with pytest.raises(ValueError, match=r"0\.\.4 or equal ignore_index = -100"):
        mf.cross_entropy(logits, torch.tensor([[0, 1, 5], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        mf.cross_entropy(logits, torch.tensor([[0, 1, -1], [0, 0, 0]]))  # -1 is not the ignore_index


# ----------------------------------------------------------------------------
# activations

ACTIVATIONS = {
    "relu": (mf.relu, F.relu),
    "silu": (mf.silu, F.silu),
    "gelu": (mf.gelu, F.gelu),
    "gelu_tanh": (lambda x: mf.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_pytorch(name):
    ours, theirs = ACTIVATIONS[name]
    assert_same_values_and_grads(ours, theirs, randn(4, 25))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_on_extreme_inputs(name):
    ours, theirs = ACTIVATIONS[name]
    x = torch.tensor([-1e4, -50.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 50.0, 1e4], dtype=torch.float64)
    assert_same_values_and_grads(ours, theirs, x)
    y, grad = value_and_grad(ours, x)
    assert y.isfinite().all() and grad.isfinite().all()


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_pass_gradcheck(name):
    ours, _ = ACTIVATIONS[name]
    x = randn(10, scale=2.0)
    assert torch.autograd.gradcheck(ours, (x,))  # random points, none at relu's kink


def test_sigmoid_matches_pytorch_and_stays_finite():
    x = torch.cat([randn(20).detach(), torch.tensor([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=torch.float64)])
    assert_same_values_and_grads(mf.sigmoid, torch.sigmoid, x)
    # the textbook formula's gradient is nan at -1e4: exp(1e4) = inf meets 1 / inf^2 = 0
    _, naive_grad = value_and_grad(lambda x: 1 / (1 + (-x).exp()), torch.tensor([-1e4], dtype=torch.float64))
    assert naive_grad.isnan().all()


def test_activation_worked_examples():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    assert mf.relu(x).tolist() == [0.0, 0.0, 2.0]
    assert mf.silu(x).tolist() == pytest.approx([-1 / (1 + math.e), 0.0, 2 / (1 + math.exp(-2))])
    phi = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    assert mf.gelu(x).tolist() == pytest.approx([v * p for v, p in zip(x.tolist(), phi)])
    assert mf.relu(torch.tensor([float("nan")])).isnan().all()  # nan passes through, as in F.relu


def test_gelu_refuses_an_unknown_approximation():
    with pytest.raises(ValueError, match=r"unknown approximate 'erf'; choose one of 'none', 'tanh'"):
        mf.gelu(torch.zeros(3), approximate="erf")
