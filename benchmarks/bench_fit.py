"""Overhead of nn.training.fit per optimizer step over a bare training loop (issue 15).

The bare loop: for x, y in loader: out = model(x); loss = loss_fn(out, y) (the same
nn.CrossEntropyLoss() that fit gets); opt.zero_grad(); loss.backward(); opt.step();
loss.item() (every loop logs its loss); also shown with the correct predictions counted, the
work fit's default accuracy metric does.
fit adds the accuracy metric, per-step History records, sample-weighted epoch means and a
tqdm bar per epoch (written to /dev/null here), with progress=True and progress=False, each
fit call training a few epochs as in use. Two models on
the shipped digits: the example's ConvNet (26k parameters, batch 32; a realistic step) and
a 64-128-10 MLP (batch 64; a step of a fraction of a millisecond, the worst case).
Target: <= 5% per step. Runs are timed alternately (bare, fit, fit without bar) and the
medians compared; the time is this process's CPU time (time.process_time: single-threaded,
so it equals the wall time on a quiet machine, and other jobs on a shared one do not
inflate it). Run: OMP_NUM_THREADS=1 python benchmarks/bench_fit.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import contextlib
import os
import statistics
import time

import autodiff as ad
import nn
from nn import optim, training
from nn.utils.data import DataLoader, TensorDataset, load_digits


def convnet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 10))


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def bare_loop(model, loss_fn, opt, loader, epochs, count_correct=False):
    for _ in range(epochs):
        model.train()
        correct = 0
        for x, y in loader:
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            if count_correct:
                correct += int((out.data.argmax(axis=1) == y.data).sum())


def compare(name, make_model, loader, repeats, epochs=3):
    ad.manual_seed(0)
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=1e-3)      # small steps: the model stays sane
    loss_fn = nn.CrossEntropyLoss()
    devnull = open(os.devnull, "w")
    runs = {"bare loop": lambda: bare_loop(model, loss_fn, opt, loader, epochs),
            "bare loop counting correct": lambda: bare_loop(model, loss_fn, opt, loader,
                                                            epochs, count_correct=True),
            "fit (progress=True)": lambda: training.fit(model, loss_fn, opt, loader,
                                                        epochs=epochs),
            "fit (progress=False)": lambda: training.fit(model, loss_fn, opt, loader,
                                                         epochs=epochs, progress=False)}
    times = {k: [] for k in runs}
    with contextlib.redirect_stderr(devnull):
        for _ in range(2):
            for fn in runs.values():
                fn()
        for _ in range(repeats):
            for k, fn in runs.items():
                t0 = time.process_time()
                fn()
                times[k].append(time.process_time() - t0)
    steps = epochs * len(loader)
    base = statistics.median(times["bare loop"])
    print(f" {name}: {len(loader)} steps per epoch; medians of {repeats} runs of {epochs} "
          "epochs")
    for k in runs:
        t = statistics.median(times[k])
        print(_common.row(k + " / step", t, unit_divisor=steps, baseline=base))


def main():
    images, labels = load_digits(as_arrays=True)
    images = (images - images.mean()) / images.std()
    conv_data = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    flat = images.reshape(len(images), -1)
    mlp_data = DataLoader(TensorDataset(flat, labels), batch_size=64, shuffle=True)
    print("fit's overhead per step over a bare loop (shipped digits, 1,797 images)")
    compare("digits ConvNet, batch 32", convnet, conv_data, repeats=5, epochs=2)
    compare("64-128-10 MLP, batch 64", mlp, mlp_data, repeats=25, epochs=5)


if __name__ == "__main__":
    main()
