"""Rendering DOT without root: the system `dot` when installed, else graphviz-pure's binary.

Always a subprocess with an argument list (never a shell string); never `graphviz.version()`.
SVG and PNG work with either renderer; PDF needs the system Graphviz (graphviz-pure has no
PDF writer), and asking for it without one raises an error that names the alternatives.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from ._fonts import embed_fonts

try:
    import graphviz
except ImportError as exc:  # pragma: no cover - the viz extra installs it
    raise ImportError("viz needs the 'graphviz' Python package: pip install "
                      "'autodiff-lectures[viz]' (installs graphviz and graphviz-pure)") from exc

__all__ = ["Diagram", "RendererNotFound", "RenderError", "find_renderer", "render_bytes",
           "render_svgs", "layout_json",
           "save", "SOURCE_FORMATS"]

#: Formats that are just the DOT text (no renderer needed).
SOURCE_FORMATS = ("dot", "gv")
_PURE_FORMATS = ("svg", "png", "jpeg", "jpg", "json", "json0", "plain", "xdot", "canon")
#: Environment variable naming the renderer: a path, "dot" or "graphviz-pure".
ENV = "VIZ_RENDERER"


class RendererNotFound(RuntimeError):
    """Neither Graphviz's `dot` nor graphviz-pure could be found."""


class RenderError(RuntimeError):
    """The renderer failed or cannot write the requested format."""


def _pure_candidates():
    yield shutil.which("graphviz-pure")
    # a venv's scripts folder is not on PATH unless the venv is activated
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        yield str(folder / "graphviz-pure")


def find_renderer(prefer: str | None = None) -> tuple[str, str]:
    """(path, kind) of the renderer to use; kind is "dot" or "graphviz-pure".

    `prefer` (or $VIZ_RENDERER) may be "dot", "graphviz-pure" or a path to either."""
    prefer = prefer or os.environ.get(ENV) or None
    if prefer and prefer not in ("dot", "graphviz-pure"):
        path = shutil.which(prefer) or (prefer if os.path.isfile(prefer) else None)
        if path is None:
            raise RendererNotFound(f"viz: renderer {prefer!r} (from {ENV} or renderer=) "
                                   "does not exist")
        kind = "graphviz-pure" if "graphviz-pure" in os.path.basename(path) else "dot"
        return path, kind
    if prefer != "graphviz-pure":
        dot = shutil.which("dot")
        if dot:
            return dot, "dot"
        if prefer == "dot":
            raise RendererNotFound("viz: the Graphviz `dot` program is not on PATH; install "
                                   "Graphviz (apt-get install graphviz / brew install "
                                   "graphviz) or use renderer='graphviz-pure'")
    for path in _pure_candidates():
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path, "graphviz-pure"
    raise RendererNotFound(
        "viz: no Graphviz renderer found. Install the pip-only one with "
        "`pip install graphviz-pure` (or the project's viz extra: pip install "
        "'autodiff-lectures[viz]'), or the system Graphviz (apt-get install graphviz / "
        "brew install graphviz). The DOT text itself is available as diagram.source")


def render_bytes(source, fmt: str = "svg", renderer: str | None = None,
                 timeout: float = 120, embed_font: bool = True) -> bytes:
    """Lay out and render a diagram (or DOT text) to `fmt` ("svg", "png", "pdf", ...).

    SVG text asks for the font the layout measured, embedded as @font-face (see
    viz._fonts); `embed_font=False` leaves the face out (a page holding many SVGs adds it
    once)."""
    source = _source(source)
    fmt = fmt.lower().lstrip(".")
    if fmt in SOURCE_FORMATS:
        return source.encode("utf-8")
    path, kind = find_renderer(renderer)
    if kind == "graphviz-pure" and fmt not in _PURE_FORMATS:
        if fmt == "pdf":
            raise RenderError(
                "viz: PDF needs the system Graphviz `dot`, which is not installed; the "
                "pip-only renderer graphviz-pure writes svg and png. Save as .svg (vector, "
                "prints and scales like PDF) or .png instead, convert the SVG (e.g. "
                "rsvg-convert -f pdf, or a browser's print to PDF), or install Graphviz "
                "(apt-get install graphviz / brew install graphviz)")
        raise RenderError(f"viz: format {fmt!r} is not supported by graphviz-pure; use one "
                          f"of {', '.join(_PURE_FORMATS)}")
    try:
        proc = subprocess.run([path, f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except OSError as exc:
        raise RenderError(f"viz: could not run the renderer {path}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"viz: the renderer {path} took more than {timeout:.0f} s; the graph "
                          "is too large to lay out: collapse modules (collapse=1) or draw "
                          "part of it") from exc
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip()
        hint = ""
        if fmt == "pdf":
            hint = (" (this Graphviz build may lack PDF support: save as .svg or .png, or "
                    "install Graphviz with cairo)")
        raise RenderError(f"viz: {os.path.basename(path)} -T{fmt} failed (exit "
                          f"{proc.returncode}){hint}: {err[-2000:]}")
    if fmt == "svg":
        return embed_fonts(proc.stdout.decode("utf-8"), with_face=embed_font).encode("utf-8")
    return proc.stdout


def render_svgs(sources, renderer: str | None = None, embed_font: bool = True,
                timeout: float = 300) -> list[str]:
    """Several DOT graphs (diagrams or text) rendered to SVG text in one renderer run."""
    texts = [_source(s) for s in sources]
    out = [None] * len(texts)
    # graphs with fixed positions (layout=nop2) and graphs dot lays out go in separate runs:
    # one run applies one engine mode to all its graphs
    for fixed in (True, False):
        group = [k for k, t in enumerate(texts) if ("layout=nop2" in t) == fixed]
        if not group:
            continue
        data = render_bytes("".join(texts[k] for k in group), "svg", renderer, timeout,
                            embed_font=False).decode("utf-8")
        docs = [d for d in re.split(r"(?=<\?xml )", data) if d.strip()]
        if len(docs) != len(group):
            raise RenderError(f"viz: the renderer drew {len(docs)} of {len(group)} graphs")
        for k, d in zip(group, docs):
            out[k] = embed_fonts(d, with_face=embed_font)
    return out


def layout_json(sources, renderer: str | None = None, timeout: float = 120) -> list[dict]:
    """Lay out several DOT graphs in one renderer run; their positions as parsed `-Tjson0`
    documents, in order (what viz.layout composes a slide-shaped drawing from)."""
    text = "".join(sources)
    data = render_bytes(text, "json0", renderer, timeout).decode("utf-8")
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(data) and data[i].isspace():
            i += 1
        if i >= len(data):
            break
        doc, i = decoder.raw_decode(data, i)
        docs.append(doc)
    if len(docs) != len(sources):
        raise RenderError(f"viz: the renderer laid out {len(docs)} of {len(sources)} graphs")
    return docs


def _source(graph) -> str:
    """DOT text of a diagram (anything with .source) or of DOT text itself."""
    if hasattr(graph, "source"):
        return graph.source
    if isinstance(graph, bytes):
        return graph.decode("utf-8")
    if not isinstance(graph, str):
        raise TypeError(f"viz: expected a diagram (viz.draw_graph's result, a graphviz graph) "
                        f"or DOT text, got {type(graph).__name__}")
    return graph


def save(graph, path, format: str | None = None, renderer: str | None = None) -> str:
    """Write a diagram to `path`; the format comes from the suffix (.svg .png .pdf .dot .gv)
    unless `format` is given. Returns the path written."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if not fmt:
        raise ValueError(f"viz.save: cannot tell the format of {str(path)!r}; give it a suffix "
                         "(.svg, .png, .pdf, .dot) or pass format=")
    data = render_bytes(graph, fmt, renderer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return str(path)


class Diagram(graphviz.Digraph):
    """A graphviz.Digraph whose `pipe`, `render` and Jupyter display use viz's renderer
    (system `dot` or graphviz-pure), so they work without a system Graphviz."""

    def pipe(self, format=None, renderer=None, formatter=None, neato_no_op=None,
             quiet=False, *, engine=None, encoding=None):
        """The rendered bytes (or text when `encoding` is given)."""
        data = render_bytes(self.source, format or self.format or "svg")
        return data.decode(encoding) if encoding else data

    def render(self, filename=None, directory=None, view=False, cleanup=False, format=None,
               renderer=None, formatter=None, neato_no_op=None, quiet=False,
               quiet_view=False, *, outfile=None, engine=None, raise_if_result_exists=False,
               overwrite_source=False):
        """Save the DOT source to `filename` and render it next to it (`filename.svg`), or
        to `outfile`; returns the rendered file's path, like graphviz.Digraph.render."""
        if view or quiet_view:
            raise NotImplementedError("viz diagrams do not open viewers; open the returned "
                                      "file yourself")
        folder = Path(directory if directory is not None else (self.directory or "."))
        if outfile is not None:
            outfile = Path(outfile)
            if directory is not None and not outfile.is_absolute():
                outfile = folder / outfile
            fmt = format or outfile.suffix.lstrip(".") or self.format or "svg"
            src = Path(filename) if filename is not None else outfile.with_suffix(".gv")
            if directory is not None and filename is not None:
                src = folder / src
        else:
            fmt = format or self.format or "svg"
            src = folder / (filename if filename is not None else
                            (self.filename or f"{self.name or 'graph'}.gv"))
            outfile = src.with_name(src.name + "." + fmt)
        if raise_if_result_exists and outfile.exists():
            raise FileExistsError(f"output file exists: {outfile}")
        src.parent.mkdir(parents=True, exist_ok=True)
        if src.resolve() != outfile.resolve():
            src.write_text(self.source, encoding="utf-8")
        save(self, outfile, fmt)
        if cleanup and src.exists() and src.resolve() != outfile.resolve():
            src.unlink()
        return str(outfile)
