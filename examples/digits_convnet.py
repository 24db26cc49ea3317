"""A small ConvNet with BatchNorm and Dropout learns 8x8 handwritten digits.

Data: the 1,797 8x8 digits of the UCI "Optical Recognition of Handwritten Digits" test set
(E. Alpaydin, C. Kaynak; CC BY 4.0), shipped with the package (nn.utils.data.load_digits;
attribution in nn/utils/data/datasets/README.md); nothing is downloaded. A fixed, class-stratified 80/20 split gives 1,438 training
and 359 test images.

Model (input 1x8x8):
    [Conv 3x3 -> BatchNorm -> ReLU] x2 (16, 32 channels) -> MaxPool 2   (32 x 4 x 4)
    Conv 3x3 (64) -> BatchNorm -> ReLU -> MaxPool 2                      (64 x 2 x 2)
    Flatten -> Dropout(0.3) -> Linear(256, 10)
trained with Adam and a cosine learning-rate schedule on cross-entropy. Each epoch prints
a line with the mean training loss, training and test accuracy and the elapsed time; at the
end the BatchNorms are folded into the convolutions (nn.utils.fuse_batchnorm) and the fused
model is checked to give the same predictions.

Run: python examples/digits_convnet.py [--epochs N] [--seed S] [--quick]
(--quick: 2 epochs, for CI; a few seconds.)
"""
import argparse
import time

import numpy as np

import autodiff as ad
import nn
from nn import functional as F
from nn import optim
from nn.utils.data import load_digits as load_shipped_digits


def load_digits(seed=0, test_fraction=0.2):
    """(x_train, y_train, x_test, y_test): images as float32 (N, 1, 8, 8) scaled to [0, 1]
    then standardised with the training mean and std; labels int64. The split is
    stratified by class and fixed by `seed`."""
    images, labels = load_shipped_digits(as_arrays=True)
    images = images[:, 0]
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test[idx[:round(test_fraction * len(idx))]] = True
    x = images.astype(np.float32)[:, None] / 16.0
    mean, std = x[~test].mean(), x[~test].std()
    x = (x - mean) / std
    return x[~test], labels[~test], x[test], labels[test]


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, 10))


def accuracy(model, x, y, batch=512):
    """Fraction of correctly classified images (eval mode, no graph)."""
    model.eval()
    correct = 0
    with ad.no_grad():
        for i in range(0, len(y), batch):
            logits = model(ad.tensor(x[i:i + batch]))
            correct += int((logits.data.argmax(axis=1) == y[i:i + batch]).sum())
    return correct / len(y)


def train(epochs=15, batch_size=32, lr=3e-3, seed=0, train_subset=None, log=print):
    """Train from a fixed seed; returns (model, history of per-epoch dicts, data)."""
    ad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_tr, y_tr, x_te, y_te = load_digits(seed)
    if train_subset is not None:
        keep = rng.permutation(len(y_tr))[:train_subset]
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(y_tr) // batch_size)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    log(f"digits: {len(y_tr)} training / {len(y_te)} test images of 8x8, "
        f"{model.num_parameters():,} parameters, {epochs} epochs of batch {batch_size}")
    history = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(y_tr))
        total, seen = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples to estimate a variance
                continue
            loss = F.cross_entropy(model(ad.tensor(x_tr[idx])), ad.tensor(y_tr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        row = dict(epoch=epoch, loss=total / seen, train_acc=accuracy(model, x_tr, y_tr),
                   test_acc=accuracy(model, x_te, y_te), time=time.perf_counter() - start)
        history.append(row)
        log(f"epoch {epoch:3d}/{epochs}  loss {row['loss']:.4f}  train acc "
            f"{100 * row['train_acc']:5.1f}%  test acc {100 * row['test_acc']:5.1f}%  "
            f"time {row['time']:5.1f}s")
    return model, history, (x_tr, y_tr, x_te, y_te)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs (for CI)")
    args = parser.parse_args(argv)
    if args.quick:
        model, history, data = train(epochs=2, seed=args.seed)
    else:
        model, history, data = train(epochs=args.epochs, seed=args.seed)
    x_te, y_te = data[2], data[3]
    test_acc = history[-1]["test_acc"]
    print(f"test accuracy: {100 * test_acc:.1f}% ({round(test_acc * len(y_te))}/{len(y_te)})")

    fused = nn.utils.fuse_batchnorm(model)
    model.eval()
    with ad.no_grad():
        a = model(ad.tensor(x_te)).data
        b = fused(ad.tensor(x_te)).data
    same = float((a.argmax(1) == b.argmax(1)).mean())
    print(f"BatchNorm folded into the convolutions: max |logit difference| "
          f"{np.abs(a - b).max():.1e}, same predictions for {100 * same:.1f}% of test images")
    return dict(history=history, test_acc=test_acc, fused_agreement=same,
                fused_max_diff=float(np.abs(a - b).max()))


if __name__ == "__main__":
    main()
