"""Rearranging entries: flip, roll, repeat, tile, repeat_interleave (new ops), and torch's
shape helpers built on the shape ops and indexing: expand(_as), view(_as), reshape_as,
narrow, select, chunk, unbind, unflatten, movedim/moveaxis, swapdims, fliplr/flipud.

The new ops' gradients move values back: a flip flips the gradient back, a roll rolls it
back, repeated copies sum their gradients. Views (view, narrow, select, chunk, unbind,
expand) share memory and the version counter with their input, as in torch.
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from ..function import Function
from ..tensor import Tensor
from . import shape as _shape
from ._dims import normalize_dim, normalize_dims
from ..errors import op_error
from .gather import IndexAdd, as_index


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _ints(op, name, values):
    """An int or a sequence of ints (also given as varargs) as a tuple of ints."""
    if len(values) == 1 and not isinstance(values[0], numbers.Integral):
        values = values[0]
    if isinstance(values, numbers.Integral):
        values = (values,)
    try:
        return tuple(int(v) for v in values)
    except TypeError:
        raise op_error(TypeError, op, f"{name} must be ints, got {values!r}") from None


# ---------------------------------------------------------------- new ops
class Flip(Function):
    """x with the order of entries reversed along dims (a copy, as in torch)"""
    derivative = "d flip(x)/dx = 1 (the gradient is flipped back)"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return ctx.xp.flip(x, axis=dims).copy()

    @staticmethod
    def backward(ctx, g):
        return ctx.call(Flip, g, dims=ctx.dims)


class Roll(Function):
    """x shifted cyclically along dims (entries pushed past the end come back at the start);
    dims=None rolls the flattened tensor"""
    derivative = "d roll(x)/dx = 1 (the gradient is rolled back)"

    @staticmethod
    def forward(ctx, x, shifts, dims=None):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.xp.roll(x, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(Roll, g, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims)


class Repeat(Function):
    """x tiled `repeats[d]` times along each dim d (torch's Tensor.repeat)"""
    derivative = "d repeat(x)/dx = the sum of the gradients of all the copies"

    @staticmethod
    def forward(ctx, x, repeats):
        shape = (1,) * (len(repeats) - x.ndim) + x.shape
        ctx.shape, ctx.repeats = shape, repeats
        return ctx.xp.tile(x.reshape(shape), repeats)

    @staticmethod
    def backward(ctx, g):
        # split each dim into (copy, entry) and sum over the copies
        split = tuple(n for pair in zip(ctx.repeats, ctx.shape) for n in pair)
        copies = tuple(range(0, 2 * len(ctx.shape), 2))
        return g.reshape(split).sum(axis=copies)


class RepeatInterleave(Function):
    """each entry of x repeated `repeats` times in place along a dim: [a, b] -> [a, a, b, b]"""
    op_name = "repeat_interleave"
    derivative = "d repeat_interleave(x)/dx_i = the sum of the gradients of x_i's copies"

    @staticmethod
    def forward(ctx, x, repeats, dim):
        xp = ctx.xp
        ctx.in_shape, ctx.dim = x.shape, dim
        ctx.source = xp.repeat(xp.arange(x.shape[dim]), repeats)  # where each copy came from
        return xp.repeat(x, repeats, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(IndexAdd, None, g, index=ctx.source, dim=ctx.dim, shape=ctx.in_shape)


# ---------------------------------------------------------------- flip, roll, repeat, tile
def flip(input, dims=None, *more):
    """input with the order of entries reversed along dims (torch.flip; a copy)."""
    x = _tensor(input)
    if dims is None and not more:
        raise op_error(TypeError, "flip", "missing dims, the dims to flip (e.g. dims=(0,))")
    dims = normalize_dims(_ints("flip", "dims", (dims,) + more), x.ndim, "flip", "dims")
    return Flip.apply(x, dims=() if x.ndim == 0 else dims)


def fliplr(input):
    """input flipped left-right: along dim 1 (torch.fliplr; needs >= 2 dims)."""
    x = _tensor(input)
    if x.ndim < 2:
        raise op_error(ValueError, "fliplr", f"the input must have at least 2 dims, got shape "
                                             f"{x.shape}")
    return Flip.apply(x, dims=(1,))


def flipud(input):
    """input flipped up-down: along dim 0 (torch.flipud; needs >= 1 dim)."""
    x = _tensor(input)
    if x.ndim < 1:
        raise op_error(ValueError, "flipud", "the input must have at least 1 dim, got a 0-d "
                                             "tensor")
    return Flip.apply(x, dims=(0,))


def roll(input, shifts, dims=None):
    """input shifted cyclically by `shifts` along `dims`; dims=None rolls the flattened
    tensor and restores the shape (torch.roll)."""
    x = _tensor(input)
    shifts = _ints("roll", "shifts", (shifts,))
    if dims is None:
        if len(shifts) != 1:
            raise op_error(ValueError, "roll", f"{len(shifts)} shifts need as many dims; "
                                               "without dims, give one shift")
        return Roll.apply(x, shifts=shifts)
    dims = _ints("roll", "dims", (dims,))
    if len(dims) != len(shifts):
        raise op_error(ValueError, "roll", f"shifts {shifts} and dims {dims} must have the "
                                           "same length")
    dims = tuple(normalize_dim(d, x.ndim, "roll") for d in dims)
    if x.ndim == 0:
        return Roll.apply(x, shifts=shifts)
    return Roll.apply(x, shifts=shifts, dims=dims)


def repeat(input, *sizes):
    """input tiled sizes[d] times along each dim (torch's Tensor.repeat: sizes may add
    leading dims, never fewer than input's)."""
    x = _tensor(input)
    sizes = _ints("repeat", "sizes", sizes)
    if len(sizes) < x.ndim:
        raise op_error(ValueError, "repeat", f"got {len(sizes)} repeat sizes for a tensor of "
                                             f"rank {x.ndim}; give at least one per dim")
    if any(s < 0 for s in sizes):
        raise op_error(ValueError, "repeat", f"repeat sizes must be >= 0, got {sizes}")
    return Repeat.apply(x, repeats=sizes)


def tile(input, dims):
    """input tiled dims[d] times along each dim; fewer dims than input's are padded with
    ones in front (torch.tile)."""
    x = _tensor(input)
    dims = _ints("tile", "dims", (dims,))
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each entry repeated `repeats` times in place along dim (flattened when dim is None);
    repeats is an int or one count per entry (torch.repeat_interleave). With one tensor
    argument: the indices repeat_interleave(arange(n), input)."""
    if repeats is None:  # torch.repeat_interleave(repeats)
        counts = _tensor(input)
        xp = backend.array_module(counts.data)
        return Tensor._make(xp.repeat(xp.arange(counts.numel(), dtype=backend.int64),
                                      _counts("repeat_interleave", counts.data, counts.numel())),
                            None, False)
    x = _tensor(input)
    if dim is None:
        x, dim = _shape.reshape(x, (-1,)), 0
    elif x.ndim == 0:
        x = _shape.reshape(x, (1,))
    dim = normalize_dim(dim, x.ndim, "repeat_interleave")
    n = x.shape[dim]
    if isinstance(repeats, numbers.Integral):
        if repeats < 0:
            raise op_error(ValueError, "repeat_interleave", f"repeats must be >= 0, got "
                                                            f"{repeats}")
        counts = int(repeats)
    else:
        arr = as_index("repeat_interleave", repeats, x.data, "repeats")
        counts = _counts("repeat_interleave", arr, n)
    out = RepeatInterleave.apply(x, repeats=counts, dim=dim)
    if output_size is not None and out.shape[dim] != output_size:
        raise op_error(ValueError, "repeat_interleave", f"output_size={output_size} but the "
                       f"repeats give {out.shape[dim]} entries")
    return out


def _counts(op, arr, n):
    """A repeat count per entry (or one for all) as a 1-D int array of length n."""
    arr = arr.reshape(-1)
    if arr.dtype.kind not in "iu":
        raise op_error(TypeError, op, f"repeats must be integers, got dtype {arr.dtype}")
    if arr.size and int(arr.min()) < 0:
        raise op_error(ValueError, op, "repeats must be >= 0")
    if arr.size == 1:
        return int(arr[0])
    if arr.size != n:
        raise op_error(ValueError, op, f"got {arr.size} repeat counts for a dim of size {n}; "
                                       "give one count, or one per entry")
    return arr


# ---------------------------------------------------------------- views and reshapes
def expand(input, *sizes):
    """input broadcast to `sizes` without copying; -1 keeps a dim's size, new dims may be
    added in front (torch's Tensor.expand)."""
    x = _tensor(input)
    sizes = _ints("expand", "sizes", sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise op_error(ValueError, "expand", f"got {len(sizes)} sizes for a tensor of rank "
                                             f"{x.ndim}; give at least one per dim")
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise op_error(ValueError, "expand", f"size -1 is not allowed for the new "
                                                     f"leading dim {i}")
            s = x.shape[i - lead]
        shape.append(s)
    return _shape.broadcast_to(x, tuple(shape))


def expand_as(input, other):
    """input expanded to other's shape (torch's Tensor.expand_as)."""
    return expand(input, _tensor(other).shape)


def view(input, *shape):
    """input with another shape, sharing its memory (torch's Tensor.view): a shape the
    memory layout cannot give without copying (e.g. after a transpose) raises; use
    reshape there."""
    x = _tensor(input)
    shape = _inferred("view", x, _ints("view", "shape", shape))
    if shape == x.shape:
        return _shape.Reshape.apply(x, shape=shape)
    out = x.data.reshape(shape)
    if x.numel() and not backend.array_module(out).may_share_memory(out, x.data):
        raise op_error(RuntimeError, "view", f"a tensor of shape {x.shape} and strides "
                       f"{x.data.strides} cannot be viewed as shape {shape} without copying "
                       "(at least one dim spans two non-contiguous pieces of memory); use "
                       ".reshape(...) instead, or .contiguous() first")
    return _shape.Reshape.apply(x, shape=shape)


def _inferred(op, x, shape):
    """shape with a -1 replaced by the size that keeps x's number of entries."""
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or any(s < -1 for s in shape) or (
            -1 in shape and (known == 0 or x.numel() % known)) or (
            -1 not in shape and known != x.numel()):
        raise op_error(ValueError, op, f"shape {shape} is invalid for a tensor of shape "
                                       f"{x.shape} ({x.numel()} entries)")
    return tuple(x.numel() // known if s == -1 else s for s in shape)


def view_as(input, other):
    """input viewed with other's shape (torch's Tensor.view_as)."""
    return view(input, _tensor(other).shape)


def reshape_as(input, other):
    """input reshaped to other's shape (torch's Tensor.reshape_as)."""
    return _shape.reshape(_tensor(input), _tensor(other).shape)


def narrow(input, dim, start, length):
    """The view input[..., start:start + length, ...] along dim; a negative start counts
    from the end (torch.narrow)."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, "narrow")
    if x.ndim == 0:
        raise op_error(RuntimeError, "narrow", "cannot narrow a 0-d tensor")
    start, n = int(start), x.shape[dim]
    if not -n <= start <= n:
        raise op_error(IndexError, "narrow", f"start {start} is out of range for dim {dim} of "
                                             f"size {n}")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise op_error(IndexError, "narrow", f"start ({start}) + length ({length}) exceeds "
                                             f"dim {dim} of size {n}")
    return x[(slice(None),) * dim + (slice(start, start + length),)]


def select(input, dim, index):
    """The view input[..., index, ...] along dim, which disappears (torch.select)."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, "select")
    if x.ndim == 0:
        raise op_error(IndexError, "select", "cannot select from a 0-d tensor")
    n, index = x.shape[dim], int(index)
    if not -n <= index < n:
        raise op_error(IndexError, "select", f"index {index} is out of range for dim {dim} "
                                             f"of size {n}")
    return x[(slice(None),) * dim + (index,)]


def chunk(input, chunks, dim=0):
    """input split into `chunks` views of ceil(size / chunks) entries along dim (the last
    may be smaller, and there may be fewer chunks), as torch.chunk."""
    x = _tensor(input)
    if chunks <= 0:
        raise op_error(ValueError, "chunk", f"chunks must be > 0, got {chunks}")
    dim = normalize_dim(dim, x.ndim, "chunk")
    if x.ndim == 0:
        raise op_error(RuntimeError, "chunk", "cannot chunk a 0-d tensor")
    n = x.shape[dim]
    if n == 0:
        return tuple(narrow(x, dim, 0, 0) for _ in range(chunks))
    step = math.ceil(n / chunks)
    return tuple(narrow(x, dim, s, min(step, n - s)) for s in range(0, n, step))


def unbind(input, dim=0):
    """The views input[..., i, ...] for every i along dim, as a tuple (torch.unbind)."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, "unbind")
    if x.ndim == 0:
        raise op_error(RuntimeError, "unbind", "cannot unbind a 0-d tensor")
    return tuple(select(x, dim, i) for i in range(x.shape[dim]))


def unflatten(input, dim, sizes):
    """input with dim split into `sizes` (one of them may be -1) (torch.unflatten)."""
    x = _tensor(input)
    dim = normalize_dim(dim, x.ndim, "unflatten")
    sizes = _ints("unflatten", "sizes", (sizes,))
    if not sizes:
        raise op_error(ValueError, "unflatten", "sizes must not be empty")
    n = x.shape[dim] if x.ndim else 1
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (
            -1 not in sizes and known != n):
        raise op_error(ValueError, "unflatten", f"sizes {sizes} do not multiply to the size "
                                                f"{n} of dim {dim}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return _shape.reshape(x, x.shape[:dim] + sizes + x.shape[dim + 1:])


def movedim(input, source, destination):
    """input with the dims `source` moved to the positions `destination`, the other dims
    keeping their order (torch.movedim)."""
    x = _tensor(input)
    source = normalize_dims(source, x.ndim, "movedim", "source")
    destination = normalize_dims(destination, x.ndim, "movedim", "destination")
    if len(source) != len(destination):
        raise op_error(ValueError, "movedim", f"source {source} and destination "
                                              f"{destination} must have the same length")
    order = [None] * x.ndim
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(x.ndim) if d not in source)
    order = tuple(next(rest) if o is None else o for o in order)
    if x.ndim == 0:
        return x
    return _shape.permute(x, order)


moveaxis = movedim


def swapdims(input, dim0, dim1):
    """input with dims dim0 and dim1 exchanged (torch.swapdims / torch.transpose)."""
    return _shape.swapdims(_tensor(input), dim0, dim1)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {name: globals()[name] for name in (
    "flip", "fliplr", "flipud", "roll", "repeat", "tile", "repeat_interleave", "expand",
    "expand_as", "view", "view_as", "reshape_as", "narrow", "select", "chunk", "unbind",
    "unflatten", "movedim", "moveaxis", "swapdims")}
