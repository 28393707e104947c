"""Settings for every pytest run (tests/ and the package's doctests)."""

import importlib.util
import os

import torch

# Without a GPU the Triton kernels run on CPU tensors in Triton's interpreter, which must be switched on
# before any kernel is defined, that is before minillm.kernels is first imported (see tests/test_kernels.py).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Triton is optional (Linux only): without it the kernel modules can't even be imported for their doctests.
collect_ignore_glob = [] if importlib.util.find_spec("triton") else ["minillm/kernels/*.py"]
