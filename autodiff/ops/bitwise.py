"""Bitwise ops on integer and bool tensors (no gradient): & | ^ ~ << >> and their names
bitwise_and, bitwise_or, bitwise_xor, bitwise_not, bitwise_left_shift,
bitwise_right_shift.

As in torch these are bitwise, not logical: `a & 3` on int64 keeps the low two bits; on
bool tensors & | ^ ~ are the logical operations. Operands promote as in torch (bool & 3 ->
int64). Floating-point operands are refused. Shifts by the bit width or more, or by a
negative amount, give 0 (left) or the sign (right), as torch does.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import _dtypes
from ..errors import op_error


def _operands(op, operands, allow_bool=True):
    """The operands as arrays of their promoted integer/bool dtype, and their module."""
    arrays = [o.data if isinstance(o, Tensor) else o for o in operands]
    dtype = _dtypes.result_type(*arrays)
    if _dtypes.is_float(dtype) or (dtype == backend.bool_ and not allow_bool):
        kinds = ", ".join(str(getattr(a, "dtype", type(a).__name__)) for a in arrays)
        wanted = "integer or bool" if allow_bool else "integer"
        raise op_error(TypeError, op, f"needs {wanted} tensors, got {kinds}; bitwise ops "
                       "do not apply to floating point (for a logical combination of "
                       "conditions use bool tensors, e.g. (x > 0) & (x < 1))")
    shapes = [tuple(getattr(a, "shape", ())) for a in arrays]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise op_error(ValueError, op, f"shapes {' and '.join(map(str, shapes))} do not "
                       "broadcast (each dim must match or be 1)") from None
    xp = backend.array_module(*arrays)
    return xp, [_dtypes.as_operand(xp, a, dtype) for a in arrays]


def _result(xp, out):
    return Tensor._make(xp.asarray(out), None, False)


def bitwise_and(input, other):
    """input & other, bit by bit (logical and for bool)"""
    xp, (a, b) = _operands("bitwise_and", (input, other))
    return _result(xp, xp.bitwise_and(a, b))


def bitwise_or(input, other):
    """input | other, bit by bit (logical or for bool)"""
    xp, (a, b) = _operands("bitwise_or", (input, other))
    return _result(xp, xp.bitwise_or(a, b))


def bitwise_xor(input, other):
    """input ^ other, bit by bit (logical xor for bool)"""
    xp, (a, b) = _operands("bitwise_xor", (input, other))
    return _result(xp, xp.bitwise_xor(a, b))


def bitwise_not(input):
    """~input: every bit flipped (-x - 1 for signed integers; logical not for bool)"""
    xp, (a,) = _operands("bitwise_not", (input,))
    return _result(xp, xp.invert(a))


def bitwise_left_shift(input, other):
    """input << other: input * 2^other in the integer's bits"""
    xp, (a, b) = _operands("bitwise_left_shift", (input, other), allow_bool=False)
    return _result(xp, xp.left_shift(a, b))


def bitwise_right_shift(input, other):
    """input >> other: floor(input / 2^other), the sign bit filling in"""
    xp, (a, b) = _operands("bitwise_right_shift", (input, other), allow_bool=False)
    return _result(xp, xp.right_shift(a, b))


#: The op table (ops/tables.py): each row is ad.<name>, t.<name>() and ctx.xp.<name>.
OPS = {name: globals()[name] for name in (
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
    "bitwise_right_shift")}
