"""Training with and without batch normalisation (lecture: "Batch Normalization", the
slide with Ioffe & Szegedy's Figure 1: test accuracy over training, and the 15th, 50th
and 85th percentiles of a sigmoid layer's input over training, with and without BN).

The paper's network on the 8x8 digits: three fully connected hidden layers of 100 sigmoid
units (weights N(0, 0.1^2), the paper's "small random Gaussian values"), then
Linear(100, 10); the same network with BatchNorm1d before each sigmoid. Both train
with plain SGD (lr 0.5, batch 32) from the same initial weights and batch order.
nn.training.LayerStats records the input of the last hidden layer's sigmoid every 10
steps; the test accuracy is measured after every epoch (fit's validation data).

What to look at: bn_accuracy.png: with BN the test accuracy climbs much faster;
bn_percentiles.png: without BN the sigmoid's input distribution drifts and spreads as
training goes on (the layers above keep chasing a moving target); with BN it starts at
mean 0, std 1 and moves only as slowly as the learnt beta and gamma do.

Run: python examples/lectures/batch_norm_training.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys
from collections import OrderedDict

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import init, optim, training  # noqa: E402

HIDDEN, WATCHED = 100, "input3"


def make_model(batch_norm, seed=0):
    """Three hidden sigmoid layers of 100; the last one's input is the module "input3"
    (the Linear without BN, the BatchNorm with it)."""
    ad.manual_seed(seed)
    layers, fan_in = [("flatten", nn.Flatten())], 64
    for i in (1, 2, 3):
        linear = nn.Linear(fan_in, HIDDEN)
        init.normal_(linear.weight, 0.0, 0.1)  # the paper's "small random Gaussian" weights
        init.zeros_(linear.bias)
        if batch_norm:
            layers += [(f"fc{i}", linear), (f"input{i}", nn.BatchNorm1d(HIDDEN))]
        else:
            layers.append((f"input{i}", linear))
        layers.append((f"sigmoid{i}", nn.Sigmoid()))
        fan_in = HIDDEN
    layers.append(("out", nn.Linear(HIDDEN, 10)))
    return nn.Sequential(OrderedDict(layers))


def train(batch_norm, epochs, every=10, seed=0):
    """(History with test accuracy per epoch, LayerStats of the watched layer)."""
    train_set, val, test = _common.digits_splits(seed=0)
    train_loader, _, test_loader, _ = _common.digits_loaders(train_set, val, test, seed=seed)
    model = make_model(batch_norm, seed)
    stats = training.LayerStats(every=every, layers=[WATCHED])
    history = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5),
                           train_loader, test_loader, epochs=epochs, callbacks=[stats],
                           progress=False)
    return history, stats


def _percentiles(stats):
    return {s["step"]: s["layers"][WATCHED]["percentiles"] for s in stats.snapshots}


def main(argv=None):
    args = _common.parse_args("batch_norm_training", __doc__, argv)
    epochs = 4 if args.quick else 40
    runs = {"without BN": train(False, epochs), "with BN": train(True, epochs)}
    print(f"3 x 100 sigmoid units on the digits, SGD lr 0.5, batch 32, {epochs} epochs")
    print("\n== test accuracy (%) after each epoch")
    shown = sorted({1, 2, 3, 5, 10, 20, epochs} & set(range(1, epochs + 1)))
    print(_common.table(["epoch"] + list(runs),
                        [(e, *(100 * h.epochs[e - 1]["val_accuracy"] for h, _ in runs.values()))
                         for e in shown], ["{}"] + ["{:.1f}"] * len(runs)))
    print(f"\n== 15th / 50th / 85th percentiles of the last sigmoid's input ({WATCHED})")
    result = {}
    for label, (history, stats) in runs.items():
        pct = _percentiles(stats)
        steps = sorted(pct)
        picks = [steps[0], steps[len(steps) // 2], steps[-1]]
        print(f"{label}: " + "; ".join(
            f"step {s}: {pct[s][15]:+.2f} / {pct[s][50]:+.2f} / {pct[s][85]:+.2f}"
            for s in picks))
        spread = [pct[s][85] - pct[s][15] for s in steps]
        median = [pct[s][50] for s in steps]
        result[label] = dict(accuracy=[r["val_accuracy"] for r in history.epochs],
                             spread=spread, median=median, steps=steps)
        print(f"   85th - 15th percentile: {spread[0]:.2f} at the start, {spread[-1]:.2f} at "
              f"the end; the median moved by {median[-1] - median[0]:+.2f}")
    _common.draw(_plot, runs, args.out)
    return result


def _plot(runs, out):
    from viz import plots
    fig, ax = _common.figure(width=7, height=4.2)
    for colour, (label, (history, _)) in zip(_common.COLOURS, runs.items()):
        per_epoch = len(history.steps) // len(history.epochs)
        steps = per_epoch * np.arange(1, len(history.epochs) + 1)
        ax.plot(steps, [100 * r["val_accuracy"] for r in history.epochs], "-o", color=colour,
                ms=3, label=label)
    ax.set(xlabel="training step", ylabel="test accuracy (%)",
           title="(a) Test accuracy during training")
    ax.legend()
    _common.save(fig, out, "bn_accuracy")
    fig = plots.plot_percentiles({label: stats.snapshots for label, (_, stats) in runs.items()},
                                 WATCHED, q=(15, 50, 85),
                                 title="(b) 15th, 50th and 85th percentiles of the last "
                                       "sigmoid's input")
    _common.save(fig, out, "bn_percentiles")


if __name__ == "__main__":
    main()
