"""Deep chain of 100,000 ops on shape (16,): backward time and graph memory per op.

Targets (issue 2): backward not slower than torch (about 0.38 s here) and graph memory
under 1 KB per op. Memory is what building the graph allocates (tracemalloc, which sees
NumPy's buffers too) and the process RSS growth, for both engines. Issue 18: build +
backward at most 0.80x torch, at most 500 B/op, and a 1,000,000-op build with the cyclic
GC on (the default) close to the same build with it disabled (autodiff/_gcdefer.py);
--no-million skips that last part (it takes ~10 s).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_deep_chain.py [--no-million]
"""
import _common  # noqa: F401  (single-threaded set-up first)
import gc
import statistics
import sys
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


def build_autodiff(n_ops=N_OPS):
    x = ad.tensor(X, requires_grad=True)
    c = ad.tensor(C)
    y = x
    for _ in range(n_ops // 2):
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
    """Median build and backward seconds, and the first build's RSS growth."""
    builds, times, rss = [], [], []
    for _ in range(repeats):
        gc.collect()
        before = rss_bytes()
        t0 = time.perf_counter()
        x, loss = build()
        builds.append(time.perf_counter() - t0)
        rss.append(rss_bytes() - before)  # the first build shows the true growth
        t0 = time.perf_counter()
        backward(loss)
        times.append(time.perf_counter() - t0)
        del x, loss
    return statistics.median(builds), statistics.median(times), rss[0]


def million_build(gc_enabled):
    """Seconds to build a 1,000,000-op chain, with the cyclic GC on (as users run) or off."""
    gc.collect()
    if not gc_enabled:
        gc.disable()
    try:
        t0 = time.perf_counter()
        x, loss = build_autodiff(1_000_000)
        seconds = time.perf_counter() - t0
    finally:
        gc.enable()
    del x, loss
    return seconds


def main():
    million = "--no-million" not in sys.argv[1:]
    print(f"deep chain of {N_OPS} ops on (16,): build and backward time (median of 5), "
          "graph memory")
    torch = _common.try_torch()
    if torch is not None:  # first, so its RSS growth is not hidden by memory we freed
        b_torch, t_torch, rss_torch = measure(lambda: build_torch(torch),
                                              lambda l: l.backward())
        print(f"  torch      build {b_torch:6.3f} s   backward {t_torch:6.3f} s   "
              f"RSS growth {rss_torch / N_OPS:7.0f} B/op")
    b_ad, t_ad, rss_ad = measure(build_autodiff, lambda l: l.backward())
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    x, loss = build_autodiff()
    graph_bytes = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    del x, loss
    print(f"  autodiff   build {b_ad:6.3f} s   backward {t_ad:6.3f} s   "
          f"RSS growth {rss_ad / N_OPS:7.0f} B/op   traced graph memory "
          f"{graph_bytes / N_OPS:6.0f} B/op (target <= 500)")
    if torch is not None:
        print(f"  autodiff / torch: backward {t_ad / t_torch:.2f}x (target <= 1.00x), build + "
              f"backward {(b_ad + t_ad) / (b_torch + t_torch):.2f}x (target <= 0.80x)")
    if million:
        on, off = million_build(True), million_build(False)
        print(f"  1,000,000-op build: {on:.2f} s with the cyclic GC on, {off:.2f} s with it "
              f"disabled ({on / off:.2f}x; the GC's thresholds afterwards: {gc.get_threshold()})")


if __name__ == "__main__":
    main()
