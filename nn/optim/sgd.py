"""Stochastic gradient descent with optional (Nesterov) momentum, dampening and weight decay."""
from __future__ import annotations

import autodiff as ad

from .optimizer import Optimizer, check, check_nonnegative, effective_grad

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
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov),
                        maximize=bool(maximize))
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
        xp = ad.array_module(param)
        lr, momentum = group["lr"], group["momentum"]
        d, owned = effective_grad(param, grad, group, xp)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The buffer starts as the gradient itself (no dampening on step one).
                buf = d if owned and not group["nesterov"] else d.copy()
                state["momentum_buffer"] = ad.tensor(buf)
            else:
                buf = buf.data
                buf *= momentum
                dampening = group["dampening"]
                if dampening == 0:
                    buf += d
                elif owned:
                    d *= 1 - dampening
                    buf += d
                else:
                    buf += d * (1 - dampening)
            if group["nesterov"]:
                if owned:
                    d += momentum * buf
                else:
                    d = xp.multiply(buf, momentum)
                    d += grad
                    owned = True
            else:
                d, owned = buf, False
        if owned:
            d *= lr
            param -= d
        else:
            param -= xp.multiply(d, lr)
