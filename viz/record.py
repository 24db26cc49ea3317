"""Gradients for drawing: what the engine kept in the last backward pass.

Every backward pass keeps, for each tensor it visits, the gradient it received, and for
each node the gradients its rule returned (`ad.kept_grad`, `ad.kept_input_grads`), while
the pass stays within `ad.get_keep_grads_limit()` elements (10,000 by default: every
gradient of a lecture-sized graph, nothing measurable on a large model). So

    loss.backward()
    viz.draw_graph(loss)        # every gradient, intermediates included

needs no wrapper. `viz.record_grads()` is `ad.keep_grads()` (no limit inside the block)
that also lists the backward steps as they ran.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import autodiff as ad

from ._format import to_numpy

__all__ = ["record_grads", "kept_grad", "kept_step", "missing_grad_note", "Step"]


class IdentityWeakMap:
    """A mapping from objects to values by identity, holding the objects weakly.

    (WeakKeyDictionary compares keys with ==, which on tensors is elementwise.)"""

    def __init__(self):
        self._data = {}

    def _drop(self, key):
        def callback(_ref, data=self._data, key=key):
            data.pop(key, None)
        return callback

    def __setitem__(self, obj, value):
        key = id(obj)
        self._data[key] = (weakref.ref(obj, self._drop(key)), value)

    def get(self, obj, default=None):
        entry = self._data.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return default
        return entry[1]

    def __len__(self):
        return len(self._data)


@dataclass
class Step:
    """One backward step: `tensor` received its complete gradient `grad`; its op `node`
    (None for a leaf) passed `input_grads[k]` (reduced to the input's shape; None for an
    input that needs no gradient) to input k."""
    tensor: object
    grad: object
    node: object
    input_grads: tuple


def _passed(node, input_grads):
    """The gradients a node's rule returned, reduced to its inputs' shapes, None for
    inputs that need no gradient (whatever the rule computed for them)."""
    out = []
    for inp, gi in zip(node.inputs, input_grads or ()):
        if gi is None or not isinstance(inp, ad.Tensor) or not inp.requires_grad:
            out.append(None)
        else:
            out.append(ad.sum_to_shape(to_numpy(gi), inp.shape))
    return tuple(out)


def kept_grad(tensor):
    """The gradient to draw for `tensor` (a NumPy array): its .grad when it has one (a
    leaf, or retain_grad), else what the last backward pass kept; None if neither."""
    if tensor.grad is not None:
        return to_numpy(tensor.grad)
    g = ad.kept_grad(tensor)
    return None if g is None else to_numpy(g)


def kept_step(tensor):
    """The last backward pass's Step for a computed tensor, from the kept values, or None
    (its `.tensor` is None: the caller has the tensor)."""
    node = tensor.grad_fn
    g = ad.kept_grad(tensor)
    if node is None or g is None:
        return None
    passed = ad.kept_input_grads(node)
    if passed is None:
        return None
    return Step(None, to_numpy(g), node, _passed(node, passed))


def missing_grad_note(roots) -> str:
    """Why a drawn gradient is unknown (for the legend): no backward pass from here yet,
    or the pass kept fewer gradients than the graph has."""
    if not any(ad.kept_grad(r) is not None or r.grad is not None for r in roots):
        return "grad ?: not computed yet - call loss.backward() (or draw after it)"
    return ("grad ?: not kept - the backward pass went past its keep limit "
            "(ad.set_keep_grads_limit); run it inside `with ad.keep_grads():` to keep them all")


class record_grads:
    """`ad.keep_grads()` (backward keeps every gradient, no limit) that also records the
    backward steps: `.steps` in the order the engine ran them, `.grad(t)` the gradient
    `t` received in the block (summed over backward calls in it, like `.grad`).

    Not needed for drawing: draw_graph shows every gradient after a plain backward of a
    lecture-sized graph."""

    def __init__(self):
        self.steps: list[Step] = []
        self._grads = IdentityWeakMap()
        self._keep = None
        self._observer = None

    def __enter__(self):
        self._keep = ad.keep_grads()
        self._keep.__enter__()
        self._observer = ad.observe_backward(self._observe)
        self._observer.__enter__()
        return self

    def __exit__(self, *exc):
        self._observer.__exit__(*exc)
        self._keep.__exit__(*exc)
        self._observer = self._keep = None
        return False

    def grad(self, tensor):
        """The gradient recorded for `tensor` (a NumPy array), or None."""
        return self._grads.get(tensor)

    def _observe(self, tensor, grad, node, input_grads):
        g = to_numpy(grad).copy()
        prev = self._grads.get(tensor)
        self._grads[tensor] = g if prev is None else prev + g
        passed = () if node is None else _passed(node, input_grads)
        self.steps.append(Step(tensor, g, node, passed))
