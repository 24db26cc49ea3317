"""Value augmentation: brightness/contrast/saturation jitter, Gaussian noise, random erasing
(images), random masking (any shape); one draw per sample, vectorised over the batch."""
from __future__ import annotations

import math
import numbers

import numpy as np

import autodiff as ad

from .. import _rng
from ._base import (RandomTransform, as_images, check_probability, chosen, require_float,
                    to_device, value_range)

__all__ = ["ColorJitter", "GaussianNoise", "RandomErasing", "RandomMask"]

_GRAY = (0.299, 0.587, 0.114)   # ITU-R 601 luma, torchvision's rgb_to_grayscale


def _per_sample(values, like):
    """(N,) factors shaped to broadcast over (N, C, H, W)."""
    return to_device(values, like).astype(like.dtype)[:, None, None, None]


def _gray(imgs):
    """Luma (N, 1, H, W) of RGB images, or the single channel itself."""
    if imgs.shape[1] == 1:
        return imgs
    w = to_device(np.asarray(_GRAY, dtype=np.float64), imgs).astype(imgs.dtype)
    return (imgs * w[None, :, None, None]).sum(axis=1, keepdims=True)


class ColorJitter(RandomTransform):
    """torchvision's ColorJitter without hue: per sample, brightness x f, contrast
    f x + (1 - f) mean(gray(x)), saturation f x + (1 - f) gray(x) (RGB only), with each
    factor f uniform in [max(0, 1 - v), 1 + v] (or a given (lo, hi)), the three applied in
    a random order (one order per call). Results are clamped to `value_range` ((0, 1), as
    torchvision does for float images); pass `value_range=None` for standardised inputs."""

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, *,
                 value_range=(0.0, 1.0), generator=None):
        self.brightness = _jitter(brightness, "brightness")
        self.contrast = _jitter(contrast, "contrast")
        self.saturation = _jitter(saturation, "saturation")
        self.value_range = None if value_range is None else tuple(map(float, value_range))
        self.generator = generator

    def apply(self, arr):
        require_float(arr, "ColorJitter")
        imgs, restore = as_images(arr, "ColorJitter")
        N, g = len(imgs), self.generator
        out = imgs
        for which in _rng.randperm(3, g).tolist():
            kind = ("brightness", "contrast", "saturation")[which]
            lo_hi = getattr(self, kind)
            if lo_hi is None:
                continue
            f = _per_sample(_rng.uniform((N,), g, *lo_hi), out)
            if kind == "brightness":
                out = out * f
            elif kind == "contrast":
                out = f * out + (1 - f) * _gray(out).mean(axis=(1, 2, 3), keepdims=True)
            elif out.shape[1] == 3:
                out = f * out + (1 - f) * _gray(out)
            else:
                raise ValueError(f"ColorJitter: saturation needs RGB images (3 channels), got "
                                 f"{out.shape[1]}")
            if self.value_range is not None:
                out = ad.array_module(out).clip(out, *self.value_range)
        return restore(out.astype(arr.dtype, copy=False))


def _jitter(value, what):
    if value is None or (isinstance(value, numbers.Real) and value == 0):
        return None
    return value_range(value, "ColorJitter", what)


class GaussianNoise(RandomTransform):
    """x + mean + std * eps with eps ~ N(0, 1) drawn for every element; `clip=(lo, hi)`
    clamps the result. For images and vectors alike."""

    def __init__(self, std: float = 0.1, mean: float = 0.0, clip=None, *, generator=None):
        if not (isinstance(std, numbers.Real) and std >= 0):
            raise ValueError(f"GaussianNoise: std must be a number >= 0, got {std!r}")
        self.std, self.mean = float(std), float(mean)
        self.clip = None if clip is None else tuple(map(float, clip))
        self.generator = generator

    def apply(self, arr):
        require_float(arr, "GaussianNoise")
        noise = _rng.normal(arr.shape, arr.dtype, ad.tensor(arr).device, self.generator)
        out = arr + (self.mean + self.std * noise).astype(arr.dtype, copy=False)
        if self.clip is not None:
            out = ad.array_module(arr).clip(out, *self.clip)
        return out


class RandomErasing(RandomTransform):
    """torchvision's RandomErasing: with probability p per sample, set a rectangle covering
    a fraction `scale` of the image with aspect ratio (h/w) in `ratio` (log-uniform) to
    `value` (a number, one per channel, or 'random' for N(0, 1) noise), across all channels.
    Ten placements are tried per sample; if none fits, the sample is left as it is."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0,
                 inplace: bool = False, *, generator=None):
        self.p = check_probability(p, "RandomErasing")
        self.scale, self.ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        if not (0 <= self.scale[0] <= self.scale[1] <= 1 and 0 < self.ratio[0] <= self.ratio[1]):
            raise ValueError(f"RandomErasing: scale should be within [0, 1] and ratio positive, "
                             f"both as (lo, hi); got scale={scale!r}, ratio={ratio!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number, a sequence or 'random', "
                             f"got {value!r}")
        self.value, self.inplace = value, inplace
        self.generator = generator

    def apply(self, arr):
        imgs, restore = as_images(arr, "RandomErasing")
        N, C, H, W = imgs.shape
        g, tries = self.generator, 10
        apply = chosen(N, self.p, g)
        area = H * W * _rng.uniform((N, tries), g, *self.scale)
        aspect = np.exp(_rng.uniform((N, tries), g, math.log(self.ratio[0]),
                                     math.log(self.ratio[1])))
        h = np.round(np.sqrt(area * aspect)).astype(np.int64)
        w = np.round(np.sqrt(area / aspect)).astype(np.int64)
        fits = (h < H) & (w < W)
        first = fits.argmax(axis=1)
        rows = np.arange(N)
        h, w = h[rows, first], w[rows, first]
        apply &= fits.any(axis=1)
        top = np.floor(_rng.uniform((N,), g) * (H - h + 1)).astype(np.int64)
        left = np.floor(_rng.uniform((N,), g) * (W - w + 1)).astype(np.int64)
        r, c = np.arange(H), np.arange(W)
        mask = (apply[:, None, None]
                & (r[None, :, None] >= top[:, None, None]) & (r[None, :, None] < (top + h)[:, None, None])
                & (c[None, None, :] >= left[:, None, None]) & (c[None, None, :] < (left + w)[:, None, None]))
        mask = to_device(mask[:, None], imgs)                       # (N, 1, H, W)
        if isinstance(self.value, str):
            fill = _rng.normal(imgs.shape, imgs.dtype, ad.tensor(imgs).device, g)
        else:
            fill = to_device(np.asarray(self.value, dtype=np.float64), imgs).astype(imgs.dtype)
            if fill.ndim == 1:
                if fill.shape[0] not in (1, C):
                    raise ValueError(f"RandomErasing: value needs 1 or {C} numbers (one per "
                                     f"channel), got {fill.shape[0]}")
                fill = fill[None, :, None, None]
        xp = ad.array_module(imgs)
        out = xp.where(mask, fill, imgs).astype(imgs.dtype, copy=False)
        if self.inplace and out is not imgs:
            imgs[...] = out
            out = imgs
        return restore(out)


class RandomMask(RandomTransform):
    """Set each element to `value` (0) independently with probability p, without rescaling
    the rest (unlike dropout): feature masking for vectors, pixel masking for images."""

    def __init__(self, p: float = 0.1, value: float = 0.0, *, generator=None):
        self.p = check_probability(p, "RandomMask")
        self.value = float(value)
        self.generator = generator

    def apply(self, arr):
        xp = ad.array_module(arr)
        u = to_device(_rng.uniform(arr.shape, self.generator), arr)
        return xp.where(u < self.p, xp.asarray(self.value, dtype=arr.dtype), arr)
