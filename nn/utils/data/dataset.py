"""Datasets with torch.utils.data's names and semantics, plus a vectorised batch fetch.

A dataset is anything with `__getitem__(i)` and `__len__`. Datasets that also define
`get_batch(indices)` (an int64 index array -> the already collated batch) are fetched a
batch at a time by `DataLoader` with one fancy-indexing call per tensor instead of one
`__getitem__` per sample: `TensorDataset`, `Subset` and `ConcatDataset` of such datasets.
"""
from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

import autodiff as ad

from ... import _rng

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "stratified_split"]


class Dataset:
    """Map-style dataset: subclasses define `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


def _as_tensor(x, what: str) -> ad.Tensor:
    if isinstance(x, ad.Tensor):
        return x
    try:
        arr = np.asarray(x) if not hasattr(x, "__array_namespace__") else x
    except Exception as exc:  # noqa: BLE001 - reported with the argument's type
        raise TypeError(f"{what}: expected a Tensor or an array, got {type(x).__name__}") from exc
    if getattr(arr, "dtype", None) is not None and arr.dtype == object:
        raise TypeError(f"{what}: cannot hold an array of Python objects; convert it to a "
                        "numeric dtype first")
    return ad.tensor(arr)


def _take(t: ad.Tensor, idx) -> ad.Tensor:
    """t[idx] along the first axis; no graph node unless t requires grad."""
    if t.requires_grad:
        return t[idx]
    xp = ad.array_module(t.data)
    if xp is not np and isinstance(idx, np.ndarray):
        idx = xp.asarray(idx)
    return ad.tensor(t.data[idx])


class TensorDataset(Dataset):
    """Samples are `(t1[i], t2[i], ...)` of tensors (or arrays) sharing their first size."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(_as_tensor(t, f"TensorDataset: argument {i}")
                             for i, t in enumerate(tensors))
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
            raise ValueError(f"TensorDataset: every tensor needs the same size along its first "
                             f"axis (one row per sample), got shapes {shapes}")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices: np.ndarray) -> list:
        """`[t1[indices], t2[indices], ...]`: the batch default_collate would build."""
        return [_take(t, indices) for t in self.tensors]

    def __repr__(self):
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of `dataset` at `indices` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index_array = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getattr__(self, name):
        # get_batch exists exactly when the wrapped dataset has one (DataLoader checks it)
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, indices: np.ndarray):
        return self.dataset.get_batch(self._index_array[indices])

    def __repr__(self):
        return f"Subset({len(self)} of {type(self.dataset).__name__} of {len(self.dataset)})"


class ConcatDataset(Dataset):
    """The datasets one after the other; `cumulative_sizes[i]` = samples in datasets[:i+1]."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"ConcatDataset: index {idx} out of range for length "
                                 f"{len(self)}")
            idx = len(self) + idx
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][idx - start]

    def __getattr__(self, name):
        if name == "get_batch" and all(hasattr(d, "get_batch")
                                       for d in self.__dict__.get("datasets", [None])):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, indices: np.ndarray):
        indices = np.where(indices < 0, indices + len(self), indices)
        part = np.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        pieces, order = [], []
        for p in np.unique(part):
            where = np.flatnonzero(part == p)
            pieces.append(self.datasets[p].get_batch(indices[where] - starts[p]))
            order.append(where)
        if len(pieces) == 1:
            return pieces[0]
        inverse = np.argsort(np.concatenate(order), kind="stable")
        return [ad.tensor(ad.array_module(cols[0].data).concatenate([c.data for c in cols])
                          [inverse])
                for cols in zip(*pieces)]


def _split_sizes(n: int, lengths, fn: str) -> list:
    """Integer lengths summing to n from lengths or fractions (torch's random_split rule:
    floor(n * f) each, the remainder handed out one by one from the first split on)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{fn}: lengths must not be empty")
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0:  # fractions (as torch)
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"{fn}: fractions must each lie in [0, 1], got {lengths}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        return sizes
    if any(not isinstance(v, numbers.Integral) or v < 0 for v in lengths):
        raise ValueError(f"{fn}: lengths must be non-negative integers or fractions summing "
                         f"to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"{fn}: sum of input lengths ({sum(lengths)}) does not equal the "
                         f"length of the input dataset ({n}); pass lengths summing to {n} or "
                         "fractions summing to 1")
    return [int(v) for v in lengths]


def random_split(dataset, lengths, generator=None) -> list:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths, or of
    fractions of its length (e.g. [0.8, 0.2]), as torch.utils.data.random_split."""
    sizes = _split_sizes(len(dataset), lengths, "random_split")
    perm = _rng.randperm(sum(sizes), generator).tolist()
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size]))
        start += size
    return out


def _labels_of(dataset, labels, fn: str) -> np.ndarray:
    if labels is not None:
        labels = labels.numpy() if isinstance(labels, ad.Tensor) else np.asarray(labels)
    elif isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        labels = dataset.tensors[1].numpy()
    elif hasattr(dataset, "get_batch") and len(dataset.get_batch(np.arange(1))) >= 2:
        labels = dataset.get_batch(np.arange(len(dataset)))[1].numpy()
    else:
        labels = np.asarray([np.asarray(_numpy(dataset[i][1])) for i in range(len(dataset))])
    if labels.shape != (len(dataset),):
        raise ValueError(f"{fn}: needs one class label per sample, shape ({len(dataset)},), "
                         f"got {labels.shape}; pass labels=")
    return labels


def _numpy(x):
    return x.numpy() if isinstance(x, ad.Tensor) else x


def _allocate(class_counts: np.ndarray, sizes: list) -> np.ndarray:
    """Integer matrix m[c, j] (samples of class c going to split j) with row sums the class
    counts and column sums the split sizes, each cell within one of its proportional share
    n_c * size_j / n where the totals allow (largest remainders first)."""
    n = class_counts.sum()
    share = class_counts[:, None] * np.asarray(sizes, dtype=np.float64)[None, :] / max(n, 1)
    m = np.floor(share).astype(np.int64)
    row_left = class_counts - m.sum(1)
    col_left = np.asarray(sizes) - m.sum(0)
    remainder = share - m
    for flat in np.argsort(-remainder, axis=None, kind="stable"):
        c, j = divmod(int(flat), len(sizes))
        if row_left[c] > 0 and col_left[j] > 0:
            m[c, j] += 1
            row_left[c] -= 1
            col_left[j] -= 1
    for c in np.flatnonzero(row_left):  # totals the remainders could not place
        for j in np.flatnonzero(col_left):
            k = min(row_left[c], col_left[j])
            m[c, j] += k
            row_left[c] -= k
            col_left[j] -= k
    return m


def stratified_split(dataset, lengths, labels=None, generator=None) -> list:
    """Like `random_split`, but every split keeps the class proportions of the whole set
    (each class's count in split j is within one of n_class * len_j / n).

    Labels come from `labels=` (one per sample), else from the second tensor of a
    `TensorDataset`, else from `dataset[i][1]`.
    """
    sizes = _split_sizes(len(dataset), lengths, "stratified_split")
    y = _labels_of(dataset, labels, "stratified_split")
    classes, y_idx = np.unique(y, return_inverse=True)
    rank = np.empty(len(y), dtype=np.int64)
    perm = _rng.randperm(len(y), generator)
    rank[perm] = np.arange(len(y))           # a random order shared by all classes
    alloc = _allocate(np.bincount(y_idx, minlength=len(classes)), sizes)
    members = [[] for _ in sizes]
    for c in range(len(classes)):
        ordered = np.flatnonzero(y_idx == c)
        ordered = ordered[np.argsort(rank[ordered], kind="stable")]
        bounds = np.concatenate([[0], np.cumsum(alloc[c])])
        for j in range(len(sizes)):
            members[j].append(ordered[bounds[j]:bounds[j + 1]])
    out = []
    for parts in members:
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        out.append(Subset(dataset, idx[np.argsort(rank[idx], kind="stable")].tolist()))
    return out
