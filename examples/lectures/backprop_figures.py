"""Backpropagation on the lecture's two-layer sigmoid network, as diagrams and numbers
(lecture: "Backpropagation", Fig 6.1 the forward pass and Fig 6.2 the backward pass).

The network (the XOR lecture's weights): s = W1 x + b1, h = sigma(s), p = W2 . h + b2,
y = sigma(p), error E = (t - y)^2 / 2, with W1 = [[3, 4], [2, 3]], b1 = [-2, -4],
W2 = [5, -5], b2 = -2.

  Fig 6.1  forward values for the input x = (1, 0): s = (1, -2), h = (0.731, 0.119),
           p = 1.059, y = 0.743
  Fig 6.2  gradients for x = (0, 1) with target t = 1: y = 0.7426, dE/dp = -0.0492,
           dE/dW2 = (-0.0433, -0.0132), dE/db1 = (-0.0258, 0.0484)

What to look at: in the diagrams each box is a tensor with its value (and, in Fig 6.2, its
gradient dE/d box); ellipses are operations. The printed table puts the lecture's chain
rule, dE/dW2 = (y - t) y (1 - y) h, next to autodiff's result and a numerical estimate
(E(w + eps) - E(w - eps)) / (2 eps): all three agree to ~1e-10.

Run: python examples/lectures/backprop_figures.py [--quick] [--out DIR]
Writes fig6_1_forward.{svg,png} and fig6_2_backward.{svg,png} (needs the viz extra).
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import viz  # noqa: E402

WEIGHTS = {"W1": [[3.0, 4.0], [2.0, 3.0]], "b1": [-2.0, -4.0], "W2": [5.0, -5.0], "b2": -2.0}


def _named(t, name):
    t.name = name
    return t


def network(x, t=None, weights=None):
    """(output, parameters): y = sigma(W2 . sigma(W1 x + b1) + b2), and E = (t - y)^2 / 2
    as the output when a target t is given; float64 so the slide's digits are exact."""
    params = {k: ad.tensor(v, dtype=ad.float64, requires_grad=True, name=k)
              for k, v in (weights or WEIGHTS).items()}
    x = ad.tensor(x, dtype=ad.float64, name="x")
    s = _named(_named(params["W1"] @ x, "W1 x") + params["b1"], "s")
    h = _named(s.sigmoid(), "h")
    p = _named(_named(params["W2"] @ h, "W2 . h") + params["b2"], "p")
    y = _named(p.sigmoid(), "y")
    if t is None:
        return y, params
    target = ad.tensor(t, dtype=ad.float64, name="t")
    error = _named(_named(target - y, "t - y") ** 2, "(t - y)^2")
    return _named(error / 2, "E"), params


def error_value(weights, x, t):
    with ad.no_grad():
        return network(x, t, weights)[0].item()


def numerical_gradient(name, x, t, eps=1e-6):
    """Central differences of E with respect to every element of parameter `name`."""
    base = {k: np.array(v, dtype=np.float64) for k, v in WEIGHTS.items()}
    grad = np.zeros_like(base[name])
    for idx in np.ndindex(grad.shape):
        up = {k: v.copy() for k, v in base.items()}
        down = {k: v.copy() for k, v in base.items()}
        up[name][idx] += eps
        down[name][idx] -= eps
        grad[idx] = (error_value(up, x, t) - error_value(down, x, t)) / (2 * eps)
    return grad


def main(argv=None):
    args = _common.parse_args("backprop_figures", __doc__, argv)
    out = {}

    print("Fig 6.1: forward pass for x = (1, 0)")
    y, _ = network([1.0, 0.0])
    values = {name: t.numpy() for name, t in _intermediates(y).items()}
    for name in ("s", "h", "p", "y"):
        print(f"  {name} = {_common.array_str(values[name], 4)}")
    out["forward"] = {k: values[k].tolist() for k in ("s", "h", "p", "y")}

    print("\nFig 6.2: backward pass for x = (0, 1), target t = 1, E = (t - y)^2 / 2")
    E, params = network([0.0, 1.0], 1.0)
    E.backward()
    intermediate = _intermediates(E)
    y_val = intermediate["y"].item()
    h = intermediate["h"].numpy()
    print(f"  y = {y_val:.4f}, E = {E.item():.6f}")
    for name in ("W1", "b1", "W2", "b2"):
        grad = _common.array_str(params[name].grad.numpy(), 4).replace("\n", "\n" + " " * 10)
        print(f"  dE/d{name} = {grad}")

    print("\ndE/dW2 three ways (chain rule, autodiff, numerical):")
    delta_out = (y_val - 1.0) * y_val * (1 - y_val)  # dE/dp = dE/dy * dy/dp
    chain = delta_out * h
    auto = params["W2"].grad.numpy()
    numeric = numerical_gradient("W2", [0.0, 1.0], 1.0)
    print(_common.table(["element", "(y - t) y (1 - y) h", "autodiff", "numerical",
                         "|autodiff - numerical|"],
                        [(f"W2[{i}]", chain[i], auto[i], numeric[i], abs(auto[i] - numeric[i]))
                         for i in range(2)],
                        ["{}", "{:.6f}", "{:.6f}", "{:.6f}", "{:.1e}"]))
    delta_hidden = delta_out * np.array(WEIGHTS["W2"]) * h * (1 - h)  # dE/ds
    print(f"dE/db1 = dE/dp * W2 * h (1 - h) = {_common.array_str(delta_hidden, 4)}; "
          f"autodiff {_common.array_str(params['b1'].grad.numpy(), 4)}")
    worst = max(float(np.abs(params[k].grad.numpy() - numerical_gradient(k, [0.0, 1.0], 1.0))
                      .max()) for k in WEIGHTS)
    print(f"numerical-gradient check of all parameters: largest difference {worst:.1e}")
    out.update(y=y_val, dE_dp=delta_out, chain=chain, autodiff=auto, numerical=numeric,
               db1=params["b1"].grad.numpy(), dW1=params["W1"].grad.numpy(), worst=worst)

    forward_graph = viz.draw_graph(network([1.0, 0.0])[0], show_grads=False,
                                   title="Fig 6.1: forward pass for x = (1, 0)")
    backward_graph = viz.draw_graph(E, title="Fig 6.2: backward pass for x = (0, 1), t = 1")
    for graph, name in ((forward_graph, "fig6_1_forward"), (backward_graph, "fig6_2_backward")):
        for fmt in ("svg", "png"):
            viz.save(graph, args.out / f"{name}.{fmt}")
    return out


def _intermediates(root):
    """The named tensors of the graph below root, by name."""
    found, stack = {}, [root]
    while stack:
        t = stack.pop()
        if t.name and t.name not in found:
            found[t.name] = t
        if t.grad_fn is not None:
            stack.extend(i for i in t.grad_fn.inputs if isinstance(i, ad.Tensor))
    return found


if __name__ == "__main__":
    main()
