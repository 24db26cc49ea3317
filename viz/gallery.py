"""The lecture gallery: the figures `python -m viz gallery --out DIR` renders.

Each figure is a function returning (output tensor, draw options). All are deterministic
(fixed numbers or a fixed seed) and use float64 where values are read off the slide, so
the SVG/PNG/DOT files are the same on every run.

Notation of the lecture: a layer with input p computes s = W p + b; the plain layer outputs
sigma(s), the residual layer sigma(s) + p, the highway layer
sigma(p) sigma(s) + (1 - sigma(p)) p (gate sigma(p) mixes the transform and the carry).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import autodiff as ad

from ._format import html
from .draw import draw_backward_graph, draw_graph
from .render import save
from .steps import backprop_steps

__all__ = ["FIGURES", "Figure", "build_gallery", "figure_diagram", "two_layer_network"]

f64 = ad.float64


def _named(t, name):
    t.name = name
    return t


def _leaf(value, name, grad=True):
    return ad.tensor(value, dtype=f64, requires_grad=grad, name=name)


def two_layer_network(hidden="plain"):
    """The lecture's network for x = (0, 1), t = 1: s = W1 x + b1, h = layer(s, p = x),
    y = sigma(W2 . h + b2), E = (t - y)^2 / 2. `hidden` is "plain" (h = sigma(s)),
    "residual" (h = sigma(s) + p) or "highway" (h = sigma(p) sigma(s) + (1 - sigma(p)) p)."""
    # with a skip connection the input p = x is differentiated too (as the output of an
    # earlier layer would be), so the gradient it receives along the skip path shows
    x = _leaf([0.0, 1.0], "x", grad=hidden != "plain")
    W1 = _leaf([[3.0, 4.0], [2.0, 3.0]], "W1")
    b1 = _leaf([-2.0, -4.0], "b1")
    W2 = _leaf([5.0, -5.0], "W2")
    b2 = _leaf(-2.0, "b2")
    t = _leaf(1.0, "t", grad=False)
    s = _named(W1 @ x + b1, "s")
    if hidden == "plain":
        h = _named(s.sigmoid(), "h")
    elif hidden == "residual":
        h = _named(_named(s.sigmoid(), "σ(s)") + x, "h")
    elif hidden == "highway":
        # the layer's input p is x here: drawn under the name x, so that "p" means one thing
        gate = _named(x.sigmoid(), "σ(x)")
        transform = _named(s.sigmoid(), "σ(s)")
        h = _named(gate * transform + (1 - gate) * x, "h")
    else:
        raise ValueError(f"two_layer_network: hidden={hidden!r}; use plain, residual or highway")
    p = _named((W2 * h).sum() + b2, "p")
    y = _named(p.sigmoid(), "y")
    return _named((t - y) ** 2 / 2, "E")


def fig_two_layer():
    return two_layer_network("plain"), {}


def fig_residual():
    return two_layer_network("residual"), {}


def fig_highway():
    return two_layer_network("highway"), {}


def fig_batchnorm():
    """Batch normalisation of 3 examples with 2 features: mean and variance over the batch."""
    # X stands for a previous layer's activations: its gradient flows through mean and var
    X = _leaf([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]], "X")
    gamma = _leaf([1.5, 0.5], "gamma")
    beta = _leaf([0.0, 1.0], "beta")
    target = _leaf([[0.0, 1.0], [0.0, 2.0], [1.0, 1.0]], "target", grad=False)
    mu = _named(X.mean(axis=0), "mean")
    var = _named(X.var(0, correction=0), "var")  # biased, as batch norm
    std = _named((var + 1e-5).sqrt(), "std")
    xhat = _named((X - mu) / std, "xhat")
    y = _named(gamma * xhat + beta, "y")
    return _named(((y - target) ** 2).mean(), "E"), {"precision": 3}


def fig_micrograd():
    """A single tanh neuron, micrograd style: every leaf's gradient and each edge's local
    derivative (formula and value)."""
    x1, x2 = _leaf(2.0, "x1"), _leaf(0.0, "x2")
    w1, w2 = _leaf(-3.0, "w1"), _leaf(1.0, "w2")
    b = _leaf(6.8813735870195432, "b")
    x1w1 = _named(x1 * w1, "x1*w1")
    x2w2 = _named(x2 * w2, "x2*w2")
    n = _named(_named(x1w1 + x2w2, "x1*w1 + x2*w2") + b, "n")
    return _named(n.tanh(), "o"), {"show_local_grads": True, "show_shapes": False}


def _mlp():
    import nn  # noqa: PLC0415  (nn is optional for the rest of the gallery)
    from nn import functional as F  # noqa: PLC0415

    ad.manual_seed(7)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    x = _named(ad.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]]), "x")
    target = ad.tensor([2, 0], name="target")
    return _named(F.cross_entropy(model(x), target), "loss")


def fig_mlp():
    return _mlp(), {"precision": 3}


def fig_mlp_collapsed():
    return _mlp(), {"precision": 3, "collapse": 1}


@dataclass
class Figure:
    name: str
    title: str
    description: str
    build: object
    steps: bool = True
    steps_of: str | None = None  # another figure whose step page this one links
    backward_graph: bool = False  # draw the create_graph graph of the output instead


FIGURES = [
    Figure("a_two_layer", "(a) Two-layer sigmoid network",
           "x = (0, 1), t = 1, W1 = [[3, 4], [2, 3]], b1 = [-2, -4], W2 = [5, -5], b2 = -2; "
           "s = W1 x + b1, h = sigma(s), p = W2 . h + b2, y = sigma(p), E = (t - y)^2 / 2. "
           "Forward values and all gradients: y = 0.7426, dE/db1 = [-0.02584, 0.04838].",
           fig_two_layer),
    Figure("b_residual", "(b) The same network with a residual connection",
           "Hidden layer with input p = x: h = σ(s) + x, so dE/dh reaches x along the "
           "skip connection unchanged (x requires grad here, as an earlier layer's output "
           "would).", fig_residual),
    Figure("c_highway", "(c) Highway gate",
           "Hidden layer with input p = x (drawn as x): h = σ(x) σ(s) + (1 - σ(x)) x. The "
           "gate σ(x) is drawn once and used twice; its gradient is the sum over both uses.",
           fig_highway),
    Figure("d_batchnorm", "(d) Batch normalisation of a small batch",
           "X has 3 examples and 2 features; mean and var are taken over the batch, "
           "xhat = (X - mean) / sqrt(var + 1e-5), y = gamma xhat + beta, "
           "E = mean (y - target)^2. dE/dX flows through xhat directly and through the mean "
           "and var nodes.", fig_batchnorm),
    Figure("e_micrograd", "(e) A scalar expression, micrograd style",
           "o = tanh(x1 w1 + x2 w2 + b): every edge carries the op's local derivative, as a "
           "formula and as a number; the gradient at each node is the product along the path.",
           fig_micrograd),
    Figure("f_mlp", "(f) A small MLP with cross-entropy loss, module clusters",
           "nn.Sequential(Linear(3, 4), ReLU(), Linear(4, 3)) on a batch of 2, "
           "F.cross_entropy; every module call is a labelled cluster.", fig_mlp),
    Figure("f_mlp_collapsed", "(f) The same MLP with its layers collapsed",
           "draw_graph(loss, collapse=1): each layer is one box (ops and parameters inside "
           "counted); the tensors between layers keep their values and gradients.",
           fig_mlp_collapsed, steps=False, steps_of="f_mlp"),
    Figure("g_backward_graph", "(g) The backward graph of (e)",
           "viz.draw_backward_graph(o): the graph that create_graph=True records while "
           "differentiating the neuron, with the gradients do/dx1 ... do/db as its outputs and "
           "the seed do/do = 1 and the forward tensors as its inputs; differentiating it again "
           "gives second derivatives.", fig_micrograd, steps=False, steps_of="e_micrograd",
           backward_graph=True),
]


def figure_diagram(fig: Figure, renderer=None):
    """The figure's drawing as the gallery saves it: after backward, laid out for a 16:9
    slide, without a title (the gallery page shows it; on a slide, the slide's title)."""
    root, options = fig.build()
    if fig.backward_graph:
        options = {k: v for k, v in options.items() if k != "show_local_grads"}
        return draw_backward_graph(root, names=None, **options)
    root.backward()           # a plain backward: every gradient is kept for drawing
    return draw_graph(root, names=None, **options)


def _render_figure(fig: Figure, out: Path, formats, steps: bool, renderer):
    written = []
    if steps and fig.steps:
        root, options = fig.build()
        page = out / f"{fig.name}_steps.html"
        step_opts = {k: v for k, v in options.items() if k != "collapse"}
        backprop_steps(root, page, title=fig.title, renderer=renderer, **step_opts)
        written.append(page)
    return written + _save_all(figure_diagram(fig, renderer), fig, out, formats, renderer)


def _save_all(g, fig: Figure, out: Path, formats, renderer):
    gv = out / f"{fig.name}.gv"
    gv.write_text(g.source, encoding="utf-8")
    return [gv] + [Path(save(g, out / f"{fig.name}.{fmt}", renderer=renderer))
                   for fmt in formats]


def _plots_html(entries) -> str:
    """The plots section of index.html (viz.plots.gallery renders the files)."""
    items = []
    for title, caption, files in entries:
        names = [Path(f).name for f in files]
        links = " | ".join(f'<a href="{n}">{Path(n).suffix[1:].upper()}</a>' for n in names)
        image = next((n for n in names if n.endswith(".svg")), names[0])
        items.append(f'<section id="{Path(image).stem}">\n<h2>{html(title)}</h2>\n'
                     f'<p>{html(caption)}</p>\n<p class="links">{links}</p>\n'
                     f'<a href="{image}"><img src="{image}" alt="{html(title)}"></a>\n'
                     '</section>')
    return ("\n<h1 id=\"plots\">Plots</h1>\n<p>matplotlib figures drawn by "
            "<code>viz.plots</code>, each from a small seeded computation.</p>\n"
            + "\n".join(items)) if items else ""


def _index(figures, formats, steps: bool, plots=()) -> str:
    items = []
    stepped = {f.name for f in figures if f.steps}
    for fig in figures:
        links = [f'<a href="{fig.name}.{fmt}">{fmt.upper()}</a>' for fmt in formats]
        links.append(f'<a href="{fig.name}.gv">DOT</a>')
        target = fig.name if fig.steps else fig.steps_of
        if steps and target in stepped:
            links.append(f'<a href="{target}_steps.html">step through backprop</a>')
        image = f"{fig.name}.svg" if "svg" in formats else f"{fig.name}.{formats[0]}"
        items.append(
            f'<section id="{fig.name}">\n<h2>{html(fig.title)}</h2>\n'
            f'<p>{html(fig.description)}</p>\n<p class="links">{" | ".join(links)}</p>\n'
            f'<a href="{image}"><img src="{image}" alt="{html(fig.title)}"></a>\n</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Backprop diagram gallery</title>\n<style>\n"
            "body{font-family:Arial,Helvetica,sans-serif;max-width:1400px;margin:20px auto;"
            "padding:0 16px;color:#111827}\nsection{margin:28px 0;border-top:1px solid "
            "#e5e7eb}\nimg{max-width:100%;height:auto;border:1px solid #f3f4f6}\n"
            ".links a{margin-right:4px}\n</style>\n</head>\n<body>\n"
            "<h1>Backprop diagram gallery</h1>\n<p>Computation graphs with forward values and "
            "gradients, drawn by <code>viz.draw_graph</code>; each figure also has a page that "
            "steps through backprop (arrow keys). Regenerate with <code>python -m viz gallery "
            "--out DIR</code>.</p>\n" + "\n".join(items) + _plots_html(plots)
            + "\n</body>\n</html>\n")


def build_gallery(out, formats=("svg", "png"), steps=True, only=None, renderer=None):
    """Render the gallery into folder `out`; returns the paths written (index.html last).

    `formats`: image formats per figure ("svg", "png", "pdf" with a system Graphviz);
    `steps`: also write each figure's step-by-step page; `only`: names or letters
    (e.g. ["a", "e"]) to render a subset."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    formats = tuple(f.lower().lstrip(".") for f in formats)
    figures = FIGURES
    if only:
        wanted = set(only)
        figures = [f for f in FIGURES if f.name in wanted or f.name.split("_")[0] in wanted]
        if not figures:
            raise ValueError(f"gallery: no figure matches {sorted(wanted)}; the figures are "
                             f"{', '.join(f.name for f in FIGURES)}")
    plot_run = None
    if not only:  # the plots section (viz.plots, matplotlib) renders meanwhile, in workers
        from .plots.gallery import start_plots  # noqa: PLC0415

        plot_run = start_plots(out, [f for f in formats if f in ("svg", "png", "pdf")])
    written = []
    for fig in figures:
        written += _render_figure(fig, out, formats, steps, renderer)
    plots = plot_run.result() if plot_run else []
    written += [Path(f) for _, _, files in plots for f in files]
    index = out / "index.html"
    tmp = out / "index.html.tmp"
    tmp.write_text(_index(figures, formats, steps, plots), encoding="utf-8")
    os.replace(tmp, index)
    written.append(index)
    return [str(p) for p in written]
