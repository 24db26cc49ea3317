"""matplotlib set-up shared by the plots: slide style, palette, figure and axes handling, saving.

The plots build `matplotlib.figure.Figure` objects directly (matplotlib's object-oriented
API, no pyplot): nothing global is touched, the backend is never changed, figures need no
display (PNG is rasterised by Agg) and are freed like any object. In a Jupyter kernel the
inline backend the kernel chose is loaded, so a returned Figure displays inline.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    import matplotlib
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError("viz.plots needs matplotlib: pip install 'autodiff-lectures[viz]' "
                      "(the diagrams in viz work without it)") from exc

import numpy as np

__all__ = ["OKABE_ITO", "PALETTE", "MARKERS", "LINESTYLES", "FONT", "LINEWIDTH", "SIZES",
           "figsize", "empty_figure", "new_figure", "slide_figure", "target_axes", "style_axes",
           "legend", "save_figure", "color", "figure_title", "fit_width"]

#: Okabe & Ito (2008), the colour-blind-safe palette (names as in their paper).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9",
             "bluish green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
             "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
#: Line colours in order of use; yellow (too light on white) comes last.
PALETTE = [OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "vermillion",
                                  "reddish purple", "sky blue", "black", "yellow")]
#: Markers and dash patterns paired with the colours, so lines differ in print and for
#: readers who cannot tell the colours apart.
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), "-", "--"]

#: Font sizes in points for a figure projected on a slide (readable from the back row).
FONT = {"title": 20, "label": 18, "tick": 15, "legend": 15, "note": 14, "small": 12}
LINEWIDTH = 2.5
#: Named figure sizes in inches (at 100 dpi on screen; save_figure writes PNG at 150 dpi:
#: 16:9 becomes 1920x1080).
SIZES = {"16:9": (12.8, 7.2), "4:3": (9.6, 7.2), "1:1": (7.2, 7.2), "square": (7.2, 7.2),
         "16:10": (12.8, 8.0), "wide": (12.8, 4.8)}


def color(i: int) -> str:
    """The i-th colour of the palette (cycling)."""
    return PALETTE[i % len(PALETTE)]


def figsize(size) -> tuple:
    """Inches (width, height) for a size name ("16:9", "4:3", "1:1", "wide") or a pair."""
    if isinstance(size, str):
        try:
            return SIZES[size]
        except KeyError:
            raise ValueError(f"viz.plots: size={size!r} is not a known size; use one of "
                             f"{', '.join(map(repr, SIZES))} or (width, height) in inches"
                             ) from None
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"viz.plots: size must be a name ({', '.join(map(repr, SIZES))}) or "
                         f"(width, height) in inches, got {size!r}") from None
    if not (w > 0 and h > 0):
        raise ValueError(f"viz.plots: size must be positive, got {size!r}")
    return (w, h)


def _load_jupyter_backend() -> None:
    """In a Jupyter kernel, load the backend the kernel chose (inline), which registers
    the display of Figure objects; elsewhere pyplot is never imported."""
    if "ipykernel" not in sys.modules or "matplotlib.pyplot" in sys.modules:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is not None:
        import matplotlib.pyplot  # noqa: F401  (loads the kernel's MPLBACKEND)


def empty_figure(size="16:9"):
    """A Figure without axes, laid out by matplotlib's constrained layout."""
    _load_jupyter_backend()
    return Figure(figsize=figsize(size), dpi=100, layout="constrained")


def new_figure(size="16:9", **subplots_kw) -> tuple:
    """(Figure, axes) in the slide style; `subplots_kw` go to Figure.subplots."""
    fig = empty_figure(size)
    return fig, fig.subplots(**subplots_kw)


def slide_figure(nrows: int = 1, ncols: int = 1, size="16:9", **kw) -> tuple:
    """(Figure, axes) for composing several plots on one slide: pass the axes as `ax=`.

        fig, (a, b) = viz.plots.slide_figure(1, 2)
        viz.plots.plot_loss_landscape(plain, loss_fn, data, ax=a)
        viz.plots.plot_loss_landscape(residual, loss_fn, data, ax=b)
    """
    return new_figure(size, nrows=nrows, ncols=ncols, squeeze=kw.pop("squeeze", True), **kw)


def target_axes(ax, size, what: str, n: int = 1, **subplots_kw):
    """(Figure, list of n Axes): new ones in a new figure when ax is None, else the given
    Axes (one, or a sequence of exactly n)."""
    if ax is None:
        fig, axes = new_figure(size, squeeze=False, **subplots_kw)
        flat = list(np.ravel(axes))
        return fig, flat[:n] if n else flat
    axes = [ax] if hasattr(ax, "plot") else list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n or not all(hasattr(a, "plot") for a in axes):
        raise ValueError(f"{what}: ax must be {'one matplotlib Axes' if n == 1 else f'{n} Axes'}"
                         f" for this figure, got {len(axes)} object(s); leave ax=None to get "
                         "a new figure")
    return axes[0].figure, axes


def style_axes(ax, xlabel=None, ylabel=None, title=None, grid=True, fonts=FONT) -> None:
    """Labels and sizes set explicitly (they stay when the figure is saved later)."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=fonts["label"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=fonts["label"])
    if title is not None:
        ax.set_title(title, fontsize=fonts["title"])
    ax.tick_params(labelsize=fonts["tick"])
    if grid:
        ax.grid(True, color="#d0d0d0", linewidth=0.8, alpha=0.8)
        ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def fit_width(fig, text, fontsize=FONT["title"]) -> str:
    """`text` wrapped at spaces onto as many lines as it needs to fit the figure's width
    (measured with matplotlib's own text metrics, in points)."""
    from matplotlib.backends.backend_agg import RendererAgg  # noqa: PLC0415
    from matplotlib.font_manager import FontProperties  # noqa: PLC0415

    renderer, prop = RendererAgg(1, 1, 72), FontProperties(size=fontsize)
    limit = 0.96 * fig.get_figwidth() * 72

    def width(line):
        return renderer.get_text_width_height_descent(line, prop, ismath=False)[0]

    lines = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            longer = f"{line} {word}" if line else word
            if line and width(longer) > limit:
                lines.append(line)
                line = word
            else:
                line = longer
        lines.append(line)
    return "\n".join(lines)


def figure_title(fig, text, fontsize=FONT["title"]):
    """fig.suptitle, wrapped onto more lines when it is wider than the figure (a long
    title is otherwise cut off at both edges of the saved image)."""
    return fig.suptitle(fit_width(fig, text, fontsize), fontsize=fontsize)


def legend(ax, fonts=FONT, **kw):
    """A legend in the slide font, drawn only when something is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    kw.setdefault("fontsize", fonts["legend"])
    kw.setdefault("framealpha", 0.9)
    return ax.legend(**kw)


_FORMATS = ("svg", "png", "pdf")


def save_figure(fig, path, dpi: float = 150, **savefig_kw) -> str:
    """Save a matplotlib Figure as .svg, .png or .pdf (chosen by the suffix); returns the path.

    The file is written atomically (a temporary file renamed into place) and
    reproducibly (no creation date in SVG/PDF metadata). PNG at `dpi` (150 by default:
    a 16:9 figure becomes 1920x1080 pixels)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(f"save_figure: cannot tell the format of {str(path)!r} from its "
                         f"suffix; use one of {', '.join('.' + f for f in _FORMATS)}")
    if not hasattr(fig, "savefig"):
        raise TypeError(f"save_figure: expected a matplotlib Figure, got {type(fig).__name__}"
                        " (graphviz diagrams are saved with viz.save)")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                "png": {}}[fmt]
    savefig_kw.setdefault("metadata", metadata)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with matplotlib.rc_context({"svg.hashsalt": "viz.plots"}):
            fig.savefig(tmp, format=fmt, dpi=dpi, **savefig_kw)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return str(path)
