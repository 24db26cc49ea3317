"""Tensor creation: from data, constant fills, ranges, and seeded random numbers."""
from __future__ import annotations

import numbers
import operator

import numpy as np

from . import backend
from . import random as _random
from .errors import op_error
from .random import manual_seed  # noqa: F401  (ad.manual_seed: seeds every default generator)
from .tensor import Tensor

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
           "zeros_like", "ones_like", "full_like", "randn", "rand", "randint",
           "randn_like", "rand_like", "randint_like", "randperm", "manual_seed"]


def tensor(data, dtype=None, device=None, requires_grad=False, name=None) -> Tensor:
    """A new leaf tensor with its own copy of data (torch.tensor): Python floats/lists
    default to float32, NumPy arrays and tensors keep their dtype. A later change to `data`
    does not show in the tensor; ad.as_tensor / ad.from_numpy share memory instead."""
    if isinstance(data, Tensor):
        data = data.data
    out = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad, name=name)
    if out.data is data or getattr(out.data, "base", None) is data:  # nothing copied yet
        out.data = out.data.copy()
    return out


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """data as a tensor, sharing its memory where it can (torch.as_tensor): a Tensor of the
    requested dtype and device is returned as it is, an array of them is wrapped without a
    copy; anything else is converted as ad.tensor does."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing the NumPy array's memory and dtype (torch.from_numpy): writes to
    either show in the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    return Tensor._make(ndarray, None, False) if _supported(ndarray.dtype) else Tensor(ndarray)


def _supported(dtype) -> bool:
    return dtype.kind in "biuf" or dtype == backend.bfloat16


def _as_size(s):
    try:
        return operator.index(s)  # ints, NumPy integers, integer 0-d tensors; not floats
    except TypeError:
        return None


def _shape(shape, fn="zeros"):
    """`f(2, 3)`, `f((2, 3))` or `f([2, 3])` -> (2, 3), checked."""
    if len(shape) == 1 and _as_size(shape[0]) is None:
        try:
            shape = tuple(shape[0])
        except TypeError:
            raise TypeError(f"{fn}: shape must be integers or a sequence of them, got "
                            f"{shape[0]!r}") from None
    out = tuple(_as_size(s) for s in shape)
    if any(s is None for s in out):
        raise TypeError(f"{fn}: shape must be integers, got {tuple(shape)!r}")
    if any(s < 0 for s in out):
        raise ValueError(f"{fn}: negative dimension in shape {out}")
    return out


def _finish(arr, requires_grad, name=None):
    t = Tensor._make(arr, None, False)
    if requires_grad:
        t.requires_grad_(True)
    if name is not None:
        t.name = name
    return t


def _module(device):
    device = backend.parse_device(device)
    return backend.module_for_device(device), device


def full(shape, value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of `shape` filled with `value` (float32 by default for floats)."""
    _check_number("full", "fill_value", value)
    xp, _ = _module(device)
    if dtype is None:
        dtype = (backend.bool_ if isinstance(value, bool) else
                 backend.int64 if isinstance(value, int) else backend.float32)
    shape = _shape((shape,), "full")
    return _finish(xp.full(shape, value, dtype=backend.as_dtype(dtype)), requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_shape(shape, "zeros"), 0.0, dtype or backend.float32, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_shape(shape, "ones"), 1.0, dtype or backend.float32, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, _ = _module(device)
    return _finish(xp.empty(_shape(shape, "empty"), dtype=backend.as_dtype(dtype) or backend.float32),
                   requires_grad)


def _like(x, fill, dtype, device, requires_grad):
    dtype = dtype or x.dtype
    device = device or x.device
    return full(x.shape, fill, dtype, device, requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(x, 0, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(x, 1, dtype, device, requires_grad)


def full_like(x, value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(x, value, dtype, device, requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    for name, value in (("start", start), ("end", stop), ("step", step)):
        _check_number("arange", name, value)
    if step == 0:
        raise _random.op_error(ValueError, "arange", "step must be nonzero")
    xp, _ = _module(device)
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, stop, step))
        dtype = backend.int64 if ints else backend.float32
    return _finish(xp.arange(start, stop, step, dtype=backend.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive (torch.linspace); float32
    by default; an integer dtype truncates each value toward zero, as torch does."""
    xp, _ = _module(device)
    dtype = backend.as_dtype(dtype) or backend.float32
    _check_steps("linspace", steps)
    if dtype == backend.bool_:
        raise TypeError("linspace: dtype bool is not supported (as in torch); use a float "
                        "or integer dtype")
    if backend.is_floating(dtype):
        return _finish(xp.linspace(start, end, steps, dtype=dtype), requires_grad)
    return _finish(_integer_linspace(xp, start, end, steps).astype(dtype), requires_grad)


def _check_steps(op, steps) -> None:
    """steps must be a non-negative int (torch raises for -1; NumPy's message names no op)."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise op_error(TypeError, op, f"steps must be an int, got {steps!r} "
                                      f"({type(steps).__name__})")
    if steps < 0:
        raise op_error(ValueError, op, f"steps must be >= 0 (the number of values), got {steps}")


def _integer_linspace(xp, start, end, steps):
    """torch's integer linspace: start and end truncated to integers first, the step in
    float64, the first half counted up from start and the second half down from end, each
    value truncated toward zero."""
    start, end = float(int(start)), float(int(end))
    if steps == 1:
        return xp.asarray([start]).astype(backend.float64)
    step = (end - start) / (steps - 1)
    index = xp.arange(steps, dtype=backend.float64)
    values = xp.where(index < steps // 2, start + step * index,
                      end - step * (steps - 1 - index))
    return xp.trunc(values)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m (n x n) identity matrix (torch.eye)."""
    for name, value in (("n", n), ("m", n if m is None else m)):
        _shape((value,), "eye")  # an int >= 0, else TypeError / ValueError naming eye
    xp, _ = _module(device)
    return _finish(xp.eye(n, m, dtype=backend.as_dtype(dtype) or backend.float32), requires_grad)


def _check_number(op, name, value) -> None:
    """A real number (a 0-d tensor counts), else a TypeError naming op and argument."""
    if isinstance(value, Tensor) and value.ndim == 0:
        return
    if not isinstance(value, (numbers.Real, np.generic)) or isinstance(value, np.str_):
        raise _random.op_error(TypeError, op, f"{name} must be a number, got {value!r} "
                               f"({type(value).__name__})")


def _random_floats(op, sampler, shape, size, generator, dtype, device, requires_grad):
    if size is not None:
        if shape:
            raise op_error(TypeError, op, "give the shape positionally or as size=, "
                                                  "not both")
        shape = (size,)
    shape = _shape(shape, op)
    device = backend.parse_device(device)
    dtype = backend.as_dtype(dtype) or backend.float32
    if not backend.is_floating(dtype):
        raise op_error(TypeError, op, f"dtype must be a floating type, got {dtype}")
    return _finish(sampler(_random.resolve(generator, device, op), shape, dtype), requires_grad)


def randn(*shape, size=None, generator=None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """Samples of N(0, 1) (float32 by default) from `generator` (default: the device's
    default generator, seeded by ad.manual_seed)."""
    return _random_floats("randn", _random.normal_array, shape, size, generator, dtype, device,
                          requires_grad)


def rand(*shape, size=None, generator=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """Samples of U[0, 1) (float32 by default), never 1 even in float16/bfloat16."""
    return _random_floats("rand", _random.uniform_array, shape, size, generator, dtype, device,
                          requires_grad)


def randn_like(input, dtype=None, *, generator=None, device=None,
               requires_grad=False) -> Tensor:
    """randn with input's shape, dtype and device (unless given)."""
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype,
                 device=device or input.device, requires_grad=requires_grad)


def rand_like(input, dtype=None, *, generator=None, device=None,
              requires_grad=False) -> Tensor:
    """rand with input's shape, dtype and device (unless given)."""
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def _int_arg(op, name, value):
    try:
        return operator.index(value)
    except TypeError:
        raise op_error(TypeError, op, f"{name} must be an integer, got "
                                              f"{value!r}") from None


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers uniform on [low, high), int64 by default: torch's `randint(high, size)` and
    `randint(low, high, size)` (size defaults to (), a 0-d tensor)."""
    op = "randint"
    if size is None and high is not None and _as_size(high) is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    shape = _shape((() if size is None else size,), op)
    low, high = _int_arg(op, "low", low), _int_arg(op, "high", high)
    if not low < high:
        raise op_error(ValueError, op, f"needs low < high, got low={low}, "
                                               f"high={high}")
    device = backend.parse_device(device)
    dtype = backend.as_dtype(dtype) or backend.int64
    _random.check_integer_range(op, low, high, dtype)
    arr = _random.integer_array(_random.resolve(generator, device, op), low, high, shape, dtype)
    return _finish(arr, requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """randint with input's shape, dtype and device: `randint_like(x, high)` or
    `randint_like(x, low, high)`."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A uniformly random permutation of 0..n-1 (int64 by default)."""
    op = "randperm"
    n = _int_arg(op, "n", n)
    if n < 0:
        raise op_error(ValueError, op, f"n must be >= 0, got {n}")
    device = backend.parse_device(device)
    dtype = backend.as_dtype(dtype) or backend.int64
    if n:
        _random.check_integer_range(op, 0, n, dtype)
    arr = _random.permutation_array(_random.resolve(generator, device, op), n, dtype)
    return _finish(arr, requires_grad)
