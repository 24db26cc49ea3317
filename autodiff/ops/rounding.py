"""Rounding and the division family that rounds: floor, ceil, round(decimals), trunc, frac,
`%` (remainder, the sign of the divisor), fmod (the sign of the dividend), `//`
(floor_divide) and div(rounding_mode="trunc" | "floor").

As in torch, the rounding functions are piecewise constant: their outputs require grad
when the input does, and the gradient is zero (frac = x - trunc(x) passes it unchanged).
Integer inputs keep their dtype (floor/ceil/round/trunc return them as they are); bool
inputs are refused, as torch does. Integer division or remainder by zero raises, as torch
does (NumPy would silently give 0).
"""
from __future__ import annotations

from .. import backend
from ..errors import op_error
from ..function import Function
from . import _dtypes
from ._dtypes import is_float
from ._rows import public_names


def _zero_grad(ctx, g):
    """The gradient of a piecewise-constant op: zeros (for every input)."""
    zeros = ctx.xp.zeros_like(g)
    return zeros if len(ctx.needs_input_grad) == 1 else (zeros,) * len(ctx.needs_input_grad)


def _no_bool(op, x):
    if x.dtype == backend.bool_:
        raise op_error(TypeError, op, "not defined for bool tensors; convert with "
                       ".long() or .float() first")


def _rounded(ctx, rounding, x):
    """rounding(x) for a float array; an integer array is returned as it is (a copy), as
    torch does; bool is refused."""
    _no_bool(ctx.name, x)
    return rounding(x) if is_float(x.dtype) else x.copy()


class Floor(Function):
    """the largest integer <= x"""
    derivative = "d floor(x)/dx = 0"

    @staticmethod
    def forward(ctx, x):
        return _rounded(ctx, ctx.xp.floor, x)

    backward = staticmethod(_zero_grad)


class Ceil(Function):
    """the smallest integer >= x"""
    derivative = "d ceil(x)/dx = 0"

    @staticmethod
    def forward(ctx, x):
        return _rounded(ctx, ctx.xp.ceil, x)

    backward = staticmethod(_zero_grad)


class Trunc(Function):
    """x rounded toward zero"""
    derivative = "d trunc(x)/dx = 0"

    @staticmethod
    def forward(ctx, x):
        return _rounded(ctx, ctx.xp.trunc, x)

    backward = staticmethod(_zero_grad)


class Round(Function):
    """x rounded to `decimals` decimal places, halves to even (torch.round)"""
    derivative = "d round(x)/dx = 0"

    @staticmethod
    def forward(ctx, x, decimals=0):
        if not decimals:
            return _rounded(ctx, ctx.xp.rint, x)
        _no_bool("round", x)
        if not is_float(x.dtype):
            raise op_error(TypeError, "round", f"decimals={decimals} needs a floating point "
                           f"tensor, got {x.dtype} (torch refuses it too)")
        # scaled by 10^|decimals| in float32 for the half types (10^d * x overflows them)
        work = x.astype(backend.float32) if backend.is_half(x.dtype) else x
        scale = 10.0 ** abs(decimals)
        xp = ctx.xp
        out = xp.rint(work * scale) / scale if decimals > 0 else xp.rint(work / scale) * scale
        return out.astype(x.dtype) if out.dtype != x.dtype else out

    backward = staticmethod(_zero_grad)


class Frac(Function):
    """x - trunc(x): the fractional part, with the sign of x"""
    derivative = "d frac(x)/dx = 1"

    @staticmethod
    def forward(ctx, x):
        if not is_float(x.dtype):
            raise op_error(TypeError, "frac", f"needs a floating point tensor, got {x.dtype}")
        return x - ctx.xp.trunc(x)

    @staticmethod
    def backward(ctx, g):
        return g


# ----------------------------------------------------------------------- rounding division
def _operands(op, xp, a, b):
    """a and b promoted as in torch; integer division by zero raises as in torch."""
    dtype = _dtypes.result_type(a, b)
    if dtype == backend.bool_:
        raise op_error(TypeError, op, "not defined for two bool operands; convert with "
                       ".long() first")
    a, b = _dtypes.as_operand(xp, a, dtype), _dtypes.as_operand(xp, b, dtype)
    if not is_float(dtype) and bool((b == 0).any()):
        raise op_error(RuntimeError, op, "ZeroDivisionError: integer division by zero")
    return a, b


class Remainder(Function):
    """a - b * floor(a / b): the remainder with the sign of the divisor (Python's %)"""
    derivative = "d(a % b)/da = 1, d(a % b)/db = -floor(a / b)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.remainder(*_operands(ctx.name, ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga, gb = ctx.needs_input_grad
        return (g if ga else None), (-g * ctx.xp.floor(a / b) if gb else None)


class Fmod(Function):
    """a - b * trunc(a / b): the remainder with the sign of the dividend (C's fmod)"""
    derivative = "d fmod(a,b)/da = 1, d fmod(a,b)/db = -trunc(a / b)"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return ctx.xp.fmod(*_operands(ctx.name, ctx.xp, a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga, gb = ctx.needs_input_grad
        return (g if ga else None), (-g * ctx.xp.trunc(a / b) if gb else None)


class FloorDivide(Function):
    """floor(a / b) (Python's //)"""
    op_name = "floor_divide"
    derivative = "d floor(a/b)/da = d/db = 0"

    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.floor_divide(*_operands(ctx.name, ctx.xp, a, b))

    backward = staticmethod(_zero_grad)


class TruncDivide(Function):
    """trunc(a / b): the quotient rounded toward zero (div(rounding_mode="trunc"))"""
    op_name = "trunc_divide"
    derivative = "d trunc(a/b)/da = d/db = 0"

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        a, b = _operands(ctx.name, xp, a, b)
        if is_float(a.dtype):
            return xp.trunc(a / b)
        # integers exactly: the floor quotient, one up where it was rounded down past zero
        q = xp.floor_divide(a, b)
        return q + ((q < 0) & (q * b != a)).astype(q.dtype)

    backward = staticmethod(_zero_grad)


def round(input, *, decimals=0):
    """input rounded to `decimals` decimal places (negative: to tens, hundreds, ...),
    halves to even, as torch.round."""
    return Round.apply(input, decimals=decimals) if decimals else Round.apply(input)


#: The op table (ops/tables.py): each row is ad.<name>, t.<name>() and, for a NumPy ufunc
#: name, ctx.xp.<name>.
OPS = {"floor": Floor, "ceil": Ceil, "trunc": Trunc, "fix": Trunc, "frac": Frac, "round": round,
       "remainder": Remainder, "fmod": Fmod, "floor_divide": FloorDivide}
globals().update(public_names(OPS))  # floor = Floor.apply, ...
