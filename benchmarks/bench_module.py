"""nn.Module overhead and checkpoint speed.

1. A training step (forward, loss, backward) of a 64-128-128-10 MLP at batch 32 built from
   nn.Linear modules, against the same ops on raw tensors (x @ W^T + b): the ratio is the
   cost of the Module layer (attribute lookup, scopes, input checks).
2. One nn.Linear(8, 8) call on a (4, 8) input against its bare ops.
3. nn.save + nn.load of a ~4.2M-parameter state dict against np.savez + np.load of the
   same arrays (the manifest, atomic rename and fsync are the difference).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_module.py
"""
import os
import tempfile

import _common
import numpy as np

import autodiff as ad
import nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu()
        return x


def bench_training_step():
    print("MLP 64-128-128-10, batch 32: forward + loss + backward")
    ad.manual_seed(0)
    model = MLP([64, 128, 128, 10])
    raw = [(ad.tensor(m.weight.data.copy(), requires_grad=True),
            ad.tensor(m.bias.data.copy(), requires_grad=True)) for m in model.layers]
    x = ad.randn(32, 64)
    labels = np.random.default_rng(0).integers(0, 10, 32)

    def raw_step():
        h = x
        for i, (w, b) in enumerate(raw):
            h = h @ w.T + b
            if i < len(raw) - 1:
                h = h.relu()
        ad.softmax_cross_entropy(h, labels).mean().backward()
        for w, b in raw:
            w.grad = b.grad = None

    def module_step():
        ad.softmax_cross_entropy(model(x), labels).mean().backward()
        model.zero_grad()

    base = _common.median_time(raw_step, repeats=200)
    mod = _common.median_time(module_step, repeats=200)
    print(_common.row("raw tensors (baseline)", base, scale=1e6, unit="us"))
    print(_common.row("nn.Module model", mod, scale=1e6, unit="us", baseline=base))


def bench_call_overhead():
    print("nn.Linear(8, 8) on a (4, 8) input, forward only (grad mode on)")
    layer = nn.Linear(8, 8)
    x = ad.randn(4, 8)
    w, b = layer.weight, layer.bias

    def bare():
        for _ in range(100):
            x @ w.T + b

    def call():
        for _ in range(100):
            layer(x)
    base = _common.median_time(bare, repeats=50) / 100
    mod = _common.median_time(call, repeats=50) / 100
    print(_common.row("bare ops (baseline)", base, scale=1e6, unit="us"))
    print(_common.row("layer(x)", mod, scale=1e6, unit="us", baseline=base))


def bench_checkpoint():
    print("state dict of 4.2M float32 parameters (Linear 2048x2048 ... ), save + load")
    model = nn.Sequential(nn.Linear(2048, 2048), nn.Linear(2048, 10))
    sd = model.state_dict()
    arrays = {k: v.data for k, v in sd.items()}
    with tempfile.TemporaryDirectory() as d:
        npz, ck = os.path.join(d, "plain.npz"), os.path.join(d, "ck.npz")

        def plain():
            np.savez(npz, **arrays)
            with np.load(npz) as f:
                {k: f[k] for k in f.files}

        def ours():
            nn.save(sd, ck)
            nn.load(ck)
        base = _common.median_time(plain, repeats=7, warmup=1)
        mine = _common.median_time(ours, repeats=7, warmup=1)
    print(_common.row("np.savez + np.load (baseline)", base))
    print(_common.row("nn.save + nn.load", mine, baseline=base))


if __name__ == "__main__":
    bench_training_step()
    bench_call_overhead()
    bench_checkpoint()
