"""Shape ops: reshape, transpose, broadcast, concatenate/stack/split, pad. Their gradients
only move values around, so each backward is the inverse rearrangement."""
from __future__ import annotations

import builtins
import math
import operator

from .._inplace import writable_view
from ..function import Function
from ..tensor import Tensor
from ._dims import normalize_dim, normalize_dims, pick, pick_default
from ..errors import op_error


def _shape_arg(shape, op="reshape"):
    """Accept reshape(2, 3) as well as reshape((2, 3)); sizes must be ints (a float is a
    TypeError, as in torch, not truncated)."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise op_error(TypeError, op, f"shape must be ints, got {tuple(shape)!r}") from None


class Reshape(Function):
    """x viewed with another shape"""
    derivative = "d reshape(x)/dx = 1 (values move back)"
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise op_error(ValueError, "reshape",
                           f"cannot reshape a tensor of shape {x.shape} "
                           f"({x.size} elements) into shape {shape}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    """x with its axes permuted"""
    derivative = "d transpose(x)/dx = 1 (values move back)"
    is_view = True

    @staticmethod
    def forward(ctx, x, axes):
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise op_error(ValueError, "transpose", f"axes {axes} are not a permutation of the "
                                                    f"{x.ndim} axes of a tensor of shape {x.shape}")
        ctx.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(ctx.axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return ctx.xp.transpose(g, tuple(inverse))


class BroadcastTo(Function):
    """x repeated along broadcast axes"""
    op_name = "broadcast_to"
    derivative = "d broadcast(x)/dx = sum over the broadcast axes"
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        try:
            out = ctx.xp.broadcast_to(x, shape)
        except ValueError:
            raise op_error(ValueError, "broadcast_to",
                           f"cannot broadcast shape {x.shape} to {shape}") from None
        return writable_view(x, out)  # as torch's expand; writes into repeated entries refuse

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums broadcast gradients back to the input's shape


class Concatenate(Function):
    """inputs joined along an existing axis"""
    derivative = "d concat(x_1..x_k)/dx_i = 1 on x_i's slice"

    @staticmethod
    def forward(ctx, *xs, axis=0):
        if not xs:
            raise op_error(ValueError, "concatenate", "needs at least one tensor")
        if any(x.ndim == 0 for x in xs):
            raise op_error(ValueError, "concatenate", "0-d tensors cannot be concatenated; "
                                                      "use stack, or reshape(1) them")
        ctx.axis = normalize_dim(axis, xs[0].ndim, "concatenate")
        ctx.sizes = [x.shape[ctx.axis] for x in xs]
        try:
            return ctx.xp.concatenate(xs, axis=ctx.axis)
        except ValueError:
            raise op_error(ValueError, "concatenate",
                           "shapes " + ", ".join(str(x.shape) for x in xs)
                           + f" do not match outside axis {ctx.axis}") from None

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        lead = (slice(None),) * ctx.axis
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(g[lead + (slice(start, start + size),)] if needed else None)
            start += size
        return tuple(grads)


class Stack(Function):
    """inputs joined along a new axis"""
    derivative = "d stack(x_1..x_k)/dx_i = 1 on slice i"

    @staticmethod
    def forward(ctx, *xs, axis=0):
        if not xs:
            raise op_error(ValueError, "stack", "needs at least one tensor")
        ctx.axis = normalize_dim(axis, xs[0].ndim + 1, "stack")
        if any(x.shape != xs[0].shape for x in xs):
            raise op_error(ValueError, "stack", "all tensors must have the same shape, got "
                                                + ", ".join(str(x.shape) for x in xs))
        return ctx.xp.stack(xs, axis=ctx.axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[lead + (i,)] if needed else None
                     for i, needed in enumerate(ctx.needs_input_grad))


class Pad(Function):
    """x surrounded by a constant"""
    derivative = "d pad(x)/dx = 1 on the interior"

    @staticmethod
    def forward(ctx, x, pad_width, value=0.0):
        ctx.interior = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return ctx.xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.interior]


def reshape(x, *shape):
    """x with another shape of the same number of elements; one size may be -1 (inferred)
    (torch.reshape)."""
    shape = _shape_arg(shape)
    if any(s < -1 for s in shape):
        bad = next(i for i, s in enumerate(shape) if s < -1)
        raise op_error(ValueError, "reshape", f"invalid size {shape[bad]} at index {bad} of "
                       f"shape {shape} for a tensor of shape {tuple(x.shape)}; sizes must be "
                       ">= 0, or -1 for one inferred size")
    if -1 in shape:
        known, n = 1, x.data.size
        for s in shape:
            if s != -1:
                known *= s
        if shape.count(-1) > 1 or known == 0 or n % known:
            raise op_error(ValueError, "reshape",
                           f"cannot reshape a tensor of shape {x.shape} into {shape}")
        shape = tuple(n // known if s == -1 else s for s in shape)
    # to its own shape too: a new tensor (a view), never x itself, so a hook or
    # retain_grad on the result does not act on x (torch)
    return Reshape.apply(x, shape=shape)


def _dims_arg(dims):
    """permute(2, 0, 1) as well as permute((2, 0, 1))."""
    if len(dims) == 1 and not isinstance(dims[0], int):
        return tuple(dims[0])
    return dims


def permute(input, *dims):
    """input with its dims reordered: result dim i is input dim dims[i] (torch.permute)."""
    dims = normalize_dims(_dims_arg(dims), input.ndim, "permute", shape=input.shape)
    if len(dims) != input.ndim:
        raise op_error(ValueError, "permute", f"dims {dims} must name each of the "
                                              f"{input.ndim} dims of shape {tuple(input.shape)} once")
    return Transpose.apply(input, axes=dims)


def transpose(input, dim0, dim1, *extra):
    """input with dims dim0 and dim1 swapped (torch.transpose; for a permutation of every
    dim use permute)."""
    if extra:
        raise op_error(TypeError, "transpose", f"takes two dims (the pair to swap), got "
                       f"{2 + len(extra)}; to reorder every dim use permute{(dim0, dim1) + extra}")
    return _swapped(input, dim0, dim1, "transpose")


def swapaxes(input, axis0, axis1):
    """input with dims axis0 and axis1 swapped (torch.swapaxes, NumPy's name)."""
    return _swapped(input, axis0, axis1, "swapaxes")


def swapdims(input, dim0, dim1):
    """input with dims dim0 and dim1 swapped (torch.swapdims)."""
    return _swapped(input, dim0, dim1, "swapdims")


def _swapped(input, dim0, dim1, op):
    """The view of input with two dims exchanged; errors name `op`, the name called."""
    ndim = input.ndim
    a, b = normalize_dim(dim0, ndim, op), normalize_dim(dim1, ndim, op)
    axes = list(range(ndim))  # a == b: the identity permutation, still a view (as torch)
    if ndim:
        axes[a], axes[b] = b, a
    return Transpose.apply(input, axes=tuple(axes))


def t(input):
    """The transpose of a tensor of at most 2 dims (torch.t)."""
    return input.t()


def numel(input) -> int:
    """The number of elements of input (torch.numel)."""
    return input.numel()


def reversed_dims(input):
    """input with every dim in reverse order (NumPy's x.T; torch's x.T for ndim != 2,
    which torch deprecates)."""
    return Transpose.apply(input, axes=tuple(range(input.ndim - 1, -1, -1)))


def broadcast_to(x, shape):
    """x broadcast to `shape` without copying (torch.broadcast_to; NumPy's rules)."""
    shape = tuple(shape)
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return BroadcastTo.apply(x, shape=shape)  # a new tensor also for x's own shape (torch)


def squeeze(input, dim=None, *, axis=None):
    """input without its dims of size 1: all of them, or those in dim (an int or a tuple)
    that have size 1; a named dim of another size is left as it is (torch.squeeze)."""
    dim = pick("squeeze", dim, axis)
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        dims = normalize_dims(dim, input.ndim, "squeeze")
        shape = tuple(s for i, s in enumerate(input.shape) if i not in dims or s != 1)
    return reshape(input, shape)


def unsqueeze(input, dim=None, *, axis=None):
    """input with a dim of size 1 inserted at dim (negative counts from the new end)
    (torch.unsqueeze)."""
    dim = pick("unsqueeze", dim, axis)
    if dim is None:
        raise op_error(TypeError, "unsqueeze", "missing the dim to insert")
    d = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    shape = tuple(input.shape)
    return reshape(input, shape[:d] + (1,) + shape[d:])


def flatten(input, start_dim=0, end_dim=-1, *, start_axis=None, end_axis=None):
    """input with dims start_dim..end_dim merged into one (torch.flatten); a 0-d tensor
    becomes shape (1,), and when start_dim == end_dim the input itself is returned (as
    torch). start_axis/end_axis are this library's older names."""
    start_dim = pick_default("flatten", start_dim, start_axis, 0, "start_dim", "start_axis")
    end_dim = pick_default("flatten", end_dim, end_axis, -1, "end_dim", "end_axis")
    if input.ndim == 0:
        normalize_dim(start_dim, 0, "flatten", "start_dim")
        normalize_dim(end_dim, 0, "flatten", "end_dim")
        return reshape(input, (1,))
    s = normalize_dim(start_dim, input.ndim, "flatten", "start_dim")
    e = normalize_dim(end_dim, input.ndim, "flatten", "end_dim")
    if s > e:
        raise op_error(ValueError, "flatten", f"start_dim {start_dim} comes after end_dim "
                                              f"{end_dim} for shape {tuple(input.shape)}")
    if s == e:
        return input  # nothing to merge: the input itself, as torch.flatten documents
    shape = tuple(input.shape)
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def cat(tensors, dim=0, *, axis=None):
    """The tensors joined along an existing dim (torch.cat)."""
    return _joined("cat", tensors, dim, axis)


def concatenate(tensors, dim=0, *, axis=None):
    """The tensors joined along an existing dim (torch.concatenate, NumPy's name of cat)."""
    return _joined("concatenate", tensors, dim, axis)


def concat(tensors, dim=0, *, axis=None):
    """The tensors joined along an existing dim (torch.concat, an alias of cat)."""
    return _joined("concat", tensors, dim, axis)


def _joined(op, tensors, dim, axis):
    """cat under the name `op` that was called (errors name it)."""
    tensors = _sequence_of_tensors(op, tensors)
    return Concatenate.apply(*tensors, axis=pick_default(op, dim, axis, 0))


def stack(tensors, dim=0, *, axis=None):
    """The tensors (all of one shape) joined along a new dim (torch.stack)."""
    return Stack.apply(*_sequence_of_tensors("stack", tensors),
                       axis=pick_default("stack", dim, axis, 0))


def _sequence_of_tensors(op, tensors):
    """cat/stack's argument as a non-empty tuple (a lone Tensor is a TypeError, as torch)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise op_error(TypeError, op, f"expected a list or tuple of tensors, got "
                       f"{type(tensors).__name__}")
    if not tensors:
        raise op_error(ValueError, op, "needs at least one tensor, got an empty sequence")
    return tuple(tensors)


def split(tensor, split_size_or_sections, dim=0, *, axis=None):
    """A tuple of pieces along dim: of split_size_or_sections each (an int; the last piece
    may be smaller), or of the sizes in a list, which must sum to the dim's size
    (torch.split; for NumPy's n equal sections use chunk)."""
    dim = normalize_dim(pick_default("split", dim, axis, 0), tensor.ndim, "split")
    n = tensor.shape[dim]
    sizes = split_size_or_sections
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        if sizes <= 0 and not (sizes == 0 and n == 0):
            raise op_error(ValueError, "split", f"split_size must be a positive int, got {sizes}")
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else []) if n else [0]
    else:
        try:
            sizes = [operator.index(s) for s in sizes]
        except TypeError:
            raise op_error(TypeError, "split", f"split_size_or_sections must be an int or a "
                           f"sequence of ints, got {split_size_or_sections!r} "
                           f"({type(split_size_or_sections).__name__})") from None
        if any(s < 0 for s in sizes) or builtins.sum(sizes) != n:
            raise op_error(ValueError, "split", f"split sizes {sizes} must be non-negative "
                                                f"and sum to the size {n} of dim {dim}")
    lead = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        pieces.append(tensor[lead + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def pad(x, pad_width, value=0.0):
    """Constant padding; pad_width as in numpy.pad ((before, after) per axis, or one pair,
    or one int)."""
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    elif len(pad_width) == 2 and all(isinstance(p, int) for p in pad_width):
        pad_width = (tuple(pad_width),) * x.ndim  # numpy: one (before, after) for all axes
    else:
        pad_width = tuple(tuple(p) for p in pad_width)
        if len(pad_width) == 1:
            pad_width = pad_width * x.ndim
    if len(pad_width) != x.ndim or any(len(p) != 2 or p[0] < 0 or p[1] < 0 for p in pad_width):
        raise op_error(ValueError, "pad",
                       f"pad_width {pad_width} must give non-negative (before, after) "
                       f"pairs for each of the {x.ndim} axes of shape {x.shape}")
    return Pad.apply(x, pad_width=tuple((int(a), int(b)) for a, b in pad_width), value=value)
