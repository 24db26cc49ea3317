"""Adagrad: per-coordinate step sizes shrinking with the accumulated squared gradient."""
from __future__ import annotations

import autodiff as ad

from .optimizer import (Optimizer, check_nonnegative, effective_grad, implementation_options,
                        new_state, scratch)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, PyTorch's formulation (t counts steps from 1):

        d = g + weight_decay * theta                 (g negated when maximize)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + d^2                                  (s_0 = initial_accumulator_value)
        theta = theta - clr * d / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=bool(maximize),
                        **implementation_options(self, foreach=foreach, differentiable=differentiable,
                                                 fused=fused))
        super().__init__(params, defaults)

    def _validate(self, group):
        check_nonnegative(self, group, "lr", "lr_decay", "weight_decay",
                          "initial_accumulator_value", "eps")

    def _update(self, param, grad, state, group):
        xp = ad.array_module(param)
        if not state:
            state["step"] = 0
            state["sum"] = new_state(param, group["initial_accumulator_value"])
        state["step"] += 1
        d, owned = effective_grad(param, grad, group, xp)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"].data
        tmp = xp.multiply(d, d, out=scratch(param))
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += group["eps"]
        xp.divide(d, tmp, out=tmp)
        tmp *= clr
        param -= tmp
