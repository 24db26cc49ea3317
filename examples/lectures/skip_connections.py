"""Skip connections (lecture: "Residual and highway connections": the lecture's layer
variants trained side by side, and the loss landscape with and without skips).

1. A layer with input p computes s = W p + b and outputs (nn.functional.gated_skip):
     plain            sigma(s)
     sigma(s) + p     residual: the input is carried past the layer unchanged
     sigma(s) + s     the skip carries the pre-activation instead
     sigma(s) + W s   the skip goes through the layer's weights once more
     highway          sigma(p) sigma(s) + (1 - sigma(p)) p: the gate sigma(p) mixes the
                      transform sigma(s) and the carried input p
   A 20-layer stack of each (width 32; Linear(64, 32) before, Linear(32, 10) after) trains
   on the 8x8 digits with Adam (lr 1e-3). Figure skip_variants.png.
2. The loss landscape (Li et al., 2018): a 20-layer ReLU network, h = relu(W h + b), and the
   same network with residual connections, h = h + relu(W h + b), both trained; the loss
   along filter-normalised random directions through the trained weights
   (viz.plots.plot_loss_landscape / loss_landscape), a line and a plane. Figures
   loss_landscape_1d.png, loss_landscape_2d.png.

What to look at: in 1, the plain sigmoid stack does not train at all (its gradients vanish
through 20 sigmoids, see vanishing_gradients.py) and neither does the skip through W;
the skips that carry the input itself (residual, highway) train to ~97%; the pre-activation
skip is in between. In 2, the network without skips sits in a narrow, steep-walled valley
(the loss reaches ~1,000 within one filter-normalised step), the residual one in a wide
flat bowl (~10): easier to optimise, and what Li et al. relate to better generalisation.

Run: python examples/lectures/skip_connections.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import optim, training  # noqa: E402

VARIANTS = ["plain", "sigma(s) + p", "sigma(s) + s", "sigma(s) + W s", "highway"]
DEPTH, WIDTH, LR = 20, 32, 1e-3


class VariantLayer(nn.Module):
    """One of the lecture's layers: input p, s = W p + b, then the chosen output."""

    def __init__(self, width, kind):
        super().__init__()
        self.kind = kind
        self.linear = nn.Linear(width, width)  # s = W p + b

    def forward(self, p):
        s = self.linear(p)
        transform = ad.sigmoid(s)
        if self.kind == "plain":
            return transform
        if self.kind == "sigma(s) + p":
            return F.gated_skip(transform, p)
        if self.kind == "sigma(s) + s":
            return F.gated_skip(transform, s)
        if self.kind == "sigma(s) + W s":
            return F.gated_skip(transform, nn.functional.linear(s, self.linear.weight))
        return F.gated_skip(transform, p, gate=ad.sigmoid(p))  # highway

    def extra_repr(self):
        return self.kind


def deep_net(kind, depth=DEPTH, width=WIDTH):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width),
                         *[VariantLayer(width, kind) for _ in range(depth)],
                         nn.Linear(width, 10))


class ReluBlock(nn.Module):
    """h -> relu(W h + b), plus h when residual (Kaiming init; the residual branch starts
    5x smaller so the sum does not grow with depth)."""

    def __init__(self, width, residual):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.residual = residual
        nn.init.kaiming_normal_(self.linear.weight, nonlinearity="relu")
        if residual:
            with ad.no_grad():
                self.linear.weight.data *= 0.2

    def forward(self, h):
        y = F.relu(self.linear(h))
        return y + h if self.residual else y


def relu_net(residual, depth=DEPTH, width=WIDTH):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width),
                         *[ReluBlock(width, residual) for _ in range(depth)],
                         nn.Linear(width, 10))


def _fit(make, epochs, seed=0):
    train, val, test = _common.digits_splits(seed=0)
    train_loader, val_loader, _, _ = _common.digits_loaders(train, val, test, seed=seed)
    ad.manual_seed(seed)
    model = make()
    history = training.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=LR),
                           train_loader, val_loader, epochs=epochs, progress=False)
    return model, history


def train_variants(epochs, seed=0):
    """{kind: (model, History)} for every variant, same data order and seed."""
    return {kind: _fit(lambda: deep_net(kind), epochs, seed) for kind in VARIANTS}


def main(argv=None):
    args = _common.parse_args("skip_connections", __doc__, argv)
    epochs = 3 if args.quick else 30
    print(f"1. {DEPTH} layers of width {WIDTH} on the digits, Adam lr {LR:g}, {epochs} epochs")
    runs = train_variants(epochs)
    rows = []
    for kind, (model, history) in runs.items():
        first, last = history.epochs[0], history.epochs[-1]
        rows.append((kind, model.num_parameters(), first["loss"], last["loss"],
                     100 * last["val_accuracy"]))
    print(_common.table(["layer", "parameters", "loss, epoch 1", f"loss, epoch {epochs}",
                         "val accuracy %"], rows, ["{}", "{:,}", "{:.3f}", "{:.4f}", "{:.1f}"]))
    result = {"variants": {r[0]: dict(first=r[2], last=r[3], val_acc=r[4]) for r in rows}}

    landscape_epochs = 3 if args.quick else 20
    nets = {"without skips": _fit(lambda: relu_net(False), landscape_epochs),
            "with residual connections": _fit(lambda: relu_net(True), landscape_epochs)}
    train, val, test = _common.digits_splits(seed=0)
    data = [next(iter(_common.digits_loaders(train, val, test)[0]))]
    print(f"\n2. {DEPTH}-layer ReLU networks, {landscape_epochs} epochs; the training loss along "
          "a filter-normalised random direction (alpha = -1 .. 1)")
    if not _common.have_matplotlib():
        _common.skip_figures_note()
        return result
    from viz import plots
    lines = {}
    for label, (model, history) in nets.items():
        out = plots.loss_landscape(model, nn.CrossEntropyLoss(), data, kind="1d", span=1.0,
                                   resolution=21)
        lines[label] = out
        print(f"  {label:26s} val accuracy {100 * history.epochs[-1]['val_accuracy']:.1f}%; "
              f"loss at alpha = -1, -0.5, 0, 0.5, 1: "
              + ", ".join(f"{v:.3g}" for v in out["losses"][[0, 5, 10, 15, 20]]))
    result["landscape"] = {label: out["losses"] for label, out in lines.items()}

    _plot_variants(runs, args.out)
    models = {label: model for label, (model, _) in nets.items()}
    fig = plots.plot_loss_landscape(models, nn.CrossEntropyLoss(), data, kind="1d", span=1.0,
                                    resolution=41, log=True,
                                    title=f"{DEPTH}-layer ReLU network: the training loss "
                                          "along a random direction")
    _common.save(fig, args.out, "loss_landscape_1d")
    fig = plots.plot_loss_landscape(models, nn.CrossEntropyLoss(), data, kind="2d", span=1.0,
                                    resolution=11 if args.quick else 25,
                                    title=f"The loss on a random plane through the trained "
                                          f"weights ({DEPTH}-layer ReLU networks; dot: the "
                                          "weights)")
    _common.save(fig, args.out, "loss_landscape_2d")
    return result


def _plot_variants(runs, out):
    fig, axes = _common.figure(1, 2, width=12, height=4.5)
    loss_ax, acc_ax = axes[0]
    for i, (kind, (_, history)) in enumerate(runs.items()):
        epochs = [r["epoch"] for r in history.epochs]
        # dashed and thinner from the fourth on: plain and "W s" lie on top of each other
        style = dict(color=_common.COLOURS[i], lw=2 if i < 3 else 1.5,
                     linestyle="-" if i < 3 else "--", marker="os^Dv"[i], markevery=0.2,
                     label=kind)
        loss_ax.semilogy(epochs, history["loss"], **style)
        acc_ax.plot(epochs, [100 * a for a in history["val_accuracy"]], **style)
    loss_ax.set(xlabel="epoch", ylabel="training loss (log scale)", title="training loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy")
    acc_ax.legend(title="layer output", loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"{DEPTH}-layer sigmoid networks, s = W p + b for the layer input p")
    _common.save(fig, out, "skip_variants")


if __name__ == "__main__":
    main()
