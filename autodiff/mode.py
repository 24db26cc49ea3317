"""Thread-local grad mode (`no_grad`, `enable_grad`) and anomaly detection mode."""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled"]


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False


state = _State()


def is_grad_enabled() -> bool:
    """Whether ops performed now record a graph (per thread)."""
    return state.grad_enabled


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (per thread)."""
    return state.anomaly


class _Switch:
    """A context manager that is also a decorator; subclasses set `_attr` and `_value`."""

    _attr = ""
    _value = True

    def __enter__(self):
        self._saved = getattr(state, self._attr)
        setattr(state, self._attr, self._value)
        return self

    def __exit__(self, *exc):
        setattr(state, self._attr, self._saved)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


class no_grad(_Switch):
    """Disable graph recording inside the block (or decorated function); thread-local."""
    _attr, _value = "grad_enabled", False


class enable_grad(_Switch):
    """Enable graph recording inside the block, e.g. within a `no_grad` region."""
    _attr, _value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """Set grad mode to `mode` inside the block."""
    _attr = "grad_enabled"

    def __init__(self, mode: bool):
        self._value = bool(mode)

    def _args(self):
        return (self._value,)


class detect_anomaly(_Switch):
    """Raise as soon as a forward or backward step produces NaN/Inf, naming the op and
    where in user code the forward op was created. Off by default; free when off."""
    _attr = "anomaly"

    def __init__(self, enabled: bool = True):
        self._value = bool(enabled)

    def _args(self):
        return (self._value,)
