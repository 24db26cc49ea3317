"""The speed layer: tuned equivalents of the plain core's hot paths, same results bit for bit.

function.py and graph.py are written to be read; this module is written to be fast, and
`install()` swaps its functions in for theirs, once, before any op exists (it is called
from autodiff/ops/__init__.py; AUTODIFF_FASTPATH=0 in the environment at import skips
it, and the plain core runs). tests/test_fastpath.py checks that both modes give identical
values and gradients over the op table. What is here, and why (measured on the per-op
overhead benchmark, a chain of small ops, where Python overhead is all the cost):

* `apply`: argument handling unrolled for one, two and three inputs, the output Tensor's
  slots filled inline, no `**params` splat when there are none (together about a third of
  the per-op forward time of the generic apply).
* `run`: the backward walk with every step inlined (hooks, kept gradients, observers and
  the in-place checks cost one test each when unused), local-variable aliases, and:
* gradient-buffer reuse: a gradient array that nothing but the walk refers to (checked
  with CPython's reference count: no other gradient slot, hook, retained or kept gradient,
  observer or view holds it) is handed to rules that declare `overwrites_grad` with
  `ctx.grad_is_scratch = True`, so relu and conv2d write their result into it instead of
  allocating; and a leaf's first gradient becomes its .grad without a copy when no other
  leaf of the pass got the same array.
* `initial_grad`: the seed of a one-element root without numpy.ones' Python wrapper.
* big graphs: one graph tensor in 16,384 is a checkpoint for _gcdefer.py, which defers the
  cyclic GC's older-generation collections while a graph that large is alive (they
  traverse the whole graph again and again and free nothing in it: half of a
  1,000,000-op build's time).
"""
from __future__ import annotations

import heapq
import itertools
import math
import os
import sys

import numpy as np

from . import backend

ENABLED = os.environ.get("AUTODIFF_FASTPATH", "1").strip() != "0"

_new = object.__new__
_ndarray = np.ndarray
_bfloat16 = backend.bfloat16
_FLOAT_DTYPES = frozenset((backend.float16, _bfloat16, backend.float32, backend.float64))
_getrefcount = sys.getrefcount
# needs_input_grad of one- and two-input ops: shared tuples, none made per op
_T, _F = (True,), (False,)
_TT, _TF, _FT, _FF = (True, True), (True, False), (False, True), (False, False)


def install() -> None:
    """Swap the tuned functions in for the plain core's (unless AUTODIFF_FASTPATH=0)."""
    if ENABLED:
        function.Function.apply = classmethod(apply)
        graph._run = run
        autograd._initial_grad = initial_grad


# ---------------------------------------------------------------- Function.apply

def apply(cls, *args, **params):
    """Function.apply (function.py), unrolled."""
    ctx = _new(cls)
    ctx.saved = ()
    n = len(args)
    if n == 2:
        a, b = args
        if isinstance(a, Tensor):
            if isinstance(b, Tensor):
                arrays = (a.data, b.data)
                if a.requires_grad:
                    needs = _TT if b.requires_grad else _TF
                else:
                    needs = _FT if b.requires_grad else _FF
            else:
                arrays = (a.data, b)
                needs = _TF if a.requires_grad else _FF
                if type(b) is float and a.data.dtype is _bfloat16:
                    arrays = (a.data, np.asarray(b, dtype=_bfloat16))
        elif isinstance(b, Tensor):
            arrays = (a, b.data)
            needs = _FT if b.requires_grad else _FF
            if type(a) is float and b.data.dtype is _bfloat16:
                arrays = (np.asarray(a, dtype=_bfloat16), b.data)
        else:
            arrays = args
            needs = _FF
    elif n == 1 and isinstance(args[0], Tensor):
        arrays = (args[0].data,)
        needs = _T if args[0].requires_grad else _F
    elif (n == 3 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor)
          and isinstance(args[2], Tensor)):  # e.g. linear(x, weight, bias)
        a, b, c = args
        arrays = (a.data, b.data, c.data)
        needs = (a.requires_grad, b.requires_grad, c.requires_grad)
    else:
        arrays = _unwrap(args)
        needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
    if type(arrays[0]) is not _ndarray:  # else NumPy, the class default of ctx.xp
        xp = backend.array_module(*arrays)
        if xp is not np:
            ctx.xp = xp
    ctx.needs_input_grad = needs
    try:
        out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
    except Exception as exc:
        raise forward_error(ctx.name, args, arrays, params, exc) from exc
    if type(out) is not _ndarray:
        out = _as_output_array(ctx, out)
    result = _new(Tensor)  # Tensor._make, inlined (tests check it fills every slot)
    result.data = out
    result.grad = None
    result._seq = next(_seq)
    result._extra = None
    mode = _mode.__dict__  # this thread's modes: one thread-local lookup, then dict reads
    if (True in needs and mode["grad_enabled"] and not ctx.non_differentiable
            and (out.dtype in _FLOAT_DTYPES or out.dtype.kind == "f")):
        ctx._inputs = args
        if params:
            ctx._params = params
        ctx.epoch = _clock.now
        if mode["scope"] is not None:
            ctx.scope = mode["scope"]
        result._node = ctx
        result.requires_grad = True
        if not next(_graph_tensors) & _CHECKPOINT_MASK:
            _gc_checkpoint(result)
    else:
        result._node = None
        result.requires_grad = False
    result._vbox = None
    if cls.is_view and isinstance(args[0], Tensor):
        _share_version(result, args[0])
    if mode["anomaly"]:
        _anomaly.check_forward(ctx, out)
    return result


# ---------------------------------------------------------------- the backward walk

def _sole_reference_count():
    """sys.getrefcount of an array held by exactly one local variable, as `run` sees its
    gradient; 0 (never matches) if this interpreter does not count that way."""
    a = np.empty(1)
    one = sys.getrefcount(a)
    b = a  # noqa: F841  (a second holder must show up in the count)
    return one if sys.getrefcount(a) == one + 1 else 0


_SOLE_REFS = _sole_reference_count()


def initial_grad(root, gradient, create_graph):
    """graph._initial_grad, without numpy.ones' Python wrapper for the common seed."""
    data = root.data
    if gradient is None and type(data) is _ndarray and data.size == 1:
        g = np.array(1, dtype=data.dtype)  # C-level, unlike numpy.ones
        if data.ndim:
            g = g.reshape(data.shape)
        return Tensor._make(g, None, False) if create_graph else g
    g = _plain_initial_grad(root, gradient, create_graph)
    # A view of the caller's array: never scratch, and leaves copy it (see _accumulate).
    return g.view() if gradient is not None and type(g) is _ndarray else g


def run(roots, retain_graph, create_graph, targets=None):
    """graph._run with its steps inlined, and gradient buffers reused (see the docstring)."""
    observers = _mode.observers
    anomaly = _mode.anomaly
    limit = keep_limit()  # elements of gradients still to keep (graph._Keeper)
    room = math.inf if limit is None else limit
    found = None if targets is None else {id(t): None for t in targets}
    through = None if targets is None else _reaching(roots, targets)
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
    owned = set()  # ids of the arrays that became a leaf's .grad in this pass
    pop, push, ndarray, clock = heapq.heappop, heapq.heappush, np.ndarray, _clock
    previous_mode = _mode.grad_enabled
    _mode.grad_enabled = bool(create_graph)
    nxt = ng = None  # the next tensor and its gradient when known without the heap
    try:
        while nxt is not None or heap:
            if nxt is None:
                t = pop(heap)[1]
                g = grads.pop(id(t))
            else:  # a chain: the previous node sent its only gradient here, nothing else waits
                t, g, nxt = nxt, ng, None
                ng = None  # g must be the only reference (scratch buffers)
            node = t._node
            if t._extra is not None:
                if t._extra.get("hooks"):
                    g = _hooks.run(t, g, create_graph)
                if targets is None and node is not None and t._extra.get("retain"):
                    _accumulate(t, g, create_graph, owned, False)
            if targets is not None:
                if id(t) in found:
                    found[id(t)] = g
                if node is not None and id(t) not in through:
                    if room >= 0 and (size := _numel(g)) <= room:
                        room -= size
                        t._kept = node.kept = (g, None)
                    else:
                        room = -1
                        if t._kept is not None:
                            t._kept = node.kept = None
                    continue
            if node is None:
                if room >= 0 and (size := _numel(g)) <= room:
                    room -= size
                    t._kept = (g, None)
                else:
                    room = -1
                    t._kept = None
                if targets is None:
                    # a kept gradient must not alias .grad (which may be changed in place)
                    _accumulate(t, g, create_graph, owned, t._kept is not None)
                if observers:
                    for fn in observers:
                        fn(t, g, None, None)
                continue
            saved = node.saved
            if saved is None:
                raise _released_error(node)
            if saved and node.epoch != clock.now:
                _check_saved(node, t)
            if create_graph:
                in_grads = _create_graph.backward(node, t, g)
            elif node.overwrites_grad:
                node.grad_is_scratch = (
                    type(g) is ndarray and g.base is None and not observers
                    and g.size > room  # a gradient that will be kept is not scratch
                    and _getrefcount(g) == _SOLE_REFS and g.flags.writeable)
                try:
                    in_grads = node.backward(node, g)
                finally:
                    node.grad_is_scratch = False
            else:
                in_grads = node.backward(node, g)
            if type(in_grads) is not tuple:
                in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
            inputs = node._inputs
            if len(in_grads) != len(inputs):
                raise _arity_error(node, in_grads)
            if anomaly:
                _anomaly.check_backward(node, in_grads)
            if room < 0:  # past the limit: drop a record from an earlier pass
                if t._extra is not None and t._extra.get("kept") is not None:
                    t._kept = node.kept = None
            else:
                size = g.size if type(g) is ndarray else _numel(g)  # _kept.kept_size, inlined
                for gi in in_grads:
                    if gi is not None:
                        size += gi.size if type(gi) is ndarray else _numel(gi)
                if size <= room:
                    room -= size
                    t._kept = node.kept = (g, in_grads)
                else:
                    room = -1
                    if t._kept is not None:
                        t._kept = node.kept = None
            if observers:
                for fn in observers:
                    fn(t, g, node, in_grads)
            tseq = t._seq
            for inp, gi, need in zip(inputs, in_grads, node.needs_input_grad):
                if gi is None or not need:
                    continue
                if inp._seq > tseq:  # written in place after this op: the version it saw
                    inp = _version_at(inp, node.epoch)
                data = inp.data
                if type(gi) is not ndarray and not create_graph:
                    gi = _as_gradient_array(gi, data)
                if gi.shape != data.shape:
                    gi = sum_to_shape(gi, data.shape, node.name)
                if gi.dtype is not data.dtype and gi.dtype != data.dtype:
                    gi = gi.to(dtype=data.dtype) if create_graph else gi.astype(data.dtype)
                if nxt is not None:
                    if inp is nxt:  # e.g. x * x: both gradients go to one tensor
                        ng = ng + gi
                        continue
                    grads[id(nxt)] = ng  # a second input: the held one joins the heap
                    push(heap, (-nxt._seq, nxt))
                    nxt = ng = None
                elif not heap:  # nothing else waits: inp is next if no other input follows
                    nxt, ng = inp, gi
                    continue
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
    return None if found is None else [found[id(t)] for t in targets]


def _accumulate(t, g, create_graph, owned, copy):
    """t.grad += g; the first gradient is kept without a copy when no other .grad, view or
    caller holds it (graph._accumulate always copies)."""
    with _GRAD_LOCK:  # read, add, write back as one step (see graph.GRAD_LOCK)
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
            return
        if t.grad is None:
            if copy or g.base is not None or id(g) in owned or not g.flags.writeable:
                g = g.copy()
            owned.add(id(g))
        else:
            g = t.grad.data + g
        gt = _new(Tensor)  # Tensor._make, inlined: this runs for every leaf on every backward
        gt.data = g
        gt.grad = gt._node = gt._vbox = gt._extra = None
        gt.requires_grad = False
        gt._seq = next(_seq)
        t.grad = gt


# Names from the plain core, bound below its definitions (circular imports).
from . import _anomaly, _create_graph, _hooks, autograd, function, graph  # noqa: E402
from ._inplace import check_saved as _check_saved  # noqa: E402
from ._inplace import clock as _clock  # noqa: E402
from ._inplace import _version_at  # noqa: E402
from ._inplace import share_version as _share_version  # noqa: E402
from .errors import forward_error  # noqa: E402
from .function import _as_output_array, _unwrap  # noqa: E402
from .graph import GRAD_LOCK as _GRAD_LOCK  # noqa: E402
from ._kept import numel as _numel  # noqa: E402
from .graph import _as_gradient_array, _reaching  # noqa: E402
from .autograd import _initial_grad as _plain_initial_grad  # noqa: E402
from .graph import _arity_error, _released_error, sum_to_shape  # noqa: E402
from .mode import keep_limit  # noqa: E402
from .mode import state as _mode  # noqa: E402
from .tensor import Tensor, _seq  # noqa: E402
from ._gcdefer import EVERY as _EVERY, checkpoint as _gc_checkpoint  # noqa: E402

_graph_tensors = itertools.count(1)   # graph tensors made, for _gcdefer's checkpoints
_CHECKPOINT_MASK = _EVERY - 1
