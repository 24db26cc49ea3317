"""Gradient clipping: clip_grad_norm_, clip_grad_value_ (torch.nn.utils names)."""
from __future__ import annotations

import math
import numbers

import autodiff as ad

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, ad.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(x, norm_type):
    """||x||_p of an array as a Python float (p = inf: max |x|; p = 0: count of non-zeros)."""
    if x.size == 0:
        return 0.0
    if norm_type == math.inf:
        return float(abs(x).max())
    if norm_type == 0:
        return float((x != 0).sum())
    if norm_type == 2:
        flat = x.reshape(-1)
        return math.sqrt(float(flat @ flat))
    if norm_type == 1:
        return float(abs(x).sum())
    return float((abs(x) ** norm_type).sum()) ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients by min(1, max_norm / (total + 1e-6)), total = ||(||g_i||_p)_i||_p
    (the p-norm of all gradients concatenated); returns total as a 0-d Tensor.

    Each gradient Tensor gets a new, scaled buffer instead of being written in place: a
    gradient array may be shared with the caller (e.g. the array given to backward).
    """
    norm_type = float(norm_type)
    if not (norm_type == math.inf or norm_type >= 0):
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 0 or inf, got {norm_type}")
    if not isinstance(max_norm, numbers.Real) or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    grads = _grads(parameters)
    if not grads:
        return ad.tensor(0.0)
    norms = [_norm(g.data, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    elif norm_type == 0:
        total = float(sum(norms))
    else:
        total = sum(n ** norm_type for n in norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}, so they cannot be clipped; find the "
                           "non-finite gradient (ad.detect_anomaly helps) or pass "
                           "error_if_nonfinite=False to scale by it anyway")
    coef = max_norm / (total + 1e-6)
    # NaN propagates into the gradients (as PyTorch does) rather than being hidden.
    if math.isnan(coef) or coef < 1.0:
        for g in grads:
            g.data = _same_dtype(g.data * coef, g.data)
    return ad.tensor(total, dtype=grads[0].dtype, device=grads[0].device)


def _same_dtype(new, old):
    # bfloat16 (ml_dtypes) arrays combined with a Python float come back as float32
    return new if new.dtype == old.dtype else new.astype(old.dtype)


def clip_grad_value_(parameters, clip_value) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] (new buffers, as above)."""
    if not isinstance(clip_value, numbers.Real) or not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0, got "
                         f"{clip_value!r}")
    c = float(clip_value)
    for g in _grads(parameters):
        g.data = _same_dtype(g.data.clip(-c, c), g.data)

