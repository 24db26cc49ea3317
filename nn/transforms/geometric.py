"""Geometric augmentation of images (torchvision's names): flips, crops, rotations, affine
maps and resized crops, vectorised over an (N, C, H, W) batch with one draw per sample.

Images are (H, W), (C, H, W) or (N, C, H, W) arrays or Tensors; the pixel at row r, column c
has its centre at (r, c), the image centre is ((H-1)/2, (W-1)/2). Resampling gathers every
output pixel's source position at once (fancy indexing), never a Python loop per pixel.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

import autodiff as ad

from .. import _rng
from ._base import (RandomTransform, Transform, as_images, check_probability, chosen, pair,
                    to_device)

__all__ = ["RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "CenterCrop",
           "RandomRotation", "RandomAffine", "RandomResizedCrop"]


class _RandomFlip(RandomTransform):
    reverse = (Ellipsis, slice(None, None, -1))          # the columns

    def __init__(self, p: float = 0.5, *, generator=None):
        self.p = check_probability(p, type(self).__name__)
        self.generator = generator

    def apply(self, arr):
        imgs, restore = as_images(arr, type(self).__name__)
        flip = np.flatnonzero(chosen(len(imgs), self.p, self.generator))
        out = imgs.copy()
        if len(flip):
            idx = to_device(flip, imgs)
            out[idx] = imgs[idx][self.reverse]
        return restore(out)


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right (reverse the columns) with probability p, per sample."""


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom (reverse the rows) with probability p, per sample."""
    reverse = (Ellipsis, slice(None, None, -1), slice(None))


def _padding(padding, name):
    """torchvision's padding spec -> (left, top, right, bottom)."""
    if padding is None:
        return (0, 0, 0, 0)
    if isinstance(padding, numbers.Integral):
        padding = (padding,)
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        padding *= 4
    elif len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    if len(padding) != 4 or min(padding) < 0:
        raise ValueError(f"{name}: padding must be an int >= 0 or a sequence of 1, 2 or 4 of "
                         f"them (left, top, right, bottom), got {padding!r}")
    return padding


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def _gather_windows(imgs, top, left, h, w):
    """out[n] = imgs[n, :, top[n]:top[n]+h, left[n]:left[n]+w] for every n at once."""
    xp = ad.array_module(imgs)
    rows = to_device(top[:, None] + np.arange(h), imgs)          # (N, h)
    cols = to_device(left[:, None] + np.arange(w), imgs)         # (N, w)
    n = to_device(np.arange(len(imgs)), imgs)
    # the advanced indices are split by the channel slice, so their (N, h, w) comes first
    out = imgs[n[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))


class RandomCrop(RandomTransform):
    """Pad by `padding` (torchvision's spec: int, (lr, tb) or (l, t, r, b)), then cut a
    `size` window at a random position per sample (uniform over all positions).
    `pad_if_needed` pads images smaller than `size`; `padding_mode` is 'constant' (with
    `fill`), 'edge', 'reflect' or 'symmetric'."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", *, generator=None):
        self.size = pair(size, "RandomCrop", "size")
        self.padding = _padding(padding, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {sorted(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self.generator = generator

    def _pad(self, imgs):
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            H, W = imgs.shape[-2] + top + bottom, imgs.shape[-1] + left + right
            extra_w, extra_h = max(0, w - W), max(0, h - H)
            left, right, top, bottom = left + extra_w, right + extra_w, top + extra_h, \
                bottom + extra_h
        if not any((left, top, right, bottom)):
            return imgs
        xp = ad.array_module(imgs)
        if self.padding_mode == "constant":   # (xp.pad costs ~20 us more per call)
            N, C, H, W = imgs.shape
            out = xp.full((N, C, H + top + bottom, W + left + right), self.fill, imgs.dtype)
            out[:, :, top:top + H, left:left + W] = imgs
            return out
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        return xp.pad(imgs, widths, mode=_PAD_MODES[self.padding_mode])

    def apply(self, arr):
        imgs, restore = as_images(arr, "RandomCrop")
        imgs = self._pad(imgs)
        h, w = self.size
        H, W = imgs.shape[-2:]
        if H < h or W < w:
            raise ValueError(f"RandomCrop: required crop size {(h, w)} is larger than the "
                             f"(padded) image size {(H, W)}; pass padding= or "
                             "pad_if_needed=True")
        top, left = _rng.uniform((2, len(imgs)), self.generator) * [[H - h + 1], [W - w + 1]]
        return restore(_gather_windows(imgs, top.astype(np.int64), left.astype(np.int64), h, w))


class CenterCrop(Transform):
    """The central `size` window (torchvision's rounding: top = round((H - h) / 2))."""

    def __init__(self, size):
        self.size = pair(size, "CenterCrop", "size")

    def apply(self, arr):
        imgs, restore = as_images(arr, "CenterCrop")
        (h, w), (H, W) = self.size, imgs.shape[-2:]
        if H < h or W < w:
            raise ValueError(f"CenterCrop: crop size {(h, w)} is larger than the image {(H, W)}")
        top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
        return restore(imgs[..., top:top + h, left:left + w].copy())


# ---------------------------------------------------------------- resampling

_INTERPOLATIONS = ("nearest", "bilinear")


def _check_interpolation(interpolation, name):
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be 'nearest' or 'bilinear', got "
                         f"{interpolation!r}")
    return interpolation


def _resample(imgs, ys, xs, interpolation: str, fill=0.0, border: str = "fill"):
    """out[n, c, i, j] = imgs[n, c] sampled at (ys[n, i, j], xs[n, i, j]) (row, column).

    Positions outside the image get `fill` (border='fill') or the nearest edge pixel
    (border='clamp'). Bilinear interpolation treats the outside as `fill` too, so edges
    blend into the fill colour as in torchvision."""
    xp = ad.array_module(imgs)
    N, C, H, W = imgs.shape
    if border == "clamp":
        ys, xs = np.clip(ys, 0, H - 1), np.clip(xs, 0, W - 1)
    else:   # one ring of fill around the image; every far-away position lands on it
        pad = xp.pad(imgs, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="constant",
                     constant_values=fill)
        imgs, ys, xs = pad, np.clip(ys + 1, 0, H + 1), np.clip(xs + 1, 0, W + 1)
        H, W = H + 2, W + 2
    n = to_device(np.arange(N)[:, None, None], imgs)
    work = imgs if imgs.dtype.kind == "f" else imgs.astype(np.float32)

    def gather(r, c):   # (N, h, w, C) -> (N, C, h, w) below
        return work[n, :, to_device(r, imgs), to_device(c, imgs)]

    if interpolation == "nearest":
        out = gather(np.floor(ys + 0.5).astype(np.int64), np.floor(xs + 0.5).astype(np.int64))
    else:
        y0 = np.clip(np.floor(ys).astype(np.int64), 0, H - 2)
        x0 = np.clip(np.floor(xs).astype(np.int64), 0, W - 2)
        wy = to_device((ys - y0)[..., None], imgs).astype(work.dtype)
        wx = to_device((xs - x0)[..., None], imgs).astype(work.dtype)
        top = gather(y0, x0) * (1 - wx) + gather(y0, x0 + 1) * wx
        bottom = gather(y0 + 1, x0) * (1 - wx) + gather(y0 + 1, x0 + 1) * wx
        out = top * (1 - wy) + bottom * wy
    out = xp.ascontiguousarray(xp.moveaxis(out, -1, 1))
    if imgs.dtype.kind != "f":
        info = np.iinfo(imgs.dtype) if imgs.dtype.kind in "iu" else None
        out = xp.rint(out)
        if info is not None:
            out = xp.clip(out, info.min, info.max)
    return out.astype(imgs.dtype, copy=False)


def _affine_positions(matrices, offsets, out_hw, in_hw):
    """Source (row, col) of every output pixel: src = M (dst - c_out) + c_in + offset, with
    M (N, 2, 2) acting on (row, col) vectors and c the image centres."""
    h, w = out_hw
    H, W = in_hw
    r = np.arange(h) - (h - 1) / 2.0
    c = np.arange(w) - (w - 1) / 2.0
    rr, cc = np.meshgrid(r, c, indexing="ij")                    # (h, w)
    ys = (matrices[:, 0, 0, None, None] * rr + matrices[:, 0, 1, None, None] * cc
          + (H - 1) / 2.0 + offsets[:, 0, None, None])
    xs = (matrices[:, 1, 0, None, None] * rr + matrices[:, 1, 1, None, None] * cc
          + (W - 1) / 2.0 + offsets[:, 1, None, None])
    return ys, xs


def _inverse_rotation_scale(angle_deg, scale):
    """(N, 2, 2) maps from output to source (row, col) offsets for an image rotated
    counter-clockwise (as displayed, rows going down) by `angle` and scaled by `scale`."""
    a = np.deg2rad(angle_deg)
    cos, sin = np.cos(a) / scale, np.sin(a) / scale
    # forward, in (row, col): [[cos, -sin], [sin, cos]] acting on (-row, col) = displayed (y, x)
    # flipped; its inverse in (row, col) coordinates is:
    return np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)


def _degrees(degrees, name):
    if isinstance(degrees, numbers.Real):
        if degrees < 0:
            raise ValueError(f"{name}: if degrees is a single number, it must be positive, got "
                             f"{degrees}")
        return (-float(degrees), float(degrees))
    lo, hi = (float(d) for d in degrees)
    if lo > hi:
        raise ValueError(f"{name}: degrees range must be (min, max), got {degrees!r}")
    return (lo, hi)


class RandomAffine(RandomTransform):
    """Rotate by an angle drawn from `degrees` (counter-clockwise for positive angles, as
    torchvision), scale by a factor from `scale=(lo, hi)`, and shift by up to
    `translate=(fx, fy)` of the width/height (whole pixels, as torchvision), about the image
    centre; pixels that come from outside the image get `fill`."""

    def __init__(self, degrees=0.0, translate=None, scale=None, interpolation: str = "nearest",
                 fill=0.0, *, generator=None):
        name = type(self).__name__
        self.degrees = _degrees(degrees, name)
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"{name}: translate should be a pair of fractions in [0, 1], "
                                 f"got {translate!r}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
                raise ValueError(f"{name}: scale should be (lo, hi) with 0 < lo <= hi, got "
                                 f"{scale!r}")
        self.translate, self.scale = translate, scale
        self.interpolation = _check_interpolation(interpolation, name)
        self.fill = fill
        self.generator = generator

    def apply(self, arr):
        imgs, restore = as_images(arr, type(self).__name__)
        N, _, H, W = imgs.shape
        g = self.generator
        angle = _rng.uniform((N,), g, *self.degrees)
        scale = _rng.uniform((N,), g, *self.scale) if self.scale else np.ones(N)
        shift = np.zeros((N, 2))
        if self.translate:
            max_dx, max_dy = self.translate[0] * W, self.translate[1] * H
            shift[:, 1] = np.round(_rng.uniform((N,), g, -max_dx, max_dx))
            shift[:, 0] = np.round(_rng.uniform((N,), g, -max_dy, max_dy))
        m = _inverse_rotation_scale(angle, scale)
        # dst = R (src - c) + c + shift  =>  src = R^-1 (dst - shift - c) + c
        offsets = -np.einsum("nij,nj->ni", m, shift)
        ys, xs = _affine_positions(m, offsets, (H, W), (H, W))
        return restore(_resample(imgs, ys, xs, self.interpolation, self.fill))


class RandomRotation(RandomAffine):
    """Rotate each sample by an angle drawn uniformly from [-degrees, degrees] (or from
    (min, max)), counter-clockwise for positive angles, about the image centre; corners
    that come from outside get `fill`. Nearest-neighbour by default, as torchvision."""

    def __init__(self, degrees, interpolation: str = "nearest", fill=0.0, *, generator=None):
        super().__init__(degrees, interpolation=interpolation, fill=fill, generator=generator)


class RandomResizedCrop(RandomTransform):
    """torchvision's RandomResizedCrop: cut a window covering a fraction `scale` of the area
    with aspect ratio (w/h) in `ratio` (log-uniform) at a random place (10 tries, then the
    central crop with the ratio clamped), and resize it to `size` (bilinear, half-pixel
    centres as align_corners=False). A random zoom and translate in one."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation: str = "bilinear", *, generator=None):
        self.size = pair(size, "RandomResizedCrop", "size")
        self.scale, self.ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        if not (0 < self.scale[0] <= self.scale[1] and 0 < self.ratio[0] <= self.ratio[1]):
            raise ValueError(f"RandomResizedCrop: scale and ratio should be (lo, hi) with "
                             f"0 < lo <= hi, got scale={scale!r}, ratio={ratio!r}")
        self.interpolation = _check_interpolation(interpolation, "RandomResizedCrop")
        self.generator = generator

    def _boxes(self, N, H, W):
        """(top, left, h, w) per sample, torchvision's sampling rule, vectorised."""
        g, tries = self.generator, 10
        area = H * W * _rng.uniform((N, tries), g, *self.scale)
        log_ratio = _rng.uniform((N, tries), g, math.log(self.ratio[0]),
                                 math.log(self.ratio[1]))
        aspect = np.exp(log_ratio)
        w = np.round(np.sqrt(area * aspect)).astype(np.int64)
        h = np.round(np.sqrt(area / aspect)).astype(np.int64)
        ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)
        first = ok.argmax(axis=1)
        rows = np.arange(N)
        h, w, found = h[rows, first], w[rows, first], ok.any(axis=1)
        # fallback: the whole image cut to the nearest allowed ratio, centred
        in_ratio = W / H
        if in_ratio < self.ratio[0]:
            fw, fh = W, int(round(W / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fh, fw = H, int(round(H * self.ratio[1]))
        else:
            fw, fh = W, H
        h, w = np.where(found, h, fh), np.where(found, w, fw)
        u_top, u_left = _rng.uniform((N,), g), _rng.uniform((N,), g)
        top = np.where(found, np.floor(u_top * (H - h + 1)).astype(np.int64), (H - fh) // 2)
        left = np.where(found, np.floor(u_left * (W - w + 1)).astype(np.int64), (W - fw) // 2)
        return top, left, h, w

    def apply(self, arr):
        imgs, restore = as_images(arr, "RandomResizedCrop")
        N, _, H, W = imgs.shape
        top, left, h, w = self._boxes(N, H, W)
        oh, ow = self.size
        # output pixel i samples the box at top + (i + 0.5) h / oh - 0.5 (half-pixel centres)
        ys = top[:, None, None] + (np.arange(oh)[None, :, None] + 0.5) * (h / oh)[:, None, None] \
            - 0.5
        xs = left[:, None, None] + (np.arange(ow)[None, None, :] + 0.5) * (w / ow)[:, None, None] \
            - 0.5
        ys, xs = np.broadcast_to(ys, (N, oh, ow)), np.broadcast_to(xs, (N, oh, ow))
        return restore(_resample(imgs, ys, xs, self.interpolation, border="clamp"))
