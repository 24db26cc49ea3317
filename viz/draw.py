"""draw_graph and draw_backward_graph: the public drawing functions."""
from __future__ import annotations

import autodiff as ad

from .dot import Options, emit
from .graph import GraphModel
from .render import Diagram

__all__ = ["draw_graph", "draw_backward_graph", "to_diagram"]


def to_diagram(lines, name="autodiff") -> Diagram:
    """Wrap DOT body lines in a Diagram (a graphviz.Digraph) that renders to SVG by default."""
    return Diagram(name=name, body=lines, format="svg")


def draw_graph(root, *, show_values=True, show_grads=True, show_shapes=True,
               show_dtypes=False, show_local_grads=False, cluster_modules=True, collapse=None,
               rankdir="LR", precision=4, legend=True, names=None, title=None,
               max_exact=12) -> Diagram:
    """Draw the computation graph that produced `root` (a Tensor or a list of Tensors).

    Returns a `graphviz.Digraph` (a `viz.Diagram`): it displays inline in Jupyter, and
    `viz.save(g, "fig.svg")` or `g.render("fig", format="png")` writes it without a
    system Graphviz. Each tensor is one node, however often it is used, showing

      name   user-given (`t.name`, or `names={"W1": w1}`, or a module's parameter name),
             else t<i> with i its topological position (stable across runs)
      shape  (`show_shapes`), dtype (`show_dtypes`)
      data   all numbers when it has <= max_exact elements, else min / mean / max
      grad   its gradient (`show_grads`): `.grad`, or what `viz.record_grads()` recorded
             during backward for intermediates; "grad -" before backward

    rounded to `precision` decimal places. Ops are ellipses; with `show_local_grads` each
    input edge carries the op's local derivative formula and, for one-element outputs,
    its value. Inputs, parameters, constants, intermediates and outputs are coloured
    differently (`legend` explains them). Ops recorded inside `ad.scope(...)` (every
    nn.Module call) are grouped in labelled clusters (`cluster_modules`); `collapse`
    folds modules into one box each: a depth (0: the outermost modules) or a set of
    module labels / class names. `rankdir` is "LR" or "TB"; `title` labels the figure.
    """
    opts = Options(show_values=show_values, show_grads=show_grads, show_shapes=show_shapes,
                   show_dtypes=show_dtypes, show_local_grads=show_local_grads,
                   rankdir=rankdir, precision=precision, legend=legend, max_exact=max_exact,
                   title=title)
    model = GraphModel(root, names=names, cluster_modules=cluster_modules, collapse=collapse)
    return to_diagram(emit(model, opts))


def backward_graph_roots(root, inputs=None):
    """The gradient tensors d root / d input recorded with create_graph=True, named
    'd<root>/d<input>' (inputs default to every leaf of root's graph that requires grad)."""
    if not isinstance(root, ad.Tensor):
        raise TypeError(f"draw_backward_graph: expected a Tensor, got {type(root).__name__}")
    if root.numel() != 1:
        raise ValueError(f"draw_backward_graph: the output has shape {root.shape}; draw the "
                         "backward graph of a one-element output (reduce it first, e.g. "
                         ".sum())")
    model = GraphModel(root)
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
    roots, given = backward_graph_roots(root, inputs)
    extra = options.pop("names", None)
    if extra is not None:
        given += list(extra.named_parameters() if hasattr(extra, "named_parameters")
                      else extra.items())
    return draw_graph(roots, names=given, **options)
