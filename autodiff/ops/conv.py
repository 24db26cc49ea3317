"""2-D convolution and pooling over NCHW arrays, on NumPy and CuPy alike.

conv2d lowers to one matrix product per sample through im2col: a strided view of the
padded input (N, C, kH, kW, OH, OW) copied to columns (N, C*kH*kW, OH*OW), so that
y_n = W (C_out, C*kH*kW) @ cols_n. That per-sample layout gives the output in NCHW
without a transpose and measured fastest here (a channels-last column copy was ~3x slower).
On the CPU the columns are built a slice of the batch at a time and not kept for backward
(see CPU_COLUMN_BYTES); stride-1 convolutions use row-flattened windows (see _grid).

The backward rules are themselves ops, so create_graph (double backward) works:
    conv2d(x, w)                     d/dx -> conv2d_input_grad(g, w)   (a transposed conv)
                                     d/dw -> conv2d_weight_grad(x, g)
All three are bilinear and their derivatives are each other, so every order of derivative
is available. Max pooling sends g to each window's first maximum directly; under
create_graph it goes through an index of the arg-max instead (a scatter op whose
derivative is a gather op). Average pooling's backward is its adjoint (spread g / count).
"""
from __future__ import annotations

import numbers

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._precision import accumulated as _accumulated
from ._precision import work as _work

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "conv_output_size"]


# ---------------------------------------------------------------- geometry and validation

def _pair(value, what, op):
    """(a, b) from an int or a pair of ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution/pooling window: floor((size + 2p - d(k-1) - 1)/s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _geometry(op, x_shape, kernel, stride, padding, dilation):
    """Check the window geometry against the input; returns (OH, OW)."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}; "
                         "add a batch axis with x.unsqueeze(0) for a single image")
    for name, v, lo in (("stride", stride, 1), ("dilation", dilation, 1),
                        ("padding", padding, 0), ("kernel_size", kernel, 1)):
        if min(v) < lo:
            raise ValueError(f"{op}: {name} must be >= {lo} in both directions, got {v}")
    out = []
    for axis, size in ((0, x_shape[2]), (1, x_shape[3])):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        padded = size + 2 * padding[axis]
        if span > padded:
            raise ValueError(
                f"{op}: kernel {kernel} (dilated extent {span}) is larger than the padded "
                f"input ({size} + 2*{padding[axis]} = {padded}) along "
                f"{'H' if axis == 0 else 'W'} for input shape {tuple(x_shape)}; use a "
                "smaller kernel or dilation, or more padding")
        out.append((padded - span) // stride[axis] + 1)
    return tuple(out)


# ---------------------------------------------------------------- im2col / col2im

def _pad(xp, x, padding, value=0):
    """x with `padding` rows/columns of `value` around H and W (x itself when none)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    # Allocate-and-assign measured faster than numpy.pad.
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(xp, xpad, kernel, stride, dilation, out_hw):
    """Strided view (N, C, kH, kW, OH, OW) of every window of an already padded input."""
    sn, sc, sh, sw = xpad.strides
    n, c = xpad.shape[:2]
    shape = (n, c, kernel[0], kernel[1], out_hw[0], out_hw[1])
    strides = (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1])
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides)


def _offset_slices(k, stride, dilation, out_hw):
    """For each kernel offset (i, j): the (rows, cols) slices of the padded input it reads."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = k, stride, dilation, out_hw
    return [(i * kw + j,
             slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _col2im_add(cols, out, kernel, stride, dilation, out_hw):
    """Adjoint of im2col: scatter-add columns (n, C*kH*kW, OH*OW) into the padded input
    gradient `out` (n, C, Hp, Wp); one vectorised strided add per kernel offset."""
    n, c = out.shape[:2]
    six = cols.reshape(n, c, kernel[0], kernel[1], out_hw[0], out_hw[1])
    disjoint = (stride[0] >= dilation[0] * (kernel[0] - 1) + 1
                and stride[1] >= dilation[1] * (kernel[1] - 1) + 1)
    for o, rows, colsl in _offset_slices(kernel, stride, dilation, out_hw):
        i, j = divmod(o, kernel[1])
        if disjoint:  # no two offsets touch the same pixel: plain writes
            out[:, :, rows, colsl] = six[:, :, i, j]
        else:
            out[:, :, rows, colsl] += six[:, :, i, j]


#: Bytes of im2col columns built at a time on the CPU. A full-batch column array is kH*kW
#: times the input; building it in slices of the batch keeps each slice in cache, and the
#: slices share one set of buffers (_SliceBuffers), where one big array costs fresh page
#: faults every step (measured: most of a small ConvNet's step time).
CPU_COLUMN_BYTES = 1 << 19


def _batches(xp, n, per_sample_bytes):
    """(start, stop) slices of the batch for one im2col each (the whole batch on a GPU)."""
    if xp.__name__ != "numpy":
        return [(0, n)]
    step = max(1, CPU_COLUMN_BYTES // max(1, per_sample_bytes))
    return [(i, min(n, i + step)) for i in range(0, n, step)]


def _column_bytes(c, kernel, out_hw, dtype):
    return c * kernel[0] * kernel[1] * out_hw[0] * out_hw[1] * dtype.itemsize


# Stride 1 ("row-flattened" windows). With the padded image flattened row by row (width
# Wp), output (p, q) of kernel offset (i, j) reads flat index p*Wp + q + (i*dh*Wp + j*dw).
# Computing OH x Wp outputs and dropping the last Wp - OW of every row makes each offset
# ONE contiguous run, so im2col and col2im move long runs instead of rows of OW values
# The extra columns cost (Wp-OW)/Wp and the forward needs one more copy of its output, so
# measured here this pays for col2im always (1.1-1.35x) but for im2col only on narrow maps
# (OW <= 16: 1.1-1.2x; at OW = 28 plain im2col is as fast or faster).
FLAT_IM2COL_MAX_WIDTH = 16


def _flat_im2col(stride, ow):
    return stride == (1, 1) and ow <= FLAT_IM2COL_MAX_WIDTH


def _grid(xp, buf, hp, wp):
    """The (n, C, Hp, Wp) image inside a row-flattened buffer (n, C, Hp*Wp + slack).

    Built with as_strided so that it is a view on every backend (writes must land in buf)."""
    s0, s1, s2 = buf.strides
    return xp.lib.stride_tricks.as_strided(buf, buf.shape[:2] + (hp, wp),
                                           (s0, s1, wp * s2, s2))


class _SliceBuffers:
    """Work arrays of one convolution call, allocated for the largest batch slice and reused
    by every slice: fresh padded inputs, columns and products per slice (the previous
    slice's still alive while the next is built) cost page faults and twice the memory."""

    def __init__(self, xp, slices):
        self.xp, self.m = xp, max(hi - lo for lo, hi in slices)
        self._arrays = {}

    def _get(self, key, shape, dtype, zero=False):
        buf = self._arrays.get(key)
        if buf is None:
            buf = (self.xp.zeros if zero else self.xp.empty)((self.m,) + shape, dtype=dtype)
            self._arrays[key] = buf
        return buf

    def padded(self, xs, padding):
        """xs (m, C, H, W) inside a zero border of `padding` (xs itself when none); the
        border is written once, only the interior per slice."""
        ph, pw = padding
        if ph == 0 and pw == 0:
            return xs
        m, c, h, w = xs.shape
        buf = self._get("pad", (c, h + 2 * ph, w + 2 * pw), xs.dtype, zero=True)[:m]
        buf[:, :, ph:ph + h, pw:pw + w] = xs
        return buf

    def flat_padded(self, xs, padding, slack):
        """xs (m, C, H, W) zero-padded and flattened to (m, C, Hp*Wp + slack)."""
        m, c, h, w = xs.shape
        hp, wp = h + 2 * padding[0], w + 2 * padding[1]
        buf = self._get("flat", (c, hp * wp + slack), xs.dtype, zero=True)[:m]
        _grid(self.xp, buf, hp, wp)[:, :, padding[0]:padding[0] + h,
                                    padding[1]:padding[1] + w] = xs
        return buf

    def cols(self, view, rows, length):
        """The strided window view (m, ...) copied once into columns (m, rows, length)."""
        m = view.shape[0]
        out = self._get("cols", view.shape[1:], view.dtype)[:m]
        out[...] = view
        return out.reshape(m, rows, length)

    def product(self, a, b):
        """a (P, K) @ b (m, K, L) into a reused (m, P, L) array."""
        m = b.shape[0]
        out = self._get("prod", (a.shape[0], b.shape[2]), b.dtype)[:m]
        self.xp.matmul(a, b, out=out)
        return out

    def widen(self, g, wp):
        """g (m, C_out, OH, OW) as (m, C_out, OH*Wp), zeros in the extra columns."""
        m, co, oh, ow = g.shape
        out = self._get("wide", (co, oh, wp), g.dtype, zero=True)[:m]
        out[..., :ow] = g
        return out.reshape(m, co, oh * wp)


def _slice_cols(bufs, xs, kernel, stride, padding, dilation, out_hw):
    """im2col of one batch slice into the reused buffers: (m, C*kH*kW, OH*OW)."""
    view = _windows(bufs.xp, bufs.padded(xs, padding), kernel, stride, dilation, out_hw)
    return bufs.cols(view, xs.shape[1] * kernel[0] * kernel[1], out_hw[0] * out_hw[1])


def _slice_flat_cols(bufs, xs, kernel, padding, dilation, wp, oh):
    """Row-flattened columns of one batch slice (see _grid): (m, C*kH*kW, OH*Wp)."""
    buf = bufs.flat_padded(xs, padding, dilation[1] * (kernel[1] - 1))
    m, c = buf.shape[:2]
    s0, s1, s2 = buf.strides
    view = bufs.xp.lib.stride_tricks.as_strided(
        buf, (m, c, kernel[0], kernel[1], oh * wp),
        (s0, s1, dilation[0] * wp * s2, dilation[1] * s2, s2))
    return bufs.cols(view, c * kernel[0] * kernel[1], oh * wp)


def _conv_forward(xp, x, w, b, kernel, stride, padding, dilation, out_hw, acc):
    """y (N, C_out, OH, OW) = W (C_out, C*kH*kW) @ im2col(x_n) + b, batch slice by slice."""
    xw, w2 = _work(x, acc), _work(w, acc).reshape(w.shape[0], -1)
    bias = None if b is None else _work(b, acc).reshape(-1, 1, 1)
    (n, c, h, wd), co, (oh, ow) = x.shape, w.shape[0], out_hw
    y = xp.empty((n, co, oh, ow), dtype=w2.dtype)
    if _flat_im2col(stride, ow):
        wp = wd + 2 * padding[1]
        slices = _batches(xp, n, _column_bytes(c, kernel, (oh, wp), w2.dtype))
        bufs = _SliceBuffers(xp, slices)
        for lo, hi in slices:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, oh)
            wide = bufs.product(w2, cols).reshape(hi - lo, co, oh, wp)[..., :ow]
            if bias is None:
                y[lo:hi] = wide
            else:
                xp.add(wide, bias, out=y[lo:hi])
        return y
    y3 = y.reshape(n, co, oh * ow)
    slices = _batches(xp, n, _column_bytes(c, kernel, out_hw, w2.dtype))
    bufs = _SliceBuffers(xp, slices)
    for lo, hi in slices:
        cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
        xp.matmul(w2, cols, out=y3[lo:hi])
    if bias is not None:
        y += bias
    return y


def _conv_weight_grad(xp, x, g, kernel, stride, padding, dilation, acc):
    """dL/dw = sum_n g_n (C_out, OH*OW) @ im2col(x_n)^T, shaped (C_out, C, kH, kW)."""
    (n, c, h, wd), co, out_hw = x.shape, g.shape[1], g.shape[2:]
    xw, gw = _work(x, acc), None
    g = _work(g, acc)
    flat = _flat_im2col(stride, out_hw[1])
    if flat:
        wp = wd + 2 * padding[1]
        per_sample = _column_bytes(c, kernel, (out_hw[0], wp), xw.dtype)
    else:
        per_sample = _column_bytes(c, kernel, out_hw, xw.dtype)
    slices = _batches(xp, n, per_sample)
    bufs = _SliceBuffers(xp, slices)
    for lo, hi in slices:
        if flat:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, out_hw[0])
            g3 = bufs.widen(g[lo:hi], wp)
        else:
            cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
            g3 = g[lo:hi].reshape(hi - lo, co, -1)
        part = (g3 @ cols.transpose(0, 2, 1)).sum(axis=0)
        if gw is None:
            gw = part
        else:
            gw += part
    return gw.reshape((co, c) + tuple(kernel))


def _conv_input_grad(xp, g, w, x_hw, stride, padding, dilation, acc, into=None):
    """dL/dx = col2im(W^T (C*kH*kW, C_out) @ g_n): the transposed convolution of g.

    `into`: g itself when the caller owns it (see _reuses_grad); dx is then written over g
    sample by sample, each slice after its own g was read and before any later g."""
    n, co, oh, ow = g.shape
    kernel, c = w.shape[2:], w.shape[1]
    (ph, pw), (h, wd) = padding, x_hw
    hp, wp = h + 2 * ph, wd + 2 * pw
    wt = _work(w, acc).reshape(co, -1).T
    g = _work(g, acc)
    if stride == (1, 1):
        if into is not None and _reuses_grad(into, g, wt.dtype, c * h * wd):
            dx = into.reshape(-1)[:n * c * h * wd].reshape(n, c, h, wd)
        else:
            dx = xp.empty((n, c, h, wd), dtype=wt.dtype)
        run = oh * wp
        slack = dilation[1] * (kernel[1] - 1)
        slices = _batches(xp, n, _column_bytes(c, kernel, (oh, wp), wt.dtype))
        bufs = _SliceBuffers(xp, slices)
        for lo, hi in slices:
            m = hi - lo
            six = bufs.product(wt, bufs.widen(g[lo:hi], wp)).reshape(
                m, c, kernel[0], kernel[1], run)
            buf = bufs._get("acc", (c, hp * wp + slack), wt.dtype)[:m]
            buf.fill(0)
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    start = i * dilation[0] * wp + j * dilation[1]
                    buf[:, :, start:start + run] += six[:, :, i, j]
            dx[lo:hi] = _grid(xp, buf, hp, wp)[:, :, ph:ph + h, pw:pw + wd]
        return dx
    g3 = g.reshape(n, co, oh * ow)
    dx = xp.zeros((n, c, hp, wp), dtype=wt.dtype)
    slices = _batches(xp, n, _column_bytes(c, kernel, (oh, ow), wt.dtype))
    bufs = _SliceBuffers(xp, slices)
    for lo, hi in slices:
        _col2im_add(bufs.product(wt, g3[lo:hi]), dx[lo:hi], kernel, stride, dilation, (oh, ow))
    return dx[:, :, ph:ph + h, pw:pw + wd] if ph or pw else dx


def _reuses_grad(into, g, dtype, per_sample):
    """Whether the input gradient (per_sample elements a sample) may overwrite g: the same
    contiguous array and dtype, no larger per sample (so writing samples [lo, hi) never
    reaches the g of a sample >= hi)."""
    return (into is g and g.dtype == dtype and g.flags.c_contiguous
            and per_sample <= g[0].size)


def _needed(ctx, *makers):
    """Each input's gradient from its maker (a callable without arguments) where
    ctx.needs_input_grad asks for it, else None."""
    return tuple(make() if need else None for make, need in zip(makers, ctx.needs_input_grad))


# ---------------------------------------------------------------- convolution ops

class Conv2d(Function):
    """y[n,o] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n, c, s*p + d*i, s*q + d*j]"""
    derivative = ("dy/dx = conv_transpose(g, w), dy/dw = sum_n g_n (x) im2col(x_n), "
                  "dy/db = sum_{n,p,q} g")
    op_name = "conv2d"
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        kernel = w.shape[2:]
        out_hw = _geometry("conv2d", x.shape, kernel, stride, padding, dilation)
        ctx.geom = (kernel, stride, padding, dilation, out_hw)
        ctx.x_shape = x.shape
        # Only x and w are kept (as torch does): the weight gradient rebuilds the columns
        # slice by slice, cheaper than holding kH*kW copies of the input.
        ctx.save(x, w)
        return _accumulated(x.dtype, _conv_forward, ctx.xp, x, w, b, kernel, stride, padding,
                            dilation, out_hw)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        need = ctx.needs_input_grad
        kernel, stride, padding, dilation, out_hw = ctx.geom
        params = dict(stride=stride, padding=padding, dilation=dilation)
        gx = gw = gb = None
        # g no one else sees (engine-checked) becomes the input gradient's memory: weight
        # and bias gradients read it first
        reuse = (ctx.grad_is_scratch and not ctx.create_graph and need[0]
                 and backend.accumulation_dtype(g.dtype) is None)
        if need[0] and not reuse:
            gx = ctx.call(Conv2dInputGrad, g, w, x_hw=ctx.x_shape[2:], **params)
        if need[1]:
            gw = ctx.call(Conv2dWeightGrad, x, g, kernel=kernel, **params)
        if need[2]:
            if ctx.create_graph:
                gb = ctx.xp.sum(g, axis=(0, 2, 3))
            else:
                gb = g.sum(axis=(0, 2, 3), dtype=backend.accumulation_dtype(g.dtype))
        if reuse:
            gx = _conv_input_grad(ctx.xp, g, w, ctx.x_shape[2:], stride, padding, dilation,
                                  None, into=g)
        return gx, gw, gb


class Conv2dInputGrad(Function):
    """dx = col2im(w^T @ g): the transposed convolution of g (N, C_out, OH, OW) with w."""
    derivative = "d/dg = conv2d(h, w), d/dw = conv2d_weight_grad(h, g)"
    op_name = "conv2d_input_grad"

    @staticmethod
    def forward(ctx, g, w, x_hw, stride, padding, dilation):
        ctx.conv_params = dict(stride=stride, padding=padding, dilation=dilation)
        ctx.x_hw, ctx.kernel = x_hw, w.shape[2:]
        ctx.save(g, w)
        return _accumulated(g.dtype, _conv_input_grad, ctx.xp, g, w, x_hw, stride, padding,
                            dilation)

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved
        return _needed(ctx, lambda: ctx.call(Conv2d, h, w, None, **ctx.conv_params),
                       lambda: ctx.call(Conv2dWeightGrad, h, g, kernel=ctx.kernel, **ctx.conv_params))


class Conv2dWeightGrad(Function):
    """dw = sum_n g_n @ im2col(x_n)^T: the correlation of x with g, shaped like the weight."""
    derivative = "d/dx = conv2d_input_grad(g, h), d/dg = conv2d(x, h)"
    op_name = "conv2d_weight_grad"

    @staticmethod
    def forward(ctx, x, g, kernel, stride, padding, dilation):
        ctx.conv_params = dict(stride=stride, padding=padding, dilation=dilation)
        ctx.x_hw = x.shape[2:]
        ctx.save(x, g)
        return _accumulated(x.dtype, _conv_weight_grad, ctx.xp, x, g, kernel, stride, padding,
                            dilation)

    @staticmethod
    def backward(ctx, h):
        x, g = ctx.saved
        return _needed(ctx, lambda: ctx.call(Conv2dInputGrad, g, h, x_hw=ctx.x_hw, **ctx.conv_params),
                       lambda: ctx.call(Conv2d, x, h, None, **ctx.conv_params))


def _shape_of(t):
    return tuple(t.shape)


def _check_float(op, **arrays):
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    for name, dt in dtypes.items():
        if not backend.is_floating(dt):
            raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {dt}")
    if len(set(dtypes.values())) > 1:
        described = ", ".join(f"{k} {v}" for k, v in dtypes.items())
        raise TypeError(f"{op}: all operands must have one dtype, got {described}; convert "
                        "with .to(dtype=...)")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in, kH, kW) plus bias
    (C_out,), as torch.nn.functional.conv2d: y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] *
    x_pad[n, c, s_h*p + d_h*i, s_w*q + d_w*j].

    stride, padding (zeros) and dilation are ints or (h, w) pairs. Output spatial size is
    floor((H + 2p - d(k-1) - 1) / s) + 1. Differentiable in x, weight and bias to any order.
    """
    stride = _pair(stride, "stride", "conv2d")
    padding = _pair(padding, "padding", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    xs, ws = _shape_of(x), _shape_of(weight)
    if len(ws) != 4:
        raise ValueError(f"conv2d: weight must be 4-D (C_out, C_in, kH, kW), got shape {ws}")
    if len(xs) != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W), got shape {xs} (weight "
                         f"{ws}); add a batch axis with x.unsqueeze(0) for a single image")
    if xs[1] != ws[1]:
        raise ValueError(f"conv2d: input has {xs[1]} channels (shape {xs}) but the weight "
                         f"expects C_in={ws[1]} (weight shape {ws})")
    if bias is not None and _shape_of(bias) != (ws[0],):
        raise ValueError(f"conv2d: bias must have shape ({ws[0]},) for weight {ws}, got "
                         f"{_shape_of(bias)}")
    _check_float("conv2d", input=x, weight=weight, bias=bias)
    _geometry("conv2d", xs, ws[2:], stride, padding, dilation)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


# ---------------------------------------------------------------- max pooling

def _pool_args(op, x, kernel_size, stride, padding):
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    xs = _shape_of(x)
    out_hw = _geometry(op, xs, kernel, stride, padding, (1, 1))
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel} (as in PyTorch)")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{op}: input must be a floating-point tensor, got dtype {x.dtype}")
    return kernel, stride, padding, out_hw


def _index_dtype(count):
    import numpy as np
    return np.int8 if count <= 127 else np.int32


class MaxPool2d(Function):
    """y[n,c,p,q] = max over the window of x_pad (padding = -inf)"""
    derivative = "dy/dx = 1 at the window's first arg-max, 0 elsewhere"
    op_name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw):
        xp = ctx.xp
        xpad = _pad(xp, x, padding, value=-float("inf"))
        slices = _offset_slices(kernel, stride, (1, 1), out_hw)
        _, r0, c0 = slices[0]
        out = xpad[:, :, r0, c0].copy()
        for _, rows, cols in slices[1:]:
            xp.maximum(out, xpad[:, :, rows, cols], out=out)
        ctx.geom = (kernel, stride, padding, out_hw)
        ctx.x_shape = x.shape
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        kernel, stride, padding, out_hw = ctx.geom
        if not ctx.create_graph:
            return _max_pool_grad(ctx.xp, x, out, g, *ctx.geom)
        # Double backward: route g through the arg-max index with the scatter op, whose
        # derivative (a gather) is itself an op.
        idx = _argmax_index(backend.array_module(x.data), x.data, out.data, *ctx.geom)
        return ctx.call(MaxPoolScatter, g, index=idx, x_shape=ctx.x_shape, kernel=kernel,
                        stride=stride, padding=padding)


def _max_pool_grad(xp, x, out, g, kernel, stride, padding, out_hw):
    """dx: g routed to each window's first maximum, without building an index.

    Offsets are visited in window order; `taken` marks the windows whose maximum was
    already found, so a later tied maximum gets nothing (torch's first-max rule)."""
    n, c, h, w = x.shape
    ph, pw = padding
    xpad = _pad(xp, x, padding, value=-float("inf"))
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    tiles = (disjoint and not (ph or pw) and stride == kernel
             and h == out_hw[0] * kernel[0] and w == out_hw[1] * kernel[1])
    # When the windows tile the input exactly every pixel is written once: no zero fill.
    dx = (xp.empty if tiles else xp.zeros)(xpad.shape, dtype=g.dtype)
    hit = xp.empty(out.shape, dtype=bool)
    taken = first = None
    # any NaN makes the sum NaN (an inf - inf false alarm only costs the NaN checks)
    has_nan = bool(xp.isnan(out.sum()))
    slices = _offset_slices(kernel, stride, (1, 1), out_hw)
    for _, rows, cols in slices:
        win = xpad[:, :, rows, cols]
        xp.equal(win, out, out=hit)
        if has_nan:  # a NaN window's gradient goes to its first NaN
            hit |= xp.isnan(win)
        # boolean bookkeeping is several times cheaper than masking g itself; three
        # window-sized masks reused for every offset
        if taken is None:
            sel = hit
        else:
            if first is None:
                first = xp.empty(out.shape, dtype=bool)
            xp.greater(hit, taken, out=first)  # a maximum in a window not yet taken
            sel = first
        if disjoint:
            xp.multiply(g, sel, out=dx[:, :, rows, cols])
        else:
            dx[:, :, rows, cols] += g * sel
        if taken is None:
            taken, hit = hit, xp.empty(out.shape, dtype=bool)
        else:
            taken |= hit
    return dx[:, :, ph:ph + h, pw:pw + w] if ph or pw else dx


def _argmax_index(xp, x, out, kernel, stride, padding, out_hw):
    """For every window, the offset i*kW + j of its first maximum (torch's tie rule); a
    window holding NaN points at its first NaN."""
    xpad = _pad(xp, x, padding, value=-float("inf"))
    slices = _offset_slices(kernel, stride, (1, 1), out_hw)
    idx = xp.zeros(out.shape, dtype=_index_dtype(len(slices)))
    has_nan = bool(xp.isnan(out).any())
    # Walk the offsets backwards so the first maximum is the last one written.
    for o, rows, cols in reversed(slices[1:]):
        win = xpad[:, :, rows, cols]
        hit = win == out
        if has_nan:
            hit |= win != win
        idx[hit] = o
    first = xpad[:, :, slices[0][1], slices[0][2]]
    hit = first == out
    if has_nan:
        hit |= first != first
    idx[hit] = 0
    return idx


class MaxPoolScatter(Function):
    """dx: each window's g placed at its arg-max offset (index), summed where windows overlap"""
    derivative = "d/dg = gather of h at each window's arg-max"
    op_name = "max_pool2d_backward"

    @staticmethod
    def forward(ctx, g, index, x_shape, kernel, stride, padding):
        xp = ctx.xp
        out_hw = g.shape[2:]
        ctx.conv_params = dict(index=index, kernel=kernel, stride=stride, padding=padding)
        n, c, h, w = x_shape
        ph, pw = padding
        dx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
        zero = xp.zeros((), dtype=g.dtype)
        for o, rows, cols in _offset_slices(kernel, stride, (1, 1), out_hw):
            part = xp.where(index == o, g, zero)
            if disjoint:
                dx[:, :, rows, cols] = part
            else:
                dx[:, :, rows, cols] += part
        return dx[:, :, ph:ph + h, pw:pw + w] if ph or pw else dx

    @staticmethod
    def backward(ctx, h):
        return ctx.call(MaxPoolGather, h, **ctx.conv_params)


class MaxPoolGather(Function):
    """y[n,c,p,q] = h_pad[n, c, window (p, q) at its arg-max offset]"""
    derivative = "d/dh = scatter of g to each window's arg-max"
    op_name = "max_pool2d_gather"

    @staticmethod
    def forward(ctx, h, index, kernel, stride, padding):
        xp = ctx.xp
        ctx.conv_params = dict(index=index, x_shape=h.shape, kernel=kernel, stride=stride,
                          padding=padding)
        hpad = _pad(xp, h, padding)
        out = xp.zeros(index.shape, dtype=h.dtype)
        for o, rows, cols in _offset_slices(kernel, stride, (1, 1), index.shape[2:]):
            sel = index == o
            out += xp.where(sel, hpad[:, :, rows, cols], xp.zeros((), dtype=h.dtype))
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.call(MaxPoolScatter, g, **ctx.conv_params)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kH x kW windows of x (N, C, H, W), as torch.nn.functional.max_pool2d:
    y[n,c,p,q] = max_{i,j} x_pad[n, c, s_h*p + i, s_w*q + j], padding with -inf.

    stride defaults to kernel_size; padding is at most half the kernel. The gradient goes
    to each window's first maximum (ties: the first in row-major order, as torch).
    """
    kernel, stride, padding, out_hw = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw)


# ---------------------------------------------------------------- average pooling

def _window_counts(xp, x_hw, kernel, stride, padding, out_hw, dtype):
    """Number of non-padding elements in each window, (OH, OW)."""
    import numpy as np
    per_axis = []
    for a in range(2):
        start = np.arange(out_hw[a]) * stride[a] - padding[a]
        stop = np.minimum(start + kernel[a], x_hw[a])
        per_axis.append(stop - np.maximum(start, 0))
    counts = np.outer(per_axis[0], per_axis[1]).astype(dtype)
    return xp.asarray(counts)


class AvgPool2d(Function):
    """y[n,c,p,q] = sum over the window of x_pad / divisor"""
    derivative = "dy/dx = 1/divisor for each window containing x"
    op_name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, count_include_pad):
        xp = ctx.xp
        ctx.conv_params = dict(kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                          count_include_pad=count_include_pad)
        ctx.x_hw = x.shape[2:]
        return _avg_pool(xp, x, kernel, stride, padding, out_hw, count_include_pad)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(AvgPoolAdjoint, g, x_hw=ctx.x_hw, **ctx.conv_params)


def _avg_pool(xp, x, kernel, stride, padding, out_hw, count_include_pad):
    acc = backend.accumulation_dtype(x.dtype)
    xpad = _pad(xp, _work(x, acc), padding)
    slices = _offset_slices(kernel, stride, (1, 1), out_hw)
    _, r0, c0 = slices[0]
    total = xpad[:, :, r0, c0].copy()
    for _, rows, cols in slices[1:]:
        total += xpad[:, :, rows, cols]
    if count_include_pad or (padding[0] == 0 and padding[1] == 0):
        total *= total.dtype.type(1.0 / (kernel[0] * kernel[1]))
    else:
        total /= _window_counts(xp, x.shape[2:], kernel, stride, padding, out_hw, total.dtype)
    return total.astype(x.dtype) if acc is not None else total


class AvgPoolAdjoint(Function):
    """dx[n,c,h,w] = sum over windows containing (h, w) of g / divisor"""
    derivative = "d/dg = avg_pool2d(h)"
    op_name = "avg_pool2d_backward"

    @staticmethod
    def forward(ctx, g, x_hw, kernel, stride, padding, out_hw, count_include_pad):
        xp = ctx.xp
        ctx.conv_params = dict(kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                          count_include_pad=count_include_pad)
        acc = backend.accumulation_dtype(g.dtype)
        gw = _work(g, acc)
        if count_include_pad or (padding[0] == 0 and padding[1] == 0):
            gw = gw * gw.dtype.type(1.0 / (kernel[0] * kernel[1]))
        else:
            gw = gw / _window_counts(xp, x_hw, kernel, stride, padding, out_hw, gw.dtype)
        n, c = g.shape[:2]
        ph, pw = padding
        dx = xp.zeros((n, c, x_hw[0] + 2 * ph, x_hw[1] + 2 * pw), dtype=gw.dtype)
        disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
        for _, rows, cols in _offset_slices(kernel, stride, (1, 1), out_hw):
            if disjoint:
                dx[:, :, rows, cols] = gw
            else:
                dx[:, :, rows, cols] += gw
        dx = dx[:, :, ph:ph + x_hw[0], pw:pw + x_hw[1]] if ph or pw else dx
        return dx.astype(g.dtype) if acc is not None else dx

    @staticmethod
    def backward(ctx, h):
        p = ctx.conv_params
        return ctx.call(AvgPool2d, h, **p)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over kH x kW windows of x (N, C, H, W), as torch.nn.functional.avg_pool2d:
    y[n,c,p,q] = sum_{i,j} x_pad[n, c, s_h*p + i, s_w*q + j] / divisor, zero padding.

    The divisor is kH*kW, or with count_include_pad=False the number of non-padding
    elements in the window. stride defaults to kernel_size.
    """
    kernel, stride, padding, out_hw = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                           count_include_pad=bool(count_include_pad))
