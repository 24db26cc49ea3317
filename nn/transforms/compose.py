"""Combining transforms: Compose, RandomApply, Lambda."""
from __future__ import annotations

import autodiff as ad

from ._base import RandomTransform, Transform, check_probability, chosen, to_device

__all__ = ["Compose", "RandomApply", "Lambda"]


class Compose(Transform):
    """Apply `transforms` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got "
                                f"{type(t).__name__}")

    def __call__(self, x):
        if isinstance(x, ad.Tensor):            # unwrap once, not once per transform
            return ad.tensor(self.apply(x.data))
        return self.apply(x)

    def apply(self, arr):
        for t in self.transforms:
            if isinstance(t, Transform):
                arr = t.apply(arr)
            else:                               # a plain function of Tensors
                arr = t(ad.tensor(arr)).data
        return arr

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class RandomApply(RandomTransform):
    """Apply the transforms (in order) to each sample with probability p: the whole batch is
    transformed once and each sample keeps the result or its original."""

    def __init__(self, transforms, p: float = 0.5, *, generator=None):
        self.transforms = Compose(transforms if isinstance(transforms, (list, tuple))
                                  else [transforms])
        self.p = check_probability(p, "RandomApply")
        self.generator = generator

    def apply(self, arr):
        done = self.transforms(arr)
        if done.shape != arr.shape:
            raise ValueError(f"RandomApply: the transforms changed the shape {tuple(arr.shape)} "
                             f"-> {tuple(done.shape)}; a sample-wise choice needs equal shapes")
        batch = arr.ndim == 4 or arr.ndim == 2
        n = arr.shape[0] if batch else 1
        keep = to_device(chosen(n, self.p, self.generator), arr)
        keep = keep.reshape((n,) + (1,) * (arr.ndim - 1)) if batch else keep.reshape(())
        return ad.array_module(arr).where(keep, done, arr)


class Lambda(Transform):
    """A transform from a function of the array/Tensor."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def apply(self, arr):
        return self.fn(arr)
