"""Folding eval-mode BatchNorm into the Linear or Conv2d layer before it (for inference).

In eval mode a BatchNorm is a per-channel affine map, so after z = W x + b

    bn(z) = (z - running_mean) * s + beta,   s = gamma / sqrt(running_var + eps)
          = (s * W) x + (b - running_mean) * s + beta

which is the same layer with W' = s * W (scaled per output channel) and
b' = (b - running_mean) * s + beta: one layer and one pass over the activations fewer.
"""
from __future__ import annotations

import copy

import numpy as np

import autodiff as ad

from .containers import Sequential
from .conv import Conv2d
from .linear import Identity, Linear
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d

__all__ = ["fuse_batchnorm"]


def fuse_batchnorm(model: Module) -> Module:
    """An eval-mode deep copy of `model` in which every BatchNorm1d/2d that directly follows
    a Linear or Conv2d inside a Sequential (searched recursively) is folded into that
    layer's weight and bias and replaced by Identity. `model` itself is left unchanged.

    Only BatchNorms with running statistics (track_running_stats=True) whose num_features
    equals the layer's output channels are folded (a BatchNorm1d after a Linear on 3-D input
    normalises another axis and cannot be folded; such pairs are left as they are).
    """
    if not isinstance(model, Module):
        raise TypeError(f"fuse_batchnorm: expected an nn.Module, got {type(model).__name__}")
    fused = copy.deepcopy(model).eval()
    with ad.no_grad():
        for module in list(fused.modules()):
            if isinstance(module, Sequential):
                _fuse_sequential(module)
    return fused.eval()  # the Identity modules put in are in eval mode too


def _fusable(layer, bn) -> bool:
    if not getattr(bn, "track_running_stats", False) or bn.running_mean is None:
        return False
    if isinstance(layer, Linear):
        return isinstance(bn, BatchNorm1d) and bn.num_features == layer.out_features
    if isinstance(layer, Conv2d):
        return isinstance(bn, BatchNorm2d) and bn.num_features == layer.out_channels
    return False


def _fuse_sequential(seq: Sequential) -> None:
    mods = list(seq)
    for i in range(1, len(mods)):
        if _fusable(mods[i - 1], mods[i]):
            _fold(mods[i - 1], mods[i])
            seq[i] = Identity()
            mods[i] = seq[i]


def _fold(layer, bn) -> None:
    """Rewrite layer's weight and bias in place so that layer(x) == bn.eval()(old layer(x))."""
    w = layer.weight.data
    xp = ad.array_module(w)
    f64 = np.float64
    inv_std = 1.0 / xp.sqrt(bn.running_var.data.astype(f64) + bn.eps)
    scale = inv_std if bn.weight is None else bn.weight.data.astype(f64) * inv_std
    shift = -bn.running_mean.data.astype(f64) * scale
    if bn.bias is not None:
        shift = shift + bn.bias.data.astype(f64)
    if layer.bias is not None:
        shift = shift + layer.bias.data.astype(f64) * scale
    new_w = w.astype(f64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    layer.weight.data[...] = new_w.astype(w.dtype)
    ad.mark_modified(layer.weight)
    bias_dtype = w.dtype if layer.bias is None else layer.bias.dtype
    if layer.bias is None:
        layer.bias = Parameter(ad.tensor(shift.astype(bias_dtype)))
    else:
        layer.bias.data[...] = shift.astype(bias_dtype)
        ad.mark_modified(layer.bias)
