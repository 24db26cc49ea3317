"""Anomaly mode's checks (`with ad.detect_anomaly():`): NaN or Inf in a forward result or
a backward gradient raises an AnomalyError naming the op and where user code created it."""
from __future__ import annotations

import os
import traceback

from . import backend
from .errors import AnomalyError

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _user_frame() -> str:
    """The innermost stack frame outside the autodiff package, formatted."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "<unknown>"


def _finite(arr) -> bool:
    if not backend.is_array(arr) or not backend.is_floating(arr.dtype):
        return True
    return bool(backend.array_module(arr).isfinite(arr).all())


def check_forward(ctx, out) -> None:
    """Remember where the op was created; raise if its output holds NaN or Inf."""
    ctx.trace = _user_frame()
    if not _finite(out):
        raise AnomalyError(f"anomaly: forward of {ctx.name} produced NaN or Inf.\nThe op was "
                           f"created at\n  {ctx.trace}", ctx.name, "forward", ctx.trace)


def check_backward(ctx, grads) -> None:
    """Raise if a gradient ctx's backward returned holds NaN or Inf."""
    for i, g in enumerate(grads):
        if g is not None and not _finite(g.data if isinstance(g, Tensor) else g):
            raise AnomalyError(
                f"anomaly: backward of {ctx.name} produced NaN or Inf in the gradient of "
                f"input {i}.\nThe forward op was created at\n  {ctx.trace or '<unknown>'}",
                ctx.name, "backward", ctx.trace)


def inside_rule(ctx, exc: AnomalyError) -> AnomalyError:
    """An op recorded by ctx's rule under create_graph tripped anomaly mode: report the
    rule's op (ctx), naming the inner op."""
    return AnomalyError(
        f"anomaly: backward of {ctx.name} produced NaN or Inf (in the '{exc.op}' op its rule "
        f"records under create_graph).\nThe forward op was created at\n  "
        f"{ctx.trace or '<unknown>'}", ctx.name, "backward", ctx.trace)


from .tensor import Tensor  # noqa: E402  (circular)
