"""F.pad with torch's width order (the last dim first), negative widths (cropping) and the
modes constant / reflect / replicate / circular; F.unfold (im2col: sliding patches as
columns). The non-constant modes copy source positions, and their gradient adds back into
the sources (an edge entry copied by replicate gets the gradient of all its copies).
reflect and replicate are one op (`_GatherPad`) whose gradient, under create_graph, stays
connected to the input as torch's native padding backward does; constant and circular are
composed from autodiff ops, as torch composes them."""
from __future__ import annotations

import numpy as np

import autodiff as ad

__all__ = ["pad", "unfold"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_positions(n, left, right, mode):
    """For each output position along a dim of size n padded by (left, right), the input
    position it copies. reflect and replicate map the output positions -left ... n + right - 1
    onto the input (a negative width drops positions); circular wraps around the n kept."""
    p = np.arange(-left, n + right)
    if mode == "reflect":
        period = 2 * (n - 1)
        q = np.mod(p, period) if period else np.zeros_like(p)
        return np.where(q < n, q, period - q)
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    return np.mod(p, n)  # circular


def _check_widths(mode, dim, n, left, right):
    """torch's limits: reflect widths below the size, circular ones at most the size (they
    may wrap more than once around what cropping leaves), and reflect and replicate leave
    at least one position."""
    if n == 0 and (left > 0 or right > 0):
        raise ValueError(f"pad: cannot {mode}-pad dim {dim}, which has size 0")
    if mode == "reflect" and (left >= n or right >= n):
        raise ValueError(f"pad: reflect padding ({left}, {right}) must be smaller than the "
                         f"size {n} of dim {dim}")
    if mode == "circular" and (left > n or right > n):
        raise ValueError(f"pad: circular padding ({left}, {right}) must be at most the size "
                         f"{n} of dim {dim}")
    if mode != "circular" and n + left + right <= 0:
        raise ValueError(f"pad: {mode} padding ({left}, {right}) leaves no position of the "
                         f"size {n} of dim {dim}")


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left, right) for the last dim, then (top,
    bottom) for the one before, ...; negative widths crop (torch.nn.functional.pad). The
    result is always a new tensor, never a view of the input (as torch's)."""
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
    for dim, left, right in pairs:
        if x.shape[dim] + left + right < 0:
            raise ValueError(f"pad: widths ({left}, {right}) crop more than the size "
                             f"{x.shape[dim]} of dim {dim}")
    if mode in ("reflect", "replicate"):
        positions = []  # (dim, the input position each output position copies)
        for dim, left, right in pairs:
            _check_widths(mode, dim, x.shape[dim], left, right)
            positions.append((dim, _source_positions(x.shape[dim], left, right, mode)))
        return _GatherPad.apply(x, positions=tuple(positions))
    # constant and circular crop first (negative widths), then pad what is left
    crop = [slice(None)] * x.ndim
    for dim, left, right in pairs:
        crop[dim] = slice(max(-left, 0), x.shape[dim] - max(-right, 0))
    pairs = [(dim, max(left, 0), max(right, 0)) for dim, left, right in pairs]
    if mode == "circular":  # torch composes it from copies: its gradient is a constant
        for dim, left, right in pairs:
            kept = np.arange(x.shape[dim])[crop[dim]]
            _check_widths(mode, dim, x.shape[dim], left, right)
            if len(kept) == 0 and (left or right):
                raise ValueError(f"pad: circular padding ({left}, {right}) of dim {dim}, which "
                                 "cropping leaves empty")
            index = kept[_source_positions(len(kept), left, right, mode)]
            x = ad.index_select(x, dim, ad.tensor(index, device=x.device))
        return x if pairs else x.clone()
    x = x[tuple(crop)]
    grow = [(0, 0)] * x.ndim
    for dim, left, right in pairs:
        grow[dim] = (left, right)
    if all(g == (0, 0) for g in grow):
        return x.clone()  # a copy: never the input or a view of it
    return ad.pad(x, tuple(grow), 0.0 if value is None else value)


def _gather(xp, x, positions):
    """x's entries at the given positions along each dim (a copy)."""
    out = x
    for dim, index in positions:
        out = xp.take(out, xp.asarray(index), axis=dim)
    return out if positions else out.copy()


def _scatter_add(xp, g, positions, shape):
    """The adjoint of _gather: g's entries summed back onto the positions they copy."""
    for dim, index in reversed(positions):
        size = list(g.shape)
        size[dim] = shape[dim]
        out = xp.zeros(size, dtype=g.dtype)
        where = (slice(None),) * dim + (xp.asarray(index),)
        xp.add.at(out, where, g)
        g = out
    return g if positions else g.copy()


class _GatherPad(ad.Function):
    """out = x's entries at given positions per dim (reflect and replicate padding)"""
    op_name = "pad"
    derivative = "d pad(x)/dx = the gradient summed back onto the entries each position copies"

    @staticmethod
    def forward(ctx, x, positions):
        ctx.positions, ctx.in_shape = positions, x.shape
        return _gather(ctx.xp, x, positions)

    @staticmethod
    def backward(ctx, g):
        if ctx.create_graph:  # torch's reflection/replication_pad_backward take x: connected
            return ctx.call(_GatherPadBackward, g, ctx.inputs[0], positions=ctx.positions)
        return _scatter_add(ctx.xp, g, ctx.positions, ctx.in_shape)


class _GatherPadBackward(ad.Function):
    """pad's gradient, recorded as an op of (g, x): linear in g, and of derivative 0 in x,
    which anchors it to the graph so a second derivative through pad is 0, as torch's"""
    op_name = "pad_backward"
    derivative = "d/dg = pad of the incoming gradient; d/dx = 0"

    @staticmethod
    def forward(ctx, g, anchor, positions):
        ctx.positions = positions
        return _scatter_add(ctx.xp, g, positions, anchor.shape)

    @staticmethod
    def backward(ctx, gg):
        need_g, need_anchor = ctx.needs_input_grad
        return (ctx.call(_GatherPad, gg, positions=ctx.positions) if need_g else None,
                ctx.xp.zeros_like(gg) if need_anchor else None)


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
