"""Fonts that fit their boxes everywhere: SVGs carry the font the layout measured.

Graphviz (and graphviz-pure) size every label with Arial's advance widths (its built-in
metrics for fontname=Arial; graphviz-pure's PNG writer draws an Arial-metric sans). A
browser on a machine without Arial draws the SVG's text in another font: with only DejaVu
Sans, about 12% wider, so text runs out of its boxes. Every SVG viz writes therefore embeds
a subset of Arimo (Arial's widths, SIL Open Font License, shipped in viz/fonts/ with its
licence) as an @font-face and names it first in each text's font-family; viewers that ignore
@font-face fall back to Arial / Liberation Sans, which have the same widths.
"""
from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

__all__ = ["LAYOUT_FONT", "FAMILY", "font_face_css", "embed_fonts"]

#: The font name given to Graphviz: the one whose metrics it lays text out with.
LAYOUT_FONT = "Arial"
#: The family the SVG text asks for: the embedded face first, then fonts of equal widths.
FAMILY = "viz-sans,Arimo,Arial,Liberation Sans,Helvetica,sans-serif"
_FOLDER = Path(__file__).parent / "fonts"
_STYLE_ID = "viz-fonts"


@functools.lru_cache(maxsize=1)
def font_face_css() -> str:
    """@font-face rules for the embedded regular and bold faces (data URIs, no network)."""
    rules = []
    for weight, file in (("normal", "Arimo-Regular.subset.woff2"),
                         ("bold", "Arimo-Bold.subset.woff2")):
        data = base64.b64encode((_FOLDER / file).read_bytes()).decode("ascii")
        rules.append(f"@font-face{{font-family:viz-sans;font-weight:{weight};"
                     f"src:url(data:font/woff2;base64,{data}) format('woff2')}}")
    return "".join(rules)


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")
_FAMILY_ATTR = re.compile(r'font-family="(?:Arial|Helvetica,sans-Serif)"')


def embed_fonts(svg: str, with_face: bool = True) -> str:
    """The SVG text with every Arial text asking for the embedded face (and its fallbacks),
    and (with_face) the @font-face rules in a <style> right after the <svg> tag."""
    svg = _FAMILY_ATTR.sub(f'font-family="{FAMILY}"', svg)
    if not with_face or f'id="{_STYLE_ID}"' in svg:
        return svg
    m = _SVG_OPEN.search(svg)
    if m is None:
        return svg
    style = f'\n<style id="{_STYLE_ID}">{font_face_css()}</style>'
    return svg[:m.end()] + style + svg[m.end():]
