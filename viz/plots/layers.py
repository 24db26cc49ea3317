"""Per-layer pictures of training: activation/gradient histograms and std over depth, the
update-to-weight ratio over training, and percentiles of a layer's values over training."""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ._mpl import (FONT, LINESTYLES, LINEWIDTH, MARKERS, color, empty_figure, figure_title,
                   legend, new_figure, style_axes, target_axes)
from .stats import layer_snapshots

__all__ = ["plot_layer_stats", "plot_update_ratios", "plot_percentiles", "rebin"]

_KEYS = {"activations": ("hist", "std", "mean"),
         "gradients": ("grad_hist", "grad_std", "grad_mean")}


def _runs(stats) -> dict:
    """{label or None: [snapshots]}: one run, or a dict {label: stats} to compare runs."""
    if isinstance(stats, dict) and "layers" not in stats:
        if not stats:
            raise ValueError("viz.plots: got an empty dict of runs")
        return {str(k): layer_snapshots(v) for k, v in stats.items()}
    return {None: layer_snapshots(stats)}


def _snapshot(snaps, step):
    if step is None:
        return snaps[-1]
    for s in snaps:
        if s.get("step") == step:
            return s
    raise ValueError(f"viz.plots: no snapshot at step {step}; recorded steps: "
                     f"{[s.get('step') for s in snaps]}")


def _layer_names(snapshot, layers, what):
    names = list(snapshot["layers"])
    if layers is None:
        return names
    layers = [layers] if isinstance(layers, str) else list(layers)
    missing = [n for n in layers if n not in snapshot["layers"]]
    if missing:
        raise ValueError(f"{what}: no layer {missing} in the stats; recorded layers: {names}")
    return layers


def rebin(counts, edges, new_edges) -> np.ndarray:
    """Counts of a histogram moved onto other bin edges, each old bin's count split in
    proportion to its overlap with the new bins (exact when old bins nest in new ones)."""
    edges = np.asarray(edges, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(counts, dtype=np.float64))])
    return np.diff(np.interp(np.asarray(new_edges, dtype=np.float64), edges, cumulative))


def _display_bins(hists):
    """Common edges for one row of histograms: theirs when they share edges, else an even
    grid over the union of their ranges (so a collapsed layer shows as one spike at 0).
    Empty histograms (a layer with no finite value) take no part."""
    hists = [h for h in hists if len(h["edges"])] or [{"counts": [0], "edges": [-1.0, 1.0]}]
    first = np.asarray(hists[0]["edges"], dtype=np.float64)
    if all(len(h["edges"]) == len(first) and np.array_equal(h["edges"], first) for h in hists):
        return first
    lo = min(h["edges"][0] for h in hists)
    hi = max(h["edges"][-1] for h in hists)
    n = max(len(h["counts"]) for h in hists)
    return np.linspace(lo, hi, n + 1)


#: Marks for the values a histogram leaves out (see _hist_row); explained under the figure.
CLIPPED_NOTE = "◀ n, n ▶: n outliers beyond the range shown, counted in the shares, not drawn"


def _fmt(v: float) -> str:
    """Short tick and annotation text: 0.21, 0.0025, 3.1e-05."""
    if abs(v) < 1e-12:
        return "0"
    return f"{v:.2g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.1e}".replace("e-0", "e-")


def _std_panel(ax, runs, names_by_run, key, kind, fonts=FONT, short=False):
    """The std per layer, a line per run; `short`: the y label without "of <kind>"."""
    values, gaps = [], False
    prefix = "grad_" if kind == "gradients" else ""
    for i, (label, (snap, names)) in enumerate(zip(runs, names_by_run)):
        ys = [snap["layers"][n].get(key, np.nan) for n in names]
        values += [v for v in ys if np.isfinite(v) and v > 0]
        ax.plot(range(1, len(names) + 1), ys, color=color(i), linestyle=LINESTYLES[i % 8],
                marker=MARKERS[i % 8], markersize=9, linewidth=LINEWIDTH,
                label=label if label is not None else f"std of {kind}")
        for x, n in enumerate(names, 1):  # a gap in the line: say why
            bad = _nonfinite_text(snap["layers"][n], prefix)
            if bad and not np.isfinite(ys[x - 1]):
                gaps = True
                ax.annotate(bad, (x, 0.98 - 0.1 * i), xycoords=("data", "axes fraction"),
                            ha="center", va="top", fontsize=fonts["small"],
                            color=color(i), fontweight="bold",
                            bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))
    log = bool(values) and max(values) / min(values) > 30
    if log:
        ax.set_yscale("log")
    names = names_by_run[0][1]
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_xlim(0.5, len(names) + 0.5)  # point k above the k-th histogram column
    style_axes(ax, "layer", ("std" if short else f"std of {kind}")
               + (" (log scale)" if log else ""), None, fonts=fonts)
    if len(runs) > 1:  # beside the panel when the NaN notes take its top
        legend(ax, fonts=fonts, **(dict(loc="upper left", bbox_to_anchor=(1.01, 1.0))
                                   if gaps else {}))


def _nonfinite_text(entry, prefix="") -> str | None:
    """'NaN 12%' / 'all NaN' / 'Inf 3' for a layer record with NaN or Inf values, else None."""
    nan, inf = entry.get(prefix + "nan", 0), entry.get(prefix + "inf", 0)
    if not nan and not inf:
        return None
    count = entry.get("count") or 0
    if count and nan + inf == count:
        return "all NaN" if nan else "all Inf"
    share = (lambda k: f"{100 * k / count:.2g}%") if count else str
    return " ".join(f"{name} {share(k)}" for name, k in (("NaN", nan), ("Inf", inf)) if k)


def _hist_row(axes, label, snap, names, key, kind, fonts, show_std=True, run=0):
    """One run's histograms, in the run's colour (the colour of its line in the std panel).
    Returns whether some values fell outside a histogram's range (marked ◀ n / n ▶)."""
    hists = []
    for n in names:
        h = snap["layers"][n].get(key)
        if h is None:
            hint = (" (collect_layer_stats records gradients only when loss_fn is given)"
                    if kind == "gradients" else "")
            raise ValueError(f"plot_layer_stats: layer {n!r} has no {key!r}{hint}")
        hists.append(h)
    edges = _display_bins(hists)
    std_key = _KEYS[kind][1]
    prefix = "grad_" if kind == "gradients" else ""
    alarm = dict(color=color(3), fontweight="bold")  # vermillion
    clipped = False
    for j, (a, n, h) in enumerate(zip(axes, names, hists)):
        entry = snap["layers"][n]
        below, above = h.get("below", 0), h.get("above", 0)
        if len(h["edges"]):
            counts = (np.asarray(h["counts"], dtype=np.float64)
                      if np.array_equal(h["edges"], edges)
                      else rebin(h["counts"], h["edges"], edges))
            total = counts.sum() + below + above
            a.stairs(counts / total if total else counts, edges, fill=True, color=color(run),
                     alpha=0.85)
        a.set_xlim(edges[0], edges[-1])
        a.xaxis.set_major_locator(MaxNLocator(nbins=2, min_n_ticks=2))
        a.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
        a.set_yticks([])
        a.tick_params(labelsize=fonts["small"])
        box = dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1)
        bad = _nonfinite_text(entry, prefix)
        if bad:
            a.text(0.5, 0.5, bad, transform=a.transAxes, ha="center", va="center",
                   fontsize=fonts["note"], bbox=box, **alarm)
        if show_std:
            a.text(0.98, 0.97, f"std {_fmt(entry.get(std_key, np.nan))}",
                   transform=a.transAxes, ha="right", va="top", fontsize=fonts["small"],
                   bbox=box)
        for side, k in (("left", below), ("right", above)):
            if k:
                clipped = True
                a.text(0.01 if side == "left" else 0.99, 0.03,
                       f"◀ {k}" if side == "left" else f"{k} ▶", transform=a.transAxes,
                       ha=side, va="bottom", fontsize=fonts["small"], bbox=box)
        for side in ("top", "right", "left"):
            a.spines[side].set_visible(False)
        if j == 0:
            a.set_ylabel(label if label else "share of values", fontsize=fonts["note"],
                         color=color(run) if label else "black")
    return clipped


def plot_layer_stats(stats, kind="activations", style="both", layers=None, step=None, ax=None,
                     size="16:9", title=None):
    """One histogram per layer and/or the std over depth, from LayerStats or
    `viz.collect_layer_stats(model, x)`.

    `stats`: LayerStats, a list of snapshots, one snapshot, or a dict {label: any of these}
    to compare runs (e.g. one per initialisation: a row of histograms each).
    `kind`: "activations" or "gradients" (d loss / d layer output). `style`: "hist" (rows of
    histograms, one row per run, sharing the x range within a row, y = share of the values
    per bin), "std" (std per layer, one line per run; log scale when it spans > 30x) or
    "both" (std on top, histograms below). `layers`: names to show (default all recorded);
    `step`: the snapshot's recorded step (default the last). `ax`: one Axes for "std", a
    sequence of runs x layers Axes for "hist".
    """
    if kind not in _KEYS:
        raise ValueError(f"plot_layer_stats: kind must be 'activations' or 'gradients', got "
                         f"{kind!r}")
    if style not in ("hist", "std", "both"):
        raise ValueError(f"plot_layer_stats: style must be 'hist', 'std' or 'both', got "
                         f"{style!r}")
    runs = _runs(stats)
    picked = [_snapshot(s, step) for s in runs.values()]
    names_by_run = [(snap, _layer_names(snap, layers, "plot_layer_stats")) for snap in picked]
    labels = list(runs)
    hist_key, std_key, _ = _KEYS[kind]
    n_layers = max(len(names) for _, names in names_by_run)
    many = n_layers * len(runs) > 8
    fonts = dict(FONT, small=FONT["small"] if many else FONT["tick"])
    if style == "std":
        fig, (a,) = target_axes(ax, size, "plot_layer_stats")
        _std_panel(a, labels, names_by_run, std_key, kind)
        if title or ax is None:
            a.set_title(title or f"std of the {kind} per layer", fontsize=FONT["title"])
        return fig
    n_rows = len(runs)
    if style == "hist":
        if ax is not None:
            fig, axes = target_axes(ax, size, "plot_layer_stats", n=n_rows * n_layers)
            grid = np.asarray(axes, dtype=object).reshape(n_rows, n_layers)
        else:
            fig, grid = new_figure(size, nrows=n_rows, ncols=n_layers, squeeze=False)
    else:
        if ax is not None:
            raise ValueError("plot_layer_stats: style='both' draws its own figure; pass ax= "
                             "with style='std' or style='hist'")
        fig = empty_figure(size)
        spec = fig.add_gridspec(n_rows + 1, n_layers,
                                height_ratios=[1.3 if n_rows == 1 else 1.0] + [1] * n_rows)
        _std_panel(fig.add_subplot(spec[0, :]), labels, names_by_run, std_key, kind, fonts,
                   short=n_rows > 1)
        grid = np.array([[fig.add_subplot(spec[r + 1, c]) for c in range(n_layers)]
                         for r in range(n_rows)], dtype=object)
    clipped = False
    for r, (label, (snap, names)) in enumerate(zip(labels, names_by_run)):
        clipped |= _hist_row(list(grid[r][:len(names)]), label, snap, names, hist_key, kind,
                             fonts, show_std=style == "hist", run=r)
        for extra in grid[r][len(names):]:
            extra.set_visible(False)
    for c, name in enumerate(names_by_run[0][1]):
        grid[0][c].set_title(name, fontsize=fonts["note"])
    what = "activation value" if kind == "activations" else "d loss / d activation"
    for a in grid[-1]:
        a.set_xlabel(what if n_layers <= 3 else None, fontsize=fonts["note"])
    if ax is None:
        layout = "std (top) and histograms" if style == "both" else "histograms"
        figure_title(fig, title or f"{kind.capitalize()} per layer: {layout} (bar height: "
                     "share of the values in the bin)", fontsize=FONT["title"] - 2)
        if clipped:
            fig.supxlabel(CLIPPED_NOTE, fontsize=fonts["small"], color="#333333")
    return fig


def _series(snaps, layer, key):
    steps, values = [], []
    for s in snaps:
        entry = s["layers"].get(layer)
        if entry is not None and key in entry and entry[key] is not None:
            steps.append(s.get("step", len(steps)))
            values.append(entry[key])
    return np.asarray(steps), np.asarray(values, dtype=np.float64)


def plot_update_ratios(stats, layers=None, reference=1e-3, ax=None, size="16:9", title=None):
    """The update-to-weight ratio |lr * update| / |w| of each layer over training (log scale),
    with the rule-of-thumb reference (about 1e-3: much lower learns slowly, much higher is
    unstable). `stats`: LayerStats or its snapshots (which record "update_ratio")."""
    snaps = layer_snapshots(stats)
    names = list(dict.fromkeys(n for s in snaps for n, e in s["layers"].items()
                               if "update_ratio" in e))
    if layers is not None:
        names = [n for n in _layer_names({"layers": {n: 0 for n in names}}, layers,
                                         "plot_update_ratios")]
    if not names:
        raise ValueError("plot_update_ratios: no layer has an 'update_ratio'; LayerStats "
                         "records it during fit for layers with a weight (collect_layer_stats "
                         "takes no optimizer step, so it has none)")
    fig, (a,) = target_axes(ax, size, "plot_update_ratios")
    for i, n in enumerate(names):
        steps, ratios = _series(snaps, n, "update_ratio")
        a.plot(steps, ratios, color=color(i), linestyle=LINESTYLES[i % 8], linewidth=LINEWIDTH,
               marker=MARKERS[i % 8] if len(steps) <= 30 else None, label=f"layer {n}")
    a.set_yscale("log")
    if reference:
        a.axhline(reference, color="#555555", linestyle=":", linewidth=2,
                  label=f"{reference:g} (rule of thumb)")
    style_axes(a, "step", "|lr x update| / |weight|  (log scale)",
               title or "update-to-weight ratio per layer")
    legend(a, loc="best")
    return fig


def plot_percentiles(stats, layer, q=(15, 50, 85), ax=None, size="16:9", title=None):
    """Percentiles `q` of one layer's values over training, e.g. the 15th/50th/85th of a
    sigmoid layer's input with and without BatchNorm (pass a dict {label: stats} to compare
    runs: one colour per run; the median solid, the outer percentiles dashed and shaded)."""
    runs = _runs(stats)
    fig, (a,) = target_axes(ax, size, "plot_percentiles")
    q = [float(v) for v in np.atleast_1d(q)]
    for i, (label, snaps) in enumerate(runs.items()):
        steps, rows = [], []
        for s in snaps:
            entry = s["layers"].get(layer)
            if entry is None:
                continue
            recorded = {float(k): v for k, v in entry["percentiles"].items()}
            missing = [v for v in q if v not in recorded]
            if missing:
                raise ValueError(f"plot_percentiles: percentiles {missing} were not recorded; "
                                 f"recorded: {sorted(recorded)}")
            steps.append(s.get("step", len(steps)))
            rows.append([recorded[v] for v in q])
        if not rows:
            known = sorted({n for s in snaps for n in s["layers"]})
            raise ValueError(f"plot_percentiles: no layer {layer!r} in the stats"
                             f"{'' if label is None else f' of {label!r}'}; recorded: {known}")
        values = np.asarray(rows)
        mid = int(np.argmin([abs(v - 50) for v in q]))
        for j, v in enumerate(q):
            # one run: a colour per percentile; several: a colour per run, dashes for
            # the outer percentiles (explained by the style entries below)
            name = f"{v:g}th percentile" if label is None else (label if j == mid else None)
            a.plot(steps, values[:, j], color=color(i if label is not None else j),
                   linestyle="-" if j == mid else "--", linewidth=LINEWIDTH, label=name)
        if len(q) >= 2:
            a.fill_between(steps, values[:, 0], values[:, -1], color=color(i), alpha=0.12,
                           linewidth=0)
    if len(runs) > 1 and len(q) > 1:
        outer = " / ".join(f"{v:g}" for v in q if v != q[mid])
        a.plot([], [], color="black", linestyle="-", label=f"solid: {q[mid]:g}th percentile")
        a.plot([], [], color="black", linestyle="--", label=f"dashed: {outer}th")
    style_axes(a, "step", f"value ({layer})",
               title or f"percentiles of {layer} over training")
    legend(a, loc="best")
    return fig
