"""Data preprocessing (lecture: "Data preprocessing": zero-centring, normalising,
decorrelating (PCA) and whitening a 2-D point cloud; per-channel standardisation of images;
why non-zero-centred inputs make every gradient on w share a sign).

  1. A correlated, offset 2-D cloud X, then X - mean (zero-centred), divided by the std per
     feature (normalised), rotated onto its principal axes (nn.transforms.PCA:
     decorrelated, diagonal covariance) and scaled by 1/sqrt(eigenvalue) (PCA(whiten=True):
     identity covariance). Figure preprocessing_cloud.png; the covariance matrices print.
  2. Images: per-channel standardisation (nn.transforms.Standardizer(per="channel"), fitted
     on the training images only): one mean and std per colour channel, not per pixel.
  3. The sign of the gradient: for a neuron f = w . x + b and any loss, dL/dw_i =
     (dL/df) x_i. When every x_i > 0 (e.g. the outputs of a sigmoid, or raw pixels) all
     components of the gradient share the sign of dL/df: w can only move "all up" or "all
     down", so reaching a w* with mixed signs takes a zig-zag path. Zero-centred inputs
     remove the constraint (figure preprocessing_zigzag.png).

Run: python examples/lectures/preprocessing.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
from nn import optim  # noqa: E402
from nn import transforms as T  # noqa: E402


def point_cloud(rng, n=500):
    """A correlated 2-D Gaussian cloud centred at (3, 2)."""
    cov = np.array([[2.0, 1.2], [1.2, 1.0]])
    return rng.multivariate_normal([3.0, 2.0], cov, size=n)


def stages(X):
    """{name: points} for the preprocessing pipeline of the lecture."""
    centred = X - X.mean(axis=0)
    normalised = T.Standardizer(per="feature").fit(X).transform(X)
    decorrelated = T.PCA().fit(X).transform(X)
    whitened = T.PCA(whiten=True).fit(X).transform(X)
    return {"original data": X, "zero-centred": centred, "normalised (/ std)": normalised,
            "decorrelated (PCA)": decorrelated, "whitened": whitened}


def covariance(points):
    c = points - points.mean(axis=0)
    return c.T @ c / len(points)


def gradient_path(inputs, w_star, steps, lr):
    """SGD on L = (w . x - w* . x)^2 / 2 one example at a time (no bias), from w = 0;
    returns (path of w, share of steps whose two gradient components had the same sign)."""
    w = ad.zeros(2, dtype=ad.float64, requires_grad=True)
    opt = optim.SGD([w], lr=lr)
    path, same_sign = [w.numpy().copy()], 0
    for x_np in inputs[:steps]:
        x = ad.tensor(x_np)
        loss = ((w * x).sum() - float(np.dot(w_star, x_np))) ** 2 / 2
        opt.zero_grad()
        loss.backward()
        g = w.grad.numpy()
        same_sign += bool(np.sign(g[0]) == np.sign(g[1]) and g[0] != 0)
        opt.step()
        path.append(w.numpy().copy())
    return np.array(path), same_sign / steps


def main(argv=None):
    args = _common.parse_args("preprocessing", __doc__, argv)
    rng = np.random.default_rng(0)
    X = point_cloud(rng)
    pipeline = stages(X)
    print("== 1. a 2-D point cloud through the pipeline: mean and covariance")
    covs = {}
    for name, pts in pipeline.items():
        covs[name] = covariance(pts)
        c = covs[name]
        print(f"{name:20s} mean {_common.array_str(pts.mean(0), 3):18s} covariance "
              f"[[{c[0, 0]:.3f}, {c[0, 1]:.3f}], [{c[1, 0]:.3f}, {c[1, 1]:.3f}]]")

    print("\n== 2. per-channel standardisation of images (statistics of the training set)")
    images = rng.random((64, 3, 8, 8)) * np.array([0.5, 0.3, 0.2])[:, None, None] \
        + np.array([0.4, 0.5, 0.1])[:, None, None]  # three channels, different levels
    train, test = images[:48], images[48:]
    stats = T.Standardizer(per="channel").fit(train)
    out = np.asarray(stats(test))
    print(f"fitted per-channel mean {_common.array_str(np.ravel(stats.mean), 3)}, std "
          f"{_common.array_str(np.ravel(stats.std), 3)} (one per channel, shape "
          f"{tuple(np.shape(stats.mean))})")
    print(f"training images after: channel means "
          f"{_common.array_str(np.asarray(stats(train)).mean(axis=(0, 2, 3)), 3)}, stds "
          f"{_common.array_str(np.asarray(stats(train)).std(axis=(0, 2, 3)), 3)}")
    print(f"test images after (training statistics): channel means "
          f"{_common.array_str(out.mean(axis=(0, 2, 3)), 2)}")

    print("\n== 3. all-positive inputs: every gradient on w has one sign")
    w_star = np.array([1.0, -1.0])
    steps = 60 if args.quick else 200
    positive = rng.uniform(0.2, 1.0, size=(steps, 2))     # like sigmoid outputs
    centred = positive - positive.mean(axis=0)
    centred /= centred.std(axis=0)
    path_pos, share_pos = gradient_path(positive, w_star, steps, lr=0.5)
    path_cen, share_cen = gradient_path(centred, w_star, steps, lr=0.1)
    print(f"target w* = {w_star}; SGD from w = 0, one example per step")
    print(f"inputs in [0.2, 1] (all positive): the two gradient components share a sign in "
          f"{100 * share_pos:.0f}% of the steps; after {steps} steps w = "
          f"{_common.array_str(path_pos[-1], 3)}")
    print(f"zero-centred inputs: in {100 * share_cen:.0f}% of the steps; w = "
          f"{_common.array_str(path_cen[-1], 3)}")
    result = dict(covariances=covs, channel_mean=np.ravel(stats.mean),
                  train_after=np.asarray(stats(train)), share_positive=share_pos,
                  share_centred=share_cen, w_positive=path_pos[-1], w_centred=path_cen[-1])
    if _common.have_matplotlib():
        _plot_cloud(pipeline, args.out)
        _plot_paths(path_pos, path_cen, w_star, args.out)
    else:
        _common.skip_figures_note()
    return result


def _plot_cloud(pipeline, out):
    fig, axes = _common.figure(1, len(pipeline), width=16, height=3.9)
    for ax, (name, pts) in zip(axes[0], pipeline.items()):
        ax.scatter(pts[:, 0], pts[:, 1], s=5, alpha=0.5, color=_common.COLOURS[0])
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_aspect("equal")
        ax.set(xlim=(-5, 7), ylim=(-5, 7), title=name)
    _common.save(fig, out, "preprocessing_cloud")


def _plot_paths(path_pos, path_cen, w_star, out):
    fig, ax = _common.figure(width=6.5, height=5.5)
    ax.plot(path_pos[:, 0], path_pos[:, 1], "-o", ms=3, lw=1, color=_common.COLOURS[1],
            label="inputs all positive: zig-zag")
    ax.plot(path_cen[:, 0], path_cen[:, 1], "-o", ms=3, lw=1, color=_common.COLOURS[0],
            label="zero-centred inputs")
    ax.scatter(*w_star, marker="*", s=250, color="black", zorder=3, label="w* = (1, -1)")
    ax.scatter(0, 0, marker="s", s=60, color="grey", zorder=3, label="start w = 0")
    ax.set(xlabel="w1", ylabel="w2", title="SGD paths: with positive inputs w can only\n"
                                          "move up-right or down-left")
    ax.set_aspect("equal")
    ax.legend(fontsize=9, loc="lower left")
    _common.save(fig, out, "preprocessing_zigzag")


if __name__ == "__main__":
    main()
