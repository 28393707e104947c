"""The Triton kernels (minillm.kernels) against float64 references.

Without a GPU they run on CPU tensors in Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1
before any kernel is defined), at tiny shapes; with one, the same tests run compiled on the GPU, and the
gpu-marked tests add long sequences and bfloat16. The interpreter is wrong for bfloat16 (numpy has
none), so bfloat16 is tested on GPUs only.
"""

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

from minillm import kernels  # noqa: E402
from minillm.attention import ATTENTION, reference_attention, sdpa_attention  # noqa: E402
from minillm.flash import reference_lse  # noqa: E402
from minillm.kernels.flash_attention import flash_attention, flash_backward, flash_forward  # noqa: E402
from minillm.kernels.softmax import softmax  # noqa: E402
from minillm.model import GPT, GPTConfig  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and not kernels.interpreting():
    pytest.skip("no GPU and TRITON_INTERPRET is not set (run through pytest, whose conftest sets it)",
                allow_module_level=True)
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def inputs(B, nh, n_kv, Tq, Tk, D, seed=0):
    """float64 q, k, v on the CPU, and dout: the reference's inputs."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, nh, Tq, D, generator=g, dtype=torch.float64)
    k, v = (torch.randn(B, n_kv, Tk, D, generator=g, dtype=torch.float64) for _ in range(2))
    return q, k, v, torch.randn(B, nh, Tq, D, generator=g, dtype=torch.float64)


def reference(q, k, v, dout, causal):
    """(out, lse, dq, dk, dv) in float64."""
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    out = reference_attention(q, k, v, causal=causal)
    out.backward(dout)
    return out.detach(), reference_lse(q, k, causal).detach(), q.grad, k.grad, v.grad


# ----------------------------------------------------------------------------
# the warm-up: fused softmax

@pytest.mark.parametrize("shape", [(3, 7), (2, 5, 130), (1, 16)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_softmax_kernel_equals_torch(shape, dtype):
    x = (torch.randn(shape, dtype=torch.float64) * 5).to(DEVICE)
    x[..., 0] = 1e4 if dtype == torch.float32 else 6e4  # large scores: only a stable softmax survives them
    got = softmax(x.to(dtype))
    assert got.dtype == dtype and got.shape == x.shape
    torch.testing.assert_close(got.double(), torch.softmax(x, dim=-1), atol=1e-3 if dtype == torch.float16 else 1e-6,
                               rtol=0)


def test_softmax_kernel_refuses_what_it_cannot_do():
    with pytest.raises(TypeError, match="float16, bfloat16 or float32"):
        softmax(torch.ones(2, 3, dtype=torch.float64, device=DEVICE))
    with pytest.raises(ValueError, match="65,536"):
        softmax(torch.ones(1, 70000, device=DEVICE))


# ----------------------------------------------------------------------------
# FlashAttention: forward, backward, autograd

CASES = [  # B, nh, n_kv, Tq, Tk, D, causal
    (1, 2, 2, 16, 16, 16, True),
    (2, 2, 2, 37, 37, 32, True),    # lengths that are not block multiples
    (1, 4, 2, 21, 40, 24, True),    # fewer queries than keys (KV cache), GQA, a head dim that is no power of 2
    (1, 3, 1, 29, 13, 16, False),   # cross-attention shapes (more queries than keys), multi-query
    (1, 2, 2, 33, 33, 64, False),
    (1, 1, 1, 20, 20, 128, True),   # the largest head dim
]
TOLERANCE = {torch.float32: 1e-4 if DEVICE == "cpu" else 2e-2, torch.float16: 2e-2}  # tf32 dots on GPUs


@pytest.mark.parametrize("B, nh, n_kv, Tq, Tk, D, causal", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_flash_kernels_equal_the_reference(B, nh, n_kv, Tq, Tk, D, causal, dtype):
    q, k, v, dout = inputs(B, nh, n_kv, Tq, Tk, D)
    ref_out, ref_lse, *ref_grads = reference(q, k, v, dout, causal)
    q_, k_, v_, dout_ = (t.to(DEVICE, dtype) for t in (q, k, v, dout))
    out, lse = flash_forward(q_, k_, v_, causal)
    assert out.dtype == dtype and lse.dtype == torch.float32
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(out.cpu().double(), ref_out, atol=tol, rtol=0)
    torch.testing.assert_close(lse.cpu().double(), ref_lse, atol=tol, rtol=0)
    grads = flash_backward(q_, k_, v_, out, lse, dout_, causal)
    for got, want, name in zip(grads, ref_grads, ("dq", "dk", "dv")):
        assert got.shape == want.shape and got.dtype == dtype, name
        torch.testing.assert_close(got.cpu().double(), want, atol=5 * tol, rtol=0, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("block_m, block_n", [(32, 16), (16, 32), (64, 16)])
@pytest.mark.parametrize("Tq, Tk, causal", [(45, 45, True), (21, 70, True), (50, 37, False)])
def test_flash_kernels_with_unequal_blocks(block_m, block_n, Tq, Tk, causal):
    """GPUs run blocks of 128 x 64 queries x keys and more: a diagonal tile then spans several key tiles,
    and each kernel's split into whole tiles (no mask) and masked ones must still cover every key once."""
    from minillm.kernels.configs import KernelConfig

    config = KernelConfig(block_m, block_n, num_warps=4, num_stages=1)
    q, k, v, dout = inputs(1, 2, 1, Tq, Tk, 16, seed=1)
    ref_out, ref_lse, *ref_grads = reference(q, k, v, dout, causal)
    q_, k_, v_, dout_ = (t.to(DEVICE, torch.float32) for t in (q, k, v, dout))
    out, lse = flash_forward(q_, k_, v_, causal, config=config)
    tol = TOLERANCE[torch.float32]
    torch.testing.assert_close(out.cpu().double(), ref_out, atol=tol, rtol=0)
    torch.testing.assert_close(lse.cpu().double(), ref_lse, atol=tol, rtol=0)
    grads = flash_backward(q_, k_, v_, out, lse, dout_, causal, config=config)
    for got, want, name in zip(grads, ref_grads, ("dq", "dk", "dv")):
        torch.testing.assert_close(got.cpu().double(), want, atol=5 * tol, rtol=0, msg=lambda m: f"{name}: {m}")


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the interpreter's warning of an overflow is a failure
@pytest.mark.parametrize("causal", [False, True])
def test_flash_backward_with_scores_far_below_zero(causal):
    """Every score below -12: the padding keys past Tk (zeros) would get p = exp(0 - lse), over e^12, which
    is inf in float16, and inf * 0 = nan. The kernels must mask them, not rely on k = 0."""
    q, k, v, dout = inputs(1, 2, 2, 24, 37, 16, seed=2)
    q, k = 6 * q.abs(), -6 * k.abs()
    ref_out, _, *ref_grads = reference(q, k, v, dout, causal)
    q_, k_, v_, dout_ = (t.to(DEVICE, torch.float16) for t in (q, k, v, dout))
    out, lse = flash_forward(q_, k_, v_, causal)
    assert lse.max() < -12, "the scores were meant to be far below zero"
    torch.testing.assert_close(out.cpu().double(), ref_out, atol=2e-2, rtol=0)
    for got, want, name in zip(flash_backward(q_, k_, v_, out, lse, dout_, causal), ref_grads, ("dq", "dk", "dv")):
        torch.testing.assert_close(got.cpu().double(), want, atol=1e-1, rtol=0, msg=lambda m: f"{name}: {m}")


def test_flash_attention_autograd_and_strided_inputs():
    """Through autograd, with q, k, v as the model makes them: views of one packed projection."""
    B, T, nh, D = 2, 20, 2, 16
    qkv = torch.randn(B, T, 3 * nh * D, dtype=torch.float32, device=DEVICE, requires_grad=True)
    q, k, v = (t.view(B, T, nh, D).transpose(1, 2) for t in qkv.split(nh * D, dim=2))  # strided, not contiguous
    assert not q.is_contiguous()
    out = flash_attention(q, k, v, causal=True)
    grad = torch.autograd.grad(out.square().sum(), qkv)[0]
    ref = sdpa_attention(q, k, v, causal=True)
    ref_grad = torch.autograd.grad(ref.square().sum(), qkv)[0]
    torch.testing.assert_close(out, ref, atol=TOLERANCE[torch.float32], rtol=0)
    torch.testing.assert_close(grad, ref_grad, atol=5 * TOLERANCE[torch.float32], rtol=0)


def test_flash_kernels_check_their_inputs():
    q = torch.randn(1, 3, 8, 16, device=DEVICE)
    with pytest.raises(ValueError, match="must divide the query heads"):
        flash_forward(q, torch.randn(1, 2, 8, 16, device=DEVICE), torch.randn(1, 2, 8, 16, device=DEVICE))
    with pytest.raises(ValueError, match="at least as many keys as queries"):
        flash_forward(q, q[:, :, :4], q[:, :, :4], causal=True)
    with pytest.raises(TypeError, match="share a dtype"):
        flash_forward(q, q.half(), q)


# ----------------------------------------------------------------------------
# the backend in the model, and its fallbacks

def test_gpt_with_triton_attention_equals_sdpa():
    torch.manual_seed(0)
    cfg = dict(vocab_size=13, block_size=24, n_layer=2, n_head=4, n_kv_head=2, n_embd=64, position="rope")
    models = {name: GPT(GPTConfig(**cfg, attention=name)).to(DEVICE) for name in ("sdpa", "triton")}
    models["triton"].load_state_dict(models["sdpa"].state_dict())
    idx = torch.randint(0, 13, (2, 19), device=DEVICE)
    results = {}
    for name, model in models.items():
        logits, loss = model(idx, idx)
        loss.backward()
        results[name] = logits, [p.grad for p in model.parameters()]
    torch.testing.assert_close(results["triton"][0], results["sdpa"][0], atol=TOLERANCE[torch.float32], rtol=0)
    for a, b in zip(results["triton"][1], results["sdpa"][1]):
        torch.testing.assert_close(a, b, atol=5 * TOLERANCE[torch.float32], rtol=0)


@pytest.fixture
def fresh_notes(monkeypatch):
    monkeypatch.setattr(kernels, "_noted", set())


def test_masks_and_dropout_fall_back_to_sdpa_with_one_note(fresh_notes):
    q = k = v = torch.randn(1, 2, 8, 16, device=DEVICE)
    mask = torch.rand(1, 1, 8, 8, device=DEVICE) > 0.3
    mask[..., 0] = True
    with pytest.warns(kernels.FallbackWarning, match="padding or custom mask goes to SDPA"):
        out = ATTENTION["triton"](q, k, v, mask=mask, causal=False)
    torch.testing.assert_close(out, sdpa_attention(q, k, v, mask=mask, causal=False))
    with pytest.warns(kernels.FallbackWarning, match="dropout"):
        ATTENTION["triton"](q, k, v, dropout_p=0.1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second time, no note
        ATTENTION["triton"](q, k, v, mask=mask, causal=False)


def test_missing_triton_or_gpu_falls_back_with_the_reason(fresh_notes, monkeypatch):
    q = torch.randn(1, 2, 8, 16)
    monkeypatch.setattr(kernels, "HAS_TRITON", False)
    with pytest.warns(kernels.FallbackWarning, match="Triton is not installed"):
        torch.testing.assert_close(ATTENTION["triton"](q, q, q), sdpa_attention(q, q, q))
    monkeypatch.setattr(kernels, "HAS_TRITON", True)
    assert "head dims up to 128" in kernels.why_not_triton(torch.randn(1, 1, 4, 256, device=DEVICE))
    assert "float16, bfloat16 or float32" in kernels.why_not_triton(q.double().to(DEVICE))
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert "need a CUDA GPU and q is on cpu" in kernels.why_not_triton(q)


@pytest.mark.skipif(DEVICE != "cpu", reason="about the interpreter, which runs CPU tensors")
def test_an_old_tritons_interpreter_with_numpy_2_4_is_refused_with_the_fix(monkeypatch):
    import numpy
    import triton

    q = torch.randn(1, 1, 16, 16)
    monkeypatch.setattr(triton, "__version__", "3.6.0")
    monkeypatch.setattr(numpy, "__version__", "2.4.1")
    assert "pip install 'numpy<2.4', or Triton 3.7 or newer" in kernels.why_not_triton(q)
    with pytest.raises(RuntimeError, match="numpy<2.4"):
        flash_forward(q, q, q)
    for triton_version, numpy_version in [("3.2.0", "2.3.5"), ("3.7.1", "2.4.1"), ("3.10.0", "10.0")]:
        monkeypatch.setattr(triton, "__version__", triton_version)
        monkeypatch.setattr(numpy, "__version__", numpy_version)
        assert kernels.interpreter_problem() is None, (triton_version, numpy_version)


def test_triton_3_3_on_a_t4_sends_float16_to_sdpa(monkeypatch):
    """Triton 3.3 can't compile a float16 dot for compute capability 7.5: the dispatcher must not try."""
    import triton

    from minillm.kernels import configs

    class OnAGpu:  # what why_not_triton reads of q, on a GPU this machine need not have
        device, dtype = torch.device("cuda", 0), torch.float16

        def size(self, dim):
            return 64

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(triton, "__version__", "3.3.1")
    assert "triton-lang/triton#6698" in kernels.why_not_triton(OnAGpu())
    assert configs.compile_problem(75, torch.float32) is None and configs.compile_problem(80, torch.float16) is None
    assert (75, "forward", 64, torch.float16) not in configs.aot_cases()
    monkeypatch.setattr(triton, "__version__", "3.4.0")
    assert kernels.why_not_triton(OnAGpu()) is None
    assert (75, "forward", 64, torch.float16) in configs.aot_cases()


def test_minillm_imports_without_triton():
    """`import minillm` and a model with attention='triton' work where Triton is not installed."""
    code = ("import sys; sys.modules['triton'] = None\n"  # makes `import triton` raise ImportError
            "import warnings, torch, minillm\n"
            "from minillm.model import GPT, GPTConfig\n"
            "m = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=16, attention='triton'))\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    m(torch.zeros(1, 4, dtype=torch.long))\n"
            "print(w[0].message)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Triton is not installed" in run.stdout


# ----------------------------------------------------------------------------
# shared memory: every config the dispatcher can choose fits its GPU generation (compiled ahead of time)

def test_float32_dots_are_exact_where_there_is_no_tf32():
    from minillm.kernels import configs

    assert [configs.dot_precision(arch) for arch in (75, 80, 90)] == ["ieee", "tf32", "tf32"]
    assert configs.pick_precision(torch.device("cpu")) == "ieee"


@pytest.mark.slow
def test_every_kernel_config_fits_its_gpus_shared_memory():
    """Compiles each config for sm_75, sm_80 and sm_90 on this machine, no GPU needed (about a minute).

    Runs in a fresh process: ahead-of-time compiling needs kernels defined without TRITON_INTERPRET.
    """
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run([sys.executable, "-m", "minillm.kernels.configs"], capture_output=True, text=True,
                         env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.splitlines()[1:]]
    from minillm.kernels import configs

    assert len(rows) == sum(1 if job == "forward" else 2 for _, job, _, _ in configs.aot_cases())
    assert len(rows) == 36 or configs.compile_problem(75, torch.float16)  # 3 generations x 3 kernels x 4 widths
    over = [" ".join(r) for r in rows if float(r[-2]) > float(r[-1])]
    assert not over, "configs that need more shared memory than the GPU has:\n" + "\n".join(over)


# ----------------------------------------------------------------------------
# on a GPU: long sequences, bfloat16, and errors no worse than PyTorch's own at the same precision

@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("T, D, causal", [(1024, 64, True), (1000, 128, False), (2048, 64, True)])
def test_flash_on_gpu_is_as_accurate_as_sdpa(dtype, T, D, causal):
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    q, k, v, dout = (t.cuda() for t in inputs(2, 4, 2, T, T, D))
    want = reference(q, k, v, dout, causal)
    low = [t.to(dtype).requires_grad_() for t in (q, k, v)]
    ours = flash_attention(*low, causal=causal)
    ours_grads = torch.autograd.grad(ours, low, dout.to(dtype))
    ref_low = [t.to(dtype).requires_grad_() for t in (q, k, v)]
    theirs = sdpa_attention(*ref_low, causal=causal)
    theirs_grads = torch.autograd.grad(theirs, ref_low, dout.to(dtype))
    for name, a, b, w in zip(("out", "dq", "dk", "dv"), (ours, *ours_grads), (theirs, *theirs_grads),
                             (want[0], *want[2:])):
        err, err_torch = (a.double() - w).abs().max().item(), (b.double() - w).abs().max().item()
        assert err <= 2 * err_torch + 1e-3, f"{name}: error {err:.2e}, PyTorch's {err_torch:.2e}"


@gpu
@pytest.mark.gpu
def test_flash_memory_grows_linearly_on_gpu():
    """The forward saves O(T) beyond its inputs and output (the lse), not the (T, T) probabilities."""
    peaks = []
    for T in (2048, 8192):
        q = torch.randn(1, 8, T, 64, device="cuda", dtype=torch.float16)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        flash_forward(q, q, q, causal=True)
        peaks.append(torch.cuda.max_memory_allocated() - base)
    assert peaks[1] <= 4.5 * peaks[0]  # 4x the length: about 4x the memory (a T^2 method would be 16x)


@gpu
@pytest.mark.gpu
def test_flash_past_two_to_the_31_elements_on_gpu():
    """q of 2**31 float16 numbers (4 GiB): the last head's offset overflows int32 unless widened to int64."""
    B, nh, T, D = 256, 64, 1024, 128
    if torch.cuda.get_device_properties(0).total_memory < 24 * 2**30:
        pytest.skip("needs a GPU with 24 GiB")
    q = torch.randn(B, nh, T, D, device="cuda", dtype=torch.float16) / 4
    out, _ = flash_forward(q, q, q, causal=True)
    last = q[-1:, -1:]
    torch.testing.assert_close(out[-1:, -1:], sdpa_attention(last, last, last, causal=True), atol=2e-2, rtol=0)
    del q, out
    torch.cuda.empty_cache()


def test_pick_fastest_times_the_candidates_and_keeps_the_faster(capsys):
    import time as _time

    def slow(q, k, v, causal):
        _time.sleep(0.02)
        return sdpa_attention(q, k, v, causal=causal)

    q = torch.randn(1, 2, 8, 16)
    assert kernels.pick_fastest({"slow": slow, "sdpa": lambda q, k, v, c: sdpa_attention(q, k, v, causal=c)},
                                q, q, q, causal=True, repeats=2) == "sdpa"
    assert "-> sdpa" in capsys.readouterr().out


def test_auto_attention_on_a_cpu_is_sdpa_without_timing(capsys):
    q, k, v = (torch.randn(1, 2, 8, 16) for _ in range(3))
    torch.testing.assert_close(ATTENTION["auto"](q, k, v), sdpa_attention(q, k, v))
    assert capsys.readouterr().out == ""
