"""The tuned kernels behind ops/conv.py and ops/pool.py: how im2col, the products and col2im
are computed fast on NCHW arrays (NumPy and CuPy alike). conv.py states the math; each
choice here was measured on the CPU (a small ConvNet step, one thread) and says why.

* Per-sample products: y_n = W (C_out, C*kH*kW) @ cols_n (C*kH*kW, OH*OW) gives the output
  in NCHW without a transpose (a channels-last column copy was ~3x slower).
* Batch slices (CPU_COLUMN_BYTES): a full-batch column array is kH*kW times the input;
  building it a slice of the batch at a time keeps each slice in cache, and all slices of
  one call share one set of buffers (_SliceBuffers): one big array cost fresh page faults
  every step (most of a small ConvNet's step time). The columns are not kept for backward.
* Row-flattened windows for stride 1 (FLAT_IM2COL_MAX_WIDTH, _grid): see below.
* col2im as one strided add per kernel offset, plain writes when windows do not overlap.
* Max-pool backward without an index (max_pool_grad): boolean masks reused per offset.
"""
from __future__ import annotations

import numpy as np

from ._precision import work as _work

# ---------------------------------------------------------------- windows

def pad(xp, x, padding, value=0):
    """x with `padding` rows/columns of `value` around H and W (x itself when none)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    # Allocate-and-assign measured faster than numpy.pad.
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def windows(xp, xpad, kernel, stride, dilation, out_hw):
    """Strided view (N, C, kH, kW, OH, OW) of every window of an already padded input."""
    sn, sc, sh, sw = xpad.strides
    n, c = xpad.shape[:2]
    shape = (n, c, kernel[0], kernel[1], out_hw[0], out_hw[1])
    strides = (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1])
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides)


def offset_slices(kernel, stride, dilation, out_hw):
    """For each kernel offset (i, j): (i*kW + j, rows, cols), the slices of the padded
    input that offset reads for every output pixel."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    return [(i * kw + j,
             slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def disjoint(kernel, stride, dilation=(1, 1)):
    """No two windows share a pixel: col2im-like scatters may write instead of add."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def col2im_add(cols, out, kernel, stride, dilation, out_hw):
    """Adjoint of im2col: scatter-add columns (n, C*kH*kW, OH*OW) into the padded input
    gradient `out` (n, C, Hp, Wp); one vectorised strided add per kernel offset."""
    n, c = out.shape[:2]
    per_offset = cols.reshape(n, c, kernel[0], kernel[1], out_hw[0], out_hw[1])
    plain_write = disjoint(kernel, stride, dilation)
    for o, rows, colsl in offset_slices(kernel, stride, dilation, out_hw):
        i, j = divmod(o, kernel[1])
        if plain_write:
            out[:, :, rows, colsl] = per_offset[:, :, i, j]
        else:
            out[:, :, rows, colsl] += per_offset[:, :, i, j]


# ---------------------------------------------------------------- batch slices

#: Bytes of im2col columns built at a time on the CPU (see the module docstring).
CPU_COLUMN_BYTES = 1 << 19


def batch_slices(xp, n, per_sample_bytes):
    """(start, stop) slices of the batch for one im2col each (the whole batch on a GPU)."""
    if xp.__name__ != "numpy":
        return [(0, n)]
    step = max(1, CPU_COLUMN_BYTES // max(1, per_sample_bytes))
    return [(i, min(n, i + step)) for i in range(0, n, step)]


def column_bytes(c, kernel, out_hw, dtype):
    return c * kernel[0] * kernel[1] * out_hw[0] * out_hw[1] * dtype.itemsize


# Stride 1 ("row-flattened" windows). With the padded image flattened row by row (width
# Wp), output (p, q) of kernel offset (i, j) reads flat index p*Wp + q + (i*dh*Wp + j*dw).
# Computing OH x Wp outputs and dropping the last Wp - OW of every row makes each offset
# ONE contiguous run, so im2col and col2im move long runs instead of rows of OW values.
# The extra columns cost (Wp-OW)/Wp and the forward needs one more copy of its output, so
# measured here this pays for col2im always (1.1-1.35x) but for im2col only on narrow maps
# (OW <= 16: 1.1-1.2x; at OW = 28 plain im2col is as fast or faster).
FLAT_IM2COL_MAX_WIDTH = 16


def _flat_im2col(stride, ow):
    return stride == (1, 1) and ow <= FLAT_IM2COL_MAX_WIDTH


def _grid(xp, buf, hp, wp):
    """The (n, C, Hp, Wp) image inside a row-flattened buffer (n, C, Hp*Wp + slack).

    Built with as_strided so that it is a view on every backend (writes must land in buf)."""
    s0, s1, s2 = buf.strides
    return xp.lib.stride_tricks.as_strided(buf, buf.shape[:2] + (hp, wp),
                                           (s0, s1, wp * s2, s2))


class _SliceBuffers:
    """Work arrays of one convolution call, allocated for the largest batch slice and reused
    by every slice: fresh padded inputs, columns and products per slice (the previous
    slice's still alive while the next is built) cost page faults and twice the memory."""

    def __init__(self, xp, slices):
        self.xp, self.m = xp, max(hi - lo for lo, hi in slices)
        self._arrays = {}

    def get(self, key, shape, dtype, zero=False):
        buf = self._arrays.get(key)
        if buf is None:
            buf = (self.xp.zeros if zero else self.xp.empty)((self.m,) + shape, dtype=dtype)
            self._arrays[key] = buf
        return buf

    def padded(self, xs, padding):
        """xs (m, C, H, W) inside a zero border of `padding` (xs itself when none); the
        border is written once, only the interior per slice."""
        ph, pw = padding
        if ph == 0 and pw == 0:
            return xs
        m, c, h, w = xs.shape
        buf = self.get("pad", (c, h + 2 * ph, w + 2 * pw), xs.dtype, zero=True)[:m]
        buf[:, :, ph:ph + h, pw:pw + w] = xs
        return buf

    def flat_padded(self, xs, padding, slack):
        """xs (m, C, H, W) zero-padded and flattened to (m, C, Hp*Wp + slack)."""
        m, c, h, w = xs.shape
        hp, wp = h + 2 * padding[0], w + 2 * padding[1]
        buf = self.get("flat", (c, hp * wp + slack), xs.dtype, zero=True)[:m]
        _grid(self.xp, buf, hp, wp)[:, :, padding[0]:padding[0] + h,
                                    padding[1]:padding[1] + w] = xs
        return buf

    def cols(self, view, rows, length):
        """The strided window view (m, ...) copied once into columns (m, rows, length)."""
        m = view.shape[0]
        out = self.get("cols", view.shape[1:], view.dtype)[:m]
        out[...] = view
        return out.reshape(m, rows, length)

    def product(self, a, b):
        """a (P, K) @ b (m, K, L) into a reused (m, P, L) array."""
        m = b.shape[0]
        out = self.get("prod", (a.shape[0], b.shape[2]), b.dtype)[:m]
        self.xp.matmul(a, b, out=out)
        return out

    def widen(self, g, wp):
        """g (m, C_out, OH, OW) as (m, C_out, OH*Wp), zeros in the extra columns."""
        m, co, oh, ow = g.shape
        out = self.get("wide", (co, oh, wp), g.dtype, zero=True)[:m]
        out[..., :ow] = g
        return out.reshape(m, co, oh * wp)


def _slice_cols(bufs, xs, kernel, stride, padding, dilation, out_hw):
    """im2col of one batch slice into the reused buffers: (m, C*kH*kW, OH*OW)."""
    view = windows(bufs.xp, bufs.padded(xs, padding), kernel, stride, dilation, out_hw)
    return bufs.cols(view, xs.shape[1] * kernel[0] * kernel[1], out_hw[0] * out_hw[1])


def _slice_flat_cols(bufs, xs, kernel, padding, dilation, wp, oh):
    """Row-flattened columns of one batch slice (see _grid): (m, C*kH*kW, OH*Wp)."""
    buf = bufs.flat_padded(xs, padding, dilation[1] * (kernel[1] - 1))
    m, c = buf.shape[:2]
    s0, s1, s2 = buf.strides
    view = bufs.xp.lib.stride_tricks.as_strided(
        buf, (m, c, kernel[0], kernel[1], oh * wp),
        (s0, s1, dilation[0] * wp * s2, dilation[1] * s2, s2))
    return bufs.cols(view, c * kernel[0] * kernel[1], oh * wp)


# ---------------------------------------------------------------- the three products

def conv_forward(xp, x, w, b, kernel, stride, padding, dilation, out_hw, acc):
    """y (N, C_out, OH, OW) = W (C_out, C*kH*kW) @ im2col(x_n) + b, batch slice by slice;
    computed in the accumulation dtype acc (None: x's own)."""
    xw, w2 = _work(x, acc), _work(w, acc).reshape(w.shape[0], -1)
    bias = None if b is None else _work(b, acc).reshape(-1, 1, 1)
    (n, c, h, wd), co, (oh, ow) = x.shape, w.shape[0], out_hw
    y = xp.empty((n, co, oh, ow), dtype=w2.dtype)
    if _flat_im2col(stride, ow):
        wp = wd + 2 * padding[1]
        slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, wp), w2.dtype))
        bufs = _SliceBuffers(xp, slices)
        for lo, hi in slices:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, oh)
            wide = bufs.product(w2, cols).reshape(hi - lo, co, oh, wp)[..., :ow]
            if bias is None:
                y[lo:hi] = wide
            else:
                xp.add(wide, bias, out=y[lo:hi])
        return y
    y3 = y.reshape(n, co, oh * ow)
    slices = batch_slices(xp, n, column_bytes(c, kernel, out_hw, w2.dtype))
    bufs = _SliceBuffers(xp, slices)
    for lo, hi in slices:
        cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
        xp.matmul(w2, cols, out=y3[lo:hi])
    if bias is not None:
        y += bias
    return y


def weight_grad(xp, x, g, kernel, stride, padding, dilation, acc):
    """dw (C_out, C, kH, kW) = sum_n g_n (C_out, OH*OW) @ im2col(x_n)^T."""
    (n, c, h, wd), co, out_hw = x.shape, g.shape[1], g.shape[2:]
    xw, gw = _work(x, acc), _work(g, acc)
    flat = _flat_im2col(stride, out_hw[1])
    if flat:
        wp = wd + 2 * padding[1]
        per_sample = column_bytes(c, kernel, (out_hw[0], wp), xw.dtype)
    else:
        per_sample = column_bytes(c, kernel, out_hw, xw.dtype)
    slices = batch_slices(xp, n, per_sample)
    bufs = _SliceBuffers(xp, slices)
    dw = None
    for lo, hi in slices:
        if flat:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, out_hw[0])
            g3 = bufs.widen(gw[lo:hi], wp)
        else:
            cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
            g3 = gw[lo:hi].reshape(hi - lo, co, -1)
        part = (g3 @ cols.transpose(0, 2, 1)).sum(axis=0)
        if dw is None:
            dw = part
        else:
            dw += part
    return dw.reshape((co, c) + tuple(kernel))


def input_grad(xp, g, w, x_hw, stride, padding, dilation, acc, into=None):
    """dx (N, C, H, W) = col2im(W^T (C*kH*kW, C_out) @ g_n): the transposed convolution.

    `into`: g itself when nothing else refers to it (the engine's scratch check); dx is then
    written over g when it fits (_fits_into), each slice after its own g was read."""
    n, co, oh, ow = g.shape
    kernel, c = w.shape[2:], w.shape[1]
    (ph, pw), (h, wd) = padding, x_hw
    hp, wp = h + 2 * ph, wd + 2 * pw
    wt = _work(w, acc).reshape(co, -1).T
    gw = _work(g, acc)
    if stride == (1, 1):
        if into is not None and _fits_into(into, gw, wt.dtype, c * h * wd):
            dx = into.reshape(-1)[:n * c * h * wd].reshape(n, c, h, wd)
        else:
            dx = xp.empty((n, c, h, wd), dtype=wt.dtype)
        run = oh * wp
        slack = dilation[1] * (kernel[1] - 1)
        slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, wp), wt.dtype))
        bufs = _SliceBuffers(xp, slices)
        for lo, hi in slices:
            m = hi - lo
            per_offset = bufs.product(wt, bufs.widen(gw[lo:hi], wp)).reshape(
                m, c, kernel[0], kernel[1], run)
            buf = bufs.get("acc", (c, hp * wp + slack), wt.dtype)[:m]
            buf.fill(0)
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    start = i * dilation[0] * wp + j * dilation[1]
                    buf[:, :, start:start + run] += per_offset[:, :, i, j]
            dx[lo:hi] = _grid(xp, buf, hp, wp)[:, :, ph:ph + h, pw:pw + wd]
        return dx
    g3 = gw.reshape(n, co, oh * ow)
    dx = xp.zeros((n, c, hp, wp), dtype=wt.dtype)
    slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, ow), wt.dtype))
    bufs = _SliceBuffers(xp, slices)
    for lo, hi in slices:
        col2im_add(bufs.product(wt, g3[lo:hi]), dx[lo:hi], kernel, stride, dilation, (oh, ow))
    return dx[:, :, ph:ph + h, pw:pw + wd] if ph or pw else dx


def _fits_into(into, g, dtype, per_sample):
    """Whether dx (per_sample elements a sample) may overwrite g: the same contiguous array
    and dtype, no larger per sample (so writing samples [lo, hi) never reaches the g of a
    sample >= hi)."""
    return (into is g and g.dtype == dtype and g.flags.c_contiguous
            and per_sample <= g[0].size)


# ---------------------------------------------------------------- pooling

def max_pool_grad(xp, x, out, g, kernel, stride, padding, out_hw):
    """dx: g routed to each window's first maximum, without building an index.

    Offsets are visited in window order; `taken` marks the windows whose maximum was
    already found, so a later tied maximum gets nothing (torch's first-max rule)."""
    n, c, h, w = x.shape
    ph, pw = padding
    xpad = pad(xp, x, padding, value=-float("inf"))
    plain_write = disjoint(kernel, stride)
    tiles = (plain_write and not (ph or pw) and stride == kernel
             and h == out_hw[0] * kernel[0] and w == out_hw[1] * kernel[1])
    # When the windows tile the input exactly every pixel is written once: no zero fill.
    dx = (xp.empty if tiles else xp.zeros)(xpad.shape, dtype=g.dtype)
    hit = xp.empty(out.shape, dtype=bool)
    taken = first = None
    # any NaN makes the sum NaN (an inf - inf false alarm only costs the NaN checks)
    has_nan = bool(xp.isnan(out.sum()))
    for _, rows, cols in offset_slices(kernel, stride, (1, 1), out_hw):
        win = xpad[:, :, rows, cols]
        xp.equal(win, out, out=hit)
        if has_nan:  # a NaN window's gradient goes to its first NaN
            hit |= xp.isnan(win)
        # boolean bookkeeping is several times cheaper than masking g itself; three
        # window-sized masks reused for every offset
        if taken is None:
            sel = hit
        else:
            if first is None:
                first = xp.empty(out.shape, dtype=bool)
            xp.greater(hit, taken, out=first)  # a maximum in a window not yet taken
            sel = first
        if plain_write:
            xp.multiply(g, sel, out=dx[:, :, rows, cols])
        else:
            dx[:, :, rows, cols] += g * sel
        if taken is None:
            taken, hit = hit, xp.empty(out.shape, dtype=bool)
        else:
            taken |= hit
    return dx[:, :, ph:ph + h, pw:pw + w] if ph or pw else dx


def argmax_index(xp, x, out, kernel, stride, padding, out_hw):
    """For every window, the offset i*kW + j of its first maximum (torch's tie rule); a
    window holding NaN points at its first NaN."""
    xpad = pad(xp, x, padding, value=-float("inf"))
    slices = offset_slices(kernel, stride, (1, 1), out_hw)
    idx = xp.zeros(out.shape, dtype=np.int8 if len(slices) <= 127 else np.int32)
    has_nan = bool(xp.isnan(out).any())
    # Walk the offsets backwards so the first maximum is the last one written.
    for o, rows, cols in reversed(slices):
        win = xpad[:, :, rows, cols]
        hit = win == out
        if has_nan:
            hit |= win != win
        idx[hit] = o
    return idx


def window_counts(xp, x_hw, kernel, stride, padding, out_hw, dtype):
    """Number of non-padding elements in each window, (OH, OW)."""
    per_axis = []
    for a in range(2):
        start = np.arange(out_hw[a]) * stride[a] - padding[a]
        stop = np.minimum(start + kernel[a], x_hw[a])
        per_axis.append(stop - np.maximum(start, 0))
    return xp.asarray(np.outer(per_axis[0], per_axis[1]).astype(dtype))


def window_sum(xp, xpad, kernel, stride, out_hw):
    """sum over each kH x kW window of the padded input: one strided add per offset."""
    slices = offset_slices(kernel, stride, (1, 1), out_hw)
    _, r0, c0 = slices[0]
    total = xpad[:, :, r0, c0].copy()
    for _, rows, cols in slices[1:]:
        total += xpad[:, :, rows, cols]
    return total


def window_spread(xp, g, x_hw, kernel, stride, padding):
    """Adjoint of window_sum: each window's g added to every pixel of the window."""
    n, c = g.shape[:2]
    ph, pw = padding
    dx = xp.zeros((n, c, x_hw[0] + 2 * ph, x_hw[1] + 2 * pw), dtype=g.dtype)
    plain_write = disjoint(kernel, stride)
    for _, rows, cols in offset_slices(kernel, stride, (1, 1), g.shape[2:]):
        if plain_write:
            dx[:, :, rows, cols] = g
        else:
            dx[:, :, rows, cols] += g
    return dx[:, :, ph:ph + x_hw[0], pw:pw + x_hw[1]] if ph or pw else dx
