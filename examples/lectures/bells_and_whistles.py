"""Putting it all together: a two-layer network on the 8x8 digits, one trick at a time
(lecture: "Putting it all together", the checklist of the training lectures).

Start from a naive network: pixels scaled to [0, 1], a sigmoid hidden layer of 128 units,
PyTorch's default init, plain SGD with lr 0.1, 20 epochs of batch 32. Then try each item
of the checklist in turn, on top of everything kept so far:
  1. standardise the inputs (per channel, statistics of the training images only)
  2. ReLU with Kaiming initialisation
  3. batch normalisation before the ReLU
  4. dropout (p = 0.2) after it
  5. data augmentation (random shifts by up to a pixel)
  6. Adam (lr 3e-3) with a cosine learning-rate schedule
  7. early stopping on the validation loss (patience 5), restoring the best weights
An item is KEPT only if it lowers the validation loss (mean over the seeds): decisions are
made on the validation set, the test set only reports. Then
  8. an ensemble of 5 networks of the kept configuration (averaged probabilities)
  9. a small random search of lr and weight decay on a log scale (scored on validation),
     and the ensemble retrained with the best values.

What to look at: the "gain" column (test accuracy, mean over seeds; with 359 test images
one image is 0.28 points, so differences below ~1 point are noise); the items that do not
help this model are rejected on validation, not on test: shifting 8x8 images by a pixel
makes the task harder for an MLP, which has no notion of translation (the ConvNet in
examples/digits_convnet.py gains from the same augmentation).

Run: python examples/lectures/bells_and_whistles.py [--quick] [--out DIR] [--seeds N]
"""
from __future__ import annotations

import functools
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import init, optim, training, tuning  # noqa: E402
from nn import transforms as T  # noqa: E402
from nn.ensemble import Ensemble, train_ensemble  # noqa: E402
from nn.utils.data import DataLoader  # noqa: E402

ITEMS = [("standardise", "standardised inputs"), ("relu", "ReLU with Kaiming init"),
         ("batchnorm", "batch normalisation"), ("dropout", "dropout 0.2"),
         ("augment", "augmentation (1-pixel shifts)"), ("adam", "Adam with cosine schedule"),
         ("early_stopping", "early stopping (best val loss)")]


def make_model(config, hidden=128):
    """The two-layer network with the switched-on items of `config` (a frozenset)."""
    layers = [nn.Flatten(), nn.Linear(64, hidden)]
    if "batchnorm" in config:
        layers.append(nn.BatchNorm1d(hidden))
    layers.append(nn.ReLU() if "relu" in config else nn.Sigmoid())
    if "dropout" in config:
        layers.append(nn.Dropout(0.2))
    layers.append(nn.Linear(hidden, 10))
    model = nn.Sequential(*layers)
    if "relu" in config:
        init.kaiming_normal_(model[1].weight, nonlinearity="relu")
    return model


def make_optimizer(config, params, lr=None, weight_decay=0.0):
    if "adam" in config:
        return optim.Adam(params, lr=lr or 3e-3, weight_decay=weight_decay)
    return optim.SGD(params, lr=lr or 0.1, weight_decay=weight_decay)


def _cosine(optimizer, total):
    return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)


def _scale(x):
    return x / 16.0  # pixel values 0..16 -> [0, 1]


def fit_setup(config, epochs, seed, **hyper):
    """(fit_kwargs for train_ensemble, test loader) of a configuration."""
    train, val, test = _common.digits_splits(seed=0)
    if "standardise" in config:
        augment = (T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(seed + 11))
                   if "augment" in config else None)
        train_loader, val_loader, test_loader, _ = _common.digits_loaders(
            train, val, test, augment=augment, seed=seed)
    else:
        scale = T.Lambda(_scale)
        if "augment" in config:
            scale = T.Compose([T.RandomCrop(8, padding=1,
                                            generator=ad.Generator().manual_seed(seed + 11)),
                               scale])
        train_loader = DataLoader(train, batch_size=32, shuffle=True, transform=scale,
                                  generator=ad.Generator().manual_seed(seed))
        val_loader = DataLoader(val, batch_size=512, transform=T.Lambda(_scale))
        test_loader = DataLoader(test, batch_size=512, transform=T.Lambda(_scale))
    kwargs = dict(loss_fn=nn.CrossEntropyLoss(), train=train_loader, val=val_loader,
                  epochs=epochs, progress=False,
                  optimizer=functools.partial(make_optimizer, config, **hyper))
    if "adam" in config:
        kwargs.update(scheduler=functools.partial(_cosine, total=epochs * len(train_loader)),
                      scheduler_interval="batch")
    if "early_stopping" in config:
        kwargs["callbacks"] = lambda seed: [training.EarlyStopping(patience=5)]
    return kwargs, test_loader


def _accuracy(model, loader):
    return training.evaluate(model, loader, ("accuracy",))["accuracy"]


def score(config, epochs, seeds, members=1, **hyper):
    """(mean validation loss, mean test accuracy) over `seeds`; one network per seed, or an
    ensemble of `members` networks (its validation loss: the mean of the members')."""
    val_losses, accs = [], []
    for seed in seeds:
        kwargs, test_loader = fit_setup(config, epochs, seed, **hyper)
        ens = train_ensemble(functools.partial(make_model, config), kwargs, n=members,
                             seeds=range(100 * seed, 100 * seed + members), progress=False)
        val_losses += [h.best["val_loss"] if "early_stopping" in config
                       else h.epochs[-1]["val_loss"] for h in ens.histories]
        model = ens.models[0] if members == 1 else Ensemble(ens.models)
        accs.append(_accuracy(model, test_loader))
    return float(np.mean(val_losses)), float(np.mean(accs))


def search(config, epochs, n_trials, seed=0):
    """Random search of lr and weight decay (log-uniform) on the validation loss of one
    network of `config`; returns the SearchResults."""
    lr_range = (3e-4, 3e-2) if "adam" in config else (1e-2, 1.0)
    space = {"lr": tuning.LogUniform(*lr_range), "weight_decay": tuning.LogUniform(1e-6, 1e-2)}

    def objective(hyper):
        return {"val_loss": score(config, epochs, [seed], **hyper)[0]}

    return tuning.run(objective, tuning.random_search(space, n_trials, seed=seed),
                      progress=False), lr_range


def _extra(parser):
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds averaged per row (default 3, 1 with --quick)")


def main(argv=None):
    args = _common.parse_args("bells_and_whistles", __doc__, argv, _extra)
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    epochs, members, trials = (3, 2, 3) if args.quick else (20, 5, 10)
    print(f"digits (1,258 train / 180 val / 359 test), a 64-128-10 network, {epochs} epochs of "
          f"batch 32, mean over {len(seeds)} seed(s); an item is kept if it lowers the "
          f"validation loss\n")
    config = frozenset()
    val, acc = score(config, epochs, seeds)
    rows = [("naive: pixels in [0, 1], sigmoid, default init, SGD lr 0.1", val, 100 * acc,
             None, "-")]
    print(f"{rows[0][0]:60s} val loss {val:.4f}  test {100 * acc:5.1f}%", flush=True)
    for key, label in ITEMS:
        trial = config | {key}
        t_val, t_acc = score(trial, epochs, seeds)
        kept = t_val < val
        rows.append((f"+ {label}", t_val, 100 * t_acc, 100 * (t_acc - acc),
                     "kept" if kept else "rejected"))
        print(f"{rows[-1][0]:60s} val loss {t_val:.4f}  test {100 * t_acc:5.1f}%  "
              f"{rows[-1][4]}", flush=True)
        if kept:
            config, val, acc = trial, t_val, t_acc

    e_val, e_acc = score(config, epochs, seeds, members=members)
    rows.append((f"+ ensemble of {members}", e_val, 100 * e_acc, 100 * (e_acc - acc), "kept"))
    print(f"{rows[-1][0]:60s} test {100 * e_acc:5.1f}%", flush=True)

    results, lr_range = search(config, epochs, trials)
    best = results.best("val_loss")["config"]
    print(f"\nrandom search, {trials} trials: lr log-uniform in [{lr_range[0]:g}, "
          f"{lr_range[1]:g}], weight decay in [1e-06, 0.01], scored by validation loss")
    for record in sorted(results.to_records(), key=lambda r: r["metrics"]["val_loss"]):
        c = record["config"]
        print(f"  lr {c['lr']:.2e}  weight decay {c['weight_decay']:.1e}  ->  val loss "
              f"{record['metrics']['val_loss']:.4f}")
    s_val, s_acc = score(config, epochs, seeds, members=members, **best)
    rows.append((f"+ searched lr {best['lr']:.1e}, weight decay {best['weight_decay']:.0e}",
                 s_val, 100 * s_acc, 100 * (s_acc - e_acc), "kept"))

    print("\n== what each item gained (test accuracy, %; decisions on the validation loss)")
    print(_common.table(["network", "val loss", "test acc", "gain", "decision"],
                        [(n, v, a, "" if g is None else f"{g:+.1f}", d) for n, v, a, g, d in rows],
                        ["{}", "{:.4f}", "{:.1f}", "{}", "{}"]))
    print(f"kept: {', '.join(label for key, label in ITEMS if key in config)}")
    _common.draw(_plot, rows, args.out)
    return dict(rows=rows, config=sorted(config), best=best, lr_range=lr_range,
                records=results.to_records())


def _plot(rows, out):
    fig, ax = _common.figure(width=9.5, height=5)
    y = np.arange(len(rows))[::-1]
    colours = {"-": _common.COLOURS[0], "kept": _common.COLOURS[2], "rejected": "#bbbbbb"}
    acc = [r[2] for r in rows]
    low = max(0.0, np.floor(min(acc) - 5))
    ax.barh(y, acc, color=[colours[r[4]] for r in rows])
    for yi, a in zip(y, acc):
        ax.text(a + 0.2, yi, f"{a:.1f}%", va="center", fontsize=9)
    ax.set_yticks(y, [r[0] + ("  [rejected]" if r[4] == "rejected" else "") for r in rows],
                  fontsize=9)
    ax.set_xlim(low, 101)
    ax.set_xlabel(f"test accuracy (%, axis from {low:.0f})\ngreen rows build on each other; "
                  "grey ones were rejected on the validation loss")
    ax.set_title("Putting it all together on the digits")
    _common.save(fig, out, "bells_and_whistles")


if __name__ == "__main__":
    main()
