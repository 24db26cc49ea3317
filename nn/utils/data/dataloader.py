"""DataLoader: batches of a dataset, in order or shuffled, collated into Tensors."""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

import autodiff as ad

from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch):
    """Stack a list of samples into a batch, as torch's default_collate: Tensors and arrays
    are stacked along a new first axis; Python ints become an int64 Tensor, floats a
    float64 one, bools a bool one; strings stay a list; dicts, namedtuples, tuples and
    lists are collated field by field (tuples and lists come back as lists)."""
    if not isinstance(batch, collections.abc.Sequence) or not len(batch):
        raise TypeError("default_collate: expected a non-empty list of samples, got "
                        f"{type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, ad.Tensor):
        if any(s.requires_grad for s in batch):
            return ad.stack(list(batch))
        _same_shapes(batch, lambda s: tuple(s.shape))
        xp = ad.array_module(elem.data)
        return ad.tensor(xp.stack([s.data for s in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype == object or elem.dtype.kind in "SU":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, "
                            f"numbers, dicts or lists; found an array of dtype {elem.dtype}")
        _same_shapes(batch, np.shape)
        return ad.tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return ad.tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return ad.tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return ad.tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return ad.tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {k: default_collate([d[k] for d in batch]) for k in elem}
        return out if type(elem) is dict else type(elem)(out)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


def _same_shapes(batch, shape_of):
    shapes = {shape_of(s) for s in batch}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: stack expects each sample to have the same "
                           f"shape, got {sorted(shapes)}; pad or resize the samples, or pass "
                           "a collate_fn")


class DataLoader:
    """Iterate over `dataset` in batches (torch.utils.data.DataLoader).

    Each pass draws its order from the sampler: in order, or a fresh permutation when
    `shuffle=True` (drawn from `generator`, else from the default generator, so
    `ad.manual_seed` or a seeded `ad.Generator` makes the order reproducible). Batches hold
    `batch_size` samples, the last one fewer unless `drop_last=True`; `len(loader)` is the
    number of batches. Samples are combined by `collate_fn` (default `default_collate`);
    a dataset with `get_batch(indices)` (TensorDataset, Subset, ConcatDataset of them) is
    fetched a whole batch at a time instead. `transform` is applied to the inputs of each
    batch (the first element of a (inputs, targets, ...) batch, or a lone tensor batch),
    `target_transform` to the targets; nothing else is touched. `pin_memory` is accepted
    for torch compatibility and has no effect (batches are NumPy arrays; move them to the
    GPU with `.to("cuda")` or `fit(..., device="cuda")`).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, *, generator=None, transform=None,
                 target_transform=None):
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers!r} is not supported: "
                             "batches are gathered with one vectorised index per tensor in "
                             "the main process, which worker processes would only slow "
                             "down; pass num_workers=0")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and "
                             "is mutually exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        for name, fn in (("collate_fn", collate_fn), ("transform", transform),
                         ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {type(fn).__name__}")
        self.dataset = dataset
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.generator = generator
        self.collate_fn = collate_fn
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _index_batches(self):
        bs = self.batch_sampler
        if isinstance(bs, BatchSampler):
            return bs.index_batches()
        return (np.asarray(b, dtype=np.int64).reshape(-1) for b in bs)

    def __iter__(self):
        if self.batch_sampler is None:           # batch_size=None: one sample at a time
            convert = self.collate_fn or (lambda s: s)
            for i in self.sampler:
                yield self._transform(convert(self.dataset[i]))
            return
        get_batch = getattr(self.dataset, "get_batch", None) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for idx in self._index_batches():
            if get_batch is not None:
                batch = get_batch(idx)
            else:
                batch = collate([self.dataset[i] for i in idx.tolist()])
            yield self._transform(batch)

    def _transform(self, batch):
        if self.transform is None and self.target_transform is None:
            return batch
        if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
            parts = list(batch)
            if self.transform is not None:
                parts[0] = self.transform(parts[0])
            if self.target_transform is not None:
                if len(parts) < 2:
                    raise ValueError("DataLoader: target_transform needs (inputs, targets) "
                                     f"batches, got a batch of {len(parts)} element(s)")
                parts[1] = self.target_transform(parts[1])
            return type(batch)(parts)
        if isinstance(batch, ad.Tensor) and self.target_transform is None:
            return self.transform(batch)
        raise TypeError(f"DataLoader: transform applies to (inputs, targets, ...) batches or a "
                        f"lone tensor, got a {type(batch).__name__}; transform the samples in "
                        "the dataset or in a collate_fn instead")

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, batches={len(self)}, "
                f"sampler={type(self.sampler).__name__})")
