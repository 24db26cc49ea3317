"""The Tensor container: an array, its gradient and the node that produced it.

Operators and methods are one-liners that call ops; no derivative lives here.
"""
from __future__ import annotations

import itertools

import numpy as np

from . import backend
from .mode import state as _mode

__all__ = ["Tensor"]

_seq = itertools.count()
_ndarray = np.ndarray


def _as_array(data, dtype=None, device=None):
    """Convert user data to a backend array: Python floats/lists default to float32."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        arr = data
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"tensor: cannot make an array from the data: {exc}") from None
        if dtype is None:
            if arr.dtype == np.float64 and not isinstance(data, (np.generic,)):
                arr = arr.astype(np.float32)
            elif arr.dtype.kind in "iu" and not isinstance(data, np.generic):
                arr = arr.astype(np.int64)
        else:
            arr = arr.astype(dtype)
    if arr.dtype.kind not in "biuf" and arr.dtype != backend.bfloat16:
        # complex, strings, objects: the ops and their derivative rules do not cover them
        raise TypeError(f"tensor: unsupported data of dtype {arr.dtype}; expected "
                        "numbers, bools or arrays of them (float, int or bool dtypes)")
    if device is not None:
        arr = backend.to_device(arr, backend.parse_device(device))
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it for backprop."""

    __slots__ = ("data", "grad", "requires_grad", "_node", "_vbox", "_seq", "_extra",
                 "__weakref__")
    # NumPy defers to our reflected operators (e.g. np.float32(2) * t -> Tensor).
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, device=None, requires_grad=False, name=None):
        self.data = _as_array(data, backend.as_dtype(dtype), device)
        self.grad = None
        self.requires_grad = False
        self._node = None
        self._vbox = None
        self._seq = next(_seq)
        self._extra = None
        if requires_grad:
            self.requires_grad_(True)
        if name is not None:
            self.name = name

    @classmethod
    def _make(cls, data, node, requires_grad):
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = node
        t._vbox = None
        t._seq = next(_seq)
        t._extra = None
        return t

    # ---------------------------------------------------------------- attributes
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def version(self) -> int:
        """How many times this tensor's buffer has been modified in place."""
        return 0 if self._vbox is None else self._vbox[1]

    def _version_box(self):
        """The version counter [epoch of last in-place write, write count, has views (0 no,
        1 yes, 2 yes and the buffer belongs to a graph)],
        created on first need (a view or an in-place write), shared by views of a buffer."""
        if self._vbox is None:
            self._vbox = [0, 0, 0]
        return self._vbox

    @property
    def name(self):
        return None if self._extra is None else self._extra.get("name")

    @name.setter
    def name(self, value):
        if self._extra is None:
            self._extra = {}
        self._extra["name"] = value

    @property
    def T(self):
        return self.transpose()

    @property
    def mT(self):
        return _shape.swapaxes(self, -1, -2)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        """Iterate over the first axis (each row differentiable, like x[i])."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self):
        host = backend.to_device(self.data, "cpu")
        if host.dtype == backend.bfloat16:
            host = host.astype(np.float32)  # NumPy prints bfloat16 values like integers ("1")
        body = np.array2string(host, precision=4, separator=", ", threshold=100,
                               prefix="tensor(")
        extras = []
        if self.dtype != backend.float32 and self.size > 0:
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor with shape {self.shape} is "
                             "ambiguous; use .any() or .all()")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and _mode.array_escape is False:
            _mode.array_escape = True  # a create_graph backward rule is leaving the graph
        arr = backend.to_device(self.data, "cpu")
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    # ---------------------------------------------------------------- grad control
    def requires_grad_(self, flag: bool = True):
        """Set whether gradients are accumulated into this leaf's `.grad`."""
        if flag and not backend.is_floating(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one "
                            f"has dtype {self.dtype} (convert with .to(dtype=ad.float32))")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = bool(flag)
        return self

    def detach(self):
        """A tensor sharing this one's data (and version counter) but outside the graph."""
        t = Tensor._make(self.data, None, False)
        t._vbox = self._version_box()
        return t

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in `.grad` after backward."""
        if self._node is None:
            return self
        if self._extra is None:
            self._extra = {}
        self._extra["retain"] = True
        return self

    @property
    def retains_grad(self) -> bool:
        return self._extra is not None and self._extra.get("retain", False)

    def register_hook(self, fn):
        """Call fn(grad) when this tensor's gradient is computed; a non-None return replaces
        the gradient. Returns a handle whose .remove() unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        if self._extra is None:
            self._extra = {}
        hooks = self._extra.setdefault("hooks", {})
        return graph.HookHandle(hooks, fn)

    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        """Backpropagate from this tensor, accumulating into the leaves' `.grad`."""
        graph.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                       inputs=inputs)

    # ---------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a NumPy array (copied to the host if needed)."""
        if self.requires_grad:
            # Sharing memory is fine; writing to it would bypass version tracking, so
            # hand out a read-only view like PyTorch's "use .detach()" rule.
            out = backend.to_device(self.data, "cpu").view()
            out.flags.writeable = False
            return out
        return backend.to_device(self.data, "cpu")

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to Python "
                             f"scalars; this one has shape {self.shape}")
        return backend.to_device(self.data, "cpu").reshape(()).item()

    def tolist(self):
        return backend.to_device(self.data, "cpu").tolist()

    def to(self, device=None, dtype=None):
        """Move to a device and/or convert dtype (differentiable)."""
        out = self
        if dtype is not None:
            dtype = backend.as_dtype(dtype)
            if dtype != self.dtype:
                out = _ew.cast(out, dtype)
        if device is not None:
            device = backend.parse_device(device)
            if device != out.device:
                out = _ew.to_device(out, device)
        return out

    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, index: int = 0):
        return self.to(device=f"cuda:{index}")

    def float(self):
        return self.to(dtype=backend.float32)

    def double(self):
        return self.to(dtype=backend.float64)

    def half(self):
        return self.to(dtype=backend.float16)

    def clone(self):
        """A differentiable copy with its own buffer."""
        return _ew.clone(self)

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other): return _ew.add(self, other)
    def __radd__(self, other): return _ew.add(other, self)
    def __sub__(self, other): return _ew.sub(self, other)
    def __rsub__(self, other): return _ew.sub(other, self)
    def __mul__(self, other): return _ew.mul(self, other)
    def __rmul__(self, other): return _ew.mul(other, self)
    def __truediv__(self, other): return _ew.div(self, other)
    def __rtruediv__(self, other): return _ew.div(other, self)
    def __pow__(self, other): return _ew.pow(self, other)
    def __rpow__(self, other): return _ew.pow(other, self)
    def __neg__(self): return _ew.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ew.abs(self)
    def __matmul__(self, other): return _linalg.matmul(self, other)
    def __rmatmul__(self, other): return _linalg.matmul(other, self)

    def __iadd__(self, other): return _function.apply_inplace(self, _ew.Add, other)
    def __isub__(self, other): return _function.apply_inplace(self, _ew.Sub, other)
    def __imul__(self, other): return _function.apply_inplace(self, _ew.Mul, other)
    def __itruediv__(self, other): return _function.apply_inplace(self, _ew.Div, other)

    # comparisons never carry gradients
    def __eq__(self, other): return _ew.compare("equal", self, other)
    def __ne__(self, other): return _ew.compare("not_equal", self, other)
    def __lt__(self, other): return _ew.compare("less", self, other)
    def __le__(self, other): return _ew.compare("less_equal", self, other)
    def __gt__(self, other): return _ew.compare("greater", self, other)
    def __ge__(self, other): return _ew.compare("greater_equal", self, other)
    # bitwise on integer tensors (`a & 3` keeps bits, as torch), logical on bool tensors
    def __invert__(self): return _bitwise.bitwise_not(self)
    def __and__(self, other): return _bitwise.bitwise_and(self, other)
    def __rand__(self, other): return _bitwise.bitwise_and(other, self)
    def __or__(self, other): return _bitwise.bitwise_or(self, other)
    def __ror__(self, other): return _bitwise.bitwise_or(other, self)
    def __xor__(self, other): return _bitwise.bitwise_xor(self, other)
    def __rxor__(self, other): return _bitwise.bitwise_xor(other, self)
    def __lshift__(self, other): return _bitwise.bitwise_left_shift(self, other)
    def __rlshift__(self, other): return _bitwise.bitwise_left_shift(other, self)
    def __rshift__(self, other): return _bitwise.bitwise_right_shift(self, other)
    def __rrshift__(self, other): return _bitwise.bitwise_right_shift(other, self)
    # torch's remainder (the sign of the divisor) and floor division
    def __mod__(self, other): return _rounding.remainder(self, other)
    def __rmod__(self, other): return _rounding.remainder(other, self)
    def __floordiv__(self, other): return _rounding.floor_divide(self, other)
    def __rfloordiv__(self, other): return _rounding.floor_divide(other, self)

    # ---------------------------------------------------------------- elementwise methods
    def exp(self): return _ew.exp(self)
    def log(self): return _ew.log(self)
    def sqrt(self): return _ew.sqrt(self)
    def abs(self): return _ew.abs(self)
    def tanh(self): return _ew.tanh(self)
    def sigmoid(self): return _ew.sigmoid(self)
    def relu(self): return _ew.relu(self)
    def erf(self): return _ew.erf(self)
    def sign(self): return _ew.sign(self)

    # ---------------------------------------------------------------- torch's elementwise family
    # (ops/math.py, binary_math.py, rounding.py, compare.py, bitwise.py, aliases.py)
    def sin(self): return _math.sin(self)
    def cos(self): return _math.cos(self)
    def tan(self): return _math.tan(self)
    def asin(self): return _math.asin(self)
    def acos(self): return _math.acos(self)
    def sinh(self): return _math.sinh(self)
    def cosh(self): return _math.cosh(self)
    def asinh(self): return _math.asinh(self)
    def acosh(self): return _math.acosh(self)
    def atanh(self): return _math.atanh(self)
    arcsin, arccos, arcsinh, arccosh, arctanh = asin, acos, asinh, acosh, atanh
    def atan2(self, other): return _binary.atan2(self, other)
    arctan2 = atan2
    def log2(self): return _math.log2(self)
    def log10(self): return _math.log10(self)
    def log1p(self): return _math.log1p(self)
    def expm1(self): return _math.expm1(self)
    def exp2(self): return _math.exp2(self)
    def rsqrt(self): return _math.rsqrt(self)
    def square(self): return _math.square(self)
    def reciprocal(self): return _math.reciprocal(self)
    def erfc(self): return _math.erfc(self)
    def erfinv(self): return _math.erfinv(self)
    def logit(self, eps=None): return _math.logit(self, eps)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _math.nan_to_num(self, nan, posinf, neginf)
    def hypot(self, other): return _binary.hypot(self, other)
    def logaddexp(self, other): return _binary.logaddexp(self, other)
    def logaddexp2(self, other): return _binary.logaddexp2(self, other)
    def xlogy(self, other): return _binary.xlogy(self, other)
    def lerp(self, end, weight): return _binary.lerp(self, end, weight)
    def maximum(self, other): return _ew.maximum(self, other)
    def minimum(self, other): return _ew.minimum(self, other)
    def fmax(self, other): return _binary.fmax(self, other)
    def fmin(self, other): return _binary.fmin(self, other)
    def floor(self): return _rounding.floor(self)
    def ceil(self): return _rounding.ceil(self)
    def round(self, decimals=0): return _rounding.round(self, decimals=decimals)
    def trunc(self): return _rounding.trunc(self)
    fix = trunc
    def frac(self): return _rounding.frac(self)
    sgn = sign
    def remainder(self, other): return _rounding.remainder(self, other)
    def fmod(self, other): return _rounding.fmod(self, other)
    def floor_divide(self, other): return _rounding.floor_divide(self, other)
    def add(self, other, *, alpha=1): return _alias.add(self, other, alpha=alpha)
    def sub(self, other, *, alpha=1): return _alias.sub(self, other, alpha=alpha)
    subtract = sub
    def mul(self, other): return _ew.mul(self, other)
    multiply = mul
    def div(self, other, *, rounding_mode=None):
        return _alias.div(self, other, rounding_mode=rounding_mode)
    divide = div
    def true_divide(self, other): return _ew.div(self, other)
    def pow(self, exponent): return _ew.pow(self, exponent)
    def neg(self): return _ew.neg(self)
    negative = neg
    absolute = abs
    def clamp(self, min=None, max=None): return _alias.clamp(self, min, max)
    def clip(self, min=None, max=None, *, lo=None, hi=None):
        return _ew.clip(self, min, max, lo=lo, hi=hi)
    def clamp_min(self, min): return _alias.clamp_min(self, min)
    def clamp_max(self, max): return _alias.clamp_max(self, max)
    def isnan(self): return _compare.isnan(self)
    def isinf(self): return _compare.isinf(self)
    def isfinite(self): return _compare.isfinite(self)
    def isposinf(self): return _compare.isposinf(self)
    def isneginf(self): return _compare.isneginf(self)
    def signbit(self): return _compare.signbit(self)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _compare.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _compare.allclose(self, other, rtol, atol, equal_nan)
    def equal(self, other): return _compare.equal(self, other)
    def eq(self, other): return _compare.eq(self, other)
    def ne(self, other): return _compare.ne(self, other)
    def lt(self, other): return _compare.lt(self, other)
    def le(self, other): return _compare.le(self, other)
    def gt(self, other): return _compare.gt(self, other)
    def ge(self, other): return _compare.ge(self, other)
    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
    def bitwise_and(self, other): return _bitwise.bitwise_and(self, other)
    def bitwise_or(self, other): return _bitwise.bitwise_or(self, other)
    def bitwise_xor(self, other): return _bitwise.bitwise_xor(self, other)
    def bitwise_not(self): return _bitwise.bitwise_not(self)
    def bitwise_left_shift(self, other): return _bitwise.bitwise_left_shift(self, other)
    def bitwise_right_shift(self, other): return _bitwise.bitwise_right_shift(self, other)

    # ---------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False): return _reduce.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _reduce.mean(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, correction=0):
        return _reduce.var(self, axis, keepdims, correction)
    def std(self, axis=None, keepdims=False, correction=0):
        return _reduce.std(self, axis, keepdims, correction)
    def max(self, axis=None, keepdims=False): return _reduce.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _reduce.min(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _reduce.argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _reduce.argmin(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return _reduce.logsumexp(self, axis, keepdims)
    def softmax(self, axis=-1): return _reduce.softmax(self, axis)
    def log_softmax(self, axis=-1): return _reduce.log_softmax(self, axis)
    def any(self, axis=None, keepdims=False): return _ew.logical_reduce("any", self, axis, keepdims)
    def all(self, axis=None, keepdims=False): return _ew.logical_reduce("all", self, axis, keepdims)

    # ---------------------------------------------------------------- shape
    def reshape(self, *shape): return _shape.reshape(self, *shape)
    view = reshape
    def transpose(self, *axes): return _shape.transpose(self, *axes)
    def permute(self, *axes): return _shape.transpose(self, *axes)
    def swapaxes(self, a, b): return _shape.swapaxes(self, a, b)
    def squeeze(self, axis=None): return _shape.squeeze(self, axis)
    def unsqueeze(self, axis): return _shape.unsqueeze(self, axis)
    def flatten(self, start_axis=0, end_axis=-1): return _shape.flatten(self, start_axis, end_axis)
    def broadcast_to(self, shape): return _shape.broadcast_to(self, shape)
    def expand(self, *shape): return _shape.broadcast_to(self, _shape._shape_arg(shape))

    def __getitem__(self, index): return _index.getitem(self, index)

    def __setitem__(self, index, value): _index.setitem(self, index, value)

    # ---------------------------------------------------------------- random (autodiff/random.py)
    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill in place with N(mean, std^2) samples (torch.Tensor.normal_)."""
        return _random.normal_(self, mean, std, generator=generator)

    def uniform_(self, *from_to, generator=None, **kw):
        """Fill in place with U[from, to) samples, `uniform_(from=0, to=1)` (torch's)."""
        return _random.uniform_(self, *from_to, generator=generator, **kw)

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill in place with 1 (probability p, a number or tensor) or 0."""
        return _random.bernoulli_(self, p, generator=generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill in place with Exp(lambd) samples, density lambd * exp(-lambd * x)."""
        return _random.exponential_(self, lambd, generator=generator)

    def random_(self, *from_to, generator=None, **kw):
        """Fill in place with integers uniform on [from, to): `random_(to)`,
        `random_(from, to)`, or the dtype's whole exact range (torch.Tensor.random_)."""
        return _random.random_(self, *from_to, generator=generator, **kw)

    def bernoulli(self, p=None, *, generator=None):
        """0/1 draws, 1 with probability self[i] (or p), in self's dtype (ad.bernoulli)."""
        return _random.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """int64 category indices drawn from rows of weights (ad.multinomial)."""
        return _random.multinomial(self, num_samples, replacement, generator=generator)


from . import random as _random  # noqa: E402

from . import function as _function  # noqa: E402
from . import graph  # noqa: E402
from .ops import aliases as _alias  # noqa: E402
from .ops import binary_math as _binary  # noqa: E402
from .ops import bitwise as _bitwise  # noqa: E402
from .ops import compare as _compare  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import math as _math  # noqa: E402
from .ops import rounding as _rounding  # noqa: E402
from .ops import indexing as _index  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
