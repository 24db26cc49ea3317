"""Recording every tensor's gradient (and each backprop step) while backward runs.

    with viz.record_grads():
        loss.backward()
    viz.draw_graph(loss)        # intermediates show their gradients too, no retain_grad

Backward normally keeps gradients only for leaves (and tensors that called `retain_grad`);
this watches the engine through `ad.observe_backward` and keeps a host copy of every
gradient it computes. Recorded gradients are held weakly: they go when the tensor goes.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import autodiff as ad

from ._format import reduce_to_shape, to_numpy

__all__ = ["record_grads", "recorded_grad", "Step"]



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


# tensor -> gradient array from the most recent recording that saw it
_recorded = IdentityWeakMap()
# tensor -> the Step in which backward processed it (most recent recording)
_recorded_steps = IdentityWeakMap()


@dataclass
class Step:
    """One backward step: `tensor` received its complete gradient `grad`; its op `node`
    (None for a leaf) passed `input_grads[k]` (reduced to the input's shape) to input k."""
    tensor: object
    grad: object
    node: object
    input_grads: tuple


class record_grads:
    """Context manager: remember the gradient of every tensor backward reaches.

    Inside it, run `loss.backward()` (or `ad.grad(...)`); afterwards `draw_graph` shows the
    gradient of intermediates as well as leaves. `.steps` lists the backward steps in the
    order the engine processed them (reverse topological order); `.grad(t)` looks one up.
    Gradients accumulate across backward calls within one block, like `.grad` does.
    """

    def __init__(self):
        self.steps: list[Step] = []
        self._grads = IdentityWeakMap()
        self._observer = None

    def __enter__(self):
        self._observer = ad.observe_backward(self._observe)
        self._observer.__enter__()
        return self

    def __exit__(self, *exc):
        self._observer.__exit__(*exc)
        self._observer = None
        return False

    def grad(self, tensor):
        """The gradient recorded for `tensor` (a NumPy array), or None."""
        return self._grads.get(tensor)

    def _observe(self, tensor, grad, node, input_grads):
        g = to_numpy(grad).copy()
        prev = self._grads.get(tensor)
        total = g if prev is None else prev + g
        self._grads[tensor] = total
        _recorded[tensor] = total
        passed = ()
        if node is not None:
            passed = tuple(
                None if gi is None or not isinstance(inp, ad.Tensor)
                else reduce_to_shape(to_numpy(gi), inp.shape)
                for inp, gi in zip(node.inputs, input_grads))
        self.steps.append(Step(tensor, g, node, passed))
        # the global registry holds tensors weakly: its value must not point back at the key
        _recorded_steps[tensor] = Step(None, g, node, passed)


def recorded_grad(tensor):
    """The gradient of `tensor` from the most recent `record_grads` block, or None."""
    return _recorded.get(tensor)


def recorded_step(tensor):
    """The backward Step that processed `tensor` in the most recent recording, or None
    (its `.tensor` is None: the caller already has the tensor)."""
    return _recorded_steps.get(tensor)
