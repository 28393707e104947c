"""The warm-up kernel: a fused row softmax in Triton.

PyTorch's unfused softmax reads and writes the (rows, n) matrix several times (max, subtract, exp,
sum, divide). This kernel reads each row once into on-chip memory, does all five steps there and
writes the result once: the same idea FlashAttention applies to the whole attention.

One Triton program per row. A program works on a whole block of numbers at once; the block must be a
power of two, so it is the row length rounded up, and the lanes past the row's end are masked: they
load -inf, which adds exp(-inf) = 0 to the sum, and they are never stored.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _softmax_rows(X, Y, n_cols, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)                        # which row this program owns
    cols = tl.arange(0, BLOCK)                    # 0, 1, ..., BLOCK - 1: one lane per column
    inside = cols < n_cols
    x = tl.load(X + row * stride_x + cols, mask=inside, other=float("-inf")).to(tl.float32)
    x = x - tl.max(x, axis=0)                     # the stable softmax: subtract the row's maximum
    e = tl.exp(x)
    y = e / tl.sum(e, axis=0)
    tl.store(Y + row * stride_y + cols, y.to(Y.dtype.element_ty), mask=inside)


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension with one fused kernel; any leading shape, float16/bfloat16/float32.

    Computes in float32 and returns x's dtype. Rows up to 65,536 long (one block per row).
    """
    if x.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise TypeError(f"softmax kernel takes float16, bfloat16 or float32, got {x.dtype}")
    n = x.size(-1)
    if not 0 < n <= 65536:
        raise ValueError(f"the kernel holds a whole row in one block: rows of 1 to 65,536, got {n}")
    rows = x.reshape(-1, n)
    if rows.stride(-1) != 1:
        rows = rows.contiguous()
    y = torch.empty_like(rows)
    _softmax_rows[(rows.size(0),)](rows, y, n, rows.stride(0), y.stride(0), BLOCK=triton.next_power_of_2(n))
    return y.view(x.shape)
