"""How large a drawing's text is on a slide, read from the rendered SVG."""
from __future__ import annotations

import re

__all__ = ["slide_text_size", "SLIDE_16_9", "SLIDE_4_3"]

#: PowerPoint/Keynote/Beamer slide sizes in inches.
SLIDE_16_9 = (13.333, 7.5)
SLIDE_4_3 = (10.0, 7.5)

_SVG = re.compile(r'<svg\b[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"[^>]*?'
                  r'viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"', re.S)
_SCALE = re.compile(r'<g id="[^"]*graph0" class="graph" transform="scale\(([\d.]+) ([\d.]+)\)')
_GROUP = re.compile(r'<g id="[^"]*" class="(node|edge)">\s*<title>([^<]*)</title>(.*?)</g>',
                    re.S)
_SIZE = re.compile(r'font-size="([\d.]+)"')


def slide_text_size(svg, slide=SLIDE_16_9) -> dict:
    """{"node": smallest node text, "edge": smallest edge label (None without), "scale":
    the factor fitting the drawing to the slide}: font sizes in points as they appear when
    the whole drawing is scaled to fit a `slide` ((width, height) in inches; 16:9 by
    default). Legend entries do not count as node text. `svg` is SVG text or bytes, or a
    diagram (rendered here)."""
    if hasattr(svg, "source"):
        from .render import render_bytes  # noqa: PLC0415
        svg = render_bytes(svg, "svg")
    if isinstance(svg, bytes):
        svg = svg.decode("utf-8")
    m = _SVG.search(svg)
    if m is None:
        raise ValueError("slide_text_size: not an SVG with width/height in pt and a viewBox")
    width, height = float(m[1]), float(m[2])
    view_w = float(m[5])
    s = _SCALE.search(svg)
    # drawing units -> points of the SVG as written -> points on the slide
    to_pt = (float(s[1]) if s else 1.0) * (width / view_w if view_w else 1.0)
    fit = min(slide[0] * 72 / width, slide[1] * 72 / height)
    sizes = {"node": [], "edge": []}
    for kind, title, body in _GROUP.findall(svg):
        if kind == "node" and title.startswith("legend_"):
            continue
        sizes[kind] += [float(v) for v in _SIZE.findall(body)]
    if not sizes["node"]:
        raise ValueError("slide_text_size: the SVG has no node text")
    return {"node": min(sizes["node"]) * to_pt * fit,
            "edge": min(sizes["edge"]) * to_pt * fit if sizes["edge"] else None,
            "scale": to_pt * fit}
