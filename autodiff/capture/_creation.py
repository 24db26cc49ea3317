"""NumPy's array-creation functions, recorded while a step is captured.

Engine code often allocates and then fills (`out = xp.empty(shape); out[...] = g` is
cheaper than numpy.broadcast_to). A plain array from numpy.empty is invisible to the
recorder, and so would be the write into it; the program would then hold this step's
values as a constant (the second capture notices and the step runs eagerly). So for the
duration of a capture, and only for the capturing thread, numpy.empty/zeros/ones/full
return traced arrays (the allocation becomes an instruction of the program), and
numpy.asarray/array and friends see through traced arrays. The functions are put back when
the capture ends; other threads calling them meanwhile get NumPy's own results.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ._tracer import TracedArray

__all__ = ["recorded_creation"]

_ALLOCATORS = ("empty", "zeros", "ones", "full")
_CONVERTERS = ("asarray", "asanyarray", "array", "ascontiguousarray")


def _allocator(fn, current):
    def allocate(*args, **kwargs):
        result = fn(*args, **kwargs)
        capture = current()
        if capture is None or capture.rec.paused or kwargs.get("like") is not None:
            return result
        return capture.rec.record("call", fn, args, kwargs, result, [])
    allocate.__name__ = fn.__name__
    allocate.__doc__ = fn.__doc__
    return allocate


def _converter(fn, current, copies):
    def convert(a, *args, **kwargs):
        capture = current()
        if capture is None or capture.rec.paused or not _holds_traced(a):
            return fn(a, *args, **kwargs)
        if isinstance(a, TracedArray) and not copies and not args and not kwargs:
            return a  # asarray of an array is the array itself
        result = fn(_plain(a), *args, **kwargs)
        return capture.rec.record("call", fn, (a,) + args, kwargs, result, [a])
    convert.__name__ = fn.__name__
    convert.__doc__ = fn.__doc__
    return convert


def _holds_traced(a) -> bool:
    if isinstance(a, TracedArray):
        return True
    if type(a) in (list, tuple):
        return any(_holds_traced(x) for x in a)
    return False


def _plain(a):
    if isinstance(a, TracedArray):
        return np.ndarray.view(a, np.ndarray)
    if type(a) in (list, tuple):
        return type(a)(_plain(x) for x in a)
    return a


def _strided(fn, current):
    """numpy.lib.stride_tricks.as_strided: a view NumPy builds without dispatching."""
    def as_strided(x, *args, **kwargs):
        capture = current()
        if capture is None or capture.rec.paused or not isinstance(x, TracedArray):
            return fn(x, *args, **kwargs)
        result = fn(_plain(x), *args, **kwargs)
        return capture.rec.record("call", fn, (x,) + args, kwargs, result, [x])
    as_strided.__name__ = fn.__name__
    as_strided.__doc__ = fn.__doc__
    return as_strided


@contextlib.contextmanager
def recorded_creation(current):
    """numpy's creation functions record into `current()`'s capture inside the block."""
    originals = {name: getattr(np, name) for name in _ALLOCATORS + _CONVERTERS}
    for name in _ALLOCATORS:
        setattr(np, name, _allocator(originals[name], current))
    for name in _CONVERTERS:
        setattr(np, name, _converter(originals[name], current, copies=name == "array"))
    tricks = np.lib.stride_tricks
    original_strided = tricks.as_strided
    tricks.as_strided = _strided(original_strided, current)
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(np, name, fn)
        tricks.as_strided = original_strided
