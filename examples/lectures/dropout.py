"""Dropout (lecture: "Regularization: dropout", the slides on inverted dropout's scaling,
train vs test behaviour, Monte-Carlo dropout, and how dropout removes a kink).

  1. Inverted dropout zeroes each unit with probability p and scales the survivors by
     1/(1 - p), so the expected activation is unchanged: p = 0.8 keeps ~20% and multiplies
     them by 5. In eval mode dropout is the identity.
  2. Monte-Carlo dropout: keep dropout on at test time (nn.set_mc_dropout) and average many
     stochastic passes; their spread is an uncertainty estimate: small on the training
     data, several times larger outside it (figure mc_dropout.png). Between the two data
     clusters it stays small: the network interpolates with confidence, a known limit of
     MC dropout (Foong et al., 2019, "'In-Between' Uncertainty in Bayesian Neural
     Networks").
  3. Dropout removes a kink (after Prince, "Understanding Deep Learning", Fig. 9.9): a
     1-D ReLU network fits the data, plus three extra hidden units whose joints sit in a
     gap in the data, with slopes +s, -2s, +s: a bump that costs nothing, since no data
     point sees it. Plain gradient descent leaves it there forever. 2,000 iterations of
     "drop one of the three units at random, take a gradient step" remove it: without one
     of them the right-hand side of the curve tilts, the loss notices, and the bump's
     units are pushed out of the way (figure dropout_kink.png).

Run: python examples/lectures/dropout.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import optim  # noqa: E402

# ---------------------------------------------------------------- 2. MC dropout


def regression_data(rng, n=60):
    """y = sin(x) + noise on x in [-3, -1] and [1, 3] (a gap in the middle)."""
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n // 2)])
    return x[:, None], (np.sin(x) + 0.1 * rng.standard_normal(n))[:, None]


def mc_dropout_regression(steps, samples, seed=0):
    """Train a 1-128-1 ReLU network with Dropout(0.1) on its hidden layer; return
    (x_grid, mean, std, data) of `samples` stochastic passes."""
    rng = np.random.default_rng(seed)
    x, y = regression_data(rng)
    ad.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 128), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(128, 1)).to(ad.float64)
    opt = optim.Adam(model.parameters(), lr=0.01)
    xs, ys = ad.tensor(x), ad.tensor(y)
    for _ in range(steps):
        loss = F.mse_loss(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    nn.set_mc_dropout(model)          # dropout stays active under eval()
    grid = np.linspace(-5, 5, 201)[:, None]
    with ad.no_grad():
        draws = np.stack([model(ad.tensor(grid)).numpy()[:, 0] for _ in range(samples)])
    return grid[:, 0], draws.mean(0), draws.std(0), (x[:, 0], y[:, 0])


# ---------------------------------------------------------------- 3. the kink

KINK_JOINTS = (0.45, 0.5, 0.55)
BASE_UNITS = 8


def kink_data():
    """Points of y = sin(2 pi x) / 2 on [0, 0.4] and [0.6, 1]: no data in (0.4, 0.6)."""
    x = np.concatenate([np.linspace(0, 0.4, 12), np.linspace(0.6, 1, 12)])
    return x[:, None], (0.5 * np.sin(2 * np.pi * x))[:, None]


class ShallowNet(nn.Module):
    """y = sum_k v_k relu(w_k x + b_k) + c, with a 0/1 mask over the hidden units."""

    def __init__(self, units):
        super().__init__()
        self.hidden = nn.Linear(1, units)
        self.out = nn.Linear(units, 1)

    def forward(self, x, mask=None):
        h = F.relu(self.hidden(x))
        return self.out(h if mask is None else h * ad.tensor(mask))


def gap_deviation(model, lo=0.4, hi=0.6):
    """Largest distance, inside the gap, between the curve and the straight line joining
    its values at the gap's ends: the kink's size."""
    grid = np.linspace(lo, hi, 81)
    with ad.no_grad():
        g = model(ad.tensor(grid[:, None])).numpy()[:, 0]
    return float(np.abs(g - np.interp(grid, [lo, hi], [g[0], g[-1]])).max())


def kink_experiment(iterations, seed=0, slope=8.0):
    """Fit BASE_UNITS units, add the three kink units, then run `iterations` steps both of
    plain gradient descent and of drop-one-kink-unit gradient descent. Returns curves and
    numbers."""
    x, y = kink_data()
    xs, ys = ad.tensor(x), ad.tensor(y)
    units = BASE_UNITS + 3
    base_mask = np.r_[np.ones(BASE_UNITS), np.zeros(3)]
    ad.manual_seed(seed)
    model = ShallowNet(units).to(ad.float64)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3000):  # fit the data with the base units only
        loss = F.mse_loss(model(xs, base_mask), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with ad.no_grad():
        # the targets become the fitted curve itself: the fit is exact, the gradient zero,
        # so plain gradient descent has no reason to move ("fits as well as possible")
        ys = model(xs, base_mask)
        # the kink: joints at 0.45, 0.5, 0.55 with slopes +s, -2s, +s
        model.hidden.weight.data[BASE_UNITS:, 0] = 1.0
        model.hidden.bias.data[BASE_UNITS:] = [-j for j in KINK_JOINTS]
        model.out.weight.data[0, BASE_UNITS:] = [slope, -2 * slope, slope]
    grid = np.linspace(0, 1, 401)[:, None]

    def curve(m, mask=None):
        with ad.no_grad():
            return m(ad.tensor(grid), mask).numpy()[:, 0]

    def mse(m):
        with ad.no_grad():
            return F.mse_loss(m(xs), ys).item()

    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    rows = {"with kink": (mse(model), gap_deviation(model))}
    curves = {"with kink": curve(model)}
    drop_third = np.ones(units)
    drop_third[BASE_UNITS + 2] = 0
    curves["one kink unit removed"] = curve(model, drop_third)

    rng = np.random.default_rng(seed)
    for name, dropping in (("plain gradient descent", False), ("dropping a kink unit", True)):
        model.load_state_dict({k: ad.tensor(v) for k, v in state.items()})
        # a step small enough to be stable at the kink units (their weights are large)
        opt = optim.SGD(model.parameters(), lr=0.004)
        for _ in range(iterations):
            mask = np.ones(units)
            if dropping:  # the lecture's approximation of dropout: remove one of the three
                mask[BASE_UNITS + rng.integers(3)] = 0
            loss = F.mse_loss(model(xs, mask), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
        rows[f"after {iterations} steps of {name}"] = (mse(model), gap_deviation(model))
        curves[f"after {iterations} steps of {name}"] = curve(model)
    return grid[:, 0], curves, rows, (x[:, 0], ys.numpy()[:, 0])


def main(argv=None):
    args = _common.parse_args("dropout", __doc__, argv)
    result = {}

    print("== 1. inverted dropout, p = 0.8, on a tensor of 100,000 ones")
    ad.manual_seed(0)
    ones = ad.ones(100_000)
    dropped = F.dropout(ones, p=0.8, training=True).numpy()
    values = np.unique(dropped)
    kept = float((dropped != 0).mean())
    print(f"values: {values}  (survivors scaled by 1/(1 - 0.8) = {1 / (1 - 0.8):g})")
    print(f"fraction kept {kept:.4f} (expected 0.2), mean {dropped.mean():.4f} (expected 1)")
    layer = nn.Dropout(0.8)
    layer.eval()
    eval_out = layer(ones).numpy()
    print(f"nn.Dropout(0.8) in eval mode: identity ({np.array_equal(eval_out, ones.numpy())})")
    result.update(values=values, kept=kept, mean=float(dropped.mean()),
                  eval_identity=bool(np.array_equal(eval_out, ones.numpy())))

    steps, samples = (500, 50) if args.quick else (1500, 200)
    print(f"\n== 2. Monte-Carlo dropout: 1-128-1 ReLU network, Dropout(0.1), {steps} Adam "
          f"steps, {samples} stochastic passes")
    grid, mean, std, data = mc_dropout_regression(steps, samples)
    regions = {"on the data (1 < |x| < 3)": (np.abs(grid) > 1) & (np.abs(grid) < 3),
               "in the gap (|x| < 1)": np.abs(grid) < 1,
               "outside (|x| > 4)": np.abs(grid) > 4}
    print(_common.table(["region", "mean predictive std"],
                        [(name, std[sel].mean()) for name, sel in regions.items()],
                        ["{}", "{:.4f}"]))
    result["mc_std"] = {name: float(std[sel].mean()) for name, sel in regions.items()}

    iterations = 2000
    print(f"\n== 3. dropout removes a kink ({BASE_UNITS} + 3 hidden units, {iterations} "
          "iterations)")
    kink_grid, curves, rows, kink_points = kink_experiment(iterations)
    print(_common.table(["network", "training MSE", "kink size in the gap"],
                        [(name, mse, dev) for name, (mse, dev) in rows.items()],
                        ["{}", "{:.1e}", "{:.4f}"]))
    result["kink"] = rows

    if _common.have_matplotlib():
        _plot_mc(grid, mean, std, data, args.out)
        _plot_kink(kink_grid, curves, kink_points, args.out)
    else:
        _common.skip_figures_note()
    return result


def _plot_mc(grid, mean, std, data, out):
    fig, ax = _common.figure(width=7, height=4.2)
    ax.fill_between(grid, mean - 2 * std, mean + 2 * std, color=_common.COLOURS[0], alpha=0.25,
                    label="mean +- 2 std of the passes")
    ax.plot(grid, mean, color=_common.COLOURS[0], lw=2, label="mean prediction")
    ax.plot(grid, np.sin(grid), "--", color="grey", lw=1, label="true function sin(x)")
    ax.scatter(*data, color=_common.COLOURS[1], s=18, zorder=3, label="training data")
    ax.set(xlabel="x", ylabel="y", ylim=(-3, 3),
           title="Monte-Carlo dropout: uncertain outside the data,\n"
                 "yet confident between the clusters")
    ax.legend(fontsize=9, loc="upper left")
    _common.save(fig, out, "mc_dropout")


def _plot_kink(grid, curves, points, out):
    names = list(curves)
    fig, axes = _common.figure(1, 3, width=13, height=4.2)
    panels = [("a) a kink in the gap costs nothing", names[:1]),
              ("b) without one kink unit the curve tilts", names[:2]),
              ("c) 2,000 iterations later: only dropout\nremoved the kink",
               [names[0], names[2], names[3]])]
    styles = {names[0]: (":", "grey"), names[1]: ("-", _common.COLOURS[1]),
              names[2]: ("-", _common.COLOURS[4]), names[3]: ("-", _common.COLOURS[0])}
    for ax, (title, shown) in zip(axes[0], panels):
        ax.axvspan(0.4, 0.6, color="#eeeeee", zorder=0)
        for name in shown:
            style, colour = styles[name]
            if title.startswith("a"):
                style, colour = "-", _common.COLOURS[0]
            ax.plot(grid, curves[name], style, color=colour, lw=2, label=name)
        ax.scatter(*points, color="black", s=14, zorder=3, label="data")
        for joint in KINK_JOINTS:
            ax.axvline(joint, color="grey", lw=0.5)
        ax.set(title=title, xlabel="x (grey band: no data; thin lines: the kink's joints)")
        if not title.startswith("b"):
            ax.set_ylim(-1.5, 0.9)
        ax.legend(fontsize=8, loc="lower left")
    axes[0, 0].set_ylabel("network output")
    _common.save(fig, out, "dropout_kink")


if __name__ == "__main__":
    main()
