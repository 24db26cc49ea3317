"""Weight initialisation, in place and reproducible under `ad.manual_seed`.

Every function fills an existing Tensor without recording a graph and returns it, so
`init.kaiming_normal_(layer.weight)` works on Parameters that require grad. Random ones take
`generator=` (an ad.Generator on the tensor's device), as in torch 2.x; without it they draw
from the device's default generator (seeded by ad.manual_seed).
"""
from __future__ import annotations

import math
import numbers

import autodiff as ad

__all__ = ["calculate_gain", "zeros_", "ones_", "constant_", "uniform_", "normal_",
           "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "eye_", "orthogonal_"]

_LINEAR_LIKE = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The std multiplier that keeps activations' scale through `nonlinearity` (PyTorch's
    table): 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope^2)) for leaky_relu (slope = param, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
                     f"{', '.join(_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: Linear (out, in) -> (in, out); conv (C_out, C_in, *k)
    -> (C_in * prod(k), C_out * prod(k))."""
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a weight with at least 2 dimensions, "
                         f"got shape {tensor.shape} (biases use uniform_ with a bound)")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor, fname: str, floating: bool = True):
    if not isinstance(tensor, ad.Tensor):
        raise TypeError(f"init.{fname}: expected an ad.Tensor (e.g. layer.weight), got "
                        f"{type(tensor).__name__}")
    if floating and not (tensor.dtype.kind == "f" or tensor.dtype == ad.bfloat16):
        raise TypeError(f"init.{fname}: the tensor has dtype {tensor.dtype}; random "
                        "initialisation needs a floating dtype")


def _write(tensor, values):
    """Copy `values` (array or scalar) into tensor's buffer in place, in its dtype."""
    with ad.no_grad():
        if isinstance(values, ad.Tensor):
            values = values.to(dtype=tensor.dtype).data
        tensor.data[...] = values
    # The buffer changed behind the ops' backs: graphs that saved it must not backprop.
    ad.mark_modified(tensor)
    return tensor


def _draw_dtype(tensor):
    # Half types are drawn in float32 then rounded (as a float32 draw is what they store).
    return ad.float64 if tensor.dtype == ad.float64 else ad.float32


def _randn(shape, tensor, generator):
    return ad.randn(*shape, dtype=_draw_dtype(tensor), device=tensor.device,
                    generator=generator).data


def constant_(tensor, val):
    """Fill with `val`."""
    _check(tensor, "constant_", floating=False)
    return _write(tensor, val)


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1)


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with samples of U[a, b)."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"init.uniform_: need a <= b, got a={a}, b={b}")
    with ad.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with samples of N(mean, std^2)."""
    _check(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"init.normal_: std must be >= 0, got {std}")
    with ad.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None):
    """Fill with N(mean, std^2) conditioned on [a, b] (absolute bounds, like PyTorch):
    out-of-range draws are redrawn, which samples the truncated law exactly."""
    _check(tensor, "trunc_normal_")
    if not (std > 0 and a < b):
        raise ValueError(f"init.trunc_normal_: need std > 0 and a < b, got std={std}, a={a}, "
                         f"b={b}")
    lo, hi = (a - mean) / std, (b - mean) / std
    # Acceptance probability Phi(hi) - Phi(lo); refuse windows where redrawing would crawl.
    p = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    if p < 1e-3:
        raise ValueError(f"init.trunc_normal_: [a, b] = [{a}, {b}] holds only {p:.2g} of the "
                         f"N({mean}, {std}^2) mass; widen it or move the mean inside")
    z = _randn(tensor.shape, tensor, generator)
    xp = ad.array_module(z)
    bad = (z < lo) | (z > hi)
    while bool(bad.any()):
        z[bad] = _randn((int(bad.sum()),), tensor, generator)
        bad = (z < lo) | (z > hi)
    return _write(tensor, xp.clip(z * std + mean, a, b))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        raise ValueError(f"init: cannot initialise a weight of shape {tensor.shape}: its "
                         f"{mode} is 0")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan), gain from calculate_gain
    (a is the leaky_relu slope)."""
    _check(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He: N(0, std^2), std = gain / sqrt(fan)."""
    _check(tensor, "kaiming_normal_")
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal)."""
    _check(tensor, "eye_", floating=False)
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: needs a 2-D tensor, got shape {tensor.shape}")
    return _write(tensor, ad.eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device))


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times gain: the QR factor of a Gaussian matrix,
    sign-corrected so the law is uniform (Haar); trailing dims are flattened."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"init.orthogonal_: needs at least 2 dimensions, got {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    flat = ad.randn(rows, cols, dtype=ad.float64, device=tensor.device, generator=generator).data
    xp = ad.array_module(flat)
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape))
