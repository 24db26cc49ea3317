"""2-D convolution as one matrix product per sample: y_n = W @ im2col(x_n) + b.

For x (N, C, H, W) and a weight W (C_out, C, kH, kW) (groups=1):

    im2col(x_n)  every kH x kW window of the padded sample, one column per output pixel:
                 a (C*kH*kW, OH*OW) matrix
    forward      y_n = W (C_out, C*kH*kW) @ im2col(x_n) + b              (OH*OW columns)
    d/dx         dx_n = col2im(W^T @ g_n)      col2im, the adjoint of im2col, adds each
                                               column back into the pixels its window read:
                                               the transposed convolution of g
    d/dW         dW = sum_n g_n @ im2col(x_n)^T
    d/db         db = sum of g over n, p, q

groups G (torch's grouped convolution) is an argument of the three ops, not a loop of G
convolutions above them: W is block-diagonal (group g's C_out/G outputs read only its C/G
input channels), so each product is G independent products of the same columns, one
stacked matmul in the kernels. The ops stay bilinear and each other's derivatives with the
same G, so grouped and depthwise (G = C) convolutions keep every order of derivative, at
the cost of one op per product rather than G (a depthwise layer of 32 channels would
otherwise record 32 convolutions and a concatenation per call).

The three products are ops (Conv2d, Conv2dInputGrad, Conv2dWeightGrad). They are bilinear
and each one's derivatives are the other two, so conv2d is differentiable to any order.
How the products are computed fast (batch slices kept in cache, reused buffers, contiguous
windows for stride 1) is _conv_kernels.py's business; this file is the math and the checks.
"""
from __future__ import annotations

import numbers
from functools import partial

from .. import backend
from ..errors import op_error
from ..function import Function
from . import _conv_kernels as kernels
from ._precision import accumulated as _accumulated

__all__ = ["conv2d", "conv_output_size", "as_pair"]


class Conv2d(Function):
    """y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, G(o) + c, s*p + d*i, s*q + d*j],
    G(o) = (o // (C_out/groups)) * C_in/groups: the first input channel of o's group"""
    derivative = ("dy/dx = conv_transpose(g, w), dy/dw = sum_n g_n (x) im2col(x_n), "
                  "dy/db = sum_{n,p,q} g")
    op_name = "conv2d"
    overwrites_grad = True  # dx may be written over g (see backward)

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups=1):
        kernel = w.shape[2:]
        out_hw = _geometry("conv2d", x.shape, kernel, stride, padding, dilation)
        # Only x and w are kept (as torch does): the weight gradient rebuilds the columns,
        # cheaper than holding kH*kW copies of the input.
        ctx.save(x, w)
        return _accumulated(x.dtype, partial(kernels.conv_forward, groups=groups), ctx.xp,
                            x, w, b, kernel, stride, padding, dilation, out_hw)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        need = ctx.needs_input_grad
        geometry = _geometry_of(ctx)
        dw = ctx.call(Conv2dWeightGrad, x, g, kernel=w.shape[2:], **geometry) if need[1] else None
        db = _sum_npq(ctx, g) if need[2] else None
        if ctx.grad_is_scratch:
            # nothing else sees g (the fast path checked): its buffer goes back to the
            # kernels' store for later steps, and dx may overwrite it (dw, db read it)
            kernels.recycle(ctx.xp, g)
        if not need[0]:
            return None, dw, db
        if ctx.grad_is_scratch and backend.accumulation_dtype(g.dtype) is None:
            dx = kernels.input_grad(ctx.xp, g, w, x.shape[2:], acc=None, into=g, **geometry)
        else:
            dx = ctx.call(Conv2dInputGrad, g, w, x_hw=x.shape[2:], **geometry)
        return dx, dw, db


class Conv2dInputGrad(Function):
    """dx = col2im(w^T @ g): the transposed convolution of g (N, C_out, OH, OW) with w."""
    derivative = "d/dg = conv2d(h, w), d/dw = conv2d_weight_grad(h, g)"
    op_name = "conv2d_input_grad"

    @staticmethod
    def forward(ctx, g, w, x_hw, stride, padding, dilation, groups=1):
        ctx.save(g, w)
        return _accumulated(g.dtype, partial(kernels.input_grad, groups=groups), ctx.xp,
                            g, w, x_hw, stride, padding, dilation)

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved
        geometry = _geometry_of(ctx)
        return _needed(ctx, lambda: ctx.call(Conv2d, h, w, None, **geometry),
                       lambda: ctx.call(Conv2dWeightGrad, h, g, kernel=w.shape[2:], **geometry))


class Conv2dWeightGrad(Function):
    """dw = sum_n g_n @ im2col(x_n)^T: the correlation of x with g, shaped like the weight."""
    derivative = "d/dx = conv2d_input_grad(g, h), d/dg = conv2d(x, h)"
    op_name = "conv2d_weight_grad"

    @staticmethod
    def forward(ctx, x, g, kernel, stride, padding, dilation, groups=1):
        ctx.save(x, g)
        return _accumulated(x.dtype, partial(kernels.weight_grad, groups=groups), ctx.xp,
                            x, g, kernel, stride, padding, dilation)

    @staticmethod
    def backward(ctx, h):
        x, g = ctx.saved
        geometry = _geometry_of(ctx)
        return _needed(ctx, lambda: ctx.call(Conv2dInputGrad, g, h, x_hw=x.shape[2:], **geometry),
                       lambda: ctx.call(Conv2d, x, h, None, **geometry))


def _geometry_of(ctx):
    """stride, padding, dilation and groups, as the op was applied with (node.params)."""
    geometry = {k: ctx.params[k] for k in ("stride", "padding", "dilation")}
    return dict(geometry, groups=ctx.params.get("groups", 1))


def _sum_npq(ctx, g):
    """db: g summed over the batch and both spatial axes (half types in float32)."""
    if ctx.create_graph:
        return ctx.xp.sum(g, axis=(0, 2, 3))
    return g.sum(axis=(0, 2, 3), dtype=backend.accumulation_dtype(g.dtype))


def _needed(ctx, *makers):
    """Each input's gradient from its maker (a callable without arguments) where
    ctx.needs_input_grad asks for it, else None."""
    return tuple(make() if need else None for make, need in zip(makers, ctx.needs_input_grad))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW)
    plus bias (C_out,), as torch.nn.functional.conv2d: y[n,o,p,q] = b[o] + sum_{c,i,j}
    w[o,c,i,j] * x_pad[n, G(o) + c, s_h*p + d_h*i, s_w*q + d_w*j], where output channel o
    belongs to group o // (C_out/groups), which reads input channels G(o) ... G(o) +
    C_in/groups - 1 (groups = C_in: a depthwise convolution).

    stride, padding (zeros) and dilation are ints or (h, w) pairs. Output spatial size is
    floor((H + 2p - d(k-1) - 1) / s) + 1. Differentiable in x, weight and bias to any order.
    """
    stride = as_pair(stride, "stride", "conv2d")
    padding = as_pair(padding, "padding", "conv2d")
    dilation = as_pair(dilation, "dilation", "conv2d")
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise op_error(ValueError, "conv2d", f"groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if len(ws) != 4:
        raise op_error(ValueError, "conv2d", f"weight must be 4-D (C_out, C_in/groups, kH, "
                       f"kW), got shape {ws}")
    if len(xs) != 4:
        raise op_error(ValueError, "conv2d", f"input must be 4-D (N, C, H, W), got shape {xs} "
                       f"(weight {ws}); add a batch axis with x.unsqueeze(0) for a single image")
    if xs[1] % groups or ws[0] % groups:
        raise op_error(ValueError, "conv2d", f"groups={groups} must divide both the input's "
                       f"{xs[1]} channels (shape {xs}) and the weight's C_out={ws[0]} (weight "
                       f"shape {ws})")
    if xs[1] != ws[1] * groups:
        expected = (f"C_in={ws[1]}" if groups == 1
                    else f"C_in/groups * groups = {ws[1]} * {groups} = {ws[1] * groups}")
        raise op_error(ValueError, "conv2d", f"input has {xs[1]} channels (shape {xs}) but the "
                       f"weight expects {expected} (weight shape {ws})")
    if bias is not None and tuple(bias.shape) != (ws[0],):
        raise op_error(ValueError, "conv2d", f"bias must have shape ({ws[0]},) for weight "
                       f"{ws}, got {tuple(bias.shape)}")
    _check_float("conv2d", input=x, weight=weight, bias=bias)
    _geometry("conv2d", xs, ws[2:], stride, padding, dilation)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)


# ---------------------------------------------------------------- geometry and checks

def as_pair(value, what="value", op="as_pair"):
    """(a, b) from an int or a pair of ints (kernel sizes, strides, paddings, dilations)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        return (int(value[0]), int(value[1]))
    raise op_error(TypeError, op, f"{what} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution/pooling window: floor((size + 2p - d(k-1) - 1)/s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _geometry(op, x_shape, kernel, stride, padding, dilation):
    """Check the window geometry against the input; returns (OH, OW)."""
    if len(x_shape) != 4:
        raise op_error(ValueError, op, f"input must be 4-D (N, C, H, W), got shape "
                       f"{tuple(x_shape)}; add a batch axis with x.unsqueeze(0) for a single "
                       "image")
    for name, v, lo in (("stride", stride, 1), ("dilation", dilation, 1),
                        ("padding", padding, 0), ("kernel_size", kernel, 1)):
        if min(v) < lo:
            raise op_error(ValueError, op, f"{name} must be >= {lo} in both directions, "
                           f"got {v}")
    out = []
    for axis, size in ((0, x_shape[2]), (1, x_shape[3])):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        padded = size + 2 * padding[axis]
        if span > padded:
            raise op_error(ValueError, op,
                           f"kernel {tuple(kernel)} (dilated extent {span}) is larger than the "
                           f"padded input ({size} + 2*{padding[axis]} = {padded}) along "
                           f"{'H' if axis == 0 else 'W'} for input shape {tuple(x_shape)}; "
                           "use a smaller kernel or dilation, or more padding")
        out.append((padded - span) // stride[axis] + 1)
    return tuple(out)


def _check_float(op, **arrays):
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    for name, dt in dtypes.items():
        if not backend.is_floating(dt):
            raise op_error(TypeError, op, f"{name} must be a floating-point tensor, got "
                           f"dtype {dt}")
    if len(set(dtypes.values())) > 1:
        described = ", ".join(f"{k} {v}" for k, v in dtypes.items())
        raise op_error(TypeError, op, f"all operands must have one dtype, got {described}; "
                       "convert with .to(dtype=...)")
