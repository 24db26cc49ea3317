"""Decision boundaries of small classifiers on 2-D inputs."""
from __future__ import annotations

import numpy as np

import autodiff as ad

from ._mpl import FONT, MARKERS, color, legend, style_axes, target_axes

__all__ = ["plot_decision_boundary", "decision_grid"]


def _array(v, name):
    if isinstance(v, ad.Tensor):
        v = v.detach().cpu().numpy()
    arr = np.asarray(v)
    if name == "X" and (arr.ndim != 2 or arr.shape[1] != 2):
        raise ValueError(f"plot_decision_boundary: X must have shape (N, 2) (two input "
                         f"features), got {arr.shape}")
    return arr


def decision_grid(model, X, resolution=200, margin=0.1, threshold=None) -> dict:
    """The model's predicted class on a resolution x resolution grid over X's range.

    Returns {"xs", "ys", "classes" (int, shape (resolution, resolution), rows = ys),
    "confidence" (the predicted class's probability), "n_classes"}. Outputs of shape
    (M, C >= 2) are logits or probabilities (argmax; softmax for the confidence); one
    output per point is a logit (threshold 0) or, when every output lies in [0, 1], a
    probability (threshold 0.5), unless `threshold` is given. The model runs in eval mode
    without recording a graph; its mode is restored."""
    X = _array(X, "X").astype(np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    dtype = next((p.dtype for p in model.parameters()), ad.float32) if hasattr(
        model, "parameters") else ad.float32
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        with ad.no_grad():
            out = model(ad.tensor(points, dtype=dtype))
    finally:
        if was_training is not None:
            model.train(was_training)
    out = np.asarray(out.detach().cpu().numpy(), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] >= 2:
        classes = out.argmax(axis=1)
        if out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
            prob = out
        else:
            e = np.exp(out - out.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
        confidence = prob.max(axis=1)
        n_classes = out.shape[1]
    elif out.size == points.shape[0]:
        out = out.ravel()
        is_prob = out.min() >= 0 and out.max() <= 1
        thr = threshold if threshold is not None else (0.5 if is_prob else 0.0)
        classes = (out > thr).astype(int)
        p = out if is_prob else 1 / (1 + np.exp(-out))
        confidence = np.where(classes == 1, p, 1 - p)
        n_classes = 2
    else:
        raise ValueError(f"plot_decision_boundary: the model maps {points.shape[0]} points to "
                         f"shape {out.shape}; expected (N, C) scores or (N,)/(N, 1) logits")
    shape = (resolution, resolution)
    return {"xs": xs, "ys": ys, "classes": classes.reshape(shape),
            "confidence": confidence.reshape(shape), "n_classes": int(n_classes)}


def plot_decision_boundary(model, X, y, resolution=200, margin=0.1, threshold=None,
                           feature_names=("x₁", "x₂"), class_names=None, ax=None,
                           size="16:9", title=None):
    """The regions a classifier assigns to each class over the plane, its decision
    boundary (black) and the data points (one colour and marker per class).

    `model`: an nn.Module or any function of an (N, 2) Tensor returning (N, C) scores or
    (N,)/(N, 1) logits/probabilities; `X` (N, 2) and `y` (N,) integer labels. Shading
    deepens with the model's confidence. See decision_grid for the data."""
    from matplotlib.colors import ListedColormap, to_rgb  # noqa: PLC0415

    X = _array(X, "X")
    labels = _array(y, "y").ravel().astype(int)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"plot_decision_boundary: X has {X.shape[0]} points but y has "
                         f"{labels.shape[0]} labels")
    g = decision_grid(model, X, resolution, margin, threshold)
    n = max(g["n_classes"], int(labels.max()) + 1 if labels.size else 0)
    fig, (a,) = target_axes(ax, size, "plot_decision_boundary")
    light = ListedColormap([tuple(0.72 + 0.28 * np.asarray(to_rgb(color(i))))
                            for i in range(n)])
    a.pcolormesh(g["xs"], g["ys"], g["classes"], cmap=light, vmin=-0.5, vmax=n - 0.5,
                 shading="auto", rasterized=True)
    # less confident = more washed out
    a.pcolormesh(g["xs"], g["ys"], 1 - g["confidence"], cmap="Greys", vmin=0, vmax=2.0,
                 alpha=0.35, shading="auto", rasterized=True)
    if n > 1 and np.unique(g["classes"]).size > 1:
        a.contour(g["xs"], g["ys"], g["classes"], levels=np.arange(n - 1) + 0.5,
                  colors="black", linewidths=2)
    for k in range(n):
        pts = X[labels == k]
        if len(pts):
            name = class_names[k] if class_names is not None else f"class {k}"
            a.scatter(pts[:, 0], pts[:, 1], s=60, color=color(k), marker=MARKERS[k % 8],
                      edgecolors="black", linewidths=0.7, label=name, zorder=3)
    a.set_xlim(g["xs"][0], g["xs"][-1])
    a.set_ylim(g["ys"][0], g["ys"][-1])
    spans = (g["xs"][-1] - g["xs"][0]) / (g["ys"][-1] - g["ys"][0])
    if 1 / 3 <= spans <= 3:  # comparable scales: keep the geometry (circles stay round)
        a.set_aspect("equal", adjustable="box")
    style_axes(a, feature_names[0], feature_names[1], title or "decision boundary",
               grid=False)
    heading = dict(title="data\n(black line: boundary)", title_fontsize=FONT["legend"],
                   fontsize=FONT["legend"])
    if ax is None:  # beside the plot, off the data
        fig.legend(*a.get_legend_handles_labels(), loc="outside right upper", **heading)
    else:
        legend(a, loc="best", **heading)
    return fig
