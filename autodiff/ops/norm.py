"""Batch normalisation as one fused op with the closed-form backward of the Batch
Normalization paper (Ioffe & Szegedy, 2015), instead of a chain of small ops.

Per channel c (axis 1), over the M = N * (spatial size) values of that channel:
    mean = sum(x)/M,  var = sum((x - mean)^2)/M (biased),  xhat = (x - mean)/sqrt(var + eps)
    y = gamma * xhat + beta
    dL/dx = gamma/sqrt(var + eps) * (g - sum(g)/M - xhat * sum(g * xhat)/M)
    dL/dgamma = sum(g * xhat),  dL/dbeta = sum(g)
Half-precision inputs are normalised in float32 and the output is cast back.
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from .._inplace import mark_modified
from ..errors import op_error
from ..function import Function
from ..tensor import Tensor
from ._precision import work as _work

__all__ = ["batch_norm"]


def _channel_shape(ndim, c):
    return (1, c) + (1,) * (ndim - 2)


class BatchNorm(Function):
    """y = gamma * (x - mean)/sqrt(var + eps) + beta, batch statistics per channel (axis 1)"""
    derivative = ("dy/dx = gamma/sqrt(var+eps) * (g - mean(g) - xhat*mean(g*xhat)), "
                  "dy/dgamma = sum(g*xhat), dy/dbeta = sum(g)")
    op_name = "batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, eps, stats):
        acc = backend.accumulation_dtype(x.dtype)
        axes = (0,) + tuple(range(2, x.ndim))
        cshape = _channel_shape(x.ndim, x.shape[1])
        xf = _work(x, acc)
        mean = xf.mean(axis=axes, keepdims=True)
        xhat = xf - mean
        var = (xhat * xhat).mean(axis=axes, keepdims=True)
        inv_std = 1 / ctx.xp.sqrt(var + eps)
        xhat *= inv_std
        if weight is not None:
            y = xhat * _work(weight, acc).reshape(cshape)
        else:
            y = xhat.copy()
        if bias is not None:
            y += _work(bias, acc).reshape(cshape)
        ctx.axes, ctx.cshape, ctx.eps = axes, cshape, eps
        ctx.save(x, weight, xhat, inv_std)
        if stats is not None:  # hand the batch statistics to batch_norm (running stats)
            stats.extend((mean.reshape(-1), var.reshape(-1)))
        return y.astype(x.dtype) if acc is not None else y

    @staticmethod
    def backward(ctx, g):
        x, weight, xhat, inv_std = ctx.saved
        axes, cshape = ctx.axes, ctx.cshape
        need = ctx.needs_input_grad
        xp = ctx.xp
        if ctx.create_graph:
            # Recompute the statistics from x with recorded ops, so that the gradient stays
            # a differentiable function of x (double backward).
            mean = xp.mean(x, axis=axes, keepdims=True)
            xc = x - mean
            inv_std = 1 / xp.sqrt(xp.mean(xc * xc, axis=axes, keepdims=True) + ctx.eps)
            xhat = xc * inv_std
            gf = g
        else:
            gf = _work(g, xhat.dtype)
        g_sum = xp.sum(gf, axis=axes, keepdims=True)
        gx_sum = xp.sum(gf * xhat, axis=axes, keepdims=True)
        gx = gw = gb = None
        if need[0]:
            count = math.prod(x.shape) // x.shape[1]  # x is a Tensor under create_graph
            scale = inv_std if weight is None else inv_std * weight.reshape(cshape)
            gx = scale * (gf - g_sum * (1.0 / count) - xhat * (gx_sum * (1.0 / count)))
        if need[1]:
            gw = gx_sum.reshape((-1,))
        if need[2]:
            gb = g_sum.reshape((-1,))
        return gx, gw, gb


def _check_vector(name, v, c, shape):
    if v is not None and tuple(v.shape) != (c,):
        raise op_error(ValueError, "batch_norm",
                       f"{name} must have shape ({c},) for an input of shape "
                       f"{shape} (one value per channel, axis 1), got {tuple(v.shape)}")


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training=False, momentum=0.1, eps=1e-5, return_stats=False):
    """Batch normalisation over every axis but the channel axis 1, as
    torch.nn.functional.batch_norm: y = weight * (x - mean)/sqrt(var + eps) + bias.

    x is (N, C), (N, C, L), (N, C, H, W), ... . In training mode mean and var are the batch
    mean and biased variance (one fused op with the paper's closed-form backward); when
    running_mean/running_var are given they are updated in place (no gradient) with
    PyTorch's convention: r = (1 - momentum) * r + momentum * batch_stat, the variance
    entering unbiased (times M/(M-1), M = values per channel). Outside training the running
    statistics are used and y is a plain per-channel affine transform of x.

    return_stats=True returns (y, batch_mean, batch_var) in training mode: detached
    per-channel Tensors (biased variance) for callers that keep their own running
    statistics (in eval mode they are the running statistics given).
    """
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise op_error(ValueError, "batch_norm",
                       f"input must have a batch and a channel axis (N, C, ...), "
                       f"got shape {shape}")
    if not backend.is_floating(x.dtype):
        raise op_error(TypeError, "batch_norm",
                       f"input must be floating point, got dtype {x.dtype}")
    c = shape[1]
    for name, v in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_vector(name, v, c, shape)
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and v.dtype != x.dtype and not (
                backend.is_half(x.dtype) and v.dtype == backend.float32):
            raise op_error(TypeError, "batch_norm",
                           f"{name} has dtype {v.dtype} but the input has "
                           f"{x.dtype}; convert one with .to(dtype=...) (half inputs may "
                           "use float32 parameters)")
    if (running_mean is None) != (running_var is None):
        raise op_error(ValueError, "batch_norm",
                       "give both running_mean and running_var, or neither")
    if not isinstance(eps, numbers.Real) or eps <= 0:
        raise op_error(ValueError, "batch_norm", f"eps must be a positive number, got {eps!r}")
    if training:
        count = math.prod(shape[:1] + shape[2:])  # values per channel
        if count <= 1:
            raise op_error(ValueError, "batch_norm",
                           f"expected more than 1 value per channel when "
                           f"training, got input shape {shape}; use a larger batch or "
                           "eval mode")
        stats = []
        y = BatchNorm.apply(x, weight, bias, eps=float(eps), stats=stats)
        mean, var = stats
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * (count / (count - 1)), momentum)
        if return_stats:
            return y, Tensor._make(mean.astype(y.dtype), None, False), \
                Tensor._make(var.astype(y.dtype), None, False)
        return y
    if running_mean is None:
        raise op_error(ValueError, "batch_norm",
                       "running_mean and running_var are required when "
                       "training=False (or normalise with batch statistics: training=True)")
    y = _affine_eval(x, running_mean, running_var, weight, bias, eps)
    if return_stats:
        return y, _detached(running_mean), _detached(running_var)
    return y


def _detached(t):
    return t.detach() if isinstance(t, Tensor) else Tensor._make(t, None, False)


def _update_running(target, stat, momentum):
    """target = (1 - momentum) * target + momentum * stat, in place and untracked."""
    data = target.data if isinstance(target, Tensor) else target
    data *= 1 - momentum
    data += (momentum * stat).astype(data.dtype)
    if isinstance(target, Tensor):
        mark_modified(target)


def _affine_eval(x, running_mean, running_var, weight, bias, eps):
    """y = x * scale + shift per channel, scale = weight/sqrt(running_var + eps),
    shift = bias - running_mean * scale (composed from ops: gradients reach x, weight, bias)."""
    from . import elementwise as _ew
    cshape = _channel_shape(len(x.shape), x.shape[1])
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    acc = backend.accumulation_dtype(x.dtype) or rv.dtype
    inv_std = (1 / backend.array_module(rv).sqrt(rv.astype(acc) + eps))
    inv_std_t = Tensor._make(inv_std.astype(x.dtype), None, False)
    scale = inv_std_t if weight is None else _ew.mul(weight, inv_std_t)
    shift_const = Tensor._make((-rm.astype(acc) * inv_std).astype(x.dtype), None, False)
    if weight is None:
        shift = shift_const
    else:
        shift = _ew.mul(weight, shift_const)
    if bias is not None:
        shift = _ew.add(shift, bias)
    if scale.dtype != x.dtype:  # float32 parameters with a half input: output stays half
        scale, shift = scale.to(dtype=x.dtype), shift.to(dtype=x.dtype)
    return _ew.add(_ew.mul(x, scale.reshape(cshape)), shift.reshape(cshape))
