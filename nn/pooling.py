"""Pooling layers over NCHW images and their functional forms, with torch's parameters in
torch's positional order (kernels: the engine ops `ad.max_pool2d`, `ad.avg_pool2d`):

    MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
              ceil_mode=False)
    AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None)

The functional forms accept unbatched (C, H, W) inputs too. As in torch, the layers keep
their arguments as given (kernel_size=2 stays 2; stride None becomes kernel_size).
"""
from __future__ import annotations

import autodiff as ad

from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "max_pool2d", "avg_pool2d"]


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


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n,c,p,q] = max_{i,j} x_pad[n, c, s*p + d*i, s*q + d*j], x padded with -inf; stride
    defaults to kernel_size; ceil_mode rounds the output size up as torch; with
    return_indices, (y, indices): each maximum's flat index h*W + w in its plane (int64)."""
    x, added = _batched(input, "max_pool2d")
    y = ad.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    if not added:
        return y
    if return_indices:
        return y[0].squeeze(0), y[1].squeeze(0)
    return y.squeeze(0)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """y[n,c,p,q] = sum over the kH x kW window at (s*p, s*q) of x zero-padded / divisor:
    divisor_override, else kH*kW (count_include_pad; ceil_mode's windows past the padded
    input count their part inside it) or the window's count of real elements."""
    x, added = _batched(input, "avg_pool2d")
    y = ad.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                      divisor_override)
    return y.squeeze(0) if added else y


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size, -inf padding, dilated
    windows, ceil_mode output sizes; return_indices: forward returns (output, indices))."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)
        _check_pool("MaxPool2d", self.kernel_size, self.stride, self.padding, self.dilation)

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows (stride defaults to kernel_size, zero padding, divisor
    kH*kW, or with count_include_pad=False the number of real elements, or
    divisor_override; ceil_mode output sizes)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override
        _check_pool("AvgPool2d", self.kernel_size, self.stride, self.padding, 1)
        if divisor_override is not None and (
                not isinstance(divisor_override, int) or isinstance(divisor_override, bool)
                or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a nonzero int or None, got "
                             f"{divisor_override!r}")

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        # torch's AvgPool2d shows only these three
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _check_pool(where, kernel, stride, padding, dilation):
    kernel = ad.as_pair(kernel, "kernel_size", where)
    stride = ad.as_pair(stride, "stride", where)
    padding = ad.as_pair(padding, "padding", where)
    dilation = ad.as_pair(dilation, "dilation", where)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0 or min(dilation) < 1:
        raise ValueError(f"{where}: kernel_size and stride must be >= 1 (dilation too) and "
                         f"padding >= 0, got kernel_size={kernel}, stride={stride}, "
                         f"padding={padding}, dilation={dilation}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{where}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")
