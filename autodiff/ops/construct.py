"""Matrices from parts and parts of matrices: diagonal / diag_embed / diag, trace,
tril / triu, block_diag; grids: meshgrid, cartesian_prod; atleast_1d/2d/3d.

diagonal and diag_embed are each other's gradient (reading a diagonal sends the gradient
back onto it; writing one reads it back), tril and triu keep their triangle of the
gradient, block_diag slices its gradient into blocks. The grid functions are expands and
stacks of the inputs (views of them, as in torch).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .._inplace import writable_view
from ..function import Function
from ..tensor import Tensor
from . import shape as _shape
from ._dims import normalize_dim
from ..errors import op_error


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _diagonal_positions(xp, length, offset):
    """(rows, cols) of the `length` entries of the diagonal `offset` (> 0 above the main)."""
    k = xp.arange(length)
    return k + max(-offset, 0), k + max(offset, 0)


def _diagonal_length(n_rows, n_cols, offset):
    return max(0, min(n_rows + min(offset, 0), n_cols - max(offset, 0)))


class Diagonal(Function):
    """the entries x[..., i, ..., i + offset, ...] of dims dim1 and dim2, as a last dim
    (a view)"""
    derivative = "d diagonal(x)/dx = 1 on the diagonal (the gradient is written back onto it)"
    is_view = True

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.in_shape, ctx.offset, ctx.dim1, ctx.dim2 = x.shape, offset, dim1, dim2
        out = ctx.xp.diagonal(x, offset, dim1, dim2)
        if not out.size:
            return out
        first = [slice(None)] * x.ndim  # x from the diagonal's first entry on
        first[dim1 % x.ndim], first[dim2 % x.ndim] = slice(max(-offset, 0), None), \
            slice(max(offset, 0), None)
        return writable_view(x[tuple(first)], out)  # writable, as torch's diagonal

    @staticmethod
    def backward(ctx, g):
        return ctx.call(DiagEmbed, g, offset=ctx.offset, dim1=ctx.dim1, dim2=ctx.dim2,
                        shape=ctx.in_shape)


class Diag(Diagonal):
    """the diagonal `offset` of a matrix (a copy, as torch.diag)"""
    is_view = False

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        return Diagonal.forward(ctx, x, offset, dim1, dim2).copy()


class DiagEmbed(Function):
    """zeros of `shape` with x's last dim written on the diagonal `offset` of dims dim1 and
    dim2 (the other dims of x fill the other dims, in order)"""
    op_name = "diag_embed"
    derivative = "d diag_embed(x)/dx = 1 (the gradient's diagonal is read back)"

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2, shape):
        xp = ctx.xp
        ctx.offset, ctx.dim1, ctx.dim2 = offset, dim1, dim2
        out = xp.zeros(shape, dtype=x.dtype)
        rows, cols = _diagonal_positions(xp, x.shape[-1], offset)
        xp.moveaxis(out, (dim1, dim2), (-2, -1))[..., rows, cols] = x
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.call(Diagonal, g, offset=ctx.offset, dim1=ctx.dim1, dim2=ctx.dim2)


class Trace(Function):
    """sum_i x[i, i] of a matrix"""
    derivative = "d trace(x)/dx = the identity matrix"

    @staticmethod
    def forward(ctx, x):
        ctx.in_shape = x.shape
        acc = backend.accumulation_dtype(x.dtype)
        out = ctx.xp.trace(x, dtype=acc)
        return ctx.xp.asarray(out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.in_shape
        eye = backend.array_module(g.data if isinstance(g, Tensor) else g).eye(n, m, dtype=g.dtype)
        return g * eye


class Tril(Function):
    """x with the entries above the diagonal `diagonal` set to 0 (last two dims)"""
    derivative = "d tril(x)/dx = 1 on and below the diagonal, else 0"

    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.diagonal = diagonal
        return ctx.xp.tril(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(Tril, g, diagonal=ctx.diagonal)


class Triu(Function):
    """x with the entries below the diagonal `diagonal` set to 0 (last two dims)"""
    derivative = "d triu(x)/dx = 1 on and above the diagonal, else 0"

    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.diagonal = diagonal
        return ctx.xp.triu(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(Triu, g, diagonal=ctx.diagonal)


class BlockDiag(Function):
    """the matrices placed along the diagonal of a zero matrix"""
    op_name = "block_diag"
    derivative = "d block_diag(A, B, ...)/dA = 1 on A's block"

    @staticmethod
    def forward(ctx, *blocks, dtype):
        xp = ctx.xp
        mats = [b.reshape(_as_matrix_shape(b.shape)) for b in blocks]
        ctx.shapes = [b.shape for b in blocks]
        ctx.corners = []
        rows = sum(m.shape[0] for m in mats)
        cols = sum(m.shape[1] for m in mats)
        out = xp.zeros((rows, cols), dtype=dtype)
        r = c = 0
        for m in mats:
            ctx.corners.append((r, c, m.shape[0], m.shape[1]))
            out[r:r + m.shape[0], c:c + m.shape[1]] = m
            r, c = r + m.shape[0], c + m.shape[1]
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g[r:r + h, c:c + w].reshape(shape) if needed else None
                     for (r, c, h, w), shape, needed
                     in zip(ctx.corners, ctx.shapes, ctx.needs_input_grad))


def _as_matrix_shape(shape):
    return {0: (1, 1), 1: (1,) + tuple(shape)}.get(len(shape), tuple(shape))


# ---------------------------------------------------------------- the public functions
def _pair_dims(op, ndim, dim1, dim2):
    d1, d2 = normalize_dim(dim1, ndim, op, "dim1"), normalize_dim(dim2, ndim, op, "dim2")
    if d1 == d2:
        raise op_error(ValueError, op, f"dim1 and dim2 name the same dim ({dim1}, {dim2})")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The view of the diagonal `offset` (> 0 above the main) of dims dim1 and dim2, as a
    new last dim (torch.diagonal)."""
    x = _tensor(input)
    if x.ndim < 2:
        raise op_error(ValueError, "diagonal", f"needs a tensor with at least 2 dims, got "
                                               f"shape {x.shape}")
    d1, d2 = _pair_dims("diagonal", x.ndim, dim1, dim2)
    return Diagonal.apply(x, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose diagonal `offset` of dims dim1 and dim2 holds input's last dim, zeros
    elsewhere (torch.diag_embed)."""
    x = _tensor(input)
    if x.ndim == 0:
        raise op_error(ValueError, "diag_embed", "needs a tensor with at least 1 dim")
    d1, d2 = _pair_dims("diag_embed", x.ndim + 1, dim1, dim2)
    n = x.shape[-1] + abs(int(offset))
    shape = list(x.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return DiagEmbed.apply(x, offset=int(offset), dim1=d1, dim2=d2, shape=tuple(shape))


def diag(input, diagonal=0):
    """1-D input: the square matrix with input on its diagonal `diagonal`; 2-D input: that
    diagonal of it, as a copy (torch.diag)."""
    x = _tensor(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x.ndim == 2:
        return Diag.apply(x, offset=int(diagonal), dim1=0, dim2=1)
    raise op_error(ValueError, "diag", f"expects a 1-D or 2-D tensor, got shape {x.shape} "
                                       "(diagonal and diag_embed handle batches)")


def trace(input):
    """The sum of a matrix's main diagonal (torch.trace); integer inputs give int64."""
    x = _tensor(input)
    if x.ndim != 2:
        raise op_error(ValueError, "trace", f"expects a matrix (2-D), got shape {x.shape}")
    if x.dtype.kind in "biu":
        x = x.to(dtype=backend.int64)
    return Trace.apply(x)


def _tri(op, cls, input, diagonal):
    x = _tensor(input)
    if x.ndim < 2:
        raise op_error(ValueError, op, f"needs a tensor with at least 2 dims, got shape "
                                       f"{x.shape}")
    return cls.apply(x, diagonal=int(diagonal))


def tril(input, diagonal=0):
    """input's lower triangle: entries above the diagonal `diagonal` (> 0 above the main)
    set to 0, on the last two dims (torch.tril)."""
    return _tri("tril", Tril, input, diagonal)


def triu(input, diagonal=0):
    """input's upper triangle: entries below the diagonal `diagonal` set to 0, on the last
    two dims (torch.triu)."""
    return _tri("triu", Triu, input, diagonal)


def _unpack(tensors):
    """f(a, b, c) and f([a, b, c]) alike."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tensors


def block_diag(*tensors):
    """The matrices (0-d as 1 x 1, 1-D as one row) along the diagonal of a zero matrix
    (torch.block_diag); dtypes promote."""
    blocks = [_tensor(t) for t in _unpack(tensors)]
    if not blocks:
        return Tensor._make(np.zeros((1, 0), dtype=backend.float32), None, False)
    for b in blocks:
        if b.ndim > 2:
            raise op_error(ValueError, "block_diag", f"expects tensors with at most 2 dims, "
                                                     f"got shape {b.shape}")
    dtype = np.result_type(*[b.data for b in blocks]) if len(blocks) > 1 else blocks[0].dtype
    return BlockDiag.apply(*blocks, dtype=dtype)


def meshgrid(*tensors, indexing="ij"):
    """Grids from 1-D tensors: output k repeats tensor k along its own dim (torch.meshgrid;
    indexing "ij" (torch's default) gives shape (n_1, n_2, ...), "xy" swaps the first two
    dims, as NumPy's default). The outputs are expanded views of the inputs."""
    tensors = [_tensor(t) for t in _unpack(tensors)]
    if indexing not in ("ij", "xy"):
        raise op_error(ValueError, "meshgrid", f"indexing must be 'ij' or 'xy', got "
                                               f"{indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise op_error(ValueError, "meshgrid", f"expects 0-d or 1-D tensors, got shape "
                                                   f"{t.shape}")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for ax, n in zip(axes, sizes):
        shape[ax] = n
    out = []
    for t, ax in zip(tensors, axes):
        along = [1] * len(tensors)
        along[ax] = t.numel()
        out.append(_shape.broadcast_to(_shape.reshape(t, tuple(along)), tuple(shape)))
    return tuple(out)


def cartesian_prod(*tensors):
    """Every combination of one entry from each 1-D tensor, as rows (torch.cartesian_prod);
    one tensor comes back as it is."""
    tensors = [_tensor(t) for t in _unpack(tensors)]
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _shape.stack([_shape.reshape(g, (-1,)) for g in grids], axis=1)


def _atleast(rank, tensors, make):
    """make(t) for each tensor with fewer than `rank` dims; one tensor in, one out."""
    as_tuple = len(tensors) != 1 or isinstance(tensors[0], (list, tuple))
    out = tuple(make(t) if t.ndim < rank else t for t in map(_tensor, _unpack(tensors)))
    return out if as_tuple else out[0]


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (0-d -> shape (1,)) (torch.atleast_1d)."""
    return _atleast(1, tensors, lambda t: _shape.reshape(t, (1,)))


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d -> (1, 1), (n,) -> (1, n) (torch.atleast_2d)."""
    return _atleast(2, tensors, lambda t: _shape.reshape(t, (1,) * (2 - t.ndim) + t.shape))


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) ->
    (m, n, 1) (torch.atleast_3d)."""
    def make(t):
        shape = {0: (1, 1, 1), 1: (1,) + t.shape + (1,), 2: t.shape + (1,)}[t.ndim]
        return _shape.reshape(t, shape)
    return _atleast(3, tensors, make)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"diag": diag, "diagonal": diagonal, "diag_embed": diag_embed, "trace": trace,
           "tril": tril, "triu": triu}
