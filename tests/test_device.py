import subprocess
import sys
import time

import pytest
import torch

from minillm.device import CpuMeter, autocast, available_cpus, busy_cpus, cpu_threads, pick_device, pick_dtype
from minillm.errors import ConfigError

CPU = torch.device("cpu")


def test_pick_device():
    assert pick_device("cpu") == CPU
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    for bad, message in (("foo", "unknown device 'foo'"), ("meta", "minillm runs on cpu, cuda or mps")):
        with pytest.raises(ConfigError, match=message):
            pick_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without a GPU")
def test_asking_for_a_missing_gpu():
    with pytest.raises(ConfigError, match="PyTorch sees no CUDA GPU here"):
        pick_device("cuda")


def test_pick_dtype():
    assert pick_dtype("auto", CPU) == torch.float32
    assert pick_dtype("bfloat16", CPU) == torch.bfloat16
    assert pick_dtype("float32", torch.device("mps")) == torch.float32
    for name, device, message in (("float16", CPU, "needs a CUDA GPU"), ("fp8", CPU, "unknown dtype"),
                                  ("bfloat16", torch.device("mps"), "float32 on Apple GPUs")):
        with pytest.raises(ConfigError, match=message):
            pick_dtype(name, device)


def test_autocast_is_a_no_op_in_float32_and_casts_otherwise():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(CPU, torch.float32):
        assert (a @ b).dtype == torch.float32
    with autocast(CPU, torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_explicit_threads_and_the_environment(monkeypatch, restore_threads, capsys):
    assert cpu_threads(1) == 1 == torch.get_num_threads()
    monkeypatch.setenv("MINILLM_THREADS", "2")
    assert cpu_threads("auto") == 2 == torch.get_num_threads()
    assert "CPU threads: 2 (as asked" in capsys.readouterr().out
    monkeypatch.setenv("MINILLM_THREADS", "many")
    with pytest.raises(ConfigError, match="MINILLM_THREADS must be a positive integer"):
        cpu_threads("auto")
    with pytest.raises(ConfigError, match="threads must be a positive integer"):
        cpu_threads(0)


def test_auto_threads_stay_within_the_available_cpus(monkeypatch, restore_threads):
    monkeypatch.delenv("MINILLM_THREADS", raising=False)
    assert 1 <= cpu_threads("auto", announce=False) <= available_cpus()


@pytest.mark.skipif(sys.platform != "linux" or available_cpus() < 2, reason="samples /proc/stat; needs 2 CPUs")
def test_auto_threads_leave_a_busy_core_alone(monkeypatch, restore_threads):
    monkeypatch.delenv("MINILLM_THREADS", raising=False)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert busy_cpus(0.3) > 0.5
        assert cpu_threads("auto", announce=False) < available_cpus()
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/stat")
def test_the_meter_counts_other_programs_not_this_one():
    baseline = busy_cpus(0.5)  # whatever else this machine is running
    if baseline > available_cpus() - 1.3:
        pytest.skip(f"the machine is too busy ({baseline:.1f} CPUs) to see one more process")
    meter = CpuMeter()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.5:  # this process busy
        pass
    assert meter.others() < baseline + 0.5
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        meter.others()  # start measuring now that the neighbour runs
        time.sleep(0.5)
        assert meter.others() > baseline + 0.5
    finally:
        spinner.kill()
        spinner.wait()
    assert meter.others(min_seconds=10) is None  # too soon to tell
