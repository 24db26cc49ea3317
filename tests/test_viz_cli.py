"""`python -m viz`: --help documents both commands, the gallery on a temporary folder,
and render FILE.py:FUNC with options."""
import re
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("graphviz")

import helpers  # noqa: E402  (tests/ is on sys.path)
import viz  # noqa: E402
from viz.cli import main  # noqa: E402
from viz.gallery import FIGURES, two_layer_network  # noqa: E402

HAVE_RENDERER, needs_renderer = helpers.renderer_marker()


def run(*args):
    return subprocess.run([sys.executable, "-m", "viz", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_help_documents_both_commands():
    top = run("--help")
    assert top.returncode == 0
    assert "gallery" in top.stdout and "render" in top.stdout
    gal = run("gallery", "--help")
    assert "--out" in gal.stdout and "highway" in gal.stdout and "index.html" in gal.stdout
    ren = run("render", "--help")
    for flag in ("FILE.py:FUNC", "--out", "--local-grads", "--collapse", "--rankdir",
                 "--precision", "--no-backward", "--backward-graph"):
        assert flag in ren.stdout, flag


@needs_renderer
def test_gallery_command_on_a_temporary_folder(tmp_path):
    out = tmp_path / "gallery"
    proc = run("gallery", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    names = [f.name for f in FIGURES]
    assert {"a_two_layer", "b_residual", "c_highway", "d_batchnorm", "e_micrograd", "f_mlp",
            "f_mlp_collapsed", "g_backward_graph"} <= set(names)
    for name in names:
        assert (out / f"{name}.svg").read_text(encoding="utf-8").count("<svg") == 1
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"{name}.gv").read_text(encoding="utf-8").startswith("digraph")
    for f in FIGURES:
        if f.steps:
            assert (out / f"{f.name}_steps.html").read_text(encoding="utf-8").count("<svg") > 2
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in names:
        assert f'src="{name}.svg"' in index and f'href="{name}.png"' in index
    assert 'href="f_mlp_steps.html"' in index
    # figure (a) shows the lecture's numbers; the written DOT equals an in-process drawing
    dot = (out / "a_two_layer.gv").read_text(encoding="utf-8")
    assert "<B>y</B> = 0.7426" in dot and "grad [-0.02584, 0.04838]" in dot
    E = two_layer_network("plain")
    with viz.record_grads():
        E.backward()
    assert viz.draw_graph(E, names=None).source == dot    # the page shows the title
    # (d) shows the batch mean and variance nodes; (f) has clusters, the collapsed one boxes
    bn = (out / "d_batchnorm.gv").read_text(encoding="utf-8")
    assert "<B>mean</B>" in bn and "<B>var</B>" in bn
    mlp = (out / "f_mlp.gv").read_text(encoding="utf-8")
    assert mlp.count("subgraph cluster_") >= 4 and "Linear" in mlp
    collapsed = (out / "f_mlp_collapsed.gv").read_text(encoding="utf-8")
    assert len(re.findall(r"^\t+m\d+ \[", collapsed, re.M)) == 3
    e = (out / "e_micrograd.gv").read_text(encoding="utf-8")
    assert 'label="do/dn = 1 - tanh(n)^2 = 0.5"' in e
    bw = (out / "g_backward_graph.gv").read_text(encoding="utf-8")
    assert "<B>do/dw1</B>" in bw and "<B>do/do</B>" in bw
    assert 'href="e_micrograd_steps.html"' in index


USER_FILE = textwrap.dedent("""
    import autodiff as ad

    def make():
        w = ad.tensor([1.0, -2.0], requires_grad=True, name="w")
        x = ad.tensor([3.0, 0.5], name="x")
        loss = ((w * x).tanh() ** 2).sum()
        loss.name = "loss"
        return loss

    def scoped():
        w = ad.tensor([1.0, -2.0], requires_grad=True)
        with ad.scope("layer"):
            h = (w * 3.0).tanh()
        return h.sum()

    def not_a_tensor():
        return 42
""")


@needs_renderer
def test_render_command(tmp_path):
    src = tmp_path / "user_model.py"
    src.write_text(USER_FILE)
    svg = tmp_path / "fig.svg"
    assert main(["render", f"{src}:make", "--out", str(svg), "--local-grads"]) == 0
    assert svg.read_text(encoding="utf-8").count("<svg") == 1
    dot = tmp_path / "fig.dot"
    assert main(["render", f"{src}:make", "--out", str(dot), "--precision", "2",
                 "--rankdir", "TB"]) == 0
    text = dot.read_text(encoding="utf-8")
    assert "rankdir=TB" in text and "<B>loss</B>" in text and "grad [" in text
    assert "grad ?" not in text                  # backward ran inside record_grads
    nob = tmp_path / "nob.dot"
    assert main(["render", f"{src}:make", "--out", str(nob), "--no-backward"]) == 0
    assert "grad ?" in nob.read_text(encoding="utf-8")
    page = tmp_path / "steps.html"
    assert main(["render", f"{src}:make", "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8").count('class="frame"') >= 5
    boxed = tmp_path / "boxed.dot"
    assert main(["render", f"{src}:scoped", "--out", str(boxed), "--collapse", "0"]) == 0
    assert 'm0 [label="layer\\n2 ops, 2 parameters"' in boxed.read_text(encoding="utf-8")
    assert main(["render", f"{src}:scoped", "--out", str(boxed), "--collapse", "layer"]) == 0
    assert "m0 [" in boxed.read_text(encoding="utf-8")
    bw = tmp_path / "bw.dot"
    assert main(["render", f"{src}:make", "--out", str(bw), "--backward-graph"]) == 0
    assert "dloss/dw" in bw.read_text(encoding="utf-8")


def test_render_command_errors(tmp_path, capsys):
    src = tmp_path / "user_model.py"
    src.write_text(USER_FILE)
    with pytest.raises(SystemExit, match="must return a Tensor"):
        main(["render", f"{src}:not_a_tensor", "--out", str(tmp_path / "x.svg")])
    with pytest.raises(SystemExit, match="no function"):
        main(["render", f"{src}:missing", "--out", str(tmp_path / "x.svg")])
    with pytest.raises(SystemExit, match="FILE.py:FUNC"):
        main(["render", str(src), "--out", str(tmp_path / "x.svg")])
    assert main(["render", f"{src}:make", "--out", str(tmp_path / "x.unknownformat")]) == 1
    assert "viz render: error" in capsys.readouterr().err
