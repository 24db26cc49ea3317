"""Model ensembles on the 8x8 digits (lecture: "Model ensembles": train several models
independently, average their predicted probabilities or let them vote at test time;
bagging; the members' disagreement as an uncertainty; test-time augmentation).

Members: a 64-128-10 ReLU MLP with Dropout(0.2), Adam, trained with random 1-pixel shifts
(RandomCrop with padding 1), each from its own seed (nn.ensemble.train_ensemble). Two
ensembles of the same size: members on the full training set, and bagged members, each on
its own bootstrap resample (drawn with replacement, so each sees ~63% of the images).

What to look at: the ensembles beat the average member (the table and figure
ensembles.png, left); averaging probabilities and majority voting are close; a bootstrap
member is weaker than a full-data one, but their ensemble recovers much of the gap; the test
images on which members disagree are where the ensemble makes most of its errors (right);
averaging the model's predictions over shifted copies of a test image (TTA) helps a single
model a little.

Run: python examples/lectures/ensembles.py [--quick] [--out DIR] [--members N]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import optim, training  # noqa: E402
from nn import transforms as T  # noqa: E402
from nn.ensemble import Ensemble, train_ensemble, tta_predict  # noqa: E402


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(128, 10))


def make_optimizer(params):
    return optim.Adam(params, lr=3e-3)


def accuracy(model, loader):
    return training.evaluate(model, loader, ("accuracy",))["accuracy"]


def _extra(parser):
    parser.add_argument("--members", type=int, default=None,
                        help="models per ensemble (default 7, 3 with --quick)")


def main(argv=None):
    args = _common.parse_args("ensembles", __doc__, argv, _extra)
    n = args.members or (3 if args.quick else 7)
    epochs = 4 if args.quick else 25
    train, val, test = _common.digits_splits(seed=0)
    shift = T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(1))
    train_loader, val_loader, test_loader, stats = _common.digits_loaders(
        train, val, test, augment=shift)
    fit_kwargs = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=make_optimizer,
                      train=train_loader, val=val_loader, epochs=epochs, progress=False)
    print(f"digits: {len(train)} train / {len(val)} val / {len(test)} test; {n} members per "
          f"ensemble, {epochs} epochs each (64-128-10 MLP, {make_model().num_parameters():,} "
          f"parameters)")

    rows, ensembles = [], {}
    for label, bootstrap in (("full data", False), ("bootstrap (bagging)", True)):
        ens = train_ensemble(make_model, fit_kwargs, n=n, bootstrap=bootstrap,
                             seeds=range(100, 100 + n), progress=False)
        members = [accuracy(m, test_loader) for m in ens.models]
        mean_acc = accuracy(Ensemble(ens.models, combine="mean"), test_loader)
        vote_acc = accuracy(Ensemble(ens.models, combine="vote"), test_loader)
        rows.append((label, np.mean(members), np.std(members), min(members), mean_acc,
                     vote_acc))
        ensembles[label] = dict(members=members, mean=mean_acc, vote=vote_acc,
                                models=ens.models)
    print("\n== test accuracy (%)")
    print(_common.table(["members trained on", "member mean", "member sd", "worst member",
                         "ensemble: mean prob", "ensemble: vote"],
                        [(r[0], *(100 * v for v in r[1:])) for r in rows],
                        ["{}"] + ["{:.1f}"] * 5))

    print("\n== disagreement as uncertainty (full-data ensemble, test set)")
    x_test, y_test = next(iter(test_loader))
    ens = Ensemble(ensembles["full data"]["models"]).eval()
    dissent = np.rint(ens.disagreement(x_test).numpy() * n).astype(int)  # members against
    wrong = ens.predict(x_test).numpy() != y_test.numpy()
    table = []
    for k in range(dissent.max() + 1):
        sel = dissent == k
        if sel.any():
            table.append((k, int(sel.sum()), int(wrong[sel].sum()), 100 * wrong[sel].mean()))
    print(_common.table(["members disagreeing", "test images", "ensemble errors", "error %"],
                        table, ["{}", "{}", "{}", "{:.1f}"]))
    agree = dissent == 0
    print(f"{100 * (~agree).mean():.1f}% of the images have some disagreement and hold "
          f"{int(wrong[~agree].sum())} of the ensemble's {int(wrong.sum())} errors")

    print("\n== test-time augmentation (each full-data member alone)")
    tta_shift = T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(7))
    # TTA must augment before standardising, as in training: undo, shift, redo
    tta = T.Compose([T.Lambda(stats.inverse_transform), tta_shift, stats])
    plain, with_tta = [], []
    for model in ensembles["full data"]["models"]:
        plain.append(float((model.eval()(x_test).numpy().argmax(1) == y_test.numpy()).mean()))
        probs = tta_predict(model, x_test, tta, n=10)
        with_tta.append(float((probs.numpy().argmax(1) == y_test.numpy()).mean()))
    print(f"mean member accuracy {100 * np.mean(plain):.1f}% -> with TTA (original + 10 "
          f"shifted copies) {100 * np.mean(with_tta):.1f}%")
    result = {label: {k: v for k, v in e.items() if k != "models"}
              for label, e in ensembles.items()}
    result.update(disagreement=table, errors=int(wrong.sum()),
                  errors_when_agreeing=int(wrong[agree].sum()), agree_count=int(agree.sum()),
                  tta_plain=float(np.mean(plain)), tta=float(np.mean(with_tta)))
    _common.draw(_plot, ensembles, table, args.out)
    return result


def _plot(ensembles, table, out):
    fig, axes = _common.figure(1, 2, width=11, height=4.2)
    ax, ax_err = axes[0]
    ticks, labels = [], []
    for i, (label, e) in enumerate(ensembles.items()):
        x0 = 4 * i
        members = 100 * np.array(e["members"])
        ax.scatter(np.full(len(members), x0) + np.linspace(-0.25, 0.25, len(members)), members,
                   color=_common.COLOURS[0], zorder=3, label="single members" if i == 0 else None)
        ax.hlines(members.mean(), x0 - 0.4, x0 + 0.4, color=_common.COLOURS[0], lw=1)
        for dx, key, marker, colour, name in ((1.2, "mean", "D", _common.COLOURS[1],
                                               "ensemble: mean probability"),
                                              (2.2, "vote", "s", _common.COLOURS[2],
                                               "ensemble: majority vote")):
            ax.scatter(x0 + dx, 100 * e[key], marker=marker, s=90, color=colour, zorder=3,
                       label=name if i == 0 else None)
            ax.annotate(f"{100 * e[key]:.1f}", (x0 + dx, 100 * e[key]), textcoords="offset points",
                        xytext=(0, 9), ha="center", fontsize=10)
        ax.annotate(f"mean {members.mean():.1f}", (x0 + 0.4, members.mean()), fontsize=9,
                    textcoords="offset points", xytext=(4, -3))
        ticks += [x0 + 1.1]
        labels += [f"{label}\n({len(members)} members)"]
    ax.set_xticks(ticks, labels)
    ax.set_xlim(-1, 4 * len(ensembles) - 0.5)
    top = max(max(e["mean"], e["vote"]) for e in ensembles.values())
    ax.set_ylim(top=100 * top + 0.6)
    ax.set(ylabel="test accuracy (%)", title="Ensembles beat their members")
    ax.legend(fontsize=9, loc="best")
    ks = [r[0] for r in table]
    ax_err.bar(ks, [r[3] for r in table], color=_common.COLOURS[1])
    for k, count, errors, err in table:
        ax_err.text(k, err, f"{errors} / {count}", ha="center", va="bottom", fontsize=9)
    ax_err.set(xlabel="members disagreeing with the ensemble's answer",
               ylabel="ensemble error rate (%)",
               title="Disagreement flags the likely errors\n(labels: wrong / images in the group)")
    ax_err.set_xticks(ks)
    _common.save(fig, out, "ensembles")


if __name__ == "__main__":
    main()
