"""Dense layers and shape helpers: Linear, Maxout, Dropout, Flatten, Identity.

`linear` and `dropout` are the functional forms (nn.functional re-exports them).
"""
from __future__ import annotations

import math
import numbers

import autodiff as ad

from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Identity", "Flatten", "FlattenConsecutive", "Dropout", "Maxout",
           "linear", "dropout", "set_mc_dropout"]


def _check_features(layer: str, **sizes):
    """Each size must be an int (else TypeError, as torch) and >= 1 (else ValueError)."""
    for name, n in sizes.items():
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"{layer}: {name} must be a positive integer, got {n!r} "
                            f"({type(n).__name__})")
        if n < 1:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {n!r}")


def _check_input(layer, x, in_features: int, what: str = "in_features"):
    """Raise a clear error unless x is a Tensor whose last dimension is in_features
    (`layer` is the layer's name, or a function giving it, formatted only on error)."""
    if isinstance(x, ad.Tensor) and x.ndim and x.shape[-1] == in_features:
        return
    layer = layer() if callable(layer) else layer
    if not isinstance(x, ad.Tensor):
        raise TypeError(f"{layer}: expected an ad.Tensor input, got {type(x).__name__} "
                        "(wrap data with ad.tensor(...))")
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(f"{layer}: the input has shape {x.shape}, but its last dimension must "
                         f"be {what}={in_features}; reshape the input (e.g. nn.Flatten() "
                         "before the layer) or change the layer's size")


def linear(input, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) and x of shape (..., in)."""
    _check_input("linear", input, weight.shape[-1], "weight.shape[1]")
    return ad.linear(input, weight, bias)  # one graph node (x @ W^T + b fused)


def _reset_affine(weight, bias):
    # PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) gives
    # W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)  # conv: C_in * kH * kW
        bound = 1.0 / math.sqrt(fan_in)
        init.uniform_(bias, -bound, bound)


def _param(*shape, device=None, dtype=None):
    return Parameter(ad.empty(*shape, dtype=dtype or ad.float32, device=device))


class _Affine(Module):
    """Shared by Linear and Maxout: weight (rows, in_features) and an optional bias (rows,),
    both ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def _create_parameters(self, rows, in_features, bias, device, dtype):
        self.weight = _param(rows, in_features, device=device, dtype=dtype)
        if bias:
            self.bias = _param(rows, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self.weight, self.bias)


class Linear(_Affine):
    """y = x W^T + b; W: (out_features, in_features), W and b ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self._create_parameters(out_features, in_features, bias, device, dtype)

    def _label(self):
        return f"Linear({self.in_features}, {self.out_features})"

    def forward(self, x):
        _check_input(self._label, x, self.in_features)
        p = self._parameters  # one dict lookup instead of Module.__getattr__ per access
        return ad.linear(x, p["weight"], p["bias"])

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Maxout(_Affine):
    """y_j = max_k (x W_{j,k}^T + b_{j,k}): out_features units, each the max of `pieces`
    affine maps. weight: (out_features * pieces, in_features), row j * pieces + k is piece k
    of unit j; initialised like Linear."""

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        _check_features("Maxout", in_features=in_features, out_features=out_features,
                        pieces=pieces)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.pieces = int(pieces)
        self._create_parameters(self.out_features * self.pieces, in_features, bias, device,
                                dtype)

    def _label(self):
        return f"Maxout({self.in_features}, {self.out_features}, pieces={self.pieces})"

    def forward(self, x):
        _check_input(self._label, x, self.in_features)
        p = self._parameters
        z = ad.linear(x, p["weight"], p["bias"])  # all pieces in one fused affine node
        z = z.reshape(*x.shape[:-1], self.out_features, self.pieces)
        return ad.amax(z, -1)  # the largest piece; ties split the gradient

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}, bias={self.bias is not None}")


class Identity(Module):
    """y = x (accepts and ignores any constructor arguments, like PyTorch's)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class FlattenConsecutive(Module):
    """Fuse each n consecutive time steps of a sequence into one: (N, L, C) -> (N, L/n, n*C),
    the step of the lecture's hierarchical (WaveNet-style) language model; the fused
    vector of steps t..t+n-1 is their channels side by side, [x_t, x_t+1, ...]. When L/n is
    1 the length axis is dropped, (N, L, C) -> (N, L*C), as the lecture's layer does
    (`squeeze=False` keeps it: (N, 1, L*C)). Equivalent to a kernel-n, stride-n Conv1d when
    followed by a Linear layer (with the (N, C, L) axis order and permuted weights)."""

    def __init__(self, n: int, squeeze: bool = True):
        super().__init__()
        _check_features("FlattenConsecutive", n=n)
        self.n = int(n)
        self.squeeze = bool(squeeze)

    def forward(self, x):
        if not isinstance(x, ad.Tensor) or x.ndim != 3 or x.shape[1] % self.n:
            shape = tuple(x.shape) if isinstance(x, ad.Tensor) else type(x).__name__
            raise ValueError(f"FlattenConsecutive({self.n}): expected an (N, L, C) tensor with "
                             f"L divisible by {self.n}, got {shape}")
        n, length, channels = x.shape
        y = x.reshape(n, length // self.n, channels * self.n)
        return y.squeeze(1) if self.squeeze and length == self.n else y

    def extra_repr(self) -> str:
        return f"{self.n}" + ("" if self.squeeze else ", squeeze=False")


def _check_p(where: str, p):
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{where}: dropout probability p must be a number in [0, 1], "
                        f"got {p!r} ({type(p).__name__})")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: dropout probability p must be a number in [0, 1], "
                         f"got {p!r}")
    return float(p)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator=None):
    """Inverted dropout: in training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p) per
    element (so E[y] = x); identity when not training or p = 0; zeros when p = 1. The mask
    comes from `generator` (an ad.Generator on x's device; default: the device's default
    generator); inplace=True writes y into x (as x.mul_)."""
    p = _check_p("dropout", p)
    if not training or p == 0.0:
        return input
    if not isinstance(input, ad.Tensor):
        raise TypeError(f"dropout: expected an ad.Tensor input, got {type(input).__name__}")
    if p == 1.0:
        mask = ad.zeros(*input.shape, dtype=input.dtype, device=input.device)
    else:
        # Draw in float32 whatever x's dtype: the comparison only needs the keep decision.
        keep = ad.rand(*input.shape, dtype=ad.float32, device=input.device,
                       generator=generator).data >= p
        xp = ad.array_module(keep)
        mask = ad.tensor(xp.where(keep, 1.0 / (1.0 - p), 0.0).astype(input.dtype))
    if inplace:
        input *= mask
        return input
    return input * mask


class Dropout(Module):
    """Inverted dropout (see `dropout`): active in training mode, identity in eval mode,
    unless mc=True, which keeps it active in eval for Monte-Carlo dropout (average several
    stochastic forward passes to estimate predictive uncertainty; see `set_mc_dropout`).
    `generator` (an ad.Generator) makes its masks a stream of their own."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, mc: bool = False,
                 generator=None):
        super().__init__()
        self.p = _check_p("Dropout", p)
        self.inplace = bool(inplace)
        self.mc = bool(mc)
        self.generator = generator

    def forward(self, x):
        return dropout(x, self.p, self.training or self.mc, self.inplace,
                       generator=self.generator)

    def extra_repr(self) -> str:
        return (f"p={self.p}" + (", inplace=True" if self.inplace else "")
                + (", mc=True" if self.mc else ""))


def set_mc_dropout(model: Module, enabled: bool = True) -> int:
    """Turn Monte-Carlo mode on (or off) for every Dropout in `model`, so it stays active
    under model.eval(); returns how many Dropout layers were switched."""
    count = 0
    for m in model.modules():
        if isinstance(m, Dropout):
            m.mc = bool(enabled)
            count += 1
    return count
