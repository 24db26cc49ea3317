"""torch's function names for the arithmetic operators and clamp: add/sub with `alpha`,
div with `rounding_mode`, mul, pow, neg, clamp/clamp_min/clamp_max, and their long
spellings (subtract, multiply, divide, true_divide, negative, absolute).

Each is a thin wrapper of the ops in elementwise.py and rounding.py: the graph records the
same nodes as the operators do.
"""
from __future__ import annotations

from ..errors import op_error
from . import elementwise as _ew
from . import rounding as _rounding


def add(input, other, *, alpha=1):
    """input + alpha * other"""
    return _ew.add(input, other if alpha == 1 else _ew.mul(other, alpha))


def sub(input, other, *, alpha=1):
    """input - alpha * other"""
    return _ew.sub(input, other if alpha == 1 else _ew.mul(other, alpha))


def mul(input, other):
    """input * other"""
    return _ew.mul(input, other)


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


def true_divide(input, other):
    """input / other (true division)"""
    return _ew.div(input, other)


def pow(input, exponent):
    """input ** exponent"""
    return _ew.pow(input, exponent)


def neg(input):
    """-input"""
    return _ew.neg(input)


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


subtract, multiply, divide, negative, absolute = sub, mul, div, neg, _ew.abs
