"""Errors that carry the op as data: `exc.op` names the op that failed.

Code that needs to know which op failed reads `exc.op`; nothing parses messages. The ops
raise the built-in types users expect (ValueError for shapes, TypeError for dtypes and
argument types, IndexError for indices, `OpError` (a RuntimeError) for the rest), each
made by `op_error` so that it carries `.op`; an exception from NumPy inside a forward is
re-raised by `forward_error` as one of them, naming the op, its inputs and parameters.
"""
from __future__ import annotations

from . import backend

__all__ = ["OpError", "AnomalyError", "op_error"]


class OpError(RuntimeError):
    """An op, or backward through an op's node, failed; `.op` names the op."""

    def __init__(self, message: str, op: str | None = None):
        super().__init__(message)
        self.op = op


class AnomalyError(FloatingPointError):
    """Anomaly mode found NaN or Inf: `.op` names the op, `.phase` is "forward" or
    "backward", `.trace` is where in user code the op was created."""

    def __init__(self, message: str, op: str, phase: str, trace: str | None = None):
        super().__init__(message)
        self.op, self.phase, self.trace = op, phase, trace


def op_error(kind: type, op: str, message: str, label: str | None = None) -> Exception:
    """`kind("op: message")` carrying `.op` (RuntimeError gives an OpError); `label`
    replaces the op name at the start of the message (e.g. "backward")."""
    text = f"{label or op}: {message}"
    exc = OpError(text, op) if kind is RuntimeError else kind(text)
    exc.op = op
    return exc


def describe(args, arrays) -> str:
    """The inputs of an op call in one line: shape, dtype and device of each array."""
    parts = []
    for a, arr in zip(args, arrays):
        if backend.is_array(arr):
            parts.append(f"{tuple(arr.shape)} {arr.dtype} on {backend.device_of(arr)}")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def forward_error(op: str, args, arrays, params, exc: Exception) -> Exception:
    """The error to raise when op's forward raised `exc`: `exc` itself when it already
    names its op, else one of the standard types naming the op, inputs and parameters."""
    devices = {backend.device_of(a) for a in arrays if backend.is_array(a)}
    # Mixed devices first: whatever the op's own checks then said is a consequence of that.
    if len(devices) > 1:
        return op_error(RuntimeError, op, f"inputs are on different devices "
                        f"({describe(args, arrays)}); move them to one device with "
                        ".to(device) first")
    if getattr(exc, "op", None) is not None:
        return exc
    extra = f" with {params}" if params else ""
    # NumPy raises subclasses (UFuncTypeError, AxisError): report the standard base class.
    kind = next((k for k in (ValueError, TypeError, IndexError) if isinstance(exc, k)),
                RuntimeError)
    return op_error(kind, op, f"cannot compute for inputs ({describe(args, arrays)})"
                              f"{extra}: {exc}")
