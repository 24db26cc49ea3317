"""Max and average pooling over kH x kW windows of NCHW arrays (kernels in _conv_kernels.py).

    max_pool2d   y = max over each (dilated) window;  dy/dx sends g to the window's first
                 maximum
    avg_pool2d   y = sum over each window / divisor;  dy/dx spreads g / divisor back

Both backward rules are ops whose own derivatives are ops, so every order of derivative
works: max pooling's is a scatter to the arg-max (its derivative a gather, and back), and
average pooling's is its adjoint (spread), whose derivative is average pooling again.

Output size along each axis, as torch (pooling_output_shape):

    out = floor((size + 2p - d(k-1) - 1 + (s - 1 if ceil_mode else 0)) / s) + 1

and with ceil_mode one less if the last window would start past the input and its left
padding ((out - 1) s >= size + p). ceil_mode's last window may run past the padded input:
the kernels pad `extra` rows/columns there (-inf for max, zeros for the average, whose
divisor counts only the window's part inside the padded input, as torch).
"""
from __future__ import annotations

import numbers

from .. import backend
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from . import _conv_kernels as kernels
from ._precision import work as _work
from .conv import as_pair

__all__ = ["max_pool2d", "avg_pool2d"]


class MaxPool2d(Function):
    """y[n,c,p,q] = max_{i,j} x_pad[n, c, s_h*p + d_h*i, s_w*q + d_w*j] (padding = -inf)"""
    derivative = "dy/dx = 1 at the window's first arg-max, 0 elsewhere"
    op_name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, dilation=(1, 1), extra=(0, 0)):
        # The forward notes where each window's gradient goes (torch keeps an index): the
        # backward then needs neither x nor y, so writing into either (`y += 1`) leaves
        # the gradient right.
        out, picks = kernels.max_pool(ctx.xp, x, kernel, stride, padding, out_hw,
                                      picks=ctx.needs_input_grad[0], dilation=dilation,
                                      extra=extra)
        ctx.save(*(picks or ()))
        ctx.x_shape = x.shape
        return out

    @staticmethod
    def backward(ctx, g):
        p = ctx.params
        x_shape = ctx.x_shape
        window = _window_of(p)
        if not ctx.create_graph:
            return kernels.max_pool_grad(ctx.xp, g, ctx.saved, x_shape, **window)
        # Double backward: route g through the picked offsets with the scatter op, whose
        # derivative (a gather) is itself an op.
        picks = tuple(None if v is None else _data(v) for v in ctx.saved)
        idx = kernels.max_pool_index(backend.array_module(g), picks, p["kernel"], g.shape)
        return ctx.call(MaxPoolScatter, g, index=idx, x_shape=x_shape, **window)


def _window_of(params):
    """The window geometry of a pooling op's params (dilation and extra default to none)."""
    return {"kernel": params["kernel"], "stride": params["stride"],
            "padding": params["padding"], "dilation": params.get("dilation", (1, 1)),
            "extra": params.get("extra", (0, 0))}


def _data(v):
    """An array, or a Tensor's array (create_graph hands saved arrays over as Tensors)."""
    return getattr(v, "data", v)


class MaxPoolScatter(Function):
    """dx: each window's g placed at its arg-max offset (index), summed where windows overlap"""
    derivative = "d/dg = gather of h at each window's arg-max"
    op_name = "max_pool2d_backward"

    @staticmethod
    def forward(ctx, g, index, x_shape, kernel, stride, padding, dilation=(1, 1),
                extra=(0, 0)):
        return kernels.max_pool_scatter(ctx.xp, g, index, x_shape, kernel, stride, padding,
                                        dilation, extra)

    @staticmethod
    def backward(ctx, h):
        return ctx.call(MaxPoolGather, h, index=ctx.params["index"], **_window_of(ctx.params))


class MaxPoolGather(Function):
    """y[n,c,p,q] = h_pad[n, c, window (p, q) at its arg-max offset]"""
    derivative = "d/dh = scatter of g to each window's arg-max"
    op_name = "max_pool2d_gather"

    @staticmethod
    def forward(ctx, h, index, kernel, stride, padding, dilation=(1, 1), extra=(0, 0)):
        ctx.x_shape = h.shape
        return kernels.max_pool_gather(ctx.xp, h, index, kernel, stride, padding, dilation,
                                       extra)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(MaxPoolScatter, g, x_shape=ctx.x_shape, **ctx.params)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over kH x kW windows of x (N, C, H, W), as torch.nn.functional.max_pool2d:
    y[n,c,p,q] = max_{i,j} x_pad[n, c, s_h*p + d_h*i, s_w*q + d_w*j], padding with -inf.

    stride defaults to kernel_size; padding is at most half the kernel; ceil_mode rounds
    the output size up (see the module docstring). The gradient goes to each window's
    first maximum (ties: the first in row-major order; NaN: the last NaN, as torch).
    return_indices=True returns (y, indices): each maximum's flat position h*W + w in its
    (H, W) plane, int64 and not differentiable (what max_unpool2d takes).
    """
    op = "max_pool2d"
    kernel, stride, padding, dilation = _pool_window(op, kernel_size, stride, padding,
                                                     dilation)
    out_hw, extra = _pool_geometry(op, x, kernel, stride, padding, dilation, ceil_mode)
    _check_dtype(op, x)
    window = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                  extra=extra)
    if not return_indices:
        return MaxPool2d.apply(x, out_hw=out_hw, **window)
    # The arg-max first (no graph), then y as the gather of x at it: the same values and
    # derivatives (the gather's is the scatter max_pool2d's backward uses), and the
    # arg-max is there to hand back.
    xp = backend.array_module(x.data)
    _, picks = kernels.max_pool(xp, x.data, out_hw=out_hw, picks=True, **window)
    index = kernels.max_pool_index(xp, picks, kernel, (x.shape[0], x.shape[1]) + out_hw)
    y = MaxPoolGather.apply(x, index=index, **window)
    flat = kernels.flat_indices(xp, index, x.shape[2:], kernel, stride, padding, dilation)
    return y, Tensor._make(flat, None, False)


class AvgPool2d(Function):
    """y[n,c,p,q] = sum over the window of x_pad / divisor"""
    derivative = "dy/dx = 1/divisor for each window containing x"
    op_name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, count_include_pad, extra=(0, 0),
                divisor_override=None):
        xp = ctx.xp
        ctx.x_hw = x.shape[2:]
        acc = backend.accumulation_dtype(x.dtype)
        total = kernels.window_sum(xp, kernels.pad(xp, _work(x, acc), padding, extra=extra),
                                   kernel, stride, out_hw)
        total = _divide(xp, total, x.shape[2:], kernel, stride, padding, out_hw,
                        count_include_pad, extra, divisor_override)
        return total.astype(x.dtype) if acc is not None else total

    @staticmethod
    def backward(ctx, g):
        return ctx.call(AvgPoolAdjoint, g, x_hw=ctx.x_hw, **ctx.params)


class AvgPoolAdjoint(Function):
    """dx[n,c,h,w] = sum over windows containing (h, w) of g / divisor"""
    derivative = "d/dg = avg_pool2d(h)"
    op_name = "avg_pool2d_backward"

    @staticmethod
    def forward(ctx, g, x_hw, kernel, stride, padding, out_hw, count_include_pad,
                extra=(0, 0), divisor_override=None):
        xp = ctx.xp
        acc = backend.accumulation_dtype(g.dtype)
        g_work = _divide(xp, _work(g, acc).copy(), x_hw, kernel, stride, padding, out_hw,
                         count_include_pad, extra, divisor_override)
        dx = kernels.window_spread(xp, g_work, x_hw, kernel, stride, padding, extra)
        return dx.astype(g.dtype) if acc is not None else dx

    @staticmethod
    def backward(ctx, h):
        params = {k: v for k, v in ctx.params.items() if k != "x_hw"}
        return ctx.call(AvgPool2d, h, **params)


def _divide(xp, total, x_hw, kernel, stride, padding, out_hw, count_include_pad, extra,
            divisor_override):
    """total / divisor in place, torch's divisor: divisor_override if given, else the
    window's element count inside the padded input (count_include_pad; kH*kW unless
    ceil_mode's window runs past it) or inside the input itself. For int64 the quotient
    rounded toward zero, as torch's integer division."""
    if divisor_override is not None:
        divisor = divisor_override
    elif (count_include_pad and extra == (0, 0)) or (
            padding == (0, 0) and extra == (0, 0)):
        divisor = kernel[0] * kernel[1]
    else:
        divisor = kernels.window_counts(xp, x_hw, kernel, stride, padding, out_hw,
                                        total.dtype, include_pad=count_include_pad)
    if total.dtype.kind == "f" or total.dtype == backend.bfloat16:
        if isinstance(divisor, int):
            total *= total.dtype.type(1.0 / divisor)
        else:
            total /= divisor
        return total
    # floor division rounds toward -inf: one up where a negative quotient left a remainder
    # (divisor_override may be negative)
    quotient = total // divisor
    quotient += ((total < 0) != (divisor < 0)) & (quotient * divisor != total)
    return quotient


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over kH x kW windows of x (N, C, H, W), as torch.nn.functional.avg_pool2d:
    y[n,c,p,q] = sum_{i,j} x_pad[n, c, s_h*p + i, s_w*q + j] / divisor, zero padding.

    The divisor is divisor_override when given, else kH*kW (count_include_pad=True; with
    ceil_mode a window past the padded input counts only its part inside) or the number of
    non-padding elements in the window (count_include_pad=False). stride defaults to
    kernel_size; ceil_mode rounds the output size up (see the module docstring).
    """
    op = "avg_pool2d"
    kernel, stride, padding, _ = _pool_window(op, kernel_size, stride, padding, 1)
    if divisor_override is not None:
        if (not isinstance(divisor_override, numbers.Integral)
                or isinstance(divisor_override, bool)):
            raise op_error(TypeError, op, f"divisor_override must be an int or None, got "
                           f"{divisor_override!r}")
        if divisor_override == 0:
            raise op_error(ValueError, op, "divisor_override must not be zero")
        divisor_override = int(divisor_override)
    out_hw, extra = _pool_geometry(op, x, kernel, stride, padding, (1, 1), ceil_mode)
    _check_dtype(op, x)
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                           count_include_pad=bool(count_include_pad), extra=extra,
                           divisor_override=divisor_override)


def _pool_window(op, kernel_size, stride, padding, dilation):
    """kernel, stride (kernel_size when None), padding and dilation as checked pairs."""
    kernel = as_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op)
    dilation = as_pair(dilation, "dilation", op)
    for name, v, lo in (("kernel_size", kernel, 1), ("stride", stride, 1),
                        ("dilation", dilation, 1), ("padding", padding, 0)):
        if min(v) < lo:
            raise op_error(ValueError, op, f"{name} must be >= {lo} in both directions, "
                           f"got {v}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise op_error(ValueError, op, f"padding {padding} must be at most half the kernel "
                       f"size {kernel} (as in PyTorch)")
    return kernel, stride, padding, dilation


def _pool_geometry(op, x, kernel, stride, padding, dilation, ceil_mode):
    """(out_hw, extra): torch's output size (module docstring) and the rows/columns past
    the padded input that ceil_mode's last window reads."""
    shape = tuple(x.shape)
    if len(shape) != 4:
        raise op_error(ValueError, op, f"input must be 4-D (N, C, H, W), got shape {shape}; "
                       "add a batch axis with x.unsqueeze(0) for a single image")
    out, extra = [], []
    for axis, size in ((0, shape[2]), (1, shape[3])):
        k, s, p, d = kernel[axis], stride[axis], padding[axis], dilation[axis]
        span = d * (k - 1) + 1
        n = (size + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (n - 1) * s >= size + p:
            n -= 1
        if n < 1:
            raise op_error(ValueError, op,
                           f"kernel {tuple(kernel)} (dilated extent {span}) is larger than the "
                           f"padded input ({size} + 2*{p} = {size + 2 * p}) along "
                           f"{'H' if axis == 0 else 'W'} for input shape {shape}; use a "
                           "smaller kernel or dilation, or more padding")
        if d > 1:
            _check_windows_reach_input(op, shape, axis, n, k, s, p, d)
        out.append(n)
        extra.append(max(0, (n - 1) * s + span - (size + 2 * p)))
    return tuple(out), tuple(extra)


def _check_windows_reach_input(op, shape, axis, n, k, s, p, d):
    """Refuse a dilated window whose elements all fall in the padding (its dilation steps
    over the input): torch returns -inf there with an index outside the plane, and its
    backward writes out of bounds."""
    size = shape[2 + axis]
    for o in range(n):
        start = o * s - p
        first = max(0, -(start // d))  # the first i with start + d*i >= 0
        if first >= k or start + d * first >= size:
            raise op_error(ValueError, op,
                           f"window {o} along {'H' if axis == 0 else 'W'} (start {start}, "
                           f"kernel_size {k}, dilation {d}) has no element inside the input "
                           f"of shape {shape}, only padding; use less padding or dilation")


def _check_dtype(op, x):
    # max pooling only compares, so integer tensors pool too (torch); torch averages
    # int64 (an integer sum, the quotient rounded toward zero) but no other integer type
    if op == "max_pool2d":
        if not (backend.is_floating(x.dtype) or x.dtype.kind in "iu"):
            raise op_error(TypeError, op, f"input must be a floating-point or integer "
                           f"tensor, got dtype {x.dtype}")
    elif not (backend.is_floating(x.dtype) or x.dtype == backend.int64):
        raise op_error(NotImplementedError, op, f"not implemented for dtype {x.dtype} "
                       "(as in torch: floating-point and int64 inputs only); convert with "
                       ".float() or .long()")
