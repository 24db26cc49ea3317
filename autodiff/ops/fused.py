"""Fused kernels for hot nn paths: one graph node instead of a chain of small ones."""
from __future__ import annotations

from .. import backend
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from . import reduce as _reduce


class SoftmaxCrossEntropy(Function):
    """loss_n = logsumexp(x_n) - x_n[t_n] for logits x (N, C) and class indices t (N,)"""
    derivative = "d loss_n/dx_nc = softmax(x_n)_c - [c = t_n]"
    op_name = "softmax_cross_entropy"

    @staticmethod
    def forward(ctx, logits, targets):
        xp = ctx.xp
        acc = backend.accumulation_dtype(logits.dtype)
        work = logits.astype(acc) if acc is not None else logits
        rows = xp.arange(logits.shape[0])
        shift = work.max(axis=1, keepdims=True)
        lse = xp.log(xp.exp(work - shift).sum(axis=1, keepdims=True)) + shift
        try:
            picked = work[rows, targets]
        except IndexError:
            raise op_error(ValueError, "softmax_cross_entropy",
                           f"class indices must lie in [0, "
                           f"{logits.shape[1]}), got a larger one") from None
        loss = lse[:, 0] - picked
        ctx.rows, ctx.targets = rows, targets
        ctx.save(logits, lse.astype(logits.dtype, copy=False))
        return loss.astype(logits.dtype) if acc is not None else loss

    @staticmethod
    def backward(ctx, g):
        logits, lse = ctx.saved
        if ctx.create_graph:
            # lse depends on the logits: recompute it through ops so it stays differentiable.
            p = _reduce.softmax(logits, axis=1)
            onehot = ctx.xp.zeros_like(p)
            onehot.data[ctx.rows, ctx.targets] = 1
            return (p - onehot) * g.reshape((-1, 1)), None
        p = ctx.xp.exp(logits - lse)
        p[ctx.rows, ctx.targets] -= 1
        p *= g.reshape((-1, 1))
        return p, None


def softmax_cross_entropy(logits, targets):
    """Per-sample cross-entropy of logits (N, C) against class indices (N,), fused and
    stable for any logit magnitude: logsumexp(x_n) - x_n[t_n]."""
    t = targets.data if isinstance(targets, Tensor) else targets
    shape = logits.shape
    if len(shape) != 2:
        raise op_error(ValueError, "softmax_cross_entropy",
                       f"logits must be (N, C), got shape {shape}")
    if t.ndim != 1 or t.shape[0] != shape[0] or t.dtype.kind not in "iu":
        raise op_error(ValueError, "softmax_cross_entropy",
                       f"targets must be N={shape[0]} integer "
                       f"class indices, got shape {tuple(t.shape)} dtype {t.dtype}")
    if t.size and t.min() < 0:  # larger-than-C indices are caught by the indexing itself
        raise op_error(ValueError, "softmax_cross_entropy",
                       f"class indices must lie in [0, "
                       f"{logits.shape[1]}), got {int(t.min())}")
    return SoftmaxCrossEntropy.apply(logits, t)
