"""Activation layers: Modules wrapping the functions of nn.functional (PyTorch's names).

`inplace=` is accepted where PyTorch has it, for drop-in compatibility; the result is
always a new tensor (same values).
"""
from __future__ import annotations

import numbers
import warnings

import autodiff as ad

from . import functional as F
from .init import constant_
from .module import Module, Parameter

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "GELU", "SiLU", "Softplus",
           "Softmax", "Softmin", "LogSoftmax", "Softsign", "Hardtanh", "ReLU6", "LogSigmoid", "Mish",
           "SELU", "CELU", "Hardswish", "Hardsigmoid"]


class ReLU(Module):
    """max(x, 0)"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x"""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x if x > 0 else a * x with learnable slopes a: one shared (num_parameters=1) or one
    per channel (num_parameters = C, the size of axis 1), each starting at `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if (not isinstance(num_parameters, numbers.Integral) or isinstance(num_parameters, bool)
                or num_parameters < 1):
            raise ValueError(f"PReLU: num_parameters must be a positive integer (1 or the "
                             f"number of channels), got {num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.init = float(init)
        self.weight = Parameter(ad.full((self.num_parameters,), self.init,
                                        dtype=dtype or ad.float32, device=device))

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else alpha * (e^x - 1)"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = inplace

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    """1 / (1 + e^-x)"""

    def forward(self, x):
        return ad.sigmoid(x)


class Tanh(Module):
    """tanh(x)"""

    def forward(self, x):
        return ad.tanh(x)


class GELU(Module):
    """x Phi(x) (approximate="none", the erf form) or its tanh approximation"""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x)"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.silu(x)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, linear (x) where beta x > threshold"""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """e^(x_i) / sum_j e^(x_j) along dim (torch.nn.Softmax; alias axis). Without a dim, torch's
    implicit choice (with its warning)."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None):
        super().__init__()
        self.dim = F._softmax_axis("Softmax", dim, axis)

    @property
    def axis(self):
        """NumPy's name for dim."""
        return self.dim

    def forward(self, x):
        return F.softmax(x, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """e^(-x_i) / sum_j e^(-x_j) along dim (torch.nn.Softmin; alias axis). Without a dim,
    torch's implicit choice (with its warning)."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None):
        super().__init__()
        self.dim = F._softmax_axis("Softmin", dim, axis)

    def forward(self, x):
        return F.softmin(x, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j e^(x_j) along dim (torch.nn.LogSoftmax; alias axis). Without a dim, torch's
    implicit choice (with its warning)."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None):
        super().__init__()
        self.dim = F._softmax_axis("LogSoftmax", dim, axis)

    @property
    def axis(self):
        """NumPy's name for dim."""
        return self.dim

    def forward(self, x):
        return F.log_softmax(x, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softsign(Module):
    """x / (1 + |x|)"""

    def forward(self, x):
        return F.softsign(x)


class Hardtanh(Module):
    """min(max(x, min_val), max_val); no gradient at the bounds"""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        # torch's deprecated spellings, in torch's slots, with its FutureWarning
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to "
                          "`min_val` (Hardtanh)", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to "
                          "`max_val` (Hardtanh)", FutureWarning, stacklevel=2)
            max_val = max_value
        if not max_val > min_val:  # torch rejects equal bounds too
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val, self.max_val = float(min_val), float(max_val)
        self.inplace = inplace

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6); no gradient at 0 and 6"""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, x):
        return F.relu6(x)

    def extra_repr(self) -> str:
        return ""


class LogSigmoid(Module):
    """ln sigmoid(x), finite for any x"""

    def forward(self, x):
        return F.logsigmoid(x)


class Mish(Module):
    """x tanh(ln(1 + e^x))"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.mish(x)


class SELU(Module):
    """scale (x if x > 0 else alpha (e^x - 1)), the self-normalising constants"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.selu(x)


class CELU(Module):
    """x if x > 0 else alpha (e^(x/alpha) - 1)"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = inplace

    def forward(self, x):
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Hardswish(Module):
    """x relu6(x + 3) / 6"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.hardswish(x)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6"""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.hardsigmoid(x)
