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

Views (a slice, reshape, transpose, diagonal, broadcast... of a tensor) are rebased as in
PyTorch. Each view records its *base*, the tensor owning the memory, and the box keeps
weak references to the views. A write into the base gives it a new history, and each live
view then gets a new history too: an `as_strided` node reading it from the new base. A
write *through* a view gives the base the history "the old base with the view's entries
replaced by the result" (a `copy_slices` node, torch's CopySlices), and the views are
regenerated from it. Both ops (ops/rebase.py) locate a view by `view_index`: the base
position of each of its entries, from the memory layout, so every view op is covered.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import backend
from .errors import op_error
from .mode import state as _mode

__all__ = ["VersionBox", "apply_inplace", "update", "mark_modified", "seen_inputs", "check_saved",
           "private_copy", "base_of", "view_index", "writable_view", "overlaps"]


class _Clock:
    """`now` counts in-place writes; `last_rewrite` is `now` after the last write that gave
    a tensor a new history (ops made before it may need `seen_inputs` routing)."""

    __slots__ = ("now", "last_rewrite")

    def __init__(self):
        self.now = self.last_rewrite = 0


clock = _Clock()


class VersionBox:
    """The version counter of one buffer, shared by the tensors viewing it."""

    __slots__ = ("epoch", "count", "views", "prune_at")

    def __init__(self):
        self.epoch = 0   # clock.now after the last write (0: never written)
        self.count = 0   # number of writes (Tensor.version)
        self.views = None  # weak references to the views made of the buffer (or None)
        self.prune_at = 16   # len(views) at which dead references are dropped


def version_box(t) -> VersionBox:
    """t's version box, made on first need (a view or an in-place write)."""
    if t._vbox is None:
        t._vbox = VersionBox()
    return t._vbox


def share_version(view, src) -> None:
    """`view` was made from `src` by a view op. When it shares src's memory (a reshape may
    have copied), they share one version box, and the view records its base: the tensor
    owning the memory (src's base when src is itself a view). Runs for every view op:
    written for speed."""
    data, src_data = view.data, src.data
    owner = data.base  # NumPy and CuPy point a view's .base at the array owning the memory
    if owner is not src_data and (owner is None or owner is not src_data.base):
        if owner is None or not backend.array_module(data).may_share_memory(data, src_data):
            return  # a copy: its own buffer, its own version counter (as torch's reshape)
    extra = src._extra
    base = src if extra is None else extra.get("base", src)
    box = src._vbox
    if box is None:
        box = src._vbox = VersionBox()
    view._vbox = box
    view._extra = {"base": base}  # (a view op's output is new: nothing else to keep)
    if _mode.grad_enabled:  # a view made under no_grad stays out of the graph (torch)
        refs = box.views
        if refs is None:
            box.views = [_weak(view)]
        else:
            refs.append(_weak(view))
            if len(refs) >= box.prune_at:  # a base viewed at every step: stay bounded
                refs[:] = [r for r in refs if r() is not None]
                box.prune_at = 2 * len(refs) + 16


_weak = weakref.ref


def base_of(t):
    """The tensor owning t's memory when t is a view (torch's Tensor._base), else None."""
    return None if t._extra is None else t._extra.get("base")


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
    becomes the result's output; when target is a view, or has views, the others sharing
    its memory are rebased (see the module docstring). The shared version counter is
    bumped so any backward that saved the old values raises instead of returning wrong
    gradients.
    """
    label = name + " (in place)"
    base = base_of(target)
    _check_writable(target, base, name, label)
    shadow = _shadow(target)
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
    if overlaps(target.data):
        raise op_error(ValueError, name, f"some entries of the tensor (shape {target.shape}, "
                       f"strides {target.data.strides}) share one memory location (a broadcast "
                       "or expand view), so writing into it is ambiguous; call .clone() or "
                       "use the out-of-place op", label)
    if not target.data.flags.writeable:
        raise op_error(ValueError, name, "the tensor's buffer is read-only; call .clone() "
                       "or use the out-of-place op", label)
    index = None
    if base is not None and _mode.grad_enabled and (result._node is not None
                                                   or base.requires_grad):
        index = view_index(base, target)  # before the write: it may raise
    if out is not target.data:
        target.data[...] = out
    clock.now += 1
    _bump(target)
    if base is None:
        if result._node is not None:
            # Kept even when the old version had no node: else an op recorded before the
            # write would route to the new version, recorded after it (a graph cycle).
            _take_history(target, shadow, result)
            _rebase_views(target, {id(target): shadow})
    elif index is not None:
        # base's new values: its old ones with the view's entries replaced by the result
        base_shadow = _shadow(base)
        from .ops.rebase import CopySlices
        _take_history(base, base_shadow, CopySlices.apply(base_shadow, result, index=index))
        _rebase_views(base, {id(target): shadow})
    return target


def _shadow(t):
    """A tensor holding t's current history (node, creation number, kept gradients), for
    the ops recorded before t gets a new one."""
    shadow = Tensor._make(t.data, t._node, t.requires_grad)
    shadow._vbox = version_box(t)
    shadow._seq = t._seq
    if t._extra is not None:
        shadow._extra = {"name": t._extra.get("name")}
    shadow._kept, t._kept = t._kept, None  # after: the kept record lives in _extra
    return shadow


def _take_history(t, shadow, result) -> None:
    """t (same identity, same buffer) becomes the output of result's node; the ops recorded
    before now see `shadow` as their input (seen_inputs)."""
    if t._extra is None:
        t._extra = {}
    t._extra.setdefault("versions", []).append((clock.now, shadow))
    clock.last_rewrite = clock.now
    t._node = result._node
    t.requires_grad = True
    t._seq = result._seq


def _rebase_views(base, shadows) -> None:
    """Give each live view of `base` (which just got a new history) the history "read from
    the new base" (an as_strided node); `shadows` maps id(view) to a shadow already made
    for it (one tensor per old history: a node must be reached through one tensor only)."""
    box = base._vbox
    if box is None or not box.views or base._node is None:
        return
    from .ops.rebase import AsStrided
    for ref in list(box.views):
        view = ref()
        if view is None or base_of(view) is not base:
            continue
        index = view_index(base, view, required=False)
        if index is None:  # no longer shares base's memory (its .data was replaced)
            continue
        shadow = shadows.get(id(view))
        if shadow is None:
            shadow = _shadow(view)
        _take_history(view, shadow, AsStrided.apply(base, index=index))


def view_index(base, view, required=True):
    """For each entry of `view`, the position (C order) of the entry of `base` it shares
    memory with: an int64 array of view's shape (cached on the view). None, or an error
    when `required`, if view's entries are not all base's."""
    cached = view._extra.get("view_index") if view._extra is not None else None
    if cached is not None and cached[0] is base.data and cached[1] is view.data:
        return cached[2]
    index = _positions(base.data, view.data)
    if index is None:
        if required:
            raise op_error(RuntimeError, "inplace", f"the view (shape {view.shape}) no longer "
                           f"shares memory with its base (shape {base.shape}); clone() it "
                           "before writing into it")
        return None
    view._extra["view_index"] = (base.data, view.data, index)
    return index


def _positions(base, view):
    """The C-order position in the array `base` of each entry of the array `view` (read
    off the memory layout: base's positions are laid out with base's strides in a scratch
    buffer, which is then read with view's strides); None when view is not inside base."""
    xp = backend.array_module(base)
    if view.dtype != base.dtype:
        return None
    if view.size == 0:
        return xp.zeros(view.shape, dtype=np.int64)
    size = base.itemsize
    offset, remainder = divmod(_address(view) - _address(base), size)
    if remainder or any(s % size for s in base.strides + view.strides):
        return None
    b_strides = [s // size for s in base.strides]
    v_strides = [s // size for s in view.strides]
    b_lo, b_hi = _extent(base.shape, b_strides)
    v_lo, v_hi = _extent(view.shape, v_strides)
    if offset + v_lo < b_lo or offset + v_hi > b_hi:
        return None
    scratch = np.full(b_hi - b_lo + 1, -1, dtype=np.int64)
    step = scratch.itemsize
    strided = np.lib.stride_tricks.as_strided
    strided(scratch[-b_lo:], base.shape, [s * step for s in b_strides])[...] = \
        np.arange(base.size).reshape(base.shape)
    index = strided(scratch[offset - b_lo:], view.shape, [s * step for s in v_strides]).copy()
    if (index < 0).any():
        return None
    return index if xp is np else xp.asarray(index)


def _extent(shape, strides):
    """(lowest, highest) element offset an array of this shape and strides reaches."""
    lo = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    hi = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides))
    return lo, hi


def _address(array) -> int:
    """The address of an array's first entry (NumPy or CuPy)."""
    return array.ctypes.data if isinstance(array, np.ndarray) else array.data.ptr


def writable_view(start, view):
    """`view`, an array NumPy made read-only (a diagonal, a broadcast), rebuilt writable
    from `start`, an array whose first entry is view's first entry (writable when start is),
    as torch's views are; writes into entries that share memory are refused by the writers
    (see `overlaps`), not by NumPy. CuPy views are writable already."""
    if not isinstance(view, np.ndarray) or view.flags.writeable or not start.flags.writeable:
        return view
    # as_strided, not setflags: ad.compile records as_strided (and refuses setflags)
    return np.lib.stride_tricks.as_strided(start, view.shape, view.strides)


def overlaps(array) -> bool:
    """Whether some entries of `array` share one memory location (a broadcast/expand of a
    dim of size 1 to more): a write into them has no single meaning (torch refuses it)."""
    return any(s == 0 and n > 1 for n, s in zip(array.shape, array.strides))


def _check_writable(target, base, name, label) -> None:
    """Refuse writes whose gradient PyTorch does not define either."""
    if not _mode.grad_enabled:
        return
    if target.requires_grad and target._node is None:
        raise op_error(RuntimeError, name, "a leaf tensor that requires grad "
                       "cannot be modified in place while grad mode is on (its gradient would "
                       "be lost); wrap the update in `with ad.no_grad():` or use an "
                       "out-of-place op", label)
    if base is None or not base.requires_grad:
        return
    if base._node is None:
        raise op_error(RuntimeError, name, f"this tensor is a view of a leaf tensor (shape "
                       f"{base.shape}) that requires grad, and cannot be modified in place "
                       "while grad mode is on; wrap the update in `with ad.no_grad():`, or "
                       "write into a clone()", label)
    if not target.requires_grad:
        raise op_error(RuntimeError, name, f"this tensor is a view made under no_grad of a "
                       f"tensor (shape {base.shape}) that requires grad: it shares its memory "
                       "with a graph it is not part of, so a write with grad mode on has no "
                       "defined gradient (torch refuses too). Write under `with "
                       "ad.no_grad():`, or make the view with grad mode on", label)


from .tensor import Tensor  # noqa: E402  (circular: tensors are what this module writes)
