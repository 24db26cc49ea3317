"""torch's function names for the arithmetic operators and clamp: add/sub with `alpha`,
div with `rounding_mode`, clamp/clamp_min/clamp_max, and the other spellings (subtract,
multiply, divide, true_divide, negative, absolute, arctan, sgn).

Each is a thin wrapper of the ops in elementwise.py and rounding.py: the graph records the
same nodes as the operators do.
"""
from __future__ import annotations

import numbers

from ..errors import op_error
from . import elementwise as _ew
from . import rounding as _rounding
from ._rows import public_names


def add(input, other, *, alpha=1):
    """input + alpha * other"""
    return _ew.add(input, _scaled(other, alpha))


def sub(input, other, *, alpha=1):
    """input - alpha * other"""
    return _ew.sub(input, _scaled(other, alpha))


def _scaled(other, alpha):
    """alpha * other; a number stays a number (it must not set the result's dtype)."""
    if alpha == 1:
        return other
    return other * alpha if isinstance(other, numbers.Number) else _ew.mul(other, alpha)


def div(input, other, *, rounding_mode=None):
    """input / other; rounding_mode "trunc" rounds the quotient toward zero, "floor"
    down (as //); None is true division."""
    if rounding_mode is None:
        return _ew.div(input, other)
    if rounding_mode == "floor":
        return _rounding.floor_divide(input, other)
    if rounding_mode == "trunc":
        return _rounding.TruncDivide.apply(input, other)
    raise op_error(ValueError, "div", f"rounding_mode must be None, 'trunc' or 'floor', got "
                                      f"{rounding_mode!r}")


def clamp(input, min=None, max=None):
    """min(max(input, min), max): bounds are numbers, tensors or None (torch.clamp)."""
    if min is None and max is None:
        raise op_error(ValueError, "clamp", "at least one of min and max must be given (not None)")
    return _ew.Clip.apply(input, min, max)


def clamp_min(input, min):
    """max(input, min) (torch.clamp_min)"""
    return _ew.Clip.apply(input, min, None)


def clamp_max(input, max):
    """min(input, max) (torch.clamp_max)"""
    return _ew.Clip.apply(input, None, max)


#: The op table (ops/tables.py): each row is ad.<name> and t.<name>(). add, sub and div
#: take the place of elementwise.py's operator rows of those names (torch's alpha= and
#: rounding_mode=); the rest are torch's other spellings of elementwise.py's ops.
OPS = {"add": add, "sub": sub, "div": div, "true_divide": _ew.Div, "clamp": clamp,
       "clamp_min": clamp_min, "clamp_max": clamp_max, "clip": _ew.clip, "subtract": sub,
       "multiply": _ew.Mul, "divide": div, "negative": _ew.Neg, "absolute": _ew.Abs,
       "arctan": _ew.Atan, "sgn": _ew.Sign}  # sgn: torch's sign for complex numbers too
globals().update(public_names(OPS))
