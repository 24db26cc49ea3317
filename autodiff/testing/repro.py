"""Text for failure messages: plain numbers, names of the code under test, and repro lines.

Every message `ad.testing` raises prints numbers as plain Python floats (never
`np.float64(...)`), names the user's op or module class rather than `Function.apply`, and
ends with lines that rebuild the failing inputs exactly (`ad.tensor([...], dtype=...)`).
"""
from __future__ import annotations

import functools
import math
import os

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor

__all__ = ["num", "index_text", "describe_callable", "call_expression", "tensor_source",
           "options_text", "repro_lines"]


def num(value) -> str:
    """A scalar as a plain float: up to 10 significant digits, 'inf'/'nan' spelled out."""
    v = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.10g}"


def index_text(index) -> str:
    """An element index as a plain tuple of ints: (1, 0), or () for a 0-d tensor."""
    return str(tuple(int(i) for i in index))


def _literal(value) -> str:
    """Exact Python source for a nested list of floats/ints/bools (round-trips the value)."""
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)  # shortest repr: parses back to the same float64
    return repr(value)


def _dtype_source(dtype) -> str:
    name = {str(backend.bool_): "bool_"}.get(str(dtype), str(dtype))
    return f"ad.{name}"


def tensor_source(t: Tensor) -> str:
    """`ad.tensor(...)` source that recreates `t`'s values, dtype, device and requires_grad.

    Floating values are written as the float64 repr of each stored value, which rounds
    back to exactly the same value in the tensor's own dtype."""
    host = backend.to_device(t.data, "cpu")
    if backend.is_floating(host.dtype):
        values = host.astype(np.float64).tolist()
    else:
        values = host.tolist()
    args = [_literal(values), f"dtype={_dtype_source(host.dtype)}"]
    if t.device != "cpu":
        args.append(f"device={t.device!r}")
    if t.requires_grad:
        args.append("requires_grad=True")
    return "ad.tensor(" + ", ".join(args) + ")"


def _where(fn) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"


def _public_name(fn):
    """`ad.<name>` when fn is one of autodiff's public functions (ad.relu is Relu.apply)."""
    import autodiff
    for name in getattr(autodiff, "__all__", None) or dir(autodiff):
        if not name.startswith("_") and getattr(autodiff, name, None) == fn:
            return f"ad.{name}"
    return None


def describe_callable(fn) -> str:
    """A readable name for the code under test: `MyOp.apply`, `ad.relu`, `MyNet`, `f`,
    `<lambda> at test_x.py:12`."""
    if isinstance(fn, functools.partial):
        return f"partial({describe_callable(fn.func)})"
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function):
        return _public_name(fn) or f"{owner.__qualname__}.{fn.__name__}"  # not Function.apply
    if hasattr(fn, "forward") and not isinstance(fn, type):  # a module instance
        return type(fn).__qualname__
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return type(fn).__qualname__
    if "<lambda>" in name:
        where = _where(fn)
        return f"<lambda> at {where}" if where else "<lambda>"
    return name


def call_expression(fn, placeholder="fn") -> tuple[str, str]:
    """(an expression naming `fn` in a repro, a comment saying what it stands for)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function):
        return _public_name(fn) or f"{owner.__name__}.{fn.__name__}", ""
    if hasattr(fn, "forward") and not isinstance(fn, type):
        return "model", f"model: your {type(fn).__qualname__} (same parameters)"
    name = getattr(fn, "__name__", None)
    if name and name.isidentifier():
        return name, ""
    return placeholder, f"{placeholder}: {describe_callable(fn)}"


def options_text(given: dict, defaults: dict) -> str:
    """", name=value" for every option that differs from its default (for repro lines)."""
    return "".join(f", {k}={v!r}" for k, v in given.items() if v != defaults.get(k))


def repro_lines(check: str, target: str, args, comment: str = "", options: str = "") -> str:
    """Indented lines that rebuild `args` and run `ad.testing.<check>(target, *args)`."""
    lines = ["import autodiff as ad"]
    names = [target]
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            lines.append(f"x{i} = {tensor_source(a)}")
            names.append(f"x{i}")
        else:
            names.append(repr(a))
    tail = f"  # {comment}" if comment else ""
    lines.append(f"ad.testing.{check}({', '.join(names)}{options}){tail}")
    return "\n".join("    " + line for line in lines)
