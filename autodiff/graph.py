"""Walking the graph: backward, topological order, gradient accumulation, hooks, freeing.

This is the only module that walks the graph; viz reuses `topological_order`.

Every tensor carries a creation sequence number, and an op's output is always created
after its inputs, so processing tensors in decreasing sequence order is a reverse
topological order. Backward keeps a max-heap of the tensors that have received a gradient:
when a tensor is popped, every consumer (all newer) has already contributed, so its
gradient is complete. No recursion and no separate sort; a chain of a million ops is fine.
"""
from __future__ import annotations

import heapq
import itertools
import sys

import numpy as np

from . import backend
from .function import _epoch
from .mode import state as _mode
from .tensor import _seq as _tensor_seq

_new_object = object.__new__

__all__ = ["backward", "grad", "topological_order", "sum_to_shape", "HookHandle"]

_hook_ids = itertools.count()


def _sole_reference_count():
    """sys.getrefcount of an array held by exactly one local variable, as _run sees its
    gradient; 0 (never matches) if this interpreter does not count that way."""
    a = np.empty(1)
    one = sys.getrefcount(a)
    b = a  # noqa: F841  (a second holder must show up in the count)
    return one if sys.getrefcount(a) == one + 1 else 0


#: A gradient array is scratch (the node's backward may overwrite it) when nothing but
#: _run's local variable refers to it: no other gradient slot, hook, retained .grad,
#: view or saved value can see the change. Saves the ops that allow it (Function
#: attribute `overwrites_grad`) a gradient-sized allocation per call.
_SOLE_REFS = _sole_reference_count()
_getrefcount = sys.getrefcount


class HookHandle:
    """Returned by `register_hook`; `.remove()` unregisters the hook."""

    def __init__(self, hooks: dict, fn):
        self._hooks = hooks
        self.id = next(_hook_ids)
        hooks[self.id] = fn

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def topological_order(roots):
    """Tensors reachable from `roots` (a Tensor or a list), inputs before outputs."""
    if isinstance(roots, Tensor):
        roots = [roots]
    seen = {}
    stack = [r for r in roots if isinstance(r, Tensor)]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen[id(t)] = t
        node = t._node
        if node is not None:
            inputs = node.inputs
            if any(isinstance(i, Tensor) and i._seq > t._seq for i in inputs):
                # An input was written in place after this op: point the node at the
                # version it used, so walkers of `node.inputs` (viz) see the right edges.
                inputs = node.inputs = tuple(
                    version_seen_by(i, t._seq) if isinstance(i, Tensor) and i._seq > t._seq
                    else i for i in inputs)
            for inp in inputs:
                if isinstance(inp, Tensor) and id(inp) not in seen:
                    stack.append(inp)
    return sorted(seen.values(), key=lambda t: t._seq)


def version_seen_by(t, seq):
    """The version of `t` that existed when the tensor numbered `seq` was made.

    An in-place op gives `t` a new node and a newer sequence number, and keeps the
    previous version (its old node) in a shadow tensor; ops recorded before the write
    still list `t` among their inputs but must backpropagate into that older version.
    """
    for old in reversed(t._extra.get("versions", ()) if t._extra is not None else ()):
        if old._seq < seq:
            return old
    return t


def sum_to_shape(g, shape, opname="backward"):
    """Sum a broadcast gradient back to `shape` (arrays or Tensors)."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise ValueError(f"{opname}: gradient of shape {tuple(gshape)} cannot be summed to "
                         f"the input shape {tuple(shape)}; a custom backward must return one "
                         "gradient per input with the input's shape (or the broadcast shape "
                         "the input took in the forward, which the engine sums back)")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gshape[lead + i] != 1)
    if isinstance(g, Tensor):
        return g.sum(axis=axes, keepdims=False).reshape(shape) if axes else g.reshape(shape)
    acc = backend.accumulation_dtype(g.dtype)
    out = g.sum(axis=axes, dtype=acc) if axes else g
    if acc is not None:
        out = out.astype(g.dtype)
    return out if out.shape == shape else out.reshape(shape)


def _initial_grad(root, gradient, create_graph):
    if gradient is None:
        data = root.data
        if data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}; gradients can be created "
                "implicitly only for one-element outputs. Pass gradient= (a tensor of the "
                "output's shape, e.g. ones_like(out)) or reduce the output first")
        if type(data) is np.ndarray:  # np.array(1) is C-level; np.ones goes through Python
            g = np.array(1, dtype=data.dtype)
            if data.ndim:
                g = g.reshape(data.shape)
        else:
            g = backend.array_module(data).ones(data.shape, dtype=data.dtype)
    else:
        g = gradient.data if isinstance(gradient, Tensor) else gradient
        if not backend.is_array(g):
            g = np.asarray(g, dtype=root.dtype)
        if g.shape != root.shape:
            raise ValueError(f"backward: gradient has shape {tuple(g.shape)} but the output "
                             f"has shape {root.shape}; they must match")
        if g.dtype != root.dtype:
            g = g.astype(root.dtype)
        if create_graph and isinstance(gradient, Tensor):
            return gradient
        # A view: accumulation copies views, so no leaf's .grad aliases the caller's buffer.
        g = g.view()
    if create_graph:
        return Tensor._make(g, None, False)
    return g


def _released_error(node):
    return RuntimeError(
        f"backward: trying to backward through the graph a second time (op "
        f"'{node.name}'): its saved values were freed after the first backward. Pass "
        "retain_graph=True to the first backward (or ad.grad) call if you need to "
        "backward twice")


def _check_saved(node, t):
    """Raise if a value this node saved was modified in place after the node was made."""
    saved_ids = {id(v) for v in node.saved}
    for i, inp in enumerate(node.inputs):
        if (isinstance(inp, Tensor) and id(inp.data) in saved_ids and inp._vbox is not None
                and inp._vbox[0] > node.epoch):
            raise RuntimeError(
                f"backward: input {i} of '{node.name}' (shape {inp.shape}) was modified by an "
                "in-place operation after it was saved for the gradient. Use an out-of-place "
                "op (x = x + y instead of x += y) or clone() the tensor before modifying it")
    if id(t.data) in saved_ids and t._vbox is not None and t._vbox[0] > node.epoch:
        raise RuntimeError(
            f"backward: the output of '{node.name}' (shape {t.shape}) was modified by an "
            "in-place operation after it was saved for the gradient. Use an out-of-place op "
            "or clone() it first")


def _symbolic_saved(node, t):
    """Saved values as Tensors for create_graph: inputs and the output stay connected."""
    out = []
    for v in node.saved:
        if backend.is_array(v):
            for inp in node.inputs:
                if isinstance(inp, Tensor) and inp.data is v:
                    out.append(inp)
                    break
            else:
                out.append(t if t.data is v else Tensor._make(v, None, False))
        else:
            out.append(v)
    return tuple(out)


def _run_hooks(t, g, create_graph):
    hooks = t._extra.get("hooks") if t._extra is not None else None
    if not hooks:
        return g
    for fn in list(hooks.values()):
        as_tensor = g if create_graph else Tensor._make(g, None, False)
        r = fn(as_tensor)
        if r is not None:
            r = r if isinstance(r, Tensor) else Tensor(r)
            if r.shape != t.shape:
                raise ValueError(f"hook {fn!r} returned a gradient of shape {r.shape} for a "
                                 f"tensor of shape {t.shape}")
            if r.dtype != t.dtype:  # e.g. a Python float: float32 by default
                r = r.to(dtype=t.dtype)
            g = r if create_graph else r.data
    return g


def _accumulate_into(t, g, create_graph, owned):
    """t.grad += g, without aliasing gradient buffers between tensors."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
        return
    if t.grad is None:
        if g.base is not None or id(g) in owned or not g.flags.writeable:
            g = g.copy()
        owned.add(id(g))
    else:
        g = t.grad.data + g
    # Tensor._make inlined: this runs for every leaf on every backward.
    gt = _new_object(Tensor)
    gt.data = g
    gt.grad = gt._node = gt._vbox = gt._extra = None
    gt.requires_grad = False
    gt._seq = next(_tensor_seq)
    t.grad = gt


def backward(root, gradient=None, retain_graph=False, create_graph=False, inputs=None):
    """Accumulate d(root)/d(leaf) into every reachable leaf's `.grad`."""
    if not isinstance(root, Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn "
                           "(no input of the computation had requires_grad=True, or it was "
                           "computed under no_grad)")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        grads = _run([(root, _initial_grad(root, gradient, create_graph))], retain_graph,
                     create_graph, targets=inputs)
        owned = set()
        for t, g in zip(inputs, grads):
            if g is not None:
                _accumulate_into(t, g, create_graph, owned)
        return
    _run([(root, _initial_grad(root, gradient, create_graph))], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned (not accumulated into .grad)."""
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs_list = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs_list):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError("grad: an output does not require grad (it does not depend "
                               "on any input that requires grad)")
    # One pass from all outputs: a node they share is visited (and freed) once.
    unique = list({id(t): t for t in inputs_list}.values())  # the same input may repeat
    found = _run([(out, _initial_grad(out, g0, create_graph))
                  for out, g0 in zip(outputs, grad_outputs)],
                 retain_graph, create_graph, targets=unique)
    by_id = {id(t): g for t, g in zip(unique, found)}
    totals = [by_id[id(t)] for t in inputs_list]
    result = []
    for i, (t, g) in enumerate(zip(inputs_list, totals)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) is not part of the "
                                   "graph of the outputs; pass allow_unused=True to get None")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._make(g, None, False))
    return tuple(result)


def _run(roots, retain_graph, create_graph, targets=None):
    """The backward pass from `roots`, (tensor, initial gradient) pairs. With `targets`,
    return their gradients instead of accumulating."""
    if create_graph:
        from .ops import symbolic as xp_graph
    anomaly = _mode.anomaly
    observers = _mode.observers
    epoch = _epoch[0]
    target_ids = None if targets is None else {id(t): i for i, t in enumerate(targets)}
    found = None if targets is None else [None] * len(targets)
    # With targets, only nodes through which a target is reachable run (as in PyTorch's
    # autograd.grad): the rest keep their saved values and cost nothing.
    through = None if targets is None else _reaching(roots, targets, target_ids)
    grads = {}
    heap = []
    for root, g0 in roots:
        prev = grads.get(id(root))
        if prev is None:
            grads[id(root)] = g0
            heap.append((-root._seq, root))
        else:
            grads[id(root)] = prev + g0
    if len(heap) > 1:
        heapq.heapify(heap)
    owned = set()
    pop, push, ndarray = heapq.heappop, heapq.heappush, np.ndarray
    # Gradients of a create_graph pass are recorded only if grad mode is on.
    previous_mode = _mode.grad_enabled
    _mode.grad_enabled = bool(create_graph)
    try:
        while heap:
            t = pop(heap)[1]
            g = grads.pop(id(t))
            if t._extra is not None:
                g = _run_hooks(t, g, create_graph)
                if targets is None and t._node is not None and t._extra.get("retain"):
                    _accumulate_into(t, g, create_graph, owned)
            if target_ids is not None:
                i = target_ids.get(id(t))
                if i is not None:
                    found[i] = g
                if id(t) not in through:
                    if observers and t._node is None:
                        _notify(observers, t, g, None, None)
                    continue
            node = t._node
            if node is None:
                if targets is None:
                    _accumulate_into(t, g, create_graph, owned)
                if observers:
                    _notify(observers, t, g, None, None)
                continue
            saved = node.saved
            if saved:
                if node.epoch != epoch:
                    _check_saved(node, t)
            elif saved is None:
                raise _released_error(node)
            if node.overwrites_grad:
                # Set on every pass, create_graph too (g is a Tensor there, never scratch):
                # a flag left from an earlier pass would let a rule that falls back to
                # arrays (_symbolic_backward) overwrite a gradient others see.
                node.grad_is_scratch = (
                    type(g) is ndarray and g.base is None and not observers
                    and _getrefcount(g) == _SOLE_REFS and g.flags.writeable)
            if create_graph:
                in_grads = _symbolic_backward(node, t, g, xp_graph)
            else:
                in_grads = node.backward(node, g)
            if type(in_grads) is not tuple:
                in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
            if anomaly:
                from .function import check_backward_anomaly
                check_backward_anomaly(node, in_grads)
            if observers:
                _notify(observers, t, g, node, in_grads)
            inputs = node.inputs
            if len(in_grads) != len(inputs):
                raise RuntimeError(f"{node.name}: backward returned {len(in_grads)} gradients "
                                   f"for {len(inputs)} inputs; return one per input (None "
                                   "where there is none)")
            tseq = t._seq
            for inp, gi, need in zip(inputs, in_grads, node.needs_input_grad):
                if gi is None or not need:
                    continue
                if inp._seq > tseq:  # modified in place after this op used it
                    inp = version_seen_by(inp, tseq)
                data = inp.data
                if create_graph:
                    if not isinstance(gi, Tensor):
                        gi = _opaque_gradient(node, gi)
                elif type(gi) is not ndarray:
                    gi = _as_gradient_array(gi, data)
                if gi.shape != data.shape:
                    gi = sum_to_shape(gi, data.shape, node.name)
                if gi.dtype is not data.dtype and gi.dtype != data.dtype:
                    gi = gi.to(dtype=data.dtype) if create_graph else gi.astype(data.dtype)
                key = id(inp)
                prev = grads.get(key)
                if prev is None:
                    grads[key] = gi
                    push(heap, (-inp._seq, inp))
                else:
                    grads[key] = prev + gi
            if saved and not retain_graph:
                node.saved = None  # frees the arrays; marks the node as released
            # drop this node's references to its gradients: the next node's gradient may be
            # among them, and must be found unshared to count as scratch
            in_grads = gi = None
    finally:
        _mode.grad_enabled = previous_mode
    return found


def _reaching(roots, targets, target_ids):
    """ids of the tensors whose node leads to a target (a target strictly upstream)."""
    # Tensors older than every target cannot lead to one: the walk stops there.
    floor = min(t._seq for t in targets) if targets else 0
    seen = {}
    edges = {}
    stack = [r for r, _ in roots]
    while stack:
        t = stack.pop()
        if id(t) in seen or t._seq < floor:
            continue
        seen[id(t)] = t
        if t._node is not None:
            # the versions backward will follow (see version_seen_by)
            ins = [i if i._seq < t._seq else version_seen_by(i, t._seq)
                   for i in t._node.inputs if isinstance(i, Tensor)]
            edges[id(t)] = ins
            stack.extend(ins)
    through = set()
    for t in sorted(seen.values(), key=lambda t: t._seq):  # inputs before outputs
        if any(id(i) in through or id(i) in target_ids for i in edges.get(id(t), ())):
            through.add(id(t))
    return through


def _notify(observers, t, g, node, in_grads):
    for fn in observers:
        fn(t, g, node, in_grads)


def _as_gradient_array(g, like):
    """A backward rule may return a Tensor, a cupy array or a scalar: make it an array."""
    if isinstance(g, Tensor):
        return g.data
    if backend.is_array(g):
        return g
    return backend.array_module(like).asarray(g, dtype=like.dtype)


def _symbolic_backward(node, t, g, xp_graph):
    """Run node's rule on Tensors (create_graph), so its gradients are graph nodes.

    A rule written with raw NumPy calls cannot: it fails on Tensors, or turns one into an
    array (Tensor.__array__ flags that). It then runs on arrays instead and its gradients
    become values that raise a clear error if differentiated again."""
    saved_arrays, xp_fast = node.saved, node.xp
    node.saved, node.xp, node.create_graph = _symbolic_saved(node, t), xp_graph, True
    outer, _mode.array_escape = _mode.array_escape, False
    failure = None
    try:
        in_grads = node.backward(node, g)
    except (TypeError, AttributeError) as exc:
        failure = exc
    except FloatingPointError as exc:
        if not _mode.anomaly:
            raise
        # An op recorded inside the rule tripped anomaly mode: report the rule's op.
        inner = str(exc).split(" produced")[0].removeprefix("anomaly: forward of ")
        raise FloatingPointError(
            f"anomaly: backward of {node.name} produced NaN or Inf (in the '{inner}' op its "
            f"rule records under create_graph).\nThe forward op was created at\n  "
            f"{node.trace or '<unknown>'}") from exc
    finally:
        escaped = _mode.array_escape
        _mode.array_escape = outer
        node.saved, node.xp, node.create_graph = saved_arrays, xp_fast, False
    if failure is None and not escaped:
        return in_grads
    if failure is not None:
        reason = f"its backward fails on Tensors ({type(failure).__name__}: {failure})"
        in_grads = node.backward(node, g.data)
    else:
        reason = "its backward converts a Tensor to a NumPy array"
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
    return tuple(None if gi is None else
                 _opaque_gradient(node, gi.data if isinstance(gi, Tensor) else gi, reason)
                 for gi in in_grads)


def _opaque_gradient(node, g, reason="its backward computed the gradient with raw arrays"):
    """A raw-array gradient in a create_graph pass: usable as a value, not differentiable."""
    from .function import Function

    class OpaqueGradient(Function):
        op_name = f"{node.name}_backward"

        @staticmethod
        def forward(ctx, anchor):
            return g

        @staticmethod
        def backward(ctx, gg):
            raise RuntimeError(
                f"{node.name}: {reason}, so its gradient cannot be differentiated again "
                "(double backward). Write the backward with autodiff operators and ctx.xp "
                "functions instead of numpy calls to support create_graph")

    anchor = next((i for i in node.inputs if isinstance(i, Tensor) and i.requires_grad), None)
    return OpaqueGradient.apply(anchor) if anchor is not None else Tensor._make(g, None, False)


from .tensor import Tensor  # noqa: E402
