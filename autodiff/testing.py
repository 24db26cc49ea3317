"""Property-based testing helpers for your own ops, layers and models.

This module needs `hypothesis` (the `test` extra); `import autodiff` does not import it,
`ad.testing` is loaded on first use.

    import numpy as np
    import autodiff as ad
    from hypothesis import given

    @given(ad.testing.tensors(shape=(3, 4), dtype=ad.float64, elements=(-2, 2),
                              requires_grad=True))
    def test_my_op_gradient(x):
        ad.testing.assert_grads_close(my_op, x)

    @given(ad.testing.broadcastable_shapes(2))
    def test_my_binary_op_broadcasts(shapes):
        a, b = (ad.randn(*s) for s in shapes)
        assert my_binary_op(a, b).shape == np.broadcast_shapes(*shapes)

Three helpers:

- `tensors(shape, dtype, elements, device, requires_grad)`: a hypothesis strategy of
  `ad.Tensor`s with bounded, finite values (no NaN/Inf unless you pass your own element
  strategy). `shape` and `dtype` may be fixed values or strategies.
- `broadcastable_shapes(n, ...)`: a strategy of `n` shapes that broadcast together
  (NumPy rules), built on `hypothesis.extra.numpy.mutually_broadcastable_shapes`.
- `assert_grads_close(fn, *inputs)`: checks the analytic gradients of `fn` (backward)
  against central differences in float64, via `ad.gradcheck`, and raises an
  `AssertionError` naming the function, the input, the element and both values.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from . import backend
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor

__all__ = ["tensors", "broadcastable_shapes", "assert_grads_close", "FLOAT_DTYPES",
           "ALL_DTYPES"]

#: The floating dtypes the engine supports (the ones a tensor can require grad with).
FLOAT_DTYPES = (backend.float16, backend.bfloat16, backend.float32, backend.float64)
#: Every dtype `tensors` can draw.
ALL_DTYPES = FLOAT_DTYPES + (backend.int64, backend.bool_)

# Default element bounds: small enough that products and exponentials stay finite in
# float16, wide enough to exercise signs and magnitudes.
_DEFAULT_FLOAT_BOUNDS = (-10.0, 10.0)
_DEFAULT_INT_BOUNDS = (-100, 100)


def _element_strategy(dtype, elements):
    """Scalar strategy for one element of `dtype`, respecting `elements`."""
    if elements is not None and not isinstance(elements, tuple):
        return elements  # a user strategy, used as is
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
    if dtype == backend.bfloat16:
        # Hypothesis cannot draw bfloat16 directly: draw float32 values, round them to
        # bfloat16 and keep those that stay inside the bounds after rounding.
        lo32, hi32 = _representable_bounds(lo, hi, backend.float32)
        return (st.floats(lo32, hi32, width=32)
                .map(lambda v: float(np.asarray(v, dtype=backend.bfloat16)))
                .filter(lambda v: lo <= v <= hi))
    lo_w, hi_w = _representable_bounds(lo, hi, dtype)
    return st.floats(lo_w, hi_w, width=8 * dtype.itemsize, allow_nan=False,
                     allow_infinity=False)


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


def _strategy(value):
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


@st.composite
def tensors(draw, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
            dtype=backend.float32, elements=None, device="cpu", requires_grad=False):
    """A hypothesis strategy of `ad.Tensor`s.

    shape: a tuple, or a strategy of tuples (default: 0 to 3 dimensions of length 1 to 4).
    dtype: an autodiff/NumPy dtype or name ('float16', 'bfloat16', 'float32', 'float64',
        'int64', 'bool'), or a strategy of them (e.g. `st.sampled_from(FLOAT_DTYPES)`).
    elements: None for the defaults (floats in [-10, 10], integers in [-100, 100], any
        bool), a `(lo, hi)` pair of inclusive bounds, or a hypothesis strategy of Python
        scalars. Values are always finite unless your own strategy produces NaN/Inf.
    device: 'cpu', 'cuda' or 'cuda:N' (the array is created on the host and moved there).
    requires_grad: make the drawn tensors leaves that require grad (floating dtypes only;
        an integer or bool dtype raises `hypothesis.errors.InvalidArgument`).
    """
    shape = tuple(draw(_strategy(shape)))
    dt = backend.as_dtype(draw(_strategy(dtype)))
    if dt not in ALL_DTYPES:
        raise InvalidArgument(f"tensors: unsupported dtype {dt}; use one of "
                              f"{[str(d) for d in ALL_DTYPES]}")
    if requires_grad and not backend.is_floating(dt):
        raise InvalidArgument(f"tensors: requires_grad=True needs a floating dtype, got {dt}")
    elem = _element_strategy(dt, elements)
    # bfloat16 is not a dtype hypothesis knows: draw float32 holding bfloat16 values.
    host_dtype = backend.float32 if dt == backend.bfloat16 else dt
    arr = draw(hnp.arrays(host_dtype, shape, elements=elem))
    return Tensor(arr.astype(dt), device=device, requires_grad=requires_grad)


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


def _fn_name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def assert_grads_close(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Assert that the gradients backward computes for `fn` match numerical ones.

    fn: maps the inputs to a Tensor, or a tuple of Tensors (non-scalar outputs are checked
        through vector-Jacobian products with fixed random directions).
    inputs: Tensors (and other arguments passed through unchanged). The tensors with
        `requires_grad=True` are checked; if none requires grad, every floating-point
        tensor is. Inputs are copied to float64 on the cpu, so the originals (any dtype or
        device) are never modified.
    eps: step of the central differences; atol/rtol: the tolerance
        |analytic - numerical| <= atol + rtol * |numerical| for every element.

    Raises AssertionError (an `ad.GradcheckError`) naming `fn`, the input and the element
    with the worst mismatch, with the analytic and numerical values.
    """
    tensors_in = [x for x in inputs if isinstance(x, Tensor)]
    if not tensors_in:
        raise ValueError("assert_grads_close: pass at least one Tensor input")
    check_all = not any(x.requires_grad for x in tensors_in)
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor):
            wants = x.requires_grad or (check_all and backend.is_floating(x.dtype))
            host = backend.to_device(x.data, "cpu")
            data = host.astype(np.float64) if backend.is_floating(x.dtype) else host.copy()
            x = Tensor(data, requires_grad=wants)
        prepared.append(x)
    if not any(isinstance(x, Tensor) and x.requires_grad for x in prepared):
        raise ValueError("assert_grads_close: no floating-point tensor input to check "
                         f"(dtypes {[str(x.dtype) for x in tensors_in]})")
    probe = fn(*prepared)
    outs = probe if isinstance(probe, (tuple, list)) else (probe,)
    if not any(isinstance(o, Tensor) and o.requires_grad for o in outs):
        raise AssertionError(f"assert_grads_close({_fn_name(fn)}): the output does not "
                             "depend differentiably on any input (no graph was recorded)")
    try:
        gradcheck(fn, tuple(prepared), eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as err:
        raise GradcheckError(f"assert_grads_close({_fn_name(fn)}): {err}") from None
