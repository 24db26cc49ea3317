"""Elementwise math functions of one tensor: trigonometric, hyperbolic and their inverses,
logarithms and exponentials in other bases, powers (square, reciprocal, rsqrt), the error
function family, logit and nan_to_num.

Every float function takes its input through `_dtypes.as_float`: integer and bool inputs
give float32 (torch's default float dtype), floating inputs keep their dtype. NumPy and
ml_dtypes compute float16/bfloat16 ufuncs in float32 and round once, as torch does.
Each backward is written with operators and `ctx.xp` functions only, so it runs on arrays
and, under create_graph, on Tensors (see ops/symbolic.py).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Function
from ._dtypes import as_float, is_float
from ._precision import accumulated as _accumulated
from ._rows import public_names

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


# ----------------------------------------------------------------------- trigonometric
class Sin(Function):
    """sin(x)"""
    derivative = "d sin(x)/dx = cos(x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.xp.cos(x)


class Cos(Function):
    """cos(x)"""
    derivative = "d cos(x)/dx = -sin(x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return -g * ctx.xp.sin(x)


class Tan(Function):
    """tan(x)"""
    derivative = "d tan(x)/dx = 1 + tan(x)^2"

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tan(as_float(x))
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1 + y * y)


class Asin(Function):
    """arcsin(x), in [-pi/2, pi/2]"""
    derivative = "d asin(x)/dx = 1 / sqrt(1 - x^2)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.arcsin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / ctx.xp.sqrt(1 - x * x)


class Acos(Function):
    """arccos(x), in [0, pi]"""
    derivative = "d acos(x)/dx = -1 / sqrt(1 - x^2)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.arccos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return -g / ctx.xp.sqrt(1 - x * x)


# ----------------------------------------------------------------------- hyperbolic
class Sinh(Function):
    """sinh(x) = (e^x - e^-x) / 2"""
    derivative = "d sinh(x)/dx = cosh(x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.sinh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.xp.cosh(x)


class Cosh(Function):
    """cosh(x) = (e^x + e^-x) / 2"""
    derivative = "d cosh(x)/dx = sinh(x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.cosh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.xp.sinh(x)


class Asinh(Function):
    """arsinh(x) = ln(x + sqrt(x^2 + 1))"""
    derivative = "d asinh(x)/dx = 1 / sqrt(x^2 + 1)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.arcsinh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / ctx.xp.sqrt(x * x + 1)


class Acosh(Function):
    """arcosh(x) = ln(x + sqrt(x^2 - 1)), for x >= 1"""
    derivative = "d acosh(x)/dx = 1 / sqrt(x^2 - 1)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.arccosh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / ctx.xp.sqrt(x * x - 1)


class Atanh(Function):
    """artanh(x) = ln((1 + x) / (1 - x)) / 2, for |x| < 1"""
    derivative = "d atanh(x)/dx = 1 / (1 - x^2)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.arctanh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1 - x * x)


# ----------------------------------------------------------------------- logs and exponentials
class Log2(Function):
    """log2(x)"""
    derivative = "d log2(x)/dx = 1 / (x ln 2)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.log2(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (x * _LN2)


class Log10(Function):
    """log10(x)"""
    derivative = "d log10(x)/dx = 1 / (x ln 10)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.log10(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (x * _LN10)


class Log1p(Function):
    """ln(1 + x), accurate for small x"""
    derivative = "d log1p(x)/dx = 1 / (1 + x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return ctx.xp.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1 + x)


class Expm1(Function):
    """e^x - 1, accurate for small x"""
    derivative = "d expm1(x)/dx = e^x = expm1(x) + 1"

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.expm1(as_float(x))
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (y + 1)


class Exp2(Function):
    """2^x"""
    derivative = "d 2^x/dx = 2^x ln 2"

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp2(as_float(x))
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * _LN2


# ----------------------------------------------------------------------- powers
class Square(Function):
    """x^2 (integers stay integers, bool gives int64, as torch.square)"""
    derivative = "d x^2/dx = 2x"

    @staticmethod
    def forward(ctx, x):
        if x.dtype == backend.bool_:
            x = x.astype(backend.int64)
        ctx.save(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return 2 * g * x


class Reciprocal(Function):
    """1 / x"""
    derivative = "d (1/x)/dx = -1/x^2"

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.reciprocal(as_float(x))
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return -g * y * y


class Rsqrt(Function):
    """1 / sqrt(x)"""
    derivative = "d x^(-1/2)/dx = -x^(-3/2) / 2"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        y = _accumulated(x.dtype, _rsqrt, ctx.xp, x)  # two roundings: halves in float32
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return -0.5 * g * y * y * y


def _rsqrt(xp, x, acc):
    x = x if acc is None else x.astype(acc)
    return xp.reciprocal(xp.sqrt(x))


# ----------------------------------------------------------------------- error function family
class Erfc(Function):
    """1 - erf(x), accurate where erf(x) is close to 1"""
    derivative = "d erfc(x)/dx = -2/sqrt(pi) exp(-x^2)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return backend.special("erfc", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return -_TWO_OVER_SQRT_PI * g * ctx.xp.exp(-(x * x))


class Erfinv(Function):
    """the inverse of erf on (-1, 1)"""
    derivative = "d erfinv(x)/dx = sqrt(pi)/2 exp(erfinv(x)^2)"

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)  # x, not the output: as torch, a later write into the output is fine
        return backend.special("erfinv", as_float(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        y = ctx.call(Erfinv, x)  # recomputed (differentiable again under create_graph)
        return _SQRT_PI_OVER_2 * g * ctx.xp.exp(y * y)


class Logit(Function):
    """ln(x / (1 - x)), with x clamped to [eps, 1 - eps] when eps is given"""
    derivative = "d logit(x)/dx = 1 / (x (1 - x)) (0 outside [eps, 1 - eps])"

    @staticmethod
    def forward(ctx, x, eps=None):
        x = as_float(x)
        ctx.save(x)
        ctx.eps = eps
        z = x if eps is None else ctx.xp.clip(x, eps, 1.0 - eps).astype(x.dtype)
        return ctx.xp.log(z / (1 - z))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp, eps = ctx.xp, ctx.eps
        d = g / (x * (1 - x))
        if eps is None:  # outside the domain (0, 1) the derivative is undefined: NaN
            return xp.where((x < 0) | (x > 1), math.nan, d)
        return xp.where((x < eps) | (x > 1 - eps), 0, d)


class NanToNum(Function):
    """x with NaN, +inf and -inf replaced by finite numbers"""
    op_name = "nan_to_num"
    derivative = "d nan_to_num(x)/dx = 1 where x is finite, else 0"

    @staticmethod
    def forward(ctx, x, nan=0.0, posinf=None, neginf=None):
        ctx.save(x)
        xp = ctx.xp
        if not is_float(x.dtype):  # integers and bools have no special values
            return x.copy()
        info = _finfo(x.dtype)
        big = info.max if posinf is None else posinf
        small = info.min if neginf is None else neginf
        out = xp.where(xp.isnan(x), xp.asarray(nan, dtype=x.dtype), x)
        out = xp.where(out == math.inf, xp.asarray(big, dtype=x.dtype), out)
        return xp.where(out == -math.inf, xp.asarray(small, dtype=x.dtype), out)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return ctx.xp.where(ctx.xp.isfinite(x), g, 0)


def _finfo(dtype):
    """np.finfo, which ml_dtypes extends to bfloat16."""
    if dtype == backend.bfloat16:
        import ml_dtypes
        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


# ----------------------------------------------------------------------- public functions
def logit(input, eps=None):
    """ln(p / (1 - p)), the inverse of sigmoid; with `eps`, p is first clamped to
    [eps, 1 - eps] (torch.logit)."""
    return Logit.apply(input, eps=eps) if eps is not None else Logit.apply(input)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> `nan`, +inf -> `posinf`, -inf -> `neginf`; the infinities default to the
    largest and smallest finite values of the dtype (torch.nan_to_num)."""
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


#: The op table (ops/tables.py): each row is ad.<name>, t.<name>() and, for a NumPy ufunc
#: name, ctx.xp.<name>.
OPS = {"sin": Sin, "cos": Cos, "tan": Tan, "asin": Asin, "acos": Acos,
       "sinh": Sinh, "cosh": Cosh, "asinh": Asinh, "acosh": Acosh, "atanh": Atanh,
       "log2": Log2, "log10": Log10, "log1p": Log1p, "expm1": Expm1, "exp2": Exp2,
       "square": Square, "reciprocal": Reciprocal, "rsqrt": Rsqrt, "erfc": Erfc,
       "erfinv": Erfinv, "logit": logit, "nan_to_num": nan_to_num,
       # NumPy's spellings, which torch also has
       "arcsin": Asin, "arccos": Acos, "arcsinh": Asinh, "arccosh": Acosh, "arctanh": Atanh}
globals().update(public_names(OPS))  # sin = Sin.apply, ...
