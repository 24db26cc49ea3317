"""Elementwise math functions of two (or three) tensors: atan2, hypot, logaddexp,
logaddexp2, xlogy, lerp, and the NaN-ignoring fmax/fmin.

Operands broadcast and promote as in torch (`_dtypes.result_type`); the float functions
give float32 for integer/bool operands. Forward computes on the promoted copies, while
`ctx.save` keeps the inputs themselves (under create_graph the saved inputs must be the
arrays of the input Tensors, so that a second derivative reaches them).
"""
from __future__ import annotations

import math

import numpy as np

from ..function import Function
from . import _dtypes
from ._precision import accumulated as _accumulated
from ._rows import public_names

_LN2 = math.log(2.0)


def _float_operands(xp, *operands):
    """The operands as arrays of their common float dtype (torch's promotion, then the
    default float dtype for integer/bool results)."""
    dtype = _dtypes.float_dtype(_dtypes.result_type(*operands))
    return [_dtypes.as_operand(xp, v, dtype) for v in operands]


def _widen(x, acc):
    return x if acc is None else x.astype(acc)


class Atan2(Function):
    """atan2(a, b): the angle of the point (b, a), in (-pi, pi]"""
    derivative = "d atan2(a,b)/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.arctan2(*_float_operands(ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        scale = g / (a * a + b * b)
        ga, gb = ctx.needs_input_grad
        return (scale * b if ga else None), (-scale * a if gb else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow"""
    derivative = "d hypot(a,b)/da = a / hypot(a,b), d/db = b / hypot(a,b)"

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.hypot(*_float_operands(ctx.xp, a, b))
        ctx.save(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        scale = g / out
        ga, gb = ctx.needs_input_grad
        return (scale * a if ga else None), (scale * b if gb else None)


class Logaddexp(Function):
    """ln(e^a + e^b), computed without overflow"""
    derivative = "d logaddexp(a,b)/da = 1 / (1 + e^(b-a)), d/db = 1 / (1 + e^(a-b))"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.logaddexp(*_float_operands(ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = ctx.xp
        ga, gb = ctx.needs_input_grad
        return ((g / (1 + xp.exp(b - a)) if ga else None),
                (g / (1 + xp.exp(a - b)) if gb else None))


class Logaddexp2(Function):
    """log2(2^a + 2^b), computed without overflow"""
    derivative = "d logaddexp2(a,b)/da = 1 / (1 + 2^(b-a)), d/db = 1 / (1 + 2^(a-b))"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.logaddexp2(*_float_operands(ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = ctx.xp
        ga, gb = ctx.needs_input_grad
        return ((g / (1 + xp.exp((b - a) * _LN2)) if ga else None),
                (g / (1 + xp.exp((a - b) * _LN2)) if gb else None))


class Xlogy(Function):
    """x * ln(y), and 0 where x == 0 (even for y == 0); NaN where y is NaN"""
    derivative = "d xlogy(x,y)/dx = ln(y) (0 where x == 0 and y <= 0), d/dy = x / y"

    @staticmethod
    def forward(ctx, x, y):
        ctx.save(x, y)
        xp = ctx.xp
        xf, yf = _float_operands(xp, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0), 0 * -inf: masked below
            out = xf * xp.log(yf)
        return xp.where((xf == 0) & ~xp.isnan(yf), xp.zeros_like(out), out)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        xp = ctx.xp
        gx = gy = None
        if ctx.needs_input_grad[0]:
            undefined = (x == 0) & (y <= 0)  # torch takes 0 there
            gx = xp.where(undefined, 0, g * xp.log(xp.where(undefined, 1, y)))
        if ctx.needs_input_grad[1]:
            gy = g * x / y
        return gx, gy


class Lerp(Function):
    """start + weight (end - start), torch's two-sided form (exact at weight 0 and 1)"""
    derivative = "d lerp/dstart = 1 - w, d/dend = w, d/dweight = end - start"

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save(start, end, weight)
        xp = ctx.xp
        s, e, w = _float_operands(xp, start, end, weight)
        return _accumulated(s.dtype, _lerp, xp, s, e, w)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved
        gs, ge, gw = ctx.needs_input_grad
        return ((g * (1 - weight) if gs else None), (g * weight if ge else None),
                (g * (end - start) if gw else None))


def _lerp(xp, s, e, w, acc):
    """torch's formula: from start for w < 1/2, from end otherwise (half types in acc)."""
    s, e, w = _widen(s, acc), _widen(e, acc), _widen(w, acc)
    diff = e - s
    return xp.where(xp.abs(w) < 0.5, s + w * diff, e - diff * (1 - w))


class Fmax(Function):
    """max(a, b) ignoring NaN: the other operand where one is NaN"""
    derivative = "d fmax(a,b)/da = 1 where a >= b or b is NaN, else 0 (b: the rest)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.fmax(*_promoted(ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _route(ctx, g, (a >= b) | ctx.xp.isnan(b))


class Fmin(Function):
    """min(a, b) ignoring NaN: the other operand where one is NaN"""
    derivative = "d fmin(a,b)/da = 1 where a <= b or b is NaN, else 0 (b: the rest)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.fmin(*_promoted(ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _route(ctx, g, (a <= b) | ctx.xp.isnan(b))


def _promoted(xp, a, b):
    dtype = _dtypes.result_type(a, b)
    return _dtypes.as_operand(xp, a, dtype), _dtypes.as_operand(xp, b, dtype)


def _route(ctx, g, to_a):
    """The whole gradient to a where `to_a`, else to b (torch's fmax/fmin: no split at
    ties)."""
    xp = ctx.xp
    ga, gb = ctx.needs_input_grad
    return (xp.where(to_a, g, 0) if ga else None), (xp.where(to_a, 0, g) if gb else None)


def lerp(input, end, weight):
    """input + weight * (end - input); weight a number or a tensor (torch.lerp)."""
    return Lerp.apply(input, end, weight)


#: The op table (ops/tables.py): each row is ad.<name>, t.<name>() and, for a NumPy ufunc
#: name, ctx.xp.<name>.
OPS = {"atan2": Atan2, "arctan2": Atan2, "hypot": Hypot, "logaddexp": Logaddexp,
       "logaddexp2": Logaddexp2, "xlogy": Xlogy, "fmax": Fmax, "fmin": Fmin, "lerp": lerp}
globals().update(public_names(OPS))  # atan2 = Atan2.apply, ...
