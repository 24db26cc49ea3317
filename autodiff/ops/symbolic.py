"""The namespace backward rules see as `ctx.xp` when create_graph=True.

It mirrors the NumPy names the rules use, implemented with differentiable autodiff ops,
so the same rule that runs on raw arrays in the fast path records a graph of the gradient.
Extend it when a new rule needs another NumPy function.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import elementwise as _ew
from . import linalg as _linalg
from . import reduce as _reduce
from . import shape as _shape

exp, log, sqrt, tanh, abs, sign, erf = _ew.exp, _ew.log, _ew.sqrt, _ew.tanh, _ew.abs, _ew.sign, _ew.erf
maximum, minimum, matmul = _ew.maximum, _ew.minimum, _linalg.matmul
swapaxes, transpose, broadcast_to, concatenate, stack = (
    _shape.swapaxes, _shape.transpose, _shape.broadcast_to, _shape.concatenate, _shape.stack)


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def where(cond, a, b):
    return _ew.where(cond, a, b)


def clip(x, lo=None, hi=None):
    return _ew.clip(x, lo, hi)


def expand_dims(x, axis):
    x = _t(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = sorted(a % nd for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return _shape.reshape(x, tuple(shape))


def reshape(x, shape):
    return _shape.reshape(_t(x), shape)


def sum(x, axis=None, keepdims=False):
    return _reduce.sum(_t(x), axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce.mean(_t(x), axis, keepdims)


def asarray(x, dtype=None):
    return _t(x) if dtype is None else _t(x).to(dtype=dtype)


def zeros_like(x):
    from .. import creation
    return creation.zeros_like(x)


def ones_like(x):
    from .. import creation
    return creation.ones_like(x)


# The functions the elementwise ops of issue 13 use in their backward rules.
from . import compare as _compare  # noqa: E402
from . import math as _math  # noqa: E402
from . import rounding as _rounding  # noqa: E402

sin, cos, sinh, cosh, log1p = _math.sin, _math.cos, _math.sinh, _math.cosh, _math.log1p
floor, trunc = _rounding.floor, _rounding.trunc
isfinite, isnan = _compare.isfinite, _compare.isnan
