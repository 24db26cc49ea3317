"""Ordering along a dim: sort, argsort, topk, kthvalue, median, nanmedian, mode.

Each op finds positions (a non-differentiable index, as in torch) and picks the values at
them; the values are a `Gather` of the input, so their gradient flows back to exactly the
picked positions (the op's own node name, e.g. "sort", is what diagrams show). Ties keep
their original order (a stable sort); NaN sorts as the largest value, as in torch.
"""
from __future__ import annotations

from .. import backend, return_types
from ..tensor import Tensor
from ._dims import normalize_dim, pick, pick_keepdim
from ..errors import op_error
from .gather import Gather


class Sort(Gather):
    """x sorted along a dim"""
    derivative = "d sort(x)/dx = 1 at each value's original position"


class TopK(Gather):
    """the k largest (or smallest) entries along a dim"""
    op_name = "topk"
    derivative = "d topk(x)/dx = 1 at the picked positions, 0 elsewhere"


class KthValue(Gather):
    """the k-th smallest entry along a dim"""
    op_name = "kthvalue"
    derivative = "d kthvalue(x)/dx = 1 at the picked position, 0 elsewhere"


class Median(Gather):
    """the lower median along a dim (the smaller of the two middle values)"""
    derivative = "d median(x)/dx = 1 at the median's position, 0 elsewhere"


class NanMedian(Median):
    """the lower median of the non-NaN entries along a dim"""
    op_name = "nanmedian"


class Mode(Gather):
    """the most frequent value along a dim"""
    derivative = "d mode(x)/dx = 1 at the returned position, 0 elsewhere"


def _line_args(op, input, dim, axis=None, default=-1):
    """(x, dim) with 0-d inputs seen as 1-D, as torch does for these ops."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    dim = pick(op, dim, axis)
    dim = normalize_dim(default if dim is None else dim, x.ndim, op)
    return (x.reshape(1) if x.ndim == 0 else x), dim, x.ndim == 0


def argsort_array(x, dim, descending=False):
    """Stable argsort of an array along dim (NaN last; first when descending)."""
    xp = backend.array_module(x)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable")
    # Stable descending: sort the reversed line ascending, then reverse the result; equal
    # values keep their original order, and bool/unsigned data need no negation.
    n = x.shape[dim]
    rev = xp.flip(xp.argsort(xp.flip(x, axis=dim), axis=dim, kind="stable"), axis=dim)
    return (n - 1) - rev


def _result(cls, kind, x, index, dim, keepdim, was_0d):
    """The named tuple (values, indices) for the positions `index` (which has size 1 on dim
    when the op reduces it)."""
    if was_0d:
        shape = ()
    elif keepdim:
        shape = index.shape
    else:
        shape = index.shape[:dim] + index.shape[dim + 1:]
    values = cls.apply(x, index=index, dim=dim, out_shape=shape)
    indices = Tensor._make(index.reshape(shape).astype(backend.int64), None, False)
    return kind(values, indices)


def sort(input, dim=-1, descending=False, *, stable=False, axis=None):
    """(values, indices) of input sorted along dim (torch.sort); ties keep their order."""
    x, dim, was_0d = _line_args("sort", input, dim, axis)
    index = argsort_array(x.data, dim, descending)
    return _result(Sort, return_types.sort, x, index, dim, True, was_0d)


def argsort(input, dim=-1, descending=False, *, stable=False, axis=None):
    """The indices that sort input along dim (torch.argsort); no gradient."""
    return sort(input, dim, descending, stable=stable, axis=axis).indices


def msort(input):
    """input sorted along its first dim (torch.msort)."""
    return sort(input, 0).values


def _k_check(op, k, n, what="k"):
    if not 0 <= k <= n:
        raise op_error(IndexError, op, f"{what}={k} is out of range for a dim of size {n} "
                                       f"(expected 0 <= {what} <= {n})")


def topk(input, k, dim=-1, largest=True, sorted=True, *, axis=None):
    """(values, indices) of the k largest entries along dim, or the k smallest with
    largest=False, in sorted order (torch.topk)."""
    x, dim, was_0d = _line_args("topk", input, dim, axis)
    _k_check("topk", k, x.shape[dim])
    order = argsort_array(x.data, dim, descending=largest)
    index = order[(slice(None),) * dim + (slice(0, k),)]
    return _result(TopK, return_types.topk, x, index, dim, True, was_0d and k == 1)


def kthvalue(input, k, dim=-1, keepdim=False, *, axis=None, keepdims=None):
    """(values, indices) of the k-th smallest entry (k = 1 is the minimum) along dim
    (torch.kthvalue)."""
    x, dim, was_0d = _line_args("kthvalue", input, dim, axis)
    n = x.shape[dim]
    if not 1 <= k <= n:
        raise op_error(IndexError, "kthvalue", f"k={k} is out of range for a dim of size {n} "
                                               f"(expected 1 <= k <= {n})")
    order = argsort_array(x.data, dim)
    index = order[(slice(None),) * dim + (slice(k - 1, k),)]
    return _result(KthValue, return_types.kthvalue, x, index, dim,
                   pick_keepdim("kthvalue", keepdim, keepdims), was_0d)


def _median_index(x, dim, ignore_nan):
    """Positions (size 1 on dim) of the lower median along dim. NaN: with ignore_nan the
    median of the other entries, else the first NaN of the line (its median is NaN)."""
    xp = backend.array_module(x)
    order = argsort_array(x, dim)  # NaN sort last
    nan = xp.isnan(x) if x.dtype.kind == "f" or x.dtype == backend.bfloat16 else None
    n = x.shape[dim]
    if nan is None or (not ignore_nan and not nan.any()):
        k = xp.full((1,) * x.ndim, (n - 1) // 2, dtype=backend.int64)
        return xp.take_along_axis(order, xp.broadcast_to(
            k, x.shape[:dim] + (1,) + x.shape[dim + 1:]), axis=dim)
    if ignore_nan:
        valid = n - nan.sum(axis=dim, keepdims=True)
        k = xp.maximum(valid - 1, 0) // 2
        return xp.take_along_axis(order, k, axis=dim)
    has_nan = nan.any(axis=dim, keepdims=True)
    k = xp.full(has_nan.shape, (n - 1) // 2, dtype=backend.int64)
    median = xp.take_along_axis(order, k, axis=dim)
    first_nan = xp.argmax(nan, axis=dim, keepdims=True)
    return xp.where(has_nan, first_nan, median)


def _median(op, cls, kind, input, dim, keepdim, axis, keepdims):
    x = input if isinstance(input, Tensor) else Tensor(input)
    dim = pick(op, dim, axis)
    if dim is None:  # over every entry: the value only
        if x.numel() == 0:
            raise op_error(IndexError, op, "median of an empty tensor is undefined")
        flat = x.reshape(-1)
        index = _median_index(flat.data, 0, ignore_nan=cls is NanMedian)
        return cls.apply(flat, index=index, dim=0, out_shape=())
    x, dim, was_0d = _line_args(op, x, dim)
    if x.shape[dim] == 0:
        raise op_error(IndexError, op, f"cannot compute the median of dim {dim}, which has "
                                       "size 0")
    index = _median_index(x.data, dim, ignore_nan=cls is NanMedian)
    return _result(cls, kind, x, index, dim, pick_keepdim(op, keepdim, keepdims), was_0d)


def median(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The lower median (the smaller middle value; NaN if the line has NaN): over all
    entries a 0-d tensor, along dim a (values, indices) named tuple (torch.median)."""
    return _median("median", Median, return_types.median, input, dim, keepdim, axis, keepdims)


def nanmedian(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """median ignoring NaN entries (torch.nanmedian)."""
    return _median("nanmedian", NanMedian, return_types.nanmedian, input, dim, keepdim, axis,
                   keepdims)


def _mode_index(x, dim):
    """Position (size 1 on dim) of the most frequent value along dim: the smallest such
    value on ties, at its last occurrence (as torch)."""
    xp = backend.array_module(x)
    order = argsort_array(x, dim)
    s = xp.take_along_axis(x, order, axis=dim)
    n = x.shape[dim]
    pos = xp.arange(n).reshape((n,) + (1,) * (x.ndim - dim - 1))
    first = xp.ones(s.shape, dtype=bool)  # where a run of equal values starts
    first[(slice(None),) * dim + (slice(1, None),)] = (
        s[(slice(None),) * dim + (slice(1, None),)] != s[(slice(None),) * dim + (slice(0, -1),)])
    start = xp.maximum.accumulate(xp.where(first, pos, 0), axis=dim)
    run = pos - start + 1  # length of the run so far; largest at the end of the longest run
    best = xp.argmax(run, axis=dim, keepdims=True)  # first maximum: the smallest value
    return xp.take_along_axis(order, best, axis=dim)


def mode(input, dim=-1, keepdim=False, *, axis=None, keepdims=None):
    """(values, indices) of the most frequent value along dim; the smallest one on ties
    (torch.mode)."""
    x, dim, was_0d = _line_args("mode", input, dim, axis)
    if x.shape[dim] == 0:
        raise op_error(IndexError, "mode", f"cannot compute the mode of dim {dim}, which has "
                                           "size 0")
    index = _mode_index(x.data, dim)
    return _result(Mode, return_types.mode, x, index, dim, pick_keepdim("mode", keepdim, keepdims),
                   was_0d)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"sort": sort, "argsort": argsort, "msort": msort, "topk": topk,
           "kthvalue": kthvalue, "median": median, "nanmedian": nanmedian, "mode": mode}
