"""An op: forward on raw arrays, backward as its local derivative rule, side by side.

    class Tanh(Function):
        @staticmethod
        def forward(ctx, x):              # raw numpy/cupy math
            y = ctx.xp.tanh(x)
            ctx.save(y)                   # what backward will need
            return y

        @staticmethod
        def backward(ctx, g):             # g = dL/dy; return dL/dx, one per input
            (y,) = ctx.saved
            return g * (1 - y * y)

`Tanh.apply(t)` unwraps the Tensors to arrays, runs forward, and, when some input requires
grad, records the instance `ctx` as the graph node of the output Tensor. The node keeps its
inputs, parameters and saved values; backward (graph.py) calls the rule with them later.

Rules are written against `ctx.xp`: the array module (numpy or cupy) in a normal backward,
and `autodiff.ops.symbolic`, a namespace of differentiable ops, under create_graph=True.
With operators (+ - * / @ ** comparisons) the same rule then runs on arrays or on Tensors,
so higher-order derivatives need no second copy of any rule.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

from . import backend
from .errors import forward_error
from .mode import state as _mode

__all__ = ["Function"]

_NO_PARAMS = MappingProxyType({})  # node.params of ops called without keyword parameters


class Function:
    """Base class of every op, built-in or user-defined; its instances are graph nodes."""

    #: Local derivative formula shown by viz on edges, e.g. "d tanh(x)/dx = 1 - tanh(x)^2".
    derivative = ""
    #: Short op name for errors and diagrams (defaults to the lower-cased class name).
    op_name = None
    #: True for ops whose output shares memory with their first input (views).
    is_view = False
    #: True for ops whose backward may overwrite its gradient argument when the engine sets
    #: `ctx.grad_is_scratch` (nothing else refers to that array; see _fastpath.py).
    overwrites_grad = False
    grad_is_scratch = False
    create_graph = False          # True while the rule runs on Tensors (create_graph)
    non_differentiable = False    # set by ctx.mark_non_differentiable()
    scope = None                  # the ad.scope active when the node was recorded
    trace = None                  # where user code created it (anomaly mode)
    #: The array module the rule runs on: NumPy unless the node sets its own (CuPy for GPU
    #: arrays; ops.symbolic while a create_graph backward runs).
    xp = np

    # Every node has these; the rarer ones (xp when not NumPy, _params when the op got
    # keyword parameters) and an op's own attributes (ctx.axes = ...) go to __dict__:
    # a graph holds one node per op, so each slot is 8 bytes per op.
    __slots__ = ("needs_input_grad", "_inputs", "saved", "epoch", "kept", "__dict__",
                 "__weakref__")

    # ---------------------------------------------------------------- the rule interface
    @staticmethod
    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError("an op must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{ctx.name} defines no backward; it is not differentiable")

    # ---------------------------------------------------------------- what a rule uses
    def save(self, *values):
        """Keep arrays (or constants) for backward; read them back as `ctx.saved`."""
        self.saved = values

    def mark_non_differentiable(self):
        """Declare the output to be non-differentiable (e.g. an index or a mask)."""
        self.non_differentiable = True

    def call(self, op, *args, **params):
        """Run another op from inside a backward rule: on raw arrays in a plain backward,
        through `op.apply` (recording a graph) under create_graph."""
        if self.create_graph:
            return op.apply(*args, **params)
        inner = op.__new__(op)
        inner.saved, inner.xp = (), self.xp
        inner.needs_input_grad = (True,) * len(args)
        return op.forward(inner, *args, **params)

    # ---------------------------------------------------------------- what a walker reads
    @property
    def inputs(self) -> tuple:
        """The Tensors/constants the op was applied to; a tensor overwritten in place since
        is the version the op saw (see _inplace.py)."""
        return _inplace.seen_inputs(self)

    @property
    def params(self):
        """The keyword parameters the op was applied with (an empty mapping when none):
        `type(node).apply(*node.inputs, **node.params)` computes the node's output again."""
        try:
            return self._params
        except AttributeError:  # not stored when empty (the common case: saves a store)
            return _NO_PARAMS

    @property
    def released(self) -> bool:
        """True once backward freed the saved values (retain_graph=False)."""
        return self.saved is None

    @property
    def name(self) -> str:
        return type(self).op_name or type(self).__name__.lower()

    def __repr__(self):
        return f"<{self.name} node>"

    # ---------------------------------------------------------------- applying an op
    @classmethod
    def apply(cls, *args, **params):
        """Run the op on Tensors/arrays/numbers; record a node when a gradient is needed."""
        ctx = cls.__new__(cls)
        arrays = _unwrap(args)
        ctx.xp = backend.array_module(*arrays)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.saved = ()
        try:
            out = cls.forward(ctx, *arrays, **params)
        except Exception as exc:
            raise forward_error(ctx.name, args, arrays, params, exc) from exc
        out = _as_output_array(ctx, out)
        records = _records(ctx, out)
        result = Tensor._make(out, ctx if records else None, records)
        if records:
            ctx._inputs = args
            if params:
                ctx._params = params
            ctx.epoch = _inplace.clock.now  # backward checks saved values against it
            if _mode.scope is not None:
                ctx.scope = _mode.scope
        if cls.is_view and isinstance(args[0], Tensor):
            _inplace.share_version(result, args[0])
        if _mode.anomaly:
            _anomaly.check_forward(ctx, out)
        return result


def _unwrap(args):
    """Tensors -> their arrays. A Python float next to a bfloat16 array becomes a bfloat16
    0-d array: ml_dtypes' bfloat16 does not treat Python scalars as "weak" as NumPy does
    for float16 (bfloat16 * 0.5 would come back float32); PyTorch keeps bfloat16."""
    arrays = [a.data if isinstance(a, Tensor) else a for a in args]
    if float in map(type, arrays) and any(getattr(a, "dtype", None) == _BFLOAT16
                                          for a in arrays):
        arrays = [np.asarray(a, dtype=_BFLOAT16) if type(a) is float else a for a in arrays]
    return arrays


_BFLOAT16 = backend.bfloat16


def _as_output_array(ctx, out):
    """forward's result as an array: NumPy returns 0-d results as scalars, and a saved
    output must be the output array itself (create_graph connects it to the output)."""
    if backend.is_array(out):
        return out
    raw, out = out, ctx.xp.asarray(out)
    if ctx.saved:
        ctx.saved = tuple(out if s is raw else s for s in ctx.saved)
    return out


def _records(ctx, out) -> bool:
    """Whether the op's output gets a node: grad mode on, an input requiring grad, and a
    differentiable (floating-point) output."""
    return (_mode.grad_enabled and True in ctx.needs_input_grad and not ctx.non_differentiable
            and backend.is_floating(out.dtype))


# Below the class: these modules use Function and Tensor (any of them may be imported first).
from . import _anomaly, _inplace  # noqa: E402
from .tensor import Tensor  # noqa: E402
