"""viz.backprop_steps: frames in reverse topological order with the gradients passed to each
input, a self-contained page, and (when Debian's chromium is installed) a headless browser
check that the page loads, shows the first frame and advances on ArrowRight."""
import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("graphviz")

import helpers  # noqa: E402  (tests/ is on sys.path)
import autodiff as ad  # noqa: E402
import viz  # noqa: E402
from viz.dot import Options  # noqa: E402
from viz.gallery import two_layer_network  # noqa: E402
from viz.graph import GraphModel  # noqa: E402
from viz.steps import frames  # noqa: E402

HAVE_RENDERER, needs_renderer = helpers.renderer_marker()


def test_frames_follow_reverse_topological_order_with_passed_gradients():
    E = two_layer_network("plain")
    model = GraphModel(E)
    todo = frames(model, E, Options())
    steps = [f for f, _ in todo[1:-1]]
    assert len(steps) == 10                            # one per op
    order = [f.focus for f in steps]
    assert order == sorted(order, reverse=True)        # reverse topological order
    assert order[0] == model.index[id(E)]
    # the final frame holds the full gradient of every tensor that needs one
    final = todo[-1][0].grads
    E2 = two_layer_network("plain")
    E2.backward()
    leaves = {t.name: t for t in ad.topological_order(E2) if t.is_leaf and t.requires_grad}
    for i, t in enumerate(model.tensors):
        if t.is_leaf and t.requires_grad:
            g, complete = final[i]
            assert complete
            np.testing.assert_allclose(g, leaves[t.name].grad.numpy(), rtol=1e-12)
    # the step at sigmoid(s) passes dE/dh * h (1 - h) to s, and the caption says so
    h_step = next((f, c) for f, c in todo if f.focus is not None
                  and model.name[f.focus] == "h")
    frame, caption = h_step
    s_index = model.name.index("s")
    assert "s receives [-0.02584, 0.04838]" in caption
    assert "(local derivative dh/ds = σ(s) (1 - σ(s)))" in caption
    assert caption.startswith("Step 9 of 12: h = σ(s). ")
    assert frame.notes[(model.index[id(model.tensors[frame.focus])], 0)] == \
        "passes [-0.02584, 0.04838]"
    assert s_index in frame.receiving


def test_partial_gradients_are_marked_until_complete():
    x = ad.tensor(2.0, dtype=ad.float64, requires_grad=True, name="x")
    a = x * 3.0
    a.name = "a"
    y = a + a * a
    y.name = "y"
    model = GraphModel(y)
    todo = frames(model, y, Options())
    ia = model.index[id(a)]
    first_touch = next(f for f, _ in todo if ia in f.grads)
    assert first_touch.grads[ia][1] is False            # only one consumer done so far
    assert todo[-1][0].grads[ia] == (pytest.approx(1 + 2 * 6.0), True)


def test_steps_do_not_touch_grad():
    E = two_layer_network("plain")
    viz.backprop_steps(E, None) if HAVE_RENDERER else frames(GraphModel(E), E, Options())
    assert all(t.grad is None for t in ad.topological_order(E))


def test_freed_graph_replays_what_a_plain_backward_kept():
    E = two_layer_network("plain")
    E.backward()                                     # no wrapper: the engine kept them
    todo = frames(GraphModel(E), E, Options())
    assert len(todo) == 12
    fresh = two_layer_network("plain")
    assert [c for _, c in todo] == [c for _, c in frames(GraphModel(fresh), fresh, Options())]


def test_freed_graph_past_the_keep_limit_raises_clearly():
    E = two_layer_network("plain")
    previous = ad.set_keep_grads_limit(0)            # keep nothing
    try:
        E.backward()
    finally:
        ad.set_keep_grads_limit(previous)
    with pytest.raises(RuntimeError, match="keep_grads"):
        frames(GraphModel(E), E, Options())


def test_freed_graph_replays_a_recording():
    E = two_layer_network("plain")
    with viz.record_grads():
        E.backward()
    todo = frames(GraphModel(E), E, Options())
    assert len(todo) == 12


def test_non_scalar_output_is_rejected():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        frames(GraphModel(x * 2.0), x * 2.0, Options())


@needs_renderer
def test_page_is_self_contained(tmp_path):
    E = two_layer_network("plain")
    path = viz.backprop_steps(E, tmp_path / "steps.html", show_local_grads=True)
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>")
    sections = re.findall(r'<section class="frame" id="frame-(\d+)"( hidden)?>', text)
    assert len(sections) == 12 and sections[0] == ("0", "") \
        and all(h == " hidden" for _, h in sections[1:])
    assert text.count("<svg") == 12
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text
    # nothing is fetched: no external scripts, styles, images or fonts
    assert not re.search(r'<(script|link|img|iframe)[^>]*(src|href)=', text)
    assert "@import" not in text
    assert text.count("url(") == text.count("url(data:font/woff2;base64,") == 2  # the font
    assert "ArrowRight" in text and 'id="next"' in text and 'id="prev"' in text
    assert "Step 2 of 12: E = (t-y)^2 / 2. " in html.unescape(text)


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if os.path.exists("/usr/bin/chromium") else None)


@needs_renderer
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(.ci/run installs it with apt-get when it can)")
def test_page_in_headless_chromium(tmp_path):
    E = two_layer_network("plain")
    page = viz.backprop_steps(E, tmp_path / "steps.html")
    url = "file://" + os.path.abspath(page)

    def dump(suffix):
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
             "--dump-dom", url + suffix],
            capture_output=True, text=True, timeout=90, check=False)
        assert "<body" in proc.stdout, proc.stderr[-2000:]
        return proc.stdout

    def visible(dom):
        return [k for k, hidden in re.findall(
            r'<section class="frame" id="frame-(\d+)"( hidden(?:="")?)?>', dom) if not hidden]

    loaded = dump("")
    assert 'data-step="0"' in loaded and visible(loaded) == ["0"]
    assert "step 1 / 12" in loaded
    pressed = dump("#selftest")                  # the page presses ArrowRight once
    assert 'data-step="1"' in pressed and visible(pressed) == ["1"]
    assert "step 2 / 12" in pressed


@needs_renderer
def test_frame_ids_are_unique():
    text = viz.backprop_steps(two_layer_network("plain"), None)
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids)) > 12
