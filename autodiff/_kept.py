"""Kept gradients: after `loss.backward()`, `ad.kept_grad(t)` is the gradient each tensor
received and `ad.kept_input_grads(node)` what each node's rule returned, so diagrams can
show every gradient of a plain backward pass (no wrapper, no second pass).

A pass keeps them while the elements kept stay within `ad.set_keep_grads_limit` (default
10,000: all of a lecture-sized graph; a large model pays nothing past its first few
tensors), or all of them inside `with ad.keep_grads():`. A record is one tuple
(gradient, input gradients), held by the tensor and by its node; past the limit a pass
drops the record a visited tensor holds from an earlier pass, so none is ever stale.
"""
from __future__ import annotations

import math

from .mode import keep_limit

__all__ = ["kept_grad", "kept_input_grads"]


class Keeper:
    """Keeps, for `ad.kept_grad` / `ad.kept_input_grads`, each visited tensor's gradient and
    its node's input gradients, while the elements kept in this pass stay within the limit
    (`ad.set_keep_grads_limit`); past it, a record from an earlier pass is dropped."""

    def __init__(self):
        limit = keep_limit()  # None: no limit (ad.keep_grads)
        self.room = math.inf if limit is None else limit

    def record(self, t, g, in_grads):
        if self.room >= 0 and (size := kept_size(g, in_grads)) <= self.room:
            self.room -= size
            store(t, (g, in_grads))
        else:
            self.room = -1
            if t._kept is not None:
                store(t, None)


def numel(g) -> int:
    """Elements in one gradient: an array, a Tensor (under create_graph) or a number."""
    return g.data.size if isinstance(g, Tensor) else getattr(g, "size", 1)


def kept_size(g, in_grads):
    """Elements in a tensor's gradient and its node's input gradients."""
    n = numel(g)
    for gi in in_grads or ():
        if gi is not None:
            n += numel(gi)
    return n


def store(t, record):
    """One record (gradient, input gradients), or None, on the tensor and its node."""
    t._kept = record
    if t._node is not None:
        t._node.kept = record


def kept_grad(t):
    """The gradient the last backward pass through `t` gave it (for a leaf, what that pass
    delivered, not the accumulated .grad), or None when it was not kept."""
    if t._kept is None:
        return None
    g = t._kept[0]
    return g if isinstance(g, Tensor) else Tensor._make(g, None, False)


def kept_input_grads(node):
    """The tuple node's backward returned in the last pass that ran it (one entry per
    input, None where none), or None when it was not kept."""
    record = getattr(node, "kept", None)  # a slot, set once a pass visited the node
    return None if record is None else record[1]


from .tensor import Tensor  # noqa: E402  (circular)
