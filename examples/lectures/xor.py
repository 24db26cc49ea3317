"""XOR, the function a single linear unit cannot compute, with one hidden layer (lecture:
"Multilayer networks", the XOR table of the hand-set 2-2-1 sigmoid network).

(a) The lecture's hand-set network: hidden h = sigma(W1 x + b1), output y = sigma(W2 h + b2),
    W1 = [[3, 4], [2, 3]], b1 = [-2, -4], W2 = [5, -5], b2 = -2. h0 fires when at least one
    input is on ("OR"), h1 mostly when both are ("AND"); y = OR and not AND = XOR, read with
    threshold 0.5. The table (h0, h1, y): .119/.018/.183, .881/.269/.743, .731/.119/.743,
    .993/.731/.334; the pre-activations of the input (1, 0) are 1, -2 and 1.060 (1.0593
    unrounded; the slide computes p from the rounded h0 = .731, h1 = .119).
(b) A network learnt from a random start: 2-4-1 with tanh, trained with Adam on the binary
    cross-entropy until every input is classified correctly (loss < 0.05). Two hidden units
    suffice in principle, but from random starts a 2-2-1 net gets stuck in a poor local
    minimum about half the time (19 of 40 seeds here); with four it almost never does.

What to look at (figure xor_spaces.png): in the input plane no straight line separates the
two classes, but the hidden layer maps the four points to (h0, h1), where the output unit's
line 5 h0 - 5 h1 - 2 = 0 does.

Run: python examples/lectures/xor.py [--quick] [--out DIR] [--seed N]
(previously examples/xor.py)
"""
from __future__ import annotations

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import optim  # noqa: E402

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
T = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
W1, B1 = [[3.0, 4.0], [2.0, 3.0]], [-2.0, -4.0]
W2, B2 = [[5.0, -5.0]], [-2.0]


def hand_set_network():
    """The lecture's weights loaded into nn layers: Linear(2, 2) -> sigmoid -> Linear(2, 1)
    -> sigmoid."""
    hidden, out = nn.Linear(2, 2), nn.Linear(2, 1)
    hidden.load_state_dict({"weight": ad.tensor(W1), "bias": ad.tensor(B1)})
    out.load_state_dict({"weight": ad.tensor(W2), "bias": ad.tensor(B2)})
    return hidden, out


def hand_set_forward(x):
    """(s, h, p, y) of the hand-set network for inputs x (N, 2): s = W1 x + b1, h = sigma(s),
    p = W2 h + b2, y = sigma(p)."""
    hidden, out = hand_set_network()
    with ad.no_grad():
        s = hidden(ad.tensor(x))
        h = ad.sigmoid(s)
        p = out(h)
        y = ad.sigmoid(p)
    return s.numpy(), h.numpy(), p.numpy(), y.numpy()


def hand_set_table():
    """Rows (x0, x1, h0, h1, y) of the hand-set network on the four inputs."""
    _, h, _, y = hand_set_forward(X)
    return np.concatenate([X, h, y], axis=1)


def train(seed=0, hidden=4, lr=0.1, max_steps=1000):
    """Train a 2-hidden-1 tanh network from a random init; stop once all four inputs are
    classified correctly with a margin (loss < 0.05). Returns (model, steps, loss)."""
    ad.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    opt = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    x, t = ad.tensor(X), ad.tensor(T.reshape(4, 1))
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        if loss.item() < 0.05:
            break
    return model, step, loss.item()


def predict(model):
    with ad.no_grad():
        return ad.sigmoid(model(ad.tensor(X))).numpy()[:, 0]


def _extra(parser):
    parser.add_argument("--seed", type=int, default=0, help="seed of the trained network")


def main(argv=None):
    args = _common.parse_args("xor", __doc__, argv, _extra)
    start = time.perf_counter()

    table = hand_set_table()
    print("(a) hand-set network: h = sigma(W1 x + b1), y = sigma(W2 h + b2)")
    print("   x0   x1     h0     h1      y   y > 0.5")
    for x0, x1, h0, h1, y in table:
        print(f"  {x0:3.0f}  {x1:3.0f}  {h0:.3f}  {h1:.3f}  {y:.3f}   {int(y > 0.5)}")
    s, _, p, _ = hand_set_forward(X[2:3])
    pre = (float(s[0, 0]), float(s[0, 1]), float(p[0, 0]))
    h_rounded = np.round(table[2, 2:4], 3)
    p_rounded = float(np.dot(W2[0], h_rounded) + B2[0])
    print(f"pre-activations for x = (1, 0): s0 = {pre[0]:.0f}, s1 = {pre[1]:.0f}, "
          f"p = W2 h + b2 = {pre[2]:.4f}; from the rounded h = ({h_rounded[0]:.3f}, "
          f"{h_rounded[1]:.3f}) as on the slide: {p_rounded:.3f}")

    model, steps, loss = train(seed=args.seed, max_steps=300 if args.quick else 1000)
    probs = predict(model)
    accuracy = float(((probs > 0.5) == (T > 0.5)).mean())
    print(f"\n(b) trained 2-4-1 tanh network (seed {args.seed}, Adam lr 0.1): "
          f"{steps} steps, loss {loss:.4f}")
    print("   x0   x1      y")
    for (x0, x1), y in zip(X, probs):
        print(f"  {x0:3.0f}  {x1:3.0f}  {y:.3f}")
    print(f"accuracy {accuracy:.0%}  ({time.perf_counter() - start:.2f} s)")
    _common.draw(_plot, table, args.out)
    return {"table": table, "preactivations": pre, "p_rounded": p_rounded, "probs": probs,
            "accuracy": accuracy, "steps": steps, "loss": loss}


def _plot(table, out):
    fig, axes = _common.figure(1, 2, width=10, height=4.6)
    ax_in, ax_h = axes[0]
    grid = np.linspace(-0.25, 1.25, 151)
    gx, gy = np.meshgrid(grid, grid)
    _, _, _, y = hand_set_forward(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
    ax_in.contourf(gx, gy, y.reshape(gx.shape), levels=[0, 0.5, 1],
                   colors=["#dde8f3", "#f6e0d0"])
    ax_in.contour(gx, gy, y.reshape(gx.shape), levels=[0.5], colors="grey", linewidths=1)
    labels = {0: ("o", _common.COLOURS[0], "XOR = 0"), 1: ("s", _common.COLOURS[1], "XOR = 1")}
    for cls in (0, 1):
        marker, colour, label = labels[cls]
        rows = table[T == cls]
        ax_in.scatter(rows[:, 0], rows[:, 1], marker=marker, s=120, color=colour, label=label,
                      zorder=3)
        ax_h.scatter(rows[:, 2], rows[:, 3], marker=marker, s=120, color=colour, label=label,
                     zorder=3)
    # where each label of the hidden-space panel goes (offset in points, alignment)
    places = {(0, 0): ((0, 14), "center"), (0, 1): ((0, -36), "center"),
              (1, 0): ((0, -36), "center"), (1, 1): ((-14, -12), "right")}
    for x0, x1, h0, h1, y_ in table:
        ax_in.annotate(f"({x0:.0f}, {x1:.0f})", (x0, x1), textcoords="offset points",
                       xytext=(8, 8), fontsize=10)
        offset, align = places[(int(x0), int(x1))]
        ax_h.annotate(f"x = ({x0:.0f}, {x1:.0f})\ny = {y_:.3f}", (h0, h1), ha=align,
                      textcoords="offset points", xytext=offset, fontsize=10)
    ax_in.set(xlim=(-0.25, 1.25), ylim=(-0.25, 1.25), xlabel="input x0", ylabel="input x1",
              title="Input space: no line separates the classes\n(shaded: network says 1)")
    hx, hy = np.meshgrid(np.linspace(-0.05, 1.05, 2), np.linspace(-0.1, 1.0, 2))
    ax_h.contourf(hx, hy, 5 * hx - 5 * hy - 2, levels=[-10, 0, 10],
                  colors=["#dde8f3", "#f6e0d0"])
    line = np.linspace(-0.05, 1.05, 2)
    ax_h.plot(line, line - 0.4, color="grey", linewidth=1.5,
              label="y = 0.5, i.e. 5 h0 - 5 h1 - 2 = 0")
    ax_h.set(xlim=(-0.05, 1.05), ylim=(-0.1, 1.0), xlabel="hidden h0 (~ OR)",
             ylabel="hidden h1 (~ AND)",
             title="Hidden space: now one line separates them\n(shaded: network says 1)")
    ax_h.legend(fontsize=9, loc="upper left")
    ax_in.legend(fontsize=9, loc="center")
    _common.save(fig, out, "xor_spaces")


if __name__ == "__main__":
    main()
