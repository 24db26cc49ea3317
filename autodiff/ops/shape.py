"""Shape ops: reshape, transpose, broadcast, concatenate/stack/split, pad. Their gradients
only move values around, so each backward is the inverse rearrangement."""
from __future__ import annotations

from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from .reduce import normalize_axis


def _shape_arg(shape):
    """Accept reshape(2, 3) as well as reshape((2, 3))."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return tuple(int(s) for s in shape)


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
        return g.transpose(tuple(inverse))


class BroadcastTo(Function):
    """x repeated along broadcast axes"""
    op_name = "broadcast_to"
    derivative = "d broadcast(x)/dx = sum over the broadcast axes"
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return ctx.xp.broadcast_to(x, shape)
        except ValueError:
            raise op_error(ValueError, "broadcast_to",
                           f"cannot broadcast shape {x.shape} to {shape}") from None

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
        ctx.axis = normalize_axis(axis, xs[0].ndim, "concatenate")[0]
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
        ctx.axis = normalize_axis(axis, xs[0].ndim + 1, "stack")[0]
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
    shape = _shape_arg(shape)
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if shape.count(-1) > 1 or known == 0 or x.size % known:
            raise op_error(ValueError, "reshape",
                           f"cannot reshape a tensor of shape {x.shape} into {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x, *axes):
    """Permute axes; no axes reverses them (like NumPy)."""
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    if len(axes) != x.ndim:
        raise op_error(ValueError, "transpose",
                       f"got {len(axes)} axes for a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=tuple(axes))


permute = transpose


def swapaxes(x, a, b):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


def broadcast_to(x, shape):
    shape = tuple(shape)
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def squeeze(x, axis=None):
    """Remove axes of length one (all of them, or the given ones)."""
    if axis is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise op_error(ValueError, "squeeze", f"axis {a} of shape {x.shape} has length "
                                                      f"{x.shape[a]}, not 1")
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def unsqueeze(x, axis):
    """Insert an axis of length one at `axis` (negative counts from the new end)."""
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise op_error(ValueError, "unsqueeze",
                       f"axis {axis} out of range for a result with {nd} dims")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])




def flatten(x, start_axis=0, end_axis=-1):
    """Merge axes start_axis..end_axis into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_axis % x.ndim, end_axis % x.ndim
    if s > e:
        raise op_error(ValueError, "flatten",
                       f"start_axis {start_axis} comes after end_axis {end_axis}")
    merged = 1
    for n in x.shape[s:e + 1]:
        merged *= n
    return reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1:])


def concatenate(tensors, axis=0):
    return Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis=0):
    return Stack.apply(*tensors, axis=axis)


def split(x, indices_or_sections, axis=0):
    """Split like numpy.split: a number of equal sections or a list of split indices."""
    axis = normalize_axis(axis, x.ndim, "split")[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise op_error(ValueError, "split", f"axis {axis} of length {n} cannot be split into "
                                                f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    lead = (slice(None),) * axis
    return [x[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]


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
