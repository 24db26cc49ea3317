"""Remake the Arimo subsets shipped in this folder (not run at install or import time).

    python viz/fonts/make_subset.py /usr/share/fonts/truetype/croscore   # needs fonttools, brotli

Arimo has Arial's advance widths, which are the metrics Graphviz and graphviz-pure lay text
out with for fontname=Arial; embedding it in the SVGs makes every browser draw the font the
layout measured. The subset keeps Latin-1, Greek and the math symbols labels use, and drops
hinting and the layout tables (no kerning: Graphviz's measurement has none either).
"""
import sys
from pathlib import Path

CODEPOINTS = ([*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x391, 0x3AA),
               *range(0x3B1, 0x3CA), *range(0x2010, 0x2028)] +
              [0x2190, 0x2191, 0x2192, 0x2193, 0x2202, 0x2211, 0x2212, 0x221A, 0x221E,
               0x2248, 0x2260, 0x2264, 0x2265])


def main(source_dir):
    from fontTools import subset
    from fontTools.ttLib import TTFont

    for weight in ("Regular", "Bold"):
        font = TTFont(Path(source_dir) / f"Arimo-{weight}.ttf")
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = []
        options.hinting = False
        options.name_IDs = ["*"]          # keep the copyright and licence records
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        cmap = font.getBestCmap()
        subsetter.populate(unicodes=[c for c in CODEPOINTS if c in cmap])
        subsetter.subset(font)
        subset.save_font(font, Path(__file__).parent / f"Arimo-{weight}.subset.woff2", options)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/croscore")
