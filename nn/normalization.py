"""Normalisation layers and their functional forms: BatchNorm1d/2d, LayerNorm, GroupNorm,
InstanceNorm2d.

All of them compute y = (x - mean) / sqrt(var + eps) * weight + bias with the biased variance;
they differ in the axes the statistics are taken over:

    batch_norm     per channel, over the batch and every spatial axis (N, *)
    layer_norm     per sample, over the trailing `normalized_shape`
    group_norm     per sample and group of channels, over the group and spatial axes
    instance_norm  per sample and channel, over the spatial axes

Running statistics follow PyTorch: running = (1 - momentum) * running + momentum * batch,
with the UNBIASED batch variance (n / (n - 1) * biased) going into running_var.
"""
from __future__ import annotations

import numbers
import warnings

import autodiff as ad

from . import init
from .linear import _check_features
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d",
           "batch_norm", "layer_norm", "group_norm", "instance_norm", "normalize"]


# ---------------------------------------------------------------------------- helpers

def normalize(x, axes, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance), composed from autodiff ops
    so every step is a node of the graph (slower than the fused batch_norm op)."""
    if x.dtype in (ad.float16, ad.bfloat16):
        # Centring in half precision would round the mean to the input's coarse grid (a
        # step of 1/16 near 100 in float16): compute in float32, store in the input dtype.
        return normalize(x.to(dtype=ad.float32), axes, eps).to(dtype=x.dtype)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axes, keepdim=True, correction=0)
    return (x - mean) / ad.sqrt(var + eps)


def _channel_shape(x, num):
    """Shape that broadcasts a per-channel vector (axis 1) against x: (1, C, 1, ..., 1)."""
    return (1, num) + (1,) * (x.ndim - 2)


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _update_running(running, batch_stat, factor):
    """running <- (1 - factor) * running + factor * batch_stat, in place, outside the graph."""
    data = running.data
    stat = batch_stat.data if isinstance(batch_stat, ad.Tensor) else batch_stat
    data *= 1.0 - factor
    data += (factor * stat).astype(data.dtype, copy=False)
    ad.mark_modified(running)


def _check_eps_momentum(owner, eps, momentum):
    if not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{owner}: eps must be a number >= 0, got {eps!r}")
    if momentum is not None and (not isinstance(momentum, numbers.Real)
                                 or not 0 <= momentum <= 1):
        raise ValueError(f"{owner}: momentum must be a number in [0, 1] or None, got "
                         f"{momentum!r}")


# ---------------------------------------------------------------------------- functional

def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c per channel c (axis 1) of
    x (N, C, *): batch statistics when training (running stats then updated in place,
    running_var with the unbiased variance), else running_mean/running_var; without
    running statistics the batch statistics are used in eval too (as PyTorch).

    Training runs the engine's fused `ad.batch_norm` op: one graph node whose backward is
    the closed form of the Batch Normalization paper."""
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    use_batch = bool(training) or running_mean is None
    return ad.batch_norm(input, running_mean, running_var, weight, bias,
                         training=use_batch, momentum=momentum, eps=eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics per sample over the
    trailing axes that make up `normalized_shape`."""
    shape = _shape_tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise ValueError(f"layer_norm: normalized_shape {shape} must match the trailing "
                         f"axes of the input, got input shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got "
                             f"{tuple(t.shape)}")
    y = normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of x (N, C, *) into num_groups groups of C / num_groups and
    normalise each sample's group over its channels and spatial axes; then per-channel
    weight and bias."""
    x = input
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got shape "
                         f"{tuple(x.shape)}")
    n, c = x.shape[0], x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: the {c} channels of input shape {tuple(x.shape)} "
                         f"cannot be split into {num_groups} equal groups")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"group_norm: {name} must have shape ({c},), got "
                             f"{tuple(t.shape)}")
    grouped = x.reshape(n, num_groups, -1) if x.numel() else x.reshape(n, num_groups, 0)
    y = normalize(grouped, 2, eps).reshape(x.shape)
    return _affine(y, weight, bias, _channel_shape(x, c))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each sample and channel of x (N, C, *) over its spatial axes; with
    use_input_stats=False use running_mean/running_var instead. When running stats are
    given and use_input_stats is on, they move towards the batch average of the per-instance
    means and unbiased variances (as PyTorch does)."""
    x = input
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *spatial), got "
                         f"shape {tuple(x.shape)}")
    c = x.shape[1]
    shape = _channel_shape(x, c)
    if not use_input_stats:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        y = (x - running_mean.detach().reshape(shape)) / ad.sqrt(
            running_var.detach().reshape(shape) + eps)
        return _affine(y, weight, bias, shape)
    axes = tuple(range(2, x.ndim))
    m = x.numel() // (x.shape[0] * c) if x.shape[0] * c else 0
    if m <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when "
                         f"training, got input shape {tuple(x.shape)}")
    y = normalize(x, axes, eps)
    if running_mean is not None:
        with ad.no_grad():
            data = x.data
            mean = data.mean(axis=axes).mean(axis=0)
            var = data.var(axis=axes, ddof=1).mean(axis=0)
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var, momentum)
    return _affine(y, weight, bias, shape)


def _shape_tuple(normalized_shape, owner="layer_norm"):
    """normalized_shape as a tuple of ints: an int or a sequence of ints (else TypeError)."""
    sizes = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else (
        normalized_shape if isinstance(normalized_shape, (tuple, list)) else None)
    if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                for s in sizes):
        raise TypeError(f"{owner}: normalized_shape must be an int or a sequence of ints, "
                        f"got {normalized_shape!r}")
    return tuple(int(s) for s in sizes)


# ---------------------------------------------------------------------------- layers

def _register_affine(module, weight, bias, shape, kw):
    """Register `weight` (ones) and `bias` (zeros) of `shape` as parameters, or None where
    switched off, so state_dict keys are the same either way round."""
    if weight:
        module.weight = Parameter(ad.ones(shape, **kw))
    else:
        module.register_parameter("weight", None)
    if bias:
        module.bias = Parameter(ad.zeros(shape, **kw))
    else:
        module.register_parameter("bias", None)


class _NormBase(Module):
    """Shared code of the per-channel norms (BatchNorm1d/2d, InstanceNorm2d): argument
    checks, affine parameters, running-stat buffers, reset and repr."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        _check_features(name, num_features=num_features)
        _check_eps_momentum(name, eps, momentum)
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = dict(dtype=dtype or ad.float32, device=device)
        _register_affine(self, affine, affine and bias, num_features, kw)
        if track_running_stats:
            self.register_buffer("running_mean", ad.zeros(num_features, **kw))
            self.register_buffer("running_var", ad.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked",
                                 ad.tensor(0, dtype=ad.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            with ad.no_grad():
                self.running_mean.data[...] = 0
                self.running_var.data[...] = 1
                self.num_batches_tracked.data[...] = 0
            ad.mark_modified(self.running_mean, self.running_var, self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Shared code of BatchNorm1d/2d: the input check hook and the momentum convention."""

    _expected = ""  # the accepted input shapes, for errors
    _channel_axis = 1

    def _check_input(self, x):
        raise NotImplementedError

    def forward(self, x):
        self._check_input(x)
        if x.shape[self._channel_axis] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected "
                             f"{self.num_features} channels (axis {self._channel_axis}), got "
                             f"input shape {tuple(x.shape)}")
        if self._channel_axis == -1 and x.ndim == 3:
            # (N, L, C) with channels last: the same statistics as (N * L, C), a free reshape
            n, length, c = x.shape
            return self._normalize(x.reshape(n * length, c)).reshape(n, length, c)
        return self._normalize(x)

    def _normalize(self, x):
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            # torch: count the batch, then momentum=None means a cumulative average
            # (factor 1 / batches seen so far).
            with ad.no_grad():
                self.num_batches_tracked.data[...] += 1
            ad.mark_modified(self.num_batches_tracked)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        # without tracked statistics the batch statistics are used in eval mode too
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs per feature/channel C, over N (and
    L): y = (x - mean) / sqrt(var + eps) * weight + bias.

    `channels_last=True` (not in PyTorch) takes the channels from the LAST axis instead:
    (N, C) or (N, L, C), statistics per channel over N and L. That is the layout of sequence
    models whose layers are Linear over the last axis (the lecture's WaveNet-style model);
    with PyTorch's BatchNorm1d the same is `bn(x.transpose(1, 2)).transpose(1, 2)`. The
    parameters, buffers and state_dict are the same either way."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True,
                 channels_last=False):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.channels_last = bool(channels_last)
        self._channel_axis = -1 if self.channels_last else 1

    def _check_input(self, x):
        if x.ndim not in (2, 3):
            layout = "(N, L, C)" if self.channels_last else "(N, C, L)"
            raise ValueError(f"BatchNorm1d({self.num_features}): expected a 2-D (N, C) or "
                             f"3-D {layout} input, got shape {tuple(x.shape)}")

    def extra_repr(self) -> str:
        return super().extra_repr() + (", channels_last=True" if self.channels_last else "")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs per channel, over N, H and W:
    y = (x - mean) / sqrt(var + eps) * weight + bias."""

    def _check_input(self, x):
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d({self.num_features}): expected a 4-D (N, C, H, W) "
                             f"input, got shape {tuple(x.shape)}")


class LayerNorm(Module):
    """Normalise each sample over its trailing `normalized_shape` axes (same in training and
    eval): y = (x - mean) / sqrt(var + eps) * weight + bias, weight/bias of that shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        shape = _shape_tuple(normalized_shape, "LayerNorm")
        if not shape or any(s <= 0 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a "
                             f"non-empty tuple of them, got {normalized_shape!r}")
        _check_eps_momentum("LayerNorm", eps, None)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        kw = dict(dtype=dtype or ad.float32, device=device)
        _register_affine(self, elementwise_affine, elementwise_affine and bias, shape, kw)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each sample's groups of num_channels / num_groups channels over the group
    and spatial axes, then per-channel weight and bias."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if (not isinstance(num_groups, numbers.Integral) or num_groups <= 0
                or not isinstance(num_channels, numbers.Integral) or num_channels <= 0
                or num_channels % num_groups):
            raise ValueError(f"GroupNorm: num_channels ({num_channels!r}) must be a positive "
                             f"multiple of num_groups ({num_groups!r})")
        _check_eps_momentum("GroupNorm", eps, None)
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        kw = dict(dtype=dtype or ad.float32, device=device)
        _register_affine(self, affine, affine and bias, num_channels, kw)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected an "
                             f"input of shape (N, {self.num_channels}, *), got shape "
                             f"{tuple(x.shape)}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(_NormBase):
    """Normalise each sample and channel of (N, C, H, W) (or unbatched (C, H, W)) over H and
    W; optional per-channel affine and running statistics (used in eval when tracked)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"InstanceNorm2d({self.num_features}): expected a 4-D "
                             f"(N, C, H, W) or 3-D (C, H, W) input, got shape "
                             f"{tuple(x.shape)}")
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.num_features:
            message = (f"InstanceNorm2d({self.num_features}): expected {self.num_features} "
                       f"channels, got input shape {tuple(x.shape)}")
            if self.affine or self.track_running_stats:
                raise ValueError(message)
            # without per-channel state num_features is unused (PyTorch only warns too)
            warnings.warn(message, stacklevel=2)
        # PyTorch's instance norm neither counts batches nor averages cumulatively: with
        # momentum=None the running statistics stay as they are.
        factor = 0.0 if self.momentum is None else self.momentum
        use_input_stats = self.training or not self.track_running_stats
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_input_stats, factor, self.eps)
        return y.squeeze(0) if unbatched else y
