"""Stochastic gradient descent with optional (Nesterov) momentum, dampening and weight decay."""
from __future__ import annotations

import autodiff as ad

from .optimizer import (Optimizer, check, check_nonnegative, effective_grad,
                        implementation_options)

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD, PyTorch's formulation:

        d = g + weight_decay * theta                       (g negated when maximize)
        b = d on the first step, else momentum * b + (1 - dampening) * d
        d = d + momentum * b if nesterov else b            (when momentum != 0)
        theta = theta - lr * d

    The two momentum forms courses teach, with constant learning rate alpha:
      * velocity  rho <- mu rho - alpha g;  theta <- theta + rho   (rho_0 = 0)
        is exactly SGD(lr=alpha, momentum=mu): rho_t = -alpha b_t.
      * moving average  m <- beta m + (1 - beta) g;  theta <- theta - alpha m   (m_0 = 0)
        is exactly SGD(lr=alpha * (1 - beta), momentum=beta): m_t = (1 - beta) b_t.
        SGD(lr=alpha, momentum=beta, dampening=beta) is the same average started from
        m_0 = g_1 instead of 0 (b_1 = g_1), i.e. it differs by beta^t g_1 and lacks the
        cold-start shrinkage.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov),
                        maximize=bool(maximize),
                        **implementation_options(self, foreach=foreach, differentiable=differentiable,
                                                 fused=fused))
        super().__init__(params, defaults)

    def _validate(self, group):
        check_nonnegative(self, group, "lr", "momentum", "weight_decay")
        check(self, "dampening", group["dampening"], lambda v: 0 <= v <= 1,
              "it must be in [0, 1]")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True requires momentum > 0 and dampening = 0 "
                             f"(got momentum={group['momentum']}, "
                             f"dampening={group['dampening']})")

    def _update(self, param, grad, state, group):
        """The update of the class docstring, in place. `fresh` says whether `d` is an array
        of our own (overwritten to save an allocation) or the gradient or the buffer."""
        xp = ad.array_module(param)
        mu, tau, nesterov = group["momentum"], group["dampening"], group["nesterov"]
        d, fresh = effective_grad(param, grad, group, xp)       # d = g + weight_decay * theta
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:                                     # b = d on the first step
                buf = ad.tensor(d if fresh and not nesterov else d.copy())
                state["momentum_buffer"] = buf
            else:                                               # b = mu b + (1 - tau) d
                buf.data *= mu
                buf.data += _times(xp, d, 1 - tau, fresh)
            if nesterov:                                        # d = d + mu b
                step = xp.multiply(buf.data, mu)
                d = xp.add(d, step, out=d if fresh else step)
                fresh = True
            else:                                               # d = b
                d, fresh = buf.data, False
        param -= _times(xp, d, group["lr"], fresh)              # theta = theta - lr d


def _times(xp, a, s, fresh):
    """a * s, written into a when it is fresh (ours to overwrite), else a new array."""
    if s == 1:
        return a
    return xp.multiply(a, s, out=a if fresh else None)
