"""Indexing: __getitem__ (basic and advanced) and __setitem__ (in place).

Repeated advanced indices accumulate their gradients (scatter-add), as in NumPy's add.at.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .._inplace import apply_inplace
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor


def _normalize_index(index, xp):
    """Tensors inside an index become arrays; lists become integer/bool arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            item = xp.asarray(item)
        out.append(item)
    return tuple(out)


def _is_advanced(index):
    if not isinstance(index, tuple):
        index = (index,)
    return any(backend.is_array(i) or isinstance(i, (list, np.ndarray)) for i in index)


class _Index(Function):
    derivative = "d x[i]/dx = 1 at the selected positions (scatter-add)"
    op_name = "getitem"

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape = x.shape
        ctx.index = index
        try:
            return x[index]
        except IndexError as exc:
            raise op_error(IndexError, "getitem",
                           f"index {index!r} is invalid for a tensor of shape "
                           f"{x.shape}: {exc}") from None

    @staticmethod
    def backward(ctx, g):
        return ctx.call(IndexAdd, g, shape=ctx.in_shape, index=ctx.index)


class BasicIndex(_Index):
    """x[slices/ints/None/...] (a view)"""
    is_view = True


class AdvancedIndex(_Index):
    """x[integer or boolean arrays] (a copy)"""


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate)"""
    derivative = "d scatter(g)/dg = gather at the same index"

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        if _is_advanced(index):
            ctx.xp.add.at(out, index, g)
        else:
            out[index] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index]


class SetItem(Function):
    """x with x[index] = value, written in place"""
    derivative = "d/dx = 1 outside index, d/dvalue = 1 at index"
    op_name = "setitem"

    @staticmethod
    def forward(ctx, x, value, index):
        keep = ctx.xp.ones(x.shape, dtype=bool)
        keep[index] = False
        ctx.save(keep)
        ctx.index = index
        out = x.copy()
        try:
            out[index] = value
        except (ValueError, IndexError) as exc:
            shape = getattr(value, "shape", ())
            raise op_error(ValueError, "setitem",
                           f"cannot assign a value of shape {tuple(shape)} to "
                           f"index {index!r} of a tensor of shape {x.shape}: {exc}") from None
        return out

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved
        gx, gv = ctx.needs_input_grad
        return (g * keep if gx else None), (g[ctx.index] if gv else None)


def getitem(x, index):
    index = _normalize_index(index, backend.array_module(x.data))
    op = AdvancedIndex if _is_advanced(index) else BasicIndex
    return op.apply(x, index=index if len(index) != 1 else index[0])


def setitem(x, index, value):
    index = _normalize_index(index, backend.array_module(x.data))
    index = index if len(index) != 1 else index[0]
    apply_inplace(x, SetItem, value, index=index)


def one_hot(indices, num_classes=-1, dtype=None):
    """Integer class indices -> rows of a one-hot matrix, int64 as torch's F.one_hot
    (dtype= picks another); num_classes=-1 means max + 1 (no gradient)."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise op_error(TypeError, "one_hot", f"indices must be integers, got dtype {idx.dtype}")
    xp = backend.array_module(idx)
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise op_error(ValueError, "one_hot", f"indices must lie in [0, {num_classes}), got range "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = (idx[..., None] == xp.arange(num_classes)).astype(backend.as_dtype(dtype) or backend.int64)
    return Tensor._make(out, None, False)
