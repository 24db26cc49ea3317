"""Matrix multiplication with NumPy semantics (1-D operands, batched broadcasting)."""
from __future__ import annotations

from .. import backend
from ..errors import op_error
from ..function import Function

_HALF = frozenset(backend._HALF)  # backend's half types, as a set: hashed lookup per call


class MatMul(Function):
    """a @ b"""
    derivative = "d(a@b)/da = g @ b^T, d(a@b)/db = a^T @ g"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise op_error(ValueError, "matmul",
                           f"operands must be at least 1-D, got shapes {a.shape} "
                           f"and {b.shape}; use * for scalars")
        ctx.save(a, b)
        acc = backend.accumulation_dtype(a.dtype)
        try:
            if acc is not None and acc != a.dtype:
                return (a.astype(acc) @ b.astype(acc)).astype(a.dtype)
            return a @ b
        except ValueError:
            raise op_error(ValueError, "matmul",
                           f"shapes {a.shape} and {b.shape} are not aligned (inner "
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


class Linear(Function):
    """y = x W^T + b, W of shape (out_features, in_features): one node for a dense layer."""
    derivative = ("d(xW^T+b)/dx = g @ W, d(xW^T+b)/dW = g^T @ x, "
                  "d(xW^T+b)/db = g summed over leading axes")
    op_name = "linear"

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} and weight of shape {weight.shape} do not "
                "fit; weight must be 2-D (out_features, in_features) and the input's last "
                f"dimension must equal in_features ({weight.shape[-1] if weight.ndim else '?'})")
        out_features = weight.shape[0]
        if bias is not None and bias.shape not in ((out_features,), (1,), ()):
            raise op_error(ValueError, "linear", f"bias of shape {bias.shape} does not match "
                                                 f"out_features={out_features}; it must have shape "
                                                 f"({out_features},)")
        # Both saved, as MatMul does: writing either in place before backward is refused.
        ctx.save(x, weight)
        if x.dtype in _HALF:  # accumulate in float32, as MatMul does
            f32 = backend.float32
            y = x.astype(f32) @ weight.astype(f32).T
            if bias is not None:
                y += bias.astype(f32)
            return y.astype(x.dtype)
        y = x @ weight.T
        if bias is None:
            return y
        if y.dtype == bias.dtype:
            y += bias  # y is a fresh array: adding in place saves a second output buffer
            return y
        return y + bias

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        needs = ctx.needs_input_grad
        if ctx.create_graph or g.dtype in _HALF:
            return _linear_backward_general(ctx, g, x, weight, needs)
        # The hot path of every dense layer: plain array products, no reshape of 2-D operands.
        g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
        gx = g @ weight if needs[0] else None
        gw = None
        if needs[1]:
            gw = g2.T @ (x if x.ndim == 2 else x.reshape((-1, x.shape[-1])))
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def _linear_backward_general(ctx, g, x, weight, needs):
    """Linear's rule through `_product`: recorded with create_graph, float32-accumulated for
    half types."""
    # Leading axes flattened: (..., out) -> (rows, out); a 1-D input is one row.
    g2 = g.reshape((-1, g.shape[-1]))
    gx = _product(ctx, g, weight) if needs[0] else None
    gw = _product(ctx, g2.T, x.reshape((-1, x.shape[-1]))) if needs[1] else None
    if len(needs) == 2:
        return gx, gw
    gb = None
    if needs[2]:
        if ctx.create_graph:
            gb = g2.sum(axis=0)
        else:
            gb = g2.sum(axis=0, dtype=backend.float32).astype(g.dtype)
    return gx, gw, gb


def linear(x, weight, bias=None):
    """y = x @ weight^T + bias, weight (out_features, in_features), bias (out_features,) or
    None; x of shape (..., in_features) (1-D included). One graph node (PyTorch's addmm path)."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
