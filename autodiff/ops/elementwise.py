"""Elementwise ops with NumPy broadcasting; the engine sums broadcast gradients back.

Conventions at non-differentiable points (the same as PyTorch):
abs'(0) = 0; relu'(0) = 0; clip passes the gradient where lo <= x <= hi (boundaries
included); maximum/minimum split the gradient equally between tied inputs.
"""
from __future__ import annotations

import math

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._precision import accumulated as _accumulated
from ._precision import work as _work
from ._dtypes import operands as _operands


class Add(Function):
    """a + b"""
    derivative = "d(a+b)/da = 1, d(a+b)/db = 1"

    @staticmethod
    def forward(ctx, a, b):
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
        a, b = _operands(a, b)
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b"""
    derivative = "d(a*b)/da = b, d(a*b)/db = a"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _operands(a, b)
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
        ctx.save(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        xp = ctx.xp
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * b * a ** (b - 1)
        if ctx.needs_input_grad[1]:
            # d/db at a == 0 is taken as 0 (the limit for b > 0), as PyTorch does.
            safe = xp.where(a == 0, 1, a)
            gb = xp.where(a == 0, 0, g * out * xp.log(safe))
        return ga, gb


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
        out = ctx.xp.exp(x)
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
        out = ctx.xp.sqrt(x)
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
    """sign(x) (piecewise constant: no gradient)"""

    @staticmethod
    def forward(ctx, x):
        ctx.mark_non_differentiable()
        return ctx.xp.sign(x)


class Clip(Function):
    """min(max(x, lo), hi)"""
    derivative = "d clip(x)/dx = 1 if lo <= x <= hi else 0"

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        ctx.save(x)
        ctx.lo, ctx.hi = lo, hi
        out = ctx.xp.clip(x, lo, hi)
        # bfloat16 does not treat float bounds as weak scalars (would give float32)
        return out.astype(x.dtype) if x.dtype == backend.bfloat16 else out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp, lo, hi = ctx.xp, ctx.lo, ctx.hi
        if lo is not None:
            g = xp.where(x >= lo, g, 0)
        if hi is not None:
            g = xp.where(x <= hi, g, 0)
        return g


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
        ctx.save(cond)
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
        out = ctx.xp.tanh(x)
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
        return g * (y > 0)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt"""
    derivative = "d erf(x)/dx = 2/sqrt(pi) exp(-x^2)"

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return backend.erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (2 / math.sqrt(math.pi)) * ctx.xp.exp(-(x * x))


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


add, sub, mul, div, pow, neg = Add.apply, Sub.apply, Mul.apply, Div.apply, Pow.apply, Neg.apply
exp, log, sqrt, abs, sign = Exp.apply, Log.apply, Sqrt.apply, Abs.apply, Sign.apply
tanh, sigmoid, relu, erf = Tanh.apply, Sigmoid.apply, Relu.apply, Erf.apply
maximum, minimum, clone = Maximum.apply, Minimum.apply, Clone.apply


def clip(x, lo=None, hi=None):
    """min(max(x, lo), hi); either bound may be None."""
    if lo is None and hi is None:
        raise ValueError("clip: at least one of lo and hi must be given")
    return Clip.apply(x, lo=lo, hi=hi)


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


def logical_reduce(name, x, dim=None, keepdim=False, axis=None, keepdims=None):
    """any/all over dims (no gradient); `axis`/`keepdims` are NumPy's spellings."""
    from ._dims import pick, pick_keepdim
    from .reduce import normalize_axis
    dim = normalize_axis(pick(name, dim, axis), x.ndim, name)
    out = getattr(x.data, name)(axis=dim, keepdims=pick_keepdim(name, keepdim, keepdims))
    return Tensor._make(backend.array_module(x.data).asarray(out), None, False)


def _binary_error(name, *args):
    *operands, exc = args
    shapes = ", ".join(f"{tuple(o.shape)} {o.dtype}" if hasattr(o, "shape") else repr(o)
                       for o in operands)
    return ValueError(f"{name}: cannot compute for inputs ({shapes}): {exc}")
