"""Shared benchmark helpers: single-threaded set-up, median timing, optional torch."""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


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


def softmax_xent_numpy(logits, rows, labels):
    """Mean softmax cross-entropy by hand, the NumPy baselines' loss: (loss, dloss/dlogits)
    with loss = -mean log softmax(logits)[rows, labels] and dloss/dlogits = (p - onehot) / n."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[rows, labels].mean()
    g = np.exp(logp)
    g[rows, labels] -= 1
    g /= len(logits)
    return loss, g


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
