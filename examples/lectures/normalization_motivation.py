"""Why normalise the inputs (lecture: "Normalization", the motivating slide: a layer whose
inputs live on very different scales).

Two zero-mean input features where x0 is ~1000x larger than x1 (say a distance in
millimetres next to one in metres): x0 ~ N(0, 1000^2), x1 ~ N(0, 1). The target depends on
both equally once each is measured in its own standard deviations: t = x0/1000 + x1 + noise.

  1. A bias-free nn.Linear(2, 3) with the default init: every output is dominated by x0
     (it explains ~99.9999% of each output's variance).
  2. The least-squares weights that would compensate: the weight on x0 (row 0 of the
     (in, out) weight matrix) is ~1000x smaller than the weight on x1.
  3. Standardise each feature, (x - mean) / std with the training statistics: the two
     weights come out the same size.
  4. Training curves, gradient descent with the largest safe step for each: on the raw
     inputs the step is limited by x0's huge curvature, so the weight on x1 barely moves
     and the loss stalls; standardised, the same number of steps reaches the minimum.

What to look at: the ratio columns (~1000), and figure training_curves.png (log scale).

Run: python examples/lectures/normalization_motivation.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import optim  # noqa: E402

STDS = np.array([1000.0, 1.0])


def make_data(rng, n):
    """x (n, 2) on very different scales; t = x0 / 1000 + x1 + noise."""
    x = rng.standard_normal((n, 2)) * STDS
    x -= x.mean(axis=0)  # exactly zero-mean: only the scales differ
    t = x[:, 0] / STDS[0] + x[:, 1] + 0.1 * rng.standard_normal(n)
    return x, t[:, None]


def largest_stable_lr(x):
    """2 / L is where gradient descent on the mean squared error diverges (L = the largest
    eigenvalue of the Hessian 2 x^T x / n); use 1 / L, a safe margin below."""
    return 1.0 / np.linalg.eigvalsh(2 * x.T @ x / len(x)).max()


def train_curve(x, t, steps, lr):
    """Full-batch gradient descent on a bias-free Linear(2, 1) from zero weights; the MSE
    after every step and the final weights."""
    model = nn.Linear(2, 1, bias=False).to(ad.float64)
    nn.init.zeros_(model.weight)
    opt = optim.SGD(model.parameters(), lr=lr)
    xs, ts = ad.tensor(x), ad.tensor(t)
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(xs), ts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), model.weight.numpy()[0]


def main(argv=None):
    args = _common.parse_args("normalization_motivation", __doc__, argv)
    rng = np.random.default_rng(0)
    x, t = make_data(rng, 500)
    result = {}

    print("== 1. a bias-free Linear(2, 3) (default init) on raw inputs")
    ad.manual_seed(0)
    layer = nn.Linear(2, 3, bias=False).to(ad.float64)
    W = layer.weight.numpy()
    print("x[:3] =\n" + _common.array_str(x[:3], 2))
    with ad.no_grad():
        out = layer(ad.tensor(x)).numpy()
    print("outputs[:3] =\n" + _common.array_str(out[:3], 2))
    # output k = W[k, 0] x0 + W[k, 1] x1: the share of its variance that comes from x0
    share = (W[:, 0] ** 2 * x[:, 0].var()) / (W[:, 0] ** 2 * x[:, 0].var()
                                              + W[:, 1] ** 2 * x[:, 1].var())
    corr = np.array([np.corrcoef(out[:, k], x[:, 0])[0, 1] for k in range(3)])
    print(f"share of each output's variance due to x0: {_common.array_str(share, 6)}")
    print(f"correlation of each output with x0:        {_common.array_str(np.abs(corr), 6)}"
          "   (the outputs are x0 in disguise)")
    result.update(x0_share=share, correlation=np.abs(corr))
    print("\n== 2. the weights that fit t on raw inputs (least squares, no bias)")
    w_raw = np.linalg.lstsq(x, t, rcond=None)[0][:, 0]
    print(f"w = {_common.array_str(w_raw, 6)}   |w1| / |w0| = {abs(w_raw[1] / w_raw[0]):.0f}")
    print("   the weight on x0 has to be ~1000x smaller to undo x0's scale")

    print("\n== 3. standardised inputs z = (x - mean) / std (statistics of the training data)")
    mean, std = x.mean(0), x.std(0)
    z = (x - mean) / std
    w_std = np.linalg.lstsq(z, t, rcond=None)[0][:, 0]
    print(f"mean {_common.array_str(mean, 2)}, std {_common.array_str(std, 2)}")
    print(f"w = {_common.array_str(w_std, 4)}   |w1| / |w0| = {abs(w_std[1] / w_std[0]):.2f}"
          "   (same size: no compensation needed)")
    residual = lambda a, w: float(np.mean((a @ w - t[:, 0]) ** 2))  # noqa: E731
    print(f"least-squares MSE: raw {residual(x, w_raw):.4f}, standardised "
          f"{residual(z, w_std):.4f} (the same fit, only the weights are rescaled)")
    result.update(w_raw=w_raw, w_std=w_std, weight_ratio_raw=abs(w_raw[1] / w_raw[0]),
                  weight_ratio_std=abs(w_std[1] / w_std[0]))

    steps = 200 if args.quick else 1000
    print(f"\n== 4. gradient descent, {steps} steps, each with its largest safe step size 1/L")
    curves = {}
    for name, data in (("raw", x), ("standardised", z)):
        lr = largest_stable_lr(data)
        losses, w = train_curve(data, t, steps, lr)
        curves[name] = losses
        print(f"{name:13s} lr {lr:.3g}: loss after 1 step {losses[0]:.4f}, after {steps} "
              f"{losses[-1]:.4f}; w = {_common.array_str(w, 5)}")
    best = residual(z, w_std)
    print(f"the minimum (least squares on standardised inputs): {best:.4f}")
    result.update(final_raw=curves["raw"][-1], final_std=curves["standardised"][-1],
                  minimum=best)
    _common.draw(_plot, curves, best, args.out)
    return result


def _plot(curves, best, out):
    fig, ax = _common.figure(width=6.8, height=4.2)
    for colour, (name, losses) in zip(_common.COLOURS, curves.items()):
        ax.loglog(np.arange(1, len(losses) + 1), losses, color=colour, lw=2, marker="o",
                  markevery=0.1, label=f"{name} inputs")
    ax.axhline(best, color="grey", linestyle="--", lw=1, label="best possible (least squares)")
    ax.set_xlabel("gradient-descent step (log scale; full batch, step size 1/L each)")
    ax.set_ylabel("mean squared error (log scale)")
    ax.set_title("Same model, same data: standardising the inputs makes it trainable")
    ax.annotate("raw: the x0 weight is fitted in one step, but with\nlr = 5e-7 the x1 "
                "weight barely moves", (len(curves["raw"]) ** 0.5, curves["raw"][-1]),
                textcoords="offset points", xytext=(0, -40), ha="center", fontsize=10)
    ax.legend(loc="center left")
    _common.save(fig, out, "training_curves")


if __name__ == "__main__":
    main()
