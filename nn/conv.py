"""2-D convolution over NCHW images: the Conv2d layer and its functional form conv2d
(pooling layers: nn/pooling.py, re-exported here).

The kernel is the engine op `ad.conv2d` (groups included); the functional form adds what a
layer user expects from PyTorch: unbatched (C, H, W) inputs and padding="valid"/"same"
("same" with an even dilated kernel extent pads one more row/column at the bottom/right,
as torch does), and the layer adds padding_mode: 'reflect', 'replicate' and 'circular' pad
with nn.functional.pad first and convolve without padding, as torch's Conv2d does.
"""
from __future__ import annotations

import numbers

import autodiff as ad

from .linear import _check_features, _param, _reset_affine
from .module import Module
from .padding import pad
from .pooling import AvgPool2d, MaxPool2d, _batched, avg_pool2d, max_pool2d

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "conv2d", "max_pool2d", "avg_pool2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _same_padding(kernel, dilation, stride, where):
    """((top, bottom), (left, right)) that keep H and W unchanged with stride 1: the dilated
    extent's d*(k-1) extra rows split evenly, the odd one at the bottom/right (as torch)."""
    if stride != (1, 1):
        raise ValueError(f"{where}: padding='same' needs stride 1 (torch: not supported for "
                         f"strided convolutions), got stride {stride}")
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, G(o) + c,
    s*p + d*i, s*q + d*j] of (N, C_in, H, W) or (C_in, H, W) with weight (C_out,
    C_in/groups, kH, kW), as torch.nn.functional.conv2d; G(o) is the first input channel of
    output channel o's group (groups=C_in: depthwise). padding is an int, a pair, "valid"
    (0) or "same" (stride 1; an odd total d*(k-1) puts the extra row/column at the
    bottom/right, as torch)."""
    x, added = _batched(input, "conv2d")
    stride = ad.as_pair(stride, "stride", "conv2d")
    dilation = ad.as_pair(dilation, "dilation", "conv2d")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got "
                             f"{padding!r}")
        if padding == "valid":
            padding = (0, 0)
        else:
            # a weight that is not 4-D: no padding here, the engine op's check names it
            kernel = tuple(weight.shape[2:]) if weight.ndim == 4 else (1, 1)
            (top, bottom), (left, right) = _same_padding(kernel, dilation, stride, "conv2d")
            if bottom != top or right != left:
                # the engine op pads evenly: the odd row/column first (torch does the same)
                x = pad(x, (0, right - left, 0, bottom - top))
            padding = (top, left)
    y = ad.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation,
                  groups=groups)
    return y.squeeze(0) if added else y


class Conv2d(Module):
    """2-D convolution layer (torch.nn.Conv2d): weight (C_out, C_in/groups, kH, kW), bias
    (C_out,), both initialised as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in/groups * kH * kW (weight through kaiming_uniform_ with a = sqrt(5)).

    groups splits the channels into groups convolved separately (groups = in_channels:
    depthwise); padding_mode 'zeros', or 'reflect' / 'replicate' / 'circular', which pad
    through nn.functional.pad before a convolution without padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        _check_features("Conv2d", in_channels=in_channels, out_channels=out_channels)
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"Conv2d: groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = ad.as_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = ad.as_pair(stride, "stride", "Conv2d")
        self.dilation = ad.as_pair(dilation, "dilation", "Conv2d")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        for name, v, lo in (("kernel_size", self.kernel_size, 1), ("stride", self.stride, 1),
                            ("dilation", self.dilation, 1)):
            if min(v) < lo:
                raise ValueError(f"Conv2d: {name} must be >= {lo}, got {v}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', "
                                 f"got {padding!r}")
            self.padding = padding
            widths = ((0, 0), (0, 0)) if padding == "valid" else _same_padding(
                self.kernel_size, self.dilation, self.stride, "Conv2d")
        else:
            self.padding = ad.as_pair(padding, "padding", "Conv2d")
            if min(self.padding) < 0:
                raise ValueError(f"Conv2d: padding must be >= 0, got {self.padding}")
            widths = tuple((p, p) for p in self.padding)
        # torch's name and order for F.pad: (left, right, top, bottom)
        self._reversed_padding_repeated_twice = widths[1] + widths[0]
        self.weight = _param(self.out_channels, self.in_channels // self.groups,
                             *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = _param(self.out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, which is
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups * kH * kW, and the same
        bound for the bias."""
        _reset_affine(self.weight, self.bias)

    def forward(self, x):
        # conv2d itself rejects non-Tensors and other ranks; the layer adds its own name
        if isinstance(x, ad.Tensor) and x.ndim in (3, 4) and x.shape[-3] != self.in_channels:
            raise ValueError(f"Conv2d({self.in_channels}, {self.out_channels}): expected "
                             f"{self.in_channels} input channels, got input shape "
                             f"{tuple(x.shape)} with {x.shape[-3]} channels")
        if self.padding_mode != "zeros":
            x = pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                          self.groups)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self) -> str:
        """torch's fields: padding, dilation, groups, bias and padding_mode when not the
        default."""
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
