"""Optimizer paths on 2-D test functions (and GD vs SGD on a 1-D loss with several minima).

Each path is a real run of an `nn.optim` optimizer on a parameter tensor: the function is an
autodiff function of theta (shape (2,) or (1,)), its gradient comes from backward, and the
optimizer's own `step()` moves theta. Noisy gradients (Gaussian, seeded) stand in for the
minibatch noise of SGD.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import autodiff as ad

from ._mpl import (FONT, LINEWIDTH, MARKERS, color, figure_title, legend, style_axes,
                   target_axes)

__all__ = ["Objective", "valley", "rosenbrock", "saddle", "multi_minima_1d", "optimizer_path",
           "plot_optimizer_paths"]


@dataclass(frozen=True)
class Objective:
    """A test function with what it takes to draw it: call it on theta (a Tensor of shape
    (dim,), or (dim, ...) for a whole grid at once) to get f(theta)."""
    name: str
    formula: str
    fn: object
    dim: int
    xlim: tuple
    ylim: tuple | None = None
    start: tuple = (0.0,)
    minima: tuple = ()
    log_levels: bool = False
    steps: int = 100
    #: {label: (optimizer class name in nn.optim, kwargs[, {"noise": std}])}
    optimizers: dict = field(default_factory=dict)

    def __call__(self, theta):
        return self.fn(theta)


def _valley_fn(a, b):
    def f(theta):
        return (a * theta[0] ** 2 + b * theta[1] ** 2) / 2
    return f


def valley(a: float = 1.0, b: float = 10.0) -> Objective:
    """The narrow valley f(x, y) = (a x^2 + b y^2) / 2, condition number b / a: steep across
    the valley, flat along it (plain gradient descent zig-zags)."""
    if not (a > 0 and b > 0):
        raise ValueError(f"valley: a and b must be positive, got a={a!r}, b={b!r}")
    big = max(a, b)
    coef = lambda v: "" if v == 1 else f"{v:g} "  # noqa: E731
    return Objective(
        name="valley", formula=f"f(x, y) = ({coef(a)}x² + {coef(b)}y²) / 2",
        fn=_valley_fn(a, b), dim=2, xlim=(-4.5, 1.5), ylim=(-2.0, 2.0), start=(-4.0, 1.0),
        minima=((0.0, 0.0),), steps=40,
        optimizers={  # SGD near its stability limit 2 / max(a, b): it zig-zags across
            "SGD": ("SGD", {"lr": 1.8 / big}),
            "Momentum": ("SGD", {"lr": 0.4 / big, "momentum": 0.7}),
            "Nesterov": ("SGD", {"lr": 0.4 / big, "momentum": 0.7, "nesterov": True}),
            "AdaGrad": ("Adagrad", {"lr": 0.7}),
            "RMSProp": ("RMSprop", {"lr": 0.05}),
            "Adam": ("Adam", {"lr": 0.2}),
        })


def _rosenbrock(theta):
    x, y = theta[0], theta[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


#: Rosenbrock's banana valley f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum f(1, 1) = 0.
rosenbrock = Objective(
    name="Rosenbrock", formula="f(x, y) = (1 - x)² + 100 (y - x²)²", fn=_rosenbrock, dim=2,
    xlim=(-1.6, 1.4), ylim=(-0.4, 1.6), start=(-1.2, 1.0), minima=((1.0, 1.0),),
    log_levels=True, steps=300,
    optimizers={  # each near its largest stable lr: how far along the valley in 300 steps
        "SGD": ("SGD", {"lr": 2e-3}),
        "Momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}),
        "Nesterov": ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
        "AdaGrad": ("Adagrad", {"lr": 1.0}),
        "RMSProp": ("RMSprop", {"lr": 1e-2}),
        "Adam": ("Adam", {"lr": 0.1}),
    })


def _saddle(theta):
    x, y = theta[0], theta[1]
    return x ** 2 - y ** 2 + y ** 4 / 4


#: A saddle at the origin, f(x, y) = x^2 - y^2 + y^4 / 4, with minima f(0, ±sqrt 2) = -1.
#: Started next to the ridge (y = 0.001) the gradient across it is tiny: plain GD lingers
#: at the saddle; momentum and the adaptive methods leave sooner.
saddle = Objective(
    name="saddle", formula="f(x, y) = x² - y² + y⁴ / 4", fn=_saddle, dim=2,
    xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), start=(-2.0, 1e-3),
    minima=((0.0, math.sqrt(2)), (0.0, -math.sqrt(2))), steps=60,
    optimizers={
        "SGD": ("SGD", {"lr": 0.05}),
        "Momentum": ("SGD", {"lr": 0.05, "momentum": 0.8}),
        "Nesterov": ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
        "AdaGrad": ("Adagrad", {"lr": 0.3}),
        "RMSProp": ("RMSprop", {"lr": 0.05}),
        "Adam": ("Adam", {"lr": 0.1}),
    })


def _multi_minima(theta):
    x = theta[0]
    return (x * x / 8 - 1.5 * (-(x - 0.5) ** 2).exp() - (-2 * (x - 3) ** 2).exp()
            - 0.8 * (-2 * (x + 2.5) ** 2).exp())


#: A 1-D loss with three minima, f(x) = x^2/8 - 1.5 exp(-(x - 0.5)^2) - exp(-2 (x - 3)^2)
#: - 0.8 exp(-2 (x + 2.5)^2): local at x = -2.30 and 2.80, global at 0.46 (f = -1.47).
#: From x = 4.5 gradient descent settles in the local minimum at 2.80; the same steps
#: with noisy gradients (SGD, noise std 3, seed 0) hop the barrier to the global one.
multi_minima_1d = Objective(
    name="several minima",
    formula="f(x) = x²/8 - 1.5 exp(-(x - 0.5)²) - exp(-2(x - 3)²) - 0.8 exp(-2(x + 2.5)²)",
    fn=_multi_minima, dim=1, xlim=(-5.0, 5.0), start=(4.5,),
    minima=((-2.30,), (0.46,), (2.80,)), steps=200,
    optimizers={
        "GD (exact gradients)": ("SGD", {"lr": 0.05}),
        "SGD (noisy gradients)": ("SGD", {"lr": 0.05}, {"noise": 3.0}),
    })


def _resolve_optimizer(spec, label):
    """(class, kwargs, options) from (cls, kwargs[, options]) or a bare class; a class
    given by name is looked up in nn.optim."""
    if isinstance(spec, type) or isinstance(spec, str):
        spec = (spec, {})
    try:
        cls, kwargs, *rest = spec
    except (TypeError, ValueError):
        raise TypeError(f"plot_optimizer_paths: optimizers[{label!r}] must be (optimizer "
                        f"class, kwargs) or (class, kwargs, {{'noise': std}}), got {spec!r}"
                        ) from None
    if isinstance(cls, str):
        from nn import optim  # noqa: PLC0415

        cls = getattr(optim, cls)
    return cls, dict(kwargs), dict(rest[0]) if rest else {}


def optimizer_path(fn, optimizer, kwargs=None, start=(0.0, 0.0), steps=100, noise=0.0,
                   seed=0, generator=None) -> np.ndarray:
    """The points theta_0 = start, theta_1, ... of `steps` optimizer steps on fn (float64).

    Each step: zero_grad, f(theta).backward(), add N(0, noise^2) to the gradient, then
    optimizer.step(). The noise comes from `generator` (an ad.Generator), by default a new
    one seeded with `seed`, so the global random stream is untouched. Stops early (shorter
    array) once theta or f is no longer finite."""
    # np.array copies: the optimizer updates theta in place and start must stay as given
    theta = ad.tensor(np.array(start, dtype=np.float64).ravel(), requires_grad=True)
    opt = optimizer([theta], **(kwargs or {}))
    if noise and generator is None:
        generator = ad.Generator().manual_seed(seed)
    path = [theta.numpy().copy()]
    for _ in range(int(steps)):
        opt.zero_grad()
        loss = fn(theta)
        if tuple(loss.shape) != ():
            if int(np.prod(loss.shape)) != 1:
                raise ValueError(f"optimizer_path: fn must return a scalar, got shape "
                                 f"{tuple(loss.shape)}")
            loss = loss.sum()
        if not math.isfinite(loss.item()):
            break
        loss.backward()
        if noise:
            theta.grad = theta.grad + noise * ad.randn(*theta.shape, dtype=ad.float64,
                                                       generator=generator)
        opt.step()
        point = theta.numpy().copy()
        if not np.all(np.isfinite(point)):
            break
        path.append(point)
    return np.asarray(path)


def _evaluate_grid(fn, dim, xs, ys=None):
    """f on a grid, vectorised when fn works elementwise on theta[0], theta[1]."""
    grid = np.stack(np.meshgrid(xs, ys)) if dim == 2 else xs[None, :]
    with ad.no_grad():
        try:
            z = fn(ad.tensor(grid))
            z = np.asarray(z.numpy(), dtype=np.float64)
            if z.shape == grid.shape[1:]:
                return z
        except Exception:  # noqa: BLE001  (fn is not vectorised: evaluate point by point)
            pass
        flat = grid.reshape(dim, -1)
        z = np.array([float(fn(ad.tensor(flat[:, i].copy())).numpy()) for i in
                      range(flat.shape[1])])
    return z.reshape(grid.shape[1:])


def _levels(z, levels, log):
    if levels is not None and not isinstance(levels, int):
        return np.asarray(levels, dtype=np.float64)
    n = levels or 20
    finite = z[np.isfinite(z)]
    lo, hi = float(finite.min()), float(np.quantile(finite, 0.98))
    if log:
        offset = lo - 1e-3 * max(hi - lo, 1e-12) if lo <= 0 else 0.0
        return offset + np.geomspace(max(lo - offset, 1e-12), hi - offset, n)
    return np.linspace(lo, hi, n)


def plot_optimizer_paths(fn=None, optimizers=None, start=None, steps=None, levels=None,
                         noise=0.0, seed=0, xlim=None, ylim=None, resolution=200, ax=None,
                         size="16:9", title=None):
    """Paths of optimizers on the contour plot of a 2-D function (or on the curve of a 1-D
    one), each from a real `nn.optim` optimizer.

    `fn`: an Objective (valley(a, b), rosenbrock, saddle, multi_minima_1d: they bring
    their plotting window, start, step count and tuned optimizers) or any autodiff function
    of theta, shape (2,) or (1,). `optimizers`: {label: (optimizer class, kwargs)} or
    {label: (class, kwargs, {"noise": std})}; the default is the Objective's own set
    (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam). `noise`: std of Gaussian noise added
    to every gradient (a number, or {label: std}), drawn from an ad.Generator seeded by
    `seed` (the same noise sequence for every optimizer; the global stream is untouched).
    `levels`: the number of contour levels or their values (log-spaced for Rosenbrock).
    For 1-D functions and ax=None a second panel shows x over the steps. Returns the Figure.
    """
    fn = valley() if fn is None else fn
    obj = fn if isinstance(fn, Objective) else None
    if optimizers is None:
        if obj is None:
            raise ValueError("plot_optimizer_paths: give optimizers={label: (class, kwargs)}"
                             " for your own function")
        optimizers = obj.optimizers
    if start is None and obj is None:
        raise ValueError("plot_optimizer_paths: give start=[x, y] (or [x]) for your own "
                         "function")
    start = np.asarray(start if start is not None else obj.start, dtype=np.float64).ravel()
    if start.size not in (1, 2) or (obj is not None and start.size != obj.dim):
        raise ValueError(f"plot_optimizer_paths: start must have 1 or 2 coordinates (the "
                         f"function's), got {start.tolist()}")
    dim = start.size
    steps = int(steps if steps is not None else (obj.steps if obj else 100))
    paths = {}
    for label, spec in optimizers.items():
        cls, kwargs, options = _resolve_optimizer(spec, label)
        sigma = noise.get(label, 0.0) if isinstance(noise, dict) else noise
        sigma = options.get("noise", sigma)
        paths[label] = optimizer_path(fn, cls, kwargs, start, steps, sigma, seed)
    xlim = xlim or (obj.xlim if obj else _window([p[:, 0] for p in paths.values()]))
    name = title or (f"{obj.name}: {obj.formula}" if obj else "optimizer paths")
    if dim == 1:
        return _plot_1d(fn, paths, xlim, resolution, steps, ax, size, name)
    ylim = ylim or (obj.ylim if obj else _window([p[:, 1] for p in paths.values()]))
    fig, (a,) = target_axes(ax, size, "plot_optimizer_paths")
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    z = _evaluate_grid(fn, 2, xs, ys)
    lv = _levels(z, levels, obj.log_levels if obj else False)
    a.contourf(xs, ys, z, levels=lv, cmap="Greys_r", alpha=0.3, extend="both")
    a.contour(xs, ys, z, levels=lv, colors="#666666", linewidths=0.7, alpha=0.8)
    every = max(1, steps // 25)
    for i, (label, path) in enumerate(paths.items()):
        c, marker = color(i), MARKERS[i % len(MARKERS)]
        final = float(np.asarray(fn(ad.tensor(path[-1])).numpy()))
        a.plot(path[:, 0], path[:, 1], color=c, linewidth=LINEWIDTH, marker=marker,
               markevery=every, markersize=6, markeredgecolor="white", markeredgewidth=0.6,
               label=f"{label}: f = {final:.2g}", zorder=3 + i * 0.01)
        a.plot(path[-1, 0], path[-1, 1], color=c, marker=marker, markersize=15,
               markeredgecolor="black", linestyle="none", zorder=5)  # where it ended
    a.plot(*start, marker="o", markersize=13, color="black", linestyle="none", label="start",
           zorder=6)
    if obj and obj.minima:
        m = np.asarray(obj.minima)
        a.plot(m[:, 0], m[:, 1], marker="*", markersize=22, color="white",
               markeredgecolor="black", linestyle="none", label="minimum", zorder=6)
    a.set_xlim(*xlim)
    a.set_ylim(*ylim)
    if 0.25 <= (xlim[1] - xlim[0]) / (ylim[1] - ylim[0]) <= 4:
        a.set_aspect("equal", adjustable="box")  # true angles: steps cross contours at 90°
    style_axes(a, "x", "y", name, grid=False)
    heading = dict(title=f"after {steps} steps\n(large marker: the end)",
                   title_fontsize=FONT["legend"], fontsize=FONT["legend"])
    if ax is None:  # beside the square plot, in the width a 16:9 slide has to spare
        fig.legend(*a.get_legend_handles_labels(), loc="outside right upper", **heading)
    else:
        legend(a, loc="best", **heading)
    return fig


def _window(values, pad=0.1):
    flat = np.concatenate([v[np.isfinite(v)] for v in values])
    lo, hi = float(flat.min()), float(flat.max())
    span = max(hi - lo, 1e-3)
    return (lo - pad * span, hi + pad * span)


def _plot_1d(fn, paths, xlim, resolution, steps, ax, size, name):
    two = ax is None
    fig, axes = target_axes(ax, size, "plot_optimizer_paths", n=2 if two else 1,
                            ncols=2 if two else 1)
    a = axes[0]
    xs = np.linspace(*xlim, resolution * 4)
    a.plot(xs, _evaluate_grid(fn, 1, xs), color="#333333", linewidth=LINEWIDTH,
           label="f(x)", zorder=1)
    for i, (label, path) in enumerate(paths.items()):
        c = color(i + 1)
        fx = _evaluate_grid(fn, 1, path[:, 0])
        a.plot(path[:, 0], fx, color=c, linewidth=1, alpha=0.6, marker=MARKERS[i % 8],
               markersize=4, zorder=2)
        a.plot(path[-1:, 0], fx[-1:], color=c, marker=MARKERS[i % 8], markersize=16,
               markeredgecolor="black", linestyle="none", zorder=4,
               label=f"{label}: ends at x = {path[-1, 0]:.2f}")
        if two:
            axes[1].plot(np.arange(len(path)), path[:, 0], color=c, linewidth=LINEWIDTH,
                         label=label)
    a.plot([path[0, 0]], fx[:1], marker="o", markersize=13, color="black", linestyle="none",
           label="start", zorder=5)
    a.set_xlim(*xlim)
    style_axes(a, "x", "f(x)", "the loss and where each run ends" if two else name)
    legend(a, loc="best")
    if two:
        style_axes(axes[1], "step", "x", f"x over {steps} steps")
        legend(axes[1], loc="best")
        figure_title(fig, name)
    return fig
