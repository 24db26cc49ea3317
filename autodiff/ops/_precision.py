"""Shared by the ops that compute half-precision inputs in a wider accumulation dtype
(backend.accumulation_dtype: float32 for float16/bfloat16, None otherwise)."""
from __future__ import annotations

from .. import backend


def work(a, acc):
    """a in the accumulation dtype acc (as it is when acc is None or a has it already)."""
    return a.astype(acc) if acc is not None and a.dtype != acc else a


def accumulated(dtype, compute, *args):
    """compute(*args, acc) with acc the accumulation dtype of `dtype`, the result cast back
    to `dtype` when it was widened."""
    acc = backend.accumulation_dtype(dtype)
    out = compute(*args, acc)
    return out.astype(dtype) if acc is not None else out
