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

from ._format import array_lines, html, to_numpy
from .dot import Frame, Options, derivative_parts, emit
from .draw import to_diagram
from .graph import GraphModel
from .record import record_grads, recorded_step
from .render import render_bytes

__all__ = ["backprop_steps", "collect_steps", "page"]


def _leaf_targets(model):
    return [t for t in model.tensors if t.is_leaf and t.requires_grad]


def collect_steps(model: GraphModel, root):
    """The backward steps for `root`, in processing order: [(tensor index, grad, node,
    gradient passed to each input)]. Runs a fresh non-accumulating pass (ad.grad with
    retain_graph) when the graph is still there, else uses a `viz.record_grads` recording."""
    if not root.requires_grad:
        raise RuntimeError("backprop_steps: the output does not require grad (no input of the "
                           "computation has requires_grad=True), so there is no backprop to show")
    if root.numel() != 1:
        raise ValueError(f"backprop_steps: the output has shape {root.shape}; step through the "
                         "backprop of a one-element output (reduce it first, e.g. .sum())")
    index = model.index
    leaves = _leaf_targets(model)
    rec = record_grads()
    try:
        with rec:
            ad.grad(root, leaves, retain_graph=True, allow_unused=True)
        steps = [s for s in rec.steps if s.node is not None and id(s.tensor) in index]
    except RuntimeError as exc:
        if "second time" not in str(exc) and "freed" not in str(exc):
            raise
        found = [(i, recorded_step(t)) for i, t in enumerate(model.tensors)
                 if t.grad_fn is not None]
        if any(s is None for _, s in found):
            raise RuntimeError(
                "backprop_steps: backward() already freed this graph, and it was not run "
                "inside `with viz.record_grads():`. Call backprop_steps before backward(), "
                "or run backward with retain_graph=True or inside viz.record_grads()") from exc
        return [(i, s.grad, s.node, s.input_grads) for i, s in sorted(found, reverse=True,
                                                                       key=lambda e: e[0])]
    return [(index[id(s.tensor)], s.grad, s.node, s.input_grads) for s in steps]


def _text(arr, opts):
    return " ".join(array_lines(arr, opts.precision, opts.max_exact))


def frames(model: GraphModel, root, opts: Options):
    """[(Frame, caption)] for every step of backprop of `root`."""
    steps = collect_steps(model, root)
    n = len(model.tensors)
    r = model.index[id(root)]
    names = model.name
    root_name = names[r]
    seed = np.ones(root.shape, dtype=to_numpy(root.data).dtype)
    # a tensor's gradient is complete once every op that consumes it has been processed
    waiting = [set(c for c in model.consumers[j] if model.nodes[c] is not None)
               for j in range(n)]
    grads = {r: (seed, True)}
    out = [(Frame(grads=dict(grads)),
            f"Forward pass done: every value is computed. Backprop starts at the output "
            f"with d{root_name}/d{root_name} = 1 and visits the ops in reverse topological "
            f"order.")]
    for k, (i, g, node, passed) in enumerate(steps, 1):
        grads[i] = (g, True)
        notes = {}
        receiving = set()
        parts = derivative_parts(node)
        pieces = []
        for pos, entry in enumerate(model.inputs[i]):
            if entry is None or entry[0] != "t":
                continue
            j = entry[1]
            gi = passed[pos] if pos < len(passed) else None
            if gi is None:
                continue
            prev = grads.get(j)
            total = gi if prev is None else prev[0] + gi
            waiting[j].discard(i)
            complete = not waiting[j]
            grads[j] = (total, complete)
            receiving.add(j)
            notes[(i, pos)] = "passes " + _text(gi, opts)
            local = f" (local derivative {parts[pos]})" if parts[pos] else ""
            pieces.append(f"{names[j]} receives {_text(gi, opts)}{local}")
        args = ", ".join(names[e[1]] if e is not None and e[0] == "t" else
                         (_text(e[1], opts) if e is not None else "...")
                         for e in model.inputs[i])
        caption = (f"Step {k} of {len(steps)}: {names[i]} = {node.name}({args}). Its gradient "
                   f"is complete: d{root_name}/d{names[i]} = {_text(g, opts)}. Chain rule, "
                   "gradient times local derivative: " +
                   ("; ".join(pieces) if pieces else "no input needs a gradient") + ".")
        out.append((Frame(grads=dict(grads), focus=i, notes=notes,
                          receiving=frozenset(receiving)), caption))
    final = {j: (v[0], True) for j, v in grads.items()}
    out.append((Frame(grads=final),
                f"Done: every gradient d{root_name}/d(.) is complete; the leaves' gradients "
                "are what backward() accumulates into .grad."))
    return out


_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


_ID = re.compile(r'(<[^>]*?\s)id="')


def _inline_svg(svg: bytes, prefix: str) -> str:
    """The <svg> element without its XML prolog, its ids prefixed so that the frames of one
    page do not share ids."""
    text = _PROLOG.sub("", svg.decode("utf-8"), count=1)
    return _ID.sub(lambda m: f'{m.group(1)}id="{prefix}', text)


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#111827;background:#fff}
header{position:sticky;top:0;background:#f9fafb;border-bottom:1px solid #e5e7eb;padding:8px 16px}
h1{font-size:18px;margin:0 0 6px 0}
.controls button{font-size:15px;padding:4px 12px;margin-right:4px;cursor:pointer}
#counter{display:inline-block;min-width:70px;text-align:center;font-variant-numeric:tabular-nums}
.hint{color:#6b7280;font-size:12px;margin-left:10px}
.frame{padding:8px 16px}
.frame p.caption{font-size:15px;max-width:1100px;line-height:1.4}
.frame svg{max-width:100%;height:auto}
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
    counter.textContent = (i + 1) + ' / ' + frames.length;
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
    """The HTML text: controls, one <section class="frame"> per SVG, inline CSS and JS."""
    n = len(svgs)
    sections = []
    for k, (svg, caption) in enumerate(zip(svgs, captions)):
        hidden = "" if k == 0 else " hidden"
        sections.append(f'<section class="frame" id="frame-{k}"{hidden}>\n'
                        f'<p class="caption">{html(caption)}</p>\n{svg}\n</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            "<body data-step=\"0\">\n<header>\n"
            f"<h1>{html(title)}</h1>\n<div class=\"controls\">"
            "<button id=\"first\" title=\"first (Home)\">first</button>"
            "<button id=\"prev\" title=\"previous (left arrow)\">&larr; back</button>"
            f"<span id=\"counter\">1 / {n}</span>"
            "<button id=\"next\" title=\"next (right arrow)\">next &rarr;</button>"
            "<button id=\"last\" title=\"last (End)\">last</button>"
            "<span class=\"hint\">arrow keys step through backprop; "
            "<b style=\"color:#dc2626\">red</b>: the op being processed and its output, "
            "<b style=\"color:#ea580c\">orange</b>: inputs receiving gradient</span></div>\n"
            "</header>\n<main>\n" + "\n".join(sections) + "\n</main>\n"
            f"<script>{_JS}</script>\n</body>\n</html>\n")


def backprop_steps(root, path=None, *, title=None, max_frames=300, renderer=None, **options):
    """Write a self-contained HTML page that steps through backprop of `root` to `path`
    (returns the path; with path=None returns the HTML text).

    One frame per op in reverse topological order, with buttons and arrow keys (Left/Right,
    Home/End). Each frame highlights the tensor whose gradient is complete and its op,
    labels every input edge with the local derivative and the gradient passed to that
    input, and shows the gradients accumulated so far. Takes draw_graph's display options
    (show_values, show_shapes, show_dtypes, show_local_grads, cluster_modules, rankdir,
    precision, legend, names, max_exact); modules are not collapsed here. Does not change
    any `.grad` (it runs its own non-accumulating pass) unless the graph was already freed,
    in which case it replays a `viz.record_grads()` recording.
    """
    if not isinstance(root, ad.Tensor):
        raise TypeError(f"backprop_steps: expected a Tensor, got {type(root).__name__}")
    if "collapse" in options:
        raise TypeError("backprop_steps: collapse is not supported (each step shows one op); "
                        "draw the collapsed graph with draw_graph")
    names = options.pop("names", None)
    cluster_modules = options.pop("cluster_modules", True)
    options.pop("show_grads", None)
    opts = Options(title=None, **options)
    model = GraphModel(root, names=names, cluster_modules=cluster_modules)
    todo = frames(model, root, opts)
    if len(todo) > max_frames:
        raise ValueError(f"backprop_steps: {len(todo)} frames (one per op) is more than "
                         f"max_frames={max_frames}; draw a smaller graph, or raise max_frames")
    svgs, captions = [], []
    for k, (frame, caption) in enumerate(todo):
        source = to_diagram(emit(model, opts, frame)).source
        svgs.append(_inline_svg(render_bytes(source, "svg", renderer), f"f{k}_"))
        captions.append(caption)
    text = page(title or f"Backprop through {model.name[model.index[id(root)]]}", svgs,
                captions)
    if path is None:
        return text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return str(path)
