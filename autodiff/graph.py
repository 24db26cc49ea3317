"""Backward: walk the graph from the output back to the leaves, applying the chain rule.

Every tensor has a creation number (`_seq`), and an op's output is created after its
inputs. So taking tensors newest first reaches each one after all of its consumers have
sent it their share: when a tensor is popped, its gradient is complete. `_run` is the walk:

    pop the newest tensor that has a gradient
    a leaf adds the gradient into its .grad;
    else run its node's backward rule: one gradient per input,
         sum each back to its input's shape, cast it to the input's dtype,
         add it to what the input has received so far, and free the node's saved values

No recursion and no separate sort: a chain of a million ops is fine. The entry points
(`t.backward()`, `ad.grad`) check their arguments and start the walk in autograd.py. Each other concern is
one named helper: hooks and retained gradients, kept gradients (`ad.kept_grad`, for
diagrams), observers, in-place checks (_inplace.py), anomaly checks (_anomaly.py) and
create_graph (_create_graph.py). autodiff/_fastpath.py holds a tuned copy of `_run` that
gives the same results bit for bit (AUTODIFF_FASTPATH=0 runs this one).
"""
from __future__ import annotations

import heapq

from . import backend
from .errors import op_error
from .mode import enable_grad, no_grad
from .mode import state as _mode

__all__ = ["topological_order", "sum_to_shape"]


# ---------------------------------------------------------------- the walk

def _run(roots, retain_graph, create_graph, targets=None):
    """The backward pass from `roots`, (tensor, initial gradient) pairs. Accumulates into
    the leaves' `.grad`, or with `targets` returns their gradients (None where none)."""
    pending = _Pending(roots)
    kept = _kept.Keeper()
    found = None if targets is None else {id(t): None for t in targets}
    # With targets, only nodes through which a target is reachable run (as in PyTorch's
    # autograd.grad): the rest keep their saved values and cost nothing.
    through = None if targets is None else _reaching(roots, targets)
    with enable_grad() if create_graph else no_grad():  # record the gradient's own graph?
        while pending:
            t, g = pending.pop()
            g = _hooks_and_retain(t, g, create_graph, retain=targets is None)
            if found is not None and id(t) in found:
                found[id(t)] = g
            node = t._node
            if node is None:  # a leaf: its gradient is complete
                if targets is None:
                    _accumulate(t, g, create_graph)
                kept.record(t, g, None)
                _notify(t, g, None, None)
                continue
            if through is not None and id(t) not in through:
                kept.record(t, g, None)  # no target upstream: skip the node
                continue
            in_grads = _apply_rule(node, t, g, create_graph)
            kept.record(t, g, in_grads)
            _notify(t, g, node, in_grads)
            for inp, gi, needed in zip(node.inputs, in_grads, node.needs_input_grad):
                if needed and gi is not None:
                    pending.add(inp, _fit(gi, inp, node, create_graph))
            if not retain_graph:
                _free(node)
    return None if found is None else [found[id(t)] for t in targets]


class _Pending:
    """Tensors waiting for backward, newest first, and the gradient each has so far."""

    def __init__(self, roots):
        self.heap, self.grads = [], {}
        for t, g in roots:
            self.add(t, g)

    def add(self, t, g):
        key = id(t)
        if key in self.grads:
            self.grads[key] = self.grads[key] + g
        else:
            self.grads[key] = g
            heapq.heappush(self.heap, (-t._seq, t))

    def pop(self):
        t = heapq.heappop(self.heap)[1]
        return t, self.grads.pop(id(t))

    def __bool__(self):
        return bool(self.heap)


def _apply_rule(node, t, g, create_graph):
    """node's backward rule applied to g, t's gradient: a tuple, one entry per input."""
    if node.saved is None:
        raise _released_error(node)
    _inplace.check_saved(node, t)
    in_grads = _create_graph.backward(node, t, g) if create_graph else node.backward(node, g)
    in_grads = _as_tuple(in_grads)
    if len(in_grads) != len(node.inputs):
        raise _arity_error(node, in_grads)
    if _mode.anomaly:
        _anomaly.check_backward(node, in_grads)
    return in_grads


def _fit(gi, inp, node, create_graph):
    """A rule's gradient for `inp` as an array (a Tensor under create_graph) of the input's
    shape and dtype: broadcast axes summed, cast."""
    data = inp.data
    if not create_graph:
        gi = _as_gradient_array(gi, data)
    if gi.shape != data.shape:
        gi = sum_to_shape(gi, data.shape, node.name)
    if gi.dtype != data.dtype:
        gi = gi.to(dtype=data.dtype) if create_graph else gi.astype(data.dtype)
    return gi


def _free(node):
    """Drop the node's saved values (marks it released; a second backward raises)."""
    if node.saved:
        node.saved = None


def _accumulate(t, g, create_graph):
    """t.grad += g. The first gradient is copied: the walk's arrays may be shared (one
    array sent to several inputs, a hook's or the caller's), and .grad must own its buffer."""
    if create_graph:
        t.grad = g if t.grad is None else t.grad + g
    else:
        t.grad = Tensor._make(g.copy() if t.grad is None else t.grad.data + g, None, False)


# ---------------------------------------------------------------- named steps

def _hooks_and_retain(t, g, create_graph, retain):
    """Run t's hooks on its gradient (`register_hook`: a returned tensor replaces it) and,
    when t asked with retain_grad(), add the gradient to t.grad."""
    if t._extra is None:
        return g
    g = _hooks.run(t, g, create_graph)
    if retain and t._node is not None and t._extra.get("retain"):
        _accumulate(t, g, create_graph)
    return g


def _notify(t, g, node, in_grads):
    """Tell the `ad.observe_backward` observers of this thread about a step."""
    for fn in _mode.observers:
        fn(t, g, node, in_grads)


# ---------------------------------------------------------------- graph queries

def topological_order(roots):
    """Tensors reachable from `roots` (a Tensor or a list), inputs before outputs."""
    seen = {}
    stack = [roots] if isinstance(roots, Tensor) else [r for r in roots if isinstance(r, Tensor)]
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            if t._node is not None:
                stack.extend(i for i in t._node.inputs if isinstance(i, Tensor))
    return sorted(seen.values(), key=lambda t: t._seq)


def _reaching(roots, targets):
    """ids of the tensors whose node leads to a target (a target strictly upstream)."""
    target_ids = {id(t) for t in targets}
    floor = min(t._seq for t in targets)  # older tensors cannot lead to a target
    tensors = [t for t in topological_order([r for r, _ in roots]) if t._seq >= floor]
    through = set()
    for t in tensors:  # inputs before outputs
        if t._node is not None and any(id(i) in through or id(i) in target_ids
                                       for i in t._node.inputs if isinstance(i, Tensor)):
            through.add(id(t))
    return through


def sum_to_shape(g, shape, opname="backward"):
    """Sum a broadcast gradient back to `shape` (arrays or Tensors): the axes broadcasting
    added in front, and the axes where `shape` has 1."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise op_error(ValueError, opname, f"gradient of shape {tuple(gshape)} cannot be "
                       f"summed to the input shape {tuple(shape)}; a custom backward must "
                       "return one gradient per input with the input's shape (or the "
                       "broadcast shape the input took in the forward, which the engine "
                       "sums back)")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gshape[lead + i] != 1)
    if isinstance(g, Tensor):
        return g.sum(axis=axes, keepdims=False).reshape(shape) if axes else g.reshape(shape)
    acc = backend.accumulation_dtype(g.dtype)
    out = g.sum(axis=axes, dtype=acc) if axes else g
    if acc is not None:
        out = out.astype(g.dtype)
    return out if out.shape == shape else out.reshape(shape)


# ---------------------------------------------------------------- small helpers

def _released_error(node):
    return op_error(RuntimeError, node.name, "trying to backward through the graph a second "
                    f"time (op '{node.name}'): its saved values were freed after the first "
                    "backward. Pass retain_graph=True to the first backward (or ad.grad) "
                    "call if you need to backward twice", label="backward")


def _arity_error(node, in_grads):
    return op_error(RuntimeError, node.name, f"backward returned {len(in_grads)} gradients "
                    f"for {len(node.inputs)} inputs; return one per input (None where there "
                    "is none)")


def _as_tuple(grads):
    return grads if type(grads) is tuple else tuple(grads) if isinstance(grads, list) else (grads,)


def _as_gradient_array(g, like):
    """A backward rule may return a Tensor, a cupy array or a scalar: make it an array."""
    if isinstance(g, Tensor):
        return g.data
    if backend.is_array(g):
        return g
    return backend.array_module(like).asarray(g, dtype=like.dtype)


def __getattr__(name):
    """backward and grad live in autograd.py; older code imports them from here."""
    if name in ("backward", "grad"):
        from . import autograd
        return getattr(autograd, name)
    raise AttributeError(f"module 'autodiff.graph' has no attribute {name!r}")


# Below the definitions: these modules use Function and Tensor (circular imports).
from . import _anomaly, _create_graph, _hooks, _inplace, _kept  # noqa: E402
from .tensor import Tensor  # noqa: E402
