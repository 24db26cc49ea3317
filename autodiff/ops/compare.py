"""Comparisons and tests of values (bool results, no gradient): eq ne lt le gt ge and their
long names, isnan isinf isfinite isposinf isneginf signbit, isclose, and allclose / equal
(Python bools).

These are not graph ops: a bool output never carries a gradient, so they compute on the
arrays and wrap the result (as the comparison operators do).
"""
from __future__ import annotations

import builtins

from .. import backend
from ..tensor import Tensor
from . import _dtypes
from ..errors import op_error
from .elementwise import compare as _compare


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _bool_tensor(xp, out):
    return Tensor._make(xp.asarray(out), None, False)


def _values(op, x):
    """The array of a Tensor argument (a clear TypeError for anything else)."""
    if not isinstance(x, Tensor):
        raise op_error(TypeError, op, f"expected a Tensor, got {type(x).__name__}")
    return x.data


# ----------------------------------------------------------------------- comparisons
def eq(input, other):
    """input == other, elementwise (bool)"""
    return _compare("equal", input, other)


def ne(input, other):
    """input != other, elementwise (bool)"""
    return _compare("not_equal", input, other)


def lt(input, other):
    """input < other, elementwise (bool)"""
    return _compare("less", input, other)


def le(input, other):
    """input <= other, elementwise (bool)"""
    return _compare("less_equal", input, other)


def gt(input, other):
    """input > other, elementwise (bool)"""
    return _compare("greater", input, other)


def ge(input, other):
    """input >= other, elementwise (bool)"""
    return _compare("greater_equal", input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


# ----------------------------------------------------------------------- special values
def _predicate(op, x, on_floats, on_others):
    """A test of each element: on_floats(xp, array) for floating arrays, on_others(xp,
    array) for integer/bool ones (which have no NaN or infinity)."""
    a = _values(op, x)
    xp = backend.array_module(a)
    test = on_floats if _dtypes.is_float(a.dtype) else on_others
    return _bool_tensor(xp, test(xp, a))


def _none(xp, a):
    return xp.zeros(a.shape, dtype=bool)


def _all(xp, a):
    return xp.ones(a.shape, dtype=bool)


def isnan(input):
    """True where input is NaN (torch.isnan)"""
    return _predicate("isnan", input, lambda xp, a: xp.isnan(a), _none)


def isinf(input):
    """True where input is +inf or -inf (torch.isinf)"""
    return _predicate("isinf", input, lambda xp, a: xp.isinf(a), _none)


def isfinite(input):
    """True where input is neither NaN nor infinite (torch.isfinite)"""
    return _predicate("isfinite", input, lambda xp, a: xp.isfinite(a), _all)


def isposinf(input):
    """True where input is +inf (torch.isposinf)"""
    return _predicate("isposinf", input, lambda xp, a: a == float("inf"), _none)


def isneginf(input):
    """True where input is -inf (torch.isneginf)"""
    return _predicate("isneginf", input, lambda xp, a: a == float("-inf"), _none)


def signbit(input):
    """True where the sign bit is set: negative numbers, -0.0 and NaNs with the bit
    (torch.signbit)"""
    return _predicate("signbit", input, lambda xp, a: xp.signbit(a),
                      lambda xp, a: a < 0 if a.dtype != backend.bool_ else _none(xp, a))


# ----------------------------------------------------------------------- closeness
def _close(op, input, other, rtol, atol, equal_nan):
    a, b = _values(op, input), _data(other)
    xp = backend.array_module(a, b)
    dtype = _dtypes.result_type(a, b)
    if not _dtypes.is_float(dtype) or backend.is_half(dtype):
        dtype = backend.float32 if backend.is_half(dtype) else backend.float64
    a, b = _dtypes.as_operand(xp, a, dtype), _dtypes.as_operand(xp, b, dtype)
    try:
        return xp, xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError as exc:
        raise op_error(ValueError, op, f"shapes {tuple(a.shape)} and {tuple(b.shape)} do "
                       f"not broadcast: {exc}") from None


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol |other|, elementwise (bool); equal infinities are
    close; NaNs are close to each other only with equal_nan=True (torch.isclose)."""
    xp, out = _close("isclose", input, other, rtol, atol, equal_nan)
    return _bool_tensor(xp, out)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when isclose holds for every element (a Python bool, torch.allclose)."""
    _, out = _close("allclose", input, other, rtol, atol, equal_nan)
    return builtins.bool(out.all())


def equal(input, other) -> bool:
    """True when both have the same shape and the same values (a Python bool; NaN is not
    equal to itself), as torch.equal."""
    a, b = _values("equal", input), _values("equal", other)
    if a.shape != b.shape:
        return False
    return builtins.bool((a == b).all())


#: The op table (ops/tables.py): each row is ad.<name> and t.<name>() (and, for a NumPy
#: ufunc name, ctx.xp.<name>); none carries a gradient.
OPS = {name: globals()[name] for name in (
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isclose",
    "allclose", "equal")}
