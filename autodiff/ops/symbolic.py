"""The namespace backward rules see as `ctx.xp` under create_graph=True.

A rule is written once, against `ctx.xp`: NumPy (or CuPy) in a plain backward, this module
when the gradient must itself be a graph. Here each name is a differentiable autodiff op
with NumPy's meaning, built, not hand-kept:

* every elementwise op in the OPS tables (autodiff/ops/tables.py) whose public name is
  a NumPy ufunc (exp, log, tanh, maximum, ..., and any op added later, e.g. atan, also under
  the ufunc's own name, arctan) is here automatically;
* the few non-ufunc NumPy functions rules use are adapters below, with NumPy's signature
  (keywords axis/keepdims, tuples of axes) mapped onto the autodiff op.

Any other name raises an AttributeError naming it, which create_graph reports as the reason
the rule's gradient cannot be differentiated again. tests/test_symbolic.py reads every
backward rule in autodiff/ops and checks that each `ctx.xp.<name>` it can use under
create_graph resolves here.
"""
from __future__ import annotations

import numpy as _np

from ..tensor import Tensor
from . import elementwise as _ew
from . import linalg as _linalg
from . import reduce as _reduce
from . import shape as _shape
from . import tables as _tables

#: Public names that NumPy also has with another meaning (torch's): never in ctx.xp.
_NOT_NUMPY = {"equal"}  # torch.equal(a, b) is one bool for whole tensors

#: The elementwise ops whose public names are NumPy ufuncs, under those names (and under
#: the ufunc's own name: atan also as arctan, abs as absolute), from every elementwise table.
UFUNCS = {}
for _name, _op in _tables.merged(_tables.ELEMENTWISE).items():
    _ufunc = getattr(_np, _name, None)
    if isinstance(_ufunc, _np.ufunc) and _name not in _NOT_NUMPY:
        UFUNCS[_name] = UFUNCS[_ufunc.__name__] = _tables.public(_op)
globals().update(UFUNCS)
matmul = _linalg.matmul


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def where(cond, a, b):
    return _ew.where(cond, a, b)


def clip(x, lo=None, hi=None):
    return _ew.clip(x, lo, hi)


def sum(x, axis=None, keepdims=False):
    if axis == ():  # NumPy: no axis reduced (torch reads dim=() as every dim)
        return _t(x)
    return _reduce.sum(_t(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce.mean(_t(x), axis=axis, keepdims=keepdims)


def reshape(x, shape):
    return _shape.reshape(_t(x), shape)


def expand_dims(x, axis):
    """x with length-one axes inserted at `axis` (an int or a tuple), as numpy.expand_dims."""
    x = _t(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shape = list(x.shape)
    for a in sorted(a % (x.ndim + len(axes)) for a in axes):
        shape.insert(a, 1)
    return _shape.reshape(x, tuple(shape))


def swapaxes(x, a, b):
    return _shape.swapaxes(_t(x), a, b)


def transpose(x, axes=None):
    x = _t(x)
    return _shape.permute(x, tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def broadcast_to(x, shape):
    return _shape.broadcast_to(_t(x), tuple(shape))


def concatenate(xs, axis=0):
    return _shape.concatenate(list(xs), axis=axis)


def stack(xs, axis=0):
    return _shape.stack(list(xs), axis=axis)


def asarray(x, dtype=None):
    return _t(x) if dtype is None else _t(x).to(dtype=dtype)


def zeros_like(x):
    from ..creation import zeros_like as _zeros_like
    return _zeros_like(x)


def ones_like(x):
    from ..creation import ones_like as _ones_like
    return _ones_like(x)


def __getattr__(name):
    raise AttributeError(
        f"ctx.xp.{name}: '{name}' has no differentiable autodiff op, so a backward rule "
        "that uses it cannot record its gradient (create_graph=True). Write it with "
        "autodiff ops, or add an op named after NumPy's function (an elementwise op whose "
        "public name is a NumPy ufunc appears in ctx.xp by itself)")
