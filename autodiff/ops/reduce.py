"""Reductions over axes (None, int, negative, tuple) with keepdims, and softmax.

Half-precision inputs (float16, bfloat16) accumulate in float32 and the result comes back
in the input dtype. max/min split the gradient equally between tied maxima (as PyTorch's
amax/amin do).
"""
from __future__ import annotations

from .. import backend
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor


def normalize_axis(axis, ndim, opname="reduce"):
    """A sorted tuple of non-negative axes, or None for all axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim if ndim > 0 else 1):
            raise ValueError(f"{opname}: axis {a} is out of range for a tensor with {ndim} "
                             f"dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{opname}: repeated axis in {axis}")
    return tuple(sorted(out))


def _expand(ctx, g):
    """Re-insert the reduced axes into g (for broadcasting against the input)."""
    if ctx.keepdims or ctx.axes is None and g.ndim == len(ctx.shape):
        return g
    if ctx.axes is None:
        return g.reshape((1,) * len(ctx.shape))
    return ctx.xp.expand_dims(g, ctx.axes)


def _spread(ctx, g):
    """g (reduced shape) repeated over the reduced axes: the input's shape.

    The fast path writes into a fresh array (cheaper than numpy.broadcast_to, and leaves
    can keep it without a copy); with create_graph it is a differentiable broadcast."""
    if ctx.create_graph:
        return ctx.xp.broadcast_to(_expand(ctx, g), ctx.shape)
    out = ctx.xp.empty(ctx.shape, dtype=g.dtype)
    # A full reduction's g (0-d, or all ones with keepdims) broadcasts as it is.
    out[...] = g if ctx.axes is None else _expand(ctx, g)
    return out


def _count(shape, axes):
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def _setup(ctx, x, axis, keepdims, opname):
    ctx.shape = x.shape
    ctx.axes = None if axis is None else normalize_axis(axis, x.ndim, opname)
    ctx.keepdims = keepdims
    return backend.accumulation_dtype(x.dtype)


class Sum(Function):
    """sum_i x_i"""
    derivative = "d sum(x)/dx_i = 1"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "sum")
        if x.dtype == backend.bool_:
            acc = backend.int64
        out = x.sum(axis=ctx.axes, keepdims=keepdims, dtype=acc)
        return out.astype(x.dtype) if acc is not None and x.dtype != backend.bool_ else out

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g)


class Mean(Function):
    """(1/n) sum_i x_i"""
    derivative = "d mean(x)/dx_i = 1/n"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "mean")
        ctx.n = x.size if ctx.axes is None else _count(x.shape, ctx.axes)
        if x.dtype.kind != "f" or acc is not None or ctx.n == 0:
            out = x.mean(axis=ctx.axes, keepdims=keepdims, dtype=acc)
            return out.astype(x.dtype) if acc is not None else out
        # sum * (1/n) is the same arithmetic as numpy.mean without its Python wrapper.
        out = x.sum(axis=ctx.axes, keepdims=keepdims)
        out *= 1.0 / ctx.n
        return out

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g / ctx.n)


class Var(Function):
    """sum_i (x_i - mean)^2 / (n - correction)"""
    derivative = "d var(x)/dx_i = 2 (x_i - mean) / (n - correction)"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=0):
        acc = _setup(ctx, x, axis, keepdims, "var")
        ctx.denominator = _count(x.shape, ctx.axes) - correction
        ctx.save(x)
        work = x.astype(acc) if acc is not None else x
        out = work.var(axis=ctx.axes, keepdims=keepdims, ddof=correction)
        return out.astype(x.dtype) if acc is not None else out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        return _expand(ctx, g) * centred * (2.0 / ctx.denominator)


class Std(Function):
    """sqrt(var(x))"""
    derivative = "d std(x)/dx_i = (x_i - mean) / ((n - correction) std)"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=0):
        acc = _setup(ctx, x, axis, keepdims, "std")
        ctx.denominator = _count(x.shape, ctx.axes) - correction
        work = x.astype(acc) if acc is not None else x
        out = work.std(axis=ctx.axes, keepdims=keepdims, ddof=correction)
        out = ctx.xp.asarray(out.astype(x.dtype) if acc is not None else out)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        return _expand(ctx, g) * centred / (_expand(ctx, out) * ctx.denominator)


class _Extremum(Function):
    """Shared backward of max and min: the gradient goes to the extreme elements,
    split equally between ties."""

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        mask = x == _expand(ctx, out)
        count = mask.sum(axis=ctx.axes, keepdims=True)
        return ctx.xp.where(mask, _expand(ctx, g) / ctx.xp.asarray(count, dtype=g.dtype), 0)


class Max(_Extremum):
    """max_i x_i"""
    derivative = "d max(x)/dx_i = 1/k at the k maximal elements, else 0"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        _setup(ctx, x, axis, keepdims, "max")
        if x.size == 0:
            raise op_error(ValueError, "max", "cannot reduce an empty tensor (no identity)")
        out = ctx.xp.asarray(x.max(axis=ctx.axes, keepdims=keepdims))
        ctx.save(x, out)
        return out


class Min(_Extremum):
    """min_i x_i"""
    derivative = "d min(x)/dx_i = 1/k at the k minimal elements, else 0"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        _setup(ctx, x, axis, keepdims, "min")
        if x.size == 0:
            raise op_error(ValueError, "min", "cannot reduce an empty tensor (no identity)")
        out = ctx.xp.asarray(x.min(axis=ctx.axes, keepdims=keepdims))
        ctx.save(x, out)
        return out


class LogSumExp(Function):
    """log sum_i e^(x_i), shifted by the maximum so it never overflows"""
    derivative = "d lse(x)/dx_i = softmax(x)_i"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "logsumexp")
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        m = work.max(axis=ctx.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.exp(work - m).sum(axis=ctx.axes, keepdims=True)) + m
        if not keepdims:
            out = out.reshape([s for i, s in enumerate(x.shape)
                               if ctx.axes is not None and i not in ctx.axes])
        out = ctx.xp.asarray(out.astype(x.dtype) if acc is not None else out)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        return _expand(ctx, g) * ctx.xp.exp(x - _expand(ctx, out))


class Softmax(Function):
    """e^(x_i) / sum_j e^(x_j) along an axis"""
    derivative = "d y_i/dx_j = y_i (delta_ij - y_j)"

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axis(axis, x.ndim, "softmax")
        acc = backend.accumulation_dtype(x.dtype)
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        e = xp.exp(work - work.max(axis=ctx.axis, keepdims=True))
        e /= e.sum(axis=ctx.axis, keepdims=True)
        out = e.astype(x.dtype) if acc is not None else e
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """x_i - log sum_j e^(x_j) along an axis"""
    op_name = "log_softmax"
    derivative = "d y_i/dx_j = delta_ij - softmax(x)_j"

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axis(axis, x.ndim, "log_softmax")
        acc = backend.accumulation_dtype(x.dtype)
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        shifted = work - work.max(axis=ctx.axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=ctx.axis, keepdims=True))
        out = out.astype(x.dtype) if acc is not None else out
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g - ctx.xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True)


def sum(x, axis=None, keepdims=False, *, dtype=None):
    """sum_i x_i; dtype= converts x first (torch's sum(dtype=))."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    if axis is None and not keepdims:  # the common full reduction: no keyword packing
        return Sum.apply(x)
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False, *, dtype=None):
    """(1/n) sum_i x_i; dtype= converts x first (torch's mean(dtype=))."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    if axis is None and not keepdims:
        return Mean.apply(x)
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, correction=0):
    """Variance; correction=1 gives the unbiased estimate."""
    return Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def std(x, axis=None, keepdims=False, correction=0):
    return Std.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    return Min.apply(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def _arg(name, x, axis, keepdims):
    out = getattr(x.data, name)(axis=axis, keepdims=keepdims)
    return Tensor._make(backend.array_module(x.data).asarray(out, dtype=backend.int64), None, False)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (first one at ties); no gradient."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (first one at ties); no gradient."""
    return _arg("argmin", x, axis, keepdims)
