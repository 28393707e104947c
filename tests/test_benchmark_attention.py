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


def test_rows_survive_a_committed_result_and_back(tmp_path):
    """result_values flattens the rows into a Result's lists of numbers; rows_from_values rebuilds them."""
    from minillm import results
    from minillm.kernels.benchmark import flops, result_values, rows_from_values

    def timing(ms, T, D, causal, backward):
        return dict(ms=ms, peak_mib=ms * 3, tflops=flops(1, 16, T, D, causal, backward) / (ms / 1e3) / 1e12)

    rows = []
    for D, causal, T, backward in [(64, False, 1024, True), (64, True, 512, False), (64, True, 512, True),
                                   (128, True, 2048, True)]:  # in the order run() makes them
        times = dict(sdpa=0.5 + T / 1e3, triton=0.25 + D / 1e3)
        if T < 2048:  # the reference is left out where it would not fit, as on a GPU
            times["reference"] = 2.0 + T / 100
        row = dict(gpu="GPU", dtype="bfloat16", batch=1, heads=16, head_dim=D, causal=causal, T=T,
                   **{"pass": "forward+backward" if backward else "forward"},
                   **{name: timing(ms, T, D, causal, backward) for name, ms in times.items()})
        row["triton_vs_sdpa_speed"] = row["sdpa"]["ms"] / row["triton"]["ms"]
        rows.append(row)
    results.save(results.Result("attention_test", result_values(rows), "a test", "GPU"), tmp_path)
    got = rows_from_values(results.load("attention_test", tmp_path).values)
    assert [(r["head_dim"], r["causal"], r["T"], r["pass"]) for r in got] == \
        [(r["head_dim"], r["causal"], r["T"], r["pass"]) for r in rows]
    for a, b in zip(got, rows):
        assert set(a) == set(b)
        for key, value in b.items():
            assert a[key] == (pytest.approx(value) if isinstance(value, (dict, float)) else value), key


def test_the_committed_h100_measurement_loads_as_rows():
    from minillm import results
    from minillm.kernels.benchmark import rows_from_values

    h100 = results.load("attention_h100")
    rows = rows_from_values(h100.values)
    assert {(r["head_dim"], r["causal"]) for r in rows} == {(64, True), (64, False), (128, True), (128, False)}
    goal = [r for r in rows if r["head_dim"] == 64 and r["causal"] and r["pass"] == "forward+backward"]
    assert [r["T"] for r in goal] == [512, 1024, 2048, 4096, 8192, 16384]
    assert all("sdpa" in r and "triton" in r for r in goal) and "reference" not in goal[-1]


def test_save_result_is_for_gpu_runs():
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--lengths", "32", "--save-result", "attention_cpu"])
