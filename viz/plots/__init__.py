"""viz.plots: matplotlib figures of what the lectures show, ready for slides.

    from viz import plots
    fig = plots.plot_activations(["sigmoid", "tanh", "relu"])      # a matplotlib Figure
    viz.save_figure(fig, "activations.svg")                         # or .png, .pdf

Every plot returns a `matplotlib.figure.Figure` and draws into `ax=` (a matplotlib Axes, or
a sequence of Axes for the multi-panel figures) when given. Figures are pyplot-free (the
backend is never changed; PNG is rendered by Agg) and display inline in Jupyter. Defaults
suit a projected slide: 16:9 (`size="16:9" | "4:3" | "1:1" | (w, h)`), 15-20 pt fonts, the
colour-blind-safe Okabe-Ito palette with a distinct marker or dash per series.

Submodules load on first use, so `import viz` never needs matplotlib; `collect_layer_stats`
needs no matplotlib at all.
"""
from __future__ import annotations

import importlib

_WHERE = {
    # matplotlib-free
    "collect_layer_stats": "stats", "layer_snapshots": "stats",
    # figures
    "plot_activations": "activations", "activation_curves": "activations",
    "ACTIVATIONS": "activations",
    "plot_layer_stats": "layers", "plot_update_ratios": "layers",
    "plot_percentiles": "layers",
    "plot_history": "training", "plot_lr": "training", "lr_values": "training",
    "plot_optimizer_paths": "optimizers", "optimizer_path": "optimizers",
    "valley": "optimizers", "rosenbrock": "optimizers", "saddle": "optimizers",
    "multi_minima_1d": "optimizers", "Objective": "optimizers",
    "plot_loss_landscape": "landscape", "loss_landscape": "landscape",
    "random_directions": "landscape",
    "plot_search": "search", "plot_grid_vs_random": "search",
    "plot_decision_boundary": "boundary", "decision_grid": "boundary",
    "save_figure": "_mpl", "slide_figure": "_mpl", "OKABE_ITO": "_mpl", "PALETTE": "_mpl",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'viz.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
