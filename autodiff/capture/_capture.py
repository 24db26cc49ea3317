"""One capture: run the step eagerly once with traced arrays, and turn what it did into a
Program (or into the reason it cannot be replayed).

The capture *is* an eager step: the step's results, parameter updates and random draws are
exactly an eager step's, whatever the outcome. Around the run it:

1. swaps a traced view into every Tensor the step can reach (`discover`) and a recording
   stream into every generator, and snapshots the Python state it must not change;
2. runs the step; an "island" (`replay_eagerly`, e.g. `Optimizer.step`) runs untraced, and
   before it the program binds the gradients the island will read (`p.grad = Tensor(g)`);
3. binds what the step leaves behind (each parameter's .grad, kept gradients, version
   counts), encodes the return value, and puts every array back as a plain ndarray.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import random as _random
from .._inplace import mark_modified
from ..tensor import Tensor
from ._creation import recorded_creation
from ._program import ArgObject, Program, TensorOf
from ._state import (RecordingStream, Snapshot, discover, module_fingerprint, plain)
from ._tracer import Instruction, Recorder, Slot, TracedArray

__all__ = ["Capture", "current", "lock"]

lock = threading.RLock()     # one capture at a time in the process (tracers are shared objects)
_local = threading.local()


def current():
    """The capture running in this thread, or None."""
    return getattr(_local, "capture", None)


class _Watched:
    """A reached Tensor: its arrays before the capture and what the program last bound."""

    __slots__ = ("tensor", "data", "grad", "grad_data", "kept", "version", "ext_data",
                 "ext_grad", "bound_grad", "bound_grad_data", "bound_data", "bound_kept",
                 "requires_grad", "node")

    def __init__(self, t):
        self.tensor = t
        self.data, self.grad = t.data, t.grad
        self.grad_data = None if t.grad is None else t.grad.data
        self.kept = t._kept
        self.version = t.version
        self.requires_grad, self.node = t.requires_grad, t._node
        self.ext_data = self.ext_grad = None


class Capture:
    """Runs `fn(*args, **kwargs)` once, eagerly, recording it."""

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.rec = Recorder()
        self.reached = discover(fn, args, kwargs)
        self.program = None
        self.externals = []        # (tensor, "data" | "grad", slot) read live at each replay
        self.arg_slots = []
        self.output_spec = None

    @property
    def failure(self):
        return self.rec.failure

    # ------------------------------------------------------------ running
    def run(self):
        """The step's result (plain arrays), after recording it."""
        with lock:
            self._install()
            _local.capture = self
            result = None
            try:
                with recorded_creation(current):
                    result = self.fn(*self.targs, **self.tkwargs)
                self._finish(result)
            finally:
                _local.capture = None
                self._uninstall(result)
        if self.rec.failure is None:
            self.program = Program(self.rec, self.arg_slots,
                                   [slot for _, _, slot in self.externals], self.out_slots)
        return result

    def _install(self):
        rec = self.rec
        arg_tensors = {id(a) for a in list(self.args) + list(self.kwargs.values())
                       if isinstance(a, Tensor)}
        self.watched = [_Watched(t) for t in self.reached.tensors if id(t) not in arg_tensors]
        self.arg_watch = []
        self.targs = tuple(self._trace_arg(a) for a in self.args)
        self.tkwargs = {k: self._trace_arg(self.kwargs[k]) for k in sorted(self.kwargs)}
        for w in self.watched:
            t = w.tensor
            if type(t.data) is not np.ndarray:
                rec.fail(f"a tensor of type {type(t.data).__name__} (device {t.device}) is "
                         "reachable from the step; only NumPy (CPU) steps are captured")
                continue
            w.ext_data = t.data = rec.new_slot(w.data, origin=("ext", len(self.externals)))
            self.externals.append((t, "data", w.ext_data._slot))
            if w.grad is not None and type(w.grad_data) is np.ndarray:
                w.ext_grad = w.grad.data = rec.new_slot(w.grad_data,
                                                        origin=("ext", len(self.externals)))
                self.externals.append((t, "grad", w.ext_grad._slot))
            w.bound_grad, w.bound_grad_data = w.grad, t.grad.data if t.grad is not None else None
            w.bound_data, w.bound_kept = t.data, t._kept
        generators = list(self.reached.generators)
        for g in _random._defaults.values():
            if g not in generators:
                generators.append(g)
        self.streams = []
        for g in generators:
            if g.device != "cpu":
                continue
            self.streams.append((g, g._stream))
            g._stream = RecordingStream(rec, g, g._stream)
        self.fingerprint = module_fingerprint(self.reached.modules)
        self.snapshot = Snapshot(self.reached)

    def _trace_arg(self, a):
        rec = self.rec
        if isinstance(a, Tensor):
            if type(a.data) is not np.ndarray:
                rec.fail(f"an argument on device {a.device}: only NumPy (CPU) steps are "
                         "captured")
                return a
            w = _Watched(a)
            w.bound_grad, w.bound_grad_data, w.bound_kept = None, None, a._kept
            if a.grad is not None:
                rec.fail("an argument tensor already has a .grad (a replay would not add "
                         "to it); pass tensors without gradients")
            self.arg_watch.append(w)
            a.data = rec.new_slot(w.data, origin=("arg", len(self.arg_slots)))
            w.bound_data = a.data
            self.arg_slots.append(a.data._slot)
            return a
        if type(a) is np.ndarray:
            t = rec.new_slot(a, origin=("arg", len(self.arg_slots)))
            self.arg_slots.append(t._slot)
            return t
        if isinstance(a, np.ndarray):
            rec.fail(f"an argument of type {type(a).__name__}; pass NumPy arrays or Tensors")
        return a

    # ------------------------------------------------------------ islands
    def island(self, fn, args, kwargs):
        """fn(*args, **kwargs) runs untraced now and again at every replay (after the
        program binds the gradients and arrays it reads)."""
        rec = self.rec
        if rec.paused:
            return fn(*args, **kwargs)
        self._check_python_state("before " + _qualname(fn))
        self._bind_changes()
        for value in list(args) + list(kwargs.values()):
            if not _is_constant_argument(value):
                rec.fail(f"{_qualname(fn)} is given {type(value).__name__} arguments; it can "
                         "be replayed only with the same Python objects")
        rec.instructions.append(Instruction("island", fn, tuple(args), dict(kwargs), None,
                                            [], []))
        if rec.first_write is None:
            rec.first_write = len(rec.instructions) - 1
        versions = [w.tensor.version for w in self.watched]
        datas = [w.tensor.data for w in self.watched]
        rec.paused += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            rec.paused -= 1
        for w, v, d in zip(self.watched, versions, datas):
            w.version += w.tensor.version - v   # the island bumps them again when replayed
            if w.tensor.data is not d:
                rec.fail(f"{_qualname(fn)} replaced a tensor's array instead of updating it "
                         "in place")
        if result is not None:
            rec.fail(f"the value {_qualname(fn)} returned cannot be replayed")
        # What the island left (e.g. clipped gradients) it leaves again at every replay.
        for w in self.watched + self.arg_watch:
            t = w.tensor
            w.bound_grad, w.bound_grad_data = t.grad, None if t.grad is None else t.grad.data
            w.bound_kept = t._kept
        self.snapshot = Snapshot(self.reached)
        return result

    def _check_python_state(self, when):
        changes = self.snapshot.changes()
        if changes:
            self.rec.fail(f"the step changes Python state ({', '.join(changes[:3])}) "
                          f"{when}; a replay repeats only array computations, so return "
                          "such values from the step instead")

    def _bind_changes(self):
        """Program instructions that give the reached tensors the .grad/.data/_kept they
        hold now, where that differs from what was last bound."""
        rec = self.rec
        for k, w in enumerate(self.watched + self.arg_watch):
            t = w.tensor
            target = t if k < len(self.watched) else ArgObject(k - len(self.watched))
            grad = t.grad
            grad_data = None if grad is None else grad.data
            if grad is not w.bound_grad or grad_data is not w.bound_grad_data:
                self._bind(target, "grad",
                           None if grad is None else TensorOf(self._slot(grad_data)))
                w.bound_grad, w.bound_grad_data = grad, grad_data
            if t.data is not w.bound_data:
                if isinstance(t.data, TracedArray):
                    self._bind(target, "data", self._slot(t.data))
                else:
                    rec.fail("a tensor's array was replaced by one the capture did not see")
                w.bound_data = t.data
            if t._kept is not w.bound_kept:
                self._bind(target, "_kept", self._encode_kept(t._kept))
                w.bound_kept = t._kept

    def _slot(self, array):
        return self.rec.slot_of(array)

    def _encode_kept(self, kept):
        if kept is None:
            return None
        return tuple(self._slot(v) if isinstance(v, np.ndarray) else
                     (tuple(self._slot(x) if isinstance(x, np.ndarray) else x for x in v)
                      if isinstance(v, tuple) else v) for v in kept)

    def _bind(self, target, attr, value):
        reads = []
        _collect_slots(value, reads)
        self.rec.instructions.append(Instruction("bind", attr, (target, attr, value), {},
                                                 None, reads, []))

    # ------------------------------------------------------------ after the step
    def _finish(self, result):
        rec = self.rec
        if rec.paused:
            return
        self._check_python_state("")
        self._bind_changes()
        for w in self.watched + self.arg_watch:
            t = w.tensor
            if t.requires_grad != w.requires_grad or t._node is not w.node:
                rec.fail("the step changes whether a parameter or argument tensor requires "
                         "grad or has a graph")
        bumps = [(w.tensor, w.tensor.version - w.version) for w in self.watched
                 if w.tensor.version != w.version]
        if bumps:
            rec.instructions.append(Instruction("island", _bump_versions,
                                                (tuple(t for t, _ in bumps),
                                                 tuple(n for _, n in bumps)), {}, None, [], []))
        for g, stream in self.streams:
            if not isinstance(g._stream, RecordingStream):
                rec.fail("the step reseeds a generator (manual_seed or set_state); seed it "
                         "outside the step")
        self.out_slots = []
        self.output_spec = self._encode_output(result)

    def _encode_output(self, v):
        """The return value as a spec the replay fills: ("tensor", i) and ("array", i) take
        the i-th returned array, ("same", obj) is returned as is."""
        if isinstance(v, Tensor):
            for i, w in enumerate(self.arg_watch):
                if v is w.tensor:
                    return ("arg", i)  # the call's own argument, returned as is
            if any(v is w.tensor for w in self.watched):
                return ("same", v)
            return ("tensor", self._out(v.data), v.requires_grad)
        if isinstance(v, np.ndarray):
            return ("array", self._out(v))
        if type(v) in (tuple, list):
            return (type(v).__name__, [self._encode_output(x) for x in v])
        if type(v) is dict:
            return ("dict", {k: self._encode_output(x) for k, x in v.items()})
        if v is None or type(v) in (bool, int, float, str):
            return ("same", v)
        self.rec.fail(f"the step returns a {type(v).__name__}; return Tensors, arrays, "
                      "numbers or tuples/lists/dicts of them")
        return ("same", v)

    def _out(self, array):
        slot = self.rec.slot_of(array).index
        self.out_slots.append(slot)
        return len(self.out_slots) - 1

    def _uninstall(self, result):
        rec = self.rec
        rec.closed = True
        rec.paused += 1
        for w in self.watched + self.arg_watch:
            t = w.tensor
            t.data = w.data if t.data is w.ext_data or t.data is w.data else plain(t.data)
            if w.grad is not None and w.grad.data is w.ext_grad:
                w.grad.data = w.grad_data
            if t.grad is not None:
                t.grad.data = plain(t.grad.data)
            if t._kept is not None:
                t._kept = _plain_structure(t._kept)
        for a, w in zip([a for a in list(self.args) + [self.kwargs[k] for k in
                                                        sorted(self.kwargs)]
                         if isinstance(a, Tensor)], self.arg_watch):
            a.data = w.data
        for g, stream in self.streams:
            if isinstance(g._stream, RecordingStream):
                g._stream = stream
        _plain_result(result)


def _bump_versions(tensors, counts):
    """The version-counter bumps the captured step made (outside islands): a replay makes
    them too, so a graph that saved the old values still refuses to backpropagate."""
    for t, n in zip(tensors, counts):
        for _ in range(n):
            mark_modified(t)


def _collect_slots(value, into):
    if isinstance(value, Slot):
        into.append(value.index)
    elif isinstance(value, TensorOf):
        into.append(value.slot.index)
    elif type(value) in (tuple, list):
        for v in value:
            _collect_slots(v, into)


def _plain_structure(v):
    if isinstance(v, TracedArray):
        return plain(v)
    if type(v) is tuple:
        return tuple(_plain_structure(x) for x in v)
    return v


def _plain_result(v):
    if isinstance(v, Tensor):
        v.data = plain(v.data)
        if v.grad is not None:
            v.grad.data = plain(v.grad.data)
    elif type(v) in (tuple, list):
        for x in v:
            _plain_result(x)
    elif type(v) is dict:
        for x in v.values():
            _plain_result(x)


def _is_constant_argument(value) -> bool:
    return not isinstance(value, (np.ndarray, Tensor))


def _qualname(fn) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
