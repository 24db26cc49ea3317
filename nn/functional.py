"""nn.functional: stateless building blocks on autodiff Tensors (PyTorch's names and semantics).

Every function is composed from public autodiff ops (or is a small `ad.Function`), so the
results are differentiable to any order. Sections: activations; gates (linear and dropout
are re-exported from nn/linear.py); losses; convolution, pooling, normalisation and
embedding follow below them.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

import autodiff as ad

from .linear import dropout, linear  # noqa: F401  (defined with the layers that use them)

__all__ = [
    # activations
    "relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "gelu", "silu", "softplus",
    "softmax", "log_softmax", "softmin", "softsign", "hardtanh", "relu6", "logsigmoid", "mish", "selu",
    "celu", "hardswish", "hardsigmoid",
    # dense layers and dropout (from nn/linear.py), gates
    "linear", "dropout", "gated_skip",
    # losses
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


# =====================================================================================
# Activations
# =====================================================================================

def relu(input, inplace=False):
    """max(x, 0); relu'(0) = 0. `inplace` is accepted for PyTorch compatibility (the
    result is always a new tensor)."""
    return ad.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x (slope negative_slope at 0, as PyTorch)."""
    return ad.where(input.data > 0, input, input * negative_slope)


def prelu(input, weight):
    """x if x > 0 else a * x with a learnable slope a: one value, or one per channel
    (axis 1 of x, the channel axis of (N, C, ...) inputs)."""
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else None
        if weight.ndim != 1 or channels != n:
            raise ValueError(f"prelu: weight of shape {tuple(weight.shape)} has {n} slopes, "
                             f"which must be 1 or the number of channels (axis 1) of the input "
                             f"of shape {tuple(input.shape)}")
        weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim > input.ndim:
        weight = weight.reshape(())
    return ad.where(input.data > 0, input, weight * input)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (e^x - 1)."""
    # e^x of the clipped value: the unused branch never overflows, so no inf * 0 = NaN
    # reaches the gradient; clip passes the gradient at 0, giving elu'(0) = alpha as PyTorch.
    neg = alpha * (ad.exp(ad.clip(input, None, 0.0)) - 1.0)
    return ad.where(input.data > 0, input, neg)


def sigmoid(input):
    """1 / (1 + e^-x)"""
    return ad.sigmoid(input)


def tanh(input):
    """tanh(x)"""
    return ad.tanh(input)


_SQRT_HALF = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(input, approximate="none"):
    """x * Phi(x) = x/2 (1 + erf(x / sqrt 2)); approximate="tanh" uses
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "none":
        return 0.5 * input * (1.0 + ad.erf(input * _SQRT_HALF))
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (input + 0.044715 * (input * input * input))
        return 0.5 * input * (1.0 + ad.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return input * ad.sigmoid(input)


def _softplus_unit(z):
    """log(1 + e^z) computed as max(z, 0) + log(1 + e^-|z|): finite for any z.

    |z| is taken as where(z > 0, z, -z) rather than abs(z) so that the gradient at z = 0
    is sigmoid(0) = 1/2 (abs'(0) = 0 would give 0 there).
    """
    a = ad.where(z.data > 0, z, -z)
    return ad.relu(z) + ad.log(1.0 + ad.exp(-a))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    z = input if beta == 1 else input * beta
    out = _softplus_unit(z)
    if beta != 1:
        out = out / beta
    return ad.where(z.data > threshold, input, out)


# One op each (autodiff/ops/activations.py), so values and gradients at the kinks are
# torch's. `inplace` is accepted for PyTorch compatibility (the result is a new tensor).

def softsign(input):
    """x / (1 + |x|)"""
    return ad.softsign(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val); no gradient at the bounds (as torch)."""
    return ad.hardtanh(input, min_val, max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6); no gradient at 0 and 6 (as torch)."""
    return ad.relu6(input)


def logsigmoid(input):
    """ln(1 / (1 + e^-x)), finite for any x."""
    return ad.logsigmoid(input)


def mish(input, inplace=False):
    """x tanh(ln(1 + e^x))"""
    return ad.mish(input)


def selu(input, inplace=False):
    """scale (x if x > 0 else alpha (e^x - 1)), scale = 1.0507..., alpha = 1.6733..."""
    return ad.selu(input)


def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha (e^(x/alpha) - 1)"""
    return ad.celu(input, alpha)


def hardswish(input, inplace=False):
    """x relu6(x + 3) / 6"""
    return ad.hardswish(input)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6"""
    return ad.hardsigmoid(input)


def _softmax_axis(fname, dim, axis):
    """dim (or NumPy's alias axis); None when neither is given."""
    if dim is not None and axis is not None and axis != dim:
        raise TypeError(f"{fname}: got both axis={axis} and dim={dim}; they are aliases, "
                        "pass one")
    return axis if dim is None else dim


def _softmax_dim(fname, ndim, dim, axis, stacklevel):
    """dim (or axis); without either, torch's implicit choice: 0 for 0-, 1- and 3-D
    inputs, else 1 (deprecated in torch, with this warning)."""
    dim = _softmax_axis(fname, dim, axis)
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
        warnings.warn(f"{fname}: implicit dimension choice is deprecated (as in torch); pass "
                      f"dim= (using dim={dim})", UserWarning, stacklevel=stacklevel)
    return dim


def softmax(input, dim=None, _stacklevel=3, dtype=None, *, axis=None):
    """e^(x_i) / sum_j e^(x_j) along dim (torch.nn.functional.softmax; alias axis);
    dtype= converts first. Without a dim, torch's implicit choice with its warning."""
    dim = _softmax_dim("softmax", input.ndim, dim, axis, _stacklevel)
    return ad.softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None, *, axis=None):
    """e^(-x_i) / sum_j e^(-x_j) along dim: softmax(-x) (torch.nn.functional.softmin);
    dtype= converts first. Without a dim, torch's implicit choice with its warning."""
    dim = _softmax_dim("softmin", input.ndim, dim, axis, _stacklevel)
    return ad.softmax(-(input if dtype is None else input.to(dtype)), dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None, *, axis=None):
    """x_i - log sum_j e^(x_j) along dim (torch.nn.functional.log_softmax; alias axis);
    dtype= converts first. Without a dim, torch's implicit choice with its warning."""
    dim = _softmax_dim("log_softmax", input.ndim, dim, axis, _stacklevel)
    return ad.log_softmax(input, dim, dtype=dtype)


# =====================================================================================
# Gates (linear and dropout live with their layers in nn/linear.py, imported above)
# =====================================================================================

def gated_skip(transform, carry, gate=None):
    """The gated skip connection behind residual and highway layers:

        y = transform + carry                          (gate None: residual)
        y = gate * transform + (1 - gate) * carry      (highway; gate in [0, 1])

    The lecture's variants, written directly (sigma = ad.sigmoid, s = p + b, p = W h):
        residual      y = sigma(s) + p                  gated_skip(sigma(s), p)
        scaled skip   y = sigma(s) + W s                gated_skip(sigma(s), s @ W.T)
        highway       y = sigma(p) sigma(s) + (1 - sigma(p)) p
                                                        gated_skip(sigma(s), p, gate=sigma(p))
    """
    if tuple(transform.shape) != tuple(carry.shape):
        raise ValueError(f"gated_skip: the transform has shape {tuple(transform.shape)} but "
                         f"the carried (skip) input has shape {tuple(carry.shape)}; they are "
                         "added elementwise, so project one of them (e.g. with nn.Linear) "
                         "to the other's shape")
    if gate is None:
        return transform + carry
    return gate * transform + (1.0 - gate) * carry


# =====================================================================================
# Losses
# =====================================================================================

def _reduce(loss, reduction):
    """The mean, the sum, or loss itself ("none"); `reduction` was checked on entry."""
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def _check_reduction(reduction, fname):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


_NN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _warn_from_caller(message, category=UserWarning):
    """warnings.warn attributed to the first frame outside nn/ (the user's call, however
    deep inside nn the warning arises: a loss layer's __init__ or a functional loss)."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is our caller's frame
    while frame is not None and frame.f_code.co_filename.startswith(_NN_DIR):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


def _legacy_reduction(size_average, reduce, reduction, fname):
    """torch's deprecated size_average/reduce turned into `reduction`, by torch's rule:
    when either is given (None counts as True), reduce false -> 'none', else size_average
    false -> 'sum', else 'mean' (the `reduction` argument is then ignored), with torch's
    deprecation UserWarning; when neither is given, `reduction` checked as it is."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        # torch's exact words first, so filterwarnings(message=...) written for torch match
        _warn_from_caller(f"size_average and reduce args will be deprecated, please use "
                          f"reduction='{reduction}' instead. ({fname})")
    _check_reduction(reduction, fname)
    return reduction


def _check_delta(delta, fname):
    if not delta > 0:
        raise ValueError(f"{fname}: delta must be positive, got {delta!r}")


def _check_label_smoothing(label_smoothing, fname):
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fname}: label_smoothing must lie in [0, 1], got "
                         f"{label_smoothing!r}")


def _as_target(target, like, fname):
    """The target as a Tensor of the input's dtype and device with the input's shape."""
    if not isinstance(target, ad.Tensor):
        if target is None or isinstance(target, (str, bytes, dict, set)):
            raise TypeError(f"{fname}: target must be a Tensor or an array of numbers, got "
                            f"{type(target).__name__}")
        target = ad.tensor(target, dtype=like.dtype, device=like.device)
    elif target.dtype != like.dtype:
        target = target.to(dtype=like.dtype)
    if tuple(target.shape) != tuple(like.shape):
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} differs from input "
                         f"shape {tuple(like.shape)}; they must be equal (reshape the target, "
                         "e.g. (N,) -> (N, 1), instead of relying on broadcasting)")
    return target


def _const(value, like):
    """An array constant (weight) on the input's device in the input's dtype, or None."""
    if value is None:
        return None
    arr = value.data if isinstance(value, ad.Tensor) else value
    xp = ad.array_module(like.data)
    return xp.asarray(arr).astype(like.dtype)


def _pointwise_weight(weight, input, fname):
    """The per-element weight of mse/l1/huber_loss: a Tensor (gradients flow into it, as in
    torch) or an array constant, of exactly the input's shape (else ValueError)."""
    if weight is None:
        return None
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{fname}: weight of shape {tuple(weight.shape)} must have the "
                         f"input's shape {tuple(input.shape)} (one weight per element)")
    return weight if isinstance(weight, ad.Tensor) else _const(weight, input)


def _reduce_weighted(loss, weight, reduction):
    """weight * loss reduced; with a weight the mean is sum(w l) / sum(w) (torch's weighted
    mean of mse_loss and l1_loss)."""
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * weight
    if reduction != "mean":
        return _reduce(loss, reduction)
    return loss.sum() / weight.sum()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """w (input - target)^2, reduced; with a weight w (the input's shape) the mean is
    sum(w d^2) / sum(w). size_average/reduce: torch's deprecated spelling of reduction."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "mse_loss")
    d = input - _as_target(target, input, "mse_loss")
    return _reduce_weighted(d * d, _pointwise_weight(weight, input, "mse_loss"), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """w |input - target|, reduced; with a weight w (the input's shape) the mean is
    sum(w |d|) / sum(w). size_average/reduce: torch's deprecated spelling of reduction."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "l1_loss")
    d = ad.abs(input - _as_target(target, input, "l1_loss"))
    return _reduce_weighted(d, _pointwise_weight(weight, input, "l1_loss"), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """w * (d^2 / 2 where |d| < delta, else delta (|d| - delta / 2)), d = input - target;
    a weight w (the input's shape) multiplies each element and the mean stays the plain
    mean over the elements (torch's rule for huber_loss, unlike mse_loss/l1_loss)."""
    _check_reduction(reduction, "huber_loss")
    _check_delta(delta, "huber_loss")
    d = input - _as_target(target, input, "huber_loss")
    a = ad.abs(d)
    loss = ad.where(a.data < delta, 0.5 * (d * d), delta * (a - 0.5 * delta))
    w = _pointwise_weight(weight, input, "huber_loss")
    return _reduce(loss if w is None else loss * w, reduction)


# ---------------------------------------------------------------- class-index losses

def _class_layout(input, target, fname):
    """Rows of scores (M, C) and class indices (M,) from (C,)/(N, C)/(N, C, d1, ...) input
    with ()/(N,)/(N, d1, ...) integer target; also the shape of the unreduced loss."""
    t = target.data if isinstance(target, ad.Tensor) else target
    xp = ad.array_module(input.data)
    t = xp.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fname}: class-index targets must be integers, got dtype {t.dtype}"
                        + (" (floating targets of the input's shape are read as class "
                           "probabilities by cross_entropy only)" if fname == "nll_loss" else ""))
    if input.ndim == 0:
        raise ValueError(f"{fname}: input must have a class axis, got a 0-d tensor")
    if input.ndim == 1:
        expected = ()
    else:
        expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{fname}: input of shape {tuple(input.shape)} (classes on axis "
                         f"{0 if input.ndim == 1 else 1}) needs a target of shape {expected}, "
                         f"got {tuple(t.shape)}")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if input.ndim == 1:
        rows = input.reshape(1, c)
    elif input.ndim == 2:
        rows = input
    else:  # move the class axis last, then flatten the rest into rows
        axes = (0,) + tuple(range(2, input.ndim)) + (1,)
        rows = input.permute(*axes).reshape(-1, c)
    return rows, t.reshape(-1).astype(np.int64, copy=False), expected, c


def _class_weights(t, c, weight, ignore_index, like, fname):
    """(safe indices, per-row weight array or None, ignored-row mask or None).

    The per-row weight is weight[t] (or 1) with 0 at ignored rows; None when no weight is
    given and no row is ignored, so the plain mean applies. Safe indices replace ignored
    targets by 0 so they can be gathered (their rows are then zeroed by the weight)."""
    xp = ad.array_module(t)
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= c))
    if bool(bad.any()):
        value = int(t[bad][0])
        raise IndexError(f"{fname}: target {value} is out of bounds for {c} classes; class "
                         f"indices must lie in [0, {c}) or equal ignore_index={ignore_index}")
    any_ignored = bool(ignored.any())
    safe = xp.where(ignored, 0, t) if any_ignored else t
    if weight is None and not any_ignored:
        return safe, None, None
    if weight is not None:
        w = _const(weight, like)
        if w.shape != (c,):
            raise ValueError(f"{fname}: weight must have one entry per class, shape ({c},), "
                             f"got {tuple(w.shape)}")
        per_row = w[safe]
    else:
        per_row = xp.ones(t.shape, dtype=like.dtype)
    if any_ignored:
        per_row = xp.where(ignored, 0, per_row).astype(like.dtype)
    return safe, per_row, (ignored if any_ignored else None)


def _reduce_rows(rows_loss, per_row, reduction, shape):
    """Reduce per-row losses that are already multiplied by their weights: the mean divides
    by the total weight of the rows that count (PyTorch's weighted mean)."""
    if reduction == "none":
        return rows_loss.reshape(shape)
    if reduction == "sum":
        return rows_loss.sum()
    if per_row is None:
        return rows_loss.mean()
    total = per_row.sum()
    if not bool(total != 0):
        # every target ignored (or zero weight): the mean is 0/0 = nan, but the gradient
        # is 0, not nan, as in PyTorch: nothing in this batch should move the weights
        return rows_loss.sum() * 0.0 + float("nan")
    return rows_loss.sum() / total


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-weight[t] * input[n, t] for log-probabilities input (N, C) or (N, C, d1, ...) and
    class indices t; rows with t = ignore_index count for nothing. size_average/reduce:
    torch's deprecated spelling of reduction."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "nll_loss")
    rows, t, shape, c = _class_layout(input, target, "nll_loss")
    safe, per_row, _ = _class_weights(t, c, weight, ignore_index, input, "nll_loss")
    xp = ad.array_module(safe)
    loss = -rows[xp.arange(safe.shape[0]), safe]
    if per_row is not None:
        loss = loss * per_row
    return _reduce_rows(loss, per_row, reduction, shape)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits: -log softmax(input)[t] for class indices t
    ((N,) or (N, d1, ...) with input (N, C) or (N, C, d1, ...)), or
    -sum_c p_c log softmax(input)_c for class probabilities p of the input's shape.

    label_smoothing=eps mixes the target with the uniform distribution:
    (1 - eps) * target + eps / C. `weight` rescales each class; with class indices the mean
    divides by the total weight of the non-ignored targets (as PyTorch). size_average/reduce:
    torch's deprecated spelling of reduction."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    _check_label_smoothing(label_smoothing, "cross_entropy")
    t_dtype = target.dtype if hasattr(target, "dtype") else np.asarray(target).dtype
    if t_dtype.kind == "f" or t_dtype == ad.bfloat16:
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction,
                                    label_smoothing)
    rows, t, shape, c = _class_layout(input, target, "cross_entropy")
    safe, per_row, ignored = _class_weights(t, c, weight, ignore_index, input, "cross_entropy")
    loss = ad.softmax_cross_entropy(rows, safe)  # fused and stable for any logit size
    if per_row is not None:
        loss = loss * per_row
    if label_smoothing > 0:
        eps = label_smoothing
        # uniform part: -sum_c w_c log p_c per row (PyTorch's form; no weight[t] factor)
        logp = ad.log_softmax(rows, axis=1)
        smooth = logp if weight is None else logp * _const(weight, input)
        smooth = -smooth.sum(axis=1)
        if ignored is not None:
            smooth = smooth * (~ignored).astype(input.dtype)
        loss = (1.0 - eps) * loss + (eps / c) * smooth
    return _reduce_rows(loss, per_row, reduction, shape)


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing):
    fname = "cross_entropy"
    if ignore_index >= 0:
        raise ValueError(f"{fname}: ignore_index={ignore_index} applies to class-index "
                         "targets; probability targets cannot ignore entries (set those "
                         "rows' probabilities instead)")
    if input.ndim == 0:
        raise ValueError(f"{fname}: input must have a class axis, got a 0-d tensor")
    p = _as_target(target, input, fname + " (probability targets)")
    axis = 0 if input.ndim == 1 else 1
    c = input.shape[axis]
    if label_smoothing > 0:
        p = p * (1.0 - label_smoothing) + label_smoothing / c
    logp = ad.log_softmax(input, axis=axis)
    terms = logp * p
    if weight is not None:
        w = _const(weight, input)
        if w.shape != (c,):
            raise ValueError(f"{fname}: weight must have one entry per class, shape ({c},), "
                             f"got {tuple(w.shape)}")
        terms = terms * w.reshape((c,) + (1,) * (input.ndim - axis - 1))
    # the mean is over the samples (all entries but the class axis), weight or not
    return _reduce(-terms.sum(axis=axis), reduction)


# ---------------------------------------------------------------- binary losses

_BCE_EPS = float(np.float32(1e-12))  # PyTorch's constant is a C float: the same rounding


class _BinaryCrossEntropy(ad.Function):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped at -100 (as PyTorch)"""
    op_name = "binary_cross_entropy"
    derivative = "d bce/dx = (x - t) / max(x (1 - x), 1e-12)"

    @staticmethod
    def forward(ctx, x, t):
        xp = ctx.xp
        log_x, log_1mx = _clamped_logs(xp, x)
        ctx.save(x, t)
        loss = -(t * log_x + (1 - t) * log_1mx)
        return loss.astype(x.dtype, copy=False)  # bfloat16 logs come back as float32

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved
        xp = ctx.xp
        gx = gt = None
        if ctx.needs_input_grad[0]:
            # PyTorch's rule: the clamp keeps the gradient finite at x = 0 and x = 1
            gx = g * (x - t) / xp.maximum(x * (1 - x), _BCE_EPS)
        if ctx.needs_input_grad[1]:
            log_x, log_1mx = _clamped_logs(xp, x)
            gt = g * (log_1mx - log_x)
        return gx, gt


def _clamped_logs(xp, x):
    """max(log x, -100) and max(log(1 - x), -100), without log(0) warnings."""
    with np.errstate(divide="ignore"):
        return xp.maximum(xp.log(x), -100.0), xp.maximum(xp.log(1 - x), -100.0)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1]; the logs are clamped
    at -100 so the loss stays finite at x = 0 or 1. size_average/reduce: torch's deprecated
    spelling of reduction."""
    fname = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction, fname)
    target = _as_target(target, input, fname)
    data = input.data
    if data.size and bool(((data < 0) | (data > 1)).any()):
        raise ValueError(f"{fname}: input must be probabilities in [0, 1] (apply sigmoid "
                         "first, or use binary_cross_entropy_with_logits on raw scores); got "
                         f"values in [{float(data.min())}, {float(data.max())}]")
    loss = _BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _const(weight, input)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(x), t) computed stably from the logits x:
    (1 - t) x + (1 + (pos_weight - 1) t) log(1 + e^-x), times weight. size_average/reduce:
    torch's deprecated spelling of reduction."""
    fname = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction, fname)
    target = _as_target(target, input, fname)
    softplus_neg = _softplus_unit(-input)  # log(1 + e^-x), finite for any x
    if pos_weight is not None:
        pw_minus_1 = (_broadcast_const(pos_weight, input, fname, "pos_weight") - 1)
        softplus_neg = softplus_neg * (target * pw_minus_1.astype(input.dtype) + 1.0)
    loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * _broadcast_const(weight, input, fname, "weight")
    return _reduce(loss, reduction)


def _broadcast_const(value, like, fname, name):
    """_const(value, like), which must broadcast to like's shape (ValueError naming it)."""
    arr = _const(value, like)
    try:
        fits = np.broadcast_shapes(arr.shape, like.shape) == tuple(like.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{fname}: {name} of shape {tuple(arr.shape)} does not broadcast to "
                         f"the input's shape {tuple(like.shape)} (e.g. give one value per "
                         "class along the last dim)")
    return arr


# =====================================================================================
# Convolution, pooling, normalisation, embedding (defined with their layers; re-exported)
# =====================================================================================

from .conv import avg_pool2d, conv2d, max_pool2d  # noqa: E402
from .conv1d import conv1d  # noqa: E402
from .embedding import embedding  # noqa: E402
from .normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: E402

__all__ += ["conv1d", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "layer_norm",
            "group_norm", "instance_norm", "embedding"]

# Structural helpers of issue 13: normalising and comparing vectors, torch-order padding,
# unfold, one_hot (int64).
from .distance import cosine_similarity, normalize, pairwise_distance  # noqa: E402
from .padding import pad, unfold  # noqa: E402


def one_hot(tensor, num_classes=-1, *, dtype=None):
    """Integer class indices -> one-hot rows, int64 (torch.nn.functional.one_hot, whose first
    parameter is named `tensor`); num_classes=-1 means max + 1; dtype= (not in torch) picks
    another dtype."""
    return ad.one_hot(tensor, num_classes, dtype=dtype)


__all__ += ["normalize", "cosine_similarity", "pairwise_distance", "pad", "unfold", "one_hot"]
