"""`ad.compile(step)`: capture a training step once per input signature, then replay it.

The life of one signature (shapes, dtypes and devices of the arguments, the other
arguments' values, grad mode, and the modules' Python settings such as `training`):

    call 1 .. warmup     eager (lets optimizers create their state: the step must be in its
                         steady state when it is recorded)
    next call            captured (an eager step, recorded)
    next call            captured again; the two programs must be identical, constants
                         included: a Python number or array that changed between the two
                         steps (a step counter, a learning rate computed inside, an array
                         made from data outside the recorder's view) shows up here
    every call after     replayed: the program's NumPy calls run on the step's arrays

Anything that cannot be replayed faithfully makes the signature run eagerly from then on,
with one warning that says what and where (`step.explain()` repeats it).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from .. import mode as _mode
from ..tensor import Tensor
from . import _capture
from ._program import GuardFailed
from ._state import fingerprint_matches

__all__ = ["compile", "CompiledStep", "CaptureWarning", "replay_eagerly"]


class CaptureWarning(UserWarning):
    """ad.compile runs a step eagerly because it cannot capture it (the message says why)."""


def compile(fn=None, *, warmup: int = 1, strict: bool = False, max_signatures: int = 8):
    """Capture a training step and replay it: `step = ad.compile(train_step)`.

    `fn` is called as `step(*args, **kwargs)`; pass the batch as arguments (Tensors or
    NumPy arrays). Parameters, buffers, optimizer state and generators are found through
    what fn refers to (closure, globals, a bound method's object) and read live at every
    replay. A replay gives bit-identical results to eager mode and returns detached
    Tensors (no graph). `warmup` eager calls precede the capture (optimizers create their
    state on the first step). `strict=True` raises CaptureError instead of falling back to
    eager. Usable as a decorator, with or without arguments.
    """
    if fn is None:
        return functools.partial(compile, warmup=warmup, strict=strict,
                                 max_signatures=max_signatures)
    if not callable(fn):
        raise TypeError(f"ad.compile: expected a function, got {type(fn).__name__}")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"ad.compile: warmup must be an int >= 0, got {warmup!r}")
    return CompiledStep(fn, warmup, strict, max_signatures)


def replay_eagerly(fn):
    """Mark a function that a captured step calls as an island: it is not recorded but
    called again, eagerly, at the same point of every replay (after the program gives the
    tensors it reads their new gradients). For code whose Python state changes every step,
    e.g. `Optimizer.step` (step counts, learning-rate schedules). Outside a capture it is
    just fn."""

    @functools.wraps(fn)
    def island(*args, **kwargs):
        capture = _capture.current()
        if capture is None:
            return fn(*args, **kwargs)
        return capture.island(fn, args, kwargs)

    island.__replay_eagerly__ = True
    return island


class _Plan:
    """One signature's state: warming up, captured once, ready to replay, or eager."""

    __slots__ = ("calls", "program", "fingerprint", "externals", "output_spec", "failure",
                 "last_ext", "replays", "guard_failures")

    def __init__(self):
        self.calls = 0
        self.program = None
        self.fingerprint = None
        self.externals = None
        self.output_spec = None
        self.failure = None
        self.last_ext = None
        self.replays = 0
        self.guard_failures = 0

    def matches(self) -> bool:
        return self.fingerprint is None or fingerprint_matches(self.fingerprint)

    def fetch(self):
        """The state arrays the program reads, as they are now; None if one is missing or
        has another shape/dtype than at capture (then the step is captured again)."""
        arrays = []
        for t, attr, like in self.externals:
            holder = t if attr == "data" else t.grad
            if holder is None:
                return None
            a = holder.data
            if type(a) is not np.ndarray or a.shape != like[0] or a.dtype != like[1]:
                return None
            arrays.append(a)
        return arrays


class CompiledStep:
    """The callable `ad.compile` returns (see `compile`)."""

    def __init__(self, fn, warmup, strict, max_signatures):
        self.fn = fn
        self.warmup = warmup
        self.strict = strict
        self.max_signatures = max_signatures
        self._plans = {}
        self._warned = set()
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if _capture.current() is not None or _mode.state.anomaly:
            return self.fn(*args, **kwargs)  # nested in a capture, or anomaly checks on
        key = _signature(args, kwargs)
        plans = self._plans.get(key)
        if plans is None:
            if len(self._plans) >= self.max_signatures:
                self._refuse(("limit",), f"more than {self.max_signatures} input signatures "
                             "(shapes/dtypes/arguments); the rest run eagerly")
                return self.fn(*args, **kwargs)
            plans = self._plans[key] = []
        for plan in plans:
            if plan.matches():
                break
        else:
            plan = _Plan()
            plans.append(plan)
        if plan.failure is not None:
            return self.fn(*args, **kwargs)
        if plan.program is not None and plan.calls > self.warmup + 1:
            ext = plan.fetch()
            if ext is not None:
                return self._replay(plan, args, kwargs, ext)
            plan = _Plan()  # the state changed shape (or a gradient appeared): capture anew
            plan.calls = self.warmup
            plans.append(plan)
        plan.calls += 1
        if plan.calls <= self.warmup:
            return self.fn(*args, **kwargs)
        return self._capture(plan, args, kwargs)

    def _capture(self, plan, args, kwargs):
        capture = _capture.Capture(self.fn, args, kwargs)
        result = capture.run()
        if capture.failure is not None:
            self._fail(plan, capture.failure)
            return result
        program = capture.program
        if plan.program is not None:  # the second capture: both must be the same program
            diff = plan.program.difference(program)
            if diff is not None:
                if not diff.startswith("a value the step computes is read"):
                    diff = ("two consecutive steps recorded different programs (" + diff
                            + "): something the step computes with changes from step to "
                            "step outside the recorder's view")
                self._fail(plan, diff)
                return result
        plan.program = program
        plan.fingerprint = capture.fingerprint
        plan.externals = [(t, attr, (capture.rec.tracers[slot][0].shape,
                                     capture.rec.tracers[slot][0].dtype))
                          for t, attr, slot in (capture.externals[k]
                                                for k in program.ext_used)]
        plan.output_spec = capture.output_spec
        return result

    def _replay(self, plan, args, kwargs, ext):
        arrays, objects = _arg_arrays(args, kwargs)
        try:
            outs = plan.program.fn(arrays, ext, objects)
        except GuardFailed as failed:
            return self._guard_failed(plan, failed, args, kwargs)
        plan.replays += 1
        return _build(plan.output_spec, outs, objects)

    def _guard_failed(self, plan, failed, args, kwargs):
        """A value the capture read into Python is different now: the recorded path may
        not be this step's. Nothing was changed yet when the guard comes before the
        program's first write, so the step simply runs eagerly."""
        program = plan.program
        ins = program.instructions[failed.index]
        first = program.first_write
        plan.guard_failures += 1
        if first is not None and failed.index > first:
            self._fail(plan, "a value read into Python after the step began updating state "
                       f"changed (at {ins.site}); the replay stopped half-way")
            raise RuntimeError(f"ad.compile({self.__name__}): a value the captured step "
                               f"read into Python (at {ins.site}) changed after the step had "
                               "started updating state; this replay stopped half-way. Call "
                               "the function eagerly (it is now marked eager).")
        if plan.guard_failures > 3 and plan.guard_failures > plan.replays // 10:
            self._fail(plan, f"a value read into Python (at {ins.site}) changes often")
        return self.fn(*args, **kwargs)

    # ------------------------------------------------------------ reporting
    def _fail(self, plan, reason):
        plan.failure = reason
        plan.program = None
        self._refuse(id(plan), reason)

    def _refuse(self, key, reason):
        message = f"ad.compile({self.__name__}): running eagerly: {reason}"
        if self.strict:
            from ._tracer import CaptureError
            raise CaptureError(message)
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, CaptureWarning, stacklevel=4)

    def explain(self) -> str:
        """What happened to each input signature: replayed, eager and why, warming up."""
        lines = [f"ad.compile({self.__name__}): {len(self._plans)} signature(s)"]
        for key, plans in self._plans.items():
            for plan in plans:
                if plan.failure is not None:
                    state = "eager: " + plan.failure
                elif plan.program is not None and plan.calls > self.warmup + 1:
                    n = sum(1 for i in plan.program.instructions if i.kind != "guard")
                    state = f"replayed {plan.replays} times ({n} recorded calls)"
                else:
                    state = f"warming up ({plan.calls} calls)"
                lines.append(f"  {_describe_key(key)}: {state}")
        return "\n".join(lines)

    @property
    def programs(self):
        """The source of each replayed program (for reading)."""
        return [p.program.source for plans in self._plans.values() for p in plans
                if p.program is not None]


def _signature(args, kwargs):
    parts = [_mode.state.grad_enabled]
    for a in args:
        parts.append(_arg_key(a))
    for k in sorted(kwargs):
        parts.append((k, _arg_key(kwargs[k])))
    return tuple(parts)


def _arg_key(a):
    if isinstance(a, Tensor):
        d = a.data
        return ("T", d.shape, d.dtype, type(d), a.requires_grad)
    if isinstance(a, np.ndarray):
        return ("A", a.shape, a.dtype, type(a))
    if a is None or type(a) in (bool, int, float, str):
        return ("S", type(a), a)
    return ("O", id(a))


def _describe_key(key):
    parts = []
    for p in key[1:]:
        if isinstance(p, tuple) and p and p[0] in ("T", "A"):
            parts.append(f"{p[2]}{list(p[1])}")
        elif isinstance(p, tuple) and p and p[0] == "S":
            parts.append(repr(p[2]))
        else:
            parts.append("...")
    return "(" + ", ".join(parts) + ")"


def _arg_arrays(args, kwargs):
    """The arrays of the arguments in the program's order, and the Tensor arguments."""
    arrays, tensors = [], []
    for a in (args if not kwargs else list(args) + [kwargs[k] for k in sorted(kwargs)]):
        if isinstance(a, Tensor):
            arrays.append(a.data)
            tensors.append(a)
        elif type(a) is np.ndarray:
            arrays.append(a)
    return arrays, tensors


def _build(spec, outs, objects):
    """The step's return value from the replay's arrays, as the capture encoded it."""
    kind = spec[0]
    if kind == "tensor":
        return Tensor._make(outs[spec[1]], None, False)
    if kind == "array":
        return outs[spec[1]]
    if kind == "same":
        return spec[1]
    if kind == "arg":
        return objects[spec[1]]
    if kind == "tuple":
        return tuple(_build(s, outs, objects) for s in spec[1])
    if kind == "list":
        return [_build(s, outs, objects) for s in spec[1]]
    return {k: _build(s, outs, objects) for k, s in spec[1].items()}
