"""Hypothesis strategies for autodiff: tensors, shapes, conv/pool geometries, indices,
class labels and probability vectors.

Every strategy draws finite, well-scaled values by default and shrinks towards small,
simple examples; `tensors(avoid_kinks_of=op)` keeps elements away from the op's
non-differentiable points by a margin far larger than a gradient check's step, so that
shrinking (which loves 0.0) can never land on relu's or abs's kink.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from .. import backend
from ..tensor import Tensor
from .kinks import kink_points, near_kink

__all__ = ["tensors", "shapes", "broadcastable_shapes", "conv_geometries", "pool_geometries",
           "index_arrays", "labels", "probabilities", "FLOAT_DTYPES", "ALL_DTYPES",
           "DEFAULT_KINK_MARGIN", "SMALLEST_NONZERO"]

#: The floating dtypes the engine supports (the ones a tensor can require grad with).
FLOAT_DTYPES = (backend.float16, backend.bfloat16, backend.float32, backend.float64)
#: Every dtype `tensors` can draw.
ALL_DTYPES = FLOAT_DTYPES + (backend.int64, backend.bool_)
#: Default distance kept from kinks: 1000 times the default gradient-check step (1e-6),
#: and still representable with room to spare in float16 (spacing ~1e-3 only above 1).
DEFAULT_KINK_MARGIN = 1e-3
#: Floats drawn from bounds are 0 or at least this large in magnitude (well-scaled).
SMALLEST_NONZERO = 1e-6

# Default element bounds: small enough that products and exponentials stay finite in
# float16, wide enough to exercise signs and magnitudes.
_DEFAULT_FLOAT_BOUNDS = (-10.0, 10.0)
_DEFAULT_INT_BOUNDS = (-100, 100)


def _strategy(value):
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _representable_bounds(lo, hi, dtype):
    """[lo, hi] shrunk to the nearest values representable in `dtype` (hypothesis wants
    bounds exactly representable at the float width it draws)."""
    lo_w, hi_w = (float(np.asarray(b, dtype=dtype)) for b in (lo, hi))
    if lo_w < lo:
        lo_w = float(np.nextafter(dtype.type(lo_w), dtype.type(np.inf)))
    if hi_w > hi:
        hi_w = float(np.nextafter(dtype.type(hi_w), dtype.type(-np.inf)))
    if lo_w > hi_w:
        raise InvalidArgument(f"tensors: no {dtype} value lies in [{lo}, {hi}]")
    return lo_w, hi_w


def _away_from(lo, hi, points, margin):
    """The closed pieces of [lo, hi] at distance >= margin from every kink point."""
    pieces, start = [], lo
    for k in points(lo - margin, hi + margin):
        if k - margin >= start:
            pieces.append((start, k - margin))
        start = max(start, k + margin)
    if start <= hi:
        pieces.append((start, hi))
    # Simplest first: hypothesis shrinks one_of towards its first branch.
    return sorted(pieces, key=lambda p: 0.0 if p[0] <= 0.0 <= p[1] else min(abs(p[0]),
                                                                            abs(p[1])))


def _well_scaled(values, lo, hi, dtype):
    """Magnitudes below SMALLEST_NONZERO (or the dtype's smallest normal) become 0 when 0
    is allowed: hypothesis likes 1e-300 and subnormals, which underflow in any product and
    test nothing an autodiff user cares about."""
    if not lo <= 0.0 <= hi:
        return values
    tiny = float(np.finfo(dtype).tiny) if dtype.kind == "f" else 0.0  # bfloat16: 1e-38
    floor = max(SMALLEST_NONZERO, tiny)
    return values.map(lambda v: 0.0 if abs(v) < floor else v)


def _floats_in(lo, hi, dtype):
    """Well-scaled floats of `dtype` in [lo, hi] (bfloat16: float32 values rounded)."""
    if dtype == backend.bfloat16:
        # Hypothesis cannot draw bfloat16 directly: draw float32 values, round them to
        # bfloat16 and keep those that stay inside the bounds after rounding.
        lo32, hi32 = _representable_bounds(lo, hi, backend.float32)
        values = (st.floats(lo32, hi32, width=32)
                  .map(lambda v: float(np.asarray(v, dtype=backend.bfloat16)))
                  .filter(lambda v: lo <= v <= hi))
    else:
        lo_w, hi_w = _representable_bounds(lo, hi, dtype)
        values = st.floats(lo_w, hi_w, width=8 * dtype.itemsize, allow_nan=False,
                           allow_infinity=False)
    return _well_scaled(values, lo, hi, dtype)


def _element_strategy(dtype, elements, kinks, margin):
    """Scalar strategy for one element of `dtype`, respecting `elements` and kinks."""
    if kinks is not None and not backend.is_floating(dtype):
        raise InvalidArgument(f"tensors: avoid_kinks_of needs a floating dtype, got {dtype}")
    if elements is not None and not isinstance(elements, tuple):
        if kinks is None:
            return elements  # a user strategy, used as is
        return elements.filter(lambda v: not near_kink(kinks, float(v), margin))
    if dtype == backend.bool_:
        if elements is not None:
            raise InvalidArgument("tensors: bounds make no sense for dtype bool; pass "
                                  "elements=None or a strategy of booleans")
        return st.booleans()
    if dtype.kind in "iu":
        lo, hi = elements if elements is not None else _DEFAULT_INT_BOUNDS
        return st.integers(math.ceil(lo), math.floor(hi))
    lo, hi = elements if elements is not None else _DEFAULT_FLOAT_BOUNDS
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise InvalidArgument(f"tensors: elements bounds must be finite with lo <= hi, got "
                              f"({lo}, {hi})")
    if kinks is None:
        return _floats_in(lo, hi, dtype)
    branches = []
    for a, b in _away_from(lo, hi, kinks, margin):
        try:
            branches.append(_floats_in(a, b, dtype))
        except InvalidArgument:
            continue  # a piece too narrow to hold a value of this dtype
    if not branches:
        raise InvalidArgument(f"tensors: no {dtype} value in [{lo}, {hi}] lies at least "
                              f"{margin} away from the kinks {kinks(lo - margin, hi + margin)}")
    return st.one_of(branches)


@st.composite
def tensors(draw, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
            dtype=backend.float32, elements=None, device="cpu", requires_grad=False,
            avoid_kinks_of=None, kink_margin=DEFAULT_KINK_MARGIN):
    """A hypothesis strategy of `ad.Tensor`s.

    shape: a tuple, or a strategy of tuples (default: 0 to 3 dimensions of length 1 to 4).
    dtype: an autodiff/NumPy dtype or name ('float16', 'bfloat16', 'float32', 'float64',
        'int64', 'bool'), or a strategy of them (e.g. `st.sampled_from(FLOAT_DTYPES)`).
    elements: None for the defaults (floats in [-10, 10], integers in [-100, 100], any
        bool), a `(lo, hi)` pair of inclusive bounds, or a hypothesis strategy of Python
        scalars. Values are always finite unless your own strategy produces NaN/Inf, and
        floats drawn from bounds are well-scaled: 0 or at least 1e-6 in magnitude (no
        1e-300s or subnormals, which only underflow).
    device: 'cpu', 'cuda' or 'cuda:N' (the array is created on the host and moved there).
    requires_grad: make the drawn tensors leaves that require grad (floating dtypes only;
        an integer or bool dtype raises `hypothesis.errors.InvalidArgument`).
    avoid_kinks_of: an op (`ad.relu`, `F.leaky_relu`, `nn.ReLU`, your Function subclass
        with a `kinks` attribute, a name such as "abs"), a kink point, or a list of them:
        every element is drawn at least `kink_margin` away from those points (see
        `ad.testing.kinks`). Keep `kink_margin` well above the check's `eps` (1e-6).
    """
    if kink_margin <= 0 or not math.isfinite(kink_margin):
        raise InvalidArgument(f"tensors: kink_margin must be a positive number, got "
                              f"{kink_margin}")
    shape = tuple(draw(_strategy(shape)))
    dt = backend.as_dtype(draw(_strategy(dtype)))
    if dt not in ALL_DTYPES:
        raise InvalidArgument(f"tensors: unsupported dtype {dt}; use one of "
                              f"{[str(d) for d in ALL_DTYPES]}")
    if requires_grad and not backend.is_floating(dt):
        raise InvalidArgument(f"tensors: requires_grad=True needs a floating dtype, got {dt}")
    kinks = None if avoid_kinks_of is None else kink_points(avoid_kinks_of)
    elem = _element_strategy(dt, elements, kinks, kink_margin)
    # bfloat16 is not a dtype hypothesis knows: draw float32 holding bfloat16 values.
    host_dtype = backend.float32 if dt == backend.bfloat16 else dt
    arr = draw(hnp.arrays(host_dtype, shape, elements=elem))
    return Tensor(arr.astype(dt), device=device, requires_grad=requires_grad)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """A strategy of shape tuples: `min_dims` to `max_dims` axes of `min_side` to
    `max_side` elements each (hypothesis' `array_shapes`, with small defaults)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """A hypothesis strategy of `n`-tuples of shapes that broadcast together (NumPy rules).

    The broadcast result is `numpy.broadcast_shapes(*shapes)`; it has between `min_dims`
    and `max_dims` dimensions, each of length `min_side` to `max_side`. Individual shapes
    may have fewer dimensions and length-1 axes, which is what exercises broadcasting.
    """
    if n < 1:
        raise InvalidArgument(f"broadcastable_shapes: n must be >= 1, got {n}")
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: tuple(b.input_shapes))


# ---------------------------------------------------------------- conv and pool geometry

def _bounds(value, name, where, least):
    """An int or an inclusive (lo, hi) range, checked: least <= lo <= hi."""
    lo, hi = (value, value) if isinstance(value, int) else tuple(value)
    if not (isinstance(lo, int) and isinstance(hi, int) and least <= lo <= hi):
        raise InvalidArgument(f"{where}: {name} must be an int or an inclusive (lo, hi) "
                              f"range of ints >= {least}, got {value!r}")
    return lo, hi


def _pair_of(draw, lo, hi, square):
    first = draw(st.integers(lo, hi))
    return (first, first) if square else (first, draw(st.integers(lo, hi)))


def _spatial_size(draw, size, span):
    """A length that holds a window of extent `span` (after padding); >= 1."""
    lo, hi = size
    least = max(lo, span, 1)
    return draw(st.integers(least, max(hi, least)))


def _multiple_of(draw, g, bounds):
    """A multiple of g in the inclusive range `bounds` (g itself when none lies in it)."""
    lo, hi = bounds
    least = max(-(-lo // g), 1)
    return g * draw(st.integers(least, max(hi // g, least)))


@st.composite
def conv_geometries(draw, batch=(1, 2), in_channels=(1, 3), out_channels=(1, 3),
                    size=(1, 6), kernel_size=(1, 3), stride=(1, 2), padding=(0, 2),
                    dilation=(1, 2), square=False, groups=1):
    """Valid 2-D convolution geometries, as dicts ready for `ad.conv2d`:

        g = draw(conv_geometries())
        x = ad.randn(*g["input_shape"]); w = ad.randn(*g["weight_shape"])
        y = ad.conv2d(x, w, stride=g["stride"], padding=g["padding"], dilation=g["dilation"],
                      groups=g["groups"])
        assert y.shape == g["output_shape"]

    Keys: input_shape (N, C_in, H, W), weight_shape (C_out, C_in / groups, kH, kW),
    bias_shape (C_out,), stride, padding, dilation ((h, w) pairs), groups and output_shape.
    Each argument is an int or an inclusive (lo, hi) range; `size` bounds H and W (raised
    where a kernel needs more room, so every drawn geometry is valid); C_in and C_out are
    multiples of the drawn groups (raised to it where their range lies below it).
    `square=True` uses the same value for height and width.
    """
    where = "conv_geometries"
    n = draw(st.integers(*_bounds(batch, "batch", where, 1)))
    g = draw(st.integers(*_bounds(groups, "groups", where, 1)))
    c_in = _multiple_of(draw, g, _bounds(in_channels, "in_channels", where, 1))
    c_out = _multiple_of(draw, g, _bounds(out_channels, "out_channels", where, 1))
    sizes = _bounds(size, "size", where, 1)
    kernel = _pair_of(draw, *_bounds(kernel_size, "kernel_size", where, 1), square)
    strides = _pair_of(draw, *_bounds(stride, "stride", where, 1), square)
    pads = _pair_of(draw, *_bounds(padding, "padding", where, 0), square)
    dils = _pair_of(draw, *_bounds(dilation, "dilation", where, 1), square)
    hw, out_hw = [], []
    for axis in (0, 1):
        span = dils[axis] * (kernel[axis] - 1) + 1
        if square and axis == 1:
            length = hw[0]
        else:
            length = _spatial_size(draw, sizes, span - 2 * pads[axis])
        hw.append(length)
        out_hw.append((length + 2 * pads[axis] - span) // strides[axis] + 1)
    return {"input_shape": (n, c_in, hw[0], hw[1]),
            "weight_shape": (c_out, c_in // g, kernel[0], kernel[1]),
            "bias_shape": (c_out,), "stride": strides, "padding": pads, "dilation": dils,
            "groups": g, "output_shape": (n, c_out, out_hw[0], out_hw[1])}


@st.composite
def pool_geometries(draw, batch=(1, 2), channels=(1, 3), size=(1, 6), kernel_size=(1, 3),
                    stride=(1, 3), square=False, ceil_mode=False):
    """Valid 2-D pooling geometries for `ad.max_pool2d` / `ad.avg_pool2d`, as dicts with
    input_shape (N, C, H, W), kernel_size, stride, padding (at most half the kernel, as
    PyTorch requires), ceil_mode and output_shape. Arguments as in `conv_geometries`;
    ceil_mode is False, True, or None to draw either (torch's output size: the windows
    rounded up, less one whose start would lie beyond the input and its left padding)."""
    where = "pool_geometries"
    n = draw(st.integers(*_bounds(batch, "batch", where, 1)))
    c = draw(st.integers(*_bounds(channels, "channels", where, 1)))
    sizes = _bounds(size, "size", where, 1)
    kernel = _pair_of(draw, *_bounds(kernel_size, "kernel_size", where, 1), square)
    strides = _pair_of(draw, *_bounds(stride, "stride", where, 1), square)
    pads = (draw(st.integers(0, kernel[0] // 2)),)
    pads += (pads[0],) if square else (draw(st.integers(0, kernel[1] // 2)),)
    ceil = draw(st.booleans()) if ceil_mode is None else bool(ceil_mode)
    hw, out_hw = [], []
    for axis in (0, 1):
        length = hw[0] if square and axis == 1 else _spatial_size(
            draw, sizes, kernel[axis] - 2 * pads[axis])
        hw.append(length)
        out_hw.append(_pooled_length(length, kernel[axis], strides[axis], pads[axis], ceil))
    return {"input_shape": (n, c, hw[0], hw[1]), "kernel_size": kernel, "stride": strides,
            "padding": pads, "ceil_mode": ceil, "output_shape": (n, c, out_hw[0], out_hw[1])}


def _pooled_length(length, kernel, stride, padding, ceil):
    """torch's pooled output length: floor (or ceil) of (L + 2p - k) / s, plus 1; with
    ceil_mode, a last window starting past the input and its left padding is dropped."""
    span = length + 2 * padding - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= length + padding:
        out -= 1
    return out


# ---------------------------------------------------------------- indices, labels, probabilities

@st.composite
def index_arrays(draw, shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2,
                                                            max_side=4),
                 axis=None, allow_negative=False, device="cpu"):
    """Valid integer index Tensors (int64) into a tensor of `shape`.

    axis=None: a tuple with one index Tensor per dimension of `shape`, each of shape
        `result_shape`, for advanced indexing: `x[idx]` has shape `result_shape`.
    axis=k: one index Tensor of shape `result_shape` with values along axis k (for
        `gather`-style ops, `embedding`, `index_select`).
    allow_negative: also draw negative indices (counted from the end, NumPy/PyTorch
        style); by default indices are in [0, size).
    `shape` and `result_shape` may be tuples or strategies.
    """
    shape = tuple(draw(_strategy(shape)))
    out_shape = tuple(draw(_strategy(result_shape)))
    axes = range(len(shape)) if axis is None else [axis]
    if axis is not None and not -len(shape) <= axis < len(shape):
        raise InvalidArgument(f"index_arrays: axis {axis} is out of range for shape {shape}")
    if any(shape[a] < 1 for a in axes):
        raise InvalidArgument(f"index_arrays: cannot index an empty axis of shape {shape}")
    if not shape:
        raise InvalidArgument("index_arrays: a 0-d tensor has nothing to index")
    made = []
    for a in axes:
        lo = -shape[a] if allow_negative else 0
        arr = draw(hnp.arrays(np.int64, out_shape, elements=st.integers(lo, shape[a] - 1)))
        made.append(Tensor(arr, device=device))
    return made[0] if axis is not None else tuple(made)


@st.composite
def labels(draw, num_classes=st.integers(2, 5), shape=hnp.array_shapes(min_dims=1,
                                                                       max_dims=1,
                                                                       max_side=8),
           device="cpu"):
    """Class-label Tensors (int64) with values in [0, num_classes), for cross_entropy,
    nll_loss, one_hot and friends. `num_classes` and `shape` may be ints/tuples or
    strategies; an int `shape` means (shape,)."""
    k = draw(_strategy(num_classes))
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise InvalidArgument(f"labels: num_classes must be an int >= 1, got {k!r}")
    drawn = draw(_strategy(shape))
    shape = (drawn,) if isinstance(drawn, (int, np.integer)) else tuple(drawn)
    arr = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, int(k) - 1)))
    return Tensor(arr, device=device)


@st.composite
def probabilities(draw, shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), axis=-1,
                  dtype=backend.float32, allow_zero=False, device="cpu", requires_grad=False):
    """Tensors of probability vectors: non-negative, summing to 1 along `axis` (to the
    dtype's rounding). Every probability is > 0 unless `allow_zero=True` (then some may
    be exactly 0, which exercises log(0) handling). `shape` may be a strategy."""
    shape = tuple(draw(_strategy(shape)))
    if not shape:
        raise InvalidArgument("probabilities: shape needs at least one axis")
    if not -len(shape) <= axis < len(shape):
        raise InvalidArgument(f"probabilities: axis {axis} is out of range for shape {shape}")
    dt = backend.as_dtype(draw(_strategy(dtype)))
    if not backend.is_floating(dt):
        raise InvalidArgument(f"probabilities: dtype must be floating, got {dt}")
    least = 0.0 if allow_zero else 0.01
    weights = draw(hnp.arrays(np.float64, shape, elements=st.floats(least, 1.0)))
    total = weights.sum(axis=axis, keepdims=True)
    if allow_zero:
        # a slice of all zeros has no distribution: make it uniform
        weights = np.where(total == 0, 1.0, weights)
        total = weights.sum(axis=axis, keepdims=True)
    return Tensor((weights / total).astype(dt), device=device, requires_grad=requires_grad)
