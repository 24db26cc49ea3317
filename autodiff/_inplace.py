"""In-place writes (`x += y`, `x[i] = v`, an optimizer writing `p.data`): version counters,
and which version of a tensor each recorded op saw.

A tensor written in place keeps its identity, as in PyTorch (every reference to it sees the
new values), but not its history: the write hands the old history (node and creation
number) to a *shadow* tensor and makes the tensor the output of the in-place op. Ops
recorded before the write still hold the tensor itself among their inputs; the write
appends (when, shadow) to the tensor's list of versions, so `seen_inputs(node)` can give
each op the version it saw. The routing is decided by the write; walkers only read it.

Each buffer has one `VersionBox`, shared by its views: when it was last written and how
often. A node records the clock when it is made, so backward can tell whether a value it
saved was overwritten since (and refuses, instead of returning wrong gradients).
"""
from __future__ import annotations

import numpy as np

from . import backend
from .errors import op_error
from .mode import state as _mode

__all__ = ["VersionBox", "apply_inplace", "update", "mark_modified", "seen_inputs", "check_saved",
           "private_copy"]


class _Clock:
    """`now` counts in-place writes; `last_rewrite` is `now` after the last write that gave
    a tensor a new history (ops made before it may need `seen_inputs` routing)."""

    __slots__ = ("now", "last_rewrite")

    def __init__(self):
        self.now = self.last_rewrite = 0


clock = _Clock()


class VersionBox:
    """The version counter of one buffer, shared by the tensors viewing it."""

    __slots__ = ("epoch", "count", "shared")

    def __init__(self):
        self.epoch = 0   # clock.now after the last write (0: never written)
        self.count = 0   # number of writes (Tensor.version)
        self.shared = 0  # 0: no views; 1: views; 2: views, and the buffer is in a graph


def version_box(t) -> VersionBox:
    """t's version box, made on first need (a view or an in-place write)."""
    if t._vbox is None:
        t._vbox = VersionBox()
    return t._vbox


def share_version(view, base) -> None:
    """`view` was made from `base` by a view op: they share one buffer and one box."""
    box = view._vbox = version_box(base)
    box.shared = 2 if base.requires_grad else (box.shared or 1)


def _bump(t) -> None:
    box = version_box(t)
    box.epoch = clock.now
    box.count += 1


def mark_modified(*tensors) -> None:
    """Record that the tensors' buffers were written in place outside the ops (e.g. by an
    optimizer updating `t.data` directly): bumps their version counters, so a backward that
    saved the old values raises instead of silently using the new ones."""
    clock.now += 1
    for t in tensors:
        _bump(t)


def seen_inputs(node) -> tuple:
    """node's inputs, each tensor overwritten in place since as the version node saw."""
    inputs = node._inputs
    if node.epoch >= clock.last_rewrite:  # no tensor got a new history since node was made
        return inputs
    return tuple(_version_at(i, node.epoch) if isinstance(i, Tensor) else i for i in inputs)


def _version_at(t, epoch):
    """The version of t that existed when the clock read `epoch`."""
    for written, old in t._extra.get("versions", ()) if t._extra is not None else ():
        if written > epoch:
            return old
    return t


def _written_after(t, epoch) -> bool:
    return t._vbox is not None and t._vbox.epoch > epoch


def check_saved(node, out) -> None:
    """Raise if a value node saved for backward (an input or its output `out`) was
    overwritten in place after node was made."""
    if not node.saved or node.epoch == clock.now:
        return
    saved = {id(v) for v in node.saved}
    for i, inp in enumerate(seen_inputs(node)):
        if isinstance(inp, Tensor) and id(inp.data) in saved and _written_after(inp, node.epoch):
            raise op_error(RuntimeError, node.name,
                           f"input {i} of '{node.name}' (shape {inp.shape}) was modified by "
                           "an in-place operation after it was saved for the gradient. Use "
                           "an out-of-place op (x = x + y instead of x += y) or clone() the "
                           "tensor before modifying it", label="backward")
    if id(out.data) in saved and _written_after(out, node.epoch):
        raise op_error(RuntimeError, node.name,
                       f"the output of '{node.name}' (shape {out.shape}) was modified by an "
                       "in-place operation after it was saved for the gradient. Use an "
                       "out-of-place op or clone() it first", label="backward")


def private_copy(value):
    """`value` as a backward rule may keep it: an array the caller could still change (an
    index array, a mask, class targets) becomes a copy only the rule holds, so a later
    write to the caller's array cannot change the gradient (torch copies such arguments
    into tensors); a tuple (an index) is handled item by item; anything else is returned
    as it is."""
    if type(value) is tuple:
        return tuple(map(private_copy, value))
    if backend.is_array(value) and value.ndim:
        return value.copy()
    return value


def _saves(node, data) -> bool:
    """Whether `node` saved the array `data` for its backward."""
    return node is not None and bool(node.saved) and any(v is data for v in node.saved)


def apply_inplace(target, op, *args, **params):
    """Run `op(target, *args)` and write the result into `target`'s buffer in place."""
    name = (op.op_name or op.__name__.lower()) + "_"
    return update(target, name, lambda old, *a: op.apply(old, *a, **params), *args)


def update(target, name, compute, *args):
    """Write `compute(target, *args)` (a Tensor of target's shape computed by ops whose
    inputs include the target) into `target`'s buffer in place: `x += y`, `x.add_(y)`.

    The graph history moves: a shadow tensor takes over `target`'s old node, and `target`
    becomes the result's output. The shared version counter is bumped so any backward that
    saved the old values raises instead of returning wrong gradients.
    """
    label = name + " (in place)"
    _check_writable(target, name, label, args)
    shadow = Tensor._make(target.data, target._node, target.requires_grad)
    shadow._vbox = version_box(target)
    shadow._seq = target._seq
    shadow._kept, target._kept = target._kept, None
    if target._extra is not None:
        shadow._extra = {"name": target._extra.get("name")}
    # `x += x`: the operand is the old value too; the node must not list `target` itself
    # as an input (that made the graph a cycle and backward never ended).
    args = tuple(shadow if a is target else a for a in args)
    result = compute(shadow, *args)
    if _saves(result._node, target.data):
        # The op saved the values this write overwrites (x.mul_(w) keeps x for w's
        # gradient): run it again on a copy (a Clone node), so its gradient, to any
        # order, sees the old values, as torch's in-place ops do.
        from .ops.elementwise import Clone
        result = compute(Clone.apply(shadow), *(Clone.apply(a) if a is shadow else a
                                                 for a in args))
    out = result.data
    if out.shape != target.shape:
        raise op_error(ValueError, name, f"the result has shape {out.shape} but "
                       f"the tensor being updated has shape {target.shape}; in-place ops "
                       "cannot broadcast the target, use the out-of-place op", label)
    if out.dtype != target.dtype and not np.can_cast(out.dtype, target.dtype, "same_kind"):
        raise op_error(TypeError, name, f"result dtype {out.dtype} cannot be cast "
                       f"to the target's dtype {target.dtype}; use the out-of-place op", label)
    if not target.data.flags.writeable:
        raise op_error(ValueError, name, "the tensor's buffer is read-only (a "
                       "broadcast view); call .clone() or use the out-of-place op", label)
    if out is not target.data:
        target.data[...] = out
    clock.now += 1
    _bump(target)
    if result._node is not None:
        # Kept even when the old version had no node: else an op recorded before the write
        # would route to the new version, recorded after it (a cycle in the graph's edges).
        if target._extra is None:
            target._extra = {}
        target._extra.setdefault("versions", []).append((clock.now, shadow))
        clock.last_rewrite = clock.now
        target._node = result._node
        target.requires_grad = True
        target._seq = result._seq
    return target


def _check_writable(target, name, label, args) -> None:
    """Refuse writes that would make some gradient wrong (PyTorch refuses or rebases)."""
    if _mode.grad_enabled and target.requires_grad and target._node is None:
        raise op_error(RuntimeError, name, "a leaf tensor that requires grad "
                       "cannot be modified in place while grad mode is on (its gradient would "
                       "be lost); wrap the update in `with ad.no_grad():` or use an "
                       "out-of-place op", label)
    box = target._vbox
    if (box is not None and box.shared and _mode.grad_enabled
            and (target.requires_grad or box.shared == 2
                 or any(isinstance(a, Tensor) and a.requires_grad for a in args))):
        # The other tensors sharing this buffer would keep graphs that no longer match
        # their values (PyTorch rebases them; we refuse rather than return wrong grads).
        raise op_error(RuntimeError, name, "this tensor shares its memory with "
                       "another tensor (a view such as a slice, reshape or transpose, or the "
                       "base of one) and is part of a graph being recorded; modifying it in "
                       "place would make the other tensor's gradient wrong. Use an "
                       "out-of-place op, or .clone() the view first", label)


from .tensor import Tensor  # noqa: E402  (circular: tensors are what this module writes)
