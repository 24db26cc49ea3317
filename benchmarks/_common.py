"""Shared benchmark helpers: single-threaded set-up, median timing, optional torch."""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import time  # noqa: E402


def median_time(fn, repeats=15, warmup=3):
    """Median wall time of fn() in seconds over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def try_torch():
    """torch with one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def row(label, seconds, unit_divisor=1.0, unit="ms", scale=1e3, baseline=None):
    value = seconds * scale / unit_divisor
    ratio = f"{seconds / baseline:6.2f}x" if baseline else "      "
    return f"  {label:<34} {value:10.2f} {unit}  {ratio}"
