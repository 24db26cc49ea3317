"""Slide-ready diagrams: legible on a projected 16:9 slide (text size read back from the
rendered SVG), text inside its boxes in a browser with only DejaVu fonts (headless
Chromium), names from the calling code, operand order, local-derivative labels, numbers,
and step pages as a lecturer uses them (numbering, captions, Jupyter, frames export)."""
import html
import os
import re
import shutil
import subprocess
import json
import textwrap

import pytest

pytest.importorskip("graphviz")

import helpers  # noqa: E402  (tests/ is on sys.path)
import autodiff as ad  # noqa: E402
import viz  # noqa: E402
from viz._format import number  # noqa: E402
from viz.gallery import FIGURES, figure_diagram, two_layer_network  # noqa: E402

HAVE_RENDERER, needs_renderer = helpers.renderer_marker()
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if os.path.exists("/usr/bin/chromium") else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not "
                                    "installed (.ci/run installs it with apt-get when it can)")
NODE = re.compile(r"^\t+(\w+) \[label=(<<TABLE.*</TABLE>>|\"(?:[^\"\\]|\\.)*\")", re.M)


def labels_by_name(source):
    out = {}
    for k, label in NODE.findall(source):
        m = re.search(r"<B>(.*?)</B>", label)
        if m and k.startswith("t"):
            out[m.group(1)] = label
    return out


# ---------------------------------------------------------------------- legibility
@needs_renderer
@pytest.mark.parametrize("fig", [f for f in FIGURES if f.name[0] in "abcdef"],
                         ids=lambda f: f.name)
def test_gallery_figure_is_legible_on_a_16_9_slide(fig):
    """Node text scaled with the whole figure onto a 13.33 x 7.5 in slide: >= 14 pt for
    (a)-(e), >= 10 pt for the MLP figures (f)."""
    svg = viz.render_bytes(figure_diagram(fig), "svg")
    size = viz.slide_text_size(svg)
    assert size["node"] >= (10.0 if fig.name.startswith("f") else 14.0), (fig.name, size)
    if size["edge"] is not None:                     # edge labels stay readable too
        assert size["edge"] >= 0.8 * size["node"]


def test_slide_text_size_reads_the_svg():
    svg = ('<svg width="1920pt" height="540pt" viewBox="0.00 0.00 1920.00 540.00">'
           '<g id="graph0" class="graph" transform="scale(1 1) rotate(0)">'
           '<g id="node1" class="node">\n<title>t0</title>\n<text font-size="14.00">x</text>'
           '</g><g id="node2" class="node">\n<title>legend_op</title>\n'
           '<text font-size="6.00">op</text></g></g></svg>')
    size = viz.slide_text_size(svg)           # twice a slide's width: half size
    assert size["node"] == pytest.approx(14 * 960 / 1920, rel=1e-3) and size["edge"] is None
    assert viz.slide_text_size(svg, slide=(26.667, 15))["node"] == pytest.approx(14, 1e-3)


@needs_renderer
def test_fit_wraps_a_long_chain_and_fit_none_keeps_one_strip():
    E = two_layer_network("plain")
    E.backward()
    fitted = viz.draw_graph(E, names=None)
    strip = viz.draw_graph(E, names=None, fit=None)
    assert "layout=nop2" in fitted.source and "layout=nop2" not in strip.source
    a, b = viz.slide_text_size(fitted), viz.slide_text_size(strip)
    assert a["node"] > 1.5 * b["node"]
    # the same nodes and edges either way
    ids = lambda src: sorted(re.findall(r"^\t+(\w+) \[label", src, re.M))  # noqa: E731
    edges = lambda src: sorted(e for e in re.findall(r"^\t+(\w+ -> \w+)", src, re.M)  # noqa
                               if not e.startswith("legend_"))
    assert ids(fitted.source) == ids(strip.source)
    assert edges(fitted.source) == edges(strip.source)
    # 4:3 is narrower: relatively taller than the 16:9 layout
    box = lambda src: [float(v) for v in re.search(r'bb="([^"]+)"', src)[1].split(",")]  # noqa
    w169, h169 = box(fitted.source)[2:]
    w43, h43 = box(viz.draw_graph(E, names=None, fit="4:3").source)[2:]
    assert w43 / h43 <= w169 / h169


@needs_renderer
def test_font_scale_and_size_options(tmp_path):
    E = two_layer_network("plain")
    big = viz.draw_graph(E, names=None, fit=None, font_scale=1.5).source
    assert "fontsize=21" in big                       # 14 pt node text x 1.5
    sized = viz.draw_graph(E, names=None, size=(13.333, 7.5))
    svg = viz.render_bytes(sized, "svg").decode()
    w, h = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    assert max(w / 960, h / 540) == pytest.approx(1, abs=0.01)   # fills a 16:9 slide
    for bad in (dict(fit="wide"), dict(font_scale=0), dict(size=(1,)), dict(precision=0)):
        with pytest.raises(ValueError):
            viz.draw_graph(E, **bad)


# ---------------------------------------------------------------------- fonts
CHECK_JS = r"""
<script>
function check() {
  var bad = [], n = 0;
  document.querySelectorAll('g.node').forEach(function (g) {
    var shapes = g.querySelectorAll('polygon, ellipse, path');
    if (!shapes.length) return;
    var boxes = Array.prototype.map.call(shapes, function (s) { return s.getBBox(); });
    g.querySelectorAll('text').forEach(function (t) {
      n++;
      var b = t.getBBox();
      var inside = boxes.some(function (s) {
        return b.x >= s.x - 0.5 && b.y >= s.y - 0.5 && b.x + b.width <= s.x + s.width + 0.5
          && b.y + b.height <= s.y + s.height + 0.5; });
      if (!inside) bad.push([g.querySelector('title').textContent, t.textContent]);
    });
  });
  document.body.setAttribute('data-result', JSON.stringify({texts: n, bad: bad,
    loaded: document.fonts.check('14px viz-sans')}));
}
document.fonts.ready.then(check);
</script>
"""


def chromium_fonts():
    proc = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True,
                          check=False) if shutil.which("fc-list") else None
    return proc.stdout if proc is not None else ""


@needs_renderer
@needs_chromium
def test_text_stays_inside_its_boxes_in_headless_chromium(tmp_path):
    """Every text element's bounding box, as the browser lays it out with the fonts this
    machine has (only DejaVu on CI), lies inside its node's shape."""
    figures = [f for f in FIGURES if f.name[0] in "ade"]
    for fig in figures:
        svg = viz.render_bytes(figure_diagram(fig), "svg").decode("utf-8")
        svg = re.sub(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", "", svg)
        page = tmp_path / f"{fig.name}.html"
        page.write_text("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>" +
                        svg + CHECK_JS + "</body></html>", encoding="utf-8")
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
             "--dump-dom", "file://" + str(page)],
            capture_output=True, text=True, timeout=120, check=False)
        m = re.search(r'data-result="([^"]*)"', proc.stdout)
        assert m, proc.stderr[-2000:]
        result = json.loads(html.unescape(m.group(1)))
        assert result["loaded"], "the embedded font did not load"
        assert result["texts"] > 20 and result["bad"] == [], (fig.name, result["bad"][:5],
                                                               chromium_fonts()[:500])


@needs_renderer
def test_svg_embeds_the_font_the_layout_measured():
    svg = viz.render_bytes(viz.draw_graph(two_layer_network("plain")), "svg").decode()
    assert svg.count("@font-face") == 2 and "data:font/woff2;base64," in svg
    families = set(re.findall(r'font-family="([^"]*)"', svg))
    assert families == {"viz-sans,Arimo,Arial,Liberation Sans,Helvetica,sans-serif"}
    licence = os.path.join(os.path.dirname(viz.__file__), "fonts", "OFL.txt")
    assert "SIL OPEN FONT LICENSE Version 1.1" in open(licence, encoding="utf-8").read()
    assert "@font-face" not in viz.render_bytes(viz.draw_graph(two_layer_network("plain")),
                                                "svg", embed_font=False).decode()


# ---------------------------------------------------------------------- names
def test_names_from_the_callers_variables():
    x = ad.tensor([0.0, 1.0], dtype=ad.float64)
    W1 = ad.tensor([[3.0, 4.0], [2.0, 3.0]], dtype=ad.float64, requires_grad=True)
    b1 = ad.tensor([-2.0, -4.0], dtype=ad.float64, requires_grad=True)
    h = (W1 @ x + b1).sigmoid()
    y = h.sum()
    E = (1.0 - y) ** 2
    src = viz.draw_graph(E, fit=None).source
    labels = labels_by_name(src)
    assert {"x", "W1", "b1", "h", "y", "E", "W1@x", "1-y"} <= set(labels)
    assert not any(re.fullmatch(r"t\d+", n) for n in labels)   # only W1@x + b1 unnamed
    # explicit names win over variables; t.name wins over a variable; names=None uses none
    renamed = labels_by_name(viz.draw_graph(E, names={"hidden": h}, fit=None).source)
    assert "hidden" in renamed and "h" not in renamed and "W1" in renamed
    y.name = "output"
    assert "output" in labels_by_name(viz.draw_graph(E, fit=None).source)
    bare = labels_by_name(viz.draw_graph(E, names=None, fit=None).source)
    assert "W1" not in bare and "output" in bare
    # the same code draws the same text
    assert viz.draw_graph(E, fit=None).source == viz.draw_graph(E, fit=None).source


def test_names_of_different_tensors_never_collide():
    a = ad.tensor(1.0, requires_grad=True, name="p")
    b = ad.tensor(2.0, requires_grad=True, name="p")
    labels = labels_by_name(viz.draw_graph(a * b, names=None, fit=None).source)
    assert {"p", "p'"} <= set(labels)


def test_cli_names_come_from_the_functions_locals(tmp_path):
    from viz.cli import main
    src = tmp_path / "model.py"
    src.write_text(textwrap.dedent("""
        import autodiff as ad
        def make():
            weights = ad.tensor([1.0, -2.0], requires_grad=True)
            inputs = ad.tensor([3.0, 0.5])
            hidden = (weights * inputs).tanh()
            loss = (hidden ** 2).sum()
            return loss
    """))
    out = tmp_path / "fig.dot"
    assert main(["render", f"{src}:make", "--out", str(out), "--fit", "none"]) == 0
    names = set(labels_by_name(out.read_text(encoding="utf-8")))
    assert {"weights", "inputs", "hidden", "loss"} <= names


# ---------------------------------------------------------------------- operand roles
def test_operand_order_and_roles_of_non_commutative_ops():
    W1 = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = ad.tensor([1.0, 1.0])
    t = ad.tensor(1.0)
    z = W1 @ x
    out = t - z.sum()
    src = viz.draw_graph(out, fit=None).source
    # edges into an op come in the code's operand order (dot keeps it with ordering=in)
    ops = re.findall(r'^\t(o\d+) \[label="([^"]*)"[^\n]*ordering=in', src, re.M)
    matmul = next(o for o, label in ops if label == "W1 @ x")   # z's name is not W1@x
    into = re.findall(rf"^\t(\w+) -> {matmul}\b", src, re.M)
    names = {k: re.search(r"<B>(.*?)</B>", v).group(1) for k, v in NODE.findall(src)
             if k.startswith("t")}
    assert [names[k] for k in into] == ["W1", "x"]
    # the output's own name, t - sum(z), is not that expression: the op writes the formula
    assert any(label == "t - sum(z)" for _, label in ops)
    long = ad.tensor(5.0, requires_grad=True, name="a_rather_long_name") - \
        ad.tensor(2.0, name="another_long_name")
    long.name = "d"
    roles = viz.draw_graph(long, fit=None).source
    assert 'label="minuend"' in roles and 'label="subtrahend"' in roles


# ---------------------------------------------------------------------- numbers
@pytest.mark.parametrize("value, text", [
    (-0.000147, "-1.47e-04"), (4.9e-05, "4.9e-05"), (0.7425526, "0.7426"),
    (-0.0258367, "-0.02584"), (1.0, "1"), (12345.6, "12346"), (3.0593, "3.059"),
    (0.99996, "1"), (2.5e9, "2.5e+09"), (0.0, "0")])
def test_numbers_keep_significant_digits(value, text):
    assert number(value, 4) == text


def test_small_gradients_keep_their_digits_on_nodes_and_edges():
    w = ad.tensor(-0.000147, dtype=ad.float64, requires_grad=True, name="w")
    c = ad.tensor(4.9e-05, dtype=ad.float64, requires_grad=True, name="c")
    out = w * c
    out.name = "out"
    src = viz.draw_graph(out, show_local_grads=True, fit=None).source
    assert "<B>w</B> = -1.47e-04" in src and "<B>c</B> = 4.9e-05" in src
    assert 'label="dout/dw = c = 4.9e-05"' in src and 'label="dout/dc = w = -1.47e-04"' in src


# ---------------------------------------------------------------------- step pages
def step_captions(page):
    return [html.unescape(c) for c in re.findall(r'<p class="caption">(.*?)</p>', page, re.S)]


@needs_renderer
def test_step_page_numbering_captions_and_non_grad_inputs(tmp_path):
    x1 = ad.tensor(2.0, dtype=ad.float64, requires_grad=True)
    w1 = ad.tensor(-3.0, dtype=ad.float64, requires_grad=True)
    x2 = ad.tensor(0.0, dtype=ad.float64)                  # needs no gradient
    w2 = ad.tensor(1.0, dtype=ad.float64, requires_grad=True)
    x1w1 = x1 * w1
    x1w1.name = "x1*w1"
    x2w2 = x2 * w2
    x2w2.name = "x2*w2"
    n = x1w1 + x2w2
    n.name = "x1*w1 + x2*w2"
    o = n.tanh()
    page = viz.backprop_steps(o, frames_dir=tmp_path / "frames", frame_formats=("svg",))
    assert isinstance(page, viz.StepPage) and isinstance(page, str)
    captions = step_captions(page)
    total = len(captions)
    assert total == 2 + 4                           # forward, one per op, done
    for k, caption in enumerate(captions, 1):       # the caption's number is the counter's
        assert caption.startswith(f"Step {k} of {total}:"), caption
    assert f"step 1 / {total}" in page
    # expressions are parenthesised: d o / d(x1*w1 + x2*w2), never do/dx1*w1 + x2*w2
    assert any("do/d(x1*w1 + x2*w2) = " in c for c in captions)
    assert not any("do/dx1*w1" in c for c in captions)
    # x2 needs no gradient: no caption or frame shows it receiving one
    assert not any("x2 receives" in c for c in captions)
    assert any("w2 receives" in c for c in captions)
    frames = page.frames
    assert len(frames) == total
    for source, _ in frames:
        for line in source.splitlines():
            if line.lstrip().startswith("t") and "-> o" in line and "passes" in line:
                tail = line.split()[0]
                assert "<B>x2</B>" not in dict(NODE.findall(source))[tail]
    # frames for slide decks: numbered files and the captions
    files = sorted(os.listdir(tmp_path / "frames"))
    assert files == ["captions.txt"] + [f"step_{k:02d}.svg" for k in range(1, total + 1)]
    lines = (tmp_path / "frames" / "captions.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("step_01: Step 1 of") and len(lines) == total
    # Jupyter shows the page in an iframe; .save writes it
    assert page._repr_html_().startswith("<iframe") and "srcdoc=" in page._repr_html_()
    saved = page.save(tmp_path / "steps.html")
    assert open(saved, encoding="utf-8").read() == str(page)


@needs_renderer
def test_step_frames_png_export(tmp_path):
    E = two_layer_network("plain")
    viz.backprop_steps(E, tmp_path / "s.html", frames_dir=tmp_path / "f",
                       frame_formats=("png",))
    pngs = sorted(p for p in os.listdir(tmp_path / "f") if p.endswith(".png"))
    assert len(pngs) == 12 and pngs[0] == "step_01.png"
    assert (tmp_path / "f" / pngs[-1]).read_bytes()[:4] == b"\x89PNG"


@needs_renderer
@needs_chromium
def test_step_page_is_legible_at_1280x720(tmp_path):
    """The frame's SVG scales to the window: at 1280 x 720 its node text is >= 12 px."""
    E = two_layer_network("plain")
    page = viz.backprop_steps(E, tmp_path / "steps.html")
    probe = tmp_path / "probe.html"
    text = open(page, encoding="utf-8").read().replace("</body>", """<script>
    document.fonts.ready.then(function () {
      var svg = document.querySelector('section.frame:not([hidden]) svg');
      var t = svg.querySelector('g.node text');
      var scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      var r = svg.getBoundingClientRect();
      document.body.setAttribute('data-px', String(parseFloat(t.getAttribute('font-size'))
        * scale) + ',' + r.right + ',' + r.bottom);
    });</script></body>""")
    probe.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,720", "--virtual-time-budget=5000", "--dump-dom",
         "file://" + str(probe)], capture_output=True, text=True, timeout=120, check=False)
    m = re.search(r'data-px="([\d.]+),([\d.]+),([\d.]+)"', proc.stdout)
    assert m, proc.stderr[-2000:]
    px, right, bottom = (float(v) for v in m.groups())
    assert px >= 12 and right <= 1280.5 and bottom <= 720.5
