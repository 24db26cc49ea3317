"""Max and average pooling over kH x kW windows of NCHW arrays (kernels in _conv_kernels.py).

    max_pool2d   y = max over each window;  dy/dx sends g to the window's first maximum
    avg_pool2d   y = sum over each window / divisor;  dy/dx spreads g / divisor back

Both backward rules are ops whose own derivatives are ops, so every order of derivative
works: max pooling's is a scatter to the arg-max (its derivative a gather, and back), and
average pooling's is its adjoint (spread), whose derivative is average pooling again.
"""
from __future__ import annotations

from .. import backend
from ..errors import op_error
from ..function import Function
from . import _conv_kernels as kernels
from ._precision import work as _work
from .conv import _geometry, as_pair

__all__ = ["max_pool2d", "avg_pool2d"]


class MaxPool2d(Function):
    """y[n,c,p,q] = max over the window of x_pad (padding = -inf)"""
    derivative = "dy/dx = 1 at the window's first arg-max, 0 elsewhere"
    op_name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw):
        # The forward notes where each window's gradient goes (torch keeps an index): the
        # backward then needs neither x nor y, so writing into either (`y += 1`) leaves
        # the gradient right.
        out, picks = kernels.max_pool(ctx.xp, x, kernel, stride, padding, out_hw,
                                      picks=ctx.needs_input_grad[0])
        ctx.save(*(picks or ()))
        ctx.x_shape = x.shape
        return out

    @staticmethod
    def backward(ctx, g):
        p = ctx.params
        x_shape = ctx.x_shape
        if not ctx.create_graph:
            return kernels.max_pool_grad(ctx.xp, g, ctx.saved, x_shape, p["kernel"],
                                         p["stride"], p["padding"])
        # Double backward: route g through the picked offsets with the scatter op, whose
        # derivative (a gather) is itself an op.
        picks = tuple(None if v is None else _data(v) for v in ctx.saved)
        idx = kernels.max_pool_index(backend.array_module(*(v for v in picks if v is not None)),
                                     picks, p["kernel"])
        return ctx.call(MaxPoolScatter, g, index=idx, x_shape=x_shape, kernel=p["kernel"],
                        stride=p["stride"], padding=p["padding"])


def _data(v):
    """An array, or a Tensor's array (create_graph hands saved arrays over as Tensors)."""
    return getattr(v, "data", v)


class MaxPoolScatter(Function):
    """dx: each window's g placed at its arg-max offset (index), summed where windows overlap"""
    derivative = "d/dg = gather of h at each window's arg-max"
    op_name = "max_pool2d_backward"

    @staticmethod
    def forward(ctx, g, index, x_shape, kernel, stride, padding):
        return kernels.max_pool_scatter(ctx.xp, g, index, x_shape, kernel, stride, padding)

    @staticmethod
    def backward(ctx, h):
        p = ctx.params
        return ctx.call(MaxPoolGather, h, index=p["index"], kernel=p["kernel"],
                        stride=p["stride"], padding=p["padding"])


class MaxPoolGather(Function):
    """y[n,c,p,q] = h_pad[n, c, window (p, q) at its arg-max offset]"""
    derivative = "d/dh = scatter of g to each window's arg-max"
    op_name = "max_pool2d_gather"

    @staticmethod
    def forward(ctx, h, index, kernel, stride, padding):
        xp = ctx.xp
        ctx.x_shape = h.shape
        hpad = kernels.pad(xp, h, padding)
        out = xp.zeros(index.shape, dtype=h.dtype)
        for o, rows, cols in kernels.offset_slices(kernel, stride, (1, 1), index.shape[2:]):
            out += xp.where(index == o, hpad[:, :, rows, cols], xp.zeros((), dtype=h.dtype))
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.call(MaxPoolScatter, g, x_shape=ctx.x_shape, **ctx.params)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kH x kW windows of x (N, C, H, W), as torch.nn.functional.max_pool2d:
    y[n,c,p,q] = max_{i,j} x_pad[n, c, s_h*p + i, s_w*q + j], padding with -inf.

    stride defaults to kernel_size; padding is at most half the kernel. The gradient goes
    to each window's first maximum (ties: the first in row-major order, as torch).
    """
    kernel, stride, padding, out_hw = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw)


class AvgPool2d(Function):
    """y[n,c,p,q] = sum over the window of x_pad / divisor"""
    derivative = "dy/dx = 1/divisor for each window containing x"
    op_name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, count_include_pad):
        xp = ctx.xp
        ctx.x_hw = x.shape[2:]
        acc = backend.accumulation_dtype(x.dtype)
        total = kernels.window_sum(xp, kernels.pad(xp, _work(x, acc), padding), kernel,
                                   stride, out_hw)
        total = _divide(xp, total, x.shape[2:], kernel, stride, padding, out_hw,
                        count_include_pad)
        return total.astype(x.dtype) if acc is not None else total

    @staticmethod
    def backward(ctx, g):
        return ctx.call(AvgPoolAdjoint, g, x_hw=ctx.x_hw, **ctx.params)


class AvgPoolAdjoint(Function):
    """dx[n,c,h,w] = sum over windows containing (h, w) of g / divisor"""
    derivative = "d/dg = avg_pool2d(h)"
    op_name = "avg_pool2d_backward"

    @staticmethod
    def forward(ctx, g, x_hw, kernel, stride, padding, out_hw, count_include_pad):
        xp = ctx.xp
        acc = backend.accumulation_dtype(g.dtype)
        g_work = _divide(xp, _work(g, acc).copy(), x_hw, kernel, stride, padding, out_hw,
                         count_include_pad)
        dx = kernels.window_spread(xp, g_work, x_hw, kernel, stride, padding)
        return dx.astype(g.dtype) if acc is not None else dx

    @staticmethod
    def backward(ctx, h):
        params = {k: v for k, v in ctx.params.items() if k != "x_hw"}
        return ctx.call(AvgPool2d, h, **params)


def _divide(xp, total, x_hw, kernel, stride, padding, out_hw, count_include_pad):
    """total / divisor in place: kH*kW, or the window's count of non-padding elements; for
    int64 the quotient rounded toward zero, as torch's integer division."""
    if count_include_pad or (padding[0] == 0 and padding[1] == 0):
        divisor = kernel[0] * kernel[1]
        if total.dtype.kind == "f" or total.dtype == backend.bfloat16:
            total *= total.dtype.type(1.0 / divisor)
            return total
    else:
        divisor = kernels.window_counts(xp, x_hw, kernel, stride, padding, out_hw,
                                        total.dtype)
        if total.dtype.kind == "f" or total.dtype == backend.bfloat16:
            total /= divisor
            return total
    # floor division rounds toward -inf: one up where a negative total left a remainder
    quotient = total // divisor
    quotient += (total < 0) & (quotient * divisor != total)
    return quotient


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over kH x kW windows of x (N, C, H, W), as torch.nn.functional.avg_pool2d:
    y[n,c,p,q] = sum_{i,j} x_pad[n, c, s_h*p + i, s_w*q + j] / divisor, zero padding.

    The divisor is kH*kW, or with count_include_pad=False the number of non-padding
    elements in the window. stride defaults to kernel_size.
    """
    kernel, stride, padding, out_hw = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                           count_include_pad=bool(count_include_pad))


def _pool_args(op, x, kernel_size, stride, padding):
    kernel = as_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op)
    out_hw = _geometry(op, tuple(x.shape), kernel, stride, padding, (1, 1))
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise op_error(ValueError, op, f"padding {padding} must be at most half the kernel "
                       f"size {kernel} (as in PyTorch)")
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
    return kernel, stride, padding, out_hw
