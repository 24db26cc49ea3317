"""backprop_steps: one self-contained HTML page that steps through backpropagation.

Frame 0 is the forward pass with the seed gradient at the output; then one frame per op in
the order backward processes them (reverse topological order): the tensor whose gradient
is now complete and its op are outlined in red, each input edge shows the local derivative
and the gradient passed along it, and inputs that just received gradient are outlined in
orange ("grad so far" until all their consumers are done). The last frame shows every
gradient. SVG frames are inline and the script is inline: no network access is needed.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

import autodiff as ad

from ._format import array_lines, html, shape_text, to_numpy
from ._fonts import font_face_css
from .derivatives import d_name, derivative_parts, named_derivative
from .dot import Frame, Options
from .draw import frame_lines, resolve_names, to_diagram
from .graph import GraphModel
from .naming import FUNCTION_SYMBOLS, OP_SYMBOLS, operand, wrap
from .record import kept_step, record_grads
from .render import render_bytes, render_svgs

__all__ = ["backprop_steps", "collect_steps", "page", "StepPage", "export_frames", "frames"]


def _leaf_targets(model):
    return [t for t in model.tensors if t.is_leaf and t.requires_grad]


def collect_steps(model: GraphModel, root):
    """The backward steps for `root`, in processing order: [(tensor index, grad, node,
    gradient passed to each input)]. Runs a fresh non-accumulating pass (ad.grad with
    retain_graph) when the graph is still there, else uses what the last backward kept."""
    if not root.requires_grad:
        raise RuntimeError("backprop_steps: the output does not require grad (no input of the "
                           "computation has requires_grad=True), so there is no backprop to show")
    if root.numel() != 1:
        raise ValueError(f"backprop_steps: the output has shape {root.shape}; step through the "
                         "backprop of a one-element output (reduce it first, e.g. .sum())")
    index = model.index
    leaves = _leaf_targets(model)
    computed = [i for i, t in enumerate(model.tensors) if t.grad_fn is not None]
    if all(not model.nodes[i].released for i in computed):
        rec = record_grads()
        with rec:
            ad.grad(root, leaves, retain_graph=True, allow_unused=True)
        return [(index[id(s.tensor)], s.grad, s.node, s.input_grads) for s in rec.steps
                if s.node is not None and id(s.tensor) in index]
    # backward freed the graph: replay what it kept, in reverse topological order
    found = [(i, kept_step(model.tensors[i])) for i in computed]
    if any(s is None for _, s in found):
        raise RuntimeError(
            "backprop_steps: backward() already freed this graph and did not keep all its "
            "gradients (the pass went past its keep limit, ad.set_keep_grads_limit). Call "
            "backprop_steps before backward(), run backward with retain_graph=True, or "
            "inside `with ad.keep_grads():`")
    return [(i, s.grad, s.node, s.input_grads) for i, s in sorted(found, reverse=True,
                                                                   key=lambda e: e[0])]


def _text(arr, opts):
    return " ".join(array_lines(arr, opts.precision, opts.max_exact))


def expression(model: GraphModel, i, opts) -> str:
    """What tensor i is computed as, in the drawing's names: `W1 @ x`, `σ(s)`, `sum(W2*h)`,
    `(t-y)^2 / 2`."""
    node = model.nodes[i]
    args = [model.name[e[1]] if e is not None and e[0] == "t" else
            (_text(e[1], opts) if e is not None else "...") for e in model.inputs[i]]
    op = node.name
    if op in OP_SYMBOLS and len(args) == 2:
        sym = OP_SYMBOLS[op]
        return f"{operand(args[0], sym)} {sym} {operand(args[1], sym, right=True)}"
    if op == "neg" and len(args) == 1:
        return f"-{wrap(args[0])}"
    return f"{FUNCTION_SYMBOLS.get(op, op)}({', '.join(args)})"


def frames(model: GraphModel, root, opts: Options):
    """[(Frame, caption)] for every frame of the backprop of `root`: the forward pass, one
    per op in the order backward runs them, and the finished gradients. Captions number
    the frames as the page's counter does ("Step k of n")."""
    steps = collect_steps(model, root)
    n = len(model.tensors)
    r = model.index[id(root)]
    names = model.name
    root_name = names[r]
    total = len(steps) + 2
    seed = np.ones(root.shape, dtype=to_numpy(root.data).dtype)
    # a tensor's gradient is complete once every op that consumes it has been processed
    waiting = [set(c for c in model.consumers[j] if model.nodes[c] is not None)
               for j in range(n)]
    grads = {r: (seed, True)}
    out = [(Frame(grads=dict(grads)),
            f"Step 1 of {total}: forward pass done, every value is computed. Backprop "
            f"starts at the output with d{d_name(root_name)}/d{d_name(root_name)} = 1 and "
            "visits the ops in reverse topological order.")]
    for k, (i, g, node, passed) in enumerate(steps, 2):
        grads[i] = (g, True)
        notes = {}
        receiving = set()
        parts = derivative_parts(node)
        operand_names = [names[e[1]] if e[0] == "t" else _text(e[1], opts)
                         if e is not None else None for e in model.inputs[i]]
        pieces = []
        for pos, entry in enumerate(model.inputs[i]):
            if entry is None or entry[0] != "t":
                continue
            j = entry[1]
            gi = passed[pos] if pos < len(passed) else None
            # an input that does not require grad receives nothing, whatever the rule made
            if gi is None or not model.tensors[j].requires_grad:
                continue
            prev = grads.get(j)
            total_j = gi if prev is None else prev[0] + gi
            waiting[j].discard(i)
            complete = not waiting[j]
            grads[j] = (total_j, complete)
            receiving.add(j)
            passed_text = _text(gi, opts)   # the caption has it in full: keep edges short
            notes[(i, pos)] = "passes " + (passed_text if len(passed_text) <= 28 else
                                           f"a {shape_text(np.shape(gi))} gradient")
            formula = named_derivative(parts, pos, names[i], operand_names)
            local = f" (local derivative {formula})" if formula else ""
            pieces.append(f"{names[j]} receives {_text(gi, opts)}{local}")
        caption = (f"Step {k} of {total}: {names[i]} = {expression(model, i, opts)}. Its "
                   f"gradient is complete: d{d_name(root_name)}/d{d_name(names[i])} = "
                   f"{_text(g, opts)}. Chain rule, gradient times local derivative: " +
                   ("; ".join(pieces) if pieces else "no input needs a gradient") + ".")
        out.append((Frame(grads=dict(grads), focus=i, notes=notes,
                          receiving=frozenset(receiving)), caption))
    final = {j: (v[0], True) for j, v in grads.items()}
    out.append((Frame(grads=final),
                f"Step {total} of {total}: done, every gradient d{d_name(root_name)}/d(.) is "
                "complete; the leaves' gradients are what backward() accumulates into "
                ".grad."))
    return out


_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


_ID = re.compile(r'(<[^>]*?\s)id="')


def _inline_svg(svg: bytes, prefix: str) -> str:
    """The <svg> element without its XML prolog, its ids prefixed so that the frames of one
    page do not share ids."""
    text = _PROLOG.sub("", svg.decode("utf-8"), count=1)
    return _ID.sub(lambda m: f'{m.group(1)}id="{prefix}', text)


_CSS = """
html,body{height:100%}
body{font-family:viz-sans,Arimo,Arial,Helvetica,sans-serif;margin:0;color:#111827;
background:#fff;display:flex;flex-direction:column;overflow:hidden}
header{flex:none;background:#f9fafb;border-bottom:1px solid #e5e7eb;padding:6px 16px}
h1{font-size:20px;margin:0 0 4px 0}
.controls button{font-size:17px;padding:4px 14px;margin-right:4px;cursor:pointer}
#counter{display:inline-block;min-width:110px;text-align:center;font-size:17px;
font-variant-numeric:tabular-nums}
.hint{color:#4b5563;font-size:14px;margin-left:10px}
main{flex:1 1 auto;min-height:0;display:flex}
.frame{flex:1 1 auto;min-height:0;display:flex;flex-direction:column;padding:4px 16px}
.frame[hidden]{display:none}
.frame p.caption{flex:none;font-size:18px;line-height:1.35;margin:4px 0 6px 0;max-width:1400px}
.frame svg{flex:1 1 auto;min-height:0;width:100%;height:100%}
"""

_JS = """
(function () {
  var frames = document.querySelectorAll('section.frame');
  var counter = document.getElementById('counter');
  var cur = 0;
  function show(i) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) { frames[k].hidden = (k !== i); }
    cur = i;
    document.body.setAttribute('data-step', String(i));
    counter.textContent = 'step ' + (i + 1) + ' / ' + frames.length;
  }
  document.getElementById('first').onclick = function () { show(0); };
  document.getElementById('prev').onclick = function () { show(cur - 1); };
  document.getElementById('next').onclick = function () { show(cur + 1); };
  document.getElementById('last').onclick = function () { show(frames.length - 1); };
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') { show(cur + 1); }
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') { show(cur - 1); }
    else if (e.key === 'Home') { show(0); }
    else if (e.key === 'End') { show(frames.length - 1); }
    else { return; }
    e.preventDefault();
  });
  show(0);
  // '#selftest' presses ArrowRight once after loading (used by the headless browser test)
  if (window.location.hash === '#selftest') {
    document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
  }
})();
"""


def page(title: str, svgs, captions) -> str:
    """The HTML text: controls, one <section class="frame"> per SVG, inline CSS and JS, and
    the embedded font once (the SVGs share it)."""
    n = len(svgs)
    sections = []
    for k, (svg, caption) in enumerate(zip(svgs, captions)):
        hidden = "" if k == 0 else " hidden"
        sections.append(f'<section class="frame" id="frame-{k}"{hidden}>\n'
                        f'<p class="caption">{html(caption)}</p>\n{svg}\n</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html(title)}</title>\n<style>{font_face_css()}{_CSS}</style>\n"
            "</head>\n<body data-step=\"0\">\n<header>\n"
            f"<h1>{html(title)}</h1>\n<div class=\"controls\">"
            "<button id=\"first\" title=\"first (Home)\">first</button>"
            "<button id=\"prev\" title=\"previous (left arrow)\">&larr; back</button>"
            f"<span id=\"counter\">step 1 / {n}</span>"
            "<button id=\"next\" title=\"next (right arrow)\">next &rarr;</button>"
            "<button id=\"last\" title=\"last (End)\">last</button>"
            "<span class=\"hint\">arrow keys step through backprop; "
            "<b style=\"color:#dc2626\">red</b>: the op being processed and its output, "
            "<b style=\"color:#ea580c\">orange</b>: inputs receiving gradient</span></div>\n"
            "</header>\n<main>\n" + "\n".join(sections) + "\n</main>\n"
            f"<script>{_JS}</script>\n</body>\n</html>\n")


class StepPage(str):
    """The step-by-step page's HTML text (a str), which Jupyter displays inline (in an
    iframe, so its script and style stay inside) and `.save(path)` writes."""

    frames: tuple = ()       # (DOT source, caption) per frame
    title: str = ""

    def _repr_html_(self):
        return ('<iframe style="width:100%;height:720px;border:1px solid #e5e7eb" '
                f'srcdoc="{html(str(self))}"></iframe>')

    def save(self, path) -> str:
        """Write the page to `path` (atomically); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(str(self), encoding="utf-8")
        os.replace(tmp, path)
        return str(path)


def export_frames(sources, captions, folder, formats=("svg", "png"), renderer=None):
    """Write each frame as step_01.svg, step_01.png, ... (numbered like the page's counter)
    and captions.txt (one "step_01: caption" line per frame) into `folder`, for slide decks
    (PowerPoint, Keynote, Beamer). Returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(sources))))
    written = []
    for k, source in enumerate(sources, 1):
        for fmt in formats:
            fmt = fmt.lower().lstrip(".")
            target = folder / f"step_{k:0{width}d}.{fmt}"
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(render_bytes(source, fmt, renderer))
            os.replace(tmp, target)
            written.append(str(target))
    text = "".join(f"step_{k:0{width}d}: {c}\n" for k, c in enumerate(captions, 1))
    (folder / "captions.txt").write_text(text, encoding="utf-8")
    written.append(str(folder / "captions.txt"))
    return written


def backprop_steps(root, path=None, *, title=None, max_frames=300, renderer=None,
                   frames_dir=None, frame_formats=("svg", "png"), fit="16:9",
                   **options):
    """Step through backprop of `root`: a self-contained HTML page (returned as a
    `StepPage`, which Jupyter shows inline and `.save(path)` writes; with `path` it is
    written there and the path is returned).

    One frame per op in reverse topological order, numbered "Step k of n" like the page's
    counter, with buttons and arrow keys (Left/Right, Home/End); the drawing scales to the
    window. Each frame highlights the tensor whose gradient is complete and its op, labels
    every input edge with the gradient passed to it (never into an input that needs no
    gradient), and shows the gradients accumulated so far. `frames_dir` also writes every
    frame as numbered files (`frame_formats`, default SVG and PNG) plus captions.txt for
    slide decks. Takes draw_graph's display options (show_values, show_shapes,
    show_dtypes, show_local_grads, cluster_modules, rankdir, precision, legend, names,
    max_exact, font_scale, fit); modules are not collapsed here, and every frame keeps the
    rows of the last one. Does not change any `.grad`: it runs its own non-accumulating
    pass, or, after a backward that freed the graph, replays the gradients that backward
    kept.
    """
    if not isinstance(root, ad.Tensor):
        raise TypeError(f"backprop_steps: expected a Tensor, got {type(root).__name__}")
    if "collapse" in options:
        raise TypeError("backprop_steps: collapse is not supported (each step shows one op); "
                        "draw the collapsed graph with draw_graph")
    explicit, variables = resolve_names(options.pop("names", "auto"))
    cluster_modules = options.pop("cluster_modules", True)
    options.pop("show_grads", None)
    opts = Options(title=None, **options)
    model = GraphModel(root, names=explicit, cluster_modules=cluster_modules,
                       variables=variables)
    todo = frames(model, root, opts)
    if len(todo) > max_frames:
        raise ValueError(f"backprop_steps: {len(todo)} frames (one per op) is more than "
                         f"max_frames={max_frames}; draw a smaller graph, or raise max_frames")
    # the last frame (every gradient known) fixes the rows; the others reuse them
    sources = [to_diagram(lines).source for lines in
               frame_lines(model, opts, fit, [f for f, _ in todo], renderer)]
    captions = [c for _, c in todo]
    svgs = [_inline_svg(svg.encode("utf-8"), f"f{k}_")
            for k, svg in enumerate(render_svgs(sources, renderer, embed_font=False))]
    result = StepPage(page(title or f"Backprop through {model.name[model.index[id(root)]]}",
                           svgs, captions))
    result.frames = tuple(zip(sources, captions))
    result.title = title or ""
    if frames_dir is not None:
        export_frames(sources, captions, frames_dir, frame_formats, renderer)
    if path is None:
        return result
    return result.save(path)
