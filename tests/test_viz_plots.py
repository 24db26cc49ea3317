"""viz.plots: the data behind each figure (not pixels), against NumPy, closed forms and
manual runs; saving headless; ax=; the gallery's plots; viz without matplotlib."""
import copy
import subprocess
import sys
import textwrap
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
import viz  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import optim  # noqa: E402
from viz import plots as P  # noqa: E402
from viz.plots.layers import rebin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def _mlp(seed=0, act=nn.Tanh):
    ad.manual_seed(seed)
    return nn.Sequential(OrderedDict([("fc1", nn.Linear(3, 8)), ("act1", act()),
                                      ("fc2", nn.Linear(8, 8)), ("act2", act()),
                                      ("out", nn.Linear(8, 2))]))


# ---------------------------------------------------------------- activations
def test_activation_lines_are_the_function_and_its_autodiff_derivative():
    x = np.linspace(-4, 4, 161)
    fig = P.plot_activations({"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
                              "leaky": nn.LeakyReLU(0.1), "cube": lambda t: t ** 3},
                             x=x, layout="overlay")
    lines = _lines(fig.axes[0])
    s = 1 / (1 + np.exp(-x))
    expected = {"sigmoid": (s, s * (1 - s)), "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
                "relu": (np.maximum(x, 0), (x > 0).astype(float)),
                "leaky": (np.where(x > 0, x, 0.1 * x), np.where(x > 0, 1.0, 0.1)),
                "cube": (x ** 3, 3 * x ** 2)}
    for name, (f, df) in expected.items():
        np.testing.assert_allclose(lines[name].get_xdata(), x)
        np.testing.assert_allclose(lines[name].get_ydata(), f, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lines[f"{name}'"].get_ydata(), df, rtol=1e-10,
                                   atol=1e-12)


def test_activation_derivative_comes_from_the_engine():
    calls = []

    class Square(ad.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            calls.append(True)
            (a,) = ctx.saved
            return 7 * g  # deliberately not 2a: the plot must show the engine's rule

    (_, x, y, dy), = P.activation_curves({"sq": Square.apply}, x=[-1.0, 0.0, 2.0])
    assert calls and np.array_equal(y, [1.0, 0.0, 4.0]) and np.array_equal(dy, [7, 7, 7])


def test_activation_layouts_and_errors():
    grid = P.plot_activations(["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu",
                               "silu", "softplus", "prelu"])
    assert sum(a.get_visible() for a in grid.axes) == 9
    assert [a.get_title() for a in grid.axes[:3]] == ["sigmoid", "tanh", "ReLU"]
    pair = P.plot_activations(["sigmoid", "tanh"])
    assert len(pair.axes) == 2 and len(pair.axes[1].get_lines()) >= 2
    with pytest.raises(ValueError, match="unknown activation 'swoosh'"):
        P.plot_activations("swoosh")
    with pytest.raises(ValueError, match="only elementwise"):
        P.plot_activations({"sum": lambda t: t.sum()})


# ---------------------------------------------------------------- layer statistics
def _robust_range(v):
    """The documented histogram range: the 1st..99th percentiles widened by their span on
    each side, within the data's min and max."""
    lo, hi = np.percentile(v, [1, 99])
    return max(v.min(), lo - (hi - lo)), min(v.max(), hi + (hi - lo))


def test_collect_layer_stats_matches_numpy_and_leaves_grads_alone():
    model = _mlp()
    ad.manual_seed(1)
    x = ad.randn(64, 3)
    target = ad.randint(0, 2, (64,))
    snap = viz.collect_layer_stats(model, x, F.cross_entropy, target, step=5, epoch=2)
    assert snap["step"] == 5 and snap["epoch"] == 2
    assert list(snap["layers"]) == ["fc1", "act1", "fc2", "act2", "out"]
    # the activations, recomputed by hand
    h1 = model.fc1(x)
    a1 = model.act1(h1)
    h2 = model.fc2(a1)
    a2 = model.act2(h2)
    out = model.out(a2)
    grads = ad.grad(F.cross_entropy(out, target), [h1, a1, h2, a2, out])
    for (name, t), g in zip([("fc1", h1), ("act1", a1), ("fc2", h2), ("act2", a2),
                             ("out", out)], grads):
        entry = snap["layers"][name]
        v = t.numpy().astype(np.float64).ravel()
        assert entry["mean"] == pytest.approx(v.mean(), rel=1e-6)
        assert entry["std"] == pytest.approx(v.std(), rel=1e-6)
        pct = np.percentile(v, [1, 5, 15, 25, 50, 75, 85, 95, 99])
        np.testing.assert_allclose([entry["percentiles"][q] for q in
                                    (1, 5, 15, 25, 50, 75, 85, 95, 99)], pct, rtol=1e-6)
        value_range = (-1.0, 1.0) if name.startswith("act") else _robust_range(v)
        counts, edges = np.histogram(v, bins=30, range=value_range)
        assert entry["hist"]["counts"] == counts.tolist()
        np.testing.assert_allclose(entry["hist"]["edges"], edges)
        hist = entry["hist"]
        assert sum(hist["counts"]) + hist["below"] + hist["above"] == v.size
        gv = g.numpy().astype(np.float64).ravel()
        assert entry["grad_std"] == pytest.approx(gv.std(), rel=1e-6)
        assert entry["grad_hist"]["counts"] == np.histogram(
            gv, bins=30, range=_robust_range(gv))[0].tolist()
        assert entry["nan"] == entry["inf"] == entry["grad_nan"] == entry["grad_inf"] == 0
        saturation = (np.mean(np.abs(v) > 0.97) if name.startswith("act")
                      else np.mean(v == 0))
        assert entry["saturation"] == pytest.approx(saturation)
    w = model.fc2.weight
    assert snap["layers"]["fc2"]["weight_norm"] == pytest.approx(np.linalg.norm(w.numpy()),
                                                                 rel=1e-6)
    (gw,) = ad.grad(F.cross_entropy(model(x), target), [w])
    assert snap["layers"]["fc2"]["weight_grad_norm"] == pytest.approx(
        np.linalg.norm(gw.numpy()), rel=1e-5)
    assert all(p.grad is None for p in model.parameters())  # ad.grad, not backward


def test_collect_layer_stats_selection_saturation_and_errors():
    model = _mlp(act=nn.ReLU)
    x = ad.randn(32, 3)
    snap = viz.collect_layer_stats(model, x, layers="activations")
    assert list(snap["layers"]) == ["act1", "act2"]
    a = model.act1(model.fc1(x)).numpy()
    assert snap["layers"]["act1"]["saturation"] == pytest.approx(np.mean(a == 0))
    assert "grad_std" not in snap["layers"]["act1"]
    sig = nn.Sequential(nn.Linear(3, 50), nn.Sigmoid())
    with ad.no_grad():
        sig[0].weight.data[...] *= 20  # push the sigmoid into both flat ends
    s = sig(x).numpy()
    entry = viz.collect_layer_stats(sig, x, layers=["1"])["layers"]["1"]
    assert entry["saturation"] == pytest.approx(np.mean((s < 0.03) | (s > 0.97)))
    assert 0 < np.mean(s < 0.03) and 0 < np.mean(s > 0.97)
    # a diverged layer: NaN/Inf stay out of the percentiles and histogram, mean shows them
    from viz.plots.stats import summarize
    entry = summarize([1.0, 2.0, np.nan, np.inf, 3.0])
    assert entry["nan"] == 1 and entry["inf"] == 1 and np.isnan(entry["mean"])
    assert sum(entry["hist"]["counts"]) == 3 and entry["percentiles"][50] == 2.0
    assert summarize([np.nan])["hist"]["counts"] == []
    # the same numbers as the training workflow's LayerStats computes
    from nn.training import activation_summary
    v = np.random.default_rng(0).normal(size=100)
    assert summarize(v, "tanh") == activation_summary(v, "tanh")
    with pytest.raises(ValueError, match="no module named"):
        viz.collect_layer_stats(model, x, layers=["nope"])
    with pytest.raises(TypeError, match="nn.Module"):
        viz.collect_layer_stats(lambda t: t, x)


def _tanh_stats(gain, depth=4, width=64, seed=0):
    ad.manual_seed(seed)
    layers = []
    for i in range(depth):
        lin = nn.Linear(width, width, bias=False)
        nn.init.normal_(lin.weight, 0.0, gain / np.sqrt(width))
        layers += [(f"fc{i}", lin), (f"tanh{i}", nn.Tanh())]
    model = nn.Sequential(OrderedDict(layers))
    x = ad.randn(16, width)
    return model, x, viz.collect_layer_stats(model, x, layers="activations")


def test_layer_histograms_are_numpys_counts():
    model, x, snap = _tanh_stats(1.0)
    fig = P.plot_layer_stats(snap, style="hist")
    patches = [a.patches[0] for a in fig.axes]
    h = x
    for patch, i in zip(patches, range(4)):
        h = getattr(model, f"tanh{i}")(getattr(model, f"fc{i}")(h))
        values, edges, _ = patch.get_data()
        counts, np_edges = np.histogram(h.numpy().astype(np.float64), bins=30, range=(-1, 1))
        np.testing.assert_allclose(edges, np_edges)
        np.testing.assert_allclose(values, counts / counts.sum())


def test_layer_std_lines_and_run_comparison():
    runs = {"small": _tanh_stats(0.3)[2], "xavier": _tanh_stats(1.0)[2]}
    fig = P.plot_layer_stats(runs, style="std")
    lines = _lines(fig.axes[0])
    for label, snap in runs.items():
        expected = [e["std"] for e in snap["layers"].values()]
        np.testing.assert_allclose(lines[label].get_ydata(), expected)
    assert fig.axes[0].get_yscale() == "log"  # 0.3^4 collapse spans > 30x
    both = P.plot_layer_stats(runs, style="both")
    assert len(both.axes) == 1 + 2 * 4
    with pytest.raises(ValueError, match="loss_fn"):
        P.plot_layer_stats(runs, kind="gradients")


def test_each_runs_histograms_wear_its_std_line_colour():
    runs = {f"gain {g}": _tanh_stats(g)[2] for g in (0.3, 1.0, 3.0, 0.5, 2.0)}
    fig = P.plot_layer_stats(runs, style="both")
    std_ax, hists = fig.axes[0], np.reshape(fig.axes[1:], (5, 4))
    from matplotlib.colors import to_hex
    line_colours = [to_hex(_lines(std_ax)[label].get_color()) for label in runs]
    assert len(set(line_colours)) == 5                       # five runs, five styles
    for row, colour in zip(hists, line_colours):
        assert {to_hex(a.patches[0].get_facecolor()) for a in row} == {colour}
        assert to_hex(row[0].yaxis.label.get_color()) == colour


def test_layer_stats_plot_says_nan_and_counts_what_the_range_leaves_out():
    from nn.training import activation_summary
    rng = np.random.default_rng(0)
    spread = rng.normal(size=2000)
    spread[:4] = [500.0, 800.0, -900.0, 1e4]                 # far outliers: 1 below, 3 above
    half_nan = np.tanh(rng.normal(size=2000))
    half_nan[:500] = np.nan
    snap = {"step": 0, "layers": {"spread": activation_summary(spread),
                                  "diverging": activation_summary(half_nan, "tanh"),
                                  "dead": activation_summary(np.full(100, np.nan))}}
    fig = P.plot_layer_stats(snap, style="both")
    std_ax, (spread_ax, diverging_ax, dead_ax) = fig.axes[0], fig.axes[1:]
    texts = lambda a: [t.get_text() for t in a.texts]  # noqa: E731
    assert "◀ 1" in texts(spread_ax) and "3 ▶" in texts(spread_ax)
    values, edges, _ = spread_ax.patches[0].get_data()
    assert values.sum() == pytest.approx(1996 / 2000)        # shares of all the values
    assert edges[-1] < 10                                    # the outliers did not set it
    assert "NaN 25%" in texts(diverging_ax) and "all NaN" in texts(dead_ax)
    assert not dead_ax.patches                               # nothing finite to draw
    assert {"NaN 25%", "all NaN"} <= set(texts(std_ax))      # the gaps in the std line
    assert "outliers beyond the range" in fig.get_supxlabel()
    clean = P.plot_layer_stats(_tanh_stats(1.0)[2], style="hist")
    assert clean.get_supxlabel() == ""                       # no note when nothing is cut
    assert not any(t.get_text().endswith("▶") for a in clean.axes for t in a.texts)


def _extent(artist):
    return artist.get_window_extent(artist.figure.canvas.get_renderer())


def test_titles_stay_clear_of_legends_and_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    title = "Activation functions and their derivatives, computed by the engine's autodiff"
    fig = P.plot_activations(["sigmoid", "tanh", "relu", "elu", "gelu"], layout="grid",
                             title=title)
    FigureCanvasAgg(fig).draw()
    (key,) = fig.legends
    heading = key.get_title()
    assert heading.get_text().replace("\n", " ") == title
    box = _extent(heading)
    for entry in key.get_texts():                            # stacked above the entries
        assert box.y0 >= _extent(entry).y1 - 1
    fig_box = fig.bbox
    assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1
    long = "A title far longer than one line of a slide can hold: " * 3
    fig = P.plot_layer_stats(_tanh_stats(1.0)[2], style="hist", title=long)
    FigureCanvasAgg(fig).draw()
    text = fig.get_suptitle()
    assert text.replace("\n", " ").split() == long.split() and text.count("\n") >= 1
    box = _extent(fig._suptitle)
    assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1


def test_rebin_exact_on_nested_bins_and_display_of_different_ranges():
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    fine, fine_edges = np.histogram(v, bins=40, range=(-4, 4))
    coarse, coarse_edges = np.histogram(v, bins=10, range=(-4, 4))
    np.testing.assert_allclose(rebin(fine, fine_edges, coarse_edges), coarse)
    # a collapsed layer (tiny range) shows as one spike on the row's common range
    wide = {"counts": np.histogram(v, 20)[0].tolist(), "edges": np.histogram(v, 20)[1].tolist()}
    tiny_values = v * 1e-6
    tiny = {"counts": np.histogram(tiny_values, 20)[0].tolist(),
            "edges": np.histogram(tiny_values, 20)[1].tolist()}
    snap = {"step": 0, "layers": {"a": {"hist": wide, "std": 1.0},
                                  "b": {"hist": tiny, "std": 1e-6}}}
    fig = P.plot_layer_stats(snap, style="hist")
    values, edges, _ = fig.axes[1].patches[0].get_data()
    assert edges[0] == pytest.approx(v.min()) and edges[-1] == pytest.approx(v.max())
    assert values.max() == pytest.approx(1.0) and values.sum() == pytest.approx(1.0)


def test_update_ratios_and_percentiles_follow_the_snapshots():
    snaps = []
    for step in (10, 20, 30):
        snaps.append({"step": step, "epoch": 1, "layers": {
            "fc1": {"update_ratio": 1e-3 * step, "percentiles": {15: -step, 50: 0.0,
                                                                 85: step}},
            "act1": {"percentiles": {"15": -1.0, "50": 0.5, "85": 2.0}}}})

    class Recorder:  # a LayerStats-like object
        snapshots = snaps

    fig = P.plot_update_ratios(Recorder())
    line = _lines(fig.axes[0])["layer fc1"]
    np.testing.assert_allclose(line.get_xdata(), [10, 20, 30])
    np.testing.assert_allclose(line.get_ydata(), [0.01, 0.02, 0.03])
    assert fig.axes[0].get_yscale() == "log"
    fig = P.plot_percentiles(snaps, "fc1")
    lines = _lines(fig.axes[0])
    np.testing.assert_allclose(lines["85th percentile"].get_ydata(), [10, 20, 30])
    fig = P.plot_percentiles(snaps, "act1", q=(50,))  # JSON-style string keys
    np.testing.assert_allclose(_lines(fig.axes[0])["50th percentile"].get_ydata(), [0.5] * 3)
    with pytest.raises(ValueError, match="not recorded"):
        P.plot_percentiles(snaps, "fc1", q=(10,))
    with pytest.raises(ValueError, match="update_ratio"):
        P.plot_update_ratios([{"step": 0, "layers": {"a": {"std": 1.0}}}])


# ---------------------------------------------------------------- history and lr
HIST = {"loss": [1.0, 0.6, 0.4, 0.3, 0.25], "val_loss": [1.1, 0.7, 0.55, 0.6, 0.7],
        "accuracy": [0.5, 0.7, 0.8, 0.85, 0.9], "val_accuracy": [0.45, 0.65, 0.75, 0.7, 0.68]}


def test_history_curves_and_best_epoch():
    fig = P.plot_history(HIST)
    loss_ax, acc_ax = fig.axes
    lines = _lines(loss_ax)
    np.testing.assert_allclose(lines["training"].get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(lines["validation"].get_ydata(), HIST["val_loss"])
    np.testing.assert_allclose(_lines(acc_ax)["validation"].get_ydata(), HIST["val_accuracy"])
    best = lines["best epoch 3"]
    assert list(best.get_xdata()) == [3, 3]
    star = lines["best val_loss 0.55"]
    assert list(star.get_xdata()) == [3] and list(star.get_ydata()) == [0.55]


def test_history_object_and_to_dict_forms():
    epochs = [{"epoch": i + 1, "loss": l, "val_loss": v, "lr": 0.1, "seconds": 1.0}
              for i, (l, v) in enumerate(zip(HIST["loss"], HIST["val_loss"]))]

    class History:  # the INTERFACES §4 shape
        def __init__(self):
            self.epochs, self.steps = epochs, [{"step": k + 1, "epoch": k // 2 + 1,
                                                "loss": 1.0 / (k + 1), "lr": 0.1}
                                               for k in range(10)]
            self.best_epoch, self.monitor, self.mode, self.stopped_epoch = 2, "val_loss", "min", 5

        def to_dict(self):
            return {"epochs": self.epochs, "steps": self.steps, "best_epoch": 2,
                    "monitor": "val_loss", "mode": "min", "stopped_epoch": 5}

    h = History()
    for source in (h, h.to_dict()):
        fig = P.plot_history(source, steps=True)
        assert len(fig.axes) == 1  # no accuracy recorded
        lines = _lines(fig.axes[0])
        assert "best epoch 2" in lines and "stopped early (epoch 5)" in lines
        np.testing.assert_allclose(lines["training, per step"].get_ydata(),
                                   [1.0 / (k + 1) for k in range(10)])
    fig = P.plot_lr(h)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [0.1] * 5)
    compare = P.plot_history({"a": HIST, "b": h}, metrics="loss")
    labels = _lines(compare.axes[0])
    assert "a, validation" in labels and "b, training" in labels
    with pytest.raises(ValueError, match="none of"):
        P.plot_history(HIST, metrics=("f1",))


def test_plot_lr_simulates_a_copy_of_the_scheduler():
    p = ad.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    fig = P.plot_lr(sched, steps=12)
    ref_opt = optim.SGD([ad.tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    ref = optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10)
    expected = [ref_opt.param_groups[0]["lr"]]
    for _ in range(11):
        ref_opt.step()
        ref.step()
        expected.append(ref_opt.param_groups[0]["lr"])
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), expected)
    assert sched.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.1  # untouched
    assert opt.param_groups[0]["params"][0] is p
    step = P.plot_lr({"step": optim.lr_scheduler.StepLR(opt, 3, 0.1)}, steps=9)
    np.testing.assert_allclose(step.axes[0].get_lines()[0].get_ydata(),
                               [0.1] * 3 + [0.01] * 3 + [0.001] * 3)
    assert step.axes[0].get_yscale() == "log"
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        P.plot_lr(optim.lr_scheduler.ReduceLROnPlateau(opt), steps=5)
    with pytest.raises(ValueError, match="steps="):
        P.plot_lr(sched)


# ---------------------------------------------------------------- optimizer paths
def _manual(fn, cls, kwargs, start, steps, noise=0.0, seed=0):
    theta = ad.tensor(np.array(start, dtype=np.float64), requires_grad=True)
    opt = cls([theta], **kwargs)
    g = ad.Generator().manual_seed(seed)
    points = [theta.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        fn(theta).backward()
        if noise:
            theta.grad = ad.tensor(theta.grad.numpy() + noise * ad.randn(
                *theta.shape, dtype=ad.float64, generator=g).numpy())
        opt.step()
        points.append(theta.numpy().copy())
    return np.array(points)


@pytest.mark.parametrize("problem", ["valley", "rosenbrock", "saddle"])
def test_optimizer_paths_equal_a_manual_run(problem):
    fn = P.valley(1.0, 10.0) if problem == "valley" else getattr(P, problem)
    fig = P.plot_optimizer_paths(fn, steps=25)
    lines = fig.axes[0].get_lines()
    for label, (name, kwargs, *_) in fn.optimizers.items():
        line = next(ln for ln in lines if ln.get_label().startswith(f"{label}:"))
        expected = _manual(fn, getattr(optim, name), kwargs, fn.start, 25)
        np.testing.assert_allclose(np.column_stack([line.get_xdata(), line.get_ydata()]),
                                   expected, rtol=1e-12, atol=1e-12)


def test_noisy_gradients_and_one_dimensional_paths():
    fn = P.multi_minima_1d
    fig = P.plot_optimizer_paths(fn)
    steps_ax = fig.axes[1]
    for label, (name, kwargs, *rest) in fn.optimizers.items():
        noise = rest[0]["noise"] if rest else 0.0
        expected = _manual(fn, getattr(optim, name), kwargs, fn.start, fn.steps, noise)
        np.testing.assert_allclose(_lines(steps_ax)[label].get_ydata(), expected[:, 0])
    gd, sgd = (_lines(steps_ax)[k].get_ydata()[-1] for k in fn.optimizers)
    assert gd == pytest.approx(2.80, abs=0.02)  # the local minimum next to the start
    assert abs(sgd - 0.46) < 0.5  # the noise carried SGD into the global minimum's basin
    # the same path through the public helper; a custom function and optimizer
    path = P.optimizer_path(lambda t: (t * t).sum(), optim.SGD, {"lr": 0.25}, [2.0, -4.0], 3)
    np.testing.assert_allclose(path, [[2, -4], [1, -2], [0.5, -1], [0.25, -0.5]])
    fig = P.plot_optimizer_paths(lambda t: (t * t).sum(), {"GD": (optim.SGD, {"lr": 0.25})},
                                 start=[2.0, -4.0], steps=3)
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("GD"))
    np.testing.assert_allclose(line.get_ydata(), [-4, -2, -1, -0.5])
    with pytest.raises(ValueError, match="give optimizers"):
        P.plot_optimizer_paths(lambda t: (t * t).sum(), start=[1.0, 1.0])


def test_test_functions_values():
    f = lambda fn, *p: fn(ad.tensor(np.array(p, dtype=np.float64))).item()  # noqa: E731
    assert f(P.rosenbrock, 1.0, 1.0) == 0.0 and f(P.rosenbrock, 0.0, 0.0) == 1.0
    assert f(P.valley(2.0, 8.0), 1.0, 1.0) == 5.0
    assert f(P.saddle, 0.0, np.sqrt(2)) == pytest.approx(-1.0)
    xs = np.linspace(-5, 5, 2001)
    ys = np.array([f(P.multi_minima_1d, v) for v in xs])
    assert xs[np.argmin(ys)] == pytest.approx(0.46, abs=0.01)
    with pytest.raises(ValueError):
        P.valley(0.0, 1.0)


# ---------------------------------------------------------------- loss landscape
def test_loss_landscape_centre_filter_norms_and_restoration():
    model = _mlp()
    model.train()
    ad.manual_seed(3)
    x, y = ad.randn(40, 3), ad.randint(0, 2, (40,))
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    (d,) = P.random_directions(model, 1, seed=1)
    for name, p in model.named_parameters():
        w = p.numpy().astype(np.float64)
        if w.ndim >= 2:  # every filter (row) gets the norm of the weight's row
            np.testing.assert_allclose(np.linalg.norm(d[name], axis=1),
                                       np.linalg.norm(w, axis=1), rtol=1e-10)
        else:
            assert not d[name].any()  # biases: zero direction (Li et al.)
    with ad.no_grad():
        expected = F.cross_entropy(model(x), y).item()
    result = P.loss_landscape(model, F.cross_entropy, (x, y), directions=[d], resolution=21)
    assert result["center"] == pytest.approx(expected, rel=1e-6)
    assert result["losses"][10] == pytest.approx(expected, rel=1e-6)  # alpha = 0
    # alpha = 1 by hand
    probe = copy.deepcopy(model)
    with ad.no_grad():
        for name, p in probe.named_parameters():
            p.data[...] = p.data + d[name].astype(p.data.dtype)
        at_one = F.cross_entropy(probe(x), y).item()
    assert result["losses"][-1] == pytest.approx(at_one, rel=1e-5)
    for name, p in model.named_parameters():
        assert np.array_equal(p.numpy(), before[name])  # restored exactly
    assert model.training
    fig = P.plot_loss_landscape(model, F.cross_entropy, (x, y), directions=[d],
                                resolution=21, label="mlp")
    line = _lines(fig.axes[0])["mlp"]
    np.testing.assert_allclose(line.get_ydata(), result["losses"])
    two = P.plot_loss_landscape(model, F.cross_entropy, [(x, y)], kind="2d", resolution=5)
    assert len(two.axes) == 2  # the map and its colorbar
    # networks compared: one panel each on ONE colour scale (same levels, one colour bar)
    other = _mlp(seed=7)
    both = P.plot_loss_landscape({"a": model, "b": other}, F.cross_entropy, (x, y),
                                 kind="2d", resolution=7)
    panels = [a for a in both.axes if a.get_title() in ("a", "b")]
    assert len(panels) == 2 and len(both.axes) == 3
    filled = [next(c for c in a.collections if hasattr(c, "levels")) for a in panels]
    np.testing.assert_array_equal(filled[0].levels, filled[1].levels)
    assert filled[0].norm.vmin == filled[1].norm.vmin and filled[0].norm.vmax == \
        filled[1].norm.vmax
    planes = [P.loss_landscape(m, F.cross_entropy, (x, y), kind="2d", resolution=7)["losses"]
              for m in (model, other)]
    every = np.concatenate([p.ravel() for p in planes])          # the scale spans both
    assert filled[0].levels[0] == pytest.approx(every.min())
    assert filled[0].levels[-1] == pytest.approx(np.quantile(every, 0.98))
    bar = both.axes[-1]
    assert "one scale for all panels" in bar.get_ylabel()
    assert all(label.get_text() and "times" not in label.get_text()
               for label in bar.get_yticklabels())
    lines = P.plot_loss_landscape({"a": model, "b": other}, F.cross_entropy, (x, y),
                                  resolution=9)
    assert set(_lines(lines.axes[0])) >= {"a", "b"}
    np.testing.assert_allclose(_lines(lines.axes[0])["b"].get_ydata(), P.loss_landscape(
        other, F.cross_entropy, (x, y), resolution=9)["losses"])
    raw = P.random_directions(model, 1, filter_normalize=False, seed=1)[0]
    total = np.sqrt(sum((v ** 2).sum() for v in raw.values()))
    norm = np.sqrt(sum((p.numpy().astype(np.float64) ** 2).sum() for p in model.parameters()))
    assert total == pytest.approx(norm)


# ---------------------------------------------------------------- search, boundary
RECORDS = [
    {"trial": 0, "config": {"lr": 1e-3, "wd": 0.1}, "metrics": {"val_loss": 0.9},
     "status": "ok", "error": None, "seconds": 1.0, "seed": 0, "round": 0},
    {"trial": 1, "config": {"lr": 1e-1, "wd": 0.01}, "metrics": {"val_loss": 0.2},
     "status": "ok", "error": None, "seconds": 1.0, "seed": 1, "round": 0},
    {"trial": 2, "config": {"lr": 3.0, "wd": 0.5}, "metrics": {}, "status": "failed",
     "error": "nan", "seconds": 1.0, "seed": 2, "round": 0},
    {"trial": 3, "config": {"lr": 5e-2, "wd": 0.02}, "metrics": {"val_loss": 0.4},
     "status": "ok", "error": None, "seconds": 1.0, "seed": 3, "round": 1},
]


def test_search_scatter_best_failed_and_results_object():
    class Results:
        def to_records(self):
            return RECORDS

    fig = P.plot_search(Results(), "lr", "wd", color="val_loss")
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections[:2]])
    np.testing.assert_allclose(offsets, [[1e-3, 0.1], [1e-1, 0.01], [5e-2, 0.02]])
    np.testing.assert_allclose(ax.collections[0].get_array(), [0.9, 0.2])
    failed, best = ax.collections[2], ax.collections[3]
    np.testing.assert_allclose(failed.get_offsets(), [[3.0, 0.5]])
    np.testing.assert_allclose(best.get_offsets(), [[1e-1, 0.01]])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    one = P.plot_search(RECORDS, "lr", log="x")  # metric on y
    np.testing.assert_allclose(one.axes[0].collections[0].get_offsets()[:, 1], [0.9, 0.2])
    assert one.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="neither a hyperparameter nor a metric"):
        P.plot_search(RECORDS, "momentum")


def test_grid_vs_random_layouts():
    fig = P.plot_grid_vs_random(9, seed=4)
    grid, rand = (a.collections[0].get_offsets() for a in fig.axes[:2])
    assert len(np.unique(grid[:, 0])) == 3 and len(np.unique(rand[:, 0])) == 9
    np.testing.assert_allclose(rand, ad.rand(9, 2, dtype=ad.float64,
                                             generator=ad.Generator().manual_seed(4)).numpy())
    state = ad.get_rng_state()
    P.plot_grid_vs_random(9, seed=4)
    assert np.array_equal(ad.get_rng_state().numpy(), state.numpy())  # global stream untouched
    with pytest.raises(ValueError, match="square"):
        P.plot_grid_vs_random(8)


def test_decision_boundary_grid_is_the_models_argmax():
    model = nn.Sequential(nn.Linear(2, 3))
    with ad.no_grad():
        model[0].weight.data[...] = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
        model[0].bias.data[...] = 0.0
    X = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.5, -1.0]], dtype=np.float32)
    y = np.array([0, 1, 2, 0])
    g = P.decision_grid(model, X, resolution=30)
    gx, gy = np.meshgrid(g["xs"], g["ys"])
    scores = np.stack([gx, -gx, gy])
    np.testing.assert_array_equal(g["classes"], scores.argmax(axis=0))
    fig = P.plot_decision_boundary(model, X, y, resolution=30)
    scatters = [c for c in fig.axes[0].collections if c.get_label().startswith("class")]
    np.testing.assert_allclose(scatters[0].get_offsets(), X[y == 0])
    logit = nn.Sequential(nn.Linear(2, 1))
    binary = P.decision_grid(logit, X, resolution=10)
    with ad.no_grad():
        raw = logit(ad.tensor(np.column_stack([a.ravel() for a in np.meshgrid(
            binary["xs"], binary["ys"])]).astype(np.float32))).numpy().ravel()
    np.testing.assert_array_equal(binary["classes"].ravel(), (raw > 0).astype(int))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        P.plot_decision_boundary(model, np.zeros((3, 3)), [0, 1, 2])


# ---------------------------------------------------------------- saving, ax=, style
def _every_plot(size):
    """One figure from each plotting function, at `size`."""
    snap = _tanh_stats(1.0, depth=2, width=16)[2]
    snaps = [dict(snap, step=k) for k in range(3)]
    for k, sn in enumerate(snaps):
        sn["layers"] = {n: dict(e, update_ratio=1e-3 * (k + 1)) for n, e in sn["layers"].items()}
    model = _mlp()
    x, y = ad.randn(20, 3), ad.randint(0, 2, (20,))
    clf = nn.Sequential(nn.Linear(2, 3))
    X2 = np.random.default_rng(0).normal(size=(12, 2))
    return {
        "activations": P.plot_activations(["tanh", "relu"], size=size),
        "layer_stats": P.plot_layer_stats(snap, size=size),
        "update_ratios": P.plot_update_ratios(snaps, size=size),
        "percentiles": P.plot_percentiles(snaps, "tanh0", size=size),
        "history": P.plot_history(HIST, size=size),
        "lr": P.plot_lr([0.1, 0.1, 0.01], size=size),
        "paths": P.plot_optimizer_paths(P.valley(), steps=5, resolution=30, size=size),
        "landscape": P.plot_loss_landscape(model, F.cross_entropy, (x, y), resolution=5,
                                           size=size),
        "landscape_3d": P.plot_loss_landscape(model, F.cross_entropy, (x, y), kind="3d",
                                              resolution=4, size=size),
        "search": P.plot_search(RECORDS, "lr", "wd", size=size),
        "grid_vs_random": P.plot_grid_vs_random(4, size=size),
        "boundary": P.plot_decision_boundary(clf, X2, np.arange(12) % 3, resolution=20,
                                             size=size),
    }


def test_every_figure_saves_as_svg_and_png_headless(tmp_path):
    from matplotlib.figure import Figure

    for name, fig in _every_plot((6.4, 3.6)).items():
        assert isinstance(fig, Figure), name
        svg = viz.save_figure(fig, tmp_path / f"{name}.svg")
        png = viz.save_figure(fig, tmp_path / "sub" / f"{name}.png", dpi=25)
        assert "<svg" in Path(svg).read_text(encoding="utf-8")[:1000], name
        data = Path(png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (
            160, 90), name
    assert not list(tmp_path.rglob(".*.tmp"))  # atomic writes leave no temporary file


def test_slide_size_pdf_and_reproducible_svg(tmp_path):
    fig = P.plot_history(HIST)
    assert tuple(fig.get_size_inches()) == (12.8, 7.2)  # 16:9 by default
    png = Path(viz.save_figure(fig, tmp_path / "h.png")).read_bytes()
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
        1920, 1080)
    assert Path(viz.save_figure(fig, tmp_path / "h.pdf")).read_bytes()[:5] == b"%PDF-"
    # reproducible: the same figure built again gives the same file (no dates, fixed ids)
    first = viz.save_figure(P.plot_lr([0.1, 0.01]), tmp_path / "a.svg")
    second = viz.save_figure(P.plot_lr([0.1, 0.01]), tmp_path / "b.svg")
    assert Path(first).read_bytes() == Path(second).read_bytes()
    with pytest.raises(ValueError, match="suffix"):
        viz.save_figure(fig, tmp_path / "x.gif")
    with pytest.raises(TypeError, match="viz.save"):
        viz.save_figure(object(), tmp_path / "x.svg")


def test_ax_draws_into_the_given_axes():
    fig, (a, b) = P.slide_figure(1, 2, size="4:3")
    assert tuple(fig.get_size_inches()) == (9.6, 7.2)
    assert P.plot_history(HIST, metrics="loss", ax=a) is fig
    assert P.plot_activations(["relu"], ax=b) is fig
    assert len(a.get_lines()) >= 2 and len(b.get_lines()) >= 2
    with pytest.raises(ValueError, match="2 Axes"):
        P.plot_history(HIST, ax=a)
    with pytest.raises(ValueError, match="size"):
        P.plot_activations("relu", size="5:4")


def test_palette_is_okabe_ito_and_axes_are_labelled():
    assert P.PALETTE[:3] == ["#0072B2", "#E69F00", "#009E73"]
    fig = P.plot_lr([0.1, 0.01, 0.001])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate (log scale)"
    assert ax.xaxis.label.get_size() >= 16 and ax.title.get_size() >= 18


# ---------------------------------------------------------------- gallery, layering, import
def test_gallery_renders_plots_serially_and_in_workers(tmp_path):
    from viz.plots.gallery import PLOT_FIGURES, render_plots

    names = ["plot_lr", "plot_grid_vs_random"]
    timings = {}
    entries = render_plots(tmp_path / "a", only=names, timings=timings, workers=2)
    assert [e[0] for e in entries] == [f.title for f in PLOT_FIGURES if f.name in names]
    for _, caption, files in entries:
        assert caption and {Path(f).suffix for f in files} == {".svg", ".png"}
        assert all(Path(f).stat().st_size > 1000 for f in files)
    assert set(timings) == set(names) and all(t > 0 for t in timings.values())
    serial = render_plots(tmp_path / "b", only=["plot_lr"], workers=1)
    assert (tmp_path / "b" / "plot_lr.svg").read_bytes() == (
        tmp_path / "a" / "plot_lr.svg").read_bytes()
    assert serial[0] == (entries[0][0], entries[0][1],
                         [str(tmp_path / "b" / Path(f).name) for f in entries[0][2]])
    with pytest.raises(ValueError, match="no plot named"):
        render_plots(tmp_path, only=["plot_nope"])


def test_gallery_index_shows_diagrams_and_plots(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    from viz import gallery
    from viz.plots import gallery as plots_gallery

    cheap = [f for f in plots_gallery.PLOT_FIGURES if f.name == "plot_grid_vs_random"]
    monkeypatch.setattr(plots_gallery, "PLOT_FIGURES", cheap)
    monkeypatch.setattr(gallery, "FIGURES", gallery.FIGURES[:1])
    try:
        written = gallery.build_gallery(tmp_path, steps=False)
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "RendererNotFound":
            pytest.skip("no Graphviz renderer")
        raise
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'id="plots"' in index and "plot_grid_vs_random.svg" in index
    assert gallery.FIGURES[0].name + ".svg" in index
    assert str(tmp_path / "plot_grid_vs_random.png") in written


def test_every_public_name_resolves():
    for name in P.__all__:
        assert getattr(P, name) is not None, name
    for name in ("plot_activations", "plot_layer_stats", "collect_layer_stats", "plot_history",
                 "plot_lr", "plot_optimizer_paths", "valley", "rosenbrock", "saddle",
                 "multi_minima_1d", "plot_loss_landscape", "plot_search",
                 "plot_grid_vs_random", "plot_update_ratios", "plot_decision_boundary",
                 "plot_percentiles"):  # API.md's list
        assert name in P.__all__, name
    with pytest.raises(AttributeError):
        P.plot_nothing  # noqa: B018


def _run_python(script):
    """Run `script` in a fresh interpreter; it must print ok."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_viz_without_matplotlib():
    pytest.importorskip("graphviz")
    script = textwrap.dedent("""
        import sys

        class Block:  # make matplotlib look uninstalled
            def find_spec(self, name, path=None, target=None):
                if name == "matplotlib" or name.startswith("matplotlib."):
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, Block())
        import autodiff as ad
        import nn
        import viz
        x = ad.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        assert "digraph" in viz.draw_graph(y).source
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
        snap = viz.collect_layer_stats(model, ad.randn(4, 2))
        assert list(snap["layers"]) == ["0", "1"]
        try:
            viz.plots.plot_history({"loss": [1.0]})
        except ImportError as exc:
            assert "pip install" in str(exc), exc
        else:
            raise AssertionError("no ImportError without matplotlib")
        import tempfile, warnings
        from viz.plots.gallery import start_plots
        with warnings.catch_warnings(record=True) as caught, tempfile.TemporaryDirectory() as d:
            warnings.simplefilter("always")
            assert start_plots(d).result() == []  # the gallery keeps its diagrams
        assert "pip install" in str(caught[0].message)
        assert "matplotlib" not in sys.modules
        print("ok")
    """)
    _run_python(script)


def test_plots_never_import_pyplot_or_change_the_backend():
    script = textwrap.dedent("""
        import sys
        import matplotlib
        matplotlib.use("svg")  # a user's choice must survive
        from viz import plots
        plots.plot_activations(["relu"])
        plots.plot_optimizer_paths(plots.valley(), steps=3)
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
    """)
    _run_python(script)


# ---------------------------------------------------------------- the workflow's own records
def test_plots_read_the_training_workflows_records():
    from nn import training, tuning
    from nn.utils.data import DataLoader, TensorDataset

    g = ad.Generator().manual_seed(0)
    X = ad.randn(64, 3, generator=g)
    y = ad.tensor((X.numpy()[:, 0] > 0).astype(np.int64))
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    stats = training.LayerStats(every=2)
    history = training.fit(model, nn.CrossEntropyLoss(), opt, loader, val=loader, epochs=3,
                           callbacks=[stats], progress=False,
                           scheduler=optim.lr_scheduler.StepLR(opt, 1, 0.5))
    for source in (history, history.to_dict(), history.history):
        fig = P.plot_history(source)
        np.testing.assert_allclose(_lines(fig.axes[0])["validation"].get_ydata(),
                                   history["val_loss"])
    assert f"best epoch {history.best_epoch}" in _lines(P.plot_history(history).axes[0])
    np.testing.assert_allclose(P.plot_lr(history).axes[0].get_lines()[0].get_ydata(),
                               history["lr"])
    steps = P.plot_lr(history, unit="step").axes[0].get_lines()[0]
    assert len(steps.get_ydata()) == len(history.steps) == 12
    fig = P.plot_layer_stats(stats, style="both")
    last = stats.snapshots[-1]["layers"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(),
                               [e["std"] for e in last.values()])
    P.plot_layer_stats(stats, kind="gradients", style="hist")
    ratios = P.plot_update_ratios(stats)
    np.testing.assert_allclose(_lines(ratios.axes[0])["layer fc1"].get_ydata(),
                               [s["layers"]["fc1"]["update_ratio"] for s in stats.snapshots])
    P.plot_percentiles(stats, "act1")
    results = tuning.run(lambda c: {"val_loss": (np.log10(c["lr"]) + 2) ** 2 + c["m"]},
                         tuning.random_search({"lr": tuning.LogUniform(1e-4, 1.0),
                                               "m": tuning.Uniform(0, 1)}, 6, seed=0),
                         progress=False)
    fig = P.plot_search(results, "lr", "m")
    best = results.best("val_loss")
    np.testing.assert_allclose(fig.axes[0].collections[-1].get_offsets(),
                               [[best["config"]["lr"], best["config"]["m"]]])
