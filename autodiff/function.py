"""The op base class: forward on raw arrays, backward as a local derivative rule.

An op is a subclass of `Function` with two static methods that sit side by side:

    forward(ctx, *arrays, **params) -> array        raw numpy/cupy math
    backward(ctx, grad) -> one gradient per input    None where there is none

Instances of the op class are the graph nodes (`ctx`): they hold the inputs, what
`ctx.save(...)` kept for backward, and `ctx.needs_input_grad`. Backward rules are written
against `ctx.xp`, which is the array module (numpy or cupy) in the fast path and the
`autodiff.ops.symbolic` namespace of differentiable ops when `create_graph=True`; with
operators (+ - * / @ ** comparisons) the same rule therefore runs on arrays or on Tensors,
so higher-order derivatives need no second copy of any rule.
"""
from __future__ import annotations

import traceback

import numpy as np

from . import backend
from .mode import state as _mode
from .tensor import _seq

__all__ = ["Function", "is_recording"]

_ndarray = np.ndarray
_new = object.__new__
_bfloat16 = backend.bfloat16
# Differentiable output dtypes, for a set lookup first (the kind test catches the rest,
# e.g. longdouble or non-native byte orders).
_FLOAT_DTYPES = frozenset((backend.float16, _bfloat16, backend.float32, backend.float64))
# Version counters are [epoch of last in-place write, number of in-place writes], made
# on first need (views share their base's; a tensor never written in place has none). A node
# records the global epoch when it saves values; backward needs a detailed check only when
# some in-place write happened after that (epoch moved), so the common case costs nothing.
_epoch = [0]


class Function:
    """Base class of every op, built-in or user-defined; its instances are graph nodes."""

    #: Local derivative formula shown by viz on edges, e.g. "d tanh(x)/dx = 1 - tanh(x)^2".
    derivative = ""
    #: Short op name for errors and diagrams (defaults to the lower-cased class name).
    op_name = None
    #: True for ops whose output shares memory with their first input (views).
    is_view = False

    # The attributes every node has live in slots (no per-node dict unless an op stores
    # extra attributes); rarely set ones are class-level defaults.
    __slots__ = ("xp", "needs_input_grad", "inputs", "saved", "epoch", "__dict__",
                 "__weakref__")
    create_graph = False
    trace = None
    non_differentiable = False
    #: The `ad.scope` active when the node was recorded (None outside any scope).
    scope = None
    #: True for ops whose backward may write into its gradient argument when the engine
    #: sets `grad_is_scratch` (the array is referenced nowhere else; see graph._run).
    overwrites_grad = False
    grad_is_scratch = False

    # ---------------------------------------------------------------- user-facing ctx API
    def save(self, *values):
        """Keep arrays (or constants) for backward; read them back as `ctx.saved`."""
        self.saved = values

    def mark_non_differentiable(self):
        """Declare the output to be non-differentiable (e.g. an index or a mask)."""
        self.non_differentiable = True

    @property
    def released(self) -> bool:
        """True once backward freed the saved values (retain_graph=False)."""
        return self.saved is None

    @property
    def name(self) -> str:
        return type(self).op_name or type(self).__name__.lower()

    def call(self, op, *args, **params):
        """Run another op from inside a backward rule: on raw arrays in the fast path,
        through `op.apply` (recording a graph) when create_graph is on."""
        if self.create_graph:
            return op.apply(*args, **params)
        inner = object.__new__(op)
        inner.saved = ()
        inner.xp = self.xp
        inner.needs_input_grad = (True,) * len(args)
        return op.forward(inner, *args, **params)

    def __repr__(self):
        return f"<{self.name} node>"

    # ---------------------------------------------------------------- the rule interface
    @staticmethod
    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError("an op must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{ctx.name} defines no backward; it is not differentiable")

    # ---------------------------------------------------------------- applying an op
    @classmethod
    def apply(cls, *args, **params):
        """Run the op on Tensors/arrays/scalars and record a graph node when needed."""
        ctx = _new(cls)
        ctx.saved = ()
        # Unrolled for one and two inputs: this is the hottest path of the engine.
        n = len(args)
        if n == 2:
            a, b = args
            if isinstance(a, Tensor):
                if isinstance(b, Tensor):
                    arrays = (a.data, b.data)
                    needs = (a.requires_grad, b.requires_grad)
                else:
                    arrays = (a.data, b)
                    needs = (a.requires_grad, False)
                    if type(b) is float and a.data.dtype is _bfloat16:
                        arrays = (a.data, _bf16_scalar(b))
            elif isinstance(b, Tensor):
                arrays = (a, b.data)
                needs = (False, b.requires_grad)
                if type(a) is float and b.data.dtype is _bfloat16:
                    arrays = (_bf16_scalar(a), b.data)
            else:
                arrays = args
                needs = (False, False)
        elif n == 1 and isinstance(args[0], Tensor):
            arrays = (args[0].data,)
            needs = (args[0].requires_grad,)
        elif (n == 3 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor)
              and isinstance(args[2], Tensor)):  # e.g. linear(x, weight, bias)
            a, b, c = args
            arrays = (a.data, b.data, c.data)
            needs = (a.requires_grad, b.requires_grad, c.requires_grad)
        else:
            arrays = tuple([a.data if isinstance(a, Tensor) else a for a in args])
            needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
            if float in map(type, args) and any(getattr(a, "dtype", None) == _bfloat16
                                                for a in arrays):
                arrays = tuple(_bf16_scalar(a) if type(a) is float else a for a in arrays)
        ctx.xp = xp = np if type(arrays[0]) is _ndarray else backend.array_module(*arrays)
        ctx.needs_input_grad = needs
        try:
            # no `**params` splat when there are none (most calls): measurably cheaper
            out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
        except Exception as exc:
            raise _forward_error(cls, ctx, args, arrays, params, exc) from exc
        if type(out) is not _ndarray:
            raw, out = out, xp.asarray(out)
            if ctx.saved and raw is not out:
                # 0-d results come back from NumPy as scalars; saved values must be the
                # output array itself so create_graph can connect them to the output.
                ctx.saved = tuple(out if s is raw else s for s in ctx.saved)
        result = _new(Tensor)
        result.data = out
        result.grad = None
        result._seq = next(_seq)
        result._extra = None
        mode = _mode
        if (True in needs and mode.grad_enabled and not ctx.non_differentiable
                and (out.dtype in _FLOAT_DTYPES or out.dtype.kind == "f")):
            ctx.inputs = args
            if ctx.saved:
                ctx.epoch = _epoch[0]
            if mode.scope is not None:
                ctx.scope = mode.scope
            result._node = ctx
            result.requires_grad = True
        else:
            result._node = None
            result.requires_grad = False
        if cls.is_view and isinstance(args[0], Tensor):
            result._vbox = box = args[0]._version_box()
            # 2: the buffer belongs to a graph (even if this view, made under no_grad, is not)
            box[2] = 2 if args[0].requires_grad else (box[2] or 1)
        else:
            result._vbox = None
        if mode.anomaly:
            _anomaly_forward(ctx, out)
        return result


def _bf16_scalar(value):
    """A Python float operand of a bfloat16 op, as a 0-d bfloat16 array.

    NumPy treats Python scalars as "weak" (float16 * 0.5 stays float16), but ml_dtypes'
    bfloat16 does not: bfloat16 * 0.5 would come back as float32. Rounding the scalar to
    bfloat16 keeps the result in the input's dtype, as in PyTorch."""
    return np.asarray(value, dtype=_bfloat16)


def is_recording(*tensors) -> bool:
    """True when an op on `tensors` would record a graph node."""
    return _mode.grad_enabled and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


# ---------------------------------------------------------------- in-place support

def apply_inplace(target, op, *args, **params):
    """Run `op(target, *args)` and write the result into `target`'s buffer in place.

    The graph history moves: a shadow tensor takes over `target`'s old node, and `target`
    becomes the op's output. The shared version counter is bumped so any backward that
    saved the old values raises instead of returning wrong gradients.
    """
    opname = op.op_name or op.__name__.lower()
    if _mode.grad_enabled and target.requires_grad and target._node is None:
        raise RuntimeError(
            f"{opname}_ (in place): a leaf tensor that requires grad cannot be modified in "
            "place while grad mode is on (its gradient would be lost); wrap the update in "
            "`with ad.no_grad():` or use an out-of-place op")
    box = target._vbox
    if (box is not None and box[2] and _mode.grad_enabled
            and (target.requires_grad or box[2] == 2
                 or any(isinstance(a, Tensor) and a.requires_grad for a in args))):
        # The other tensors sharing this buffer would keep graphs that no longer match
        # their values (PyTorch rebases them; we refuse rather than return wrong grads).
        raise RuntimeError(
            f"{opname}_ (in place): this tensor shares its memory with another tensor (a "
            "view such as a slice, reshape or transpose, or the base of one) and is part of "
            "a graph being recorded; modifying it in place would make the other tensor's "
            "gradient wrong. Use an out-of-place op, or .clone() the view first")
    shadow = Tensor._make(target.data, target._node, target.requires_grad)
    shadow._vbox = target._version_box()
    shadow._seq = target._seq
    if target._extra is not None:
        shadow._extra = {"name": target._extra.get("name")}
    # `x += x`: the operand is the old value too; the node must not list `target` itself
    # as an input (that made the graph a cycle and backward never ended).
    args = tuple(shadow if a is target else a for a in args)
    result = op.apply(shadow, *args, **params)
    out = result.data
    if out.shape != target.shape:
        raise ValueError(f"{opname}_ (in place): the result has shape {out.shape} but the "
                         f"tensor being updated has shape {target.shape}; in-place ops "
                         "cannot broadcast the target, use the out-of-place op")
    if out.dtype != target.dtype and not np.can_cast(out.dtype, target.dtype, "same_kind"):
        raise TypeError(f"{opname}_ (in place): result dtype {out.dtype} cannot be cast to "
                        f"the target's dtype {target.dtype}; use the out-of-place op")
    if not target.data.flags.writeable:
        raise ValueError(f"{opname}_ (in place): the tensor's buffer is read-only (a "
                         "broadcast view); call .clone() or use the out-of-place op")
    if out is not target.data:
        target.data[...] = out
    _epoch[0] += 1
    target._vbox[0] = _epoch[0]
    target._vbox[1] += 1
    if result._node is not None:
        # Ops recorded before this write hold `target` itself as their input; backward and
        # topological_order route them to the shadow (the version they saw) by sequence
        # number. Kept even when that version had no node: else such an op would list the
        # new version, recorded after it, as its input (a cycle in the graph's edges).
        if target._extra is None:
            target._extra = {}
        target._extra.setdefault("versions", []).append(shadow)
        target._node = result._node
        target.requires_grad = True
        target._seq = result._seq
    return target


def mark_modified(*tensors) -> None:
    """Record that the tensors' buffers were written in place outside the ops (e.g. by an
    optimizer updating `t.data` directly): bumps their version counters, so a backward that
    saved the old values raises instead of silently using the new ones."""
    _epoch[0] += 1
    for t in tensors:
        box = t._version_box()
        box[0] = _epoch[0]
        box[1] += 1


# ---------------------------------------------------------------- errors and anomaly mode

def _describe_inputs(args, arrays):
    parts = []
    for a, arr in zip(args, arrays):
        if backend.is_array(arr):
            parts.append(f"{tuple(arr.shape)} {arr.dtype} on {backend.device_of(arr)}")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _forward_error(cls, ctx, args, arrays, params, exc):
    name = cls.op_name or cls.__name__.lower()
    # Mixed devices first: whatever the op's own checks then said is a consequence of that.
    devices = {backend.device_of(a) for a in arrays if backend.is_array(a)}
    if len(devices) > 1:
        return RuntimeError(f"{name}: inputs are on different devices "
                            f"({_describe_inputs(args, arrays)}); move them to one device "
                            "with .to(device) first")
    if (isinstance(exc, (ValueError, TypeError, IndexError, RuntimeError))
            and str(exc).startswith(name + ":")):
        return exc  # already a clear error from the op itself
    described = _describe_inputs(args, arrays)
    extra = f" with {params}" if params else ""
    # NumPy raises subclasses (UFuncTypeError, AxisError): report the standard base class.
    kind = next((k for k in (ValueError, TypeError, IndexError) if isinstance(exc, k)), None)
    if kind is None:
        kind = ValueError if "shape" in str(exc) or "broadcast" in str(exc) else RuntimeError
    return kind(f"{name}: cannot compute for inputs ({described}){extra}: {exc}")


def _user_frame():
    """The innermost stack frame outside the autodiff package, formatted."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(here):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "<unknown>"


def _anomaly_forward(ctx, out):
    ctx.trace = _user_frame()
    if backend.is_floating(out.dtype) and not bool(backend.array_module(out).isfinite(out).all()):
        raise FloatingPointError(
            f"anomaly: forward of {ctx.name} produced NaN or Inf.\nThe op was created at\n  "
            f"{ctx.trace}")


def check_backward_anomaly(ctx, grads):
    """Raise when a backward step of `ctx` produced NaN/Inf (anomaly mode only)."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        arr = g.data if isinstance(g, Tensor) else g
        if not backend.is_array(arr) or not backend.is_floating(arr.dtype):
            continue
        if not bool(backend.array_module(arr).isfinite(arr).all()):
            raise FloatingPointError(
                f"anomaly: backward of {ctx.name} produced NaN or Inf in the gradient of "
                f"input {i}.\nThe forward op was created at\n  {ctx.trace or '<unknown>'}")


from .tensor import Tensor  # noqa: E402  (circular: Tensor methods call ops)
