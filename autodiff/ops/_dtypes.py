"""PyTorch's dtype rules, kept in one place for the ops that need them.

- Float functions (sin, exp, sqrt, atan2, ...): a floating-point input keeps its dtype;
  integer and bool inputs give the default float dtype, float32 (NumPy would give float64).
- Half types (float16, bfloat16) are computed in float32 where a formula has several steps,
  and rounded once to the input's dtype (see _precision.py).
- Binary ops promote as torch does (`result_type`): the categories are bool < integer <
  float; among tensors with dimensions the usual promotion applies, while 0-d tensors and
  Python/NumPy scalars only count when they belong to a higher category than the tensors
  with dimensions. So float32 tensor * 2.5 -> float32, float16 tensor + float64 0-d tensor
  -> float16, int64 tensor * 2.5 -> float32 (the default float), bool tensor & 3 -> int64.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..errors import op_error
from ..mode import is_grad_enabled
from ..tensor import Tensor

__all__ = ["DEFAULT_FLOAT", "is_float", "float_dtype", "as_float", "promote_types",
           "result_type", "as_operand", "reduction_input"]

#: The dtype of float results computed from integer/bool inputs (torch.get_default_dtype()).
DEFAULT_FLOAT = backend.float32

_FLOATS = frozenset((backend.float16, backend.bfloat16, backend.float32, backend.float64))
_BOOL, _INT, _FLOAT = 0, 1, 2  # categories


def is_float(dtype) -> bool:
    """True for floating-point dtypes (bfloat16 included)."""
    return dtype in _FLOATS or dtype.kind == "f"


def float_dtype(dtype):
    """The dtype a float function returns for an input of `dtype`: that dtype when it is
    floating, else the default float dtype (torch: torch.sin(int_tensor) is float32)."""
    return dtype if is_float(dtype) else DEFAULT_FLOAT


def as_float(x):
    """x as the input of a float function: x itself when it is a floating-point array,
    else converted to the default float dtype (Python numbers as ad.tensor would)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return np.asarray(x, dtype=DEFAULT_FLOAT)
    if dtype in _FLOATS or dtype.kind == "f":
        return x
    return x.astype(DEFAULT_FLOAT)


def _category(dtype) -> int:
    if dtype == backend.bool_:
        return _BOOL
    return _FLOAT if is_float(dtype) else _INT


def promote_types(a, b):
    """torch.promote_types for two dtypes: the higher category wins outright (int64 and
    float16 -> float16); float16 with bfloat16 -> float32; otherwise NumPy's promotion."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == _FLOAT and backend.bfloat16 in (a, b):
        other = b if a == backend.bfloat16 else a
        return backend.float32 if other == backend.float16 else other
    return np.promote_types(a, b)


def _scalar_dtype(value):
    """The dtype torch gives a Python/NumPy scalar operand (bool, int64 or the default
    float dtype), or None when `value` is not a scalar."""
    if isinstance(value, (bool, np.bool_)):
        return backend.bool_
    if isinstance(value, numbers.Integral):
        return backend.int64
    if isinstance(value, numbers.Real):
        return DEFAULT_FLOAT
    return None


def _combine(higher, lower):
    """torch's combine_categories: the higher tier's dtype, unless the lower tier is of a
    higher category (then the two promote)."""
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower):
        return higher
    return promote_types(higher, lower)


def result_type(*operands):
    """torch.result_type of arrays/Tensors (with dimensions, or 0-d) and Python/NumPy
    scalars; None entries are ignored."""
    tiers = [None, None, None]  # tensors with dimensions, 0-d tensors, scalars
    for value in operands:
        if value is None:
            continue
        data = value.data if isinstance(value, Tensor) else value
        if backend.is_array(data):
            tier, dtype = (0 if data.ndim else 1), data.dtype
        else:
            tier, dtype = 2, _scalar_dtype(data)
            if dtype is None:
                raise TypeError(f"expected a tensor or a number, got {type(value).__name__}")
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    return _combine(tiers[0], _combine(tiers[1], tiers[2]))


def as_operand(xp, value, dtype):
    """An operand converted to an array of `dtype` (arrays cast only when they differ)."""
    if backend.is_array(value):
        return value if value.dtype == dtype else value.astype(dtype)
    return xp.asarray(value, dtype=dtype)


# ---------------------------------------------------------------- the binary ops' operands
_ARRAYS = frozenset(backend.array_types())  # numpy.ndarray, and cupy.ndarray when installed
_PY_WEAK = (float, int, bool)  # Python scalars NumPy treats as "weak", as torch does


def operands(a, b, true_division=False):
    """(a, b) ready for NumPy's operator so that the result has torch's dtype
    (`result_type`; the default float dtype for true division of integers).

    Every elementwise binary op calls this first. The common cases (two arrays of one
    dtype, an array with a Python number) return at once: there NumPy already agrees with
    torch. Otherwise arrays are cast to the result dtype, NumPy scalars become Python
    numbers, and Python numbers stay as they are (NumPy treats them as weak, as torch does).
    """
    ta, tb = type(a), type(b)
    if ta in _ARRAYS:
        if tb in _ARRAYS:
            if a.dtype is b.dtype and (not true_division or a.dtype.kind == "f"):
                return a, b
        elif _weak_fits(tb, a.dtype, true_division):
            return a, b
    elif tb in _ARRAYS and _weak_fits(ta, b.dtype, true_division):
        return a, b
    return _promoted(a, b, true_division)


def _weak_fits(scalar_type, dtype, true_division) -> bool:
    """Whether NumPy's array-with-Python-number promotion gives torch's dtype already."""
    if scalar_type is float:
        return dtype.kind == "f"
    return scalar_type is int and (dtype.kind == "f" or not true_division)


def _promoted(a, b, true_division):
    if a is None or b is None:  # result_type skips None (clamp's missing bound)
        raise TypeError("expected a tensor or a number, got None")
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    dtype = result_type(a, b)
    if true_division and not is_float(dtype):
        dtype = DEFAULT_FLOAT
    return _cast(a, dtype), _cast(b, dtype)


def _cast(value, dtype):
    """An operand in the result dtype: arrays cast, Python numbers left weak (NumPy then
    computes in the array's dtype), except when there is no array to follow."""
    if backend.is_array(value):
        return value if value.dtype == dtype else value.astype(dtype)
    if type(value) in _PY_WEAK and dtype != backend.bfloat16:  # ml_dtypes' bfloat16 takes
        return value                                           # no weak Python scalars
    return np.asarray(value, dtype=dtype)


def reduction_input(op, input, dtype):
    """input converted to a reduction's dtype= (torch converts first, so the gradient comes
    back in the input's dtype). As in torch, an integer or bool dtype= is refused for an
    input that requires grad while grad mode is on: autograd has no integer gradients."""
    dtype = backend.as_dtype(dtype)
    if not is_float(dtype) and input.requires_grad and is_grad_enabled():
        raise op_error(RuntimeError, op, f"dtype={dtype} for an input that requires grad "
                                         f"(autograd has no {dtype} gradients, as in "
                                         f"torch); reduce under ad.no_grad(), on "
                                         f"x.detach(), or with a floating-point dtype")
    return input.to(dtype)
