"""torch's products: mm, bmm, mv, dot, vdot (matmul with torch's shape checks), outer,
inner, kron, tensordot (built from broadcasting products and einsum), and cross (a new op:
its gradient is two more cross products).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..function import Function
from ..tensor import Tensor
from . import shape as _shape
from ._dims import normalize_dim
from ..errors import op_error
from .einsum import einsum
from .linalg import matmul


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _check(op, cond, message):
    if not cond:
        raise op_error(ValueError, op, message)


def _same_dtype(op, a, b):
    if a.dtype != b.dtype:
        raise op_error(TypeError, op, f"expects both operands to have the same dtype, got "
                                      f"{a.dtype} and {b.dtype}")


def mm(input, mat2):
    """The matrix product of two matrices (torch.mm: 2-D only)."""
    a, b = _tensor(input), _tensor(mat2)
    _check("mm", a.ndim == 2 and b.ndim == 2, f"expects two matrices (2-D), got shapes "
                                              f"{a.shape} and {b.shape}")
    _check("mm", a.shape[1] == b.shape[0], f"shapes {a.shape} and {b.shape} cannot be "
                                           "multiplied (inner sizes differ)")
    _same_dtype("mm", a, b)
    return matmul(a, b)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) (torch.bmm: no broadcasting)."""
    a, b = _tensor(input), _tensor(mat2)
    _check("bmm", a.ndim == 3 and b.ndim == 3, f"expects two 3-D tensors, got shapes "
                                               f"{a.shape} and {b.shape}")
    _check("bmm", a.shape[0] == b.shape[0] and a.shape[2] == b.shape[1],
           f"shapes {a.shape} and {b.shape} do not fit (need (b, n, m) and (b, m, p))")
    _same_dtype("bmm", a, b)
    return matmul(a, b)


def mv(input, vec):
    """Matrix times vector: (n, m) @ (m,) -> (n,) (torch.mv)."""
    a, v = _tensor(input), _tensor(vec)
    _check("mv", a.ndim == 2 and v.ndim == 1, f"expects a matrix and a vector, got shapes "
                                              f"{a.shape} and {v.shape}")
    _check("mv", a.shape[1] == v.shape[0], f"shapes {a.shape} and {v.shape} do not fit")
    _same_dtype("mv", a, v)
    return matmul(a, v)


def dot(input, other):
    """sum_i a_i b_i of two 1-D tensors of the same size (torch.dot: no broadcasting)."""
    a, b = _tensor(input), _tensor(other)
    _check("dot", a.ndim == 1 and b.ndim == 1, f"expects two 1-D tensors, got shapes "
                                               f"{a.shape} and {b.shape}")
    _check("dot", a.shape == b.shape, f"sizes differ: {a.shape[0]} and {b.shape[0]}")
    _same_dtype("dot", a, b)
    return matmul(a, b)


def vdot(input, other):
    """dot with the first operand conjugated: for real tensors the same as dot
    (torch.vdot)."""
    return dot(input, other)


def outer(input, vec2):
    """The outer product a_i b_j of two 1-D tensors (torch.outer)."""
    a, b = _tensor(input), _tensor(vec2)
    _check("outer", a.ndim == 1 and b.ndim == 1, f"expects two 1-D tensors, got shapes "
                                                 f"{a.shape} and {b.shape}")
    return _shape.reshape(a, (a.shape[0], 1)) * _shape.reshape(b, (1, b.shape[0]))


ger = outer


def inner(input, other):
    """sum over the last dims of a and b: shape a.shape[:-1] + b.shape[:-1]; a product
    when one is 0-d (torch.inner)."""
    a, b = _tensor(input), _tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    _check("inner", a.shape[-1] == b.shape[-1], f"the last dims of shapes {a.shape} and "
                                                f"{b.shape} differ")
    return tensordot(a, b, ([-1], [-1]))


def kron(input, other):
    """The Kronecker product: every entry of a times all of b, as blocks (torch.kron)."""
    a, b = _tensor(input), _tensor(other)
    n = max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    # a's dims interleaved with b's: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...)
    ia = tuple(s for d in sa for s in (d, 1))
    ib = tuple(s for d in sb for s in (1, d))
    return _shape.reshape(_shape.reshape(a, ia) * _shape.reshape(b, ib),
                          tuple(x * y for x, y in zip(sa, sb)))


def tensordot(a, b, dims=2):
    """Contract the last `dims` dims of a with the first `dims` of b, or the dims listed
    as (dims_a, dims_b) (torch.tensordot)."""
    a, b = _tensor(a), _tensor(b)
    if isinstance(dims, numbers.Integral):
        _check("tensordot", 0 <= dims <= min(a.ndim, b.ndim), f"dims={dims} does not fit "
                                                              f"shapes {a.shape} and {b.shape}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
        da = [normalize_dim(d, a.ndim, "tensordot") for d in da]
        db = [normalize_dim(d, b.ndim, "tensordot") for d in db]
    _check("tensordot", len(da) == len(db), f"contracted dims {da} and {db} differ in number")
    for i, j in zip(da, db):
        _check("tensordot", a.shape[i] == b.shape[j], f"dim {i} of shape {a.shape} and dim "
                                                      f"{j} of shape {b.shape} differ")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb)
                                                          if j not in db]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


class Cross(Function):
    """the cross product a x b of 3-vectors along a dim (a and b broadcast)"""
    derivative = "d(a x b)/da: g -> b x g, d(a x b)/db: g -> g x a"

    @staticmethod
    def forward(ctx, a, b, axis):
        ctx.axis = axis
        ctx.save(a, b)
        return ctx.xp.cross(a, b, axis=axis)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ga, gb = ctx.needs_input_grad
        return (ctx.call(Cross, b, g, axis=ctx.axis) if ga else None,
                ctx.call(Cross, g, a, axis=ctx.axis) if gb else None)


def cross(input, other, dim=None):
    """The cross product along dim, which must have size 3; dim=None takes the first dim
    of size 3 (torch.cross; linalg.cross defaults to the last dim)."""
    a, b = _tensor(input), _tensor(other)
    _same_dtype("cross", a, b)
    ndim = max(a.ndim, b.ndim)
    if dim is None:
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            shape = ()
        dims = [d for d, n in enumerate(shape) if n == 3]
        if not dims:
            raise op_error(ValueError, "cross", f"no dim of size 3 in shapes {a.shape} and "
                                                f"{b.shape}")
        dim = dims[0]
    dim = normalize_dim(dim, ndim, "cross")
    for t in (a, b):
        n = ((1,) * (ndim - t.ndim) + t.shape)[dim]
        _check("cross", n == 3, f"dim {dim} must have size 3 in both operands, got shapes "
                                f"{a.shape} and {b.shape}")
    # both aligned to the same rank so that `dim` means the same dim in each
    a = _shape.reshape(a, (1,) * (ndim - a.ndim) + a.shape)
    b = _shape.reshape(b, (1,) * (ndim - b.ndim) + b.shape)
    return Cross.apply(a, b, axis=dim)


def linalg_cross(input, other, *, dim=-1):
    """The cross product along dim (default the last) (torch.linalg.cross)."""
    return cross(input, other, dim)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"outer": outer, "ger": ger, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot,
           "vdot": vdot, "inner": inner, "kron": kron, "cross": cross}
