"""benchmarks/attention.py: its FLOP count, its CPU-only exit, and a tiny CPU run (reference vs SDPA)."""

import importlib.util
from pathlib import Path

import pytest
import torch

spec = importlib.util.spec_from_file_location("bench_attention", Path(__file__).parents[1] / "benchmarks/attention.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_flop_count_follows_the_paper():
    from minillm.kernels.benchmark import flops

    fwd = flops(2, 16, 4096, 64, causal=False, backward=False)
    assert fwd == 4 * 2 * 16 * 4096**2 * 64
    assert flops(2, 16, 4096, 64, causal=True, backward=False) == fwd / 2
    assert flops(2, 16, 4096, 64, causal=False, backward=True) == 3.5 * fwd  # forward + 2.5x backward


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for machines without a GPU")
def test_without_a_gpu_it_says_so_and_exits_cleanly(capsys):
    assert bench.main([]) == []
    assert "there is none here" in capsys.readouterr().out


def test_a_tiny_cpu_run_measures_reference_and_sdpa(tmp_path):
    rows = bench.main(["--device", "cpu", "--lengths", "32", "--head-dims", "16", "--repeats", "1",
                       "--causal", "only", "--json", str(tmp_path / "rows.json")])
    assert [r["pass"] for r in rows] == ["forward", "forward+backward"]
    for r in rows:
        assert r["reference"]["ms"] > 0 and r["sdpa"]["tflops"] > 0 and "triton" not in r
    assert (tmp_path / "rows.json").exists()
