"""Regularisation (lecture: "Regularization": L1 and L2 penalties, weight decay, early
stopping, data augmentation, label smoothing), each on the 8x8 digits.

  1. L1 vs L2 penalties on a 64-10 softmax classifier trained with SGD (nn.l1_penalty /
     nn.l2_penalty skip the biases): at a similar mean |w|, L1 parks half the weights at
     ~0 (sparse), L2 shrinks all of them a little; figure penalty_weights.png shows the
     weight histograms and the weights as images (L1 keeps the informative pixels).
  2. Weight decay: one SGD step with weight_decay=wd equals one step on the loss plus
     wd/2 * sum w^2 (checked to float precision); AdamW's decoupled decay differs from
     Adam's L2 term.
  3. Early stopping: a wide MLP on 200 training images overfits: the validation loss turns
     up while the training loss keeps falling; EarlyStopping(patience=10) stops and restores
     the best epoch (figure early_stopping.png, drawn with viz.plots.plot_history). Here it
     is the loss (the confidence) that overfits; the accuracy barely moves.
  4. Data augmentation on a small ConvNet trained on 300 images: random 1-pixel shifts
     (RandomCrop with padding 1). The data set's digits are centred, so on its test images
     the shifts buy nothing; on test digits shifted by up to a pixel they recover most of
     the accuracy the unaugmented network loses: augmentation teaches the invariances the
     test data will need.
  5. Label smoothing (0.1): the network's confidence (mean top probability) drops towards
     its accuracy, the accuracy itself barely changes.

Run: python examples/lectures/regularisation.py [--quick] [--out DIR]
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
from nn import optim, training  # noqa: E402
from nn import transforms as T  # noqa: E402
from nn.utils.data import DataLoader, Subset  # noqa: E402


def _accuracy(model, loader):
    return training.evaluate(model, loader, ("accuracy",))["accuracy"]


# ---------------------------------------------------------------- 1. L1 vs L2


class PenalisedLoss:
    """cross-entropy + lam * penalty(model): the penalty skips biases (nn.l1_penalty)."""

    def __init__(self, model, kind, lam):
        self.model, self.kind, self.lam = model, kind, lam

    def __call__(self, out, target):
        loss = F.cross_entropy(out, target)
        if self.kind == "L1":
            return loss + self.lam * nn.l1_penalty(self.model)
        if self.kind == "L2":
            return loss + self.lam * nn.l2_penalty(self.model)
        return loss


def penalty_runs(loaders, epochs):
    """Train the 64-10 softmax classifier with no penalty, L1 and L2; returns
    {kind: (weights (10, 64), bias, test accuracy, penalised parameter names)}."""
    train_loader, val_loader, test_loader = loaders
    runs = {}
    for kind, lam in (("none", 0.0), ("L1", 3e-3), ("L2", 1e-2)):
        ad.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        # plain SGD: its L1 subgradient steps park weights at ~0 (Adam's rescaled steps
        # would keep them jittering around it)
        opt = optim.SGD(model.parameters(), lr=0.05)
        training.fit(model, PenalisedLoss(model, kind, lam), opt, train_loader, epochs=epochs,
                     progress=False)
        names = [name for name, p in model.named_parameters()
                 if any(p is q for q in nn.penalized_parameters(model))]
        runs[kind] = (model[1].weight.numpy().copy(), model[1].bias.numpy().copy(),
                      _accuracy(model, test_loader), names, lam)
    return runs


# ---------------------------------------------------------------- 2. weight decay

def weight_decay_equivalence(wd=0.1, lr=0.05):
    """max |difference| between one SGD step with weight_decay=wd and one step on
    loss + wd/2 sum w^2 (weights only, biases get no decay in either)."""
    rng = np.random.default_rng(0)
    x, y = ad.tensor(rng.standard_normal((16, 5))), ad.tensor(rng.integers(0, 3, 16))
    ad.manual_seed(0)
    a = nn.Linear(5, 3).to(ad.float64)
    b = nn.Linear(5, 3).to(ad.float64)
    b.load_state_dict(a.state_dict())
    opt_a = optim.SGD([{"params": [a.weight], "weight_decay": wd}, {"params": [a.bias]}], lr=lr)
    F.cross_entropy(a(x), y).backward()
    opt_a.step()
    opt_b = optim.SGD(b.parameters(), lr=lr)
    (F.cross_entropy(b(x), y) + wd / 2 * nn.l2_penalty(b)).backward()
    opt_b.step()
    sgd = max(float(np.abs(a.weight.numpy() - b.weight.numpy()).max()),
              float(np.abs(a.bias.numpy() - b.bias.numpy()).max()))
    # Adam + L2 term vs AdamW: the same wd, different updates after a few steps
    ad.manual_seed(0)
    c, d = nn.Linear(5, 3).to(ad.float64), nn.Linear(5, 3).to(ad.float64)
    d.load_state_dict(c.state_dict())
    opt_c = optim.Adam(c.parameters(), lr=lr, weight_decay=wd)
    opt_d = optim.AdamW(d.parameters(), lr=lr, weight_decay=wd)
    for _ in range(5):
        for model, opt in ((c, opt_c), (d, opt_d)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return sgd, float(np.abs(c.weight.numpy() - d.weight.numpy()).max())


# ---------------------------------------------------------------- 3. early stopping

def early_stopping_run(epochs, n_train=200):
    """A 64-512-10 MLP on n_train images, Adam lr 3e-3, EarlyStopping(patience=10); returns
    (history, stopper, test accuracy after restoring, test accuracy without stopping)."""
    train, val, test = _common.digits_splits(seed=0)
    small = Subset(train.dataset, list(train.indices[:n_train]))

    def run(callbacks):  # both runs see the same batches: fresh loaders, same seeds
        train_loader, val_loader, test_loader, _ = _common.digits_loaders(small, val, test)
        ad.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 10))
        history = training.fit(model, nn.CrossEntropyLoss(),
                               optim.Adam(model.parameters(), lr=3e-3), train_loader,
                               val_loader, epochs=epochs, callbacks=callbacks, progress=False)
        return history, _accuracy(model, test_loader)

    stopper = training.EarlyStopping(monitor="val_loss", patience=10)
    history, acc_stopped = run([stopper])
    full_history, acc_full = run([])
    return history, full_history, stopper, acc_stopped, acc_full


# ---------------------------------------------------------------- 4. augmentation

def small_convnet():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def train_one(make_model, loss_fn, loader, epochs, seed):
    """A model from make_model() under ad.manual_seed(seed), trained with Adam (lr 3e-3)."""
    ad.manual_seed(seed)
    model = make_model()
    training.fit(model, loss_fn, optim.Adam(model.parameters(), lr=3e-3), loader,
                 epochs=epochs, progress=False)
    return model


def augmentation_runs(epochs, seeds, n_train=300):
    """Mean test accuracy of the small ConvNet trained on n_train images without and with
    random 1-pixel shifts, on the test images as they are (centred, like the training
    images) and on the test images shifted by up to a pixel (a fixed draw)."""
    train, val, test = _common.digits_splits(seed=0)
    small = Subset(train.dataset, list(train.indices[:n_train]))
    out = {}
    for label in ("no augmentation", "random shifts"):
        accs = {"centred test images": [], "shifted test images": []}
        for seed in seeds:
            augment = None
            if label == "random shifts":
                augment = T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(seed + 1))
            train_loader, _, test_loader, stats = _common.digits_loaders(
                small, val, test, augment=augment, seed=seed)
            model = train_one(small_convnet, nn.CrossEntropyLoss(), train_loader, epochs, seed)
            x, y = next(iter(DataLoader(test, batch_size=len(test))))
            shift = T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(99))
            for name, images in (("centred test images", x), ("shifted test images", shift(x))):
                with ad.no_grad():
                    pred = model.eval()(stats(images)).numpy().argmax(1)
                accs[name].append(float((pred == y.numpy()).mean()))
        out[label] = {name: float(np.mean(a)) for name, a in accs.items()}
    return out


# ---------------------------------------------------------------- 5. label smoothing

def label_smoothing_runs(epochs, seeds):
    """{smoothing: (test accuracy, mean top probability)} of a 64-128-10 MLP."""
    train, val, test = _common.digits_splits(seed=0)
    out = {}
    for smoothing in (0.0, 0.1):
        accs, confs = [], []
        for seed in seeds:
            train_loader, _, test_loader, _ = _common.digits_loaders(train, val, test, seed=seed)
            model = train_one(_mlp, nn.CrossEntropyLoss(label_smoothing=smoothing),
                              train_loader, epochs, seed).eval()
            x, y = next(iter(test_loader))
            with ad.no_grad():
                probs = ad.softmax(model(x), 1).numpy()
            accs.append(float((probs.argmax(1) == y.numpy()).mean()))
            confs.append(float(probs.max(1).mean()))
        out[smoothing] = (float(np.mean(accs)), float(np.mean(confs)))
    return out


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def main(argv=None):
    args = _common.parse_args("regularisation", __doc__, argv)
    quick = args.quick
    seeds = [0] if quick else [0, 1, 2]
    result = {}
    train, val, test = _common.digits_splits(seed=0)
    train_loader, val_loader, test_loader, _ = _common.digits_loaders(train, val, test)

    print("== 1. L1 vs L2 penalty on a 64-10 softmax classifier (biases not penalised)")
    runs = penalty_runs((train_loader, val_loader, test_loader), 5 if quick else 40)
    rows = []
    for kind, (w, b, acc, names, lam) in runs.items():
        rows.append((kind, lam, 100 * acc, float(np.abs(w).mean()),
                     100 * (np.abs(w) < 0.01).mean(), float(np.abs(b).mean())))
    print(_common.table(["penalty", "lambda", "test acc %", "mean |w|", "|w| < 0.01 (%)",
                         "mean |bias|"], rows,
                        ["{}", "{:g}", "{:.1f}", "{:.4f}", "{:.1f}", "{:.3f}"]))
    print(f"penalised parameters: {runs['L1'][3]} (the bias is skipped)")
    result["penalties"] = {kind: dict(acc=r[2], near_zero=r[4], mean_abs=r[3])
                           for kind, r in zip(runs, rows)}
    result["penalised_names"] = runs["L1"][3]

    print("\n== 2. weight decay")
    sgd_diff, adam_diff = weight_decay_equivalence()
    print(f"SGD(weight_decay=0.1) vs loss + 0.05 sum w^2 after one step: max difference "
          f"{sgd_diff:.1e}")
    print(f"Adam(weight_decay=0.1) (L2 in the gradient) vs AdamW(weight_decay=0.1) (decoupled) "
          f"after 5 steps: max weight difference {adam_diff:.3f}")
    result.update(sgd_decay_diff=sgd_diff, adam_vs_adamw=adam_diff)

    print("\n== 3. early stopping (64-512-10 MLP on 200 training images)")
    history, full_history, stopper, acc_stopped, acc_full = early_stopping_run(
        30 if quick else 150)
    best = history.best
    print(f"best val loss {best['val_loss']:.4f} at epoch {history.best_epoch}; stopped at "
          f"epoch {history.stopped_epoch} (patience 10), best weights restored")
    last = full_history.epochs[-1]
    print(f"without stopping, epoch {last['epoch']}: train loss {last['loss']:.4f}, val loss "
          f"{last['val_loss']:.4f} (min {min(full_history['val_loss']):.4f})")
    print(f"test accuracy: early stopped {100 * acc_stopped:.1f}%, trained to the end "
          f"{100 * acc_full:.1f}%")
    result.update(best_epoch=history.best_epoch, stopped_epoch=history.stopped_epoch,
                  best_val=best["val_loss"], final_val=last["val_loss"],
                  final_train=last["loss"], min_val=min(full_history["val_loss"]),
                  acc_stopped=acc_stopped, acc_full=acc_full)

    print("\n== 4. data augmentation (small ConvNet, 300 training images)")
    aug = augmentation_runs(5 if quick else 60, seeds)
    columns = list(next(iter(aug.values())))
    print(_common.table(["trained with"] + [f"{c} (%)" for c in columns],
                        [(label, *(100 * accs[c] for c in columns)) for label, accs in aug.items()],
                        ["{}"] + ["{:.1f}"] * len(columns)))
    print("the digits of this data set are centred: shifts add no invariance the centred test "
          "set needs, but they make the network robust to test digits that are not centred")
    result["augmentation"] = aug

    print("\n== 5. label smoothing (64-128-10 MLP)")
    smooth = label_smoothing_runs(5 if quick else 40, seeds)
    for s, (acc, conf) in smooth.items():
        print(f"label_smoothing={s}: test accuracy {100 * acc:.1f}%, mean top probability "
              f"{conf:.3f}")
    result["label_smoothing"] = smooth

    if _common.have_matplotlib():
        _plot_penalties(runs, args.out)
        _plot_early_stopping(history, full_history, args.out)
    else:
        _common.skip_figures_note()
    return result


def _class_grid(w):
    """The (10, 64) weights as one image: the ten 8x8 class templates in 2 rows of 5, with
    a blank pixel between them."""
    grid = np.full((2 * 9 - 1, 5 * 9 - 1), np.nan)
    for k in range(10):
        r, c = divmod(k, 5)
        grid[9 * r:9 * r + 8, 9 * c:9 * c + 8] = w[k].reshape(8, 8)
    return grid


def _plot_penalties(runs, out):
    fig, axes = _common.figure(2, 3, width=12, height=6.2)
    bins = np.linspace(-1.2, 1.2, 49)
    limit = max(np.abs(r[0]).max() for r in runs.values())
    for col, (kind, (w, _, acc, _, lam)) in enumerate(runs.items()):
        ax = axes[0, col]
        ax.hist(w.ravel(), bins=bins, color=_common.COLOURS[col])
        ax.set_yscale("log")
        near_zero = 100 * (np.abs(w) < 0.01).mean()
        ax.set(title=(f"{kind}" + (f" (lambda {lam:g})" if lam else "") +
                      f": test {100 * acc:.1f}%\n{near_zero:.0f}% of |w| < 0.01"),
               xlabel="weight value", ylabel="count (log scale)")
        im = axes[1, col].imshow(_class_grid(w), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[1, col].set(title="weights of the classes 0-4 / 5-9 as 8x8 images",
                         xticks=[], yticks=[])
        axes[1, col].title.set_fontsize(10)
        axes[1, col].grid(False)
    fig.colorbar(im, ax=axes[1, :], shrink=0.8, label="weight (white: ~0)")
    _common.save(fig, out, "penalty_weights")


def _plot_early_stopping(history, full_history, out):
    """The run trained to the end, with its best epoch (where EarlyStopping restores the
    weights) and the epoch at which patience 10 stopped the other run."""
    from viz import plots
    fig = plots.plot_history(full_history, metrics=("loss",), mark_best=True, logy=True,
                             title="Early stopping: the training loss keeps falling, "
                                   "the validation loss turns up")
    ax = fig.axes[0]
    ax.axvline(history.stopped_epoch, color="grey", linestyle="--", linewidth=1.5,
               label=f"EarlyStopping(patience=10) stops (epoch {history.stopped_epoch})")
    ax.legend(fontsize=14)
    fig.savefig(out / "early_stopping.png", dpi=100)


if __name__ == "__main__":
    main()
