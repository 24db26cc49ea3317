"""DOT text from a GraphModel: labels with values and gradients, styles by kind, clusters,
local derivatives on edges, legend. Plain string building (fast, and stable line order).

The emitter first makes `Elements` (node and edge attribute strings, where each node sits
in the module cluster tree, the legend); `assemble` turns them into one DOT graph that dot
lays out, and viz.layout can instead lay them out for a slide (fit=)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ._fonts import LAYOUT_FONT
from ._format import array_lines, html, number, quoted, shape_text, to_numpy
from .derivatives import derivative_parts, local_derivatives, named_derivative
from .graph import KINDS, GraphModel
from .naming import FUNCTION_SYMBOLS, NON_COMMUTATIVE, OP_SYMBOLS, operand
from .record import kept_grad, kept_step, missing_grad_note

__all__ = ["Options", "Frame", "Elements", "emit_elements", "assemble", "STYLE",
           "LEGEND_TEXT", "derivative_parts", "local_derivatives"]

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
    "input": "input (no grad)",
    "parameter": "parameter (grad)",
    "constant": "constant",
    "intermediate": "intermediate",
    "output": "output",
    "op": "op",
    "module": "module (collapsed)",
}
CLUSTER_FILLS = ("#f8fafc", "#f1f5f9", "#e2e8f0", "#cbd5e1")
HIGHLIGHT = "#dc2626"
RECEIVING = "#ea580c"
EDGE_COLOUR = "#4b5563"
#: Longest op label written as a formula of its operands ("W1 @ x"); longer ones show the
#: op's symbol and name each operand's role on its edge.
MAX_FORMULA = 12

# Font sizes (points) at font_scale=1: node text is the reference the slide test measures.
NODE_PT, EDGE_PT, SMALL_PT, CLUSTER_PT, TITLE_PT = 14.0, 12.0, 11.0, 13.0, 18.0


@dataclass
class Options:
    """What draw_graph shows (see its docstring)."""
    show_values: bool = True
    show_grads: bool = True
    show_shapes: bool | str = "auto"   # "auto": where the numbers do not show the shape
    show_dtypes: bool = False
    show_local_grads: bool = False
    rankdir: str | None = None      # None: LR, or whichever direction fit= chooses
    precision: int = 4
    legend: bool = True
    max_exact: int = 12
    title: str | None = None
    font_scale: float = 1.0
    #: how a matrix shows: "side" (value and gradient side by side) or "stacked" (one
    #: above the other); fit= tries both and keeps the one that shows text larger
    matrix_style: str = "side"

    def __post_init__(self):
        if self.rankdir not in (None, "LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_graph: rankdir={self.rankdir!r}; use 'LR' (left to "
                             "right), 'TB' (top to bottom), 'RL' or 'BT'")
        if isinstance(self.precision, bool) or not isinstance(self.precision, int) or \
                not 1 <= self.precision <= 15:
            raise ValueError(f"draw_graph: precision={self.precision!r} must be an int "
                             "from 1 to 15 (significant digits shown)")
        if isinstance(self.font_scale, bool) or not isinstance(self.font_scale, (int, float)) \
                or not 0.25 <= self.font_scale <= 8:
            raise ValueError(f"draw_graph: font_scale={self.font_scale!r} must be a number "
                             "from 0.25 to 8 (1 = 14 pt node text)")

    def pt(self, base):
        """A font size scaled by font_scale, as DOT text."""
        return f"{base * self.font_scale:.4g}"


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
    missing_note: str = "grad ?: backprop has not reached it yet"


@dataclass
class Elements:
    """What one drawing holds, before it is laid out.

    nodes: {id: attribute text} in emission order; place: {id: cluster scope or None};
    edges: [(tail, head, attribute text)]; size: {id: (width, height)} estimated in points
    (for choosing where to wrap); legend: legend node lines; graph/node/edge: the default
    attribute lines."""
    nodes: dict = field(default_factory=dict)
    place: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    size: dict = field(default_factory=dict)
    legend: list = field(default_factory=list)
    defaults: list = field(default_factory=list)
    model: GraphModel | None = None
    opts: Options | None = None


def _text_width(text, pt):
    """A rough width in points of `text` in Arial at `pt` (0.55 em per character)."""
    return 0.55 * pt * len(text)


class _Emitter:
    def __init__(self, model: GraphModel, opts: Options, frame: Frame | None):
        self.m = model
        self.o = opts
        self.f = frame
        self.kinds_used = set()
        self.missing_grads = 0

    # ---------------------------------------------------------------- labels
    def grad_of(self, i):
        """(array or None, complete?) for tensor i."""
        if self.f is not None:
            return self.f.grads.get(i, (None, True))
        return kept_grad(self.m.tensors[i]), True

    def tensor_label(self, i):
        """(HTML-like label, estimated (width, height) in points).

        Two rows, so that a slide holds more: `name = value` and `grad value`; a matrix's
        rows line up in a second column. The shape shows where the numbers do not show it
        (a min/mean/max summary, hidden values) or with show_shapes=True."""
        m, o = self.m, self.o
        t = m.tensors[i]
        kind = m.kind[i]
        fill, border, width = STYLE[kind]
        if self.f is not None and self.f.focus == i:
            border, width = HIGHLIGHT, 3
        elif self.f is not None and i in self.f.receiving:
            border, width = RECEIVING, 2
        p, mx = o.precision, o.max_exact
        values = array_lines(t.data, p, mx) if o.show_values else None
        exact = values is not None and t.numel() <= mx
        extra = []
        if t.ndim and (o.show_shapes is True or o.show_shapes == "auto" and not exact):
            extra.append(shape_text(t.shape))
        if o.show_dtypes:
            extra.append(str(t.dtype))
        head = f"<B>{html(m.name[i])}</B>" + ("  " + html("  ".join(extra)) if extra else "")
        head_text = m.name[i] + ("  " + "  ".join(extra) if extra else "")
        rows = []        # (left cell, value lines or None)
        if values is not None:
            # Graphviz measures a non-ASCII letter (σ) narrower than it is drawn: one more
            # space keeps " =" from touching it
            eq = "  =" if any(ord(ch) > 127 for ch in m.name[i]) else " ="
            rows.append((head + eq, head_text + eq, values))
        else:
            rows.append((head, head_text, None))
        if o.show_grads and t.requires_grad:
            g, complete = self.grad_of(i)
            tag = "grad" if complete else "grad so far"
            if g is None:
                self.missing_grads += 1
                rows.append(("grad", "grad", ["?"]))
            else:
                rows.append((tag, tag, array_lines(g, p, mx)))
        multi_line = any(v is not None and len(v) > 1 for _, _, v in rows)
        body, pt = [], NODE_PT * o.font_scale
        if multi_line and o.matrix_style == "stacked":   # matrix rows in a column of their own
            for left, _, lines in rows:
                right = "" if lines is None else _lines("", lines)
                body.append(f'<TR><TD ALIGN="LEFT" VALIGN="TOP">{left}</TD><TD WIDTH="4"></TD>'
                            f'<TD ALIGN="LEFT" BALIGN="LEFT">{right}</TD></TR>')
            lw = max(_text_width(lt, pt) for _, lt, _ in rows)
            rw = max(_text_width(x, pt) for _, _, v in rows for x in (v or [""]))
            n_lines = sum(len(v or [""]) for _, _, v in rows)
            size = (lw + rw + 12, n_lines * pt * 1.2 + 4 * len(rows))
        elif multi_line:   # a matrix: its value and its gradient side by side, as grids
            arrays = [t.data if k == 0 else g for k, (_, _, _v) in enumerate(rows)] \
                if values is not None else [None] + [g]
            heads = [left.rstrip(" =") if left.endswith(" =") else left for left, _, _ in rows]
            cells, widths, heights = [], [], []
            for (_, lt, v), arr in zip(rows, arrays):
                if v is None:
                    cell, w, h = "", 0.0, 0
                elif arr is not None and v != ["?"] and to_numpy(arr).ndim == 2:
                    cell, w, h = _grid(to_numpy(arr), p, pt)
                else:
                    cell, w, h = _lines("", v), max(_text_width(x, pt) for x in v), len(v)
                cells.append(cell)
                widths.append(max(w, _text_width(lt, pt)))
                heights.append(h)
            gap = '<TD WIDTH="8"></TD>'     # between the value's and the gradient's columns
            body.append("<TR>" + gap.join(f'<TD ALIGN="LEFT">{h}</TD>' for h in heads) +
                        "</TR>")
            body.append("<TR>" + gap.join(f'<TD ALIGN="LEFT" BALIGN="LEFT" VALIGN="TOP">{c}'
                                          "</TD>" for c in cells) + "</TR>")
            size = (sum(widths) + 12 * len(rows), (1 + max(heights)) * (pt * 1.2) + 8)
        else:
            texts = []
            for left, lt, lines in rows:
                cell = left if lines is None else f"{left} {html(lines[0])}"
                texts.append(lt if lines is None else f"{lt} {lines[0]}")
                body.append(f'<TR><TD ALIGN="LEFT">{cell}</TD></TR>')
            size = (max(_text_width(x, pt) for x in texts) + 8,
                    len(rows) * (pt * 1.2 + 4))
        label = (f'<<TABLE BORDER="{width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1" '
                 f'BGCOLOR="{fill}" COLOR="{border}">{"".join(body)}</TABLE>>')
        return label, size

    def op_label(self, i):
        """The op's text: its symbol, or for an op whose operand order matters the formula
        of its operands' names when short ("W1 @ x", "t - y"); roles go on the edges
        otherwise (see input_edge)."""
        node = self.m.nodes[i]
        name = node.name
        symbol = OP_SYMBOLS.get(name) or FUNCTION_SYMBOLS.get(name) or name
        formula = self.formula(i)
        return formula if formula is not None else symbol

    def formula(self, i):
        """The op as a formula of its operands' names, for ops whose operand order matters
        (None otherwise, when it is long, or when the output's own name already is that
        expression, as generated names like `W1@x` are)."""
        node = self.m.nodes[i]
        if node.name not in NON_COMMUTATIVE or len(self.m.inputs[i]) != 2:
            return None
        a, b = (self.operand_name(e) for e in self.m.inputs[i])
        if a is None or b is None:
            return None
        sym = OP_SYMBOLS[node.name]
        if self.m.name[i] == f"{operand(a, sym)}{sym}{operand(b, sym, right=True)}":
            return sym
        text = f"{operand(a, sym)} {sym} {operand(b, sym, right=True)}"
        return text if len(text) <= MAX_FORMULA else None

    def operand_name(self, entry):
        if entry is None:
            return None
        if entry[0] == "t":
            return self.m.name[entry[1]]
        lines = array_lines(entry[1], self.o.precision, self.o.max_exact)
        return lines[0] if len(lines) == 1 and len(lines[0]) <= 8 else None

    # ---------------------------------------------------------------- nodes and edges
    def run(self) -> Elements:
        m, o = self.m, self.o
        el = Elements(model=m, opts=o)
        n = len(m.tensors)

        def put(node_id, scope, attrs, size):
            el.nodes[node_id] = attrs
            el.place[node_id] = m.cluster_key(scope)
            el.size[node_id] = size

        box_edges = set()
        drawn_boxes = set()
        for i in range(n):
            node = m.nodes[i]
            b = m.box[i]
            if b is not None:
                bid = f"m{m.scope_id[id(b)]}"
                if id(b) not in drawn_boxes:
                    drawn_boxes.add(id(b))
                    put(bid, b.parent, self.box_attrs(b), (140 * o.font_scale,
                                                          50 * o.font_scale))
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
                            el.edges.append((f"t{j}", bid, ""))
                if m.visible[i]:
                    self.kinds_used.add(m.kind[i])
                    label, size = self.tensor_label(i)
                    put(f"t{i}", m.place[i], f"label={label}", size)
                    el.edges.append((bid, f"t{i}", ""))
                continue
            if node is not None:
                self.op_node(el, put, i)
            self.kinds_used.add(m.kind[i])
            label, size = self.tensor_label(i)
            # the chain of computed tensors and ops stays on one line; leaves hang beside
            put(f"t{i}", m.place[i], f"label={label}" + (" group=main" if node is not None
                                                          else ""), size)
        el.defaults = self.defaults()
        if o.legend:
            note = self.f.missing_note if self.f is not None else missing_grad_note(
                [m.tensors[r] for r in m.root_index]) if self.missing_grads else None
            el.legend = legend_lines(self.kinds_used, o, note if self.missing_grads else None)
        return el

    def op_node(self, el, put, i):
        m, o = self.m, self.o
        node = m.nodes[i]
        t = m.tensors[i]
        local = o.show_local_grads
        parts = derivative_parts(node) if local else None
        values = local_derivatives(node, t, kept_step) if local else None
        label = self.op_label(i)
        pt = NODE_PT * o.font_scale
        put(f"o{i}", m.scope[i], self.op_attrs(i, label),
            (max(_text_width(label, pt) + 14, pt * 1.8), pt * 1.8))
        self.kinds_used.add("op")
        operand_names = [self.operand_name(e) for e in m.inputs[i]]
        roles = None
        if node.name in NON_COMMUTATIVE and self.formula(i) is None:
            roles = NON_COMMUTATIVE[node.name]
        for k, entry in enumerate(m.inputs[i]):
            if entry is None:
                continue
            if entry[0] == "t":
                src = f"t{entry[1]}"
                needs_grad = m.tensors[entry[1]].requires_grad
            else:
                src = f"c{i}_{k}"
                needs_grad = False
                self.kinds_used.add("constant")
                fill, border, _ = STYLE["constant"]
                text = "\n".join(array_lines(entry[1], o.precision, o.max_exact))
                put(src, m.scope[i],
                    f"label={quoted(text)} shape=box style=\"rounded,filled\" "
                    f"fillcolor=\"{fill}\" color=\"{border}\" height=0.25 width=0.3 "
                    "margin=\"0.06,0.03\"",
                    (_text_width(text, pt) + 10, pt * 1.6))
            texts = []
            if roles is not None and k < len(roles):
                texts.append(roles[k])
            if local and needs_grad:
                formula = named_derivative(parts, k, m.name[i], operand_names)
                value = values[k] if k < len(values) else None
                value_text = None if value is None else " ".join(
                    array_lines(value, o.precision, o.max_exact))
                if formula and value_text is not None and \
                        formula.rsplit(" = ", 1)[-1].strip() == value_text:
                    value_text = None          # "dn/db = 1", not "dn/db = 1 = 1"
                line = " = ".join(x for x in (formula, value_text) if x)
                if line:
                    texts.append(line if formula else "= " + line)
            el.edges.append((src, f"o{i}", self.input_edge_attrs(i, k, texts)))
        focus = self.f is not None and self.f.focus == i
        el.edges.append((f"o{i}", f"t{i}",
                         f"color=\"{HIGHLIGHT}\" penwidth=2" if focus else ""))

    def op_attrs(self, i, label):
        fill, border, width = STYLE["op"]
        if self.f is not None and self.f.focus == i:
            fill, border, width = "#fecaca", HIGHLIGHT, 3
        shape = "circle" if len(label) <= 2 else "ellipse"
        return (f"label={quoted(label)} shape={shape} style=filled fillcolor=\"{fill}\" "
                f"color=\"{border}\" penwidth={width} margin=\"0.04,0.02\" "
                "width=0.3 height=0.3 ordering=in group=main")

    def input_edge_attrs(self, i, k, texts):
        attrs = []
        note = None if self.f is None else self.f.notes.get((i, k))
        if note:
            texts = texts + [note]
            attrs.append(f'color="{HIGHLIGHT}" fontcolor="{HIGHLIGHT}" penwidth=2')
        if texts:
            attrs.insert(0, f"label={quoted(chr(10).join(texts))} decorate=true")
        return " ".join(attrs)

    def box_attrs(self, b):
        ops, params = self.m.box_stats.get(id(b), (0, 0))
        fill, border, _ = STYLE["module"]
        self.kinds_used.add("module")
        text = f"{b.label}\n{ops} op{'s' if ops != 1 else ''}" + \
            (f", {params} parameter{'s' if params != 1 else ''}" if params else "")
        return (f"label={quoted(text)} shape=box3d style=filled "
                f"fillcolor=\"{fill}\" color=\"{border}\"")

    def defaults(self):
        o = self.o
        font = LAYOUT_FONT
        return [f"\tgraph [rankdir={o.rankdir or 'LR'} fontname={font} fontsize={o.pt(CLUSTER_PT)} "
                "nodesep=0.1 ranksep=0.16 newrank=true]",
                f"\tnode [fontname={font} fontsize={o.pt(NODE_PT)} shape=plain]",
                f"\tedge [fontname={font} fontsize={o.pt(EDGE_PT)} color=\"{EDGE_COLOUR}\" "
                "arrowsize=0.7]"]


def _grid(arr, precision, pt):
    """(HTML, estimated width, lines) of a matrix as a grid of right-aligned numbers
    between vertical bars, the way a blackboard writes it."""
    texts = [[number(v, precision) for v in row] for row in arr.tolist()]
    cols = [max(len(r[c]) for r in texts) for c in range(arr.shape[1])]
    gap = '<TD WIDTH="7"></TD>'
    rows = "".join("<TR>" + gap + gap.join(f'<TD ALIGN="RIGHT">{html(x)}</TD>' for x in r) +
                   gap + "</TR>" for r in texts)
    inner = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{rows}</TABLE>'
    cell = (f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="0">'
            f'<TR><TD SIDES="LR" COLOR="#6b7280">{inner}</TD></TR></TABLE>')
    width = sum(_text_width("x" * c, pt) + 5 for c in cols) + 10
    return cell, width, arr.shape[0]


def _lines(tag, lines):
    body = '<BR ALIGN="LEFT"/>'.join(html(x) for x in lines)
    return html(tag) + body


def legend_lines(kinds_used, opts: Options, note=None) -> list[str]:
    """Legend node lines (ids legend_<kind>), one per kind drawn, in legend order; then
    `note` (why some gradients are unknown), when given."""
    out = []
    for kind in KINDS:
        if kind not in kinds_used:
            continue
        fill, border, width = STYLE[kind]
        shape = {"op": "ellipse", "module": "box3d"}.get(kind, "box")
        out.append(f"\t\tlegend_{kind} [label={quoted(LEGEND_TEXT[kind])} shape={shape} "
                   f"style=filled fillcolor=\"{fill}\" color=\"{border}\" penwidth={width} "
                   f"fontsize={opts.pt(SMALL_PT)} height=0.25 margin=\"0.08,0.02\"]")
    if note:
        out.append(f"\t\tlegend_note [label={quoted(note)} shape=plain "
                   f"fontsize={opts.pt(SMALL_PT)}]")
    return out


def emit_elements(model: GraphModel, opts: Options, frame: Frame | None = None) -> Elements:
    """The drawing's nodes, edges and legend, before layout."""
    return _Emitter(model, opts, frame).run()


def _edge_line(tail, head, attrs):
    return f"\t{tail} -> {head}" + (f" [{attrs}]" if attrs else "")


def assemble(el: Elements) -> list[str]:
    """One DOT graph body for dot to lay out (lines ending in a newline)."""
    m = el.model
    lines = list(el.defaults)
    if el.opts.title:
        lines.append(f"\tgraph [label={quoted(el.opts.title)} labelloc=t "
                     f"fontsize={el.opts.pt(TITLE_PT)}]")
    if el.legend:
        lines += ["\tsubgraph cluster_legend {",
                  "\t\tgraph [label=\"\" style=\"rounded,dashed\" color=\"#94a3b8\" "
                  "margin=4]"]
        lines += el.legend
        ids = [line.split()[0] for line in el.legend]
        if len(ids) > 1:   # one row (LR) or column (TB) in legend order
            lines.append("\t\t" + " -> ".join(ids) + " [style=invis]")
        lines.append("\t}")
    lines += cluster_lines(m, el, el.nodes)
    lines += [_edge_line(*e) for e in el.edges]
    return [line + "\n" for line in lines]


def cluster_lines(m: GraphModel, el: Elements, node_ids, name_suffix="", label_suffix=None,
                  extra_node=None, extra_cluster=None):
    """Node lines of `node_ids` (in el's order), nested in their module clusters.

    Clusters are named cluster_<scope id><name_suffix>; label_suffix(scope) may return text
    appended to a cluster's label (a cluster continued from an earlier row);
    extra_node(node_id) / extra_cluster(scope) may return attribute text to append."""
    placed = {}
    order = []
    for nid in el.nodes:
        if nid not in node_ids:
            continue
        key = el.place[nid]
        k = None if key is None else id(key)
        if k not in placed:
            placed[k] = []
            order.append(key)
        more = extra_node(nid) if extra_node is not None else ""
        placed[k].append(f"\t{nid} [{el.nodes[nid]}{' ' + more if more else ''}]")
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
    size = el.opts.pt(CLUSTER_PT)

    def emit_scope(s, indent):
        sid = m.scope_id[id(s)]
        fill = CLUSTER_FILLS[min(s.depth, len(CLUSTER_FILLS) - 1)]
        label = s.label + (label_suffix(s) if label_suffix is not None else "")
        more = extra_cluster(s) if extra_cluster is not None else ""
        out = [f"{indent}subgraph cluster_{sid}{name_suffix} {{",
               f"{indent}\tgraph [label={quoted(label)} style=\"rounded,filled\" "
               f"fillcolor=\"{fill}\" color=\"#94a3b8\" fontsize={size} labeljust=l"
               f"{' ' + more if more else ''}]"]
        out += [indent + line for line in placed.get(id(s), [])]
        for c in children.get(id(s), []):
            out += emit_scope(c, indent + "\t")
        out.append(f"{indent}}}")
        return out

    lines = []
    for s in children.get(None, []):
        lines += emit_scope(s, "\t")
    lines += placed.get(None, [])
    return lines
