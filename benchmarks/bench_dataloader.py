"""One shuffled pass over the 1,797 shipped digits with two augmentations (issue 15).

DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, generator=g,
transform=Compose([RandomCrop(8, padding=1), RandomHorizontalFlip()])) against a
hand-written NumPy loop doing the same work (a permutation, fancy-indexed batches, zero
padding, one random 8x8 window and one coin flip per image, vectorised over the batch).
Target: <= 1.3 x the NumPy loop, measured in the same run (passes timed alternately, medians
of this process's CPU time, which a shared machine's other jobs do not inflate); batch sizes
64 and 256; torch's DataLoader (per-sample __getitem__ + default_collate, no augmentation)
for reference.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_dataloader.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import statistics
import time

import numpy as np

import autodiff as ad
from nn import transforms as T
from nn.utils.data import DataLoader, TensorDataset, load_digits


def numpy_epoch(images, labels, batch_size, rng):
    """The same pass by hand: returns the number of batches (and touches every batch)."""
    n = len(labels)
    order = rng.permutation(n)
    count = 0
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        x, y = images[idx], labels[idx]
        m = len(idx)
        padded = np.zeros((m, 1, 10, 10), x.dtype)      # (faster than np.pad)
        padded[:, :, 1:9, 1:9] = x
        top = rng.integers(0, 3, m)
        left = rng.integers(0, 3, m)
        rows = top[:, None] + np.arange(8)
        cols = left[:, None] + np.arange(8)
        crop = padded[np.arange(m)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        crop = np.ascontiguousarray(np.moveaxis(crop, -1, 1))
        flip = np.flatnonzero(rng.random(m) < 0.5)
        crop[flip] = crop[flip, ..., ::-1]
        count += len(crop) > 0 and len(y) > 0
    return count


def ours(loader):
    count = 0
    for x, y in loader:
        count += x.shape[0] > 0 and y.shape[0] > 0
    return count


def alternating(fns, repeats):
    """Median CPU seconds of each function, run in turn `repeats` times after a warm-up."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.process_time()
            fn()
            ts.append(time.process_time() - t0)
    return [statistics.median(ts) for ts in times]


def main():
    images, labels = load_digits(as_arrays=True)
    dataset = TensorDataset(images, labels)
    print("One shuffled pass over 1,797 8x8 digits: RandomCrop(8, padding=1) + "
          "RandomHorizontalFlip")
    for batch_size in (64, 256):
        g = ad.Generator().manual_seed(0)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=g,
                            transform=T.Compose([T.RandomCrop(8, padding=1, generator=g),
                                                 T.RandomHorizontalFlip(generator=g)]))
        rng = np.random.default_rng(0)
        base, mine = alternating([lambda: numpy_epoch(images, labels, batch_size, rng),
                                  lambda: ours(loader)], 41)
        print(f" batch {batch_size} ({len(loader)} batches)")
        print(_common.row("hand-written NumPy loop", base))
        print(_common.row("nn.utils.data.DataLoader", mine, baseline=base))
        torch = _common.try_torch()
        if torch is not None:
            from torch.utils.data import DataLoader as TorchLoader
            from torch.utils.data import TensorDataset as TorchDataset
            tl = TorchLoader(TorchDataset(torch.from_numpy(images), torch.from_numpy(labels)),
                             batch_size=batch_size, shuffle=True)
            (t,) = alternating([lambda: sum(1 for _ in tl)], 11)
            print(_common.row("torch DataLoader (no augmentation)", t, baseline=base))


if __name__ == "__main__":
    main()
