"""Adam (bias-corrected moment estimates, optional AMSGrad) and AdamW (decoupled decay)."""
from __future__ import annotations

import math

import autodiff as ad

from .optimizer import (Optimizer, check, check_nonnegative, effective_grad,
                        implementation_options, new_state, scratch)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, PyTorch's formulation (t counts steps from 1):

        d = g + weight_decay * theta                 (L2 penalty; g negated when maximize)
                                                     (decoupled_weight_decay: AdamW's rule,
                                                      theta *= 1 - lr * weight_decay, d = g)
        m = beta1 * m + (1 - beta1) * d
        v = beta2 * v + (1 - beta2) * d^2
        vmax = max(vmax, v) and use vmax for v       (amsgrad)
        theta = theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=bool(amsgrad), maximize=bool(maximize),
                        **implementation_options(self, foreach=foreach, capturable=capturable,
                                                 differentiable=differentiable, fused=fused),
                        decoupled_weight_decay=bool(decoupled_weight_decay))
        super().__init__(params, defaults)

    def _validate(self, group):
        check_nonnegative(self, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), "
                             f"got {betas!r}")
        for i, b in enumerate(betas):
            check(self, f"betas[{i}]", b, lambda v: 0 <= v < 1,
                  "each beta must be in [0, 1), e.g. betas=(0.9, 0.999)")
        group["betas"] = tuple(betas)

    def _update(self, param, grad, state, group):
        xp = ad.array_module(param)
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = new_state(param)
            state["exp_avg_sq"] = new_state(param)
        state["step"] += 1
        t = state["step"]
        if group["decoupled_weight_decay"]:
            if wd != 0:
                param *= 1 - lr * wd
            d, owned = effective_grad(param, grad, {"maximize": group["maximize"]}, xp)
        else:
            d, owned = effective_grad(param, grad, group, xp)
        m, v = state["exp_avg"].data, state["exp_avg_sq"].data
        tmp = xp.multiply(d, 1 - beta1, out=scratch(param))
        m *= beta1
        m += tmp
        xp.multiply(d, d, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = new_state(param)
            vmax = state["max_exp_avg_sq"].data
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = lr / (1 - beta1 ** t)
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2 ** t)
        tmp += group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        param -= tmp


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, theta = theta * (1 - lr * weight_decay) before
    the Adam step (no L2 term in the moments); the same as Adam(decoupled_weight_decay=True)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
