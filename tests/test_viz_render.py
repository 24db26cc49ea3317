"""Rendering without root: SVG and PNG with the pip-only graphviz-pure renderer, the
graphviz.Digraph interface (pipe, render, Jupyter display), PDF errors, argument lists."""
import html
import subprocess

import pytest

graphviz = pytest.importorskip("graphviz")

import autodiff as ad  # noqa: E402
import viz  # noqa: E402
from viz import render as vr  # noqa: E402
from viz.gallery import two_layer_network  # noqa: E402


def _pure():
    try:
        return vr.find_renderer("graphviz-pure")[0]
    except vr.RendererNotFound:
        return None


PURE = _pure()
needs_pure = pytest.mark.skipif(PURE is None, reason="graphviz-pure is not installed "
                                "(pip install graphviz-pure, the project's viz extra)")


@pytest.fixture(scope="module")
def diagram():
    E = two_layer_network("plain")
    with viz.record_grads():
        E.backward()
    return viz.draw_graph(E, title="figure (a)")


def test_draw_graph_returns_a_digraph(diagram):
    assert isinstance(diagram, graphviz.Digraph)
    assert diagram.source.startswith("digraph autodiff {")


@needs_pure
def test_svg_with_pip_only_renderer(diagram, tmp_path):
    path = viz.save(diagram, tmp_path / "fig.svg", renderer="graphviz-pure")
    text = html.unescape(open(path, encoding="utf-8").read())
    assert "<svg" in text and "</svg>" in text
    assert "0.7426" in text and "-0.0258" in text          # values made it into the drawing
    assert text.count('class="node"') >= 16 + 10


@needs_pure
def test_png_with_pip_only_renderer(diagram, tmp_path):
    path = viz.save(diagram, tmp_path / "fig.png", renderer="graphviz-pure")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width > 500 and height > 100


@needs_pure
def test_pdf_without_system_graphviz_names_alternatives(diagram, tmp_path):
    with pytest.raises(vr.RenderError) as err:
        viz.save(diagram, tmp_path / "fig.pdf", renderer="graphviz-pure")
    msg = str(err.value)
    assert "PDF" in msg and ".svg" in msg and ".png" in msg and "graphviz" in msg.lower()
    assert not (tmp_path / "fig.pdf").exists()


def test_dot_source_needs_no_renderer(diagram, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(vr, "_pure_candidates", lambda: iter(()))
    path = viz.save(diagram, tmp_path / "fig.dot")
    assert open(path, encoding="utf-8").read() == diagram.source
    with pytest.raises(vr.RendererNotFound, match="graphviz-pure"):
        viz.save(diagram, tmp_path / "fig.svg")


@needs_pure
def test_digraph_interface_uses_our_renderer(diagram, tmp_path, monkeypatch):
    monkeypatch.setenv(vr.ENV, "graphviz-pure")
    svg = diagram.pipe(format="svg", encoding="utf-8")
    assert "<svg" in svg
    assert diagram._repr_mimebundle_()["image/svg+xml"].count("<svg") == 1
    out = diagram.render("fig", directory=tmp_path, format="png")
    assert out.endswith("fig.png") and open(out, "rb").read(4) == b"\x89PNG"
    assert (tmp_path / "fig").read_text() == diagram.source
    out2 = diagram.render(outfile=tmp_path / "other.svg", cleanup=True)
    assert open(out2, encoding="utf-8").read().count("<svg") == 1
    assert not (tmp_path / "other.gv").exists()


def test_renderer_is_called_with_an_argument_list(diagram, monkeypatch):
    calls = []

    def fake_run(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 0, b"<svg/>", b"")

    monkeypatch.setattr(vr, "find_renderer", lambda prefer=None: ("/opt/dot", "dot"))
    monkeypatch.setattr(vr.subprocess, "run", fake_run)
    assert vr.render_bytes(diagram.source, "png") == b"<svg/>"
    calls.clear()
    assert vr.render_bytes(diagram, "svg", embed_font=False) == b"<svg/>"  # a diagram too
    (args, kwargs), = calls
    assert args == ["/opt/dot", "-Tsvg"]
    assert not kwargs.get("shell", False)
    assert kwargs["input"] == diagram.source.encode("utf-8")


def test_renderer_failure_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(vr, "find_renderer", lambda prefer=None: ("/opt/dot", "dot"))
    monkeypatch.setattr(vr.subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(
        args, 1, b"", b"Error: syntax error in line 1"))
    with pytest.raises(vr.RenderError, match="syntax error"):
        vr.render_bytes("digraph {", "svg")


def test_system_dot_is_preferred_when_present(monkeypatch, tmp_path):
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.delenv(vr.ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert vr.find_renderer() == (str(fake), "dot")


def test_unknown_suffix_is_rejected(diagram, tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        viz.save(diagram, tmp_path / "figure")


@needs_pure
def test_big_graph_renders(tmp_path):
    x = ad.tensor([0.5] * 8, requires_grad=True, name="x")
    y = x
    for _ in range(60):
        y = (y * 0.9).tanh()
    y = y.sum()
    with viz.record_grads():
        y.backward()
    data = vr.render_bytes(viz.draw_graph(y).source, "svg", renderer="graphviz-pure")
    assert data.count(b'class="node"') >= 240
