"""Convolution and pooling layers over NCHW images: Conv2d, MaxPool2d, AvgPool2d.

The kernels are engine ops (`ad.conv2d`, `ad.max_pool2d`, `ad.avg_pool2d`); the functional
forms here add what a layer user expects from PyTorch: unbatched (C, H, W) inputs and
padding="valid"/"same".
"""
from __future__ import annotations

import autodiff as ad

from .linear import _check_features, _reset_affine
from .module import Module, Parameter

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "conv2d", "max_pool2d", "avg_pool2d"]


def _same_padding(kernel, dilation, stride, where):
    """Symmetric padding that keeps H and W unchanged (stride 1, odd dilated extent)."""
    if stride != (1, 1):
        raise ValueError(f"{where}: padding='same' needs stride 1, got stride {stride}")
    pad = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        if total % 2:
            raise ValueError(f"{where}: padding='same' with kernel {kernel} and dilation "
                             f"{dilation} needs uneven padding, which is not supported; "
                             "use an odd kernel or pad explicitly with ad.pad")
        pad.append(total // 2)
    return tuple(pad)


def _batched(x, where):
    """(x as 4-D, whether a batch axis was added) for (N, C, H, W) or unbatched (C, H, W)."""
    if not isinstance(x, ad.Tensor):
        raise TypeError(f"{where}: expected an ad.Tensor input, got {type(x).__name__}")
    if x.ndim == 4:
        return x, False
    if x.ndim == 3:
        return x.unsqueeze(0), True
    raise ValueError(f"{where}: expected a 4-D (N, C, H, W) or 3-D (C, H, W) input, got "
                     f"shape {tuple(x.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D cross-correlation y[n,o] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, c, s*p + d*i,
    s*q + d*j] of (N, C_in, H, W) or (C_in, H, W) with weight (C_out, C_in, kH, kW);
    padding is an int, a pair, "valid" (0) or "same" (stride 1)."""
    x, added = _batched(input, "conv2d")
    stride = ad.as_pair(stride, "stride", "conv2d")
    dilation = ad.as_pair(dilation, "dilation", "conv2d")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        padding = _same_padding(tuple(weight.shape[2:]), dilation, stride, "conv2d")
    y = ad.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    return y.squeeze(0) if added else y


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """y[n,c,p,q] = max over the kH x kW window at (s*p, s*q) of x padded with -inf;
    stride defaults to kernel_size."""
    x, added = _batched(input, "max_pool2d")
    y = ad.max_pool2d(x, kernel_size, stride, padding)
    return y.squeeze(0) if added else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """y[n,c,p,q] = mean over the kH x kW window at (s*p, s*q) of x zero-padded (divisor
    kH*kW, or the count of real elements with count_include_pad=False)."""
    x, added = _batched(input, "avg_pool2d")
    y = ad.avg_pool2d(x, kernel_size, stride, padding, count_include_pad)
    return y.squeeze(0) if added else y


class Conv2d(Module):
    """2-D convolution layer: weight (C_out, C_in, kH, kW), bias (C_out,), both initialised
    as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in * kH * kW (weight
    through kaiming_uniform_ with a = sqrt(5))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, dtype=None, device=None):
        super().__init__()
        _check_features("Conv2d", in_channels=in_channels, out_channels=out_channels)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = ad.as_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = ad.as_pair(stride, "stride", "Conv2d")
        self.dilation = ad.as_pair(dilation, "dilation", "Conv2d")
        for name, v, lo in (("kernel_size", self.kernel_size, 1), ("stride", self.stride, 1),
                            ("dilation", self.dilation, 1)):
            if min(v) < lo:
                raise ValueError(f"Conv2d: {name} must be >= {lo}, got {v}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', "
                                 f"got {padding!r}")
            if padding == "same":
                _same_padding(self.kernel_size, self.dilation, self.stride, "Conv2d")
            self.padding = padding
        else:
            self.padding = ad.as_pair(padding, "padding", "Conv2d")
            if min(self.padding) < 0:
                raise ValueError(f"Conv2d: padding must be >= 0, got {self.padding}")
        kw = dict(dtype=dtype or ad.float32, device=device)
        self.weight = Parameter(ad.empty(self.out_channels, self.in_channels,
                                         *self.kernel_size, **kw))
        if bias:
            self.bias = Parameter(ad.empty(self.out_channels, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, which is
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
        _reset_affine(self.weight, self.bias)

    def forward(self, x):
        # conv2d itself rejects non-Tensors and other ranks; the layer adds its own name
        if isinstance(x, ad.Tensor) and x.ndim in (3, 4) and x.shape[-3] != self.in_channels:
            raise ValueError(f"Conv2d({self.in_channels}, {self.out_channels}): expected "
                             f"{self.in_channels} input channels, got input shape "
                             f"{tuple(x.shape)} with {x.shape[-3]} channels")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size, -inf padding)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = ad.as_pair(kernel_size, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else ad.as_pair(stride, "stride",
                                                                    "MaxPool2d")
        self.padding = ad.as_pair(padding, "padding", "MaxPool2d")
        _check_pool("MaxPool2d", self.kernel_size, self.stride, self.padding)

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over kernel_size windows (stride defaults to kernel_size, zero padding, divisor
    kH*kW or, with count_include_pad=False, the number of real elements)."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size = ad.as_pair(kernel_size, "kernel_size", "AvgPool2d")
        self.stride = self.kernel_size if stride is None else ad.as_pair(stride, "stride",
                                                                    "AvgPool2d")
        self.padding = ad.as_pair(padding, "padding", "AvgPool2d")
        self.count_include_pad = bool(count_include_pad)
        _check_pool("AvgPool2d", self.kernel_size, self.stride, self.padding)

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, count_include_pad={self.count_include_pad}")


def _check_pool(where, kernel, stride, padding):
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{where}: kernel_size and stride must be >= 1 and padding >= 0, got "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{where}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")
