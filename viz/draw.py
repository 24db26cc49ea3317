"""draw_graph and draw_backward_graph: the public drawing functions."""
from __future__ import annotations

from dataclasses import replace

import autodiff as ad

from .dot import Options, assemble, emit_elements
from .graph import GraphModel
from .layout import MAX_FIT_NODES, FitJob, apply_measured, measure_source, parse_fit
from .naming import Variables, caller_variables
from .render import Diagram, RenderError, RendererNotFound, layout_json

__all__ = ["draw_graph", "draw_backward_graph", "to_diagram", "render_lines", "resolve_names"]


def to_diagram(lines, name="autodiff", size=None) -> Diagram:
    """Wrap DOT body lines in a Diagram (a graphviz.Digraph) that renders to SVG by default.
    `size` (inches, (width, height)) scales the rendered drawing to exactly that box."""
    if size is not None:
        w, h = _parse_size(size)
        lines = list(lines[:1]) + [f'\tgraph [size="{w:g},{h:g}!" ratio=compress]\n'] + \
            list(lines[1:])
    return Diagram(name=name, body=lines, format="svg")


def _parse_size(size):
    if isinstance(size, str):
        parts = size.replace("x", ",").split(",")
    else:
        parts = list(size) if isinstance(size, (tuple, list)) else [None]
    try:
        w, h = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise ValueError(f"draw_graph: size={size!r}; give the drawing's (width, height) in "
                         "inches, e.g. (13.33, 7.5) for a 16:9 slide") from None
    if not (w > 0 and h > 0):
        raise ValueError(f"draw_graph: size={size!r} must be positive (inches)")
    return w, h


def resolve_names(names):
    """(explicit names, caller's variables): names="auto" takes the calling code's variable
    names; a {name: tensor} mapping (or module) wins over them for its tensors; None uses
    neither (t.name, parameter names, expressions and t<i> only)."""
    if names is None:
        return None, {}
    if isinstance(names, Variables):
        return None, dict(names)
    if isinstance(names, str):
        if names != "auto":
            raise ValueError(f"draw_graph: names={names!r}; use 'auto' (the caller's variable "
                             "names), None, a {name: tensor} dict or a module")
        return None, caller_variables()
    return names, caller_variables()


def _has_matrix(model, opts):
    return opts.show_values and any(t.ndim >= 2 and t.numel() <= opts.max_exact
                                    and t.numel() > t.shape[-1] for t in model.tensors)


def _fit(model, opts, aspect, frame, renderer):
    """(lines, plan, options, elements) of the best slide layout; matrices are tried both
    side by side and stacked, all candidates in one renderer run. lines and plan are None
    when no slide layout applies (too many nodes, no renderer); elements are then the ones
    to lay out with dot."""
    styles = ["side", "stacked"] if _has_matrix(model, opts) else [opts.matrix_style]
    variants = [replace(opts, matrix_style=st) for st in styles]
    elements = [emit_elements(model, o, frame) for o in variants]
    if not elements[0].nodes or len(elements[0].nodes) > MAX_FIT_NODES:
        return None, None, variants[0], elements[0]
    try:   # true node sizes first: the rows are cut by width
        for el, doc in zip(elements, layout_json([measure_source(el) for el in elements],
                                                 renderer)):
            apply_measured(el, doc)
        jobs = [FitJob(el, aspect) for el in elements]
        sources = [src for job in jobs for src in job.sources]
        docs = layout_json(sources, renderer)
    except (RenderError, RendererNotFound, ValueError, KeyError):
        return None, None, variants[0], elements[0]
    best, k = (None, None, variants[0], elements[0], -1.0), 0
    for job, o, el in zip(jobs, variants, elements):
        lines, plan = job.finish(docs[k:k + len(job.sources)])
        k += len(job.sources)
        if lines is not None and job.score > best[4]:
            best = (lines, plan, o, el, job.score)
    return best[:4]


def render_lines(model, opts, fit, frame=None, renderer=None):
    """DOT body lines: laid out for a slide of shape `fit` when it applies, else for dot."""
    aspect = parse_fit(fit)
    if aspect is None:
        return assemble(emit_elements(model, opts, frame))
    lines, _, _, elements = _fit(model, opts, aspect, frame, renderer)
    return lines if lines is not None else assemble(elements)


def frame_lines(model, opts, fit, frames, renderer=None):
    """DOT body lines for each of several frames of one graph (a step page): the last
    frame chooses the slide layout, every frame keeps its rows, and all frames are laid
    out in one renderer run."""
    aspect = parse_fit(fit)
    if aspect is None or not frames:
        return [assemble(emit_elements(model, opts, f)) for f in frames]
    _, plan, opts, _ = _fit(model, opts, aspect, frames[-1], renderer)
    elements = [emit_elements(model, opts, f) for f in frames]
    if plan is None:
        return [assemble(el) for el in elements]
    jobs = [FitJob(el, aspect, plan) for el in elements]
    sources = [src for job in jobs for src in job.sources]
    try:
        docs = layout_json(sources, renderer)
    except (RenderError, RendererNotFound, ValueError, KeyError):
        return [assemble(el) for el in elements]
    out, k = [], 0
    for job, el in zip(jobs, elements):
        lines, _ = job.finish(docs[k:k + len(job.sources)])
        k += len(job.sources)
        out.append(lines if lines is not None else assemble(el))
    return out


def draw_graph(root, *, show_values=True, show_grads=True, show_shapes="auto",
               show_dtypes=False, show_local_grads=False, cluster_modules=True, collapse=None,
               rankdir=None, precision=4, legend=True, names="auto", title=None,
               max_exact=12, fit="16:9", font_scale=1.0, size=None) -> Diagram:
    """Draw the computation graph that produced `root` (a Tensor or a list of Tensors).

    Returns a `graphviz.Digraph` (a `viz.Diagram`): it displays inline in Jupyter, and
    `viz.save(g, "fig.svg")` or `g.render("fig", format="png")` writes it without a
    system Graphviz. Each tensor is one node, however often it is used, showing

      name   `names={"W1": w1}`, else `t.name`, else (names="auto") the variable holding
             it in the calling code, a module's parameter name, a short expression of its
             op (`W1@x`, `t-y`), else t<i> with i its topological position (stable)
      value  `name = [0.8808, 0.2689]`: all numbers when it has <= max_exact elements
             (a matrix row per line), else `min a  mean b  max c`
      grad   its gradient (`show_grads`); "grad ?" with a legend note where unknown
      shape  where the numbers do not show it (show_shapes="auto"), always (True) or
             never (False); dtype with `show_dtypes`

    with `precision` significant digits (scientific below 1e-3). Ops are circles/ellipses;
    an op whose operand order matters shows it ("W1 @ x", or roles on the edges), and its
    operands run top to bottom in the code's order. With `show_local_grads` each edge into
    an op carries its local derivative in the drawing's names and, for one-element
    outputs, its value ("d(x1*w1)/dx1 = w1 = -3"). Kinds are coloured (`legend`). Ops
    recorded inside `ad.scope(...)` (every nn.Module call) are grouped in labelled clusters
    (`cluster_modules`); `collapse` folds modules into one box each: a depth (0: the
    outermost modules) or a set of module labels / class names.

    Layout: `fit="16:9"` (default) or `"4:3"` lays the graph out to fill a slide of that
    shape: left-to-right rows (long chains wrap) or one top-down layout, whichever shows
    the text largest; `rankdir="LR"` or `"TB"` restricts it to that direction. Graphs of
    more than 80 drawn nodes, and fit=None, get dot's single layout (`rankdir`, default
    "LR"). `font_scale` multiplies
    every font size (1: 14 pt node text) while the gaps stay, so text takes a larger share
    of the drawing; `size=(w, h)` in inches scales the rendered drawing to that box.
    `title` labels the figure.
    """
    opts = Options(show_values=show_values, show_grads=show_grads, show_shapes=show_shapes,
                   show_dtypes=show_dtypes, show_local_grads=show_local_grads,
                   rankdir=rankdir, precision=precision, legend=legend, max_exact=max_exact,
                   title=title, font_scale=font_scale)
    parse_fit(fit)
    if size is not None:
        _parse_size(size)
    explicit, variables = resolve_names(names)
    model = GraphModel(root, names=explicit, cluster_modules=cluster_modules,
                       collapse=collapse, variables=variables)
    return to_diagram(render_lines(model, opts, fit), size=size)


def backward_graph_roots(root, inputs=None, variables=None):
    """The gradient tensors d root / d input recorded with create_graph=True, named
    'd<root>/d<input>' (inputs default to every leaf of root's graph that requires grad)."""
    if not isinstance(root, ad.Tensor):
        raise TypeError(f"draw_backward_graph: expected a Tensor, got {type(root).__name__}")
    if root.numel() != 1:
        raise ValueError(f"draw_backward_graph: the output has shape {root.shape}; draw the "
                         "backward graph of a one-element output (reduce it first, e.g. "
                         ".sum())")
    model = GraphModel(root, variables=variables)
    if inputs is None:
        inputs = [t for t in model.tensors if t.is_leaf and t.requires_grad]
    elif isinstance(inputs, ad.Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("draw_backward_graph: the graph has no leaf that requires grad, so "
                         "there is no gradient to draw")
    names = {id(t): n for t, n in zip(model.tensors, model.name)}
    root_name = names.get(id(root), "out")
    # an explicit, named seed: it appears in the drawing as d<root>/d<root> = 1
    seed = ad.ones_like(root.detach())
    seed.name = f"d{root_name}/d{root_name}"
    try:
        grads = ad.grad(root, inputs, grad_outputs=seed, retain_graph=True, create_graph=True,
                        allow_unused=True)
    except RuntimeError as exc:
        raise RuntimeError(f"draw_backward_graph: {exc}. Draw the backward graph before "
                           "calling backward() (or call backward with retain_graph=True)") \
            from exc
    out = []
    for x, g in zip(inputs, grads):
        if g is None:
            continue
        g.name = f"d{root_name}/d{names.get(id(x), 'x')}"
        out.append(g)
    # keep the forward drawing's given names (not the positional t<i>, which would shift)
    given = [(n, t) for i, (t, n) in enumerate(zip(model.tensors, model.name)) if n != f"t{i}"]
    return out, given


def draw_backward_graph(root, inputs=None, **options) -> Diagram:
    """Draw the graph of the gradient computation itself: what `create_graph=True` records
    when differentiating `root` w.r.t. `inputs` (default: every leaf that requires grad).

    Its outputs are the gradients d root / d input (named so); the forward tensors the
    backward rules reuse appear as its inputs. Takes draw_graph's options (gradients of
    the gradients are not computed, so show_grads defaults to False)."""
    options.setdefault("show_grads", False)
    extra, variables = resolve_names(options.pop("names", "auto"))
    roots, given = backward_graph_roots(root, inputs, variables)
    if extra is not None:
        given += list(extra.named_parameters() if hasattr(extra, "named_parameters")
                      else extra.items())
    return draw_graph(roots, names=given, **options)
