"""One Adam step on 1,000,000 float32 parameters in 10 tensors (issue 6).

Target: nn.optim.Adam <= 1.5 x a hand-written in-place NumPy Adam (preallocated scratch
buffer, every operation with out=) measured in the same run; torch.optim.Adam (default and
fused) for reference. Single-threaded; medians of repeated steps.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_adam.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import math

import numpy as np

import autodiff as ad
from nn import optim

N_TENSORS, SIZE = 10, 100_000
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def make_arrays(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(SIZE).astype(np.float32) for _ in range(N_TENSORS)]
    grads = [rng.standard_normal(SIZE).astype(np.float32) for _ in range(N_TENSORS)]
    return params, grads


class NumpyAdam:
    """The same update written directly on arrays: m, v, one scratch buffer per tensor."""

    def __init__(self, params):
        self.params = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        step_size = LR / (1 - B1 ** self.t)
        bc2 = math.sqrt(1 - B2 ** self.t)
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.tmp):
            m *= B1
            np.multiply(g, 1 - B1, out=tmp)
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp *= 1 - B2
            v *= B2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= bc2
            tmp += EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def main():
    params, grads = make_arrays()
    print(f"Adam step, {N_TENSORS} tensors x {SIZE:,} float32 = {N_TENSORS * SIZE:,} parameters "
          "(median, single thread)")

    ref = NumpyAdam([p.copy() for p in params])
    t_np = _common.median_time(lambda: ref.step(grads), repeats=31, warmup=5)

    tensors = [ad.tensor(p.copy(), requires_grad=True) for p in params]
    for t, g in zip(tensors, grads):
        t.grad = ad.tensor(g)
    opt = optim.Adam(tensors, lr=LR, betas=(B1, B2), eps=EPS)
    t_ours = _common.median_time(opt.step, repeats=31, warmup=5)

    # same inputs, same number of steps: the two implementations must agree
    check = NumpyAdam([p.copy() for p in params])
    ours = [ad.tensor(p.copy(), requires_grad=True) for p in params]
    for t, g in zip(ours, grads):
        t.grad = ad.tensor(g)
    check_opt = optim.Adam(ours, lr=LR, betas=(B1, B2), eps=EPS)
    for _ in range(3):
        check.step(grads)
        check_opt.step()
    err = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours, check.params))

    print(_common.row("hand-written NumPy (in place)", t_np))
    print(_common.row("nn.optim.Adam", t_ours, baseline=t_np))
    torch = _common.try_torch()
    if torch is not None:
        for label, kw in (("torch.optim.Adam", {}), ("torch.optim.Adam(fused=True)",
                                                       {"fused": True})):
            tp = [torch.tensor(p, requires_grad=True) for p in params]
            for t, g in zip(tp, grads):
                t.grad = torch.tensor(g)
            try:
                topt = torch.optim.Adam(tp, lr=LR, betas=(B1, B2), eps=EPS, **kw)
                t_torch = _common.median_time(topt.step, repeats=31, warmup=5)
            except (RuntimeError, ValueError) as exc:  # fused unsupported on this build
                print(f"  {label:<34} unavailable ({exc})")
                continue
            print(_common.row(label, t_torch, baseline=t_np))
    print(f"  nn.optim.Adam / NumPy = {t_ours / t_np:.2f}x (target <= 1.5x); "
          f"max |difference| after 3 steps = {err:.1e}")


if __name__ == "__main__":
    main()
