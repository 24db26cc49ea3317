"""WaveNet names model (makemore part 5) training step, batch 32, float32, single thread:

    Embedding(27, 24) -> 3 x [FlattenConsecutive(2) -> Linear(2C, 128, no bias) ->
    BatchNorm1d(128) over the last axis -> tanh] -> Linear(128, 27)
    -> cross-entropy -> zero_grad, backward, SGD step (lr 0.1)

the model of examples/lectures/wavenet_names.py (76,579 parameters) on 8-character
contexts. Timed: autodiff eager, autodiff through ad.compile (captured once, then replayed)
and the same model in torch (eager), all with the same weights; each step takes the next
of 64 pre-drawn random batches (as the lecture's loop draws one per step). The first
step's losses agree (checked), and the replayed steps are bit-identical to eager ones
(tests/test_capture.py).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_wavenet.py [--repeats N]
"""
import argparse
import pathlib
import sys

import _common  # noqa: F401  (single-threaded set-up first)
import numpy as np

import autodiff as ad
from nn import functional as F
from nn import optim



def _import_lecture():
    """examples/lectures/wavenet_names.py, whose folder has its own `_common` module: it is
    imported with that one in place, then this folder's is put back."""
    ours = sys.modules.pop("_common")
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "lectures"))
    try:
        import wavenet_names
    finally:
        sys.path.pop(0)
        sys.modules["_common"] = ours
    return wavenet_names


wavenet_names = _import_lecture()

BATCH, CONTEXT, LR = 32, 8, 0.1


def batches(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, wavenet_names.VOCAB, (BATCH, CONTEXT)),
             rng.integers(0, wavenet_names.VOCAB, BATCH)) for _ in range(n)]


def autodiff_model(seed=0):
    ad.manual_seed(seed)
    return wavenet_names.wavenet()


def autodiff_step(model, data, compiled):
    opt = optim.SGD(model.parameters(), lr=LR)
    tensors = [(ad.tensor(x), ad.tensor(y)) for x, y in data]

    def train_step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = ad.compile(train_step, strict=True) if compiled else train_step
    it = iter(range(1 << 62))

    def step():
        return fn(*tensors[next(it) % len(tensors)])
    return step, fn


def torch_model(torch, model):
    """The same network in torch with autodiff model's weights (BatchNorm over the last
    axis as a BatchNorm1d of the (N * L, C) rows, which is what it computes)."""
    nn_ = torch.nn

    class LastAxisBatchNorm(nn_.Module):
        def __init__(self, c):
            super().__init__()
            self.bn = nn_.BatchNorm1d(c)

        def forward(self, x):
            return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    class Consecutive(nn_.Module):
        def forward(self, x):
            n, length, c = x.shape
            y = x.reshape(n, length // 2, 2 * c)
            return y.squeeze(1) if length == 2 else y

    layers = [nn_.Embedding(27, 24)]
    for fan_in in (48, 256, 256):
        layers += [Consecutive(), nn_.Linear(fan_in, 128, bias=False), LastAxisBatchNorm(128),
                   nn_.Tanh()]
    layers.append(nn_.Linear(128, 27))
    net = nn_.Sequential(*layers)
    ours = [p.data for p in model.parameters()]
    theirs = list(net.parameters())
    assert [tuple(p.shape) for p in theirs] == [a.shape for a in ours]
    with torch.no_grad():
        for p, a in zip(theirs, ours):
            p.copy_(torch.from_numpy(a.copy()))
    return net


def torch_step(torch, net, data):
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    it = iter(range(1 << 62))

    def step():
        x, y = tensors[next(it) % len(tensors)]
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    data = batches()
    torch = _common.try_torch()
    eager, _ = autodiff_step(autodiff_model(), data, compiled=False)
    replay, compiled = autodiff_step(autodiff_model(), data, compiled=True)
    if torch is not None:  # the same model: the same first loss
        t_first = torch_step(torch, torch_model(torch, autodiff_model()), data)().item()
        np.testing.assert_allclose(float(eager().item()), t_first, rtol=1e-5)
    print(f"WaveNet names model (76,579 parameters), batch {BATCH}, one SGD step "
          f"(median of {args.repeats})")
    t_eager = _common.median_time(eager, args.repeats, warmup=5)
    t_replay = _common.median_time(replay, args.repeats, warmup=5)
    assert "replayed" in compiled.explain(), compiled.explain()
    t_torch = None
    if torch is not None:
        t_torch = _common.median_time(torch_step(torch, torch_model(torch, autodiff_model()),
                                                 data), args.repeats, warmup=5)
        print(_common.row("torch (eager)", t_torch))
    print(_common.row("autodiff eager", t_eager, baseline=t_torch))
    print(_common.row("autodiff ad.compile (replay)", t_replay, baseline=t_torch))
    print(f"  replay / eager = {t_replay / t_eager:.2f}x" +
          ("" if t_torch else "   (torch not installed: no ratios)"))


if __name__ == "__main__":
    main()
