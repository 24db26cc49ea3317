"""Loss-landscape slices along filter-normalised random directions (Li et al., 2018,
"Visualizing the Loss Landscape of Neural Nets").

The loss is evaluated at theta + alpha d1 (+ beta d2), theta the model's parameters. Each
direction is Gaussian and filter-normalised: every filter (a row of a Linear weight, an
output channel of a Conv weight) is rescaled to the norm of the same filter of theta, so
the slice is comparable between networks whose weights have different scales (e.g. with
and without residual connections). One-dimensional parameters (biases, normalisation
scales and shifts) get a zero direction, as in the paper.
"""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

import autodiff as ad

from ._mpl import (FONT, LINESTYLES, LINEWIDTH, color, empty_figure, figure_title, legend,
                   style_axes, target_axes)
from .optimizers import _levels

__all__ = ["random_directions", "loss_landscape", "plot_loss_landscape"]


def _named_parameters(model):
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"plot_loss_landscape: model must be an nn.Module, got "
                        f"{type(model).__name__}")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("plot_loss_landscape: the model has no trainable parameters")
    return params


def _numpy(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def random_directions(model, n: int = 1, filter_normalize: bool = True, seed: int = 0,
                      generator=None) -> list:
    """`n` random directions in parameter space, each {parameter name: float64 array}.

    Gaussian entries from `generator` (an ad.Generator; by default a new one seeded with
    `seed`, so the global random stream is untouched). filter_normalize: each filter d_j
    (slice along dim 0 of a weight with 2 or more dims) becomes d_j / |d_j| * |theta_j|,
    and 1-D parameters get zeros (Li et al.); otherwise the whole direction is scaled to
    the norm of all parameters."""
    generator = generator or ad.Generator().manual_seed(seed)
    params = _named_parameters(model)
    directions = []
    for _ in range(int(n)):
        d = {}
        for name, p in params:
            theta = _numpy(p)
            r = ad.randn(*theta.shape, dtype=ad.float64, generator=generator).numpy()
            if filter_normalize:
                if theta.ndim <= 1:
                    r = np.zeros_like(theta)
                else:
                    axes = tuple(range(1, theta.ndim))
                    scale = (np.sqrt((theta ** 2).sum(axis=axes, keepdims=True))
                             / np.maximum(np.sqrt((r ** 2).sum(axis=axes, keepdims=True)),
                                          1e-12))
                    r = r * scale
            d[name] = r
        if not filter_normalize:
            total = np.sqrt(sum((v ** 2).sum() for v in d.values()))
            norm = np.sqrt(sum((_numpy(p) ** 2).sum() for _, p in params))
            d = {k: v * (norm / max(total, 1e-12)) for k, v in d.items()}
        directions.append(d)
    return directions


def _batches(data):
    """[(x, target)] from (x, target) or an iterable of such batches (a DataLoader)."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], ad.Tensor):
        return [data]
    batches = [tuple(b) for b in data]
    if not batches or any(len(b) != 2 for b in batches):
        raise ValueError("plot_loss_landscape: data must be (inputs, targets) or an iterable "
                         "of (inputs, targets) batches")
    return batches


def _loss(model, loss_fn, batches) -> float:
    total, count = 0.0, 0
    for x, target in batches:
        n = x.shape[0] if x.ndim else 1
        total += float(loss_fn(model(x), target).item()) * n
        count += n
    return total / count


def loss_landscape(model, loss_fn, data, kind="1d", directions="random",
                   filter_normalize=True, span=1.0, resolution=None, seed=0,
                   generator=None) -> dict:
    """The loss on a line (kind="1d") or plane ("2d") through the model's parameters.

    Returns {"alphas", ["betas"], "losses" (shape (resolution,) or (resolution,
    resolution), rows = betas), "center" (the loss at the parameters themselves),
    "directions"}. `directions`: "random" or a list of {parameter name: array}. The
    parameters are set in place for each point and restored exactly afterwards; the model
    runs in eval mode (so BatchNorm uses, and does not update, its running statistics)
    and its mode is restored."""
    if kind not in ("1d", "2d", "3d"):
        raise ValueError(f"plot_loss_landscape: kind must be '1d', '2d' or '3d', got {kind!r}")
    dims = 1 if kind == "1d" else 2
    params = _named_parameters(model)
    if isinstance(directions, str):
        if directions != "random":
            raise ValueError(f"plot_loss_landscape: directions must be 'random' or a list of "
                             f"direction dicts, got {directions!r}")
        directions = random_directions(model, dims, filter_normalize, seed, generator)
    directions = list(directions)[:dims]
    if len(directions) < dims:
        raise ValueError(f"plot_loss_landscape: kind={kind!r} needs {dims} directions, got "
                         f"{len(directions)}")
    for d in directions:
        missing = [n for n, _ in params if n not in d]
        if missing:
            raise ValueError(f"plot_loss_landscape: a direction lacks parameters {missing}")
    resolution = int(resolution or (51 if dims == 1 else 25))
    alphas = np.linspace(-span, span, resolution)
    batches = _batches(data)
    originals = {n: p.data.copy() for n, p in params}
    # on the parameter's own device and dtype (NumPy or CuPy)
    steps = [{n: ad.array_module(p.data).asarray(np.asarray(d[n]), dtype=p.data.dtype)
              for n, p in params} for d in directions]
    was_training = getattr(model, "training", False)

    def loss_at(a, b=0.0):
        for name, p in params:
            value = originals[name] + a * steps[0][name]
            if dims == 2:
                value = value + b * steps[1][name]
            p.data[...] = value
        return _loss(model, loss_fn, batches)

    model.eval()
    try:
        with ad.no_grad():
            center = _loss(model, loss_fn, batches)
            if dims == 1:
                losses = np.array([loss_at(a) for a in alphas])
            else:
                losses = np.array([[loss_at(a, b) for a in alphas] for b in alphas])
    finally:
        for name, p in params:
            p.data[...] = originals[name]
        model.train(was_training)
    out = {"alphas": alphas, "losses": losses, "center": center, "directions": directions}
    if dims == 2:
        out["betas"] = alphas.copy()
    return out


def plot_loss_landscape(model, loss_fn, data, kind="1d", directions="random",
                        filter_normalize=True, span=1.0, resolution=None, seed=0,
                        generator=None, log=None, label=None, levels=None, ax=None,
                        size="16:9", title=None):
    """The loss along filter-normalised random directions through the model's parameters:
    a curve (kind="1d"), a contour map ("2d") or a surface ("3d").

    `model`: an nn.Module, or a dict {label: module} to compare networks (e.g. with and
    without residual connections): 1d draws one curve each in one panel; 2d/3d draws one
    panel each, side by side, on ONE colour scale with one colour bar, so equal colours
    mean equal losses (`ax`: a sequence of as many Axes, or None).
    `data`: (inputs, targets) or an iterable of such batches; loss = loss_fn(model(x), t).
    `span`: the direction multiples shown, [-span, span]; `resolution`: points per axis
    (default 51 for 1d, 25 for 2d/3d: 625 forward passes per model). The directions come
    from `generator` (default: an ad.Generator seeded with `seed`). `log`: log-scale loss
    (default for 2d/3d). `levels`: the contour levels (a count or the values; give the same
    values to panels you draw one by one to share their colour scale). See loss_landscape
    for the data."""
    models = model if isinstance(model, dict) else {label: model}
    if not models:
        raise ValueError("plot_loss_landscape: got an empty dict of models")
    results = {name: loss_landscape(m, loss_fn, data, kind, directions, filter_normalize,
                                    span, resolution, seed, generator)
               for name, m in models.items()}
    what = "filter-normalised direction" if filter_normalize else "random direction"
    if kind == "1d":
        return _plot_lines(results, log, what, ax, size, title)
    log = True if log is None else log
    if kind == "3d":
        return _plot_surfaces(results, log, ax, size, title)
    losses = np.concatenate([r["losses"].ravel() for r in results.values()])
    shared = _levels(losses, 20 if levels is None else levels, log)
    n = len(results)
    fig, axes = target_axes(ax, size, "plot_loss_landscape", n=n, ncols=n)
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    norm = LogNorm(shared[0], shared[-1]) if log and shared[0] > 0 else None
    for a, (name, result) in zip(axes, results.items()):
        filled = a.contourf(result["alphas"], result["betas"], result["losses"],
                            levels=shared, cmap="viridis", norm=norm, extend="both")
        a.contour(result["alphas"], result["betas"], result["losses"], levels=shared,
                  colors="white", linewidths=0.6, alpha=0.6)
        a.plot([0.0], [0.0], marker="o", markersize=12, color="white",
               markeredgecolor="black", linestyle="none", label="trained weights")
        a.set_aspect("equal", adjustable="box")
        heading = name if n > 1 or name is not None else f"loss on a plane of two {what}s"
        style_axes(a, "α  (direction 1)", "β  (direction 2)" if a is axes[0] else None,
                   heading if n > 1 else (title or heading), grid=False)
    bar = fig.colorbar(filled, ax=axes, shrink=0.9)
    if norm is not None:  # readable values, not LogFormatter's 1.36519 x 10^0
        ticks = _log_ticks(shared[0], shared[-1])
        bar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
        bar.minorticks_off()
    bar.set_label("loss" + (" (log scale)" if log else "")
                  + (", one scale for all panels" if n > 1 else ""), fontsize=FONT["label"])
    bar.ax.tick_params(labelsize=FONT["small"])
    if n > 1 and (title or ax is None):
        figure_title(fig, title or f"loss on a plane of two {what}s (white dot: the trained "
                     "weights)")
    return fig


def _log_ticks(lo: float, hi: float) -> list:
    """Round values (1, 2, 5 x 10^k) between lo and hi for a log colour bar: at least 3
    (else lo, hi and their geometric middle)."""
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    for mantissas in ((1,), (1, 3), (1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [m * 10.0 ** k for k in decades for m in mantissas if lo <= m * 10.0 ** k <= hi]
        if len(ticks) >= 3:
            return ticks
    return [lo, float(np.sqrt(lo * hi)), hi]


def _plot_lines(results, log, what, ax, size, title):
    fig, (a,) = target_axes(ax, size, "plot_loss_landscape")
    for name, result in results.items():
        n = len(a.get_lines()) // 2
        a.plot(result["alphas"], result["losses"], color=color(n),
               linestyle=LINESTYLES[n % len(LINESTYLES)], linewidth=LINEWIDTH, label=name)
        a.plot([0.0], [result["center"]], marker="o", markersize=11, color=color(n),
               markeredgecolor="black", linestyle="none", zorder=4)
    if log:
        a.set_yscale("log")
    style_axes(a, f"α  (step along a {what})", "loss" + (" (log scale)" if log else ""),
               title or "loss along a random direction (dot: the trained weights)")
    legend(a, loc="upper center")
    return fig


def _plot_surfaces(results, log, ax, size, title):
    n = len(results)
    if ax is None:
        fig = empty_figure(size)
        axes = [fig.add_subplot(1, n, i + 1, projection="3d") for i in range(n)]
    else:
        fig, axes = target_axes(ax, size, "plot_loss_landscape", n=n)
        if not all(hasattr(a, "plot_surface") for a in axes):
            raise ValueError("plot_loss_landscape: kind='3d' needs 3-D Axes "
                             "(projection='3d'); leave ax=None to get them")
    heights = {name: np.log10(np.maximum(r["losses"], 1e-12)) if log else r["losses"]
               for name, r in results.items()}
    every = np.concatenate([z[np.isfinite(z)] for z in heights.values()])
    lo, hi = float(every.min()), float(every.max())
    for a, (name, result) in zip(axes, results.items()):  # one colour and z scale for all
        grid_a, grid_b = np.meshgrid(result["alphas"], result["betas"])
        a.plot_surface(grid_a, grid_b, heights[name], cmap="viridis", vmin=lo, vmax=hi,
                       linewidth=0, antialiased=True)
        a.set_zlim(lo, hi)
        for axis in (a.xaxis, a.yaxis, a.zaxis):
            axis.set_major_locator(MaxNLocator(5))
        a.set_xlabel("α", fontsize=FONT["label"])
        a.set_ylabel("β", fontsize=FONT["label"])
        a.tick_params(labelsize=FONT["small"])
        a.set_title(name if n > 1 else (title or name or "loss surface"),
                    fontsize=FONT["title"])
    # the height named on a colour bar: a 3-D z label is clipped or hits the tick labels
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415
    from matplotlib.colors import Normalize  # noqa: PLC0415

    bar = fig.colorbar(ScalarMappable(Normalize(lo, hi), cmap="viridis"), ax=axes, shrink=0.7)
    bar.set_label(("height and colour: log10 loss" if log else "height and colour: loss")
                  + (", one scale for all panels" if n > 1 else ""), fontsize=FONT["label"])
    bar.ax.tick_params(labelsize=FONT["small"])
    if n > 1 and title:
        figure_title(fig, title)
    return fig

