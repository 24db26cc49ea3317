"""The Tensor container: an array, its gradient and the node that produced it.

Operators and methods are one-liners that call ops; no derivative lives here.
"""
from __future__ import annotations

import inspect
import itertools
import types
import warnings

import numpy as np

from . import backend
from .mode import state as _mode
from .size import Size

_new_size = tuple.__new__  # Size from an array's shape (already ints): no per-item check

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
        what = ""
        if arr.dtype.kind == "O":  # a dict, a set, None...: name the Python type NumPy kept
            odd = next((v for v in arr.flat if not isinstance(v, (int, float, np.generic))),
                       None)
            what = (" (integers beyond the int64 range)" if odd is None
                    else f" (a {type(odd).__name__})")
        raise _op_error(TypeError, "tensor", f"unsupported data of dtype {arr.dtype}{what}; "
                        "expected numbers, bools or (nested lists or arrays of) them")
    if device is not None:
        arr = backend.to_device(arr, backend.parse_device(device))
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it for backprop."""

    __slots__ = ("data", "grad", "requires_grad", "_node", "_vbox", "_seq", "_extra",
                 "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, device=None, requires_grad=False, name=None):
        self._init(_as_array(data, backend.as_dtype(dtype), device), None, False)
        if requires_grad:
            self.requires_grad_(True)
        if name is not None:
            self.name = name

    def _init(self, data, node, requires_grad):
        """Fill every slot: the one place that knows them all (also used by _make)."""
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._node = node      # the node that produced it (None for a leaf)
        self._vbox = None      # version counter, made on first need (_inplace.version_box)
        self._seq = next(_seq)  # creation order: backward walks newest first
        self._extra = None     # rarely used things: name, hooks, retain, versions, kept

    @staticmethod
    def _make(data, node, requires_grad):
        """The constructor the engine uses: an array as it is, no conversion."""
        t = object.__new__(Tensor)
        t._init(data, node, requires_grad)
        return t

    # ---------------------------------------------------------------- attributes
    @property
    def shape(self) -> Size:
        """The sizes of the dims, an ad.Size (a tuple; torch.Tensor.shape)."""
        return _new_size(Size, self.data.shape)

    @property
    def ndim(self) -> int:
        """The number of dims (torch.Tensor.ndim)."""
        return self.data.ndim

    def size(self, dim=None):
        """The shape as an ad.Size, or the size of one dim as an int (torch.Tensor.size)."""
        if dim is None:
            return _new_size(Size, self.data.shape)
        if self.data.ndim == 0:
            raise _op_error(IndexError, "size", f"dim {dim} given, but the tensor is 0-d "
                                                "(it has no dims)")
        return self.data.shape[_dims.normalize_dim(dim, self.data.ndim, "size")]

    def numel(self) -> int:
        """The number of elements: the product of the sizes (torch.numel)."""
        return self.data.size

    nelement = numel

    def dim(self) -> int:
        """The number of dims (torch.Tensor.dim)."""
        return self.data.ndim

    ndimension = dim

    def element_size(self) -> int:
        """Bytes per element (torch.Tensor.element_size)."""
        return self.data.dtype.itemsize

    @property
    def itemsize(self) -> int:
        """Bytes per element (torch.Tensor.itemsize)."""
        return self.data.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the elements: numel() * element_size() (torch.Tensor.nbytes)."""
        return self.data.nbytes

    @property
    def dtype(self):
        """The element type, a NumPy dtype such as ad.float32 (torch.Tensor.dtype)."""
        return self.data.dtype

    def is_floating_point(self) -> bool:
        """True for float16, bfloat16, float32 and float64 (torch.is_floating_point)."""
        return backend.is_floating(self.data.dtype)

    @property
    def device(self) -> str:
        """'cpu' or 'cuda:N' (torch.Tensor.device; a string here)."""
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        """True when the data lives on a GPU (torch.Tensor.is_cuda)."""
        return self.device != "cpu"

    @property
    def is_leaf(self) -> bool:
        """True for tensors no recorded op produced (torch.Tensor.is_leaf)."""
        return self._node is None

    @property
    def _kept(self):
        """The record (gradient, its node's input gradients) the last backward kept for
        ad.kept_grad, or None. In _extra, not a slot: most tensors of a big graph never get
        one, and a slot would cost every tensor 8 bytes."""
        return None if self._extra is None else self._extra.get("kept")

    @_kept.setter
    def _kept(self, record):
        if self._extra is not None:
            self._extra["kept"] = record
        elif record is not None:
            self._extra = {"kept": record}

    @property
    def grad_fn(self):
        """The graph node that produced this tensor, or None for a leaf (torch)."""
        return self._node

    @property
    def version(self) -> int:
        """How many times this tensor's buffer has been modified in place (torch's
        t._version)."""
        return 0 if self._vbox is None else self._vbox.count

    @property
    def _version(self) -> int:
        """The in-place write counter, under torch's name (torch.Tensor._version)."""
        return self.version

    @property
    def name(self):
        """An optional label diagrams show (not in torch)."""
        return None if self._extra is None else self._extra.get("name")

    @name.setter
    def name(self, value):
        if self._extra is None:
            self._extra = {}
        self._extra["name"] = value

    @property
    def T(self):
        """The transpose of a matrix; every dim reversed for other ranks (torch.Tensor.T,
        which torch deprecates for ndim > 2: use mT or permute)."""
        if self.data.ndim > 2:
            warnings.warn("Tensor.T on a tensor of more than 2 dims reverses every dim "
                          "(deprecated in torch); use .mT to transpose the last two dims or "
                          "permute() to reverse them", UserWarning, stacklevel=2)
        return _shape.reversed_dims(self)  # a view even for ndim < 2, as torch

    @property
    def mT(self):
        """The last two dims swapped: a batch of matrices transposed (torch.Tensor.mT)."""
        if self.data.ndim < 2:
            raise _op_error(RuntimeError, "mT", f"needs at least 2 dims, got shape "
                                                f"{tuple(self.data.shape)}")
        return _shape.transpose(self, -2, -1)

    @property
    def H(self):
        """The conjugate transpose of a matrix: .T for real tensors (torch.Tensor.H)."""
        if self.data.ndim not in (0, 2):
            raise _op_error(RuntimeError, "H", f"is defined for matrices (2 dims) and 0-d "
                                               f"tensors, got shape {tuple(self.data.shape)}; "
                                               "use .mH for batches")
        return self.T

    @property
    def mH(self):
        """The last two dims swapped and conjugated: .mT for real tensors (torch)."""
        return self.mT

    def t(self):
        """The transpose of a tensor of at most 2 dims (torch.t)."""
        if self.data.ndim > 2:
            raise _op_error(RuntimeError, "t", f"expects a tensor with <= 2 dims, got shape "
                                               f"{tuple(self.data.shape)}; use transpose(d0, "
                                               "d1), .mT or permute")
        return _shape.reversed_dims(self)  # a view, also of a 0-d or 1-D tensor

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
        if self.dtype != backend.float32 and self.data.size > 0:
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
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with shape {self.shape} is "
                             "ambiguous; use .any() or .all()")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and _mode.array_escape is False:
            _mode.array_escape = True  # a create_graph backward rule is leaving the graph
        arr = backend.to_device(self.data, "cpu")
        return arr if dtype is None else arr.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on tensors run the autodiff op: np.exp(t) is t.exp() (see interop)."""
        return _interop.array_ufunc(ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions on tensors run the autodiff op: np.mean(t, axis=0) is a Tensor."""
        return _interop.array_function(func, types, args, kwargs)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The buffer as a DLPack capsule, shared without a copy (torch.Tensor.__dlpack__)."""
        return _interop.dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        """(device type, index) for DLPack consumers (torch.Tensor.__dlpack_device__)."""
        return _interop.dlpack_device(self)

    def __format__(self, spec):
        """f"{t:.3f}" formats a one-element tensor's value; an empty spec is str(t)."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(f"format spec {spec!r} needs a one-element tensor, got shape "
                            f"{tuple(self.data.shape)}; format t.tolist() or t.item()")
        return format(self.item(), spec)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    # ---------------------------------------------------------------- grad control
    def requires_grad_(self, flag: bool = True):
        """Set whether gradients are accumulated into this leaf's `.grad`
        (torch.Tensor.requires_grad_)."""
        if flag and not backend.is_floating(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one "
                            f"has dtype {self.dtype} (convert with .to(dtype=ad.float32))")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = bool(flag)
        return self

    def detach(self):
        """A tensor sharing this one's data (and version counter) but outside the graph
        (torch.Tensor.detach)."""
        t = Tensor._make(self.data, None, False)
        t._vbox = _inplace.version_box(self)
        return t

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in `.grad` after backward
        (torch.Tensor.retain_grad)."""
        if self._node is None:
            return self
        if self._extra is None:
            self._extra = {}
        self._extra["retain"] = True
        return self

    @property
    def retains_grad(self) -> bool:
        """Whether retain_grad() was called on this non-leaf (torch.Tensor.retains_grad)."""
        return self._extra is not None and self._extra.get("retain", False)

    def register_hook(self, fn):
        """Call fn(grad) when this tensor's gradient is computed (torch.Tensor.register_hook);
        a non-None return replaces the gradient. Returns a handle whose .remove()
        unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        if self._extra is None:
            self._extra = {}
        hooks = self._extra.setdefault("hooks", {})
        return _hooks.HookHandle(hooks, fn)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Backpropagate from this tensor, accumulating into the leaves' `.grad`; the graph
        is kept when retain_graph is True, which defaults to create_graph (torch)."""
        autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                       inputs=inputs)

    # ---------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a NumPy array (copied to the host if needed) (torch.Tensor.numpy)."""
        if self.requires_grad:
            # Sharing memory is fine; writing to it would bypass version tracking, so
            # hand out a read-only view like PyTorch's "use .detach()" rule.
            out = backend.to_device(self.data, "cpu").view()
            out.flags.writeable = False
            return out
        return backend.to_device(self.data, "cpu")

    def item(self):
        """The single value of a one-element tensor as a Python number
        (torch.Tensor.item)."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to Python "
                             f"scalars; this one has shape {self.shape}")
        return backend.to_device(self.data, "cpu").reshape(()).item()

    def tolist(self):
        """The values as (nested lists of) Python numbers (torch.Tensor.tolist)."""
        return backend.to_device(self.data, "cpu").tolist()

    def to(self, *args, device=None, dtype=None, non_blocking=False, copy=False):
        """A tensor on another device and/or of another dtype (differentiable): to(dtype),
        to(device), to(device, dtype), to(other) for other's device and dtype, or the
        keywords; itself when nothing changes, unless copy=True (torch.Tensor.to)."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = device or arg.device, dtype or arg.dtype
            elif isinstance(arg, str) and (arg in ("cpu", "cuda") or arg.startswith("cuda:")):
                device = arg
            elif arg is not None:
                dtype = arg
        out = self
        if dtype is not None:
            dtype = backend.as_dtype(dtype)
            if dtype != self.dtype:
                out = _ew.cast(out, dtype)
        if device is not None:
            device = backend.parse_device(device)
            if device != out.device:
                out = _ew.to_device(out, device)
        return _ew.clone(out) if copy and out is self else out

    def cpu(self):
        """This tensor on the CPU (torch.Tensor.cpu)."""
        return self.to(device="cpu")

    def cuda(self, index: int = 0):
        """This tensor on GPU `index` (torch.Tensor.cuda)."""
        return self.to(device=f"cuda:{index}")

    def float(self):
        """to(float32) (torch.Tensor.float)."""
        return self.to(backend.float32)

    def double(self):
        """to(float64) (torch.Tensor.double)."""
        return self.to(backend.float64)

    def half(self):
        """to(float16) (torch.Tensor.half)."""
        return self.to(backend.float16)

    def bfloat16(self):
        """to(bfloat16) (torch.Tensor.bfloat16)."""
        return self.to(backend.bfloat16)

    def long(self):
        """to(int64) (torch.Tensor.long)."""
        return self.to(backend.int64)

    def int(self):
        """to(int32) (torch.Tensor.int)."""
        return self.to(backend.int32)

    def short(self):
        """to(int16) (torch.Tensor.short)."""
        return self.to(backend.int16)

    def char(self):
        """to(int8) (torch.Tensor.char)."""
        return self.to(backend.int8)

    def byte(self):
        """to(uint8) (torch.Tensor.byte)."""
        return self.to(backend.uint8)

    def bool(self):
        """to(bool) (torch.Tensor.bool)."""
        return self.to(backend.bool_)

    def type_as(self, other):
        """to(other.dtype) (torch.Tensor.type_as)."""
        return self.to(other.dtype)

    def clone(self):
        """A differentiable copy with its own buffer (torch.Tensor.clone)."""
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

    def __iadd__(self, other): return _inplace.apply_inplace(self, _ew.Add, other)
    def __isub__(self, other): return _inplace.apply_inplace(self, _ew.Sub, other)
    def __imul__(self, other): return _inplace.apply_inplace(self, _ew.Mul, other)
    def __itruediv__(self, other): return _inplace.apply_inplace(self, _ew.Div, other)

    # ---------------------------------------------------------------- in place (torch's x.op_())
    # Each writes into this tensor's buffer with the checks `+=` has: a leaf that requires
    # grad refuses outside no_grad, and a backward that saved the old values raises.
    def add_(self, other, *, alpha=1):
        """self += alpha * other, in place (torch.Tensor.add_)."""
        return _inplace.update(self, "add_", _ew.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other, in place (torch.Tensor.sub_)."""
        return _inplace.update(self, "sub_", _ew.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        """self *= other, in place (torch.Tensor.mul_)."""
        return _inplace.update(self, "mul_", _ew.mul, other)

    def div_(self, other):
        """self /= other, in place (torch.Tensor.div_)."""
        return _inplace.update(self, "div_", _ew.div, other)

    def pow_(self, exponent):
        """self = self ** exponent, in place (torch.Tensor.pow_)."""
        return _inplace.update(self, "pow_", _ew.pow, exponent)

    def clamp_(self, min=None, max=None):
        """self = min(max(self, min), max), in place (torch.Tensor.clamp_)."""
        return _inplace.update(self, "clamp_", lambda old: _ew.clip(old, min, max))

    clip_ = clamp_

    def neg_(self):
        """self = -self, in place (torch.Tensor.neg_)."""
        return _inplace.update(self, "neg_", _ew.neg)

    def fill_(self, value):
        """Every entry set to value, a number or a 0-d tensor (torch.Tensor.fill_)."""
        return _inplace.update(self, "fill_", _fill.Fill.apply, value)

    def zero_(self):
        """Every entry set to 0, in place (torch.Tensor.zero_)."""
        return _inplace.update(self, "zero_", _fill.Fill.apply, 0)

    def copy_(self, src):
        """src's values written into this tensor, broadcast to its shape and converted to its
        dtype; the gradient flows to src (torch.Tensor.copy_)."""
        return _inplace.update(self, "copy_", _fill.CopyFrom.apply, src)

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
    # t.exp(), t.sin(), t.add(y, alpha=2), t.clamp(min=0), ...: generated below from the op
    # tables (ops/tables.py)

    def contiguous(self):
        """This tensor when its buffer is C-contiguous, else a contiguous copy (differentiable;
        torch.Tensor.contiguous), e.g. before view() after a transpose."""
        if self.data.flags.c_contiguous:
            return self
        return _ew.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the buffer is C-contiguous (torch.Tensor.is_contiguous)."""
        return bool(self.data.flags.c_contiguous)

    # Reductions and shape ops: the methods are the op functions themselves (bound below,
    # `t.sum(1)` is `ad.sum(t, 1)`): one signature and one docstring for both. flip,
    # gather, sort, cumsum, view, expand, any, ...: generated below from the op tables.

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
        """Fill in place with 1 (probability p, a number or tensor) or 0
        (torch.Tensor.bernoulli_)."""
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

from . import _hooks, _inplace  # noqa: E402
from . import autograd  # noqa: E402
from .ops import bitwise as _bitwise  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import fill as _fill  # noqa: E402
from . import interop as _interop  # noqa: E402
from .ops import rounding as _rounding  # noqa: E402
from .ops import indexing as _index  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import _dims  # noqa: E402
from .errors import op_error as _op_error  # noqa: E402

_METHODS = {
    # reductions
    "sum": _reduce.sum, "mean": _reduce.mean, "var": _reduce.var, "std": _reduce.std,
    "max": _reduce.max, "min": _reduce.min, "argmax": _reduce.argmax,
    "argmin": _reduce.argmin, "logsumexp": _reduce.logsumexp, "softmax": _reduce.softmax,
    "log_softmax": _reduce.log_softmax,
    # shape
    "reshape": _shape.reshape, "transpose": _shape.transpose, "swapaxes": _shape.swapaxes,
    "permute": _shape.permute,
    "squeeze": _shape.squeeze, "unsqueeze": _shape.unsqueeze, "flatten": _shape.flatten,
    "broadcast_to": _shape.broadcast_to, "split": _shape.split,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

from .ops import tables as _tables  # noqa: E402


def _op_method(name, op):
    """t.<name>(*args) = ad.<name>(t, *args): a plain function binds the tensor as its first
    argument by itself; anything else (an op class's apply) is wrapped."""
    fn = _tables.public(op)
    if isinstance(fn, types.FunctionType):
        return fn
    if _takes_one_array(op):
        def method(self):  # no *args/**kwargs to pack: t.tanh() is on the hot path
            return fn(self)
    else:
        def method(self, *args, **kwargs):
            return fn(self, *args, **kwargs)
    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    method.__doc__ = f"{op.__doc__} (ad.{name} with this tensor first)"
    return method


def _takes_one_array(op) -> bool:
    """Whether op is an op class whose forward takes one array and no parameters."""
    if not isinstance(op, type):
        return False
    params = list(inspect.signature(op.forward).parameters.values())[1:]  # after ctx
    return (len(params) == 1 and params[0].default is inspect.Parameter.empty
            and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)


# The methods of the ops, one per row of their tables (explicit methods win): adding an op
# to its module's OPS table gives it t.<name>() at once.
for _name, _op in _tables.merged(_tables.ELEMENTWISE + _tables.STRUCTURAL).items():
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _op_method(_name, _op))
