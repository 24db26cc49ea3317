"""MLP training step: forward, softmax cross-entropy, backward, SGD update (float32).

Sizes (issue 2): 784-256-256-10 at batch 128 (target <= 1.10 x hand-written NumPy) and
64-128-10 at batch 32 (target <= 1.6 x NumPy). Issue 18: the small MLP at most 1.00x torch
eager and 0.80x torch through ad.compile (the step captured once, then replayed); the big
one at most 0.90x torch. The engine is used directly: ad.linear (the
fused x @ W^T + b, one graph node, as nn.Linear uses it, with W in the (out, in) layout),
relu and the fused softmax_cross_entropy; the NumPy baseline is the same math (W kept as
(in, out)) with its backward by hand.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_mlp.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import numpy as np

import autodiff as ad

LR = 0.01


def make_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append((rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                       rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return params


def autodiff_step(params, x, labels):
    # weights as (out_features, in_features), like nn.Linear's
    tensors = [(ad.tensor(np.ascontiguousarray(w.T), requires_grad=True),
                ad.tensor(b.copy(), requires_grad=True)) for w, b in params]
    xt = ad.tensor(x)

    def step():
        h = xt
        for i, (w, b) in enumerate(tensors):
            h = ad.linear(h, w, b)
            if i < len(tensors) - 1:
                h = h.relu()
        loss = ad.softmax_cross_entropy(h, labels).mean()
        loss.backward()
        with ad.no_grad():
            for w, b in tensors:
                w.data -= LR * w.grad.data
                b.data -= LR * b.grad.data
                w.grad = b.grad = None
        return loss
    return step


def numpy_step(params, x, labels):
    ws = [(w.copy(), b.copy()) for w, b in params]
    rows = np.arange(len(labels))

    def step():
        acts = [x]
        h = x
        for i, (w, b) in enumerate(ws):
            h = h @ w + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        loss, g = _common.softmax_xent_numpy(h, rows, labels)
        for i in reversed(range(len(ws))):
            w, b = ws[i]
            gw = acts[i].T @ g
            gb = g.sum(axis=0)
            if i > 0:
                g = (g @ w.T) * (acts[i] > 0)
            w -= LR * gw
            b -= LR * gb
        return loss
    return step


def torch_step(torch, params, x, labels):
    tensors = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
               for w, b in params]
    xt, yt = torch.tensor(x), torch.tensor(labels)

    def step():
        h = xt
        for i, (w, b) in enumerate(tensors):
            h = h @ w + b
            if i < len(tensors) - 1:
                h = h.relu()
        loss = torch.nn.functional.cross_entropy(h, yt)
        loss.backward()
        with torch.no_grad():
            for w, b in tensors:
                w -= LR * w.grad
                b -= LR * b.grad
                w.grad = b.grad = None
        return loss
    return step


def bench(sizes, batch, target, repeats):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    params = make_params(sizes)
    # Same loss on the first step: the two implementations compute the same math.
    np.testing.assert_allclose(float(autodiff_step(params, x, labels)().item()),
                               float(numpy_step(params, x, labels)()), rtol=1e-5)
    t_np = _common.median_time(numpy_step(params, x, labels), repeats)
    t_ad = _common.median_time(autodiff_step(params, x, labels), repeats)
    eager, replay = autodiff_step(params, x, labels), ad.compile(
        autodiff_step(params, x, labels), strict=True)
    for _ in range(4):  # eager, captured twice, replayed: each bit-identical to eager
        assert eager().data.tobytes() == replay().data.tobytes()
    t_replay = _common.median_time(replay, repeats)
    name = "-".join(map(str, sizes))
    print(f"MLP {name}, batch {batch}, one SGD step (median of {repeats})")
    print(_common.row("hand-written NumPy", t_np))
    torch = _common.try_torch()
    t_torch = None
    if torch is not None:
        t_torch = _common.median_time(torch_step(torch, params, x, labels), repeats)
        print(_common.row("torch", t_torch, baseline=t_np))
    print(_common.row("autodiff eager", t_ad, baseline=t_np) +
          f"   (target <= {target:.2f}x NumPy)")
    print(_common.row("autodiff ad.compile (replay)", t_replay, baseline=t_np))
    if t_torch:
        print(f"  eager / torch = {t_ad / t_torch:.2f}x   replay / torch = "
              f"{t_replay / t_torch:.2f}x")


def main():
    bench((784, 256, 256, 10), 128, 1.10, 40)
    bench((64, 128, 10), 32, 1.6, 200)


if __name__ == "__main__":
    main()
