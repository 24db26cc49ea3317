"""What every lecture demo shares: the command line (--quick, --out), where figures go, and
a matplotlib figure factory that needs no display (no pyplot, so no global state).

Each demo is `python examples/lectures/<name>.py [--quick] [--out DIR]` and exposes
`main(argv=None) -> dict` so run_all.py and the tests can run it in-process.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib

# The demos multiply small matrices, where BLAS threads only add overhead, and on a busy
# machine their spin-waiting makes a step 10-30x slower (measured: the WaveNet demo ran at 7
# steps/s instead of 100 with 2 threads under load). One thread unless the user chose.
# Effective only before NumPy loads: scripts import this module first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parent / "data"

# A colour-blind-safe palette (Okabe & Ito), in the order lines are drawn.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000"]


def parse_args(name: str, doc: str, argv=None, extra=None):
    """--quick and --out DIR (default lectures/<name>/), plus what `extra(parser)` adds."""
    parser = argparse.ArgumentParser(prog=f"examples/lectures/{name}.py",
                                     description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smaller run for CI (seconds), same outputs")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("lectures") / name,
                        help="folder for figures and tables (default: lectures/%(prog)s)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def figure(nrows=1, ncols=1, width=6.4, height=4.0, **kw):
    """(fig, axes) on matplotlib's object API with slide-readable fonts. Raises ImportError
    with the install command when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the lecture figures need matplotlib: pip install matplotlib "
                          "(or the project's viz extra)") from err
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat:
        ax.tick_params(labelsize=10)
        ax.grid(True, alpha=0.3)
    return fig, (axes[0, 0] if nrows == ncols == 1 else axes)


def save(fig, out: pathlib.Path, name: str) -> pathlib.Path:
    """Write fig as out/name.png (150 dpi) and return the path."""
    path = pathlib.Path(out) / f"{name}.png"
    fig.savefig(path, dpi=150)
    return path


def skip_figures_note() -> None:
    print("(figures skipped: matplotlib is not installed; pip install matplotlib)")


def draw(plot, *args) -> None:
    """plot(*args) when matplotlib is installed, else a note that the figures are skipped
    (the printed numbers do not need it)."""
    if have_matplotlib():
        plot(*args)
    else:
        skip_figures_note()


def table(header, rows, formats=None) -> str:
    """A plain-text table: columns right-aligned, numbers with `formats` (one per column,
    e.g. "{:.3f}"), as the lecture slides print them."""
    formats = formats or ["{}"] * len(header)
    cells = [[f.format(v) for f, v in zip(formats, row)] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def array_str(a, precision=4) -> str:
    return np.array2string(np.asarray(a, dtype=np.float64), precision=precision,
                           suppress_small=True)


def digits_splits(seed=0):
    """(train, val, test) Subsets of the shipped 8x8 digits (nn.utils.data.load_digits),
    class-stratified 70/10/20 (1,258 / 180 / 359 images), fixed by `seed`."""
    import autodiff as ad
    from nn.utils.data import load_digits, stratified_split
    return stratified_split(load_digits(), [0.7, 0.1, 0.2],
                            generator=ad.Generator().manual_seed(seed))


def digits_loaders(train, val, test, batch_size=32, augment=None, seed=0):
    """DataLoaders standardised per channel with the training images' statistics (fitted on
    train only); `augment` (a transform, or None) runs before standardisation on training
    batches. Returns (train_loader, val_loader, test_loader, standardizer)."""
    import autodiff as ad
    from nn import transforms as T
    from nn.utils.data import DataLoader
    stats = T.Standardizer(per="channel").fit(DataLoader(train, batch_size=512))
    train_transform = stats if augment is None else T.Compose([augment, stats])
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True,
                              generator=ad.Generator().manual_seed(seed),
                              transform=train_transform)
    return (train_loader, DataLoader(val, batch_size=512, transform=stats),
            DataLoader(test, batch_size=512, transform=stats), stats)
