"""F.pad with torch's width order (the last dim first), negative widths (cropping) and the
modes constant / reflect / replicate / circular; F.unfold (im2col: sliding patches as
columns). Composed from autodiff ops: the non-constant modes pick source positions with
`index_select`, whose gradient adds back into the sources (an edge entry copied by
replicate gets the gradient of all its copies)."""
from __future__ import annotations

import numpy as np

import autodiff as ad

__all__ = ["pad", "unfold"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_positions(n, left, right, mode):
    """For each output position along a dim of size n padded by (left, right) >= 0, the
    input position it copies."""
    p = np.arange(-left, n + right)
    if mode == "reflect":
        period = 2 * (n - 1)
        q = np.mod(p, period) if period else np.zeros_like(p)
        return np.where(q < n, q, period - q)
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    return np.mod(p, n)  # circular


def _check_widths(mode, dim, n, left, right):
    if n == 0 and (left > 0 or right > 0):
        raise ValueError(f"pad: cannot {mode}-pad dim {dim}, which has size 0")
    if mode == "reflect" and (left >= n or right >= n):
        raise ValueError(f"pad: reflect padding ({left}, {right}) must be smaller than the "
                         f"size {n} of dim {dim}")
    if mode == "circular" and (left > n or right > n):
        raise ValueError(f"pad: circular padding ({left}, {right}) must be at most the size "
                         f"{n} of dim {dim}")


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left, right) for the last dim, then (top,
    bottom) for the one before, ...; negative widths crop (torch.nn.functional.pad)."""
    x = input
    widths = tuple(int(w) for w in pad)
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(f"pad: pad must hold (left, right) pairs for at most {x.ndim} dims "
                         f"(the input has shape {x.shape}), got {tuple(pad)}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"pad: value is only used by mode='constant', not {mode!r}")
    pairs = [(x.ndim - 1 - i, widths[2 * i], widths[2 * i + 1]) for i in range(len(widths) // 2)]
    # negative widths crop first (every mode then pads the cropped tensor, as torch)
    crop = [slice(None)] * x.ndim
    for dim, left, right in pairs:
        if x.shape[dim] + left + right < 0:
            raise ValueError(f"pad: widths ({left}, {right}) crop more than the size "
                             f"{x.shape[dim]} of dim {dim}")
        crop[dim] = slice(max(-left, 0), x.shape[dim] - max(-right, 0))
    if any(c != slice(None) for c in crop):
        x = x[tuple(crop)]
    pairs = [(dim, max(left, 0), max(right, 0)) for dim, left, right in pairs]
    if mode == "constant":
        grow = [(0, 0)] * x.ndim
        for dim, left, right in pairs:
            grow[dim] = (left, right)
        if any(g != (0, 0) for g in grow):
            x = ad.pad(x, tuple(grow), 0.0 if value is None else value)
        return x
    for dim, left, right in pairs:
        _check_widths(mode, dim, x.shape[dim], left, right)
        if left or right:
            index = _source_positions(x.shape[dim], left, right, mode)
            x = ad.index_select(x, dim, ad.tensor(index, device=x.device))
    return x


def _pair(value, name):
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"unfold: {name} must be an int or a pair, got {value}")
    return value


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding (kh, kw) patches of an (N, C, H, W) input as columns: shape
    (N, C * kh * kw, L), L the number of patch positions (torch.nn.functional.unfold)."""
    x = input
    if x.ndim != 4:
        raise ValueError(f"unfold: expects an (N, C, H, W) input, got shape {x.shape}")
    (kh, kw), (dh, dw) = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    (ph, pw), (sh, sw) = _pair(padding, "padding"), _pair(stride, "stride")
    if ph or pw:
        x = ad.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, w = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"unfold: the kernel {(kh, kw)} (dilation {(dh, dw)}) does not fit "
                         f"the padded input of size {(h, w)}")
    patches = [x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
               for i in range(kh) for j in range(kw)]
    return ad.stack(patches, 2).reshape(n, c * kh * kw, oh * ow)
