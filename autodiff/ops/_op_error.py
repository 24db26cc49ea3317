"""ADAPTER (delete when the core rewrite of issue 11 lands autodiff/errors.py on main):
errors that carry the op as data, `exc.op`, made by errors.op_error."""
from __future__ import annotations

try:
    from ..errors import op_error  # noqa: F401
except ImportError:  # main before the core rewrite
    def op_error(kind: type, op: str, message: str, label: str | None = None) -> Exception:
        """`kind("op: message")` carrying `.op`."""
        exc = kind(f"{label or op}: {message}")
        exc.op = op
        return exc
