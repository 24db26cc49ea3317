"""Samplers (torch.utils.data names): which indices a DataLoader visits, in which order."""
from __future__ import annotations

import numbers

import numpy as np

import autodiff as ad

from ... import _rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler"]


class Sampler:
    """Iterable over dataset indices. Subclasses define `__iter__` (and `__len__`).

    `index_array()` gives one pass as an int64 array; DataLoader slices it into batches
    without a Python loop per index (the default walks `__iter__`)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def index_array(self) -> np.ndarray:
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def index_array(self):
        return np.arange(len(self.data_source), dtype=np.int64)


class RandomSampler(Sampler):
    """A random permutation of the indices each pass (`replacement=True`: `num_samples`
    indices drawn with replacement). With `generator=None` each pass seeds a fresh
    generator from the default one, as torch does, so `ad.manual_seed` fixes the order."""

    def __init__(self, data_source, replacement: bool = False, num_samples=None,
                 generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got "
                            f"{replacement!r}")
        if not isinstance(self.num_samples, numbers.Integral) or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"got {self.num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self):
        return self.num_samples

    def index_array(self):
        gen = self.generator
        if gen is None:
            gen = ad.Generator().manual_seed(_rng.seed_from(None))
        n = len(self.data_source)
        if self.replacement:
            return _rng.randint(0, n, (self.num_samples,), gen)
        full, rest = divmod(self.num_samples, n)
        parts = [_rng.randperm(n, gen) for _ in range(full)]
        if rest:
            parts.append(_rng.randperm(n, gen)[:rest])
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def __iter__(self):
        return iter(self.index_array().tolist())


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each pass."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __len__(self):
        return len(self.indices)

    def index_array(self):
        order = _rng.randperm(len(self.indices), self.generator)
        return np.asarray(self.indices, dtype=np.int64)[order]

    def __iter__(self):
        return iter(self.index_array().tolist())


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of `batch_size` (the last one shorter
    unless `drop_last`)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def index_batches(self):
        """The batches of one pass as int64 arrays."""
        indices = (self.sampler.index_array() if isinstance(self.sampler, Sampler)
                   else np.fromiter(iter(self.sampler), dtype=np.int64))
        stop = len(indices) - len(indices) % self.batch_size if self.drop_last else len(indices)
        return [indices[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        return (b.tolist() for b in self.index_batches())
