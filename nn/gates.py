"""Skip connections: residual, highway and the general gated form they share.

    Residual(fn)                 y = fn(x) + x
    Highway(features)            y = T(x) H(x) + (1 - T(x)) x,  T = sigmoid(W_T x + b_T)
    Gated(transform, carry, gate)
                                 y = G(x) F(x) + (1 - G(x)) C(x)   (or F(x) + C(x) without G)

The functional form is `nn.functional.gated_skip(transform, carry, gate=None)`, which takes
the already computed tensors; it writes the lecture's variants directly (see its docstring).
"""
from __future__ import annotations

import autodiff as ad

from . import functional as F
from .activation import ReLU
from .init import constant_
from .linear import Linear
from .module import Module

__all__ = ["Residual", "Highway", "Gated"]


def _describe(fn) -> str:
    return type(fn).__name__ if isinstance(fn, Module) else getattr(fn, "__name__", repr(fn))


class Residual(Module):
    """y = fn(x) + x: the branch `fn` (a Module or any callable) learns a correction to the
    identity; its output must have the input's shape."""

    def __init__(self, fn):
        super().__init__()
        if not callable(fn):
            raise TypeError(f"Residual: fn must be a Module or a callable, got "
                            f"{type(fn).__name__}")
        self.fn = fn

    def forward(self, x):
        y = self.fn(x)
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(f"Residual: the branch {_describe(self.fn)} maps an input of shape "
                             f"{tuple(x.shape)} to shape {tuple(y.shape)}, but y = fn(x) + x "
                             "needs both shapes equal; make the branch keep the shape, or use "
                             "nn.Gated(fn, carry=nn.Linear(...)) to project the skip path")
        return y + x


class Highway(Module):
    """y = T(x) * H(x) + (1 - T(x)) * x with H(x) = activation(W_H x + b_H) and the transform
    gate T(x) = sigmoid(W_T x + b_T). b_T starts at `gate_bias` (negative), so T is small at
    first and the layer initially carries its input through (Srivastava et al., 2015)."""

    def __init__(self, features: int, activation=None, gate_bias: float = -2.0, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.features = int(features)
        self.transform = Linear(features, features, bias=bias, device=device, dtype=dtype)
        self.gate = Linear(features, features, bias=True, device=device, dtype=dtype)
        self.activation = ReLU() if activation is None else activation
        if not callable(self.activation):
            raise TypeError(f"Highway: activation must be a Module or a callable, got "
                            f"{type(activation).__name__}")
        self.gate_bias = float(gate_bias)
        constant_(self.gate.bias, self.gate_bias)

    def forward(self, x):
        t = ad.sigmoid(self.gate(x))
        h = self.activation(self.transform(x))
        return F.gated_skip(h, x, gate=t)

    def extra_repr(self) -> str:
        return f"features={self.features}, gate_bias={self.gate_bias}"


class Gated(Module):
    """y = gate(x) * transform(x) + (1 - gate(x)) * carry(x); without a gate,
    y = transform(x) + carry(x). `carry` defaults to the identity (x itself). Each part is a
    Module or any callable, e.g. the scaled skip y = sigma(W x + b) + V x is
    Gated(nn.Sequential(nn.Linear(n, n), nn.Sigmoid()), carry=nn.Linear(n, n, bias=False)).
    The gate's values should lie in [0, 1] (end it with a sigmoid)."""

    def __init__(self, transform, carry=None, gate=None):
        super().__init__()
        for name, part in (("transform", transform), ("carry", carry), ("gate", gate)):
            if part is not None and not callable(part):
                raise TypeError(f"Gated: {name} must be a Module or a callable, got "
                                f"{type(part).__name__}")
        self.transform = transform
        self.carry = carry
        self.gate = gate

    def forward(self, x):
        h = self.transform(x)
        c = x if self.carry is None else self.carry(x)
        g = None if self.gate is None else self.gate(x)
        return F.gated_skip(h, c, gate=g)
