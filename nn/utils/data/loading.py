"""Loading arrays from files (.npy, .npz, .csv) and the digits data set shipped in the package."""
from __future__ import annotations

import os
from importlib import resources

import numpy as np

from .dataset import TensorDataset

__all__ = ["load_arrays", "load_digits"]


def load_arrays(path, *, delimiter: str = ",", dtype=None):
    """Read arrays from `path` without pickle: `.npy` -> one array, `.npz` -> a dict of
    name -> array, `.csv`/`.txt` -> a 2-D array with one row per line (a first line that
    is not numeric is taken as a header and skipped; `dtype` defaults to float64).
    Split columns yourself, e.g. `x, y = a[:, :-1], a[:, -1].astype(np.int64)`."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" and delimiter == "," else delimiter
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        try:
            [float(v) for v in first.strip().split(sep) if v.strip()]
            skip = 0
        except ValueError:
            skip = 1
        return np.loadtxt(path, delimiter=sep, skiprows=skip, dtype=dtype or np.float64,
                          ndmin=2)
    raise ValueError(f"load_arrays: cannot read {path!r}: expected a .npy, .npz, .csv, .tsv or "
                     f".txt file, got suffix {suffix!r}")


def load_digits(*, flatten: bool = False, as_arrays: bool = False):
    """The 1,797 8x8 handwritten digits (UCI optdigits test set, Alpaydin & Kaynak, CC BY
    4.0; see nn/utils/data/datasets/README.md) as a `TensorDataset(images, labels)`.

    images: float32 (1797, 1, 8, 8), values 0..16 (pixels "on" in each 4x4 block of a 32x32
    bitmap), or (1797, 64) with `flatten=True`; labels: int64 digits 0..9.
    `as_arrays=True` returns the NumPy pair (images, labels) instead.
    """
    ref = resources.files(__package__).joinpath("datasets", "digits.npz")
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as z:
        images, labels = z["images"].astype(np.float32), z["labels"].astype(np.int64)
    images = images.reshape(len(images), -1) if flatten else images[:, None]
    return (images, labels) if as_arrays else TensorDataset(images, labels)
