"""A user's own op, layer and optimizer, as a course project would write them; the tests
in test_mylib.py check them with ad.testing (run: pytest examples/testing)."""
import autodiff as ad
import nn
from nn import optim


class SoftShrink(ad.Function):
    """y = sign(x) * max(|x| - 1, 0): zero on [-1, 1], x -/+ 1 outside."""
    derivative = "dy/dx = 1 where |x| > 1, else 0"
    kinks = (-1.0, 1.0)  # where it is not differentiable: ad.testing keeps inputs away

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save(x)
        return xp.sign(x) * xp.maximum(xp.abs(x) - 1, 0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (abs(x) > 1)


class GatedLinear(nn.Module):
    """y = (x W_v^T + b_v) * sigmoid(x W_g^T + b_g), a gated linear unit."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.value = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.value(x) * ad.sigmoid(self.gate(x))


class Signum(optim.Optimizer):
    """signSGD with momentum: m = beta m + (1 - beta) g; theta = theta - lr sign(m)."""

    def __init__(self, params, lr=1e-3, beta=0.9):
        super().__init__(params, dict(lr=lr, beta=beta))

    def _update(self, param, grad, state, group):
        xp = ad.array_module(param)
        if "momentum" not in state:
            state["momentum"] = ad.tensor(xp.zeros_like(param))
        m = state["momentum"].data
        m *= group["beta"]
        m += (1 - group["beta"]) * grad
        param -= group["lr"] * xp.sign(m)
