"""Moving values by index: gather/scatter along a dim, index_select/index_add/index_copy/
index_fill, masked_fill/masked_select/masked_scatter, take, take_along_dim, nonzero.

Each op reads or writes the positions an index names, so its gradient moves values back
along the same positions: gather's backward is a scatter-add of the gradient, a
scatter-add's backward (for its source) is a gather, index_select pairs with index_add,
masked_select with masked_scatter. Each backward calls its partner op through `ctx.call`,
so it records a graph under create_graph and higher derivatives need no extra rule.
Repeated indices accumulate gradients, as in PyTorch.

Positions "along a dim" (dim = 1, a 3-D index):  out[i][j][k] = x[i][index[i][j][k]][k].
"""
from __future__ import annotations

import numpy as np

from .. import _inplace, backend
from ..function import Function
from ..tensor import Tensor
from ._dims import normalize_dim
from ..errors import op_error
from . import elementwise as _ew
from . import shape as _shape
from .shape import Pad

_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


# ---------------------------------------------------------------- index helpers
def _along(xp, index, dim):
    """The index tuple that picks position (i, ..., index[i, ...], ..., k) for every
    position of `index`: `index` at `dim`, an arange broadcast over each other dim."""
    parts = []
    for d, n in enumerate(index.shape):
        if d == dim:
            parts.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            parts.append(xp.arange(n).reshape(shape))
    return tuple(parts)


def _leading(index, dim):
    """The index tuple selecting `index` on dim `dim` (all of every dim before it)."""
    return (slice(None),) * dim + (index,)


def _fit(src, shape):
    """src cut to `shape` (scatter ops use only the part of src the index covers)."""
    if src.shape == tuple(shape):
        return src
    return src[tuple(slice(0, n) for n in shape)]


def _unfit(ctx, g, shape):
    """The gradient of `_fit`: g padded with zeros back to src's `shape`."""
    if g.shape == tuple(shape):
        return g
    return ctx.call(Pad, g, pad_width=tuple((0, s - n) for s, n in zip(shape, g.shape)))


def as_index(op, index, like, name="index"):
    """An integer index array on the device of the array `like` (from a Tensor, an array or
    a list of ints)."""
    xp = backend.array_module(like)
    arr = index.data if isinstance(index, Tensor) else xp.asarray(index)
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":  # an empty list
            return arr.astype(backend.int64)
        raise op_error(TypeError, op, f"{name} must be an integer tensor (int64 or int32), "
                                      f"got dtype {arr.dtype}")
    return arr


def check_bounds(op, index, size, dim, negative_ok=False):
    """index with every entry a valid position on a dim of `size` (negative entries count
    from the end when `negative_ok`, as torch's take and take_along_dim allow)."""
    if index.size == 0:
        return index
    lo, hi = int(index.min()), int(index.max())
    low = -size if negative_ok else 0
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        raise op_error(IndexError, op, f"index {bad} is out of bounds for dim {dim} with "
                                       f"size {size}")
    return index % size if lo < 0 else index


def _check_gather_shapes(op, x_shape, index, dim, src_shape=None):
    """torch's rule: index has x's rank and fits inside x on every dim but `dim` (and inside
    src on every dim, for scatters)."""
    if index.ndim != len(x_shape):
        raise op_error(RuntimeError, op, f"index of shape {tuple(index.shape)} must have the "
                                         f"same rank as the input of shape {tuple(x_shape)}")
    for d, n in enumerate(index.shape):
        if d != dim and n > x_shape[d]:
            raise op_error(RuntimeError, op, f"index of shape {tuple(index.shape)} is larger "
                                             f"than the input of shape {tuple(x_shape)} on "
                                             f"dim {d} (only dim {dim} may differ)")
        if src_shape is not None and n > src_shape[d]:
            raise op_error(RuntimeError, op, f"index of shape {tuple(index.shape)} is larger "
                                             f"than src of shape {tuple(src_shape)} on dim {d}")


# ---------------------------------------------------------------- gather / scatter_add
class Gather(Function):
    """out[i][j][k] = x[i][index[i][j][k]][k] (dim = 1)"""
    derivative = "d gather(x)/dx = the gradient scatter-added back to the gathered positions"

    @staticmethod
    def forward(ctx, x, index, dim, out_shape=None):
        ctx.in_shape, ctx.index, ctx.dim = x.shape, index, dim
        out = x[_along(ctx.xp, index, dim)]
        return out if out_shape is None else out.reshape(out_shape)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(ctx.index.shape)  # undo out_shape (results without the reduced dim)
        return ctx.call(ScatterAdd, None, g, index=ctx.index, dim=ctx.dim, shape=ctx.in_shape)


class ScatterAdd(Function):
    """out = x (zeros of `shape` when x is None) with src[i][j][k] added at
    out[i][index[i][j][k]][k] (dim = 1); repeated positions accumulate"""
    op_name = "scatter_add"
    derivative = "d/dx = 1, d/dsrc = the gradient gathered at the scattered positions"

    @staticmethod
    def forward(ctx, x, src, index, dim, shape=None):
        out = ctx.xp.zeros(shape, dtype=src.dtype) if x is None else x.copy()
        ctx.src_shape, ctx.index, ctx.dim = src.shape, index, dim
        ctx.xp.add.at(out, _along(ctx.xp, index, dim), _fit(src, index.shape))
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        gsrc = None
        if needs[1]:
            gsrc = _unfit(ctx, ctx.call(Gather, g, index=ctx.index, dim=ctx.dim), ctx.src_shape)
        return (g if needs[0] else None), gsrc


class TakeAlongDim(Gather):
    """x and index broadcast against each other outside `dim`, then gathered"""
    op_name = "take_along_dim"

    @staticmethod
    def forward(ctx, x, index, dim, x_shape):
        # the gradient comes back in the broadcast shape; the engine sums it to x's shape
        return Gather.forward(ctx, ctx.xp.broadcast_to(x, x_shape), index, dim)


class Scatter(Function):
    """out = x with out[i][index[i][j][k]][k] = src[i][j][k] (dim = 1), or = value; with
    reduce="add" / "multiply" the values are added / multiplied in instead"""
    derivative = ("d/dx = 1 outside the written positions (everywhere for reduce='add'), "
                  "d/dsrc = the gradient gathered at the written positions")

    @staticmethod
    def forward(ctx, x, src, index, dim, value=None, reduce=None):
        xp = ctx.xp
        ctx.index, ctx.dim, ctx.reduce = index, dim, reduce
        ctx.src_shape = None if src is None else src.shape
        out = x.copy()
        where = _along(xp, index, dim)
        new = value if src is None else _fit(src, index.shape)
        if reduce is None:
            out[where] = new
        elif reduce == "add":
            xp.add.at(out, where, new)
        else:
            xp.multiply.at(out, where, new)
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.reduce == "multiply":
            raise op_error(RuntimeError, "scatter", "the derivative of scatter with "
                           "reduce='multiply' is not implemented (as in torch); use "
                           "scatter_reduce(..., reduce='prod'), which has one")
        needs = ctx.needs_input_grad
        gx = gsrc = None
        if needs[0]:
            gx = g if ctx.reduce == "add" else ctx.call(Scatter, g, None, index=ctx.index,
                                                        dim=ctx.dim, value=0)
        if needs[1]:
            gsrc = _unfit(ctx, ctx.call(Gather, g, index=ctx.index, dim=ctx.dim), ctx.src_shape)
        return gx, gsrc


class ScatterReduce(Function):
    """out = x with each position reduced (sum/prod/mean/amax/amin) over the src values
    scattered to it, and over its own value when include_self"""
    op_name = "scatter_reduce"
    derivative = ("sum: d/dx = 1, d/dsrc = gathered gradient; mean: divided by the count; "
                  "prod: the product of the other contributors; amax/amin: split evenly "
                  "between the contributors equal to the result")

    @staticmethod
    def forward(ctx, x, src, index, dim, reduce, include_self=True):
        xp = ctx.xp
        where = _along(xp, index, dim)
        part = _fit(src, index.shape)
        ctx.index, ctx.dim, ctx.reduce, ctx.include_self = index, dim, reduce, include_self
        ctx.src_shape = src.shape
        hit = xp.zeros(x.shape, dtype=bool)
        hit[where] = True
        # mine: where x's own value takes part (everywhere with include_self, else only
        # where nothing is scattered)
        ctx.mine = mine = xp.ones(x.shape, dtype=bool) if include_self else ~hit
        out = x.copy()
        if not include_self:  # the hit positions start from the reduction's identity
            out[hit] = _identity(xp, reduce, x.dtype)
        if reduce in ("sum", "mean"):
            xp.add.at(out, where, part)
        elif reduce == "prod":
            xp.multiply.at(out, where, part)
        else:
            (xp.maximum if reduce == "amax" else xp.minimum).at(out, where, part)
        if reduce == "mean":
            count = xp.zeros(x.shape, dtype=backend.int64)
            xp.add.at(count, where, 1)
            ctx.count = count + mine  # how many values each position averages
            n = ctx.count.astype(out.dtype) if out.dtype.kind == "f" else ctx.count
            out = out / n if out.dtype.kind == "f" else out // n
        elif reduce in ("amax", "amin"):
            # the contributors equal to the result share its gradient
            ctx.x_wins = mine & (x == out)
            ctx.src_wins = part == out[where]
            n = ctx.x_wins.astype(backend.int64)
            xp.add.at(n, where, ctx.src_wins)
            ctx.n_wins = xp.maximum(n, 1)  # a NaN result has no winner: no division by 0
        elif reduce == "prod":
            ctx.x_zero, ctx.src_zero = x == 0, part == 0
            zeros = (mine & ctx.x_zero).astype(backend.int64)
            xp.add.at(zeros, where, ctx.src_zero)
            # per position (and per src entry, at its target): how many contributors are 0
            ctx.zeros, ctx.src_zeros = zeros, zeros[where]
        ctx.save(x, src)
        return out

    @staticmethod
    def backward(ctx, g):
        x, src = ctx.saved
        xp, mine, reduce = ctx.xp, ctx.mine, ctx.reduce

        def gather(t):  # t at the scattered positions, in the index's shape
            return ctx.call(Gather, t, index=ctx.index, dim=ctx.dim)

        if reduce == "sum":
            gx, gsrc = xp.where(mine, g, 0), gather(g)
        elif reduce == "mean":
            gn = g / ctx.count.astype(g.dtype)
            gx, gsrc = xp.where(mine, gn, 0), gather(gn)
        elif reduce in ("amax", "amin"):
            gn = g / ctx.n_wins.astype(g.dtype)
            gx, gsrc = xp.where(ctx.x_wins, gn, 0), xp.where(ctx.src_wins, gather(gn), 0)
        else:
            # d prod / d v = the product of the other contributors, computed without
            # dividing by 0: the product of the nonzero ones (p), times 0 when another
            # contributor is 0 too. That treats where the zeros are as fixed, which is right
            # for the value but not for its own derivative: refuse create_graph there (the
            # engine then makes this gradient opaque: differentiating it again raises).
            if ctx.create_graph and ctx.zeros.any():
                raise TypeError("scatter_reduce(reduce='prod') with zeros among the "
                                "contributors is differentiable once")
            part = _fit(src, ctx.index.shape)
            x1, src1 = xp.where(ctx.x_zero, 1, x), xp.where(ctx.src_zero, 1, part)
            p = ctx.call(ScatterReduce, x1, src1, index=ctx.index, dim=ctx.dim,
                         reduce="prod", include_self=ctx.include_self)
            zeros, src_zeros = ctx.zeros, ctx.src_zeros
            others_x = xp.where(ctx.x_zero, xp.where(zeros == 1, p, 0),
                                xp.where(zeros == 0, p / x1, 0))
            p_src = gather(p)
            others_src = xp.where(ctx.src_zero, xp.where(src_zeros == 1, p_src, 0),
                                  xp.where(src_zeros == 0, p_src / src1, 0))
            gx, gsrc = xp.where(mine, g * others_x, 0), gather(g) * others_src
        needs = ctx.needs_input_grad
        return (gx if needs[0] else None), (_unfit(ctx, gsrc, ctx.src_shape) if needs[1] else None)


def _identity(xp, reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = xp.inf if dtype.kind == "f" else xp.iinfo(dtype).max
    return -big if reduce == "amax" else big


def _identity(xp, reduce, dtype):
    """The value a reduction starts from (what `include_self=False` replaces x's by)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = xp.inf if dtype.kind == "f" or dtype == backend.bfloat16 else xp.iinfo(dtype).max
    return -big if reduce == "amax" else big


# ---------------------------------------------------------------- index_* along one dim
class IndexSelect(Function):
    """out = x with dim `dim` replaced by x's entries at `index` (a 1-D index)"""
    op_name = "index_select"
    derivative = "d index_select(x)/dx = the gradient index_add-ed back to the selected rows"

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.in_shape, ctx.index, ctx.dim = x.shape, index, dim
        return ctx.xp.take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(IndexAdd, None, g, index=ctx.index, dim=ctx.dim, shape=ctx.in_shape)


class IndexAdd(Function):
    """out = x (zeros of `shape` when x is None) with alpha * src's rows added at the rows
    `index` of dim `dim`; repeated rows accumulate"""
    op_name = "index_add"
    derivative = "d/dx = 1, d/dsrc = alpha * the gradient's rows at index"

    @staticmethod
    def forward(ctx, x, src, index, dim, alpha=1, shape=None):
        ctx.index, ctx.dim, ctx.alpha = index, dim, alpha
        out = ctx.xp.zeros(shape, dtype=src.dtype) if x is None else x.copy()
        ctx.xp.add.at(out, _leading(index, dim), src if alpha == 1 else src * alpha)
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        gsrc = None
        if needs[1]:
            gsrc = ctx.call(IndexSelect, g, index=ctx.index, dim=ctx.dim)
            if ctx.alpha != 1:
                gsrc = gsrc * ctx.alpha
        return (g if needs[0] else None), gsrc


class IndexCopy(Function):
    """out = x with the rows `index` of dim `dim` replaced by src's rows"""
    op_name = "index_copy"
    derivative = "d/dx = 1 outside the copied rows, d/dsrc = the gradient's rows at index"

    @staticmethod
    def forward(ctx, x, src, index, dim):
        ctx.index, ctx.dim = index, dim
        out = x.copy()
        out[_leading(index, dim)] = src
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        gx = _without_rows(ctx, g) if needs[0] else None
        gsrc = ctx.call(IndexSelect, g, index=ctx.index, dim=ctx.dim) if needs[1] else None
        return gx, gsrc


class IndexFill(Function):
    """out = x with the rows `index` of dim `dim` set to a value (a number, or a 0-d tensor
    `fill`, which then gets a gradient)"""
    op_name = "index_fill"
    derivative = "d/dx = 1 outside the filled rows, d/dvalue = sum of the gradient there"

    @staticmethod
    def forward(ctx, x, fill, index, dim, value=None):
        ctx.index, ctx.dim = index, dim
        out = x.copy()
        out[_leading(index, dim)] = value if fill is None else fill
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        rest = _without_rows(ctx, g)
        # the value's gradient: the sum of g over the filled rows (g - rest is exactly g
        # there and exactly 0 elsewhere)
        return (rest if needs[0] else None), ((g - rest).sum() if needs[1] else None)


def _without_rows(ctx, g):
    """g with the rows ctx.index of dim ctx.dim set to 0."""
    return ctx.call(IndexFill, g, None, index=ctx.index, dim=ctx.dim, value=0)


# ---------------------------------------------------------------- masks
def _broadcast_copy(xp, x, shape):
    """x broadcast to `shape`, as a fresh writable array."""
    out = xp.empty(shape, dtype=x.dtype)
    out[...] = x
    return out


class MaskedFill(Function):
    """out = x where mask is False, the value where it is True (a number, or a 0-d tensor
    `fill`, which then gets a gradient); x and mask broadcast"""
    op_name = "masked_fill"
    derivative = "d/dx = 1 where mask is False, d/dvalue = sum of the gradient where True"

    @staticmethod
    def forward(ctx, x, fill, mask, value=None):
        shape = np.broadcast_shapes(x.shape, mask.shape)
        ctx.mask = mask
        out = _broadcast_copy(ctx.xp, x, shape)
        out[ctx.xp.broadcast_to(mask, shape)] = value if fill is None else fill
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        gx = ctx.xp.where(ctx.mask, 0, g) if needs[0] else None
        gfill = ctx.xp.where(ctx.mask, g, 0).sum() if needs[1] else None
        return gx, gfill


class MaskedSelect(Function):
    """the entries of x where mask is True, as a 1-D tensor (x and mask broadcast)"""
    op_name = "masked_select"
    derivative = "d masked_select(x)/dx = the gradient scattered back to the selected positions"

    @staticmethod
    def forward(ctx, x, mask):
        shape = np.broadcast_shapes(x.shape, mask.shape)
        ctx.mask = ctx.xp.broadcast_to(mask, shape)
        return ctx.xp.broadcast_to(x, shape)[ctx.mask]

    @staticmethod
    def backward(ctx, g):
        # (in the broadcast shape: the engine sums it back to x's shape)
        return ctx.call(MaskedScatter, None, g, mask=ctx.mask)


class MaskedScatter(Function):
    """out = x (zeros when x is None) with the positions where mask is True filled, in
    order, by src's first entries (row-major); x and mask broadcast"""
    op_name = "masked_scatter"
    derivative = ("d/dx = 1 where mask is False, d/dsrc = the gradient at the masked "
                  "positions, in order (0 for src's unused entries)")

    @staticmethod
    def forward(ctx, x, src, mask):
        xp = ctx.xp
        shape = mask.shape if x is None else np.broadcast_shapes(x.shape, mask.shape)
        ctx.mask = mask = xp.broadcast_to(mask, shape)
        ctx.src_shape = src.shape
        n = int(mask.sum())
        if src.size < n:
            raise op_error(ValueError, "masked_scatter", f"src has {src.size} elements but "
                           f"the mask selects {n} positions; src needs at least as many")
        out = xp.zeros(shape, dtype=src.dtype) if x is None else _broadcast_copy(xp, x, shape)
        out[mask] = src.reshape(-1)[:n]
        return out

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        gx = ctx.xp.where(ctx.mask, 0, g) if needs[0] else None
        gsrc = None
        if needs[1]:
            picked = ctx.call(MaskedSelect, g, mask=ctx.mask)
            size = 1
            for n in ctx.src_shape:
                size *= n
            gsrc = _unfit(ctx, picked, (size,)).reshape(ctx.src_shape)
        return gx, gsrc


class Take(Function):
    """out = x.flatten()[index] (out has index's shape)"""
    derivative = "d take(x)/dx = the gradient added back at the flat positions"

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, index
        return x.reshape(-1)[index]

    @staticmethod
    def backward(ctx, g):
        size = 1
        for n in ctx.in_shape:
            size *= n
        flat = ctx.call(IndexAdd, None, g.reshape(-1), index=ctx.index.reshape(-1), dim=0,
                        shape=(size,))
        return flat.reshape(ctx.in_shape)


# ---------------------------------------------------------------- the public functions
def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _same_dtype(op, x, src, name="src"):
    if src.dtype != x.dtype:
        raise op_error(TypeError, op, f"{name} has dtype {src.dtype} but the input has dtype "
                                      f"{x.dtype}; they must match (convert with .to(dtype))")


def _mask(op, mask, like):
    arr = mask.data if isinstance(mask, Tensor) else backend.array_module(like).asarray(mask)
    if arr.dtype != backend.bool_:
        raise op_error(TypeError, op, f"mask must be a bool tensor, got dtype {arr.dtype} "
                                      "(compare to make one, e.g. x > 0)")
    return arr


def _fill(op, value):
    """(fill tensor, number): a 0-d tensor value is an input (it gets a gradient)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise op_error(ValueError, op, f"value must be a number or a 0-d tensor, got a "
                                           f"tensor of shape {value.shape}")
        return value, None
    return None, value


def _gather_args(op, input, dim, index, src=None):
    """(x, dim, index, index's shape) checked as torch does; a 0-d input (and index) acts
    as a one-entry 1-D one."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, op)
    index = as_index(op, index, x.data)
    index_shape = index.shape
    if x.ndim == 0:
        x, index = _shape.reshape(x, (1,)), index.reshape(-1)
    src_shape = None if src is None else (src.shape if src.ndim else (1,))
    _check_gather_shapes(op, x.shape, index, dim, src_shape)
    check_bounds(op, index, x.shape[dim], dim)
    return x, dim, index, index_shape


def _as_input_shape(out, input):
    """A result computed on a 0-d input seen as 1-D, back in the input's shape."""
    return _shape.reshape(out, ()) if _tensor(input).ndim == 0 else out


def _one_d(src):
    return _shape.reshape(src, (1,)) if src.ndim == 0 else src


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[i][index[i][j][k]][k] for dim = 1 (torch.gather); out has
    index's shape."""
    x, dim, idx, out_shape = _gather_args("gather", input, dim, index)
    return Gather.apply(x, index=idx, dim=dim, out_shape=out_shape)


def take_along_dim(input, indices, dim=None):
    """input picked at `indices` along dim, the two broadcast against each other on the
    other dims (torch.take_along_dim); dim=None works on both flattened."""
    x = _tensor(input)
    index = as_index("take_along_dim", indices, x.data, "indices")
    if dim is None:
        x, index, dim = _shape.reshape(x, (-1,)), index.reshape(-1), 0
    else:
        dim = normalize_dim(dim, x.ndim, "take_along_dim")
        if index.ndim != x.ndim:
            raise op_error(RuntimeError, "take_along_dim", f"indices of shape "
                           f"{tuple(index.shape)} must have the rank of the input of shape "
                           f"{x.shape}")
    if x.ndim == 0:
        return gather(x, 0, index)
    try:
        outer = np.broadcast_shapes(*[tuple(s[:dim] + (1,) + s[dim + 1:])
                                      for s in (x.shape, tuple(index.shape))])
    except ValueError:
        raise op_error(RuntimeError, "take_along_dim", f"input of shape {x.shape} and "
                       f"indices of shape {tuple(index.shape)} do not broadcast outside dim "
                       f"{dim}") from None
    x_shape = outer[:dim] + (x.shape[dim],) + outer[dim + 1:]
    idx_shape = outer[:dim] + (index.shape[dim],) + outer[dim + 1:]
    index = check_bounds("take_along_dim", index, x.shape[dim], dim, negative_ok=True)
    index = backend.array_module(index).broadcast_to(index, idx_shape)
    return TakeAlongDim.apply(x, index=index, dim=dim, x_shape=x_shape)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with input[i][index[i][j][k]][k] = src[i][j][k] for dim = 1 (or = value);
    reduce="add" / "multiply" combines instead of replacing (torch.scatter)."""
    if src is not None and not isinstance(src, Tensor):  # scatter(x, dim, index, 1.5)
        src, value = None, src
    if (src is None) == (value is None):
        raise op_error(TypeError, "scatter", "give exactly one of src (a tensor) and value "
                                             "(a number)")
    if reduce not in (None, "add", "multiply"):
        raise op_error(ValueError, "scatter", f"reduce must be None, 'add' or 'multiply', got "
                       f"{reduce!r} (scatter_reduce has sum/prod/mean/amax/amin)")
    x, dim, idx, _ = _gather_args("scatter", input, dim, index, src)
    if src is not None:
        _same_dtype("scatter", x, src)
        src = _one_d(src)
    out = Scatter.apply(x, src, index=idx, dim=dim, value=value, reduce=reduce)
    return _as_input_shape(out, input)


def scatter_add(input, dim, index, src):
    """input with src[i][j][k] added at input[i][index[i][j][k]][k] for dim = 1; repeated
    positions accumulate (torch.scatter_add)."""
    src = _tensor(src)
    x, dim, idx, _ = _gather_args("scatter_add", input, dim, index, src)
    _same_dtype("scatter_add", x, src)
    return _as_input_shape(ScatterAdd.apply(x, _one_d(src), index=idx, dim=dim), input)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with each position reduced over the src values scattered to it: reduce is
    "sum", "prod", "mean", "amax" or "amin"; include_self counts input's own value
    (torch.scatter_reduce)."""
    if reduce not in _SCATTER_REDUCTIONS:
        raise op_error(ValueError, "scatter_reduce", f"reduce must be one of "
                       f"{', '.join(_SCATTER_REDUCTIONS)}; got {reduce!r}")
    src = _tensor(src)
    x, dim, idx, _ = _gather_args("scatter_reduce", input, dim, index, src)
    _same_dtype("scatter_reduce", x, src)
    out = ScatterReduce.apply(x, _one_d(src), index=idx, dim=dim, reduce=reduce,
                              include_self=include_self)
    return _as_input_shape(out, input)


def _row_index(op, input, dim, index):
    """(input, dim, index) for the index_* ops: a 1-D index (or 0-d) of valid rows."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, op)
    idx = as_index(op, index, x.data)
    if idx.ndim > 1:
        raise op_error(IndexError, op, f"index must be 1-D (or 0-d), got shape "
                                       f"{tuple(idx.shape)}")
    idx = idx.reshape(-1)
    check_bounds(op, idx, x.shape[dim] if x.ndim else 1, dim)
    return x, dim, idx


def _rows_source(op, x, dim, idx, source):
    """Check that source has x's shape with dim `dim` of length len(index)."""
    source = _tensor(source)
    _same_dtype(op, x, source, "source")
    want = x.shape[:dim] + (len(idx),) + x.shape[dim + 1:] if x.ndim else (len(idx),)
    if source.shape != want and not (x.ndim == 0 and source.numel() == len(idx)):
        raise op_error(ValueError, op, f"source of shape {source.shape} does not fit: for an "
                       f"input of shape {x.shape}, dim {dim} and {len(idx)} indices it must "
                       f"have shape {want}")
    return source.reshape(want)


def index_select(input, dim, index):
    """input's entries at the positions `index` (1-D) of dim `dim` (torch.index_select)."""
    x, dim, idx = _row_index("index_select", input, dim, index)
    if x.ndim == 0:  # torch: a 0-d input acts as a one-entry 1-D one, and stays 0-d
        return _as_input_shape(IndexSelect.apply(_one_d(x), index=idx[:1], dim=0), x)
    return IndexSelect.apply(x, index=idx, dim=dim)


def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source's rows added at the rows `index` of dim `dim`; repeated
    rows accumulate (torch.index_add)."""
    x, dim, idx = _row_index("index_add", input, dim, index)
    src = _rows_source("index_add", x, dim, idx, source)
    out = IndexAdd.apply(_one_d(x), src, index=idx, dim=dim, alpha=alpha)
    return _as_input_shape(out, x)


def index_copy(input, dim, index, source):
    """input with the rows `index` of dim `dim` replaced by source's rows (torch.index_copy)."""
    x, dim, idx = _row_index("index_copy", input, dim, index)
    src = _rows_source("index_copy", x, dim, idx, source)
    return _as_input_shape(IndexCopy.apply(_one_d(x), src, index=idx, dim=dim), x)


def index_fill(input, dim, index, value):
    """input with the rows `index` of dim `dim` set to value (a number or a 0-d tensor)
    (torch.index_fill)."""
    x, dim, idx = _row_index("index_fill", input, dim, index)
    fill, number = _fill("index_fill", value)
    out = IndexFill.apply(_one_d(x), fill, index=idx, dim=dim, value=number)
    return _as_input_shape(out, x)


def masked_fill(input, mask, value):
    """input where mask is False, value where it is True (torch.masked_fill); mask is a bool
    tensor broadcastable with input, value a number or a 0-d tensor."""
    x = _tensor(input)
    fill, number = _fill("masked_fill", value)
    return MaskedFill.apply(x, fill, mask=_mask("masked_fill", mask, x.data), value=number)


def masked_select(input, mask):
    """The entries of input where mask is True, as a 1-D tensor (torch.masked_select)."""
    x = _tensor(input)
    return MaskedSelect.apply(x, mask=_mask("masked_select", mask, x.data))


def masked_scatter(input, mask, source):
    """input with the positions where mask is True filled, in row-major order, by source's
    first entries (torch.masked_scatter)."""
    x, src = _tensor(input), _tensor(source)
    _same_dtype("masked_scatter", x, src, "source")
    return MaskedScatter.apply(x, src, mask=_mask("masked_scatter", mask, x.data))


def take(input, index):
    """input treated as 1-D, picked at `index` (negative entries count from the end); the
    result has index's shape (torch.take)."""
    x = _tensor(input)
    idx = as_index("take", index, x.data)
    idx = check_bounds("take", idx, x.numel(), 0, negative_ok=True)
    if x.numel() == 0 and idx.size:
        raise op_error(IndexError, "take", "cannot take from an empty tensor")
    return Take.apply(x, index=idx)


def nonzero(input, *, as_tuple=False):
    """Positions of the nonzero entries: an (n, ndim) int64 tensor, or with as_tuple=True a
    tuple of ndim 1-D tensors (one per dim), as torch.nonzero (no gradient)."""
    x = _tensor(input).data
    xp = backend.array_module(x)
    if x.ndim == 0 and not as_tuple:  # torch: shape (1, 0) or (0, 0)
        return Tensor._make(xp.zeros((int(bool(x)), 0), dtype=backend.int64), None, False)
    positions = [p.astype(backend.int64) for p in xp.nonzero(x.reshape(-1) if x.ndim == 0 else x)]
    if as_tuple:
        return tuple(Tensor._make(p, None, False) for p in positions)
    return Tensor._make(xp.stack(positions, axis=1), None, False)


def where(condition, input=None, other=None):
    """where(condition, input, other): input where condition is True, else other
    (elementwise, broadcast, differentiable); where(condition) alone: the positions where it
    is nonzero, as nonzero(condition, as_tuple=True) (torch.where)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise op_error(TypeError, "where", "give both input and other, or neither (for the "
                                           "positions of the nonzero entries)")
    return _ew.where(condition, input, other)


def argwhere(input):
    """Positions of the nonzero entries as an (n, ndim) int64 tensor (torch.argwhere)."""
    return nonzero(input)


def _where_method(self, condition, other):
    """t.where(condition, other) = where(condition, t, other) (torch's Tensor.where)."""
    return where(condition, self, other)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {name: globals()[name] for name in (
    "gather", "take_along_dim", "scatter", "scatter_add", "scatter_reduce", "index_select",
    "index_add", "index_copy", "index_fill", "masked_fill", "masked_select", "masked_scatter",
    "take", "nonzero", "argwhere")}
OPS["where"] = _where_method


def _in_place(op):
    """torch's x.<op>_(...): op's result written into x's buffer, with the checks `+=`
    has (a leaf that requires grad refuses outside no_grad; a backward that saved the old
    values raises)."""
    name = op.__name__ + "_"

    def method(input, *args, **kwargs):
        return _inplace.update(input, name, lambda old, *a: op(old, *a, **kwargs), *args)
    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    method.__doc__ = (f"self = {op.__name__}(self, ...), in place (torch.Tensor.{name}); "
                      f"the arguments are {op.__name__}'s")
    return method


# torch's in-place forms of the scattering ops: x.masked_fill_(mask, v), x.index_add_(...)
OPS.update({op.__name__ + "_": _in_place(op) for op in (
    masked_fill, masked_scatter, index_add, index_copy, index_fill, scatter, scatter_add,
    scatter_reduce)})
