"""What every transform shares: Tensors or arrays in, the same kind out; image layout checks."""
from __future__ import annotations

import numbers

import numpy as np

import autodiff as ad

from .. import _rng


class Transform:
    """A callable on a Tensor or a NumPy/CuPy array that returns the same kind.

    Subclasses implement `apply(array) -> array` on the raw array (no graph nodes: data
    preparation is not differentiated)."""

    def __call__(self, x):
        if isinstance(x, ad.Tensor):
            return ad.tensor(self.apply(x.data))
        if hasattr(x, "__array_namespace__") or isinstance(x, np.ndarray):
            return self.apply(x)
        raise TypeError(f"{type(self).__name__}: expected a Tensor or an array, got "
                        f"{type(x).__name__}")

    def apply(self, arr):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.startswith("_") and k != "generator")
        return f"{type(self).__name__}({fields})"


class RandomTransform(Transform):
    """A transform that draws from `generator` (an ad.Generator; None: the default one).
    Each sample of a batch gets its own draw; labels are never seen."""

    generator = None


def as_images(arr, name: str):
    """View `arr` as an (N, C, H, W) batch: (H, W) and (C, H, W) are one sample, (N, C, H, W)
    a batch. Returns (the 4-D view, a function giving an (N, C, H', W') result the input's
    layout back)."""
    if arr.ndim == 4:
        return arr, lambda out: out
    if arr.ndim == 3:
        return arr[None], lambda out: out[0]
    if arr.ndim == 2:
        return arr[None, None], lambda out: out[0, 0]
    raise ValueError(f"{name}: expected an image (H, W), a sample (C, H, W) or a batch "
                     f"(N, C, H, W), got shape {tuple(arr.shape)}")


def require_float(arr, name: str) -> None:
    if arr.dtype.kind != "f" and str(arr.dtype) != "bfloat16":
        raise TypeError(f"{name}: needs floating-point data, got {arr.dtype}; convert with "
                        "x.float() (and scale to [0, 1]) first")


def pair(value, name: str, what: str) -> tuple:
    """(h, w) from an int or a pair of positive ints."""
    if isinstance(value, numbers.Integral):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or any(not isinstance(v, numbers.Integral) or v <= 0 for v in value):
        raise ValueError(f"{name}: {what} must be a positive int or a pair (h, w) of them, got "
                         f"{value!r}")
    return int(value[0]), int(value[1])


def value_range(value, name: str, what: str, center: float = 1.0, lower: float = 0.0):
    """torchvision's jitter ranges: v -> [max(lower, center - v), center + v]; (lo, hi) as is."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{name}: if {what} is a single number, it must be non negative, "
                             f"got {value}")
        return (max(lower, center - float(value)), center + float(value))
    lo, hi = (float(v) for v in value)
    if not lower <= lo <= hi:
        raise ValueError(f"{name}: {what} values should be between {lower} and inf with "
                         f"lo <= hi, got {value!r}")
    return (lo, hi)


def to_device(values: np.ndarray, like):
    """Per-sample parameters drawn on the CPU, moved to `like`'s device."""
    if isinstance(like, np.ndarray):
        return values
    return ad.array_module(like).asarray(values)


def check_probability(p, name: str) -> float:
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name}: probability p must be in [0, 1], got {p!r}")
    return float(p)


def chosen(n: int, p: float, generator) -> np.ndarray:
    """Boolean (n,): which samples a transform with probability p touches."""
    return _rng.uniform((n,), generator) < p
