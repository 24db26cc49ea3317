"""Norms and distances: linalg.vector_norm (p = 2, 1, inf, -inf, 0, any p), matrix_norm
('fro', 'nuc', 1, -1, 2, -2, inf, -inf), linalg.norm, the older torch.norm, and cdist.

The vector norm is one op; at a zero vector its gradient is 0 (as torch), and an entry
that is 0 gets gradient 0 for every p. The matrix norms are built from it and from the
reductions, except 'nuc' and 2 / -2, which need singular values: their gradient
(U V^T for 'nuc', u_1 v_1^T for 2) is exact, but it cannot be differentiated again.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from . import elementwise as _ew
from . import reduce as _reduce
from . import shape as _shape
from ._dims import normalize_dims, pick, pick_keepdim
from ..errors import op_error

_INF = math.inf


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class VectorNorm(Function):
    """(sum_i |x_i|^p)^(1/p) over dims; p = inf: max |x_i|, -inf: min |x_i|, 0: the
    number of nonzero entries"""
    op_name = "vector_norm"
    derivative = "d ||x||_p/dx_i = sign(x_i) |x_i|^(p-1) / ||x||_p^(p-1) (0 at x = 0)"

    @staticmethod
    def forward(ctx, x, ord, axis, keepdims=False):
        xp = ctx.xp
        ctx.ord, ctx.axis, ctx.keepdims = ord, axis, keepdims
        acc = backend.accumulation_dtype(x.dtype)
        a = xp.abs(x if acc is None else x.astype(acc))
        if ord == _INF or ord == -_INF:
            out = (a.max if ord > 0 else a.min)(axis=axis, keepdims=True)
            ctx.ties = a == out  # the extreme entries share the gradient
            ctx.count = ctx.ties.sum(axis=axis, keepdims=True)
        elif ord == 0:
            out = (a != 0).sum(axis=axis, keepdims=True).astype(a.dtype)
        elif ord == 1:
            out = a.sum(axis=axis, keepdims=True)
        elif ord == 2:
            out = xp.sqrt((a * a).sum(axis=axis, keepdims=True))
        else:
            out = (a ** ord).sum(axis=axis, keepdims=True) ** (1.0 / ord)
        ctx.zero_norm = out == 0
        if not keepdims:
            out = out.reshape(_reduced_shape(x.shape, axis))
        out = xp.asarray(out).astype(x.dtype, copy=False)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        xp, p = ctx.xp, ctx.ord
        if not ctx.keepdims:
            g, out = _unreduce(xp, g, ctx.axis), _unreduce(xp, out, ctx.axis)
        if p == 0:
            return xp.zeros_like(x)
        if p == 1:
            return g * xp.sign(x)
        if p == _INF or p == -_INF:
            return xp.where(ctx.ties, g * xp.sign(x) / ctx.count.astype(g.dtype), 0)
        safe = xp.where(ctx.zero_norm, 1, out)  # 0 / 0 at a zero vector: gradient 0
        if p == 2:
            return xp.where(ctx.zero_norm, 0, g * x / safe)
        nonzero = x != 0
        scaled = xp.where(nonzero, xp.abs(x), 1) / safe  # |x_i| / ||x||, never 0 ** negative
        return xp.where(nonzero & ~ctx.zero_norm, g * xp.sign(x) * scaled ** (p - 1), 0)


def _reduced_shape(shape, axis):
    if axis is None:
        return ()
    return tuple(n for d, n in enumerate(shape) if d not in axis)


def _unreduce(xp, a, axis):
    """a with the reduced dims back as size 1 (to broadcast against the input; a full
    reduction's 0-d result broadcasts as it is)."""
    return a if axis is None else xp.expand_dims(a, axis)


class SingularValueNorm(Function):
    """a norm of a matrix's singular values: 'nuc' (their sum), 2 (the largest) or -2 (the
    smallest), over the last two dims"""
    op_name = "matrix_norm"
    derivative = "d ||A||_nuc/dA = U V^T, d ||A||_2/dA = u_1 v_1^T (from A = U S V^T)"

    @staticmethod
    def forward(ctx, a, ord):
        xp = ctx.xp
        acc = backend.accumulation_dtype(a.dtype)
        u, s, vt = xp.linalg.svd(a if acc is None else a.astype(acc), full_matrices=False)
        if ord == "nuc":
            out, direction = s.sum(axis=-1), u @ vt
        else:  # the largest (2) or smallest (-2) singular value and its vectors
            k = slice(0, 1) if ord == 2 else slice(-1, None)
            out, direction = s[..., k][..., 0], u[..., :, k] @ vt[..., k, :]
        ctx.direction = direction.astype(a.dtype)
        return xp.asarray(out).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if ctx.create_graph:
            # the singular vectors' own derivatives are not implemented: refuse rather than
            # treat them as constants (the engine makes this gradient opaque)
            raise TypeError("matrix_norm with ord 'nuc', 2 or -2 is differentiable once")
        return g[..., None, None] * ctx.direction


# ---------------------------------------------------------------- the public functions
def _norm_dims(op, x, dim):
    if dim is None:
        return None
    dims = normalize_dims(dim, x.ndim, op)
    return tuple(sorted(dims)) if dims else None


def _float_input(op, x, dtype):
    """x converted to dtype (when given); as in torch, both must be floating-point."""
    if not backend.is_floating(x.dtype):
        raise op_error(TypeError, op, f"expects a floating-point tensor, got dtype {x.dtype} "
                                      f"(as torch, even with dtype=); call .float() first")
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
        if not backend.is_floating(dtype):
            raise op_error(TypeError, op, f"dtype must be a floating-point dtype, got {dtype}")
        x = x.to(dtype=dtype)
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """The p-norm of x over dim (all entries when None): (sum |x_i|^p)^(1/p), max |x_i| for
    inf, min for -inf, the number of nonzeros for 0 (torch.linalg.vector_norm)."""
    x = _tensor(x)
    dim = pick("vector_norm", dim, axis)
    keepdim = pick_keepdim("vector_norm", keepdim, keepdims)
    x = _float_input("vector_norm", x, dtype)
    if not isinstance(ord, numbers.Real) or isinstance(ord, bool):
        raise op_error(TypeError, "vector_norm", f"ord must be a number (or inf), got {ord!r}")
    dims = _norm_dims("vector_norm", x, dim)
    if x.ndim == 0:
        dims = None
    reduced = x.numel() if dims is None else math.prod(x.shape[d] for d in dims)
    if reduced == 0 and ord < 0 or (reduced == 0 and ord == _INF):
        raise op_error(IndexError, "vector_norm", f"cannot compute the {ord} norm of an empty "
                                                  "tensor (the operation has no identity)")
    return VectorNorm.apply(x, ord=float(ord), axis=dims, keepdims=keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm over the two dims `dim`: 'fro', 'nuc', 1 / -1 (max / min column sum of
    |a_ij|), inf / -inf (row sums), 2 / -2 (largest / smallest singular value)
    (torch.linalg.matrix_norm)."""
    A = _float_input("matrix_norm", _tensor(A), dtype)
    if A.ndim < 2:
        raise op_error(ValueError, "matrix_norm", f"expects at least 2 dims, got shape "
                                                  f"{A.shape}")
    dims = normalize_dims(dim, A.ndim, "matrix_norm")
    if len(dims) != 2:
        raise op_error(ValueError, "matrix_norm", f"dim must name two dims, got {dim!r}")
    d0, d1 = dims
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        moved = _shape.permute(A, [d for d in range(A.ndim) if d not in (d0, d1)] + [d0, d1])
        out = SingularValueNorm.apply(moved, ord=ord)
        if keepdim:
            for d in sorted((d0, d1)):
                out = _shape.unsqueeze(out, d)
        return out
    if ord in (1, -1, _INF, -_INF):
        # 1: the largest column sum (sum over rows d0, then max over columns d1); inf: rows
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _reduce.sum(_ew.abs(A), axis=inner, keepdims=True)
        extreme = _reduce.Max if ord > 0 else _reduce.Min  # amax/amin: ties share
        out = extreme.apply(sums, axis=outer, keepdims=True)
        return out if keepdim else _shape.squeeze(out, (d0, d1))
    raise op_error(ValueError, "matrix_norm", f"ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or "
                                              f"-inf, got {ord!r}")


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm when dim is an int (or A is 1-D), a matrix norm when
    dim is a pair (or A is 2-D and ord is given); with ord=None and dim=None the 2-norm of
    every entry."""
    A = _tensor(A)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        raise op_error(ValueError, "linalg.norm", f"with ord={ord!r} and no dim the input must "
                                                  f"be 1-D or 2-D, got shape {A.shape}")
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    if len(dims) == 1:
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if len(dims) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    raise op_error(ValueError, "linalg.norm", f"dim must be an int or a pair, got {dim!r}")


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm (the older spelling): p a number -> the vector p-norm over dim (all
    entries when None); 'fro' -> the 2-norm over dim; 'nuc' -> the nuclear norm of the
    last two dims (or the pair dim)."""
    x = _tensor(input)
    if p == "nuc":
        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise op_error(ValueError, "norm", f"p must be a number, 'fro' or 'nuc', got {p!r}")
    return vector_norm(x, p, dim, keepdim, dtype=dtype)


# ---------------------------------------------------------------- cdist
class EuclideanCdist(Function):
    """||x1_i - x2_j||_2 for all pairs, via ||a||^2 + ||b||^2 - 2 a.b (one matrix product,
    as torch does for more than 25 rows)"""
    op_name = "cdist"
    derivative = "d d_ij/dx1_i = (x1_i - x2_j) / d_ij (0 where d_ij = 0)"

    @staticmethod
    def forward(ctx, x1, x2):
        xp = ctx.xp
        acc = backend.accumulation_dtype(x1.dtype)
        a, b = (x1, x2) if acc is None else (x1.astype(acc), x2.astype(acc))
        sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :]
        d2 = sq - 2 * (a @ xp.swapaxes(b, -1, -2))
        out = xp.sqrt(xp.maximum(d2, 0)).astype(x1.dtype, copy=False)
        ctx.zero = out == 0
        ctx.save(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved
        xp = ctx.xp
        w = xp.where(ctx.zero, 0, g / xp.where(ctx.zero, 1, d))  # g_ij / d_ij
        g1 = g2 = None
        if ctx.needs_input_grad[0]:
            g1 = x1 * xp.expand_dims(w.sum(axis=-1), -1) - w @ x2
        if ctx.needs_input_grad[1]:
            g2 = x2 * xp.expand_dims(w.sum(axis=-2), -1) - xp.swapaxes(w, -1, -2) @ x1
        return g1, g2


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances ||x1_i - x2_j||_p between the rows of x1 (..., P, M) and x2 (..., R, M),
    shape (..., P, R) (torch.cdist); for p = 2 and more than 25 rows a matrix product
    computes them (compute_mode as torch)."""
    a, b = _tensor(x1), _tensor(x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise op_error(ValueError, "cdist", f"expects x1 (..., P, M) and x2 (..., R, M), got "
                                            f"shapes {a.shape} and {b.shape}")
    if p < 0:
        raise op_error(ValueError, "cdist", f"p must be >= 0, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise op_error(ValueError, "cdist", f"compute_mode must be one of {modes}")
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == modes[0] and (a.shape[-2] > 25 or b.shape[-2] > 25)))
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = _shape.broadcast_to(a, batch + a.shape[-2:])
    b = _shape.broadcast_to(b, batch + b.shape[-2:])
    if use_mm:
        return EuclideanCdist.apply(a, b)
    diff = _shape.unsqueeze(a, -2) - _shape.unsqueeze(b, -3)  # (..., P, R, M)
    return vector_norm(diff, p, -1)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim, the inputs
    broadcast (torch.cosine_similarity, torch.nn.functional.cosine_similarity)."""
    x1, x2 = _tensor(x1), _tensor(x2)
    shape = np.broadcast_shapes(x1.shape, x2.shape)  # norms of the broadcast inputs
    x1, x2 = _shape.broadcast_to(x1, shape), _shape.broadcast_to(x2, shape)
    n1 = _ew.clip(vector_norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = _ew.clip(vector_norm(x2, 2, dim, keepdim=True), min=eps)
    return _reduce.sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim, the inputs broadcast
    (torch.pairwise_distance, torch.nn.functional.pairwise_distance)."""
    return vector_norm(_tensor(x1) - x2 + eps, p, -1, keepdim=keepdim)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"norm": norm}
