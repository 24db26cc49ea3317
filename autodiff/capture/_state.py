"""What a step reads and changes besides its arguments: parameters, buffers, optimizer state,
gradients, random generators, and the Python state it must leave alone.

`discover(fn, args, kwargs)` walks what the step function can reach (its closure, the
globals it names, a bound method's object, the arguments) and collects the Tensors, the
`ad.Generator`s and the modules in it. During a capture each of those Tensors holds a traced
view of its array (an external input of the program, read live at every replay) and each
generator a recording stream (every draw becomes an instruction, so replays draw fresh
numbers exactly as eager steps would). `Snapshot` notices Python state the step changes
(an attribute rebound, a list appended to): a replay could not repeat that, so the capture
is refused with the path of what changed.
"""
from __future__ import annotations

import types

import numpy as np

from ..random import Generator
from ..tensor import Tensor
from ._tracer import TracedArray, _plain_view, _unwrap

__all__ = ["discover", "Reached", "RecordingStream", "Snapshot"]

_SCALARS = (bool, int, float, str, type(None))
_LIBRARIES = ("autodiff", "nn", "viz", "numpy", "scipy")
_SKIP_TYPES = (types.ModuleType, type, types.BuiltinFunctionType, np.ndarray, np.dtype,
               np.generic, np.ufunc, str, bytes, int, float, bool, complex, type(None))


class Reached:
    """Everything the walk found, in a stable order (so two captures compare equal), with
    the path the walk took to each object (for messages)."""

    def __init__(self):
        self.tensors = []      # Tensors (parameters, buffers, optimizer state, ...)
        self.generators = []   # ad.Generators
        self.modules = []      # objects with `training` and `_modules` (nn.Modules)
        self.objects = []      # every other object with a __dict__, and containers
        self.paths = {}        # id(object) -> how the walk reached it, e.g. "model._modules['0']"


def discover(fn, args, kwargs) -> Reached:
    """Walk from fn (closure, named globals, bound object, defaults) and the arguments."""
    found = Reached()
    stack = [(kwargs, "kwargs"), (args, "args"), (fn, getattr(fn, "__name__", "fn"))]
    while stack:
        obj, path = stack.pop()
        _visit(obj, path, found, stack)
    return found


def _visit(obj, path, found, stack):
    if isinstance(obj, _SKIP_TYPES) or id(obj) in found.paths:
        return
    found.paths[id(obj)] = path
    if isinstance(obj, Tensor):
        found.tensors.append(obj)
        return
    if isinstance(obj, Generator):
        found.generators.append(obj)
        return
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        _visit_function(obj, path, stack)
        return
    if type(obj) in (list, tuple, set, frozenset):
        found.objects.append(obj)
        stack.extend(reversed([(v, f"{path}[{i}]") for i, v in enumerate(obj)]))
        return
    if isinstance(obj, dict):
        found.objects.append(obj)
        items = list(obj.items())
        stack.extend(reversed([(v, f"{path}[{_key(k)}]") for k, v in items]))
        stack.extend(reversed([(k, f"{path} key") for k, _ in items
                               if not isinstance(k, _SKIP_TYPES)]))
        return
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        if "training" in d and "_modules" in d:
            found.modules.append(obj)
        found.objects.append(obj)
        stack.extend(reversed([(v, f"{path}.{k}") for k, v in d.items()]))
    if isinstance(obj, types.BuiltinMethodType):
        stack.append((getattr(obj, "__self__", None), path))
    partial_func = getattr(obj, "func", None)
    if callable(partial_func) and hasattr(obj, "args"):  # functools.partial
        stack.extend([(partial_func, f"{path}.func"), (obj.args, f"{path}.args"),
                      (getattr(obj, "keywords", None) or {}, f"{path}.keywords")])


def _key(k) -> str:
    if isinstance(k, Tensor):
        return f"<tensor {tuple(k.shape)}>"
    return repr(k) if isinstance(k, (str, int)) else f"<{type(k).__name__}>"


def _visit_function(fn, path, stack):
    if isinstance(fn, types.MethodType):
        stack.extend([(fn.__self__, path.rsplit(".", 1)[0] if "." in path else path),
                      (fn.__func__, path)])
        return
    names = fn.__code__.co_freevars
    stack.extend((c.cell_contents, name) for c, name in zip(fn.__closure__ or (), names)
                 if _cell_full(c))
    stack.extend((v, f"{path} default") for v in fn.__defaults__ or ())
    stack.extend((v, f"{path} default {k}") for k, v in (fn.__kwdefaults__ or {}).items())
    module = getattr(fn, "__module__", None) or ""
    if module.split(".")[0] not in _LIBRARIES:  # library globals hold no training state
        glob = fn.__globals__
        for name in sorted(_global_names(fn.__code__)):
            if name in glob:
                stack.append((glob[name], name))
    wrapped = getattr(fn, "__wrapped__", None)
    if wrapped is not None:
        stack.append((wrapped, path))


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def module_fingerprint(modules):
    """(dict, key) pairs of the modules' plain Python settings (training, p, eps, ...):
    values the traced forward code read as constants. A different value needs a new
    capture."""
    items = []
    for m in modules:
        d = m.__dict__
        for k, v in d.items():
            if type(v) in _SCALARS:
                items.append((d, k, v))
    return items


def fingerprint_matches(items) -> bool:
    for d, k, v in items:
        w = d.get(k, _MISSING)
        if w is not v and (type(w) is not type(v) or w != v):
            return False
    return True


_MISSING = object()


class RecordingStream:
    """Stands in for a Generator's bit stream during a capture: each draw is recorded as
    `generator._stream.<method>(...)`, so a replay draws from the generator's stream as it
    is then (fresh numbers, the same ones an eager step would get)."""

    _DRAWS = frozenset({"random", "standard_normal", "standard_exponential", "integers",
                        "permutation", "uniform", "normal", "exponential", "choice",
                        "binomial", "poisson", "shuffle", "bytes", "standard_gamma", "gamma",
                        "beta", "multinomial"})

    def __init__(self, rec, generator, stream):
        self._rec, self._generator, self._stream = rec, generator, stream

    def __getattr__(self, name):
        value = getattr(self._stream, name)
        if name not in self._DRAWS:
            return value

        def draw(*args, **kwargs):
            result = value(*_unwrap(args), **_unwrap(kwargs))
            rec = self._rec
            if rec.paused:
                return result
            if name == "shuffle":
                rec.fail("Generator shuffle (an in-place draw) cannot be captured")
                return result
            return rec.record("draw", name, (self._generator,) + args, kwargs, result, [])
        return draw


class Snapshot:
    """Identities of what the reached objects and containers hold, to find Python state a
    step changed (a replay would not change it)."""

    def __init__(self, reached):
        self.items = []
        self.paths = reached.paths
        for obj in reached.objects:
            if isinstance(obj, dict):
                self.items.append((obj, dict(obj), "dict"))
            elif type(obj) in (list, set):
                self.items.append((obj, list(obj), "seq"))
            elif hasattr(obj, "__dict__") and not isinstance(obj, Generator):
                self.items.append((obj, dict(obj.__dict__), "attrs"))

    def changes(self):
        """Descriptions of what changed since the snapshot (empty when nothing did)."""
        out = []
        for obj, before, kind in self.items:
            label = self.paths.get(id(obj), type(obj).__name__)
            if kind == "attrs":
                now = obj.__dict__
            elif kind == "dict":
                now = obj
            else:
                if len(obj) != len(before) or any(a is not b for a, b in zip(obj, before)):
                    out.append(f"{label} (a {type(obj).__name__} of {len(before)} items now "
                               f"holds {len(obj)})")
                continue
            for key in set(before) | set(now):
                a, b = before.get(key, _MISSING), now.get(key, _MISSING)
                if a is b or (type(a) in _SCALARS and type(a) is type(b) and a == b):
                    continue
                if isinstance(a, TracedArray) or isinstance(b, TracedArray):
                    continue  # tensor data swapped by the capture itself
                out.append(f"{label}.{key}" if kind == "attrs" else f"{label}[{key!r}]")
        return out


def plain(a):
    """A TracedArray as the plain ndarray over the same memory (others unchanged)."""
    return _plain_view(a, np.ndarray) if isinstance(a, TracedArray) else a
