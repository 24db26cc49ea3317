"""Command line: `python -m viz gallery --out DIR` and `python -m viz render FILE.py:FUNC`."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import autodiff as ad

from .naming import locals_on_return

__all__ = ["main"]

_DESCRIPTION = """\
Lecture-grade diagrams of autodiff computation graphs.

  python -m viz gallery --out gallery
      render the lecture gallery (SVG + PNG + DOT per figure, a step-through-backprop
      page per figure, and index.html)
  python -m viz render model.py:make_loss --out fig.svg [options]
      draw the tensor that a function returns (.svg .png .pdf .dot, or .html for a
      step-by-step backprop page)
"""


def _parser():
    p = argparse.ArgumentParser(prog="python -m viz", description=_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{gallery,render}")

    g = sub.add_parser("gallery", help="render the lecture gallery into a folder",
                       description="Render the lecture gallery: (a) two-layer sigmoid network, "
                       "(b) residual, (c) highway, (d) batch normalisation, (e) micrograd-style "
                       "scalar expression with local derivatives, (f) MLP with cross-entropy, "
                       "module clusters expanded and collapsed, (g) the backward graph of (e). "
                       "Writes NAME.svg, NAME.png, "
                       "NAME.gv and NAME_steps.html per figure, and index.html.")
    g.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    g.add_argument("--formats", default="svg,png", metavar="LIST",
                   help="comma-separated image formats (default svg,png; pdf needs a system "
                   "Graphviz)")
    g.add_argument("--only", default=None, metavar="LIST",
                   help="comma-separated figure letters or names, e.g. a,e")
    g.add_argument("--no-steps", action="store_true", help="skip the step-by-step pages")
    g.add_argument("--renderer", default=None,
                   help="'dot', 'graphviz-pure' or a path (default: dot if installed, else "
                   "graphviz-pure; also $VIZ_RENDERER)")

    r = sub.add_parser("render", help="draw the tensor a Python function returns",
                       description="Import FILE.py, call FUNC() with no arguments and draw the "
                       "tensor (or list of tensors) it returns. A one-element output that "
                       "requires grad is backpropagated first (keeping every gradient, so "
                       "every node shows its gradient) unless --no-backward is given or its "
                       "leaves already have gradients.")
    r.add_argument("target", metavar="FILE.py:FUNC", help="the file and the function to call")
    r.add_argument("--out", required=True, metavar="PATH",
                   help="output file: .svg .png .pdf .dot/.gv, or .html for a step-by-step page")
    r.add_argument("--no-backward", action="store_true", help="draw without running backward")
    r.add_argument("--no-values", action="store_true", help="hide forward values")
    r.add_argument("--no-grads", action="store_true", help="hide gradients")
    r.add_argument("--no-shapes", action="store_true", help="hide shapes")
    r.add_argument("--dtypes", action="store_true", help="show dtypes")
    r.add_argument("--local-grads", action="store_true",
                   help="label edges with local derivatives (formula, and value for scalars)")
    r.add_argument("--no-clusters", action="store_true", help="do not group nodes by module")
    r.add_argument("--collapse", default=None, metavar="DEPTH|LABELS",
                   help="collapse modules into boxes: a depth (0 = outermost) or "
                   "comma-separated module labels / class names")
    r.add_argument("--backward-graph", action="store_true",
                   help="draw the graph that create_graph=True records instead")
    r.add_argument("--rankdir", default=None, choices=["LR", "TB", "RL", "BT"],
                   help="layout direction (default: rows left to right, or top-down, "
                   "whichever fits the slide best)")
    r.add_argument("--fit", default="16:9", metavar="W:H|none",
                   help="lay the graph out for a slide of this shape (default 16:9; 4:3; "
                   "'none' for dot's single layout)")
    r.add_argument("--font-scale", type=float, default=1.0,
                   help="multiply every font size (default 1: 14 pt node text)")
    r.add_argument("--precision", type=int, default=4,
                   help="significant digits (default 4)")
    r.add_argument("--no-legend", action="store_true", help="omit the legend")
    r.add_argument("--title", default=None, help="figure title")
    r.add_argument("--renderer", default=None, help="'dot', 'graphviz-pure' or a path")
    return p


def _load_function(target: str):
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise SystemExit(f"viz render: expected FILE.py:FUNC, got {target!r}")
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"viz render: no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_viz_user_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))  # so the file's own imports work
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise SystemExit(f"viz render: {path} has no function {func!r}")
    return fn


def _render(args):
    import viz  # noqa: PLC0415

    result, variables = locals_on_return(_load_function(args.target))
    roots = list(result) if isinstance(result, (list, tuple)) else [result]
    if not roots or not all(isinstance(t, ad.Tensor) for t in roots):
        raise SystemExit(f"viz render: {args.target} must return a Tensor or a list of "
                         f"Tensors, got {type(result).__name__}")
    collapse = args.collapse
    if collapse is not None:
        collapse = int(collapse) if collapse.isdigit() else set(collapse.split(","))
    fit = None if args.fit.lower() in ("none", "off", "") else args.fit
    options = dict(show_values=not args.no_values, show_shapes=not args.no_shapes,
                   show_dtypes=args.dtypes, show_local_grads=args.local_grads,
                   rankdir=args.rankdir, precision=args.precision, legend=not args.no_legend,
                   cluster_modules=not args.no_clusters, fit=fit,
                   names=variables,  # the function's own variable names (its frame is gone)
                   font_scale=args.font_scale)
    out = Path(args.out)
    root = roots[0] if len(roots) == 1 else roots
    single = len(roots) == 1 and roots[0].numel() == 1 and roots[0].requires_grad
    if out.suffix.lower() in (".html", ".htm"):
        if not single:
            raise SystemExit("viz render: a step-by-step page needs one one-element output "
                             "that requires grad")
        viz.backprop_steps(roots[0], out, title=args.title, renderer=args.renderer, **options)
        print(out)
        return
    if args.backward_graph:
        g = viz.draw_backward_graph(roots[0], title=args.title, collapse=collapse, **options)
    else:
        leaves_done = any(t.grad is not None for t in ad.topological_order(roots)
                          if t.is_leaf and t.requires_grad)
        if single and not args.no_backward and not leaves_done:
            with ad.keep_grads():     # every gradient, however large the graph
                roots[0].backward(retain_graph=True)
        g = viz.draw_graph(root, show_grads=not args.no_grads, collapse=collapse,
                           title=args.title, **options)
    print(viz.save(g, out, renderer=args.renderer))


def _gallery(args):
    from .gallery import build_gallery  # noqa: PLC0415

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    only = [o.strip() for o in args.only.split(",")] if args.only else None
    written = build_gallery(args.out, formats=formats, steps=not args.no_steps, only=only,
                            renderer=args.renderer)
    print(f"wrote {len(written)} files to {args.out}; open {written[-1]}")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .render import RenderError, RendererNotFound  # noqa: PLC0415
    try:
        (_gallery if args.command == "gallery" else _render)(args)
    except (RenderError, RendererNotFound, ValueError, TypeError, RuntimeError) as exc:
        print(f"viz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
