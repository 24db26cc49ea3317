"""Vanishing gradients and the skip connections that cure them (lecture: "Vanishing
gradients", the slides on the product of sigmoid derivatives, residual connections and the
highway gate).

  1. Backprop through L sigmoid layers multiplies L local derivatives sigma'(s) <= 1/4:
     the gradient reaching layer 1 is scaled by at most 0.25^L (1e-6 after 10 layers).
  2. Per-layer gradient norms ||dE/dW_l|| of a deep MLP (width 32, batch 64, MSE on random
     targets): sigmoid (Xavier init) vanishes towards the input layers, ReLU (Kaiming init)
     keeps its scale, and the residual form h_l = sigma(W_l h_(l-1) + b_l) + h_(l-1) keeps
     it too: the identity path adds 1 to every local derivative.
  3. The highway gate of the lecture, p = W2 h, s = p + b, y = sigma(p) sigma(s) +
     (1 - sigma(p)) p, E = (t - y)^2 / 2, has the closed form
       dE/dW2 = (y - t) [sigma(p) sigma(s)(1 - sigma(s)) + sigma(p)(1 - sigma(p)) sigma(s)
                          + 1 - sigma(p) - p sigma(p)(1 - sigma(p))] h
     which equals autodiff's; the "+ 1 - sigma(p)" term is the carry path's gradient.

What to look at: figure gradient_norms.png (log scale): the sigmoid network's gradients fall
by orders of magnitude from the last layer to the first, the other two stay flat.

Run: python examples/lectures/vanishing_gradients.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import init  # noqa: E402

WIDTH, BATCH = 32, 64


class DeepMLP(nn.Module):
    """depth hidden layers of WIDTH units, then Linear(WIDTH, 1). kind: "sigmoid", "relu" or
    "residual" (h = sigma(W h + b) + h)."""

    def __init__(self, depth, kind):
        super().__init__()
        self.kind = kind
        self.layers = nn.ModuleList([nn.Linear(WIDTH, WIDTH) for _ in range(depth)])
        self.out = nn.Linear(WIDTH, 1)
        for layer in self.layers:
            if kind == "relu":
                init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                init.xavier_normal_(layer.weight)
            init.zeros_(layer.bias)

    def forward(self, h):
        for layer in self.layers:
            if self.kind == "sigmoid":
                h = ad.sigmoid(layer(h))
            elif self.kind == "relu":
                h = F.relu(layer(h))
            else:
                h = ad.sigmoid(layer(h)) + h
        return self.out(h)


def layer_gradient_norms(depth, kind, seed=0):
    """||dE/dW_l|| for l = 1..depth after one backward pass on a random batch."""
    ad.manual_seed(seed)
    model = DeepMLP(depth, kind).to(ad.float64)
    rng = np.random.default_rng(seed)
    x = ad.tensor(rng.standard_normal((BATCH, WIDTH)))
    t = ad.tensor(rng.standard_normal((BATCH, 1)))
    F.mse_loss(model(x), t).backward()
    return np.array([np.linalg.norm(layer.weight.grad.numpy()) for layer in model.layers])


def _sig(z):
    return 1 / (1 + np.exp(-z))


def highway_gradient(h_, w_, b_, t_):
    """(autodiff dE/dW2, closed-form dE/dW2, y) for the lecture's highway unit."""
    W2 = ad.tensor(w_, requires_grad=True)
    h, b, t = ad.tensor(h_), ad.tensor(b_), ad.tensor(t_)
    p = W2 @ h
    s = p + b
    gate = ad.sigmoid(p)
    y = gate * ad.sigmoid(s) + (1 - gate) * p
    E = ((t - y) ** 2 / 2).sum()
    E.backward()
    P = w_ @ h_
    S = P + b_
    sp, ss = _sig(P), _sig(S)
    Y = sp * ss + (1 - sp) * P
    bracket = sp * ss * (1 - ss) + sp * (1 - sp) * ss + 1 - sp - P * sp * (1 - sp)
    return W2.grad.numpy(), np.outer((Y - t_) * bracket, h_), Y


def main(argv=None):
    args = _common.parse_args("vanishing_gradients", __doc__, argv)
    result = {}

    print("== 1. the product of sigmoid derivatives: sigma'(s) = sigma(s)(1 - sigma(s)) <= 1/4")
    s = np.linspace(-6, 6, 1201)
    print(f"max over s of sigma'(s) = {(_sig(s) * (1 - _sig(s))).max():.4f} (at s = 0)")
    print(_common.table(["layers L", "bound 0.25^L"], [(L, 0.25 ** L) for L in (1, 2, 5, 10, 20)],
                        ["{}", "{:.2e}"]))

    depth = 10 if args.quick else 30
    print(f"\n== 2. ||dE/dW_l|| per layer, {depth} hidden layers of {WIDTH}, batch {BATCH}")
    norms = {kind: layer_gradient_norms(depth, kind) for kind in ("sigmoid", "relu", "residual")}
    shown = sorted({0, 1, 2, depth // 2, depth - 2, depth - 1})
    print(_common.table(["layer"] + list(norms),
                        [(i + 1, *(norms[k][i] for k in norms)) for i in shown],
                        ["{}"] + ["{:.2e}"] * len(norms)))
    for kind, n in norms.items():
        print(f"{kind:9s}: first layer / last layer = {n[0] / n[-1]:.2e}")
    print(f"(the bound for {depth - 1} sigmoid derivatives between them: "
          f"0.25^{depth - 1} = {0.25 ** (depth - 1):.2e})")
    result["norms"] = norms

    print("\n== 3. the highway gate: closed-form dE/dW2 vs autodiff")
    h_ = np.array([0.881, 0.269])           # the XOR network's hidden layer for x = (0, 1)
    w_ = np.array([[5.0, -5.0]])
    b_, t_ = np.array([-2.0]), np.array([1.0])
    auto, closed, y = highway_gradient(h_, w_, b_, t_)
    print(f"h = {h_}, W2 = {w_[0]}, b = {b_[0]}, t = {t_[0]}: y = {y[0]:.4f}")
    print(f"closed form {_common.array_str(closed[0], 6)}, autodiff "
          f"{_common.array_str(auto[0], 6)}, difference {np.abs(auto - closed).max():.1e}")
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(20):
        m, n = rng.integers(1, 4, size=2)
        args_ = (rng.standard_normal(n), rng.standard_normal((m, n)), rng.standard_normal(m),
                 rng.standard_normal(m))
        a, c, _ = highway_gradient(*args_)
        worst = max(worst, float(np.abs(a - c).max()))
    print(f"20 random highway units: largest |autodiff - closed form| = {worst:.1e}")
    result.update(highway_auto=auto, highway_closed=closed, highway_worst=worst)

    _common.draw(_plot, norms, args.out)
    return result


def _plot(norms, out):
    fig, ax = _common.figure(width=7, height=4.2)
    labels = {"sigmoid": "sigmoid (Xavier init)", "relu": "ReLU (Kaiming init)",
              "residual": "sigmoid + residual: sigma(W h + b) + h"}
    markers = {"sigmoid": "o", "relu": "s", "residual": "^"}
    for colour, (kind, n) in zip(_common.COLOURS, norms.items()):
        ax.semilogy(np.arange(1, len(n) + 1), n, marker=markers[kind], color=colour,
                    label=labels[kind])
    sig = norms["sigmoid"]
    layers = np.arange(1, len(sig) + 1)
    ax.semilogy(layers, sig[-1] * 0.25 ** (len(sig) - layers), "--", color="grey", lw=1,
                label="x 1/4 per layer (the bound on sigma')")
    ax.set_xlabel("layer (1 = next to the input; backprop runs right to left)")
    ax.set_ylabel("||dE/dW|| of the layer (log scale)")
    ax.set_title(f"Gradient norms through a {len(n)}-layer MLP")
    ax.legend()
    _common.save(fig, out, "gradient_norms")


if __name__ == "__main__":
    main()
