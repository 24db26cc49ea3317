"""1-D convolution over sequences (N, C, L): `Conv1d` and its functional form `conv1d`.

Built on the engine's 2-D op: a sequence (N, C, L) is an image (N, C, 1, L) and a kernel
(C_out, C_in / groups, k) is a (C_out, C_in / groups, 1, k) filter, so forward and backward
are `ad.conv2d`'s, groups included (one op for all groups: see autodiff/ops/conv.py).

Causal convolution (each output sees only the present and the past, as in WaveNet) is a
recipe, not an option, as in PyTorch: pad dilation * (kernel_size - 1) zeros on the LEFT
and none on the right, then convolve without padding; the output has the input's length::

    conv = nn.Conv1d(C, C, kernel_size=2, dilation=4)
    y = conv(ad.pad(x, ((0, 0), (0, 0), (4 * (2 - 1), 0))))   # y[..., t] sees x[..., <= t]
"""
from __future__ import annotations

import numbers

import autodiff as ad

from .linear import _check_features, _param, _reset_affine
from .module import Module
from .padding import pad

__all__ = ["Conv1d", "conv1d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _single(value, what, where, minimum):
    """An int or a 1-tuple of ints (PyTorch's `_single`) as an int >= minimum."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{where}: {what} must be an int or a 1-tuple of ints, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum}, got {value}")
    return int(value)


def _padding_pair(padding, kernel, dilation, stride, where):
    """(left, right) zero padding for an int, a 1-tuple, "valid" or "same" (PyTorch puts the
    odd extra element of "same" on the right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding != "same":
            raise ValueError(f"{where}: padding must be an int, a 1-tuple, 'valid' or 'same', "
                             f"got {padding!r}")
        if stride != 1:
            raise ValueError(f"{where}: padding='same' needs stride 1, got stride {stride}")
        total = dilation * (kernel - 1)
        return total // 2, total - total // 2
    p = _single(padding, "padding", where, 0)
    return p, p


def _check_groups(where, groups, c_in, c_out):
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    if c_in % groups or c_out % groups:
        raise ValueError(f"{where}: in_channels ({c_in}) and out_channels ({c_out}) must both "
                         f"be divisible by groups ({groups})")


def _pad_length(x, left, right, mode, where):
    """x (N, C, L) padded along L: zeros, or by reflecting / repeating the edge / wrapping
    around (F.pad's modes, as torch's Conv1d pads)."""
    if left == 0 and right == 0:
        return x
    if mode == "zeros":
        return ad.pad(x, ((0, 0), (0, 0), (left, right)))
    length = x.shape[-1]
    limit = length - 1 if mode == "reflect" else length
    if mode != "replicate" and max(left, right) > limit:
        raise ValueError(f"{where}: padding_mode={mode!r} needs padding ({left}, {right}) of at "
                         f"most {limit} for an input of length {length}")
    return pad(x, (left, right), mode=mode)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation as torch.nn.functional.conv1d: y[n, o, t] = b[o] +
    sum_{c, j} w[o, c, j] x_pad[n, g(o) * C_in/groups + c, s t + d j] of x (N, C_in, L) or
    (C_in, L) with weight (C_out, C_in / groups, k); padding an int, "valid" or "same".
    Output length floor((L + 2p - d (k - 1) - 1) / s) + 1."""
    where = "conv1d"
    if not isinstance(input, ad.Tensor) or not isinstance(weight, ad.Tensor):
        raise TypeError(f"{where}: expected ad.Tensor input and weight, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.ndim not in (2, 3):
        raise ValueError(f"{where}: expected a 3-D (N, C, L) or 2-D (C, L) input, got shape "
                         f"{tuple(input.shape)}")
    if weight.ndim != 3:
        raise ValueError(f"{where}: weight must be 3-D (C_out, C_in / groups, kernel_size), "
                         f"got shape {tuple(weight.shape)}")
    added = input.ndim == 2
    x = input.unsqueeze(0) if added else input
    c_out, c_in_group, kernel = weight.shape
    _check_groups(where, groups, x.shape[1], c_out)
    if x.shape[1] != c_in_group * groups:
        raise ValueError(f"{where}: input has {x.shape[1]} channels (shape {tuple(x.shape)}) "
                         f"but weight {tuple(weight.shape)} with groups={groups} expects "
                         f"{c_in_group * groups}")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"{where}: bias must have shape ({c_out},) for weight "
                         f"{tuple(weight.shape)}, got {tuple(bias.shape)}")
    stride = _single(stride, "stride", where, 1)
    dilation = _single(dilation, "dilation", where, 1)
    left, right = _padding_pair(padding, kernel, dilation, stride, where)
    extent = dilation * (kernel - 1) + 1
    if x.shape[-1] + left + right < extent:
        raise ValueError(f"{where}: the input length {x.shape[-1]} plus padding "
                         f"({left}, {right}) is shorter than the dilated kernel ({extent} = "
                         f"dilation {dilation} * (kernel_size {kernel} - 1) + 1)")
    if left != right:  # "same" with an even extent: the engine op pads symmetrically
        x, left = _pad_length(x, left, right, "zeros", where), 0
    x4 = x.unsqueeze(2)  # (N, C, 1, L): a sequence is a one-row image
    w4 = weight.unsqueeze(2)
    geometry = dict(stride=(1, stride), padding=(0, left), dilation=(1, dilation))
    y = ad.conv2d(x4, w4, bias, groups=groups, **geometry)
    y = y.squeeze(2)
    return y.squeeze(0) if added else y


class Conv1d(Module):
    """1-D convolution layer over (N, C_in, L) or (C_in, L): weight (C_out, C_in / groups,
    kernel_size), bias (C_out,), initialised as PyTorch does: U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_in / groups * kernel_size (weight through
    kaiming_uniform_ with a = sqrt(5)). padding_mode "zeros", "reflect", "replicate" or
    "circular"; causal padding: see the module docstring."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        _check_features("Conv1d", in_channels=in_channels, out_channels=out_channels)
        _check_groups("Conv1d", groups, in_channels, out_channels)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv1d: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = (_single(kernel_size, "kernel_size", "Conv1d", 1),)
        self.stride = (_single(stride, "stride", "Conv1d", 1),)
        self.dilation = (_single(dilation, "dilation", "Conv1d", 1),)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        # checks the padding (and "same" against the stride) once, here
        _padding_pair(padding, self.kernel_size[0], self.dilation[0], self.stride[0],
                      "Conv1d")
        self.padding = padding if isinstance(padding, str) else (
            _single(padding, "padding", "Conv1d", 0),)
        self.weight = _param(self.out_channels, self.in_channels // self.groups,
                             self.kernel_size[0], device=device, dtype=dtype)
        if bias:
            self.bias = _param(self.out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, which is
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
        _reset_affine(self.weight, self.bias)

    def forward(self, x):
        if isinstance(x, ad.Tensor) and x.ndim in (2, 3) and x.shape[-2] != self.in_channels:
            raise ValueError(f"Conv1d({self.in_channels}, {self.out_channels}): expected "
                             f"{self.in_channels} input channels (axis -2 of (N, C, L)), got "
                             f"input shape {tuple(x.shape)}")
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        if self.padding_mode != "zeros" and padding != "valid":
            left, right = _padding_pair(padding, self.kernel_size[0], self.dilation[0],
                                        self.stride[0], "Conv1d")
            if isinstance(x, ad.Tensor) and x.ndim in (2, 3):
                added = x.ndim == 2
                x = _pad_length(x.unsqueeze(0) if added else x, left, right,
                                self.padding_mode, "Conv1d")
                x = x.squeeze(0) if added else x
            padding = 0
        return conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
