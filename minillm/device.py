"""Where the computation runs: the device, the autocast dtype, and CPU threads.

- `pick_device("auto")` takes a CUDA GPU, then Apple's MPS, then the CPU.
- `pick_dtype("auto", device)` takes bf16 on GPUs that have it, fp16 (with
  a gradient scaler, see `minillm.train`) on older GPUs, fp32 elsewhere.
- `cpu_threads("auto")` chooses how many threads PyTorch uses on the CPU.

Why threads need a policy: PyTorch starts one thread per core and splits each
matrix product between them. For the course's small models that is about 1.5x
faster than one thread on a quiet 2-core machine, but when another program
keeps a core busy (a second student's training, a notebook, a browser), each
split product waits for the thread the operating system put to sleep, and
training runs 2-15x slower than it would on one thread
(`benchmarks/cpu_threads.py` measures this; figures in the README). So
"auto" counts the cores other programs are using and leaves them alone: all
available cores on a quiet machine, fewer on a busy one, at least one.
`minillm.train` asks again at every evaluation (`CpuMeter` reads the others'
CPU time while training runs), so a neighbour that starts or stops mid-run
is noticed. `MINILLM_THREADS=N` or an explicit `threads=N` overrides it.

Subtle: the thread count can change the last bits of some results (a sum split
over threads adds in another order), so two runs with the same seed give
bit-identical numbers only with the same thread count; pin it (threads=1)
when bit-for-bit reruns matter more than speed.
"""

from __future__ import annotations

import contextlib
import math
import os
import time

import torch

from .errors import ConfigError

DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(name: str = "auto") -> torch.device:
    """"auto" -> the best available of cuda, mps, cpu; otherwise check the name is usable."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"minillm runs on cpu, cuda or mps, not {name!r}; use device='auto' to pick the best")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here; "
                          "use device 'auto' or 'cpu' (on Colab: Runtime > Change runtime type > GPU)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s): "
                          f"use cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for, but Apple's Metal backend is not available; use 'cpu'")
    return device


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype: bf16 on CUDA GPUs that have it, fp16 on older ones, else fp32.

    >>> pick_dtype("auto", torch.device("cpu"))
    torch.float32
    """
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}")
    if name != "auto":
        dtype = DTYPES[name]
        if dtype == torch.float16 and device.type != "cuda":
            raise ConfigError("float16 training needs a CUDA GPU; use dtype 'float32' or 'bfloat16' on the CPU")
        if dtype != torch.float32 and device.type == "mps":
            raise ConfigError("minillm trains in float32 on Apple GPUs (autocast on MPS depends on the PyTorch "
                              "version); use dtype 'float32' or 'auto'")
        if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigError(f"this GPU ({torch.cuda.get_device_name(device)}) has no bfloat16 support; "
                              "use dtype 'float16' (or 'auto', which picks it)")
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision for the forward pass; a no-op in fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# ----------------------------------------------------------------------------
# CPU threads

def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota.

    `os.cpu_count()` counts the whole host, which on a JupyterHub or in
    Docker can be 64 cores when the notebook may use 2.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" (no quota) or "200000 100000" (2 CPUs)
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return n


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(busy, total, cores) from the first lines of /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    # cpu  user nice system idle iowait irq softirq steal ...
    fields = [int(x) for x in lines[0].split()[1:9]]
    idle = fields[3] + fields[4]
    cores = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return sum(fields) - idle, sum(fields), cores


class CpuMeter:
    """How many CPUs other programs used between two readings (Linux; elsewhere None).

    All programs' CPU time from /proc/stat minus this process's own, so it
    can be read while this process is training flat out.
    """

    def __init__(self):
        self._last = self._read()

    @staticmethod
    def _read():
        jiffies = _cpu_jiffies()
        return None if jiffies is None else (*jiffies, time.process_time(), time.perf_counter())

    def others(self, min_seconds: float = 0.05) -> float | None:
        """CPUs kept busy by other programs since the last reading (or since the meter was made).

        None off Linux, or when less than `min_seconds` have passed (then the
        next call measures from the same start).
        """
        now, last = self._read(), self._last
        if now is None or last is None or now[4] - last[4] < min_seconds or now[1] <= last[1]:
            return None
        self._last = now
        busy_cpus = (now[0] - last[0]) / (now[1] - last[1]) * now[2]  # everyone's, averaged over the interval
        own_cpus = (now[3] - last[3]) / (now[4] - last[4])
        return max(0.0, busy_cpus - own_cpus)


def busy_cpus(interval: float = 0.1) -> float:
    """How many CPUs other programs keep busy right now (Linux: measured over `interval` s).

    Elsewhere it is the 1-minute load average (which lags, and counts this
    process too), or 0 where there is none.
    """
    meter = CpuMeter()
    time.sleep(interval)
    others = meter.others(min_seconds=0)
    if others is not None:
        return others
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


_announced: int | None = None


def cpu_threads(threads: int | str = "auto", announce: bool = True, busy: float | None = None) -> int:
    """Choose and set PyTorch's CPU thread count; returns it.

    An int is taken as is. "auto" reads `MINILLM_THREADS`, else leaves alone
    every core that other programs use more than a quarter of (`busy`, from
    `busy_cpus()` if not given): all available cores on a quiet machine, at
    least one. With `announce`, a changed choice is printed, in one line.
    """
    env = os.environ.get("MINILLM_THREADS")
    if threads == "auto" and env:
        if not env.isdigit() or int(env) < 1:
            raise ConfigError(f"MINILLM_THREADS must be a positive integer, got {env!r}")
        threads = int(env)
    cores = available_cpus()
    if threads == "auto":
        busy = busy_cpus() if busy is None else busy
        n = max(1, cores - math.ceil(busy - 0.25))
        why = f"{busy:.1f} of {cores} CPUs busy with other programs"
    elif isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:
        n, why = threads, "as asked"
    else:
        raise ConfigError(f"threads must be a positive integer or 'auto', got {threads!r}")
    torch.set_num_threads(n)
    global _announced
    if announce and n != _announced:
        print(f"CPU threads: {n} ({why}; set MINILLM_THREADS=N or threads=N to choose)")
        _announced = n
    return n
