"""Deep chain of 100,000 ops on shape (16,): backward time and graph memory per op.

Targets (issue 2): backward not slower than torch (about 0.38 s here) and graph memory
under 1 KB per op. Memory is what building the graph allocates (tracemalloc, which sees
NumPy's buffers too) and the process RSS growth, for both engines.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_deep_chain.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import gc
import statistics
import time
import tracemalloc

import numpy as np

import autodiff as ad

N_OPS = 100_000
X = np.random.default_rng(0).random(16).astype(np.float32)
C = np.full(16, 0.999, dtype=np.float32)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def build_autodiff():
    x = ad.tensor(X, requires_grad=True)
    c = ad.tensor(C)
    y = x
    for _ in range(N_OPS // 2):
        y = (y * c).tanh()
    return x, y.sum()


def build_torch(torch):
    x = torch.tensor(X, requires_grad=True)
    c = torch.tensor(C)
    y = x
    for _ in range(N_OPS // 2):
        y = (y * c).tanh()
    return x, y.sum()


def measure(build, backward, repeats=5):
    times, rss = [], []
    for _ in range(repeats):
        gc.collect()
        before = rss_bytes()
        x, loss = build()
        rss.append(rss_bytes() - before)  # the first build shows the true growth
        t0 = time.perf_counter()
        backward(loss)
        times.append(time.perf_counter() - t0)
        del x, loss
    return statistics.median(times), rss[0]


def main():
    print(f"deep chain of {N_OPS} ops on (16,): backward time (median of 5) and graph memory")
    torch = _common.try_torch()
    if torch is not None:  # first, so its RSS growth is not hidden by memory we freed
        t_torch, rss_torch = measure(lambda: build_torch(torch), lambda l: l.backward())
        print(f"  torch      backward {t_torch:6.3f} s   RSS growth {rss_torch / N_OPS:7.0f} B/op")
    t_ad, rss_ad = measure(build_autodiff, lambda l: l.backward())
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    x, loss = build_autodiff()
    graph_bytes = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    del x, loss
    print(f"  autodiff   backward {t_ad:6.3f} s   RSS growth {rss_ad / N_OPS:7.0f} B/op   "
          f"traced graph memory {graph_bytes / N_OPS:6.0f} B/op (target < 1024)")
    if torch is not None:
        print(f"  autodiff / torch backward time = {t_ad / t_torch:.2f}x (target <= 1.00x)")


if __name__ == "__main__":
    main()
