"""Activation functions and their derivatives; the derivatives come from the engine's autodiff."""
from __future__ import annotations

import numpy as np

import autodiff as ad

from ._mpl import (FONT, LINESTYLES, LINEWIDTH, color, figure_title, fit_width, legend,
                   style_axes, target_axes)

__all__ = ["plot_activations", "activation_curves", "ACTIVATIONS"]

#: Names plot_activations understands: (the nn module used, with its defaults; the label).
ACTIVATIONS = {"sigmoid": ("Sigmoid", "sigmoid"), "tanh": ("Tanh", "tanh"),
               "relu": ("ReLU", "ReLU"), "leaky_relu": ("LeakyReLU", "Leaky ReLU (0.01)"),
               "prelu": ("PReLU", "PReLU (a = 0.25)"), "elu": ("ELU", "ELU"),
               "gelu": ("GELU", "GELU"), "silu": ("SiLU", "SiLU (swish)"),
               "swish": ("SiLU", "SiLU (swish)"), "softplus": ("Softplus", "softplus")}


def _module_label(module) -> str:
    """LeakyReLU(negative_slope=0.1) -> 'LeakyReLU(0.1)': short enough for a legend."""
    settings = module.extra_repr() if hasattr(module, "extra_repr") else ""
    values = [part.split("=", 1)[-1].strip() for part in settings.split(",") if part.strip()]
    name = type(module).__name__
    return f"{name}({', '.join(values)})" if values else name


def _resolve(item, key=None):
    """(label, callable) for a name, an nn module, a (label, callable) pair or a callable."""
    if isinstance(item, str):
        import nn  # noqa: PLC0415  (nn is needed only for names)

        name = item.lower().replace("-", "_").replace(" ", "_")
        if name not in ACTIVATIONS:
            raise ValueError(f"plot_activations: unknown activation {item!r}; use one of "
                             f"{', '.join(sorted(ACTIVATIONS))}, an nn module such as "
                             "nn.LeakyReLU(0.1), or any elementwise function of a Tensor")
        cls, label = ACTIVATIONS[name]
        return key or label, getattr(nn, cls)()
    if not callable(item):
        raise TypeError(f"plot_activations: {item!r} is neither an activation name nor "
                        "callable")
    if key is not None:
        return key, item
    if hasattr(item, "named_parameters"):  # an nn module: its repr names the settings
        return _module_label(item), item
    return getattr(item, "__name__", type(item).__name__), item


def _grid_shape(n: int) -> tuple:
    """(rows, cols) for n panels: few empty cells, about as wide as a 16:9 slide allows."""
    return min(((r, -(-n // r)) for r in range(1, n + 1)),
               key=lambda rc: rc[0] * rc[1] - n + abs(rc[1] / rc[0] - 1.6))


def activation_curves(names_or_modules, x=None) -> list:
    """[(label, x, f(x), f'(x))] as float64 NumPy arrays, f'(x) by autodiff (ad.grad).

    `names_or_modules`: a name or nn module or callable, a list of them, or a dict
    {label: name | module | callable}. `x`: the inputs (default 801 points in [-5, 5])."""
    if isinstance(names_or_modules, dict):
        items = [_resolve(v, key=str(k)) for k, v in names_or_modules.items()]
    elif isinstance(names_or_modules, (str, bytes)) or callable(names_or_modules):
        items = [_resolve(names_or_modules)]
    else:
        items = [_resolve(v) for v in names_or_modules]
    if not items:
        raise ValueError("plot_activations: no activation given")
    x = np.linspace(-5.0, 5.0, 801) if x is None else np.array(
        x.numpy() if isinstance(x, ad.Tensor) else x, dtype=np.float64).ravel()
    curves = []
    for label, fn in items:
        xt = ad.tensor(x, dtype=ad.float64, requires_grad=True)
        y = fn(xt)
        if not isinstance(y, ad.Tensor) or tuple(y.shape) != tuple(xt.shape):
            shape = tuple(y.shape) if isinstance(y, ad.Tensor) else type(y).__name__
            raise ValueError(f"plot_activations: {label} maps a tensor of shape {x.shape} to "
                             f"{shape}; only elementwise functions of a Tensor can be plotted")
        # elementwise, so the gradient of the sum is the derivative at every point
        (g,) = ad.grad(y.sum(), [xt])
        curves.append((label, x, y.detach().numpy().astype(np.float64),
                       g.numpy().astype(np.float64)))
    return curves


def plot_activations(names_or_modules=("sigmoid", "tanh", "relu", "leaky_relu"), x=None,
                     derivatives=True, layout="auto", ax=None, size="16:9", title=None):
    """Activation functions and (derivatives=True) their derivatives by autodiff.

    `names_or_modules`: names ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
    "gelu", "silu", "softplus"), nn modules (`nn.LeakyReLU(0.1)`), elementwise callables,
    or a dict {label: any of these}. `layout`: "pair" (functions left, derivatives right,
    one colour per function), "grid" (one panel per function, f solid and f' dashed),
    "overlay" (everything in one panel), "auto" (pair up to 4 functions, else grid; overlay
    when one Axes is given). Returns the Figure.
    """
    curves = activation_curves(names_or_modules, x)
    n = len(curves)
    if layout == "auto":
        layout = "overlay" if hasattr(ax, "plot") else ("pair" if n <= 4 or not derivatives
                                                        else "grid")
    if layout == "pair" and not derivatives:
        layout = "overlay"
    if layout not in ("pair", "grid", "overlay"):
        raise ValueError(f"plot_activations: layout must be 'auto', 'pair', 'grid' or "
                         f"'overlay', got {layout!r}")
    what = "plot_activations"
    if layout == "overlay":
        fig, axes = target_axes(ax, size, what)
        panels = [axes[0]] * n
        deriv_panels = panels
    elif layout == "pair":
        fig, axes = target_axes(ax, size, what, n=2, ncols=2)
        panels, deriv_panels = [axes[0]] * n, [axes[1]] * n
    else:
        rows, cols = _grid_shape(n)
        fig, axes = target_axes(ax, size, what, n=n, nrows=rows, ncols=cols, sharex=True)
        if ax is None:
            for extra in fig.axes[n:]:
                extra.set_visible(False)
        panels = deriv_panels = axes
    grid = layout == "grid"
    fonts = dict(FONT, tick=FONT["small"] + 1, label=FONT["note"], legend=FONT["small"],
                 title=FONT["label"]) if grid and n > 4 else FONT
    for i, (label, xs, ys, gs) in enumerate(curves):
        c = color(0 if grid else i)
        style = LINESTYLES[0 if grid else i % len(LINESTYLES)]
        panels[i].plot(xs, ys, color=c, linestyle=style, linewidth=LINEWIDTH, label=label)
        if derivatives:
            deriv_style = "--" if layout != "pair" else style
            deriv_panels[i].plot(xs, gs, color=color(1) if grid else c, linestyle=deriv_style,
                                 linewidth=LINEWIDTH, label=f"{label}'")
    for a in dict.fromkeys(panels + deriv_panels):
        a.axhline(0, color="#808080", linewidth=0.8, zorder=0)
        a.axvline(0, color="#808080", linewidth=0.8, zorder=0)
    if layout == "pair":
        style_axes(panels[0], "x", "f(x)", "activation functions")
        style_axes(deriv_panels[0], "x", "f'(x)  (by autodiff)", "their derivatives")
        legend(panels[0], loc="upper left")
    elif layout == "overlay":
        style_axes(panels[0], "x", "f(x), f'(x) dashed" if derivatives else "f(x)",
                   title or "activation functions")
        legend(panels[0], loc="upper left")
    else:
        rows, cols = _grid_shape(n)
        for i, (a, (label, *_rest)) in enumerate(zip(panels, curves)):
            bottom = i + cols >= n  # no panel below this one
            style_axes(a, "x" if bottom else None, None, label, fonts=fonts)
            a.tick_params(labelbottom=bottom)
        if derivatives:
            key = fig.legend(panels[0].get_lines()[:2], ["f(x)", "f'(x), by autodiff"],
                             loc="outside upper center", ncols=2, fontsize=FONT["legend"],
                             frameon=False)
            if title:
                # one artist: constrained layout would draw a suptitle over this legend
                key.set_title(fit_width(fig, title), prop={"size": FONT["title"]})
                return fig
    if title and layout != "overlay":
        figure_title(fig, title)
    return fig
