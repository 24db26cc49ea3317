"""NumPy and DLPack interoperability: NumPy functions called on Tensors run the autodiff op.

* `np.exp(t)`, `np.add(t, 1)`, `arr * t` (NumPy ufuncs, through `Tensor.__array_ufunc__`)
  and `np.mean(t, axis=0)`, `np.concatenate([t, u])` (through `__array_function__`) return
  Tensors and are differentiable: each maps to the autodiff op with NumPy's meaning of its
  arguments (np.std's ddof=0, np.max over several axes, np.split into sections). A NumPy
  function with no autodiff op raises a TypeError naming it (call `.numpy()` first to
  compute on plain arrays, without gradients).
* A NumPy array passed as `out=` is written in place: the makemore update
  `p.data += -lr * p.grad` (p.data an ndarray, p.grad a Tensor) works.
* DLPack: `t.__dlpack__()` / `t.__dlpack_device__()` export a tensor without a copy
  (`torch.from_dlpack(t)`, `np.from_dlpack(t)`, `cupy.from_dlpack(t)`), and
  `ad.from_dlpack(x)` wraps a torch tensor, NumPy array or CuPy array without a copy.
"""
from __future__ import annotations

import builtins
import functools
import inspect

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["array_ufunc", "array_function", "from_dlpack", "dlpack", "dlpack_device"]


# ---------------------------------------------------------------- ufuncs
def _ufunc_op(name):
    """The autodiff function for a NumPy ufunc name, or None."""
    if name in _COMPARISONS:
        return functools.partial(_ew.compare, name)
    if name.startswith("logical_"):
        return functools.partial(_ew.logical, name)
    fn = _UFUNCS.get(name)
    if fn is None:  # ops named as NumPy names them (sin, log1p, arctan2, ...)
        import autodiff
        fn = getattr(autodiff, name, None)
    return fn if callable(fn) and not isinstance(fn, type) else None


def array_ufunc(ufunc, method, *inputs, out=None, **kwargs):
    """Tensor.__array_ufunc__: run the autodiff op for `ufunc` (see the module docstring)."""
    name = ufunc.__name__
    if method != "__call__":
        raise TypeError(f"numpy.{name}.{method} is not supported on autodiff Tensors; use "
                        f"the autodiff reduction (e.g. ad.sum) or .numpy() first")
    extra = {k: v for k, v in kwargs.items() if not (k == "casting" and v == "same_kind")}
    if extra:
        raise TypeError(f"numpy.{name} on autodiff Tensors takes no {sorted(extra)} "
                        "arguments; convert with .to(dtype) or use .numpy() first")
    fn = _ufunc_op(name)
    if fn is None:
        raise TypeError(f"numpy.{name} has no autodiff op, so it cannot run on a Tensor and "
                        "keep its gradient; call .numpy() first to compute on plain arrays")
    if ufunc.nout != 1:
        raise TypeError(f"numpy.{name} returns {ufunc.nout} outputs; not supported on Tensors")
    result = fn(*inputs)
    return result if out is None else _write_out(name, out[0], result)


def _write_out(name, target, result):
    """`out=target`: an ndarray is updated in place from the result's values (as NumPy
    would, under its same_kind casting rule); a Tensor is updated as by target.copy_()."""
    if isinstance(target, Tensor):
        return target.copy_(result)
    values = result.data if isinstance(result, Tensor) else np.asarray(result)
    if not np.can_cast(values.dtype, target.dtype, "same_kind"):
        raise TypeError(f"numpy.{name}: the result dtype {values.dtype} cannot be written "
                        f"into out= of dtype {target.dtype}")
    target[...] = backend.to_device(values, "cpu") if isinstance(target, np.ndarray) else values
    return target


_COMPARISONS = frozenset(("equal", "not_equal", "less", "less_equal", "greater",
                          "greater_equal"))


# ---------------------------------------------------------------- array functions
def array_function(func, types, args, kwargs):
    """Tensor.__array_function__: the autodiff op for a NumPy function, called with NumPy's
    meaning of the arguments."""
    name = func.__name__
    adapter = _FUNCTIONS.get(name)
    if adapter is None or getattr(np, name, None) is not func:
        raise TypeError(f"numpy.{name} has no autodiff counterpart for Tensors; call "
                        ".numpy() first to compute on plain arrays (without gradients)")
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"numpy.{name}: {exc}") from None
    params = {k: v for k, v in bound.arguments.items() if v is not np._NoValue}
    for arg, value in params.items():
        if (arg in ("out", "initial") and value is not None or arg == "where" and value is not True
                or arg == "dtype" and value is not None and name not in _TAKES_DTYPE):
            raise TypeError(f"numpy.{name} on autodiff Tensors does not support {arg}=; "
                            "call .numpy() first to compute on plain arrays")
    return adapter(**{k: v for k, v in params.items() if k not in ("out", "where", "initial")})


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _reduction(op):
    def adapter(a, axis=None, dtype=None, keepdims=False):
        return op(_t(a), axis=axis, keepdims=bool(keepdims), dtype=dtype)
    return adapter


def _extremum(cls):
    def adapter(a, axis=None, keepdims=False):
        x = _t(a)
        axes = _reduce.normalize_axis(axis, x.ndim, cls.op_name or cls.__name__.lower())
        return cls.apply(x, axis=axes, keepdims=bool(keepdims))
    return adapter


def _spread(op):
    def adapter(a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None, mean=None):
        if mean is not None:
            raise TypeError(f"numpy.{op.__name__} on autodiff Tensors does not support mean=")
        x = _t(a) if dtype is None else _t(a).to(dtype)
        return op(x, axis=axis, keepdims=bool(keepdims),
                  correction=ddof if correction is None else correction)
    return adapter


def _arg(op):
    def adapter(a, axis=None, keepdims=False):
        return op(_t(a), axis=axis, keepdims=bool(keepdims))
    return adapter


def _split(ary, indices_or_sections, axis=0):
    """numpy.split: n equal sections, or the pieces between the given indices."""
    x = _t(ary)
    n = x.shape[_dims.normalize_dim(axis, x.ndim, "split")]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(f"numpy.split: a dim of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        sizes = [n // indices_or_sections] * indices_or_sections
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections]
        sizes = [builtins.max(b - a, 0) for a, b in zip(bounds, bounds[1:] + [n])]
    return list(_shape.split(x, sizes, axis))


def _where(condition, x=None, y=None):
    if x is None and y is None:
        raise TypeError("numpy.where(condition) on autodiff Tensors: use .nonzero()")
    return _ew.where(condition, x, y)


def _host(fn):
    """A NumPy function that only reads values (no gradient): run it on the arrays."""
    def adapter(**params):
        return fn(**{k: (backend.to_device(v.data, "cpu") if isinstance(v, Tensor) else v)
                     for k, v in params.items()})
    return adapter


_TAKES_DTYPE = frozenset(("sum", "mean", "std", "var", "zeros_like", "ones_like",
                          "full_like", "empty_like"))


# ---------------------------------------------------------------- DLPack
def dlpack(t, stream=None, max_version=None, dl_device=None, copy=None):
    """Tensor.__dlpack__: the tensor's buffer as a DLPack capsule, without a copy."""
    if t.requires_grad:
        raise RuntimeError("__dlpack__: a tensor that requires grad cannot be exported (the "
                           "consumer could change it behind the graph); use t.detach()")
    kwargs = {"stream": stream} if stream is not None else {}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    return t.data.__dlpack__(**kwargs)


def dlpack_device(t):
    """Tensor.__dlpack_device__: (device type, index): (1, 0) for the CPU, (2, n) for GPU n."""
    return t.data.__dlpack_device__()


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing the memory of any object with `__dlpack__` (a torch tensor, NumPy
    array, CuPy array, JAX array) (torch.from_dlpack)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a torch tensor, "
                        f"NumPy or CuPy array), got {type(ext_tensor).__name__}")
    device_type, index = ext_tensor.__dlpack_device__()
    if device_type == 1:  # kDLCPU
        arr = np.from_dlpack(ext_tensor)
    elif device_type == 2:  # kDLCUDA
        arr = backend.module_for_device(backend.parse_device(f"cuda:{index}")).from_dlpack(
            ext_tensor)
    else:
        raise TypeError(f"from_dlpack: DLPack device type {device_type} is not supported "
                        "(only the CPU and CUDA GPUs)")
    return Tensor._make(arr, None, False)


from . import creation as _creation  # noqa: E402
from .ops import _dims  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402

_UFUNCS = {
    "add": _ew.add, "subtract": _ew.sub, "multiply": _ew.mul, "divide": _ew.div,
    "true_divide": _ew.div, "power": _ew.pow, "negative": _ew.neg, "exp": _ew.exp,
    "log": _ew.log, "sqrt": _ew.sqrt, "absolute": _ew.abs, "abs": _ew.abs, "tanh": _ew.tanh,
    "maximum": _ew.maximum, "minimum": _ew.minimum, "sign": _ew.sign,
    "matmul": _linalg.matmul,
}

_FUNCTIONS = {
    "sum": _reduction(_reduce.sum), "mean": _reduction(_reduce.mean),
    "max": _extremum(_reduce.Max), "amax": _extremum(_reduce.Max),
    "min": _extremum(_reduce.Min), "amin": _extremum(_reduce.Min),
    "std": _spread(_reduce.std), "var": _spread(_reduce.var),
    "argmax": _arg(_reduce.argmax), "argmin": _arg(_reduce.argmin),
    "concatenate": lambda arrays, axis=0, dtype=None, casting="same_kind":
        _shape.cat([_t(a) for a in arrays], axis=axis),
    "stack": lambda arrays, axis=0, dtype=None, casting="same_kind":
        _shape.stack([_t(a) for a in arrays], axis=axis),
    "reshape": lambda a, shape=None, order="C", newshape=None, copy=None:
        _shape.reshape(_t(a), shape if shape is not None else newshape),
    "transpose": lambda a, axes=None: _shape.permute(
        _t(a), tuple(range(_t(a).ndim - 1, -1, -1)) if axes is None else tuple(axes)),
    "swapaxes": lambda a, axis1, axis2: _shape.transpose(_t(a), axis1, axis2),
    "squeeze": lambda a, axis=None: _shape.squeeze(_t(a), axis),
    "expand_dims": lambda a, axis: _shape.unsqueeze(_t(a), axis),
    "broadcast_to": lambda array, shape, subok=False: _shape.broadcast_to(_t(array), shape),
    "split": _split,
    "clip": lambda a, a_min=None, a_max=None, min=None, max=None, **kw:
        _ew.clip(_t(a), a_min if min is None else min, a_max if max is None else max),
    "where": _where,
    "dot": lambda a, b: _linalg.matmul(_t(a), _t(b)),
    "zeros_like": lambda a, dtype=None, order="K", subok=True, shape=None, device=None:
        _creation.zeros_like(_t(a), dtype=dtype),
    "ones_like": lambda a, dtype=None, order="K", subok=True, shape=None, device=None:
        _creation.ones_like(_t(a), dtype=dtype),
    "full_like": lambda a, fill_value, dtype=None, order="K", subok=True, shape=None,
        device=None: _creation.full_like(_t(a), fill_value, dtype=dtype),
    "copy": lambda a, order="K", subok=False: _ew.clone(_t(a)),
    "shape": lambda a: _t(a).shape,
    "ndim": lambda a: _t(a).ndim,
    "size": lambda a, axis=None: _t(a).numel() if axis is None else _t(a).size(axis),
    # read-only questions about values: answered on the arrays
    "allclose": _host(np.allclose), "isclose": _host(np.isclose),
    "array_equal": _host(np.array_equal), "array_equiv": _host(np.array_equiv),
}
