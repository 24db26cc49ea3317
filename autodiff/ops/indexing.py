"""Indexing: __getitem__ (basic and advanced) and __setitem__ (in place), as in torch.

Repeated advanced indices accumulate their gradients (scatter-add), as in NumPy's add.at.
Where torch and NumPy differ, torch's rule holds: a tuple or list inside an index is an
advanced index (`x[((0, 1),)]` picks rows 0 and 1), a 0-d integer tensor indexes like an
int, and integers are applied before advanced indices, so `x[0, :, [1, 2]]` is
`x[0][:, [1, 2]]` (shape (3, 2) for x of shape (2, 3, 4); NumPy gives (2, 3)).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .._inplace import apply_inplace, overlaps, private_copy, update
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from .fill import CopyFrom


class Then(tuple):
    """An index applied in two steps, `x[first][then]`: the integers first (a view), then
    the advanced index, which is how torch places the dims of `x[0, :, [1, 2]]`."""

    __slots__ = ()


def take(a, index):
    """a[index] for an array or a Tensor, `index` as _normalize_index made it."""
    return a[index[0]][index[1]] if type(index) is Then else a[index]


def _target(a, index):
    """(the array to write into, its index): a view for a two-step index."""
    return (a[index[0]], index[1]) if type(index) is Then else (a, index)


def _is_int(item) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _normalize_index(index, xp):
    """The index as NumPy applies it with torch's meaning: Tensors become arrays (a 0-d
    integer tensor an int), sequences become index arrays; integers combined with advanced
    indices split it into a `Then` (see the module docstring). A one-item tuple is
    unwrapped."""
    items = []
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, Tensor):
            item = item.data
            if item.ndim == 0 and item.dtype.kind in "iu":
                item = int(item)
        elif isinstance(item, (list, tuple)):
            item = xp.asarray(item)
        items.append(item)
    if any(map(_is_int, items)) and any(backend.is_array(i) and i.ndim for i in items):
        first, then = [], []
        for item in items:
            if _is_int(item):
                first.append(item)
            elif item is None:
                then.append(None)
            elif item is Ellipsis:
                first.append(item)
                then.append(item)
            elif backend.is_array(item):  # an advanced index: a bool mask spans its ndim dims
                first.extend([slice(None)] * (item.ndim if item.dtype == bool else 1))
                then.append(item)
            else:  # a slice: applied in the first step
                first.append(item)
                then.append(slice(None))
        return Then((tuple(first), tuple(then)))
    return tuple(items) if len(items) != 1 else items[0]


def describe_index(index) -> str:
    """An index in a short line for error messages: arrays by dtype and shape, never their
    values (an index array can hold millions of them)."""
    if type(index) is tuple:
        return "(" + ", ".join(map(describe_index, index)) + ("," if len(index) == 1 else "") + ")"
    if backend.is_array(index) and index.ndim:
        return f"<{index.dtype} array of shape {tuple(index.shape)}>"
    if isinstance(index, slice):
        return ":".join("" if v is None else str(v) for v in (index.start, index.stop, index.step)
                        ).rstrip(":") or ":"
    return repr(index)


def _is_advanced(index):
    if type(index) is Then:
        return True
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
            out = take(x, index)
        except IndexError as exc:
            raise op_error(IndexError, "getitem", f"index {describe_index(index)} is invalid "
                           f"for a tensor of shape {x.shape}: {exc}") from None
        if isinstance(out, np.generic):  # NumPy gives a copied scalar for x[i] of a 1-D x:
            out = _zero_d_view(x, index)  # torch gives a 0-d view (writes reach x)
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.call(IndexAdd, g, shape=ctx.in_shape, index=ctx.index)


def _zero_d_view(x, index):
    """x[index] (an index that selects one entry) as a 0-d view of x, not a copy."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(item is Ellipsis for item in items):
        return x[items + (Ellipsis,)]
    return x[items + (None,)].reshape(())


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
        target, index = _target(out, index)
        if _is_advanced(index):
            ctx.xp.add.at(target, index, g)
        else:
            target[index] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return take(gg, ctx.index)


class SetItem(Function):
    """x with x[index] = value, written in place"""
    derivative = "d/dx = 1 outside index, d/dvalue = 1 at index"
    op_name = "setitem"

    @staticmethod
    def forward(ctx, x, value, index):
        keep = ctx.xp.ones(x.shape, dtype=bool)
        keep_target, where = _target(keep, index)
        keep_target[where] = False
        ctx.save(keep)
        ctx.index = index
        out = x.copy()
        try:
            target, where = _target(out, index)
            target[where] = value
        except (ValueError, IndexError) as exc:
            shape = getattr(value, "shape", ())
            raise op_error(type(exc), "setitem", f"cannot assign a value of shape "
                           f"{tuple(shape)} to index {describe_index(index)} of a tensor of "
                           f"shape {x.shape}: {exc}") from None
        return out

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved
        gx, gv = ctx.needs_input_grad
        return (g * keep if gx else None), (take(g, ctx.index) if gv else None)


def getitem(x, index):
    """x[index] with torch's indexing rules (see the module docstring)."""
    index = _normalize_index(index, backend.array_module(x.data))
    if x.requires_grad:  # backward scatters through the index: keep it as it is now
        index = Then(map(private_copy, index)) if type(index) is Then else private_copy(index)
    if type(index) is Then:
        return AdvancedIndex.apply(BasicIndex.apply(x, index=index[0]), index=index[1])
    op = AdvancedIndex if _is_advanced(index) else BasicIndex
    return op.apply(x, index=index)


def setitem(x, index, value):
    """x[index] = value, in place, with torch's indexing rules."""
    index = _normalize_index(index, backend.array_module(x.data))
    if overlaps(x.data) and not _is_advanced(index):
        # x is a broadcast view whose entries share memory; torch still writes a region of
        # it that holds each memory location once (`x[-1] = v` of an expanded 0-d tensor):
        # write through that region, a view of x's base
        region = BasicIndex.apply(x, index=index)
        if not overlaps(region.data):
            update(region, "setitem_", CopyFrom.apply, value)
            return
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
