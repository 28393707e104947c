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

NBVAL_OUTPUT_TIMEOUT = 60  # seconds


def pytest_collection_modifyitems(items):
    """nbval waits only 5 s for each output message after a cell's reply; on a busy machine (a class sharing
    it, CI beside other jobs) a training cell's last messages can take longer, and the cell fails for no fault
    of its own (seen once here, notebook 05's payoff cell, with a second test run beside it)."""
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's notebook cells
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT
