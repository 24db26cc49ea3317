"""Per-op overhead: a chain of 2,000 elementwise ops on shape (16,), forward + backward.

Prints microseconds per op for autodiff (eager, and the same step through ad.compile:
captured once, then replayed), hand-written NumPy of the same math, and torch, with
ratios. Targets (issue 18): eager at most 0.80x torch, replayed at most 0.60x torch.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_overhead.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import numpy as np

import autodiff as ad

N_OPS = 2000  # 500 rounds of (mul, add, tanh, sub)
rng = np.random.default_rng(0)
X = rng.random(16).astype(np.float32)
C = rng.random(16).astype(np.float32)


def chain_step(x, c):
    """The timed step, for either engine: the chain forward, backward, x's gradient."""
    def step():
        x.grad = None
        y = x
        for _ in range(N_OPS // 4):
            y = ((y * c + c).tanh()) - c
        y.sum().backward()
        return x.grad
    return step


def run_autodiff():
    return chain_step(ad.tensor(X, requires_grad=True), ad.tensor(C))()


def captured_autodiff():
    """The step through ad.compile: x persists, its gradient is reset each call."""
    return ad.compile(chain_step(ad.tensor(X, requires_grad=True), ad.tensor(C)), strict=True)


def run_numpy():
    """The same math by hand: forward keeps what backward needs, backward applies the chain."""
    y = X
    saved = []
    for _ in range(N_OPS // 4):
        y = y * C
        y = y + C
        y = np.tanh(y)
        saved.append(y)
        y = y - C
    g = np.ones_like(y)
    for t in reversed(saved):
        g = g * (1 - t * t)   # through sub (identity) and tanh
        g = g * 1.0           # through add
        g = g * C             # through mul
    return g


def run_torch(torch):
    return chain_step(torch.tensor(X, requires_grad=True), torch.tensor(C))


def main():
    np.testing.assert_allclose(run_autodiff().numpy(), run_numpy(), rtol=1e-4, atol=1e-6)
    ops = N_OPS + 1
    t_ad = _common.median_time(run_autodiff)
    replay = captured_autodiff()
    for _ in range(4):  # eager, captured twice, replayed: each bit-identical to eager
        assert replay().data.tobytes() == run_autodiff().data.tobytes()
    t_replay = _common.median_time(replay)
    t_np = _common.median_time(run_numpy)
    print(f"per-op overhead: chain of {N_OPS} elementwise ops on (16,), forward + backward")
    print(_common.row("hand-written NumPy", t_np, ops, "us/op", 1e6))
    torch = _common.try_torch()
    t_torch = None
    if torch is not None:
        t_torch = _common.median_time(run_torch(torch))
        print(_common.row("torch", t_torch, ops, "us/op", 1e6))
    print(_common.row("autodiff eager", t_ad, ops, "us/op", 1e6))
    print(_common.row("autodiff ad.compile (replay)", t_replay, ops, "us/op", 1e6))
    print(f"  eager / NumPy = {t_ad / t_np:.2f}x   replay / NumPy = {t_replay / t_np:.2f}x")
    if t_torch:
        print(f"  eager / torch = {t_ad / t_torch:.2f}x (target <= 0.80x)   "
              f"replay / torch = {t_replay / t_torch:.2f}x (target <= 0.60x)")
    else:
        print("  (torch not installed)")


if __name__ == "__main__":
    main()
