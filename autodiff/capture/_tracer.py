"""Recording NumPy calls: a traced array type and the recorder its operations report to.

While a step is captured, every array the step computes with is a `TracedArray`: a real
ndarray (it holds the real values, so the step runs exactly as in eager mode) that tells the
recorder about each NumPy call it takes part in, through NumPy's own override protocols:

* `__array_ufunc__`: every ufunc and ufunc method (+, *, exp, sum via add.reduce, add.at, ...),
* `__array_function__`: every NumPy function (concatenate, where, einsum, pad, ...),
* the ndarray methods that neither protocol sees (reshape, astype, indexing, argmax, ...)
  are overridden below and recorded by name.

A call is recorded as one instruction: the callable, its arguments (arrays as slots) and
the slots of its results. Reading a value into Python (`bool(a)`, `float(a)`, `a.item()`)
records a guard: the replay checks that the value is still the one the capture saw, so
Python control flow that depended on data is never silently replayed down the wrong path.
An array the recorder has never seen (a constant made with np.zeros, an arange of row
indices) becomes a constant of the program the first time a recorded call uses it.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["TracedArray", "Recorder", "Slot", "CaptureError"]

_plain_view = np.ndarray.view  # ndarray.view, bypassing TracedArray's recorded override
_asarray = np.asarray          # NumPy's own (a capture records numpy.asarray: _creation.py)


class CaptureError(RuntimeError):
    """The step does something a capture cannot replay faithfully (the message says what)."""


class Slot:
    """An array in the program: `s<index>` in the generated replay code."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"s{self.index}"


class Instruction:
    """One recorded call: `outs = fn(*args, **kwargs)`, with arrays as Slots.

    kind: "call" (fn is a callable), "method" (fn is a method name called on args[0]),
    "setitem" (args[0][args[1]] = args[2]), "getattr" (args[0].<fn>), "guard" (args[0]'s
    Python value must equal `expected`), "island" (fn(*args) runs eagerly), "bind"
    (attribute `fn` of the object args[0] is set to args[1]).
    """

    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "reads", "writes", "expected",
                 "site", "scalar_out")

    def __init__(self, kind, fn, args, kwargs, outs, reads, writes, expected=None, site=None):
        self.kind, self.fn, self.args, self.kwargs = kind, fn, args, kwargs
        self.outs, self.reads, self.writes = outs, reads, writes
        self.expected, self.site = expected, site
        # NumPy returned a scalar (True), or scalars among several results (a flag per
        # result): the replay makes each a 0-d array, as the capture's traced arrays were
        self.scalar_out = False


def user_site(skip_prefixes) -> str:
    """'file:line' of the innermost frame outside autodiff's engine and NumPy (for messages)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(p in name for p in skip_prefixes):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


_ENGINE_FILES = ("/autodiff/", "/numpy/", "/ml_dtypes/", "/scipy/", "/nn/", "<")


class Recorder:
    """The program being recorded: its instructions and what each slot holds."""

    def __init__(self):
        self.instructions = []
        self.n_slots = 0
        self.paused = 0           # > 0 inside an island: tracers compute without recording
        self.root = []            # slot -> slot owning its memory (itself unless a view)
        self.owns = []            # slot -> True when its array owns its memory (no view)
        self.origin = []          # slot -> ("arg", i) | ("ext", i) | ("const", array) | None
        self.by_owner = {}        # id(plain owning array) -> slot, to see through np.asarray
        self.constant_of = {}     # id(plain array first seen as a constant) -> its slot
        self.const_use = {}       # constant slot -> "unused" | "value" | "scratch"
        self.tracers = {}         # root slot -> [TracedArray views of it]
        self.keep = []            # objects whose ids are keys above (kept alive)
        self.first_write = None   # index of the first instruction writing an argument/state
        self.written_roots = set()
        self.failure = None       # why this capture cannot be replayed (the first reason)
        self.closed = False       # the capture ended: leftover tracers act as plain arrays

    def fail(self, reason):
        """Give up recording (the step goes on computing eagerly, its results stay right);
        returns a placeholder Slot so the caller can carry on."""
        if self.failure is None:
            self.failure = f"{reason} (at {user_site(_ENGINE_FILES)})"
            self.paused += 1  # from now on tracers compute without recording
        return Slot(-1)

    # ------------------------------------------------------------ slots
    def new_slot(self, plain, origin=None, root=None):
        """Wrap `plain` (an ndarray) as a TracedArray in a new slot."""
        index = self.n_slots
        self.n_slots += 1
        self.root.append(index if root is None else root)
        self.owns.append(root is None)
        self.origin.append(origin)
        t = _plain_view(plain, TracedArray)
        t._rec, t._slot = self, index
        owner = plain if plain.base is None else plain.base
        if root is None:
            self.by_owner[id(owner)] = index
            self.keep.append(owner)
        self.tracers.setdefault(self.root[index], []).append(t)
        return t

    def slot_of(self, a) -> Slot:
        """The Slot of an array argument, registering a plain array on first sight."""
        if isinstance(a, TracedArray):
            if a._rec is self and a._slot is not None:
                return Slot(a._slot)
            if a._rec is not self and a._rec is not None and not a._rec.closed:
                return self.fail("an array from another capture is used in this one")
            if a._rec is self:
                return self.fail("NumPy returned a traced array through a path the recorder "
                                 f"does not see (shape {a.shape})")
            a = _plain_view(a, np.ndarray)  # left over from a finished capture: a constant
        index = self.constant_of.get(id(a))
        if index is not None:
            return Slot(index)
        alias = self._alias(a)
        if alias is not None:
            return Slot(alias)
        # A constant: its value now is its value in every replay (a copy, so later writes
        # by untraced code cannot change what the program holds).
        index = self.n_slots
        self.new_slot(a.copy(), origin=("const", a.copy(), user_site(("/capture/", "/numpy/"))))
        self.constant_of[id(a)] = index
        self.const_use[index] = "unused"
        self.keep.append(a)
        return Slot(index)

    def see(self, arrays):
        """Register the plain arrays a call is about to use before it runs (a constant's
        value is the one before the call, which may write into it)."""
        for a in arrays:
            if not isinstance(a, TracedArray):
                self.slot_of(a)

    def _alias(self, a):
        """The slot of a traced array that plain `a` views with the same geometry (what
        np.asarray(traced) returns), or None."""
        base = a
        while base is not None:
            if isinstance(base, TracedArray) and base._rec is self and base._slot is not None:
                root = self.root[base._slot]
                break
            index = self.by_owner.get(id(base))
            if index is not None:
                root = self.root[index]
                break
            base = base.base
        else:
            return None
        geometry = _geometry(a)
        for t in self.tracers.get(root, ()):
            if _geometry(t) == geometry:
                return t._slot
        self.fail(f"an array of shape {a.shape} views a captured array in a way the "
                  "recorder did not see (e.g. np.asarray followed by slicing)")
        return -1

    # ------------------------------------------------------------ encoding arguments
    def encode(self, value, reads):
        """`value` with every array replaced by its Slot (reads collects them)."""
        if isinstance(value, np.ndarray):
            slot = self.slot_of(value)
            reads.append(slot.index)
            return slot
        kind = type(value)
        if kind is tuple:
            return tuple(self.encode(v, reads) for v in value)
        if kind is list:
            return [self.encode(v, reads) for v in value]
        if kind is dict:
            return {k: self.encode(v, reads) for k, v in value.items()}
        return value

    # ------------------------------------------------------------ results
    def wrap(self, result, inputs):
        """Results of a recorded call as TracedArrays in new slots; returns (traced, outs)."""
        if isinstance(result, np.ndarray):
            root = _viewed_root(self, result, inputs)
            t = self.new_slot(result, root=root)
            return t, Slot(t._slot)
        if isinstance(result, np.generic):
            t = self.new_slot(_asarray(result))
            return t, Slot(t._slot)
        if isinstance(result, (tuple, list)) and result and all(
                isinstance(r, (np.ndarray, np.generic)) for r in result):
            pairs = [self.wrap(r, inputs) for r in result]
            traced = [p[0] for p in pairs]
            if hasattr(result, "_fields"):  # a named tuple (np.linalg.slogdet's result)
                return type(result)(*traced), [p[1] for p in pairs]
            return type(result)(traced), [p[1] for p in pairs]
        return None, None

    def record(self, kind, fn, args, kwargs, result, inputs, writes=(), overwrites=()):
        """Record `kind` call fn(*args, **kwargs) that returned `result`; returns the
        traced result to hand back to the caller. `writes`: slots written in place;
        `overwrites`: those among them written whole without being read (an out= target)."""
        reads = []
        enc_args = self.encode(args, reads)
        enc_kwargs = self.encode(kwargs, reads)
        self._first_access(reads, overwrites)
        for w in writes:
            self.note_write(w)
        traced, outs = self.wrap(result, inputs)
        ins = Instruction(kind, fn, enc_args, enc_kwargs, outs, reads, list(writes))
        if isinstance(result, np.generic):
            ins.scalar_out = True
        elif isinstance(result, (tuple, list)) and any(isinstance(r, np.generic)
                                                       for r in result):
            ins.scalar_out = tuple(isinstance(r, np.generic) for r in result)
        if traced is None and result is not None:
            self.instructions.append(ins)
            return self.guard_value(result, ins)
        self.instructions.append(ins)
        return traced if traced is not None else result

    def _first_access(self, reads, overwrites):
        """A constant array whose first use overwrites it whole is a scratch buffer (e.g. a
        preallocated out= target): its value is irrelevant, the replay allocates it."""
        pure = list(overwrites)
        for i in reads:
            if i in pure:
                pure.remove(i)  # an out= target counts once as the write, not as a read
                continue
            root = self.root[i]
            if self.const_use.get(root) == "unused":
                self.const_use[root] = "value"
        for i in overwrites:
            root = self.root[i]
            if self.const_use.get(root) == "unused":
                whole = self.tracers[root][0].size == self.tracers[i][0].size
                self.const_use[root] = "scratch" if whole else "value"

    def note_write(self, slot_index):
        root = self.root[slot_index]
        self.written_roots.add(root)
        if self.first_write is None and self.origin[root] is not None \
                and self.origin[root][0] in ("arg", "ext"):
            self.first_write = len(self.instructions)

    # ------------------------------------------------------------ guards
    def guard(self, traced, convert, value):
        """Python read `convert(traced)` == value: recorded as a check the replay makes."""
        reads = [traced._slot]
        ins = Instruction("guard", convert, (Slot(traced._slot),), {}, None, reads, [],
                          expected=value, site=user_site(_ENGINE_FILES))
        self.instructions.append(ins)
        return value

    def guard_value(self, value, ins):
        """A call returned a plain Python value computed from data (np.allclose, ...): the
        call's result goes to a slot and a guard checks it."""
        index = self.n_slots
        self.n_slots += 1
        self.root.append(index)
        self.owns.append(True)
        self.origin.append(None)
        ins.outs = Slot(index)
        self.instructions.append(Instruction("guard", None, (Slot(index),), {}, None,
                                             [index], [], expected=value,
                                             site=user_site(_ENGINE_FILES)))
        return value


def _geometry(a):
    return (a.__array_interface__["data"][0], a.shape, a.strides, a.dtype)


def _viewed_root(rec, result, inputs):
    """The root slot of the input `result` shares memory with (a view), or None (it owns
    its memory: a fresh array)."""
    for a in inputs:
        if isinstance(a, TracedArray) and a._slot is not None and np.may_share_memory(result, a):
            return rec.root[a._slot]
    return None


def _unwrap(value):
    """Plain ndarrays in place of TracedArrays, inside tuples/lists/dicts too."""
    if isinstance(value, TracedArray):
        return _plain_view(value, np.ndarray)
    kind = type(value)
    if kind is tuple:
        return tuple(_unwrap(v) for v in value)
    if kind is list:
        return [_unwrap(v) for v in value]
    if kind is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _flat_arrays(value, into):
    if isinstance(value, np.ndarray):
        into.append(value)
    elif type(value) in (tuple, list):
        for v in value:
            _flat_arrays(v, into)
    elif type(value) is dict:
        for v in value.values():
            _flat_arrays(v, into)
    return into


def _recorder_of(values):
    for a in values:
        if isinstance(a, TracedArray) and a._rec is not None:
            return a._rec
    return None


# NumPy functions whose result depends only on shapes and dtypes: not recorded.
_STATIC_FUNCTIONS = {np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj,
                     np.may_share_memory, np.shares_memory}
# NumPy functions that write into an argument: position of the written argument.
_WRITING_FUNCTIONS = {np.copyto: 0, np.put: 0, np.place: 0, np.putmask: 0,
                      np.fill_diagonal: 0, np.put_along_axis: 0}


class TracedArray(np.ndarray):
    """An ndarray whose operations are recorded while a step is captured (see the module
    docstring). Outside a capture nothing holds one."""

    _rec = None
    _slot = None

    def __array_finalize__(self, obj):
        # Made by NumPy itself (a view the overrides below did not see): untracked, so a
        # recorded call that uses it raises CaptureError instead of baking in its values.
        self._rec = getattr(obj, "_rec", None)
        self._slot = None

    # ------------------------------------------------------------ the protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        outs = kwargs.get("out")
        rec = _recorder_of(inputs + (outs or ()))
        if rec is not None and not rec.paused:
            rec.see(_flat_arrays(inputs, []) + _flat_arrays(kwargs, []))
        plain_inputs = _unwrap(inputs)
        plain_kwargs = _unwrap(kwargs)
        result = getattr(ufunc, method)(*plain_inputs, **plain_kwargs)
        if rec is None or rec.paused:
            return _restore_outs(result, outs)
        writes = []
        if outs:
            writes = [rec.slot_of(o).index for o in outs if o is not None]
        elif method == "at":
            writes = [rec.slot_of(inputs[0]).index]
        call = ufunc if method == "__call__" else getattr(ufunc, method)
        if outs or method == "at":
            whole = writes if outs and "where" not in kwargs else ()
            rec.record("call", call, inputs, kwargs, None, inputs, writes, whole)
            return _restore_outs(result, outs)
        return rec.record("call", call, inputs, kwargs, result, inputs)

    def __array_function__(self, func, types, args, kwargs):
        if func in _STATIC_FUNCTIONS:
            return func(*_unwrap(args), **_unwrap(kwargs))
        arrays = _flat_arrays(args, []) + _flat_arrays(kwargs, [])
        rec = _recorder_of(arrays)
        if rec is not None and not rec.paused:
            rec.see(arrays)
        result = func(*_unwrap(args), **_unwrap(kwargs))
        if rec is None or rec.paused:
            return _retrace_result(result, args, kwargs)
        writes = []
        position = _WRITING_FUNCTIONS.get(func)
        if position is not None:
            writes.append(rec.slot_of(args[position]).index)
        if "out" in kwargs and kwargs["out"] is not None:
            writes.extend(rec.slot_of(o).index for o in _flat_arrays(kwargs["out"], []))
            rec.record("call", func, args, kwargs, None, arrays, writes, writes)
            return kwargs["out"]
        if writes:
            whole = writes if func is np.copyto and "where" not in kwargs else ()
            rec.record("call", func, args, kwargs, None, arrays, writes, whole)
            return result
        return rec.record("call", func, args, kwargs, result, arrays)

    # ------------------------------------------------------------ reads into Python
    def _read(self, convert):
        value = convert(_plain_view(self, np.ndarray))
        rec = self._rec
        if rec is not None and not rec.paused:
            if self._slot is None:
                rec.slot_of(self)  # raises: untracked
            rec.guard(self, convert, value)
        return value

    def __bool__(self):
        return self._read(bool)

    def __float__(self):
        return self._read(float)

    def __int__(self):
        return self._read(int)

    def __index__(self):
        return self._read(_index)

    def __complex__(self):
        return self._read(complex)

    def item(self, *args):
        return self._read(_item(args))

    def tolist(self):
        return self._read(np.ndarray.tolist)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    # ------------------------------------------------------------ what base means
    @property
    def base(self):
        """None for an array that owns its memory in the program (as the eager array
        would), else the array it views: engine code deciding whether to copy sees what it
        would see in eager mode."""
        rec = self._rec
        if rec is None or self._slot is None or rec.closed:
            return np.ndarray.base.__get__(self)
        if rec.owns[self._slot]:
            return None
        return rec.tracers[rec.root[self._slot]][0]

    def __reduce__(self):
        raise CaptureError("a captured step cannot pickle or deep-copy arrays it computes")

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()


def _index(a):
    return a.__index__()


def _item(args):
    """ndarray.item with these arguments, one function per argument tuple (a guard's
    converter is a constant of the program: two captures must see the same object)."""
    fn = _ITEMS.get(args)
    if fn is None:
        def item(a):
            return a.item(*args)
        fn = _ITEMS[args] = item
    return fn


_ITEMS = {}


def _restore_outs(result, outs):
    """A ufunc called with out= returns the out arrays themselves (the traced ones)."""
    if not outs:
        return result
    return outs[0] if len(outs) == 1 else outs


def _retrace_result(result, args, kwargs):
    if "out" in kwargs and kwargs["out"] is not None:
        return kwargs["out"]
    return result


def _recorded_method(name, writes_self=False):
    base = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        rec = self._rec
        if rec is not None and not rec.paused:
            rec.see(_flat_arrays(args, []) + _flat_arrays(kwargs, []))
        plain = _plain_view(self, np.ndarray)
        result = base(plain, *_unwrap(args), **_unwrap(kwargs))
        if rec is None or rec.paused:
            return result
        inputs = [self] + _flat_arrays(args, []) + _flat_arrays(kwargs, [])
        if writes_self:
            rec.record("method", name, (self,) + args, kwargs, None, inputs,
                       [rec.slot_of(self).index])
            return result
        if result is plain:  # e.g. astype(copy=False) of the same dtype: the same array
            rec.slot_of(self)
            return self
        return rec.record("method", name, (self,) + args, kwargs, result, inputs)

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


for _name in ("reshape", "transpose", "swapaxes", "squeeze", "ravel", "flatten", "astype",
              "copy", "view", "argmax", "argmin", "argsort", "take", "repeat", "cumsum",
              "cumprod", "nonzero", "searchsorted", "dot", "round", "diagonal", "conj",
              "conjugate", "__getitem__", "choose", "compress", "trace", "argpartition",
              "byteswap", "tobytes"):
    setattr(TracedArray, _name, _recorded_method(_name))
for _name in ("__setitem__", "fill", "sort", "put", "partition", "itemset", "setfield"):
    if hasattr(np.ndarray, _name):
        setattr(TracedArray, _name, _recorded_method(_name, writes_self=True))


def _recorded_attribute(name):
    getter = getattr(np.ndarray, name).__get__

    def get(self):
        rec = self._rec
        result = getter(_plain_view(self, np.ndarray))
        if rec is None or rec.paused:
            return result
        return rec.record("getattr", name, (self,), {}, result, [self])

    return property(get, doc=f"ndarray.{name}, recorded")


for _name in ("T", "mT", "real", "imag"):
    if hasattr(np.ndarray, _name):
        setattr(TracedArray, _name, _recorded_attribute(_name))


def _refused(name):
    def refuse(self, *args, **kwargs):
        if self._rec is not None and not self._rec.paused:
            raise CaptureError(f"ndarray.{name} on an array the step computes cannot be "
                               "captured")
        return getattr(np.ndarray, name)(_plain_view(self, np.ndarray), *args, **kwargs)
    return refuse


for _name in ("resize", "setflags", "tofile", "dump", "dumps"):
    setattr(TracedArray, _name, _refused(_name))


def _flat(self):
    if self._rec is not None and not self._rec.paused:
        raise CaptureError("ndarray.flat on an array the step computes cannot be captured")
    return np.ndarray.flat.__get__(_plain_view(self, np.ndarray))


TracedArray.flat = property(_flat)
