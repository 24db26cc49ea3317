"""Square-matrix linear algebra: linalg.inv, linalg.det, linalg.slogdet, linalg.solve
(batched over leading dims). Each gradient is written with inv / solve and matrix
products, so it differentiates again:

    d inv(A)      = -inv(A) dA inv(A)          grad_A = -Y^T g Y^T        (Y = inv(A))
    d det(A)      = det(A) tr(inv(A) dA)       grad_A = g det(A) inv(A)^T
    d log|det A|  = tr(inv(A) dA)              grad_A = g inv(A)^T
    X = solve(A, B):                           grad_B = solve(A^T, g), grad_A = -grad_B X^T
"""
from __future__ import annotations

import numpy as np

from .. import backend, return_types
from ..function import Function
from ..tensor import Tensor
from . import shape as _shape
from ..errors import op_error


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _mT(xp, a):
    return xp.swapaxes(a, -1, -2)


def _linalg(op, fn, *arrays):
    """fn(*arrays) in float32 for half types; a singular matrix raises an error naming op."""
    dtype = arrays[0].dtype
    acc = backend.accumulation_dtype(dtype)
    xp = backend.array_module(*arrays)
    try:
        out = fn(*[a if acc is None else a.astype(acc) for a in arrays])
    except xp.linalg.LinAlgError as exc:
        raise op_error(RuntimeError, op, f"the matrix is singular (not invertible): {exc}") \
            from None
    if acc is None:
        return out
    return tuple(o.astype(dtype) for o in out) if isinstance(out, tuple) else out.astype(dtype)


class Inv(Function):
    """the inverse of a square matrix"""
    op_name = "inv"
    derivative = "d inv(A) = -inv(A) dA inv(A)"

    @staticmethod
    def forward(ctx, a):
        out = _linalg("inv", ctx.xp.linalg.inv, a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        yt = _mT(ctx.xp, y)
        return -(yt @ g @ yt)


class Det(Function):
    """the determinant of a square matrix"""
    op_name = "det"
    derivative = "d det(A)/dA = det(A) inv(A)^T"

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.asarray(_linalg("det", ctx.xp.linalg.det, a))
        ctx.save(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, det = ctx.saved
        xp = ctx.xp
        try:
            inverse = ctx.call(Inv, a)
        except RuntimeError as exc:
            if getattr(exc, "op", None) != "inv":
                raise
            # a singular matrix: det(A) inv(A)^T has no value, the cofactor matrix it
            # equals elsewhere does (torch's create_graph backward gives it too)
            return xp.expand_dims(xp.expand_dims(g, -1), -1) * _cofactors(ctx, a)
        scale = xp.expand_dims(xp.expand_dims(g * det, -1), -1)
        return scale * _mT(xp, inverse)


class LogAbsDet(Function):
    """log |det(A)| of a square matrix (the second output of slogdet)"""
    op_name = "slogdet"
    derivative = "d log|det(A)|/dA = inv(A)^T"

    @staticmethod
    def forward(ctx, a):
        sign, logabs = _linalg("slogdet", ctx.xp.linalg.slogdet, a)
        ctx.sign = sign
        ctx.save(a)
        return ctx.xp.asarray(logabs)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        xp = ctx.xp
        try:
            inverse = ctx.call(Inv, a)
        except RuntimeError as exc:
            if getattr(exc, "op", None) != "inv" or ctx.create_graph:
                raise  # (torch's create_graph backward refuses a singular matrix too)
            # log|det| is -inf at a singular matrix: its gradient is not finite there.
            # torch's backward runs its LU solve on through the zero pivot and returns
            # inf/NaN entries instead of raising; so does this one
            inverse = _inverse_through_zero_pivots(a)
        return xp.expand_dims(xp.expand_dims(g, -1), -1) * _mT(xp, inverse)


def _inverse_through_zero_pivots(a):
    """inv(A) of each matrix by Gauss-Jordan elimination with partial pivoting that does
    not stop at a zero pivot: a singular matrix gets inf/NaN entries (a plain backward)."""
    xp = backend.array_module(a)
    n = a.shape[-1]
    m = a.reshape((-1, n, n)).copy()
    out = xp.broadcast_to(xp.eye(n, dtype=a.dtype), m.shape).copy()
    rows = xp.arange(m.shape[0])
    with np.errstate(all="ignore"):
        for j in range(n):
            pivot = j + xp.argmax(abs(m[:, j:, j]), axis=1)  # the largest entry, first on ties
            for arr in (m, out):
                top, low = arr[rows, j].copy(), arr[rows, pivot].copy()
                arr[rows, j], arr[rows, pivot] = low, top
            factors = m[:, j + 1:, j] / m[:, j:j + 1, j]
            m[:, j + 1:] -= factors[..., None] * m[:, j:j + 1]
            out[:, j + 1:] -= factors[..., None] * out[:, j:j + 1]
        for j in range(n - 1, -1, -1):
            rest = m[:, j:j + 1, j + 1:] @ out[:, j + 1:]
            out[:, j:j + 1] = (out[:, j:j + 1] - rest) / m[:, j:j + 1, j:j + 1]
    return out.reshape(a.shape)


def _cofactors(ctx, a):
    """The cofactor matrix of each matrix, (-1)^(i+j) det(A without row i and column j):
    d det(A)/dA everywhere, singular or not (an op graph under create_graph)."""
    xp, n = ctx.xp, a.shape[-1]
    if n == 1:
        return xp.ones_like(a)
    keep = [np.array([k for k in range(n) if k != i]) for i in range(n)]
    entries = []
    for i in range(n):
        rows = a[..., keep[i], :]
        for j in range(n):
            minor = ctx.call(Det, rows[..., :, keep[j]])
            entries.append(minor if (i + j) % 2 == 0 else -minor)
    return xp.reshape(xp.stack(entries, axis=-1), tuple(a.shape))


class Solve(Function):
    """X with A X = B (B a batch of matrices (..., n, k))"""
    derivative = "X = solve(A, B): grad_B = solve(A^T, g), grad_A = -grad_B X^T"

    @staticmethod
    def forward(ctx, a, b):
        out = _linalg("solve", ctx.xp.linalg.solve, a, b)
        ctx.save(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved
        xp = ctx.xp
        gb = ctx.call(Solve, _mT(xp, a), g)
        ga = -(gb @ _mT(xp, x)) if ctx.needs_input_grad[0] else None
        return ga, (gb if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------- the public functions
def _square(op, a):
    a = _tensor(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise op_error(ValueError, op, f"expects square matrices (..., n, n), got shape "
                                       f"{a.shape}")
    if not backend.is_floating(a.dtype):
        raise op_error(TypeError, op, f"expects a floating-point tensor, got dtype {a.dtype}")
    return a


def inv(A):
    """The inverse of each square matrix (torch.linalg.inv); singular matrices raise."""
    return Inv.apply(_square("linalg.inv", A))


def det(A):
    """The determinant of each square matrix (torch.linalg.det)."""
    return Det.apply(_square("linalg.det", A))


def slogdet(A):
    """(sign, log|det|) of each square matrix, a named tuple (torch.linalg.slogdet); the
    log is differentiable, the sign is not."""
    a = _square("linalg.slogdet", A)
    logabs = LogAbsDet.apply(a)
    xp = backend.array_module(a.data)
    sign = xp.sign(xp.linalg.det(a.data.astype(backend.accumulation_dtype(a.dtype) or a.dtype)))
    return return_types.linalg_slogdet(Tensor._make(xp.asarray(sign).astype(a.dtype), None,
                                                    False), logabs)


def solve(A, B, *, left=True):
    """X with A X = B (left=True) or X A = B; B a batch of vectors (..., n) or matrices
    (..., n, k), batch dims broadcast (torch.linalg.solve)."""
    a, b = _square("linalg.solve", A), _tensor(B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _shape.swapaxes(solve(_shape.swapaxes(a, -1, -2), _shape.swapaxes(b, -1, -2)),
                               -1, -2)
    n = a.shape[-1]
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if vector:
        b = _shape.unsqueeze(b, -1)
    if b.shape[-2] != n:
        raise op_error(ValueError, "linalg.solve", f"A of shape {a.shape} and B of shape "
                                                   f"{_tensor(B).shape} do not fit")
    if a.dtype != b.dtype:
        raise op_error(TypeError, "linalg.solve", f"A and B have different dtypes ({a.dtype}, "
                                                  f"{b.dtype})")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = _shape.broadcast_to(a, batch + a.shape[-2:])
    b = _shape.broadcast_to(b, batch + b.shape[-2:])
    x = Solve.apply(a, b)
    return _shape.squeeze(x, -1) if vector else x


def logdet(A):
    """log det(A) of each square matrix: NaN where det < 0, -inf where it is 0
    (torch.logdet)."""
    a = _square("logdet", A)
    sign, logabs = slogdet(a)
    xp = backend.array_module(a.data)
    # log|det| where det > 0; the sign's log (0 or NaN, -inf for 0) as a constant term
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = xp.log(sign.data)
    return logabs + Tensor._make(shift, None, False)


def torch_slogdet(A):
    """(sign, log|det|) as torch.slogdet / Tensor.slogdet name the result."""
    return return_types.slogdet(*slogdet(A))


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"det": det, "inverse": inv, "slogdet": torch_slogdet, "logdet": logdet}
