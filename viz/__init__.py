"""viz: lecture-grade graphviz diagrams of autodiff computation graphs.

    import viz
    viz.draw_backward_graph(loss)     # the graph create_graph=True records
    viz.backprop_steps(loss, "steps.html")   # one page stepping through backprop
    loss.backward()
    g = viz.draw_graph(loss, show_local_grads=True)   # every gradient; a graphviz.Digraph
    viz.save(g, "fig.svg")            # .svg/.png always; .pdf with a system Graphviz

`python -m viz gallery --out DIR` renders the lecture gallery; `python -m viz render
FILE.py:FUNC --out fig.svg` draws what a function returns.
"""
from .draw import draw_backward_graph, draw_graph
from .measure import slide_text_size
from .record import record_grads
from .render import Diagram, RenderError, RendererNotFound, find_renderer, render_bytes, save
from .steps import StepPage, backprop_steps

__all__ = ["draw_graph", "draw_backward_graph", "backprop_steps", "record_grads", "save",
           "render_bytes", "find_renderer", "Diagram", "RenderError", "RendererNotFound",
           "StepPage", "slide_text_size"]


def __getattr__(name):
    # viz.plots (matplotlib) loads on first use, so the diagrams never need matplotlib
    if name == "plots":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".plots", __name__)
    if name in ("save_figure", "collect_layer_stats"):
        from . import plots  # noqa: PLC0415

        return getattr(plots, name)
    raise AttributeError(f"module 'viz' has no attribute {name!r}")
