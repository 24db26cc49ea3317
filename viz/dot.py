"""DOT text from a GraphModel: labels with values and gradients, styles by kind, clusters,
local derivatives on edges, legend. Plain string building (fast, and stable line order)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import autodiff as ad

from ._format import array_lines, html, quoted, reduce_to_shape, shape_text, to_numpy
from .graph import KINDS, GraphModel
from .record import recorded_grad, recorded_step

__all__ = ["Options", "Frame", "emit", "STYLE", "LEGEND_TEXT"]

#: fill colour, border colour, border width per kind (colour-blind-safe pastel fills).
STYLE = {
    "input": ("#dbeafe", "#1d4ed8", 1),
    "parameter": ("#fef3c7", "#b45309", 1),
    "constant": ("#f3f4f6", "#6b7280", 1),
    "intermediate": ("#ffffff", "#374151", 1),
    "output": ("#dcfce7", "#15803d", 2),
    "op": ("#ede9fe", "#6d28d9", 1),
    "module": ("#e0e7ff", "#3730a3", 1),
}
LEGEND_TEXT = {
    "input": "input (leaf, no grad)",
    "parameter": "parameter (leaf, requires grad)",
    "constant": "constant",
    "intermediate": "intermediate",
    "output": "output",
    "op": "op",
    "module": "module (collapsed)",
}
CLUSTER_FILLS = ("#f8fafc", "#f1f5f9", "#e2e8f0", "#cbd5e1")
HIGHLIGHT = "#dc2626"
RECEIVING = "#ea580c"
# Short symbols for the arithmetic ops (the rest show their op name).
OP_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "neg": "-x",
              "matmul": "@"}

_SPLIT = re.compile(r",\s+(?=d[\s(/])")


@dataclass
class Options:
    """What draw_graph shows (see its docstring)."""
    show_values: bool = True
    show_grads: bool = True
    show_shapes: bool = True
    show_dtypes: bool = False
    show_local_grads: bool = False
    rankdir: str = "LR"
    precision: int = 4
    legend: bool = True
    max_exact: int = 12
    title: str | None = None

    def __post_init__(self):
        if self.rankdir not in ("LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_graph: rankdir={self.rankdir!r}; use 'LR' (left to "
                             "right), 'TB' (top to bottom), 'RL' or 'BT'")
        if not isinstance(self.precision, int) or not 0 <= self.precision <= 15:
            raise ValueError(f"draw_graph: precision={self.precision!r} must be an int "
                             "from 0 to 15 (decimal places shown)")


@dataclass
class Frame:
    """Per-emission overrides used by the step-by-step pages.

    grads: tensor index -> (array, complete) replaces the tensors' own gradients;
    focus: index of the tensor whose backward step is shown; notes: (op index, input
    position) -> extra edge text; receiving: indices whose gradient just grew."""
    grads: dict = field(default_factory=dict)
    focus: int | None = None
    notes: dict = field(default_factory=dict)
    receiving: frozenset = frozenset()


def derivative_parts(node) -> list[str | None]:
    """The local-derivative formula for each input of `node` (None where unknown).

    Op formulas read like "d(a*b)/da = b, d(a*b)/db = a": one part per input when the
    counts match (or match the floating-point tensor inputs); a single formula applies to
    every input."""
    formula = getattr(node, "derivative", "") or ""
    inputs = node.inputs
    if not formula:
        return [None] * len(inputs)
    parts = _SPLIT.split(formula)
    if len(parts) == len(inputs):
        return parts
    if len(parts) == 1:
        return [formula] * len(inputs)
    floats = [k for k, inp in enumerate(inputs)
              if isinstance(inp, ad.Tensor) and inp.dtype.kind == "f"]
    if len(parts) == len(floats):
        out = [None] * len(inputs)
        for k, p in zip(floats, parts):
            out[k] = p
        return out
    return [formula] * len(inputs)


def local_derivatives(node, out_tensor):
    """d out / d input_k as arrays, for a one-element output (None where not available).

    Runs the op's own backward rule with a unit seed while its saved values still exist;
    after a recorded backward, falls back to (gradient passed) / (gradient received)."""
    k = len(node.inputs)
    if out_tensor.numel() != 1:
        return [None] * k
    if node.saved is not None:  # None once backward freed the saved values
        try:
            xp = ad.array_module(out_tensor.data)
            seed = xp.ones(out_tensor.shape, dtype=out_tensor.dtype)
            with ad.no_grad():
                got = type(node).backward(node, seed)
            if not isinstance(got, (tuple, list)):
                got = (got,)
            out = []
            for inp, g in zip(node.inputs, got):
                if g is None or not isinstance(inp, ad.Tensor):
                    out.append(None if g is None else to_numpy(g))
                else:
                    out.append(reduce_to_shape(to_numpy(g), inp.shape))
            return out + [None] * (k - len(out))
        except Exception:  # a rule that needs more than a unit seed: fall through
            pass
    step = recorded_step(out_tensor)
    if step is not None and step.node is node:
        g = float(np.asarray(step.grad).reshape(()))
        if g != 0:
            return [None if p is None else p / g for p in step.input_grads]
    return [None] * k


class _Emitter:
    def __init__(self, model: GraphModel, opts: Options, frame: Frame | None):
        self.m = model
        self.o = opts
        self.f = frame
        self.kinds_used = set()

    # ---------------------------------------------------------------- labels
    def grad_of(self, i):
        """(array or None, complete?) for tensor i."""
        if self.f is not None:
            return self.f.grads.get(i, (None, True))
        t = self.m.tensors[i]
        if t.grad is not None:
            return to_numpy(t.grad), True
        return recorded_grad(t), True

    def tensor_label(self, i):
        m, o = self.m, self.o
        t = m.tensors[i]
        kind = m.kind[i]
        fill, border, width = STYLE[kind]
        if self.f is not None and self.f.focus == i:
            border, width = HIGHLIGHT, 3
        elif self.f is not None and i in self.f.receiving:
            border, width = RECEIVING, 2
        head = f"<B>{html(m.name[i])}</B>"
        extra = []
        if o.show_shapes:
            extra.append(shape_text(t.shape))
        if o.show_dtypes:
            extra.append(str(t.dtype))
        if extra:
            head += "  " + html("  ".join(extra))
        rows = [head]
        p, mx = o.precision, o.max_exact
        if o.show_values:
            rows.append(_lines("data ", array_lines(t.data, p, mx)))
        if o.show_grads and t.requires_grad:
            g, complete = self.grad_of(i)
            if g is None:
                rows.append("grad -")
            else:
                tag = "grad " if complete else "grad so far "
                rows.append(_lines(tag, array_lines(g, p, mx)))
        body = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{r}</TD></TR>' for r in rows)
        return (f'<<TABLE BORDER="{width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" '
                f'BGCOLOR="{fill}" COLOR="{border}">{body}</TABLE>>')

    def op_label(self, i):
        name = self.m.nodes[i].name
        return OP_SYMBOLS.get(name, name)

    # ---------------------------------------------------------------- nodes and edges
    def run(self):
        """(node lines per cluster key, cluster scopes in first-use order, edge lines)."""
        m, o = self.m, self.o
        n = len(m.tensors)
        placed = {}      # cluster scope id (or None) -> list of node lines
        order = []       # cluster scopes in first-use order
        edges = []

        def put(scope, line):
            key = m.cluster_key(scope)
            k = None if key is None else id(key)
            if k not in placed:
                placed[k] = []
                order.append(key)
            placed[k].append(line)

        box_edges = set()
        drawn_boxes = set()
        local_formulas = o.show_local_grads
        for i in range(n):
            t = m.tensors[i]
            node = m.nodes[i]
            b = m.box[i]
            if b is not None:
                bid = f"m{m.scope_id[id(b)]}"
                if id(b) not in drawn_boxes:
                    drawn_boxes.add(id(b))
                    put(b.parent, self.box_line(b, bid))
                if node is not None:
                    for entry in m.inputs[i]:
                        if entry is None or entry[0] != "t":
                            continue
                        j = entry[1]
                        if m.box[j] is b:
                            continue
                        key = (f"t{j}", bid)
                        if key not in box_edges:
                            box_edges.add(key)
                            edges.append(f"\tt{j} -> {bid}")
                if m.visible[i]:
                    self.kinds_used.add(m.kind[i])
                    put(m.place[i], f"\tt{i} [label={self.tensor_label(i)}]")
                    edges.append(f"\t{bid} -> t{i}")
                continue
            if node is not None:
                parts = derivative_parts(node) if local_formulas else None
                values = local_derivatives(node, t) if local_formulas else None
                put(m.scope[i], self.op_line(i))
                self.kinds_used.add("op")
                for k, entry in enumerate(m.inputs[i]):
                    if entry is None:
                        continue
                    if entry[0] == "t":
                        src = f"t{entry[1]}"
                    else:
                        src = f"c{i}_{k}"
                        self.kinds_used.add("constant")
                        fill, border, _ = STYLE["constant"]
                        text = "\n".join(array_lines(entry[1], o.precision, o.max_exact))
                        put(m.scope[i], f"\t{src} [label={quoted(text)} "
                                        f"shape=box style=\"rounded,filled\" fillcolor=\"{fill}\" "
                                        f"color=\"{border}\" fontsize=9 height=0.25 width=0.3]")
                    edges.append(self.input_edge(src, i, k, parts if entry[0] == "t" else None,
                                                 values))
                focus = self.f is not None and self.f.focus == i
                edges.append(f"\to{i} -> t{i}" + (f" [color=\"{HIGHLIGHT}\" penwidth=2]"
                                                   if focus else ""))
            self.kinds_used.add(m.kind[i])
            put(m.place[i], f"\tt{i} [label={self.tensor_label(i)}]")
        return placed, order, edges

    def op_line(self, i):
        fill, border, width = STYLE["op"]
        if self.f is not None and self.f.focus == i:
            fill, border, width = "#fecaca", HIGHLIGHT, 3
        return (f"\to{i} [label={quoted(self.op_label(i))} shape=ellipse "
                f"style=filled fillcolor=\"{fill}\" color=\"{border}\" penwidth={width}]")

    def input_edge(self, src, i, k, parts, values):
        texts = []
        if parts is not None and parts[k]:
            texts.append(parts[k])
        if values is not None and values[k] is not None:
            val = array_lines(values[k], self.o.precision, self.o.max_exact)
            texts.append("= " + " ".join(val))
        attrs = []
        note = None if self.f is None else self.f.notes.get((i, k))
        if note:
            texts.append(note)
            attrs.append(f'color="{HIGHLIGHT}" fontcolor="{HIGHLIGHT}" penwidth=2 fontsize=11')
        if texts:
            attrs.insert(0, f"label={quoted(chr(10).join(texts))}")
        return f"\t{src} -> o{i}" + (f" [{' '.join(attrs)}]" if attrs else "")

    def box_line(self, b, bid):
        ops, params = self.m.box_stats.get(id(b), (0, 0))
        fill, border, _ = STYLE["module"]
        self.kinds_used.add("module")
        text = f"{b.label}\n{ops} op{'s' if ops != 1 else ''}" + \
            (f", {params} parameter{'s' if params != 1 else ''}" if params else "")
        return (f"\t{bid} [label={quoted(text)} shape=box3d style=filled "
                f"fillcolor=\"{fill}\" color=\"{border}\" fontsize=12]")

    # ---------------------------------------------------------------- whole text
    def assemble(self, placed, order, edges):
        m, o = self.m, self.o
        lines = [f"\tgraph [rankdir={o.rankdir} fontname=Arial fontsize=12 "
                 "nodesep=0.25 ranksep=0.35 newrank=true" +
                 (f" label={quoted(o.title)} labelloc=t fontsize=16" if o.title else "") + "]",
                 "\tnode [fontname=Arial fontsize=11 shape=plain]",
                 "\tedge [fontname=Arial fontsize=9 color=\"#4b5563\" arrowsize=0.7]"]
        if o.legend:
            lines += legend_lines(self.kinds_used)
        # cluster tree: emit each used scope inside its parent
        children = {}
        used = set()
        for key in order:
            s = key
            while s is not None:
                if id(s) in used:
                    break
                used.add(id(s))
                parent = s.parent    # keys are scopes only when cluster_modules is on
                children.setdefault(None if parent is None else id(parent), []).append(s)
                s = parent
        for k in children:
            children[k].sort(key=lambda s: m.scope_id[id(s)])

        def emit_scope(s, indent):
            sid = m.scope_id[id(s)]
            fill = CLUSTER_FILLS[min(s.depth, len(CLUSTER_FILLS) - 1)]
            out = [f"{indent}subgraph cluster_{sid} {{",
                   f"{indent}\tgraph [label={quoted(s.label)} style=\"rounded,filled\" "
                   f"fillcolor=\"{fill}\" color=\"#94a3b8\" fontsize=12 labeljust=l]"]
            out += [indent + line for line in placed.get(id(s), [])]
            for c in children.get(id(s), []):
                out += emit_scope(c, indent + "\t")
            out.append(f"{indent}}}")
            return out

        for s in children.get(None, []):
            lines += emit_scope(s, "\t")
        lines += placed.get(None, [])
        lines += edges
        return [line + "\n" for line in lines]


def _lines(tag, lines):
    body = '<BR ALIGN="LEFT"/>'.join(html(x) for x in lines)
    return html(tag) + body


def legend_lines(kinds_used) -> list[str]:
    out = ["\tsubgraph cluster_legend {",
           "\t\tgraph [label=\"legend\" style=\"rounded,dashed\" color=\"#94a3b8\" "
           "fontsize=10 labeljust=l]"]
    # dot stacks one rank's nodes bottom-up in LR layouts: list them in reverse
    for kind in reversed(KINDS):
        if kind not in kinds_used:
            continue
        fill, border, width = STYLE[kind]
        shape = {"op": "ellipse", "module": "box3d"}.get(kind, "box")
        out.append(f"\t\tlegend_{kind} [label={quoted(LEGEND_TEXT[kind])} shape={shape} "
                   f"style=filled fillcolor=\"{fill}\" color=\"{border}\" penwidth={width} "
                   "fontsize=9 height=0.3]")
    out.append("\t}")
    return out


def emit(model: GraphModel, opts: Options, frame: Frame | None = None) -> list[str]:
    """The body lines of the DOT digraph (each ending in a newline)."""
    e = _Emitter(model, opts, frame)
    return e.assemble(*e.run())
