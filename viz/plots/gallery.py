"""The gallery's "plots" section: one figure per plotting function, each from a small real
computation (seeded, so every run draws the same figures), sized to render in seconds.

`render_plots(out_dir)` writes NAME.svg and NAME.png for each figure and returns
[(title, caption, [files])]; `python -m viz gallery` starts it (`start_plots`) in worker
processes before it draws the diagrams.
`python -m viz.plots.gallery [OUT] [--only a,b] [--workers N]` renders only the plots and
prints the seconds each took.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

import autodiff as ad

__all__ = ["PLOT_FIGURES", "PlotFigure", "PlotRun", "render_plots", "start_plots",
           "spiral_data"]

#: Width of the initialisation experiment (the lecture's is 4096; the weight scales below
#: are chosen so each layer's gain, std(W) * sqrt(width), equals the lecture's).
INIT_WIDTH = 512
INIT_DEPTH = 7
INIT_BATCH = 16
#: Full-batch SGD steps of the BatchNorm comparison.
BN_STEPS = 200
#: Epochs of the small spiral MLP (history, decision boundary, update ratios, gradients).
EPOCHS = 150


def spiral_data(points_per_class=100, classes=3, noise=0.25, seed=0):
    """The 2-D spiral classification data of the lectures: (X float32 (N, 2), y int64 (N,))."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(classes):
        r = np.linspace(0.05, 1.0, points_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, points_per_class) + rng.normal(
            0, noise, points_per_class)
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y.append(np.full(points_per_class, k))
    return np.concatenate(X).astype(np.float32), np.concatenate(y).astype(np.int64)


# ---------------------------------------------------------------- shared computations
@lru_cache(maxsize=None)
def _init_experiment():
    """{run label: collect_layer_stats snapshot} of the 7-layer tanh (and ReLU) network,
    with the gradients of a cross-entropy loss on random labels through a linear read-out."""
    import nn  # noqa: PLC0415
    from nn import functional as F  # noqa: PLC0415
    from nn import init  # noqa: PLC0415

    from .stats import collect_layer_stats  # noqa: PLC0415

    d = INIT_WIDTH
    lecture = np.sqrt(4096)
    runs = OrderedDict([
        ("W = 0.01 randn", (0.01 * lecture / np.sqrt(d), nn.Tanh)),
        ("W = 0.05 randn", (0.05 * lecture / np.sqrt(d), nn.Tanh)),
        ("Xavier", (1 / np.sqrt(d), nn.Tanh)),
        ("ReLU, Kaiming", (np.sqrt(2 / d), nn.ReLU)),
    ])
    ad.manual_seed(0)
    x = ad.randn(INIT_BATCH, d)
    target = ad.randint(0, 10, (INIT_BATCH,))
    stats = OrderedDict()
    for label, (std, act) in runs.items():
        layers = []
        for i in range(INIT_DEPTH):
            linear = nn.Linear(d, d, bias=False)
            init.normal_(linear.weight, 0.0, float(std))
            layers += [(f"fc{i + 1}", linear), (f"layer {i + 1}", act())]
        model = nn.Sequential(OrderedDict(layers + [("readout", nn.Linear(d, 10))]))
        stats[label] = collect_layer_stats(model, x, F.cross_entropy, target,
                                           layers="activations")
    return stats


def _full_batch(X, y):
    """A DataLoader yielding (X, y) as one batch."""
    from nn.utils.data import DataLoader, TensorDataset  # noqa: PLC0415

    return DataLoader(TensorDataset(ad.tensor(X), ad.tensor(y)), batch_size=len(X))


@lru_cache(maxsize=None)
def _spiral_run():
    """A small MLP trained on the spiral data by nn.training.fit (Adam, full batch), with a
    LayerStats callback: (model, X, y, History, LayerStats)."""
    import nn  # noqa: PLC0415
    from nn import training  # noqa: PLC0415

    X, y = spiral_data(points_per_class=60, noise=0.3)
    rng = np.random.default_rng(1)
    flipped = rng.random(len(y)) < 0.2  # label noise, which a big network memorises
    y[flipped] = rng.integers(0, 3, int(flipped.sum()))
    order = rng.permutation(len(X))
    train, val = order[:90], order[90:]
    ad.manual_seed(0)
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 96)), ("relu1", nn.ReLU()),
                                       ("fc2", nn.Linear(96, 96)), ("relu2", nn.ReLU()),
                                       ("fc3", nn.Linear(96, 3))]))
    stats = training.LayerStats(every=5)
    history = training.fit(model, nn.CrossEntropyLoss(), nn.optim.Adam(model.parameters(),
                                                                       lr=0.01),
                           _full_batch(X[train], y[train]), val=_full_batch(X[val], y[val]),
                           epochs=EPOCHS, callbacks=[stats], progress=False)
    return model, X, y, history, stats


@lru_cache(maxsize=None)
def _batchnorm_runs():
    """{label: (History, snapshots of the second sigmoid's input)} of a sigmoid MLP trained
    by nn.training.fit (full-batch SGD) with and without BatchNorm before that sigmoid."""
    import nn  # noqa: PLC0415
    from nn import training  # noqa: PLC0415

    X, y = spiral_data(points_per_class=80, noise=0.2, seed=3)
    train, val = _full_batch(X[::2] * 3.0, y[::2]), _full_batch(X[1::2] * 3.0, y[1::2])
    runs = OrderedDict()
    for label, norm in (("without BatchNorm", False), ("with BatchNorm", True)):
        ad.manual_seed(2)
        layers = [("fc1", nn.Linear(2, 64)), ("act1", nn.Sigmoid()),
                  ("fc2", nn.Linear(64, 64))]
        if norm:
            layers.append(("bn2", nn.BatchNorm1d(64)))
        layers += [("act2", nn.Sigmoid()), ("fc3", nn.Linear(64, 3))]
        model = nn.Sequential(OrderedDict(layers))
        watched = "bn2" if norm else "fc2"  # what the second sigmoid receives
        stats = training.LayerStats(every=10, layers=[watched])
        history = training.fit(model, nn.CrossEntropyLoss(),
                               nn.optim.SGD(model.parameters(), lr=0.5, momentum=0.9), train,
                               val=val, epochs=BN_STEPS, callbacks=[stats], progress=False)
        runs[label] = (history, [dict(s, layers={"sigmoid input": s["layers"][watched]})
                                 for s in stats.snapshots])
    return runs


@lru_cache(maxsize=None)
def _landscape_models():
    """A deep plain MLP and the same with residual connections, briefly trained."""
    import nn  # noqa: PLC0415
    from nn import functional as F  # noqa: PLC0415

    X, y = spiral_data(points_per_class=60, noise=0.2, seed=5)
    xt, yt = ad.tensor(X), ad.tensor(y)
    models = OrderedDict()
    for label, residual in (("plain, 10 layers", False), ("residual, 10 layers", True)):
        ad.manual_seed(4)
        blocks = [nn.Linear(2, 24), nn.Tanh()]
        for _ in range(8):
            body = nn.Sequential(nn.Linear(24, 24), nn.Tanh())
            blocks.append(nn.Residual(body) if residual else body)
        blocks.append(nn.Linear(24, 3))
        model = nn.Sequential(*blocks)
        opt = nn.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(150):
            opt.zero_grad()
            F.cross_entropy(model(xt), yt).backward()
            opt.step()
        models[label] = model
    return models, (xt, yt)


def _search_records():
    """A two-round coarse-to-fine random search (log-uniform lr, momentum) of SGD on a small
    softmax classifier, in the tuning results' record format."""
    import nn  # noqa: PLC0415
    from nn import functional as F  # noqa: PLC0415

    X, y = spiral_data(points_per_class=50, noise=0.3, seed=7)
    features = np.column_stack([X, X ** 2, X[:, :1] * X[:, 1:], np.sin(3 * X)]).astype(
        np.float32)
    xt, yt = ad.tensor(features[::2]), ad.tensor(y[::2])
    xv, yv = ad.tensor(features[1::2]), ad.tensor(y[1::2])
    rng = np.random.default_rng(11)
    records = []

    def trial(lr, momentum, rnd):
        t0 = time.perf_counter()
        ad.manual_seed(0)
        model = nn.Linear(features.shape[1], 3)
        opt = nn.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        for _ in range(40):
            opt.zero_grad()
            F.cross_entropy(model(xt), yt).backward()
            opt.step()
        with ad.no_grad():
            val = F.cross_entropy(model(xv), yv).item()
        ok = np.isfinite(val)
        records.append({"trial": len(records), "config": {"lr": lr, "momentum": momentum},
                        "metrics": {"val_loss": val} if ok else {},
                        "status": "ok" if ok else "failed",
                        "error": None if ok else "loss is not finite",
                        "seconds": time.perf_counter() - t0, "seed": 0, "round": rnd})

    for _ in range(16):  # round 0: lr log-uniform in [1e-3, 1e3], momentum in [0, 0.99]
        trial(float(10 ** rng.uniform(-3, 3)), float(rng.uniform(0, 0.99)), 0)
    best = min((r for r in records if r["status"] == "ok"),
               key=lambda r: r["metrics"]["val_loss"])["config"]
    for _ in range(10):  # round 1: zoom around the best
        lr = float(best["lr"] * 10 ** rng.uniform(-0.4, 0.4))
        trial(lr, float(np.clip(best["momentum"] + rng.uniform(-0.15, 0.15), 0, 0.99)), 1)
    return records


# ---------------------------------------------------------------- the figures
def fig_activations():
    import nn  # noqa: PLC0415

    from .activations import plot_activations  # noqa: PLC0415

    return plot_activations(["sigmoid", "tanh", "relu", "leaky_relu", nn.LeakyReLU(0.1),
                             "prelu", "elu", "gelu", "silu"])


def fig_init_histograms():
    from .layers import plot_layer_stats  # noqa: PLC0415

    return plot_layer_stats(_init_experiment(), style="hist",
                            title=f"Activations of a {INIT_DEPTH}-layer tanh network "
                            "(rows: initialisations; bars: share of the values)")


def fig_init_std():
    from .layers import plot_layer_stats  # noqa: PLC0415

    return plot_layer_stats(_init_experiment(), style="std",
                            title="std of the activations per layer, by initialisation")


def fig_valley():
    from .optimizers import plot_optimizer_paths, valley  # noqa: PLC0415

    return plot_optimizer_paths(valley())


def fig_rosenbrock():
    from .optimizers import plot_optimizer_paths, rosenbrock  # noqa: PLC0415

    return plot_optimizer_paths(rosenbrock)


def fig_saddle():
    from .optimizers import plot_optimizer_paths, saddle  # noqa: PLC0415

    return plot_optimizer_paths(saddle)


def fig_gd_vs_sgd():
    from .optimizers import multi_minima_1d, plot_optimizer_paths  # noqa: PLC0415

    return plot_optimizer_paths(multi_minima_1d)


def fig_lr_schedules():
    from nn import optim  # noqa: PLC0415

    from .training import plot_lr  # noqa: PLC0415

    S = optim.lr_scheduler

    def make(build):
        return build(optim.SGD([ad.tensor([0.0], requires_grad=True)], lr=0.1))

    schedules = OrderedDict([
        ("StepLR(step_size=30, gamma=0.1)", make(lambda o: S.StepLR(o, 30, 0.1))),
        ("ExponentialLR(gamma=0.96)", make(lambda o: S.ExponentialLR(o, 0.96))),
        ("CosineAnnealingLR(T_max=100)", make(lambda o: S.CosineAnnealingLR(o, 100))),
        ("5 epochs linear warm-up, then cosine", make(lambda o: S.SequentialLR(
            o, [S.LinearLR(o, 0.1, 1.0, total_iters=5), S.CosineAnnealingLR(o, 95)], [5]))),
    ])
    return plot_lr(schedules, steps=100, log=False,
                   title="learning-rate schedules (start lr 0.1)")


def fig_history():
    from .training import plot_history  # noqa: PLC0415

    return plot_history(_spiral_run()[3], title="MLP on 90 noisy spiral points: it "
                        "overfits after the best epoch")


def fig_decision_boundary():
    from .boundary import plot_decision_boundary  # noqa: PLC0415

    model, X, y, _, _ = _spiral_run()
    return plot_decision_boundary(model, X, y, class_names=["spiral 0", "spiral 1",
                                                            "spiral 2"],
                                  title=f"decision boundary of the MLP after {EPOCHS} "
                                  "epochs (overfitted)")


def fig_update_ratios():
    from .layers import plot_update_ratios  # noqa: PLC0415

    return plot_update_ratios(_spiral_run()[4])


def fig_gradients():
    from .layers import plot_layer_stats  # noqa: PLC0415

    stats = _init_experiment()
    runs = OrderedDict((k, stats[k]) for k in ("W = 0.01 randn", "Xavier"))
    return plot_layer_stats(runs, kind="gradients", style="both",
                            title="Gradients d loss / d activation per layer at "
                            "initialisation (std on top, histograms below)")


def fig_percentiles():
    from ._mpl import FONT, slide_figure  # noqa: PLC0415
    from .layers import plot_percentiles  # noqa: PLC0415
    from .training import plot_history  # noqa: PLC0415

    runs = _batchnorm_runs()
    fig, (left, right) = slide_figure(1, 2)
    plot_history({k: h for k, (h, _) in runs.items()}, metrics="accuracy", mark_best=False,
                 ax=left)
    left.set_xlabel("step (full batch)", fontsize=FONT["label"])
    left.set_title("accuracy (validation solid, training dotted)", fontsize=FONT["label"])
    plot_percentiles({k: s for k, (_, s) in runs.items()}, "sigmoid input", ax=right,
                     title="15th / 50th / 85th percentiles\nof a sigmoid's input")
    return fig


def fig_landscape():
    from .landscape import plot_loss_landscape  # noqa: PLC0415
    from nn import functional as F  # noqa: PLC0415

    models, data = _landscape_models()
    return plot_loss_landscape(models, F.cross_entropy, data, span=1.0, resolution=41,
                               log=True, title="loss along a filter-normalised random "
                               "direction (dots: the trained weights)")


def fig_grid_vs_random():
    from .search import plot_grid_vs_random  # noqa: PLC0415

    return plot_grid_vs_random(9, seed=3)


def fig_search():
    from .search import plot_search  # noqa: PLC0415

    return plot_search(_search_records(), "lr", "momentum", color="val_loss", log="x",
                       title="coarse-to-fine random search: SGD on a small classifier")


@dataclass
class PlotFigure:
    name: str
    title: str
    caption: str
    build: object
    #: figures computed from the same run share a key (rendered by the same worker)
    shares: str | None = None
    #: rough CPU seconds, to balance the workers
    cost: float = 0.6


PLOT_FIGURES = [
    PlotFigure("plot_activations", "Activation functions and their derivatives",
               "viz.plots.plot_activations: each function (solid) and its derivative "
               "(dashed), the derivative computed by the engine's autodiff.",
               fig_activations),
    PlotFigure("plot_init_histograms", "Initialisation: activation histograms per layer",
               f"viz.plots.plot_layer_stats(style='hist') on viz.collect_layer_stats of a "
               f"{INIT_DEPTH}-layer tanh network, batch {INIT_BATCH}, width {INIT_WIDTH} "
               "(the lecture's 4096, reduced to render in seconds; the weight scales keep "
               "the lecture's std(W) sqrt(width), so 0.01 randn becomes "
               f"{0.01 * 64 / np.sqrt(INIT_WIDTH):.3f} randn here). Too small weights "
               "collapse to 0, too large ones saturate at +-1, Xavier keeps the scale; ReLU "
               "needs Kaiming's sqrt(2 / D).", fig_init_histograms, "init", 2.0),
    PlotFigure("plot_init_std", "Initialisation: std of the activations over depth",
               "viz.plots.plot_layer_stats(style='std') of the same runs.", fig_init_std,
               "init", 0.3),
    PlotFigure("plot_paths_valley", "Optimizer paths in a narrow valley",
               "viz.plots.plot_optimizer_paths(valley()): SGD, momentum, Nesterov, AdaGrad, "
               "RMSProp and Adam from nn.optim, 40 steps each.", fig_valley),
    PlotFigure("plot_paths_rosenbrock", "Optimizer paths on Rosenbrock's function",
               "viz.plots.plot_optimizer_paths(rosenbrock): 300 steps each, each optimizer "
               "near its largest stable learning rate; all follow the curved valley floor, "
               "at different speeds.", fig_rosenbrock),
    PlotFigure("plot_paths_saddle", "Optimizer paths at a saddle point",
               "viz.plots.plot_optimizer_paths(saddle): started on the ridge, plain SGD "
               "lingers at the saddle; momentum and the adaptive methods leave it sooner.",
               fig_saddle),
    PlotFigure("plot_gd_vs_sgd", "Gradient descent vs SGD on a loss with several minima",
               "viz.plots.plot_optimizer_paths(multi_minima_1d): the same SGD steps with "
               "exact gradients and with noisy ones (seeded); the noise carries SGD over the "
               "barrier into the global minimum.", fig_gd_vs_sgd),
    PlotFigure("plot_lr", "Learning-rate schedules",
               "viz.plots.plot_lr: nn.optim.lr_scheduler objects, simulated for 100 epochs "
               "on a copy.", fig_lr_schedules),
    PlotFigure("plot_history", "Training and validation curves",
               "viz.plots.plot_history on the History of nn.training.fit: a 2-96-96-3 MLP "
               "trained on 90 spiral points with 20% of the labels flipped (full batch, "
               "Adam) memorises the noise, so the validation loss turns up while the "
               "training loss keeps falling; the best epoch is where early stopping keeps "
               "the weights.",
               fig_history, "spiral", 0.8),
    PlotFigure("plot_decision_boundary", "Decision boundary of a small classifier",
               "viz.plots.plot_decision_boundary of the same MLP (all 180 points shown): the "
               "regions it assigns to each class, paler where it is less confident; the "
               "islands around single points are the memorised noisy labels.",
               fig_decision_boundary, "spiral", 1.0),
    PlotFigure("plot_update_ratios", "Update-to-weight ratio over training",
               "viz.plots.plot_update_ratios: |lr x update| / |w| of each Linear layer of "
               "the same run, recorded by nn.training.LayerStats(every=5), against the "
               "1e-3 rule of thumb.",
               fig_update_ratios, "spiral", 0.5),
    PlotFigure("plot_gradients", "Gradient histograms per layer",
               "viz.plots.plot_layer_stats(kind='gradients') of "
               "viz.collect_layer_stats(model, x, F.cross_entropy, y) on the initialisation "
               "experiment (with a linear read-out and random labels): with 0.01 randn the "
               "gradients shrink layer by layer towards the input; Xavier keeps their scale.",
               fig_gradients, "init", 0.9),
    PlotFigure("plot_percentiles", "BatchNorm and the distribution of a layer's input",
               "viz.plots.plot_history (runs compared) and viz.plots.plot_percentiles: "
               "a 2-64-64-3 sigmoid MLP on spiral data, full-batch SGD with momentum, with "
               "and without BatchNorm before the second sigmoid: accuracy, and the 15th, "
               "50th and 85th percentiles of that sigmoid's input over training.",
               fig_percentiles, cost=1.0),
    PlotFigure("plot_loss_landscape", "Loss landscape with and without skip connections",
               "viz.plots.plot_loss_landscape(kind='1d'): a 10-layer tanh MLP and the same "
               "with residual connections, each along its own filter-normalised random "
               "direction (Li et al., 2018).", fig_landscape),
    PlotFigure("plot_grid_vs_random", "Grid search vs random search",
               "viz.plots.plot_grid_vs_random: with 9 trials a grid tries 3 values of the "
               "parameter that matters, random search 9.", fig_grid_vs_random),
    PlotFigure("plot_search", "A hyperparameter search",
               "viz.plots.plot_search on the records of a two-round coarse-to-fine random "
               "search (learning rate log-uniform, momentum uniform); colour: validation loss.",
               fig_search),
]


def _render(names, out, formats) -> list:
    """[(name, files, seconds)] for the named figures, rendered one after the other."""
    from ._mpl import save_figure  # noqa: PLC0415

    by_name = {f.name: f for f in PLOT_FIGURES}
    done = []
    for name in names:
        t0 = time.perf_counter()
        state = ad.get_rng_state()  # the builders seed the global stream, as scripts do
        try:
            figure = by_name[name].build()
        finally:
            ad.set_rng_state(state)
        files = []
        for fmt in formats:
            files.append(save_figure(figure, Path(out) / f"{name}.{fmt}"))
            # the first save laid the figure out; the next formats reuse those positions
            figure.set_layout_engine("none")
        done.append((name, files, time.perf_counter() - t0))
    return done


def _partition(figures, workers) -> list:
    """Figures split into `workers` lists of about equal cost, shared runs kept together."""
    groups: dict = OrderedDict()
    for f in figures:
        groups.setdefault(f.shares or f.name, []).append(f)
    bins, loads = [[] for _ in range(workers)], [0.0] * workers
    for members in sorted(groups.values(), key=lambda g: -sum(f.cost for f in g)):
        i = loads.index(min(loads))
        bins[i] += [f.name for f in members]
        loads[i] += sum(f.cost for f in members)
    return [b for b in bins if b]


def _select(only) -> list:
    wanted = set(only) if only else None
    figures = [f for f in PLOT_FIGURES if wanted is None or f.name in wanted]
    if wanted and len(figures) != len(wanted):
        unknown = sorted(wanted - {f.name for f in PLOT_FIGURES})
        raise ValueError(f"render_plots: no plot named {unknown}; the plots are "
                         f"{', '.join(f.name for f in PLOT_FIGURES)}")
    return figures


class PlotRun:
    """Plots being rendered by worker processes; `result()` waits for them.

    Each worker is a fresh `python -m viz.plots.gallery` process with one BLAS thread
    (several BLAS threads per process only spin against each other on a small machine);
    a worker started this way needs no `if __name__ == "__main__"` guard in the caller's
    script, unlike multiprocessing's spawn."""

    def __init__(self, out, formats, figures, workers):
        self.out, self.formats, self.figures = Path(out), formats, figures
        self.parts = _partition(figures, max(1, int(workers)))
        self.processes = []
        if len(self.parts) > 1:
            root = str(Path(__file__).resolve().parents[2])  # where autodiff, nn, viz live
            env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       MKL_NUM_THREADS="1",
                       PYTHONPATH=os.pathsep.join([root] + [p for p in os.environ.get(
                           "PYTHONPATH", "").split(os.pathsep) if p]))
            for part in self.parts:
                command = [sys.executable, "-m", "viz.plots.gallery", str(self.out),
                           "--only", ",".join(part), "--formats", ",".join(formats),
                           "--workers", "1", "--json"]
                self.processes.append((part, subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                    text=True)))

    def result(self, timings=None) -> list:
        """[(title, caption, [files])] in gallery order, once every worker is done."""
        if not self.processes:
            results = (_render([f.name for f in self.figures], self.out, self.formats)
                       if self.figures else [])
        else:
            results, failed = [], []
            for part, process in self.processes:
                stdout, stderr = process.communicate()
                if process.returncode:
                    failed.append(f"{', '.join(part)}: {stderr.strip()[-2000:]}")
                else:
                    results += [tuple(r) for r in json.loads(stdout.strip().splitlines()[-1])]
            if failed:
                raise RuntimeError("render_plots: a worker failed while rendering "
                                   + "\n".join(failed))
        rendered = {name: (files, seconds) for name, files, seconds in results}
        if timings is not None:
            timings.update({f.name: rendered[f.name][1] for f in self.figures})
        return [(f.title, f.caption, rendered[f.name][0]) for f in self.figures]


def start_plots(out_dir, formats=("svg", "png"), only=None, workers=None) -> PlotRun:
    """Start rendering the plots section into `out_dir` in the background (the gallery
    draws its diagrams meanwhile); `.result()` returns what render_plots returns."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formats = tuple(f.lower().lstrip(".") for f in formats)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    figures = _select(only)
    try:
        available = importlib.util.find_spec("matplotlib") is not None
    except ImportError:
        available = False
    if not available:
        warnings.warn("matplotlib is not installed, so the gallery has no plots: "
                      "pip install 'autodiff-lectures[viz]'", RuntimeWarning, stacklevel=2)
        figures = []
    return PlotRun(out, formats, figures, workers)


def render_plots(out_dir, formats=("svg", "png"), only=None, timings=None, workers=None) -> list:
    """Render the plots section into `out_dir`: [(title, caption, [files])] in gallery order.

    `only`: figure names to render (default all); `timings`: a dict that receives each
    figure's seconds (computing, drawing and saving); `workers`: processes to render in
    (default: up to 2, one per CPU; 1 renders here, serially)."""
    return start_plots(out_dir, formats, only, workers).result(timings)


def main(argv=None) -> int:
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m viz.plots.gallery",
        description="Render the gallery's plots into a folder and print each one's seconds.")
    parser.add_argument("out", nargs="?", default="gallery")
    parser.add_argument("--only", default=None, help="comma-separated plot names")
    parser.add_argument("--formats", default="svg,png", help="comma-separated: svg,png,pdf")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", action="store_true",
                        help="print [[name, files, seconds], ...] as JSON (for the gallery)")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if args.json:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(_render([f.name for f in _select(only)], out, tuple(formats))))
        return 0
    timings = {}
    t0 = time.perf_counter()
    render_plots(args.out, formats, only, timings, args.workers)
    total = time.perf_counter() - t0
    for name, seconds in timings.items():
        print(f"{name:26s} {seconds:6.2f} s")
    print(f"{'all plots (wall)':26s} {total:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
