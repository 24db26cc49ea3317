"""Laying a drawing out for a slide (draw_graph's `fit=`): long chains wrap into rows.

dot lays a computation graph out as one long strip (a 4.6:1 chain for the lecture's
two-layer network), which scaled onto a 16:9 slide leaves 5 pt text. Here the graph's
columns (longest-path ranks, leaves next to their first consumer) are cut into 1..n
consecutive rows of balanced width; dot lays out each row (and the legend, as a row or a
column) in one renderer run; every candidate is stacked, with the legend below, beside, or
in the room the last row leaves, and scored by the scale at which it fits the slide; the
best (fewest rows among near-ties) is written as one DOT graph with every position fixed
(`layout=nop2`), in which the renderer routes only the edges between rows. Any renderer
draws that file the same way; `dot file.gv` honours the positions too.
"""
from __future__ import annotations

import re

from .dot import EDGE_PT, TITLE_PT, Elements, cluster_lines
from ._format import quoted

__all__ = ["FitJob", "measure_source", "apply_measured", "parse_fit", "MAX_FIT_NODES",
           "ASPECTS"]

#: Named slide shapes (width / height).
ASPECTS = {"16:9": 16 / 9, "4:3": 4 / 3, "16:10": 16 / 10, "1:1": 1.0}
#: Graphs with more drawn nodes keep dot's single layout (no slide shows them legibly:
#: collapse modules instead), which also keeps drawing big graphs fast.
MAX_FIT_NODES = 80
MAX_ROWS = 6
ROW_GAP = 18.0        # points between rows (room for the edges that wrap)
LEFT_MARGIN = RIGHT_MARGIN = 14.0   # room beside the rows for the wrapping edges
LEGEND_GAP = 10.0
NEAR_TIE = 0.97       # a layout with fewer rows wins unless the other is 3% larger
SPLIT_COST = 0.92     # each module cluster cut across rows counts as 8% smaller text


def parse_fit(fit):
    """The slide's width / height for fit= ("16:9", "4:3", a number, (w, h)), or None."""
    if fit is None or fit is False:
        return None
    if isinstance(fit, str):
        if fit in ASPECTS:
            return ASPECTS[fit]
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", fit)
        if m and float(m[2]) > 0 and float(m[1]) > 0:
            return float(m[1]) / float(m[2])
    elif isinstance(fit, (int, float)) and not isinstance(fit, bool) and fit > 0:
        return float(fit)
    elif isinstance(fit, (tuple, list)) and len(fit) == 2 and all(
            isinstance(v, (int, float)) and v > 0 for v in fit):
        return float(fit[0]) / float(fit[1])
    raise ValueError(f"draw_graph: fit={fit!r}; use '16:9' or '4:3' (the slide's shape), a "
                     "width/height ratio, (width, height), or None for dot's own layout")


# ---------------------------------------------------------------------- columns and rows
def _ranks(el: Elements):
    """Longest-path rank of every node; sources sit just before their first consumer."""
    ids = list(el.nodes)
    preds = {n: [] for n in ids}
    succs = {n: [] for n in ids}
    for tail, head, _ in el.edges:
        if tail in preds and head in preds:
            preds[head].append(tail)
            succs[tail].append(head)
    rank = {}
    for n in ids:  # el.nodes is in topological order (inputs before the ops using them)
        rank[n] = max((rank[p] + 1 for p in preds[n] if p in rank), default=0)
    # a second pass in case an edge pointed forward in emission order
    for _ in range(2):
        for n in ids:
            rank[n] = max([rank[n]] + [rank[p] + 1 for p in preds[n]])
    for n in ids:
        if not preds[n] and succs[n]:
            rank[n] = max(min(rank[s] for s in succs[n]) - 1, 0)
    return rank, preds, succs


def _label_width(attrs, pt):
    m = re.search(r'(?:^|\s)label="((?:[^"\\]|\\.)*)"', attrs)
    if not m:
        return 0.0
    return max(0.55 * pt * len(line) for line in m[1].split("\\n"))


def _row_candidates(el: Elements, rank, preds, succs):
    """{(rows, cuts): {node id: row}} for 1..MAX_ROWS rows of balanced estimated width,
    and for up to 4 rows the same with each cut moved by a rank or two."""
    n_ranks = max(rank.values()) + 1
    width = [0.0] * n_ranks
    edge_pt = EDGE_PT * el.opts.font_scale
    for n, r in rank.items():
        width[r] = max(width[r], el.size[n][0])
    gap = [22.0] * n_ranks  # ranksep
    for tail, head, attrs in el.edges:
        if head in rank and tail in rank and "label=" in attrs:
            gap[rank[head]] = max(gap[rank[head]], _label_width(attrs, edge_pt) + 10)
    cost = [w + g for w, g in zip(width, gap)]
    out = {}
    for rows in range(1, min(MAX_ROWS, n_ranks) + 1):
        best = _balanced_cuts(cost, rows)
        variants = [best]
        if rows <= 4 and len(rank) <= 60:   # also try each cut a rank or two either way
            for k in range(len(best)):
                for shift in (-2, -1, 1, 2):
                    cuts = list(best)
                    cuts[k] += shift
                    if all(a < b for a, b in zip([0] + cuts, cuts + [n_ranks])):
                        variants.append(cuts)
        for cuts in variants:
            row_of_rank = []
            for k, (a, b) in enumerate(zip([0] + cuts, cuts + [n_ranks])):
                row_of_rank += [k] * (b - a)
            row = {n: row_of_rank[r] for n, r in rank.items()}
            for n in rank:  # a source joins the row of its first consumer
                if not preds[n] and succs[n]:
                    row[n] = min(row[s] for s in succs[n])
            if len(set(row.values())) == rows:
                out[(rows, tuple(cuts))] = row
    return out


def _balanced_cuts(cost, rows):
    """Cut points splitting `cost` into `rows` consecutive groups, minimising the largest
    group's sum (dynamic programming over prefix sums)."""
    n = len(cost)
    prefix = [0.0]
    for c in cost:
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(rows + 1)]
    cut = [[0] * (n + 1) for _ in range(rows + 1)]
    best[0][0] = 0.0
    for k in range(1, rows + 1):
        for j in range(k, n + 1):
            for i in range(k - 1, j):
                v = max(best[k - 1][i], prefix[j] - prefix[i])
                if v < best[k][j]:
                    best[k][j], cut[k][j] = v, i
    cuts, j = [], n
    for k in range(rows, 0, -1):
        j = cut[k][j]
        cuts.append(j)
    return sorted(cuts)[1:]


# ---------------------------------------------------------------------- DOT for the parts
def _graph_line(el: Elements, rankdir):
    return re.sub(r"rankdir=\w+", f"rankdir={rankdir}", el.defaults[0])


_PORT = "shape=point width=0.01 height=0.01 style=invis"


def _row_source(el: Elements, name, node_ids, rankdir, first_row_of):
    """A row as its own DOT graph. An edge leaving the row ends at an invisible port on
    the row's last rank (xo<k>), one entering it starts at a port on its first rank
    (xi<k>, carrying the edge's label), so that dot keeps a clear path to the row's
    edges; _compose joins the two halves through the gap between the rows."""
    def cont(scope):
        return "" if first_row_of.get(id(scope), name) == name else " (continued)"

    lines = [_graph_line(el, rankdir)] + el.defaults[1:]
    lines += cluster_lines(el.model, el, node_ids, label_suffix=cont)
    outs, ins = [], []
    for k, (tail, head, attrs) in enumerate(el.edges):
        sep = " " if attrs else ""
        if tail in node_ids and head in node_ids:
            lines.append(f"\t{tail} -> {head} [{attrs}{sep}id=\"e{k}\"]")
        elif tail in node_ids and head in el.nodes:
            outs.append(f"xo{k}")
            lines.append(f"\txo{k} [{_PORT}]")
            lines.append(f"\t{tail} -> xo{k} [arrowhead=none id=\"xo{k}\"]")
        elif head in node_ids and tail in el.nodes:
            ins.append(f"xi{k}")
            lines.append(f"\txi{k} [{_PORT}]")
            lines.append(f"\txi{k} -> {head} [{attrs}{sep}id=\"xi{k}\"]")
    if outs:
        lines.append("\t{rank=max; " + "; ".join(outs) + "}")
    if ins:
        lines.append("\t{rank=min; " + "; ".join(ins) + "}")
    return f"digraph {name} {{\n" + "\n".join(lines) + "\n}\n"


def _scopes_of(el: Elements, node_ids):
    """The module clusters (and their parents) that hold any of `node_ids`."""
    found = {}
    for nid in node_ids:
        s = el.place[nid]
        while s is not None:
            found[id(s)] = s
            s = s.parent
    return list(found.values())


def _legend_source(el: Elements, name, rankdir, lines_of=1):
    """The legend alone: one row (LR), one column (TB), or `lines_of` rows (LR)."""
    lines = [_graph_line(el, rankdir)] + el.defaults[1:]
    lines += ["\tsubgraph cluster_legend {",
              "\t\tgraph [label=\"\" style=\"rounded,dashed\" color=\"#94a3b8\" margin=4]"]
    lines += el.legend
    ids = [line.split()[0] for line in el.legend]
    per = -(-len(ids) // lines_of)
    chain = ids[:per]
    if len(chain) > 1:
        lines.append("\t\t" + " -> ".join(chain) + " [style=invis]")
    for k in range(1, lines_of):   # later lines: each item under the one above
        for j, nid in enumerate(ids[k * per:(k + 1) * per]):
            lines.append(f"\t\t{{rank=same; {ids[(k - 1) * per + j]}; {nid}}}")
            lines.append(f"\t\t{ids[(k - 1) * per + j]} -> {nid} [style=invis]")
    lines.append("\t}")
    return f"digraph {name} {{\n" + "\n".join(lines) + "\n}\n"


# ---------------------------------------------------------------------- parsed layouts
class _Part:
    """One laid-out graph (a row, or the legend): positions relative to its own box."""

    def __init__(self, doc):
        x0, y0, x1, y1 = (float(v) for v in doc["bb"].split(","))
        self.w, self.h = x1 - x0, y1 - y0
        self.ox, self.oy = x0, y0
        self.nodes, self.clusters, self.edges = {}, {}, {}
        for obj in doc.get("objects", []):
            if "pos" in obj:
                self.nodes[obj["name"]] = obj
            elif "bb" in obj:
                self.clusters[obj["name"]] = obj
        for e in doc.get("edges", []):
            if "id" in e:
                self.edges[e["id"]] = e


def _shift_point(text, dx, dy):
    prefix = ""
    if text[:2] in ("e,", "s,"):
        prefix, text = text[:2], text[2:]
    x, y = text.split(",")
    return f"{prefix}{float(x) + dx:.2f},{float(y) + dy:.2f}"


def _shift_points(text, dx, dy):
    return " ".join(_shift_point(p, dx, dy) for p in text.split())


def _shift_bb(text, dx, dy):
    x0, y0, x1, y1 = (float(v) for v in text.split(","))
    return f"{x0 + dx:.2f},{y0 + dy:.2f},{x1 + dx:.2f},{y1 + dy:.2f}"


class _Candidate:
    """Rows stacked top to bottom plus a legend placement; its size and slide scale."""

    def __init__(self, rows, rankdir, parts, legend, where, title_size, aspect):
        self.rows, self.rankdir, self.parts = rows, rankdir, parts
        self.legend, self.where = legend, where
        tw, th = title_size
        # wrapping edges run beside the rows: room on both sides when there are rows
        self.x0 = LEFT_MARGIN if len(parts) > 1 else 0.0
        width = max(p.w for p in parts) + (self.x0 + RIGHT_MARGIN if len(parts) > 1 else 0)
        height = sum(p.h for p in parts) + ROW_GAP * (len(parts) - 1)
        self.legend_at = None
        rows_w = width
        if legend is not None:
            if where in ("below", "below2"):
                width = max(width, legend.w)
                self.legend_at = (max(rows_w - legend.w, 0.0), 0.0)
                height += LEGEND_GAP + legend.h
            elif where == "right":
                self.legend_at = (width + LEGEND_GAP, 0.0)
                width += LEGEND_GAP + legend.w
                height = max(height, legend.h)
            else:  # "corner*": beside a row, in the room it leaves (the last row first)
                lanes = RIGHT_MARGIN if len(parts) > 1 else 0.0
                for k in reversed(range(len(parts))):
                    part = parts[k]
                    if self.x0 + part.w + lanes + LEGEND_GAP + legend.w <= width and \
                            legend.h <= part.h:
                        top = sum(p.h + ROW_GAP for p in parts[:k])
                        self.legend_at = (width - legend.w, ("top", top + part.h / 2))
                        break
        self.width = max(width, tw)
        self.height = height + th
        self.title_h = th
        self.score = min(aspect / self.width, 1.0 / self.height)

    @property
    def ok(self):
        return self.where is None or self.legend_at is not None


def measure_source(el: Elements, name="sizes"):
    """A DOT graph of el's nodes alone: laid out, it tells their true sizes (the rows are
    cut by width, and the estimate from character counts is rough)."""
    lines = [_graph_line(el, "LR")] + el.defaults[1:]
    lines += [f"\t{nid} [{attrs}]" for nid, attrs in el.nodes.items()]
    return f"digraph {name} {{\n" + "\n".join(lines) + "\n}\n"


def apply_measured(el: Elements, doc):
    """Replace el's estimated node sizes by the ones in a layout of measure_source(el)."""
    for obj in doc.get("objects", []):
        if "pos" in obj and obj["name"] in el.size:
            el.size[obj["name"]] = (float(obj["width"]) * 72, float(obj["height"]) * 72)


class FitJob:
    """One slide layout of `el` for a slide of `aspect` (width / height), in two halves so
    that many (a step page's frames, matrix styles) share one renderer run: `.sources`
    are the DOT graphs to lay out (none when the graph is too big), `.finish(docs)` chooses
    and composes from their -Tjson0 layouts: (positioned DOT body lines, plan), or
    (None, None). A `plan` from an earlier finish (another frame of the same graph) keeps
    its rows, direction and legend place, so frames keep their shape as labels change."""

    def __init__(self, el: Elements, aspect: float, plan=None):
        self.el, self.aspect, self.plan = el, aspect, plan
        self.sources, self.plans, self.legend_index = [], [], None
        self.score = 0.0   # of the layout finish() chose
        if not el.nodes or len(el.nodes) > MAX_FIT_NODES:
            return
        rank, preds, succs = _ranks(el)
        candidates = _row_candidates(el, rank, preds, succs)
        direction = el.opts.rankdir
        if direction in ("TB", "BT", "RL"):
            candidates = {}    # the caller asked for one direction: dot's own layout of it
        if plan is not None:
            candidates = {(plan[0], ()): plan[2]} if plan[1] == "LR" else {}
        for (rows, _), row_of in candidates.items():
            self._add_rows(rows, row_of)
        if plan is not None and plan[1] != "LR" or plan is None and direction != "LR" and \
                len(el.nodes) <= 60:
            all_nodes = set(el.nodes)
            tb = plan[1] if plan is not None else (
                direction if direction in ("TB", "BT", "RL") else "TB")
            start = len(self.sources)
            self.sources.append(_row_source(el, "single_tb", all_nodes, tb, {}))
            self.plans.append((1, tb, {n: 0 for n in all_nodes}, [start], 0))
        if self.sources and el.legend:
            self.legend_index = len(self.sources)
            self.sources.append(_legend_source(el, "legend_row", "LR"))
            self.sources.append(_legend_source(el, "legend_column", "TB"))
            self.sources.append(_legend_source(el, "legend_two_rows", "LR", 2))
            self.sources.append(_legend_source(el, "legend_three_rows", "LR", 3))

    def _add_rows(self, rows, row_of):
        el = self.el
        names = [f"row{len(self.plans)}_{k}" for k in range(rows)]
        first_row_of = {}
        groups = [set() for _ in range(rows)]
        for nid in el.nodes:
            groups[row_of[nid]].add(nid)
        for k, group in enumerate(groups):
            for nid in group:
                s = el.place[nid]
                while s is not None:
                    first_row_of.setdefault(id(s), names[k])
                    s = s.parent
        start = len(self.sources)
        splits = 0
        for k, group in enumerate(groups):
            self.sources.append(_row_source(el, names[k], group, "LR", first_row_of))
            splits += sum(1 for s in _scopes_of(el, group) if first_row_of[id(s)] != names[k])
        self.plans.append((rows, "LR", row_of, list(range(start, len(self.sources))), splits))

    def finish(self, docs):
        """(positioned DOT body lines, plan) from the layouts of `.sources`."""
        el, plan = self.el, self.plan
        parts = [_Part(d) for d in docs]
        opts = el.opts
        title_size = (0.0, 0.0)
        if opts.title:
            pt = TITLE_PT * opts.font_scale
            title_size = (0.55 * pt * len(opts.title) + 16, pt * 1.6)
        best = None
        li = self.legend_index
        legends = [(None, None)]
        if li is not None:
            legends = [(parts[li], "below"), (parts[li + 1], "right"),
                       (parts[li], "corner"), (parts[li + 2], "corner2"),
                       (parts[li + 3], "corner3"), (parts[li + 1], "corner4"),
                       (parts[li + 2], "below2")]
        for rows, rankdir, row_of, indices, splits in self.plans:
            row_parts = [parts[i] for i in indices]
            options = legends
            if plan is not None:   # the plan's legend place first, any other if it no longer fits
                options = [o for o in legends if o[1] == plan[3]] + \
                    [o for o in legends if o[1] != plan[3]]
            for legend, where in options:
                cand = _Candidate(rows, rankdir, row_parts, legend, where, title_size,
                                  self.aspect)
                cand.row_of = row_of
                cand.score *= SPLIT_COST ** splits
                if not cand.ok:
                    continue
                if plan is not None:
                    best = cand
                    break
                if best is None or cand.score > best.score / NEAR_TIE or (
                        cand.score >= best.score * NEAR_TIE and cand.rows < best.rows):
                    best = cand
        if best is None:
            return None, None
        self.score = best.score
        return _compose(el, best), (best.rows, best.rankdir, best.row_of, best.where)


def _compose(el: Elements, c: _Candidate) -> list[str]:
    """The positioned DOT body of candidate `c`."""
    W, H = c.width, c.height
    graph = _graph_line(el, c.rankdir)[:-1] + \
        f' layout=nop2 splines=true bb="0,0,{W:.2f},{H:.2f}"]'
    lines = [graph] + el.defaults[1:]
    if el.opts.title:
        pt = TITLE_PT * el.opts.font_scale
        lines.append(f"\tgraph [label={quoted(el.opts.title)} labelloc=t "
                     f"fontsize={pt:.4g} lp=\"{W / 2:.2f},{H - c.title_h / 2:.2f}\"]")
    top = H - c.title_h
    offsets = []
    for part in c.parts:   # rows left-aligned, top to bottom
        offsets.append((c.x0 - part.ox, top - part.h - part.oy))
        top -= part.h + ROW_GAP
    if c.legend is not None and c.legend_at is not None:
        lx, ly = c.legend_at
        if isinstance(ly, tuple):   # centred on a row: ("top", distance from the rows' top)
            ly = H - c.title_h - ly[1] - c.legend.h / 2
        lines += _legend_lines(el, c.legend, lx - c.legend.ox, ly - c.legend.oy)
    for k, (part, (dx, dy)) in enumerate(zip(c.parts, offsets)):
        nodes = {n for n in part.nodes if n in el.nodes}

        def extra_node(nid, dx=dx, dy=dy, part=part):
            obj = part.nodes[nid]
            return (f'pos="{_shift_point(obj["pos"], dx, dy)}" width={obj["width"]} '
                    f'height={obj["height"]}')

        def extra_cluster(scope, dx=dx, dy=dy, part=part):
            obj = part.clusters.get(f"cluster_{el.model.scope_id[id(scope)]}")
            if obj is None:
                return ""
            text = f'bb="{_shift_bb(obj["bb"], dx, dy)}"'
            if "lp" in obj:
                text += (f' lp="{_shift_point(obj["lp"], dx, dy)}" lwidth={obj["lwidth"]} '
                         f'lheight={obj["lheight"]}')
            return text

        def suffix(scope, k=k, part=part):
            obj = part.clusters.get(f"cluster_{el.model.scope_id[id(scope)]}")
            label = obj.get("label", "") if obj else ""
            return " (continued)" if label.endswith(" (continued)") else ""

        lines += cluster_lines(el.model, el, nodes, name_suffix=f"_r{k}", label_suffix=suffix,
                               extra_node=extra_node, extra_cluster=extra_cluster)
    crossing = [k for k, (tail, head, _) in enumerate(el.edges)
                if c.row_of.get(tail) != c.row_of.get(head)]
    lane = {k: n for n, k in enumerate(crossing)}
    in_gap = {}            # how many wrapping edges run through the gap under each row
    for k in crossing:
        in_gap.setdefault(c.row_of[el.edges[k][0]], []).append(k)
    for k, (tail, head, attrs) in enumerate(el.edges):
        extra = ""
        if k in lane:
            row_a = c.row_of[tail]
            slot = (in_gap[row_a].index(k) + 1) / (len(in_gap[row_a]) + 1)
            extra = _crossing_edge(c, offsets, k, lane[k], slot, row_a, c.row_of[head])
        else:
            part_index = c.row_of[tail]
            part = c.parts[part_index]
            dx, dy = offsets[part_index]
            e = part.edges.get(f"e{k}")
            if e is not None and "pos" in e:
                extra = f'pos="{_shift_points(e["pos"], dx, dy)}"'
                if "lp" in e:
                    extra += f' lp="{_shift_point(e["lp"], dx, dy)}"'
        text = " ".join(x for x in (attrs, extra) if x)
        lines.append(f"\t{tail} -> {head}" + (f" [{text}]" if text else ""))
    return [line + "\n" for line in lines]


LANE = 5.0   # points between parallel wrapping edges


def _points(text):
    """(end marker text or None, [(x, y)] control points) of a -Tjson0 spline."""
    end, pts = None, []
    for p in text.split():
        if p.startswith("e,"):
            end = p
        elif not p.startswith("s,"):
            x, y = p.split(",")
            pts.append((float(x), float(y)))
    return end, pts


def _line(p, q):
    """A straight segment as the three B-spline points that follow p."""
    (x0, y0), (x1, y1) = p, q
    return [(x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3),
            (x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3), (x1, y1)]


def _crossing_edge(c, offsets, k, lane, slot, row_a, row_b):
    """pos/lp of an edge from row a to a later row b: dot's path to row a's exit port,
    right past the row's end, down into the gap under it, left past the rows' start, down
    to row b's entry port, and dot's path from there into the head."""
    part_a, part_b = c.parts[row_a], c.parts[row_b]
    (ax, ay), (bx, by) = offsets[row_a], offsets[row_b]
    ea, eb = part_a.edges.get(f"xo{k}"), part_b.edges.get(f"xi{k}")
    if ea is None or eb is None or "pos" not in ea or "pos" not in eb:
        return ""
    _, first = _points(_shift_points(ea["pos"], ax, ay))
    end, last = _points(_shift_points(eb["pos"], bx, by))
    if not first or not last:
        return ""
    lanes = max(1.0, (LEFT_MARGIN - 4) / LANE)
    step = LANE if lane < lanes else (LEFT_MARGIN - 4) / (lane + 1)
    right = c.x0 + part_a.w + 4 + lane * step
    gap_y = (part_a.oy + ay) - ROW_GAP * slot
    left = c.x0 - 4 - lane * step
    a, b = first[-1], last[0]
    waypoints = [(right, a[1]), (right, gap_y), (left, gap_y), (left, b[1]), b]
    pts = list(first)
    for q in waypoints:
        pts += _line(pts[-1], q)
    pts += last[1:]
    text = " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)
    out = f'pos="{end + " " if end else ""}{text}"'
    if "lp" in eb:
        out += f' lp="{_shift_point(eb["lp"], bx, by)}"'
    return out


def _legend_lines(el: Elements, part: _Part, dx, dy):
    obj = part.clusters.get("cluster_legend")
    head = "\t\tgraph [label=\"\" style=\"rounded,dashed\" color=\"#94a3b8\" margin=4"
    if obj is not None:
        head += f' bb="{_shift_bb(obj["bb"], dx, dy)}"'
        if "lp" in obj:
            head += (f' lp="{_shift_point(obj["lp"], dx, dy)}" lwidth={obj["lwidth"]} '
                     f'lheight={obj["lheight"]}')
    out = ["\tsubgraph cluster_legend {", head + "]"]
    for line in el.legend:
        nid = line.split()[0]
        node = part.nodes.get(nid)
        if node is None:
            out.append(line)
            continue
        out.append(line[:-1] + f' pos="{_shift_point(node["pos"], dx, dy)}" '
                   f'width={node["width"]} height={node["height"]}]')
    out.append("\t}")
    return out
