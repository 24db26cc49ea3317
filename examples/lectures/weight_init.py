"""Weight initialisation and the activation statistics through depth (lecture: "Weight
initialization": the 7-layer, width-4096 tanh network fed a batch of 16, its per-layer
activation histograms for each way of drawing the weights).

  tanh, W = 0.01 randn    activations shrink layer by layer and collapse to 0 (so do the
                          gradients: no learning)
  tanh, W = 0.05 randn    too large: tanh saturates at +-1 (local gradients ~0)
  tanh, Xavier            std 1/sqrt(D_in), "just right": the std stays in a healthy range
  ReLU, Xavier            ReLU halves the variance each layer: collapses again
  ReLU, Kaiming           std sqrt(2 / D_in) restores it: the std stays constant
and the symmetry problem: with all weights equal (zero or constant), every hidden unit
computes the same function and receives the same gradient, so training keeps them
identical forever.

What to look at: figure init_histograms.png (one row per initialisation, one histogram
per layer), init_std.png (the std per layer) and the printed tables. The statistics come from
viz.collect_layer_stats (forward hooks on the layers, no training).

Run: python examples/lectures/weight_init.py [--quick] [--out DIR]
(--quick: width 512 instead of 4096, with the fixed stds 0.01 and 0.05 scaled by
sqrt(4096 / 512) so that every layer scales the variance as at width 4096.)
"""
from __future__ import annotations

import math
import pathlib
import sys
from collections import OrderedDict

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import init, optim  # noqa: E402

DEPTH, BATCH = 7, 16

LECTURE_WIDTH = 4096


def _fixed_std(std):
    """N(0, std^2) as at the lecture's width 4096; at a smaller width D the std is scaled
    by sqrt(4096 / D) so that each layer multiplies the variance by the same factor
    (D std^2) and the pictures look the same (--quick)."""
    return lambda w: init.normal_(w, 0.0, std * math.sqrt(LECTURE_WIDTH / w.shape[1]))


# label: (activation, how to draw each weight matrix W of shape (D_out, D_in))
INITS = {
    "tanh, 0.01 randn": (nn.Tanh, _fixed_std(0.01)),
    "tanh, 0.05 randn": (nn.Tanh, _fixed_std(0.05)),
    "tanh, Xavier": (nn.Tanh, lambda w: init.normal_(w, 0.0, 1 / math.sqrt(w.shape[1]))),
    "ReLU, Xavier": (nn.ReLU, lambda w: init.normal_(w, 0.0, 1 / math.sqrt(w.shape[1]))),
    "ReLU, Kaiming": (nn.ReLU, lambda w: init.kaiming_normal_(w, nonlinearity="relu")),
}


def deep_net(width, activation, draw):
    """DEPTH x (Linear(width, width, no bias) -> activation), weights from `draw`."""
    layers = []
    for i in range(1, DEPTH + 1):
        linear = nn.Linear(width, width, bias=False)
        with ad.no_grad():
            draw(linear.weight)
        layers += [(f"fc{i}", linear), (f"layer {i}", activation())]
    return nn.Sequential(OrderedDict(layers))


def activation_stats(width, seed=0):
    """{label: collect_layer_stats snapshot of the activation layers} for every INITS."""
    from viz import plots
    rng = np.random.default_rng(seed)
    x = ad.tensor(rng.standard_normal((BATCH, width)).astype(np.float32))
    stats = {}
    for label, (activation, draw) in INITS.items():
        ad.manual_seed(seed)
        model = deep_net(width, activation, draw)
        stats[label] = plots.collect_layer_stats(model, x, layers="activations")
        del model  # 7 x width^2 floats: free before the next one
    return stats


def symmetry(width=8, steps=100, value=0.1):
    """Train a 4-width-1 MLP whose hidden weights all start at `value` (and biases 0):
    returns (largest difference between hidden units after training, loss before, after)."""
    rng = np.random.default_rng(0)
    x = ad.tensor(rng.standard_normal((64, 4)))
    y = ad.tensor(np.sin(x.numpy().sum(1, keepdims=True)))
    model = nn.Sequential(nn.Linear(4, width), nn.Tanh(), nn.Linear(width, 1)).to(ad.float64)
    for p in model.parameters():
        init.constant_(p, value if p.ndim == 2 else 0.0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = F.mse_loss(model(x), y).item()
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = model[0].weight.numpy()
    return float(np.abs(w - w[0]).max()), before, loss.item()


def main(argv=None):
    args = _common.parse_args("weight_init", __doc__, argv)
    width = 512 if args.quick else 4096
    print(f"{DEPTH} layers of width {width} (no biases), a batch of {BATCH} inputs ~ N(0, 1)")
    if width != LECTURE_WIDTH:
        print(f"(the fixed stds 0.01 and 0.05 are scaled by sqrt({LECTURE_WIDTH}/{width}) = "
              f"{math.sqrt(LECTURE_WIDTH / width):.2f} to act as they do at width "
              f"{LECTURE_WIDTH})")
    if not _common.have_matplotlib():
        _common.skip_figures_note()
        return {}
    stats = activation_stats(width)
    stds = {label: [layer["std"] for layer in snap["layers"].values()]
            for label, snap in stats.items()}
    sat = {label: [layer["saturation"] for layer in snap["layers"].values()]
           for label, snap in stats.items()}
    print("\n== std of each layer's activations")
    print(_common.table(["initialisation"] + [f"layer {i + 1}" for i in range(DEPTH)],
                        [(label, *s) for label, s in stds.items()],
                        ["{}"] + ["{:.2g}"] * DEPTH))
    print("\n== saturation: the share of units that pass (almost) no gradient back\n"
          "   tanh: |a| > 0.97, on its flat ends (tanh' = 1 - a^2 < 0.06); "
          "ReLU: a = 0 exactly (ReLU' = 0)")
    print(_common.table(["initialisation"] + [f"layer {i + 1}" for i in range(DEPTH)],
                        [(label, *s) for label, s in sat.items()],
                        ["{}"] + ["{:.2f}"] * DEPTH))

    print("\n== the symmetry problem: all hidden weights start at 0.1")
    spread, before, after = symmetry()
    print(f"after 100 SGD steps (loss {before:.4f} -> {after:.4f}) the 8 hidden units still "
          f"have identical weights: largest difference {spread:.1e}")

    from viz import plots
    fig = plots.plot_layer_stats(stats, kind="activations", style="hist", size=(16, 10),
                                 title=f"Activations of each layer of a {DEPTH}-layer, "
                                       f"width-{width} network (a batch of {BATCH})")
    _common.save(fig, args.out, "init_histograms")
    fig = plots.plot_layer_stats(stats, kind="activations", style="std",
                                 title="Std of the activations through depth")
    _common.save(fig, args.out, "init_std")
    return dict(stds=stds, saturation=sat, symmetry=spread, width=width)


if __name__ == "__main__":
    main()
