"""Activation functions as ops: softsign, hardtanh, relu6, logsigmoid, mish, selu, celu,
hardswish, hardsigmoid (nn.functional and the nn modules call these).

Each is one op, not a composition, so that its value and gradient at the kinks are
torch's exactly (hardtanh and relu6 pass no gradient at their bounds; hardswish's slope
is 0 at -3 and 1 at 3; selu and celu take the negative branch at 0). Half types compute
the multi-step formulas in float32 and round once; integer/bool inputs give float32,
except hardtanh/relu6 (a clamp: integers stay integers, as in torch).
"""
from __future__ import annotations

from .. import backend
from ..function import Function
from .elementwise import MaskedGradient
from ._dtypes import as_float
from ..errors import op_error
from ._precision import accumulated as _accumulated
from ._precision import work as _work

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _computed(ctx, formula, x, *params):
    """formula(xp, x, *params) on a float input, half types in float32 rounded once."""
    x = as_float(x)
    return _accumulated(x.dtype, lambda a, acc: formula(ctx.xp, _work(a, acc), *params), x)


def _wide(ctx, x):
    """x in float32 when it is a half-type array in a plain backward (several roundings in
    bfloat16 would cost the gradient ~2 digits; the engine casts the result back)."""
    if ctx.create_graph or not backend.is_half(x.dtype):
        return x
    return x.astype(backend.float32)


# ----------------------------------------------------------------------- piecewise linear
class Hardtanh(Function):
    """clamp(x, min_val, max_val)"""
    derivative = "d hardtanh(x)/dx = 1 if min_val < x < max_val else 0"

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.save(x)
        ctx.min_val, ctx.max_val = min_val, max_val
        out = ctx.xp.clip(x, min_val, max_val)
        return out.astype(x.dtype) if out.dtype != x.dtype else out  # torch keeps the dtype

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        if ctx.create_graph:  # connected to x (zero derivative), as torch's graph is
            inside = (x.data > ctx.min_val) & (x.data < ctx.max_val)
            return ctx.call(MaskedGradient, g, x, mask=inside)
        return ctx.xp.where((x > ctx.min_val) & (x < ctx.max_val), g, 0)


class Relu6(Hardtanh):
    """min(max(x, 0), 6)"""
    derivative = "d relu6(x)/dx = 1 if 0 < x < 6 else 0"


class Hardsigmoid(Function):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between"""
    derivative = "d hardsigmoid(x)/dx = 1/6 if -3 < x < 3 else 0"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, _hardsigmoid, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        if ctx.create_graph:  # connected to x (zero derivative), as torch's graph is
            return ctx.call(MaskedGradient, g / 6, x, mask=(x.data > -3) & (x.data < 3))
        return ctx.xp.where((x > -3) & (x < 3), g / 6, 0)


def _hardsigmoid(xp, x):
    return xp.clip(x + 3, 0, 6) / 6


class Hardswish(Function):
    """x relu6(x + 3) / 6"""
    derivative = "d hardswish(x)/dx = 0 if x <= -3, x/3 + 1/2 if -3 < x < 3, 1 if x >= 3"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, lambda xp, a: a * _hardsigmoid(xp, a), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = ctx.xp
        middle = g * (x / 3 + 0.5)
        return xp.where(x <= -3, 0, xp.where(x < 3, middle, g))


# ----------------------------------------------------------------------- smooth
class Softsign(Function):
    """x / (1 + |x|)"""
    derivative = "d softsign(x)/dx = 1 / (1 + |x|)^2"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, lambda xp, a: a / (1 + xp.abs(a)), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        d = 1 + ctx.xp.abs(_wide(ctx, x))
        return g / (d * d)


class Logsigmoid(Function):
    """ln sigmoid(x) = min(x, 0) - ln(1 + e^-|x|), finite for any x"""
    derivative = "d logsigmoid(x)/dx = 1 - sigmoid(x) = sigmoid(-x)"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, lambda xp, a: xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a))), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        # sigmoid(-x) as (1 - tanh(x/2)) / 2: never overflows
        return g * (0.5 - 0.5 * ctx.xp.tanh(_wide(ctx, x) * 0.5))


def _softplus(xp, x):
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), finite for any x."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Mish(Function):
    """x tanh(softplus(x))"""
    derivative = ("d mish(x)/dx = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), "
                  "sp = ln(1 + e^x)")

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, lambda xp, a: a * xp.tanh(_softplus(xp, a)), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = ctx.xp
        x = _wide(ctx, x)
        t = xp.tanh(_softplus(xp, x))
        sigmoid = 0.5 + 0.5 * xp.tanh(x * 0.5)
        return g * (t + x * sigmoid * (1 - t * t))


def _negative_part(xp, x):
    """min(x, 0), written so that its gradient at 0 is 1: selu and celu take the negative
    branch at x = 0 (torch), and e^min(x, 0) never overflows in the unused branch."""
    return xp.where(x > 0, 0, x)


class Selu(Function):
    """scale * (x if x > 0 else alpha (e^x - 1)), with the self-normalising constants"""
    derivative = "d selu(x)/dx = scale if x > 0 else scale alpha e^x"

    @staticmethod
    def forward(ctx, x):
        x = as_float(x)
        ctx.save(x)
        return _computed(ctx, _selu, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = ctx.xp
        x = _wide(ctx, x)
        negative = (SELU_SCALE * SELU_ALPHA) * xp.exp(_negative_part(xp, x))
        return g * xp.where(x > 0, SELU_SCALE, negative)


def _selu(xp, x):
    negative = SELU_ALPHA * xp.expm1(_negative_part(xp, x))
    return SELU_SCALE * xp.where(x > 0, x, negative)


class Celu(Function):
    """x if x > 0 else alpha (e^(x/alpha) - 1)"""
    derivative = "d celu(x)/dx = 1 if x > 0 else e^(x/alpha)"

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        if alpha == 0:
            raise op_error(RuntimeError, "celu", "alpha cannot be 0 (it divides x)")
        x = as_float(x)
        ctx.save(x)
        ctx.alpha = alpha
        return _computed(ctx, _celu, x, alpha)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        xp = ctx.xp
        x = _wide(ctx, x)
        return g * xp.where(x > 0, 1, xp.exp(_negative_part(xp, x) / ctx.alpha))


def _celu(xp, x, alpha):
    return xp.where(x > 0, x, alpha * xp.expm1(_negative_part(xp, x) / alpha))


# ----------------------------------------------------------------------- public functions
softsign, logsigmoid, mish = Softsign.apply, Logsigmoid.apply, Mish.apply
selu, hardswish, hardsigmoid = Selu.apply, Hardswish.apply, Hardsigmoid.apply


def hardtanh(input, min_val=-1.0, max_val=1.0):
    """min(max(input, min_val), max_val); no gradient at the bounds (torch)."""
    if min_val > max_val:
        raise op_error(ValueError, "hardtanh", f"min_val ({min_val}) cannot be greater than "
                       f"max_val ({max_val})")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def relu6(input):
    """min(max(input, 0), 6); no gradient at 0 and 6 (torch)."""
    return Relu6.apply(input, min_val=0.0, max_val=6.0)


def celu(input, alpha=1.0):
    """input if input > 0 else alpha (e^(input/alpha) - 1)"""
    return Celu.apply(input, alpha=alpha)

