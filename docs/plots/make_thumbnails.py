"""Regenerate the README's plot thumbnails (docs/plots/*.png) from the gallery's plots.

    python docs/plots/make_thumbnails.py

Renders viz.plots.gallery into a temporary folder and shrinks each PNG to 640 pixels wide
with a 256-colour palette, so the committed images stay a few dozen kB each.
"""
import sys
import tempfile
from pathlib import Path

from PIL import Image

from viz.plots.gallery import render_plots

WIDTH = 640
HERE = Path(__file__).resolve().parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for _, _, files in render_plots(tmp, formats=("png",)):
            source = Path(files[0])
            with Image.open(source) as image:
                height = round(image.height * WIDTH / image.width)
                small = image.convert("RGB").resize((WIDTH, height), Image.LANCZOS)
                small = small.quantize(256, method=Image.Quantize.FASTOCTREE)
                small.save(HERE / source.name, optimize=True)
            print(HERE / source.name, (HERE / source.name).stat().st_size // 1024, "kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
