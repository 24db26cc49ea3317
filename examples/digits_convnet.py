"""A small ConvNet learns 8x8 handwritten digits with the whole training workflow: a
stratified split, per-channel standardisation fitted on the training images only, data
augmentation, fit with early stopping and checkpoints, and an ensemble.

Data: the 1,797 8x8 digits of the UCI "Optical Recognition of Handwritten Digits" test set
(E. Alpaydin, C. Kaynak; CC BY 4.0), shipped with the package (nn.utils.data.load_digits;
attribution in nn/utils/data/datasets/README.md); nothing is downloaded. A class-stratified
70/10/20 split gives 1,258 training, 180 validation and 359 test images.

Model (input 1x8x8):
    [Conv 3x3 -> BatchNorm -> ReLU] x2 (16, 32 channels) -> MaxPool 2   (32 x 4 x 4)
    Conv 3x3 (64) -> BatchNorm -> ReLU -> MaxPool 2                      (64 x 2 x 2)
    Flatten -> Dropout(0.3) -> Linear(256, 10)
trained with Adam and a per-step cosine learning-rate schedule on cross-entropy; training
images are shifted by up to a pixel (RandomCrop with padding) and rotated by up to 10
degrees. EarlyStopping watches the validation loss and restores the best weights;
Checkpoint keeps the last two epochs and the best one. Then `--members` more models are
trained from other seeds, each with its own early stopping (train_ensemble), and their
averaged probabilities and majority vote are compared with the single models on the test
set. Finally the BatchNorms of the
first model are folded into its convolutions (nn.utils.fuse_batchnorm) and the fused model
is checked to give the same predictions.

Run: python examples/digits_convnet.py [--epochs N] [--members M] [--seed S]
         [--executor serial|processes] [--checkpoints DIR] [--quick] [--no-progress]
(--quick: 2 epochs, 2 members, for CI; a few seconds.)
"""
import argparse
import concurrent.futures as cf
import functools
import tempfile
import time

import numpy as np

import autodiff as ad
import nn
from nn import optim, training
from nn import transforms as T
from nn.ensemble import Ensemble, train_ensemble
from nn.utils.data import DataLoader, load_digits, stratified_split


def load_data(seed=0):
    """(train, val, test) Subsets of the shipped digits, stratified by class, fixed by seed."""
    return stratified_split(load_digits(), [0.7, 0.1, 0.2],
                            generator=ad.Generator().manual_seed(seed))


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, 10))


def make_optimizer(params):
    return optim.Adam(params, lr=3e-3)


def loaders(train, val, test, seed=0, batch_size=32):
    """Loaders with standardisation (statistics of the training images only) and, for
    training, augmentation drawn from seeded generators."""
    stats = T.Standardizer(per="channel").fit(DataLoader(train, batch_size=512))
    augment = T.Compose([T.RandomCrop(8, padding=1, generator=ad.Generator().manual_seed(seed + 1)),
                         T.RandomRotation(10, generator=ad.Generator().manual_seed(seed + 2)),
                         stats])
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True,
                              generator=ad.Generator().manual_seed(seed), transform=augment)
    val_loader = DataLoader(val, batch_size=512, transform=stats)
    test_loader = DataLoader(test, batch_size=512, transform=stats)
    return train_loader, val_loader, test_loader, stats


def cosine(optimizer, total_steps):
    """A per-step cosine schedule (train_ensemble builds one per member from a partial of
    this top-level function, which worker processes can unpickle)."""
    return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def accuracy(model, loader):
    return training.evaluate(model, loader, ("accuracy",))["accuracy"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--members", type=int, default=4,
                        help="models trained for the ensemble besides the first one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--executor", choices=("serial", "processes"), default="serial",
                        help="where the ensemble members train (processes: 2 workers)")
    parser.add_argument("--checkpoints", default=None,
                        help="folder for Checkpoint files (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 members (for CI)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.members = 2, 2
    progress = not args.no_progress

    train, val, test = load_data(args.seed)
    train_loader, val_loader, test_loader, stats = loaders(train, val, test, args.seed)
    print(f"digits: {len(train)} training / {len(val)} validation / {len(test)} test images of "
          f"8x8; standardised with the training mean {stats.mean.item():.3f} and std "
          f"{stats.std.item():.3f}")
    fit_kwargs = dict(loss_fn=nn.CrossEntropyLoss(), train=train_loader, val=val_loader,
                      epochs=args.epochs, scheduler_interval="batch",
                      scheduler=functools.partial(cosine,
                                                  total_steps=args.epochs * len(train_loader)))

    # ---- one model, watched by EarlyStopping and Checkpoint
    ad.manual_seed(args.seed)
    model = make_model()
    opt = make_optimizer(model.parameters())
    folder = args.checkpoints or tempfile.mkdtemp(prefix="digits-ckpt-")
    stopper = training.EarlyStopping(monitor="val_loss", patience=8)
    saver = training.Checkpoint(f"{folder}/epoch{{epoch:03d}}.npz", keep_last=2)
    print(f"model: {model.num_parameters():,} parameters, up to {args.epochs} epochs of batch "
          f"{train_loader.batch_size}; checkpoints in {folder}")
    start = time.perf_counter()
    history = training.fit(model, fit_kwargs["loss_fn"], opt, train_loader, val_loader,
                           epochs=args.epochs, scheduler=fit_kwargs["scheduler"](opt),
                           scheduler_interval="batch", callbacks=[stopper, saver],
                           progress=progress)
    seconds = time.perf_counter() - start
    for r in history.epochs:
        print(f"epoch {r['epoch']:3d}/{args.epochs}  loss {r['loss']:.4f}  train acc "
              f"{100 * r['accuracy']:5.1f}%  val loss {r['val_loss']:.4f}  val acc "
              f"{100 * r['val_accuracy']:5.1f}%  lr {r['lr']:.2e}")
    stop = (f"stopped early at epoch {history.stopped_epoch}, weights of epoch "
            f"{stopper.best_epoch} restored" if history.stopped_epoch else "ran all epochs")
    print(f"{stop}; best val_loss {history.best['val_loss']:.4f} at epoch "
          f"{history.best_epoch}; {seconds:.1f} s; kept {[p.split('/')[-1] for p in saver.saved]}"
          f" and best.npz")
    single = accuracy(model, test_loader)
    print(f"single model test accuracy: {100 * single:.1f}% "
          f"({round(single * len(test))}/{len(test)})")

    # ---- more members from other seeds, then the ensemble
    executor = cf.ProcessPoolExecutor(2) if args.executor == "processes" else None
    try:
        others = train_ensemble(make_model, {**fit_kwargs, "optimizer": make_optimizer,
                                             "callbacks": [training.EarlyStopping(patience=8)]},
                                n=args.members, seeds=range(args.seed + 1,
                                                            args.seed + 1 + args.members),
                                executor=executor, progress=progress)
    finally:
        if executor is not None:
            executor.shutdown()
    members = [model] + list(others.models)
    accs = [accuracy(m, test_loader) for m in members]
    print("member test accuracies: " + ", ".join(f"{100 * a:.1f}%" for a in accs)
          + f" (mean {100 * np.mean(accs):.1f}%)")
    for combine in ("mean", "vote"):
        ens = Ensemble(members, combine=combine)
        acc = accuracy(ens, test_loader)
        what = "averaged probabilities" if combine == "mean" else "majority vote"
        print(f"ensemble of {len(members)} ({what}) test accuracy: {100 * acc:.1f}% "
              f"({round(acc * len(test))}/{len(test)})")
    ens = Ensemble(members).eval()
    x_test, y_test = next(iter(test_loader))
    disagree = ens.disagreement(x_test).numpy()
    wrong = ens.predict(x_test).numpy() != y_test.numpy()
    print(f"members disagree on {100 * (disagree > 0).mean():.1f}% of test images; the "
          f"ensemble's errors have mean disagreement {disagree[wrong].mean() if wrong.any() else 0:.2f} "
          f"vs {disagree[~wrong].mean():.2f} on correct ones")

    # ---- BatchNorm folded into the convolutions of the first model
    fused = nn.utils.fuse_batchnorm(model)
    model.eval()
    with ad.no_grad():
        a, b = model(x_test).numpy(), fused(x_test).numpy()
    same = float((a.argmax(1) == b.argmax(1)).mean())
    print(f"BatchNorm folded into the convolutions: max |logit difference| "
          f"{np.abs(a - b).max():.1e}, same predictions for {100 * same:.1f}% of test images")
    return dict(history=history, single_acc=single, member_accs=accs,
                ensemble_acc=accuracy(Ensemble(members), test_loader), fused_agreement=same)


if __name__ == "__main__":
    main()
