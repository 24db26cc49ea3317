"""Hyperparameter search: the trials of a search as a scatter, and the lecture's picture of why
random search beats grid search when one parameter matters (Bergstra & Bengio, 2012)."""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter

import autodiff as ad

from .stats import record_list

from ._mpl import (FONT, LINEWIDTH, MARKERS, OKABE_ITO, color, empty_figure, figure_title,
                   legend, style_axes, target_axes)

__all__ = ["plot_search", "plot_grid_vs_random", "search_records"]


def search_records(results) -> list:
    """The trial records (INTERFACES §4) of a search: results.to_records() or a list."""
    records = results.to_records() if hasattr(results, "to_records") else results
    return record_list(records, "config", "plot_search",
                       "search results (with .to_records()) or a list of trial records")


def _value(record, key):
    """(value, where): a hyperparameter from config, else a metric, else (None, None)."""
    if key in (record.get("config") or {}):
        return record["config"][key], "config"
    if key in (record.get("metrics") or {}):
        return record["metrics"][key], "metrics"
    return None, None


def _mode_for(metric: str) -> str:
    name = metric.lower()
    return "max" if any(w in name for w in ("acc", "f1", "auc", "score", "precision",
                                             "recall")) else "min"


def plot_search(results, x, y=None, color=None, log=True, mode=None, ax=None, size="16:9",
                title=None):
    """The trials of a hyperparameter search as a scatter.

    `x`, `y`: names of hyperparameters (from each trial's config) or metrics. With y=None,
    y is the `color` metric. `color`: the metric that colours the points (default the first
    metric recorded); the best trial by it (`mode` "min"/"max", guessed from the name) gets
    a star. `log`: True puts positive hyperparameter axes on a log scale (learning rates are
    searched log-uniformly); also "x", "y", "both" or False. Failed trials are grey crosses;
    coarse-to-fine rounds get one marker shape each."""
    records = search_records(results)
    ok = [r for r in records if r.get("status", "ok") == "ok"]
    metric_names = [k for r in ok for k in (r.get("metrics") or {})]
    if color is None:
        color = next((m for m in metric_names if m != y), None) if y is not None else (
            metric_names[0] if metric_names else None)
    if y is None:
        if color is None:
            raise ValueError("plot_search: no metric recorded to plot against x")
        y, color_by = color, None
    else:
        color_by = color
    for key in (x, y) + ((color_by,) if color_by else ()):
        if all(_value(r, key)[1] is None for r in records):
            known = sorted({k for r in records for part in ("config", "metrics")
                            for k in (r.get(part) or {})})
            raise ValueError(f"plot_search: {key!r} is neither a hyperparameter nor a metric "
                             f"of the trials; known: {known}")
    best_key = color_by or y
    mode = mode or _mode_for(best_key)
    fig, (a,) = target_axes(ax, size, "plot_search")
    rounds = sorted({r.get("round", 0) for r in records})
    scatter = None
    shades = [_value(r, color_by)[0] for r in ok if color_by and _value(r, color_by)[0]
              is not None]
    log_color = bool(shades) and min(shades) > 0 and max(shades) > 10 * min(shades)
    for k, rnd in enumerate(rounds):
        pts = [(_value(r, x)[0], _value(r, y)[0], _value(r, color_by)[0] if color_by else 0.0)
               for r in ok if r.get("round", 0) == rnd]
        pts = [p for p in pts if p[0] is not None and p[1] is not None and p[2] is not None]
        if not pts:
            continue
        xs, ys, cs = (np.asarray(v, dtype=np.float64) for v in zip(*pts))
        kw = dict(s=110, marker=MARKERS[k % len(MARKERS)], edgecolors="black", linewidths=0.6,
                  zorder=3)
        if color_by:
            scatter = a.scatter(xs, ys, c=cs, cmap="viridis", **kw)
        else:
            a.scatter(xs, ys, color=OKABE_ITO["blue"], **kw)
        # legend entry by shape only (the colour is the metric's)
        a.plot([], [], linestyle="none", marker=MARKERS[k % len(MARKERS)], markersize=11,
               markerfacecolor="white", markeredgecolor="black",
               label=f"round {rnd}" if len(rounds) > 1 else "trial")
    if color_by and scatter is not None:
        from matplotlib.colors import LogNorm, Normalize  # noqa: PLC0415

        norm = (LogNorm if log_color else Normalize)(min(shades), max(shades))
        for collection in a.collections:
            if collection.get_array() is not None:
                collection.set_norm(norm)
        bar = fig.colorbar(scatter, ax=a)
        bar.set_label(color_by + (" (log scale)" if log_color else ""),
                      fontsize=FONT["label"])
        if log_color:  # 0.2, 0.5, 1, 2 rather than 2 x 10^-1 ...
            short = FuncFormatter(lambda v, _pos: f"{v:.2g}")
            bar.ax.yaxis.set_major_formatter(short)
            bar.ax.yaxis.set_minor_formatter(short)
        bar.ax.tick_params(labelsize=FONT["small"])
    failed = [r for r in records if r.get("status", "ok") != "ok"]
    fx = [(_value(r, x)[0], _value(r, y)[0]) for r in failed]
    fx = [p for p in fx if p[0] is not None and p[1] is not None]
    if fx:
        a.scatter(*zip(*fx), marker="x", s=90, color="#888888", linewidths=2,
                  label="failed trial", zorder=2)
    candidates = [r for r in ok if _value(r, best_key)[0] is not None
                  and _value(r, x)[0] is not None and _value(r, y)[0] is not None]
    if candidates:
        pick = (max if mode == "max" else min)(candidates, key=lambda r: _value(r, best_key)[0])
        a.scatter([_value(pick, x)[0]], [_value(pick, y)[0]], marker="*", s=650,
                  facecolors="none", edgecolors=OKABE_ITO["vermillion"], linewidths=2.5,
                  label=f"best {best_key} = {_value(pick, best_key)[0]:.4g}", zorder=4)
    for axis, key in (("x", x), ("y", y)):
        values = [v for r in records for v in [_value(r, key)] if v[1] == "config"]
        want = log is True or log == "both" or log == axis
        if want and values and all(isinstance(v[0], (int, float)) and v[0] > 0 for v in values):
            (a.set_xscale if axis == "x" else a.set_yscale)("log")
    xl = x + (" (log scale)" if a.get_xscale() == "log" else "")
    yl = y + (" (log scale)" if a.get_yscale() == "log" else "")
    style_axes(a, xl, yl, title or f"hyperparameter search: {len(records)} trials")
    legend(a, loc="best")
    return fig


def _important(x):
    """The response to the important parameter: a narrow peak the 3-point grid misses."""
    return 0.2 + 0.8 * np.exp(-((x - 0.7) / 0.07) ** 2)


def _unimportant(y):
    """The response to the unimportant parameter: nearly flat."""
    return 0.5 + 0.03 * np.sin(2 * np.pi * y)


def plot_grid_vs_random(n=9, seed=0, generator=None, ax=None, size="16:9", title=None):
    """Grid layout vs random layout with the same budget of n trials (a square number for
    the grid), when only the x parameter matters: the grid tries sqrt(n) values of it, the
    random layout n different ones, so it comes closer to the peak (Bergstra & Bengio,
    2012). The curves above and beside each layout are the response to each parameter
    alone, with the tried values marked. The random trials come from `generator` (default:
    an ad.Generator seeded with `seed`). `ax`: two Axes (grid, random), layouts only.
    """
    k = int(round(np.sqrt(n)))
    if k * k != n or n < 1:
        raise ValueError(f"plot_grid_vs_random: n must be a square number (a k x k grid), "
                         f"got {n!r}")
    ticks = (np.arange(k) + 0.5) / k
    grid = np.array([(gx, gy) for gx in ticks for gy in ticks])
    generator = generator or ad.Generator().manual_seed(seed)
    rand = ad.rand(n, 2, dtype=ad.float64, generator=generator).numpy()
    layouts = (("grid layout", grid), ("random layout", rand))
    if ax is None:
        fig = empty_figure(size)
        spec = fig.add_gridspec(2, 4, width_ratios=[4, 1, 4, 1], height_ratios=[1, 4])
        mains = [fig.add_subplot(spec[1, 0]), fig.add_subplot(spec[1, 2])]
        tops = [fig.add_subplot(spec[0, 0], sharex=mains[0]),
                fig.add_subplot(spec[0, 2], sharex=mains[1])]
        sides = [fig.add_subplot(spec[1, 1], sharey=mains[0]),
                 fig.add_subplot(spec[1, 3], sharey=mains[1])]
    else:
        fig, mains = target_axes(ax, size, "plot_grid_vs_random", n=2)
        tops = sides = [None, None]
    curve = np.linspace(0, 1, 400)
    for a, top, side, (name, pts) in zip(mains, tops, sides, layouts):
        best = _important(pts[:, 0]).max()
        distinct = len(np.unique(np.round(pts[:, 0], 12)))
        a.scatter(pts[:, 0], pts[:, 1], s=160, color=color(0), edgecolors="black", zorder=3,
                  label=f"{n} trials")
        a.set_xlim(0, 1)
        a.set_ylim(0, 1)
        style_axes(a, "important parameter", "unimportant parameter",
                   None if top is not None else name)
        if top is not None:
            top.plot(curve, _important(curve), color=color(1), linewidth=LINEWIDTH)
            top.plot(pts[:, 0], _important(pts[:, 0]), "o", color=color(0),
                     markeredgecolor="black", markersize=9)
            top.set_ylim(0, 1.1)
            top.tick_params(labelbottom=False, labelleft=False, left=False, bottom=False)
            top.set_ylabel("response", fontsize=FONT["note"])
            top.set_title(f"{name.split()[0]}: {distinct} values tried, best {best:.2f}",
                          fontsize=FONT["label"])
            side.plot(_unimportant(curve), curve, color=color(2), linewidth=LINEWIDTH)
            side.plot(_unimportant(pts[:, 1]), pts[:, 1], "o", color=color(0),
                      markeredgecolor="black", markersize=9)
            side.set_xlim(0, 1.1)
            side.tick_params(labelleft=False, labelbottom=False, bottom=False, left=False)
            side.set_xlabel("response", fontsize=FONT["note"])
            for spine in ("top", "right", "bottom", "left"):
                top.spines[spine].set_visible(spine == "bottom")
                side.spines[spine].set_visible(spine == "left")
    if ax is None:
        figure_title(fig, title or f"Grid vs random search, {n} trials, when only one "
                     "parameter matters")
    return fig
