"""Matrix multiplication with NumPy semantics (1-D operands, batched broadcasting)."""
from __future__ import annotations

from .. import backend
from ..function import Function


class MatMul(Function):
    """a @ b"""
    derivative = "d(a@b)/da = g @ b^T, d(a@b)/db = a^T @ g"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} "
                             f"and {b.shape}; use * for scalars")
        ctx.save(a, b)
        acc = backend.accumulation_dtype(a.dtype)
        try:
            if acc is not None and acc != a.dtype:
                return (a.astype(acc) @ b.astype(acc)).astype(a.dtype)
            return a @ b
        except ValueError:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned (inner "
                             f"dimensions {a.shape[-1]} and {b.shape[-2] if b.ndim > 1 else b.shape[0]} "
                             "differ, or batch dimensions do not broadcast)") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = ctx.xp
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        # b's axis first: for vector @ vector, g is 0-d and becomes (1, 1).
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _product(ctx, g, b2.swapaxes(-1, -2))
            if a.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if ctx.needs_input_grad[1]:
            gb = _product(ctx, a2.swapaxes(-1, -2), g)
            if b.ndim == 1:
                gb = gb.reshape(gb.shape[:-1])
        return ga, gb


def _product(ctx, a, b):
    """a @ b inside a backward rule: recorded with create_graph, float32-accumulated for
    half types, a plain array product otherwise."""
    if ctx.create_graph or backend.accumulation_dtype(a.dtype) is not None:
        return ctx.call(MatMul, a, b)
    return a @ b


matmul = MatMul.apply
