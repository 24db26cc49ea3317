"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

import autodiff as ad

from .optimizer import (Optimizer, check_nonnegative, effective_grad, implementation_options,
                        new_state, scratch)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, PyTorch's formulation:

        d = g + weight_decay * theta                 (g negated when maximize)
        v = alpha * v + (1 - alpha) * d^2
        centered:  a = alpha * a + (1 - alpha) * d;  r = sqrt(v - a^2) + eps
        else:      r = sqrt(v) + eps
        momentum > 0:  b = momentum * b + d / r;  theta = theta - lr * b
        else:          theta = theta - lr * d / r
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        # torch's slots: capturable, foreach, maximize and differentiable are positional too
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=bool(centered), maximize=bool(maximize),
                        **implementation_options(self, capturable=capturable, foreach=foreach,
                                                 differentiable=differentiable))
        super().__init__(params, defaults)

    def _validate(self, group):
        check_nonnegative(self, group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _update(self, param, grad, state, group):
        xp = ad.array_module(param)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = new_state(param)
        # Created on first use, so turning momentum/centered on mid-run starts them at zero.
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = new_state(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = new_state(param)
        state["step"] += 1
        d, _ = effective_grad(param, grad, group, xp)
        v = state["square_avg"].data
        tmp = xp.multiply(d, d, out=scratch(param))
        tmp *= 1 - alpha
        v *= alpha
        v += tmp
        if group["centered"]:
            a = state["grad_avg"].data
            a *= alpha
            xp.multiply(d, 1 - alpha, out=tmp)
            a += tmp
            xp.multiply(a, a, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += group["eps"]
        xp.divide(d, tmp, out=tmp)
        if momentum > 0:
            b = state["momentum_buffer"].data
            b *= momentum
            b += tmp
            xp.multiply(b, group["lr"], out=tmp)
        else:
            tmp *= group["lr"]
        param -= tmp
