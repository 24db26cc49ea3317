"""Elementwise ops with NumPy broadcasting; the engine sums broadcast gradients back.

Conventions at non-differentiable points (the same as PyTorch):
abs'(0) = 0; relu'(0) = 0; clip passes the gradient where lo <= x <= hi (boundaries
included); maximum/minimum split the gradient equally between tied inputs.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from .._inplace import private_copy
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from ._precision import accumulated as _accumulated
from ._precision import work as _work
from . import _dtypes
from ._dtypes import as_float as _as_float
from ._dtypes import operands as _operands

_ndarray = np.ndarray  # two arrays of one dtype: NumPy's result is torch's, nothing to do


class Add(Function):
    """a + b"""
    derivative = "d(a+b)/da = 1, d(a+b)/db = 1"

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not _ndarray or type(b) is not _ndarray or a.dtype is not b.dtype:
            a, b = _operands(a, b)  # torch's type promotion (see _dtypes)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """a - b"""
    derivative = "d(a-b)/da = 1, d(a-b)/db = -1"

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not _ndarray or type(b) is not _ndarray or a.dtype is not b.dtype:
            a, b = _operands(a, b)  # torch's type promotion (see _dtypes)
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b"""
    derivative = "d(a*b)/da = b, d(a*b)/db = a"

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not _ndarray or type(b) is not _ndarray or a.dtype is not b.dtype:
            a, b = _operands(a, b)  # torch's type promotion (see _dtypes)
        # Keep only what a needed gradient uses: `y * 3` then `y += 1` stays legal, as in torch.
        ga, gb = ctx.needs_input_grad
        ctx.save(a if gb else None, b if ga else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga, gb = ctx.needs_input_grad
        return (g * b if ga else None), (g * a if gb else None)


class Div(Function):
    """a / b"""
    derivative = "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _operands(a, b, true_division=True)  # integers divide to float32, as torch
        ctx.save(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga, gb = ctx.needs_input_grad
        return (g / b if ga else None), (-g * a / (b * b) if gb else None)


class Pow(Function):
    """a ** b"""
    derivative = "d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _operands(a, b)
        out = a ** b
        # the output only for the exponent's gradient (a^b ln a): `y = c ** 2; y += 1`
        # stays legal, as in torch
        ctx.save(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        ga = _pow_grad_base(ctx.xp, g, a, b) if ctx.needs_input_grad[0] else None
        gb = _pow_grad_exponent(ctx.xp, g, a, b, out) if ctx.needs_input_grad[1] else None
        return ga, gb


def _pow_grad_base(xp, g, a, b):
    """b a^(b-1), and 0 where b == 0: x ** 0 is constant, also at x = 0 (as torch, where
    0 * 0^-1 would be NaN). Only a == b == 0 needs the mask (elsewhere b a^(b-1) is 0 at
    b == 0 by itself), which keeps the mixed second derivative d/db = a^(b-1) there."""
    if isinstance(b, numbers.Number):  # a Python exponent, as in x ** 2
        return g * b * a ** (b - 1) if b != 0 else xp.zeros_like(g)
    limit = (a == 0) & (b == 0)
    return xp.where(limit, 0, g * b * xp.where(limit, 1, a) ** (b - 1))


def _pow_grad_exponent(xp, g, a, b, out):
    """a^b ln a. Where a == 0 and b >= 0 it is 0 (the limit, as torch); where a == 0 and
    b < 0 it stays 0^b ln 0 = inf * -inf = -inf (as torch)."""
    if isinstance(a, numbers.Number):  # a Python base, as in 2 ** x
        if a == 0:
            return xp.where(b >= 0, 0, g * out * -math.inf)
        with np.errstate(invalid="ignore"):  # a negative base: NaN, as torch
            return g * out * float(np.log(a))
    limit = (a == 0) & (b >= 0)
    # log(1) on the masked elements: no -inf there, so no NaN in a second derivative
    return xp.where(limit, 0, g * out * xp.log(xp.where(limit, 1, a)))


class Neg(Function):
    """-x"""
    derivative = "d(-x)/dx = -1"

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """e^x"""
    derivative = "d exp(x)/dx = exp(x)"

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.exp(_as_float(x))  # integer/bool inputs: float32 (see _dtypes)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * out


class Log(Function):
    """ln x"""
    derivative = "d ln(x)/dx = 1/x"

    @staticmethod
    def forward(ctx, x):
        x = _as_float(x)
        ctx.save(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / x


class Sqrt(Function):
    """sqrt(x)"""
    derivative = "d sqrt(x)/dx = 1 / (2 sqrt(x))"

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.sqrt(_as_float(x))
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g / (2 * out)


class Abs(Function):
    """|x|"""
    derivative = "d|x|/dx = sign(x)"

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.xp.sign(x)


class Sign(Function):
    """sign(x): -1, 0 or 1 (piecewise constant: zero gradient, as torch)"""
    derivative = "d sign(x)/dx = 0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype == backend.bool_:  # torch.sign of a bool tensor is the tensor
            return x.copy()
        out = ctx.xp.sign(x)
        if out.dtype.kind == "f":  # torch.sign(nan) is 0 ((0 < x) - (x < 0)); NumPy's is nan
            out = ctx.xp.nan_to_num(out, nan=0.0)
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.zeros_like(g)


class Clip(Function):
    """min(max(x, lo), hi); the bounds are numbers, tensors (differentiable) or None"""
    op_name = "clamp"
    derivative = ("d clamp(x)/dx = 1 if lo <= x <= hi else 0; "
                  "d/dlo = 1 if x < lo < hi; d/dhi = 1 if x > hi or hi < lo")

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save(x, lo, hi)
        xp = ctx.xp
        dtype = _dtypes.result_type(x, lo, hi)  # torch: int tensor clamped at 0.5 -> float32
        x = _dtypes.as_operand(xp, x, dtype)
        if lo is not None:
            lo = _dtypes.as_operand(xp, lo, dtype)
        if hi is not None:
            hi = _dtypes.as_operand(xp, hi, dtype)
        if lo is None:
            return xp.minimum(x, hi)
        out = xp.maximum(x, lo)
        return out if hi is None else xp.minimum(out, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved
        xp = ctx.xp
        gx_needed, glo_needed, ghi_needed = ctx.needs_input_grad
        gx = glo = ghi = None
        if gx_needed:
            gx = g
            if lo is not None:
                gx = xp.where(x >= lo, gx, 0)
            if hi is not None:
                gx = xp.where(x <= hi, gx, 0)
        if glo_needed:  # lo wins where x < lo, unless lo > hi (then hi wins everywhere)
            glo = xp.where((x < lo) & (lo < hi) if hi is not None else x < lo, g, 0)
        if ghi_needed:
            ghi = xp.where((x > hi) | (hi < lo) if lo is not None else x > hi, g, 0)
        return gx, glo, ghi


class Maximum(Function):
    """max(a, b) elementwise"""
    derivative = "d max(a,b)/da = 1 if a > b, 1/2 if a = b, else 0"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _operands(a, b)
        ctx.save(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _split_by_order(ctx, g, a, b)


class Minimum(Function):
    """min(a, b) elementwise"""
    derivative = "d min(a,b)/da = 1 if a < b, 1/2 if a = b, else 0"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _operands(a, b)
        ctx.save(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _split_by_order(ctx, g, b, a)


def _split_by_order(ctx, g, winner, loser):
    """Gradient of max(winner, loser): all to the larger input, half each at ties."""
    xp = ctx.xp
    half = g * 0.5
    ga = xp.where(winner > loser, g, xp.where(winner == loser, half, 0)) if ctx.needs_input_grad[0] else None
    gb = xp.where(loser > winner, g, xp.where(winner == loser, half, 0)) if ctx.needs_input_grad[1] else None
    return ga, gb


class Where(Function):
    """cond ? a : b"""
    derivative = "d where(c,a,b)/da = c, d/db = 1 - c"

    @staticmethod
    def forward(ctx, cond, a, b):
        # the caller may change its condition array later: backward keeps a private copy
        ctx.save(private_copy(cond) if True in ctx.needs_input_grad else cond)
        a, b = _operands(a, b)
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        xp = ctx.xp
        _, ga, gb = ctx.needs_input_grad
        return (None, xp.where(cond, g, 0) if ga else None, xp.where(cond, 0, g) if gb else None)


class Tanh(Function):
    """tanh(x)"""
    derivative = "d tanh(x)/dx = 1 - tanh(x)^2"

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.tanh(_as_float(x))
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1 - y * y)


class Sigmoid(Function):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows"""
    derivative = "d sigma(x)/dx = sigma(x) (1 - sigma(x))"

    @staticmethod
    def forward(ctx, x):
        # half types in float32 (bfloat16 * 0.5 would promote anyway), rounded once at the end
        x = _as_float(x)
        out = _accumulated(x.dtype, _sigmoid, ctx.xp, x)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * (1 - y)


def _sigmoid(xp, x, acc):
    """(1 + tanh(x/2)) / 2, computed in the accumulation dtype acc (see _precision)."""
    out = xp.tanh(_work(x, acc) * 0.5)
    out *= 0.5
    out += 0.5
    return out


class Relu(Function):
    """max(x, 0)"""
    derivative = "d relu(x)/dx = 1 if x > 0 else 0"
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.maximum(x, 0)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        if ctx.grad_is_scratch:  # nothing else sees g (the fast path checked): reuse it
            return ctx.xp.multiply(g, y > 0, out=g)
        if ctx.create_graph:  # keep the gradient connected to y, as torch's graph is
            return ctx.call(MaskedGradient, g, y, mask=y.data > 0)
        return g * (y > 0)


class MaskedGradient(Function):
    """g where mask, else 0, recorded as an op of (g, anchor): the gradient of a piecewise
    linear op (relu, hardtanh) under create_graph. Its derivative in `anchor` (the op's
    input or output) is 0, but the graph stays connected to it, as torch's
    threshold_backward / hardtanh_backward are, so a second derivative is 0, not an error"""
    op_name = "masked_gradient"
    derivative = "d/dg = 1 where mask else 0; d/danchor = 0"

    @staticmethod
    def forward(ctx, g, anchor, mask):
        ctx.mask = mask
        return ctx.xp.where(mask, g, 0).astype(g.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        need_g, need_anchor = ctx.needs_input_grad
        return (ctx.xp.where(ctx.mask, gg, 0) if need_g else None,
                ctx.xp.zeros_like(gg) if need_anchor else None)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt"""
    derivative = "d erf(x)/dx = 2/sqrt(pi) exp(-x^2)"

    @staticmethod
    def forward(ctx, x):
        x = _as_float(x)
        ctx.save(x)
        return backend.erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (2 / math.sqrt(math.pi)) * ctx.xp.exp(-(x * x))


class Atan(Function):
    """arctan(x)"""
    derivative = "d atan(x)/dx = 1 / (1 + x^2)"

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.xp.arctan(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1 + x * x)


class Cast(Function):
    """x converted to another dtype (the gradient is converted back)"""
    derivative = "d cast(x)/dx = 1"

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts gradients to the input's dtype centrally


class ToDevice(Function):
    """x copied to another device (the gradient is copied back)"""
    op_name = "to_device"
    derivative = "d copy(x)/dx = 1"

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(ToDevice, g, device=ctx.source)


class Clone(Function):
    """a copy of x with its own buffer"""
    derivative = "d copy(x)/dx = 1"

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


#: The public names of the elementwise ops: each is ad.<name>(...) and the Tensor method
#: t.<name>(...) (tensor.py generates the methods from this table), and, when the name is a
#: NumPy ufunc, ctx.xp.<name> in backward rules under create_graph (symbolic.py).
OPS = {"add": Add, "sub": Sub, "mul": Mul, "div": Div, "pow": Pow, "neg": Neg, "exp": Exp,
       "log": Log, "sqrt": Sqrt, "abs": Abs, "sign": Sign, "tanh": Tanh, "sigmoid": Sigmoid,
       "relu": Relu, "erf": Erf, "atan": Atan, "maximum": Maximum, "minimum": Minimum,
       "clone": Clone}
globals().update({name: op.apply for name, op in OPS.items()})  # exp = Exp.apply, ...


def clip(input, min=None, max=None, *, lo=None, hi=None):
    """min(max(input, min), max), as torch.clamp: either bound may be None, a number or a
    tensor (broadcast against input; a tensor bound gets a gradient too). The result dtype
    follows torch's promotion (an integer tensor clamped at 0.5 gives float32); where
    min > max the result is max. `lo`/`hi` are the older names of min/max."""
    min = _pick_bound("min", min, "lo", lo)
    max = _pick_bound("max", max, "hi", hi)
    if min is None and max is None:
        raise op_error(ValueError, "clip", "at least one of min and max must be given "
                       "(not None)")
    return Clip.apply(input, min, max)


def _pick_bound(name, value, alias, alias_value):
    if alias_value is None:
        return value
    if value is not None:
        raise op_error(TypeError, "clip", f"got both {name}= and {alias}=; they are aliases, "
                       "pass one")
    return alias_value


def where(cond, a, b):
    """Elementwise choice: a where cond is true, else b (gradients flow to a and b)."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    return Where.apply(cond, a, b)


def cast(x, dtype):
    return Cast.apply(x, dtype=backend.as_dtype(dtype))


def to_device(x, device):
    return ToDevice.apply(x, device=device)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def compare(name, a, b):
    """A comparison (no gradient): name is a NumPy ufunc name such as 'less'."""
    xp = backend.array_module(_data(a), _data(b))
    try:
        out = getattr(xp, name)(*_operands(_data(a), _data(b)))
    except Exception as exc:
        raise _binary_error(name, a, b, exc) from exc
    return Tensor._make(xp.asarray(out), None, False)


def logical(name, *args):
    """A logical op (no gradient): logical_and/or/xor/not."""
    arrays = [_data(a) for a in args]
    xp = backend.array_module(*arrays)
    try:
        out = getattr(xp, name)(*arrays)
    except Exception as exc:
        raise _binary_error(name, *args, exc) from exc
    return Tensor._make(xp.asarray(out), None, False)


def logical_reduce(name, x, axis=None, keepdims=False):
    """any/all over axes (no gradient)."""
    out = getattr(x.data, name)(axis=axis, keepdims=keepdims)
    return Tensor._make(backend.array_module(x.data).asarray(out), None, False)


def _binary_error(name, *args):
    *operands, exc = args
    shapes = ", ".join(f"{tuple(o.shape)} {o.dtype}" if hasattr(o, "shape") else repr(o)
                       for o in operands)
    return op_error(ValueError, name, f"cannot compute for inputs ({shapes}): {exc}")


__all__ = [*OPS, "clip", "where", "cast", "to_device"]
