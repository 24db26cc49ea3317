"""Activation functions and their derivatives (lecture: "Activation functions": sigmoid,
tanh, ReLU, Leaky ReLU, PReLU, ELU, GELU, SiLU/swish, Maxout; which of them kill the
gradient).

Every curve and every derivative below comes from the library itself: the functions are
the nn modules, the derivatives the engine's autodiff (viz.plots.plot_activations uses
ad.grad), not hand-written formulas.

What to look at: the sigmoid's local gradient is 0.25 at 0 and 4.54e-5 at +-10 (a
saturated unit passes almost nothing back; tanh: 8.2e-9), ReLU's is 0 for every negative
input (and PyTorch's convention 0 at exactly 0) and 1 for every positive one; Leaky ReLU /
PReLU / ELU keep a gradient for negative inputs; GELU and SiLU are smooth versions of
ReLU that dip slightly below zero; Maxout (the max of two linear pieces, here nn.Maxout
with the pieces x and 0.25 x - 0.5) is piecewise linear with two slopes.

Run: python examples/lectures/activations.py [--quick] [--out DIR]
Figures: activations_grid.png (each function with its derivative), activations_pair.png
(sigmoid, tanh, ReLU, Leaky ReLU side by side).
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402


def maxout():
    """nn.Maxout(1, 1, pieces=2) with the pieces x and 0.25 x - 0.5, as an elementwise
    function (Maxout maps (..., in_features) -> (..., out_features))."""
    layer = nn.Maxout(1, 1, pieces=2).to(ad.float64)
    weights = dict(layer.named_parameters())
    with ad.no_grad():
        weights["weight"].data[...] = np.array([1.0, 0.25]).reshape(weights["weight"].shape)
        weights["bias"].data[...] = np.array([0.0, -0.5]).reshape(weights["bias"].shape)

    def fn(x):
        return layer(x.reshape(-1, 1)).reshape(x.shape)

    return fn


def activations():
    """{label: callable} of the lecture's activation functions (nn modules)."""
    return {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "ReLU": nn.ReLU(),
            "Leaky ReLU (0.01)": nn.LeakyReLU(0.01), "Leaky ReLU (0.1)": nn.LeakyReLU(0.1),
            "PReLU (a = 0.25)": nn.PReLU(), "ELU": nn.ELU(), "GELU": nn.GELU(),
            "SiLU (swish)": nn.SiLU(), "Maxout": maxout()}


def local_gradients(fn, points=(-10.0, 0.0, 10.0)):
    """f'(x) at the points, by autodiff (float64)."""
    x = ad.tensor(list(points), dtype=ad.float64, requires_grad=True)
    (g,) = ad.grad(fn(x).sum(), [x])
    return g.numpy()


def main(argv=None):
    args = _common.parse_args("activations", __doc__, argv)
    fns = activations()
    print("== local gradients f'(x) by autodiff")
    rows, grads = [], {}
    for label, fn in fns.items():
        with ad.enable_grad():
            g = local_gradients(fn)
        grads[label] = g
        rows.append((label, *g))
    print(_common.table(["activation", "f'(-10)", "f'(0)", "f'(10)"], rows,
                        ["{}", "{:.3g}", "{:.3g}", "{:.3g}"]))
    s = grads["sigmoid"]
    print(f"sigmoid: sigma'(x) = sigma(x)(1 - sigma(x)): at 0 it is {s[1]:.2f}, at +-10 "
          f"{s[0]:.3g} (= e^-10 / (1 + e^-10)^2 = {np.exp(-10) / (1 + np.exp(-10)) ** 2:.3g})")
    print("ReLU: no gradient at all for negative inputs (a 'dead' unit stays dead); "
          "Leaky ReLU, PReLU and ELU keep one")

    if _common.have_matplotlib():
        from viz import plots
        fig = plots.plot_activations(fns, x=np.linspace(-4, 4, 801), layout="grid",
                                     title="Activation functions and their derivatives")
        _common.save(fig, args.out, "activations_grid")
        fig = plots.plot_activations({k: fns[k] for k in ("sigmoid", "tanh", "ReLU",
                                                          "Leaky ReLU (0.1)")},
                                     x=np.linspace(-5, 5, 801), layout="pair")
        _common.save(fig, args.out, "activations_pair")
    else:
        _common.skip_figures_note()
    return grads


if __name__ == "__main__":
    main()
