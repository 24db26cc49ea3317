"""The tuned kernels behind ops/conv.py and ops/pool.py: how im2col, the products, col2im
and pooling are computed fast on NCHW arrays (NumPy and CuPy alike). conv.py and pool.py
state the math; each choice here was measured on the CPU (bench_convnet.py's step: batch
64, 1x28x28, conv8-pool-conv16-pool-fc, one thread) and says why.

* Arrays kept between calls (_Store): work arrays, forward results and saved pooling picks
  come from a per-thread store and go back to it when nothing refers to them; gradient
  arrays go round too (max-pool's dx is lent, conv2d's backward hands its gradient back).
  Fresh arrays cost page faults every step (glibc returns the freed top of the heap to
  the system): 2,075 faults and 4 ms of system time in an 11 ms step before, none now.
* Per-sample products: y_n = W (C_out, C*kH*kW) @ cols_n (C*kH*kW, OH*OW) gives the output
  in NCHW without a transpose (a channels-last column copy was ~3x slower; one GEMM over
  the whole batch was 1.3-1.5x slower than the per-sample ones on this BLAS).
* Batch slices (CPU_COLUMN_BYTES): the columns of a slice of the batch at a time, all
  slices sharing one set of buffers. The columns are not kept for backward.
* The bias as a row of ones under the columns: added by the product itself.
* Row-flattened windows for stride 1 (FLAT_IM2COL_MAX_WIDTH, _grid): see below.
* Input gradient with stride 1: a convolution of g with the flipped kernel when C_out <=
  2 C_in, else col2im in flat rows (see input_grad); other strides: col2im as one strided
  add per kernel offset, plain writes when windows do not overlap.
* Max pooling keeps, from the forward, where each window's gradient goes (torch keeps an
  index); windows that tile the input take two passes of strided whole-array operations.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

from ._precision import work as _work

# ---------------------------------------------------------------- windows

def pad(xp, x, padding, value=0, extra=(0, 0)):
    """x with `padding` rows/columns of `value` around H and W, and `extra` more at the
    bottom/right (where ceil_mode's last pooling window runs past the padding); x itself
    when none."""
    (ph, pw), (eh, ew) = padding, extra
    if ph == 0 and pw == 0 and eh == 0 and ew == 0:
        return x
    n, c, h, w = x.shape
    # Allocate-and-assign measured faster than numpy.pad.
    out = xp.full((n, c, h + 2 * ph + eh, w + 2 * pw + ew), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def padded_zeros(xp, x_shape, padding, extra, dtype):
    """Zeros shaped like the padded input (pad): the gradient of it, cropped by crop."""
    (n, c, h, w), (ph, pw), (eh, ew) = x_shape, padding, extra
    return xp.zeros((n, c, h + 2 * ph + eh, w + 2 * pw + ew), dtype=dtype)


def crop(dx, x_shape, padding):
    """The input's part of a padded array (its gradient when dx is the padded one's)."""
    (h, w), (ph, pw) = x_shape[2:], padding
    if dx.shape[2:] == (h, w):
        return dx
    return dx[:, :, ph:ph + h, pw:pw + w]


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

#: Bytes of im2col columns built at a time on the CPU (see the module docstring). With the
#: buffers reused (_Store), 2 MiB slices beat 0.5 MiB ones (fewer calls: 8 slices of 8
#: samples were 15% slower on the 14x14 layer of bench_convnet.py) and a whole batch of
#: 4-16 MiB of columns (out of cache).
CPU_COLUMN_BYTES = 1 << 21


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


class _Store:
    """Arrays kept from one call to the next, per thread (CPU only): `take` hands out one
    that nothing outside the store refers to (CPython's reference count says so).

    Why: a small ConvNet step allocates the same dozen arrays every step, and glibc's malloc
    gives the freed memory back to the system at the end of each step (it is the top of the
    heap), so every step paid page faults again: 2,075 a step, 4 ms of system time in an
    11 ms step (bench_convnet.py). `take` serves arrays that never become gradients (work
    arrays, forward results, saved picks); a gradient must stay unshared (the fast path's
    in-place reuse checks its reference count), so it is `lend`-ed (given away) and comes
    back through `adopt` from the last op that reads it. Not used on traced arrays
    (ad.compile): the capture must see every allocation it replays."""

    LIMIT_BYTES = 64 << 20  # past this, the store starts afresh (many shapes in turn)
    _local = threading.local()

    def __init__(self):
        self.arrays = {}  # (shape, dtype, zeros) -> [arrays]
        self.nbytes = 0

    @classmethod
    def of(cls, xp, arrays):
        """This thread's store, or None unless every array is a plain NumPy ndarray."""
        if xp is not np or _FREE == 0:
            return None
        if any(type(a) is not np.ndarray for a in arrays):
            if any(isinstance(a, np.ndarray) for a in arrays):
                # an ndarray subclass: a step being captured (ad.compile), whose replays
                # never come here: the kept arrays are let go (replays then allocate in
                # their memory instead of growing the heap every step: 5 ms, not 8 ms, a
                # bench_convnet.py replay)
                cls._local.store = None
            return None
        store = getattr(cls._local, "store", None)
        if store is None:
            store = cls._local.store = cls()
        return store

    def take(self, shape, dtype, zeros=None):
        """An array nothing else refers to. zeros=None: any contents; else a hashable that
        says where its zeros are kept (created zero-filled; every user of the same key
        writes only the same places, e.g. the interior of a zero border)."""
        key = (shape, dtype, zeros)
        held = self.arrays.get(key)
        if held is None:
            held = self.arrays[key] = []
        for a in held:
            if _getrefcount(a) == _FREE:
                return a
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if self.nbytes + nbytes > self.LIMIT_BYTES:
            self.arrays, self.nbytes = {key: []}, 0  # arrays in use stay valid with their users
            held = self.arrays[key]
        a = (np.empty if zeros is None else np.zeros)(shape, dtype=dtype)
        held.append(a)
        self.nbytes += nbytes
        return a


    def lend(self, shape, dtype):
        """A free array given away for good (None if there is none): for a gradient, which
        must stay unshared (the fast path's in-place reuse checks its reference count)."""
        held = self.arrays.get((shape, dtype, None)) or []
        for k in range(len(held)):  # no enumerate: its result tuple would also hold a
            a = held[k]
            if _getrefcount(a) == _FREE:
                del held[k]
                self.nbytes -= a.nbytes
                return a
        return None

    def adopt(self, a):
        """Keep `a` (a gradient nothing else refers to, handed over by its last reader) for
        later takes: with lend, the same few gradient arrays go round step after step."""
        held = self.arrays.setdefault((a.shape, a.dtype, None), [])
        if self.nbytes + a.nbytes > self.LIMIT_BYTES or any(h is a for h in held):
            return
        for h in held:  # a spare is there already: keeping more would only grow the store
            if _getrefcount(h) == _FREE:
                return
        held.append(a)
        self.nbytes += a.nbytes


def _free_refcount():
    """sys.getrefcount of an array only the store holds, counted as `take` counts it; 0
    (the store is not used) if this interpreter does not count a second holder."""
    held = [np.empty(1)]
    for a in held:
        free = sys.getrefcount(a)
        other = a  # noqa: F841
        return free if sys.getrefcount(a) == free + 1 else 0


_getrefcount = sys.getrefcount
_FREE = _free_refcount()


def result(xp, shape, dtype, *inputs):
    """A new array for a forward result (or a saved value) computed from `inputs`: one
    from this thread's store when the inputs are plain NumPy arrays."""
    store = _Store.of(xp, inputs)
    if store is None:
        return xp.empty(shape, dtype=dtype)
    return store.take(tuple(shape), np.dtype(dtype))


def gradient(xp, shape, dtype, *inputs):
    """A new array for a gradient: a free one given away by the store when there is one."""
    store = _Store.of(xp, inputs)
    out = None if store is None else store.lend(tuple(shape), np.dtype(dtype))
    return xp.empty(shape, dtype=dtype) if out is None else out


def recycle(xp, g):
    """Hand a gradient array over to the store: only for g that nothing else refers to
    (ctx.grad_is_scratch) and that its op reads for the last time."""
    store = _Store.of(xp, (g,))
    if store is not None and g.base is None and g.flags.c_contiguous:
        store.adopt(g)


def work(xp, shape, dtype, *inputs):
    """A work array for one call (never returned to the caller): from the store too."""
    return result(xp, shape, dtype, *inputs)


class _SliceBuffers:
    """Work arrays of one convolution call, allocated for the largest batch slice and reused
    by every slice: fresh padded inputs, columns and products per slice (the previous
    slice's still alive while the next is built) cost page faults and twice the memory.
    On the CPU they come from the store, so the next call reuses them too."""

    def __init__(self, xp, slices, *arrays, ones_row=False):
        self.xp, self.m = xp, max(hi - lo for lo, hi in slices)
        self.ones_row = int(ones_row)
        self._arrays = {}
        self._store = _Store.of(xp, arrays)

    def get(self, key, shape, dtype, zeros=None):
        """The (m,) + shape work array for role `key`; zeros: see _Store.take (a zero
        border depends on the padding, so that is part of the key)."""
        buf = self._arrays.get(key)
        if buf is None:
            shape = (self.m,) + tuple(shape)
            if self._store is not None:
                buf = self._store.take(shape, np.dtype(dtype),
                                       None if zeros is None else (key, zeros))
            else:
                buf = (self.xp.empty if zeros is None else self.xp.zeros)(shape, dtype=dtype)
            self._arrays[key] = buf
        return buf

    def padded(self, xs, padding):
        """xs (m, C, H, W) inside a zero border of `padding` (xs itself when none); the
        border is written once, only the interior per slice."""
        ph, pw = padding
        if ph == 0 and pw == 0:
            return xs
        m, c, h, w = xs.shape
        buf = self.get("pad", (c, h + 2 * ph, w + 2 * pw), xs.dtype, padding)[:m]
        buf[:, :, ph:ph + h, pw:pw + w] = xs
        return buf

    def flat_padded(self, xs, padding, slack):
        """xs (m, C, H, W) zero-padded and flattened to (m, C, Hp*Wp + slack)."""
        m, c, h, w = xs.shape
        hp, wp = h + 2 * padding[0], w + 2 * padding[1]
        buf = self.get("flat", (c, hp * wp + slack), xs.dtype, (padding, hp, wp))[:m]
        _grid(self.xp, buf, hp, wp)[:, :, padding[0]:padding[0] + h,
                                    padding[1]:padding[1] + w] = xs
        return buf

    def cols(self, view, rows, length):
        """The strided window view (m, ...) copied once into columns (m, rows, length), and
        with ones_row a last row of ones (m, rows + 1, length): the bias then rides along
        in the product (one pass over y fewer: 0.1 ms of a 0.75 ms forward)."""
        m = view.shape[0]
        out = self.get("cols", (rows + self.ones_row, length), view.dtype)[:m]
        out[:, :rows].reshape(view.shape)[...] = view
        if self.ones_row:
            out[:, rows] = 1
        return out

    def product(self, a, b):
        """a (P, K) @ b (m, K, L) into a reused (m, P, L) array; for a grouped a (G, P/G,
        K/G) (see grouped), group g's rows of a times group g's rows of b."""
        m = b.shape[0]
        rows = a.shape[0] if a.ndim == 2 else a.shape[0] * a.shape[1]
        out = self.get("prod", (rows, b.shape[2]), b.dtype)[:m]
        grouped_matmul(self.xp, a, b, out)
        return out

    def widen(self, g, wp):
        """g (m, C_out, OH, OW) as (m, C_out, OH*Wp), zeros in the extra columns."""
        m, co, oh, ow = g.shape
        out = self.get("wide", (co, oh, wp), g.dtype, ow)[:m]
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
#
# Grouped convolution (groups G): channel group g of the input meets only the weights of
# output group g, so each product is G independent products. The columns of a sample are
# already ordered channel by channel, (C*kH*kW, L) = (G, C/G*kH*kW, L) with no copy, so the
# G products are ONE stacked matmul, (G, P, K) @ (m, G, K, L), over the same columns the
# ungrouped op builds. A loop of G convolutions would pay G im2cols, G products and a
# concatenation: for a depthwise layer (G = C) that is C tiny ops per call.

def grouped(xp, w2, groups):
    """A (P, K) matrix of stacked group blocks as (G, P/G, K) (itself when groups=1),
    contiguous: a stacked matmul of a strided operand (the flipped kernel of the input
    gradient) leaves BLAS for a loop 2.3x slower (8.4 instead of 3.6 ms on the depthwise
    layer of bench_convnet.py)."""
    if groups == 1:
        return w2
    return xp.ascontiguousarray(w2.reshape(groups, w2.shape[0] // groups, w2.shape[1]))


def grouped_matmul(xp, a, b, out):
    """out (m, P, L) = a @ b (m, K, L) for a (P, K); or, with a grouped (G, P/G, K/G), the
    block-diagonal product: out[:, group g rows] = a[g] @ b[:, group g rows]."""
    if a.ndim == 2:
        xp.matmul(a, b, out=out)
        return out
    g, p, k = a.shape
    m, l = b.shape[0], b.shape[2]
    xp.matmul(a, b.reshape(m, g, k, l), out=out.reshape(m, g, p, l))
    return out


def conv_forward(xp, x, w, b, kernel, stride, padding, dilation, out_hw, acc, out=None,
                 groups=1):
    """y (N, C_out, OH, OW) = [W | b] (C_out, C*kH*kW + 1) @ [im2col(x_n); 1], batch slice
    by slice (groups > 1: block-diagonal W, see grouped_matmul, and the bias added after);
    computed in the accumulation dtype acc (None: x's own). out: the contiguous array to
    write y into (it may overlap x if no sample of y reaches past that sample of x)."""
    xw, w2 = _work(x, acc), _work(w, acc).reshape(w.shape[0], -1)
    ones_row = b is not None and groups == 1  # a group's block has no room for the bias
    if ones_row:
        w2 = xp.concatenate([w2, _work(b, acc).reshape(-1, 1)], axis=1)
    (n, c, h, wd), co, (oh, ow) = x.shape, w.shape[0], out_hw
    y = result(xp, (n, co, oh, ow), w2.dtype, xw, w2) if out is None else out
    w2 = grouped(xp, w2, groups)
    flat = _flat_im2col(stride, ow)
    wp = wd + 2 * padding[1]
    slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, wp if flat else ow), w2.dtype))
    bufs = _SliceBuffers(xp, slices, xw, w2, ones_row=ones_row)
    y3 = y.reshape(n, co, oh * ow)
    for lo, hi in slices:
        if flat:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, oh)
            y[lo:hi] = bufs.product(w2, cols).reshape(hi - lo, co, oh, wp)[..., :ow]
        else:
            cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
            grouped_matmul(xp, w2, cols, y3[lo:hi])
    if b is not None and not ones_row:
        y += _work(b, acc).reshape(co, 1, 1)
    return y


def weight_grad(xp, x, g, kernel, stride, padding, dilation, acc, groups=1):
    """dw (C_out, C/G, kH, kW) = sum_n g_n (C_out, OH*OW) @ im2col(x_n)^T, for groups G
    only the diagonal blocks: group g's rows of g_n times group g's rows of im2col(x_n)."""
    (n, c, h, wd), co, out_hw = x.shape, g.shape[1], g.shape[2:]
    xw, gw = _work(x, acc), _work(g, acc)
    flat = _flat_im2col(stride, out_hw[1])
    if flat:
        wp = wd + 2 * padding[1]
        per_sample = column_bytes(c, kernel, (out_hw[0], wp), xw.dtype)
    else:
        per_sample = column_bytes(c, kernel, out_hw, xw.dtype)
    slices = batch_slices(xp, n, per_sample)
    bufs = _SliceBuffers(xp, slices, xw, gw)
    dw = None
    for lo, hi in slices:
        if flat:
            cols = _slice_flat_cols(bufs, xw[lo:hi], kernel, padding, dilation, wp, out_hw[0])
            g3 = bufs.widen(gw[lo:hi], wp)
        else:
            cols = _slice_cols(bufs, xw[lo:hi], kernel, stride, padding, dilation, out_hw)
            g3 = gw[lo:hi].reshape(hi - lo, co, -1)
        if groups > 1:  # (m, G, C_out/G, L) @ (m, G, L, C/G*kH*kW)
            m, length = hi - lo, g3.shape[2]
            g3 = g3.reshape(m, groups, co // groups, length)
            cols = cols.reshape(m, groups, cols.shape[1] // groups, length)
        part = (g3 @ xp.swapaxes(cols, -1, -2)).sum(axis=0)
        if dw is None:
            dw = part
        else:
            dw += part
    return dw.reshape((co, c // groups) + tuple(kernel))


def input_grad(xp, g, w, x_hw, stride, padding, dilation, acc, into=None, groups=1):
    """dx (N, C, H, W) = col2im(W^T (C*kH*kW, C_out) @ g_n): the transposed convolution
    (groups G: W^T block-diagonal, group g's block its own (C/G*kH*kW, C_out/G) transpose).

    `into`: g itself when nothing else refers to it (the engine's scratch check); dx is then
    written over g when it fits (_fits_into), each slice after its own g was read."""
    n, co, oh, ow = g.shape
    kernel, c = w.shape[2:], w.shape[1] * groups
    (ph, pw), (h, wd) = padding, x_hw
    wt = _work(w, acc).reshape(co, -1).T
    if groups > 1:  # (G, C/G*kH*kW, C_out/G), contiguous (see grouped)
        wt = xp.ascontiguousarray(wt.reshape(wt.shape[0], groups, co // groups)
                                  .transpose(1, 0, 2))
    gw = _work(g, acc)
    if stride != (1, 1):
        hp, wp = h + 2 * ph, wd + 2 * pw
        g3 = gw.reshape(n, co, oh * ow)
        dx = xp.zeros((n, c, hp, wp), dtype=wt.dtype)
        slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, ow), wt.dtype))
        bufs = _SliceBuffers(xp, slices, gw, wt)
        for lo, hi in slices:
            col2im_add(bufs.product(wt, g3[lo:hi]), dx[lo:hi], kernel, stride, dilation,
                       (oh, ow))
        return dx[:, :, ph:ph + h, pw:pw + wd] if ph or pw else dx
    if into is not None and _fits_into(into, gw, wt.dtype, c * h * wd):
        dx = into.reshape(-1)[:n * c * h * wd].reshape(n, c, h, wd)
    else:
        dx = xp.empty((n, c, h, wd), dtype=wt.dtype)
    if co <= 2 * c:
        # With stride 1 the transposed convolution is a convolution: of g padded by
        # d(k-1) - p (cropped where that is negative) with the kernel flipped and its
        # channel axes swapped. Its im2col copies C_out*kH*kW rows where col2im's product
        # writes C*kH*kW rows and then adds them kH*kW times over: 0.74 ms instead of 1.2 ms
        # for the 8->16-channel 14x14 layer of bench_convnet.py (col2im stays ahead when
        # C_out is the larger: 0.56 ms against 1.46 ms for its 1->8-channel layer).
        grow = [d * (k - 1) - p for d, k, p in zip(dilation, kernel, padding)]
        crop_h, crop_w = (max(0, -e) for e in grow)
        if crop_h or crop_w:
            gw = gw[:, :, crop_h:oh - crop_h, crop_w:ow - crop_w]
        flipped = _work(w, acc)[:, :, ::-1, ::-1]
        # channel axes swapped within each group: (G, C_out/G, C/G, ...) -> (C, C_out/G, ...)
        flipped = flipped.reshape((groups, co // groups) + flipped.shape[1:]).transpose(
            0, 2, 1, 3, 4).reshape((c, co // groups) + tuple(kernel))
        return conv_forward(xp, gw, flipped, None, kernel, stride,
                            tuple(max(0, e) for e in grow), dilation, (h, wd), None, out=dx,
                            groups=groups)
    # col2im in flat rows (see _grid): each kernel offset's columns are one contiguous run
    hp, wp = h + 2 * ph, wd + 2 * pw
    run = oh * wp
    slack = dilation[1] * (kernel[1] - 1)
    slices = batch_slices(xp, n, column_bytes(c, kernel, (oh, wp), wt.dtype))
    bufs = _SliceBuffers(xp, slices, gw, wt)
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


def _fits_into(into, g, dtype, per_sample):
    """Whether dx (per_sample elements a sample) may overwrite g: the same contiguous array
    and dtype, no larger per sample (so writing samples [lo, hi) never reaches the g of a
    sample >= hi)."""
    return (into is g and g.dtype == dtype and g.flags.c_contiguous
            and per_sample <= g[0].size)


# ---------------------------------------------------------------- pooling

def lowest(dtype):
    """The padding value no element can lose to: -inf, or an integer type's minimum."""
    dtype = np.dtype(dtype)
    return np.iinfo(dtype).min if dtype.kind in "iu" else -float("inf")


def tiles(kernel, stride, padding, dilation=(1, 1), extra=(0, 0)):
    """Whether the pooling windows tile the input (stride = kernel, no padding, no dilation,
    no window past the edge; a remainder that fits no window is left out): then max_pool
    takes the tiled path."""
    return (stride == kernel and padding == (0, 0) and dilation == (1, 1)
            and extra == (0, 0) and max(kernel) <= 255)


def max_pool(xp, x, kernel, stride, padding, out_hw, picks=True, dilation=(1, 1),
             extra=(0, 0)):
    """(y, picks): each window's maximum, and (picks=True) where its gradient goes: torch's
    rule, the first maximum in row-major order, or the last NaN when the window has any.

    picks are what max_pool_grad needs: (row_pick, col_pick) on the tiled path (see
    _max_pool_tiles), (index,) with each window's offset i*kW + j otherwise."""
    if tiles(kernel, stride, padding, dilation, extra):
        out, pick = _max_pool_tiles(xp, x, kernel, out_hw, picks, nan=False)
        # NaN makes a maximum NaN: check the (small) output once, and only then pay for the
        # NaN rule's extra comparisons (a sum of huge values may give a false alarm: it
        # only costs the recomputation)
        if picks and _floating(x.dtype) and bool(xp.isnan(out.sum())):
            out, pick = _max_pool_tiles(xp, x, kernel, out_hw, picks, nan=True)
        return out, pick
    return _max_pool_windows(xp, x, kernel, stride, padding, out_hw, picks, dilation, extra)


def _floating(dtype):
    return np.dtype(dtype).kind not in "iub"


def _pick_max(xp, parts, out, pick, nan):
    """out = the elementwise max of `parts` (a window's elements in order); pick (uint8
    array or None) = which part torch's rule routes the gradient to: a later part wins if
    it is strictly greater than the maximum so far (so ties keep the first), or (nan=True)
    if it is NaN (so the last NaN wins)."""
    first, second = parts[0], parts[1]
    if pick is not None:
        xp.greater(second, first, out=pick)
        if nan:
            pick |= xp.isnan(second)
    xp.maximum(first, second, out=out)
    for j, part in enumerate(parts[2:], start=2):
        if pick is not None:
            wins = xp.greater(part, out)
            if nan:
                wins |= xp.isnan(part)
            xp.copyto(pick, j, where=wins)
        xp.maximum(out, part, out=out)


def _max_pool_tiles(xp, x, kernel, out_hw, picks, nan):
    """Tiled max pooling in two passes: the maximum along each window row's kW columns
    (col_pick: which column), then down the window's kH row maxima (row_pick: which row).

    Columns first, because torch's rule is row-major: the first row holding the maximum,
    and within it the first column. Each pass is kW (kH) whole-array operations on strided
    views, no copy of the windows; on the 2x2 pools of bench_convnet.py this (with the
    picks saved for the backward) takes 0.8 ms a step where comparing x with the upsampled
    maxima in the backward took 2.5 ms."""
    (kh, kw), (oh, ow) = kernel, out_hw
    n, c = x.shape[:2]
    hc, wc = oh * kh, ow * kw
    shape = (n, c, oh, ow)
    out = result(xp, shape, x.dtype, x)
    col_pick = row_pick = None
    if kw > 1:
        cols = x[:, :, :hc, :wc].reshape(n, c, hc, ow, kw)
        col_max = work(xp, (n, c, hc, ow), x.dtype, x) if kh > 1 else out
        if picks:
            col_pick = result(xp, (n, c, hc, ow), np.uint8, x)
        _pick_max(xp, [cols[..., j] for j in range(kw)], col_max, col_pick, nan)
    else:
        col_max = x[:, :, :hc, :wc]
    if kh > 1:
        rows = col_max.reshape(n, c, oh, kh, ow)
        if picks:
            row_pick = result(xp, shape, np.uint8, x)
        _pick_max(xp, [rows[:, :, :, i] for i in range(kh)], out, row_pick, nan)
    elif kw == 1:
        out[...] = col_max
    return out, ((row_pick, col_pick) if picks else None)


def _max_pool_windows(xp, x, kernel, stride, padding, out_hw, picks, dilation, extra):
    """Max pooling over any windows (overlapping, padded, dilated): one pass per kernel
    offset.

    index starts at each window's first non-padding element (where torch sends the
    gradient of a window whose elements are all the lowest value) and moves to an offset
    whose element is strictly greater than the maximum so far, or NaN."""
    n, c = x.shape[:2]
    xpad = pad(xp, x, padding, value=lowest(x.dtype), extra=extra)
    slices = offset_slices(kernel, stride, dilation, out_hw)
    out = result(xp, (n, c) + tuple(out_hw), x.dtype, x)
    if not picks:
        _, r0, c0 = slices[0]
        out[...] = xpad[:, :, r0, c0]
        for _, rows, cols in slices[1:]:
            xp.maximum(out, xpad[:, :, rows, cols], out=out)
        return out, None
    index = result(xp, out.shape, np.uint8 if len(slices) <= 255 else np.int32, x)
    index[...] = xp.asarray(_first_valid_offsets(kernel, stride, padding, out_hw, dilation))
    out.fill(lowest(x.dtype))
    nan = _floating(x.dtype)
    for o, rows, cols in slices:
        win = xpad[:, :, rows, cols]
        wins = xp.greater(win, out)
        if nan:
            wins |= xp.isnan(win)
        xp.copyto(index, o, where=wins)
        xp.maximum(out, win, out=out)
    return out, (index,)


def _first_valid_offsets(kernel, stride, padding, out_hw, dilation=(1, 1)):
    """(OH, OW) offsets i*kW + j of each window's first element inside the input: the
    first i with start + d*i >= 0, start = s*p - padding (a ceiling division)."""
    first = [np.maximum(0, -((np.arange(out_hw[a]) * stride[a] - padding[a]) // dilation[a]))
             for a in range(2)]
    return (first[0][:, None] * kernel[1] + first[1][None, :]).astype(np.uint8 if
                                                                    kernel[0] * kernel[1] <= 255
                                                                    else np.int32)


def max_pool_grad(xp, g, picks, x_shape, kernel, stride, padding, dilation=(1, 1),
                  extra=(0, 0)):
    """dx: each window's g at the element its picks name (max_pool), zeros elsewhere."""
    if len(picks) == 1:
        return max_pool_scatter(xp, g, picks[0], x_shape, kernel, stride, padding, dilation,
                                extra)
    row_pick, col_pick = picks
    (kh, kw), (n, c, oh, ow) = kernel, g.shape
    h, w = x_shape[2:]
    hc, wc = oh * kh, ow * kw
    # every element of the tiled part is written: zeros only for a left-out remainder
    dx = gradient(xp, x_shape, g.dtype, g)
    if (hc, wc) != (h, w):
        dx.fill(0)
    inside = dx[:, :, :hc, :wc]
    # g * (pick == i) is one pass, but inf * 0 is NaN: the exact (copy where) form when g
    # has an inf or NaN (torch's gradient is 0 off the maximum whatever g holds)
    exact = not bool(xp.isfinite(g.sum()))
    if kh > 1:  # undo the second pass: g down to the picked row of each window
        target = (work(xp, (n, c, hc, ow), g.dtype, g) if kw > 1 else inside)
        _route(xp, g, row_pick, kh, target.reshape(n, c, oh, kh, ow), 3, exact)
        g = target
    if kw > 1:  # then across to the picked column of that row
        _route(xp, g, col_pick, kw, inside.reshape(n, c, hc, ow, kw), 4, exact)
    elif kh == 1:
        inside[...] = g
    return dx


def _route(xp, g, pick, k, target, axis, exact):
    """target[..., i along axis, ...] = g where pick == i, else 0, for i < k."""
    mask = work(xp, g.shape, bool, g, pick)
    for i in range(k):
        part = target[(slice(None),) * axis + (i,)]
        xp.equal(pick, i, out=mask)
        if exact:
            part[...] = 0
            xp.copyto(part, g, where=mask)
        else:
            xp.multiply(g, mask, out=part)


def max_pool_scatter(xp, g, index, x_shape, kernel, stride, padding, dilation=(1, 1),
                     extra=(0, 0)):
    """dx: each window's g placed at its offset `index` (i*kW + j), summed where windows
    overlap; one pass per offset."""
    dx = padded_zeros(xp, x_shape, padding, extra, g.dtype)
    plain_write = disjoint(kernel, stride, dilation)
    zero = xp.zeros((), dtype=g.dtype)
    for o, rows, cols in offset_slices(kernel, stride, dilation, g.shape[2:]):
        part = xp.where(index == o, g, zero)
        if plain_write:
            dx[:, :, rows, cols] = part
        else:
            dx[:, :, rows, cols] += part
    return crop(dx, x_shape, padding)


def max_pool_gather(xp, h, index, kernel, stride, padding, dilation=(1, 1), extra=(0, 0)):
    """y[n,c,p,q] = h_pad[n, c, window (p, q) at its offset index]: the adjoint of
    max_pool_scatter (and max pooling's value, given the arg-max)."""
    hpad = pad(xp, h, padding, extra=extra)
    out = xp.zeros(index.shape, dtype=h.dtype)
    zero = xp.zeros((), dtype=h.dtype)
    for o, rows, cols in offset_slices(kernel, stride, dilation, index.shape[2:]):
        out += xp.where(index == o, hpad[:, :, rows, cols], zero)
    return out


def flat_indices(xp, index, x_hw, kernel, stride, padding, dilation):
    """torch's return_indices: each window's picked offset i*kW + j as the flat position
    row*W + col of that element in its (H, W) plane, int64."""
    oh, ow = index.shape[2:]
    i, j = xp.divmod(index.astype(np.int64), kernel[1])
    rows = xp.arange(oh, dtype=np.int64)[:, None] * stride[0] - padding[0] + i * dilation[0]
    cols = xp.arange(ow, dtype=np.int64)[None, :] * stride[1] - padding[1] + j * dilation[1]
    return rows * x_hw[1] + cols


def max_pool_index(xp, picks, kernel, out_shape):
    """Each window's picked offset i*kW + j (for max_pool_scatter/gather) from the picks
    (out_shape: the pooled shape, for a 1 x 1 kernel, which picks nothing)."""
    if len(picks) == 1:
        return picks[0]
    row_pick, col_pick = picks
    kh, kw = kernel
    if row_pick is None and col_pick is None:
        return xp.zeros(out_shape, dtype=np.uint8)
    if col_pick is None:
        return row_pick
    if row_pick is None:
        return col_pick
    n, c, oh, ow = row_pick.shape
    rows = col_pick.reshape(n, c, oh, kh, ow)
    j = xp.take_along_axis(rows, row_pick[:, :, :, None, :].astype(np.intp), axis=3)[:, :, :, 0]
    return (row_pick.astype(np.int32) * kw + j).astype(np.int32)


def window_counts(xp, x_hw, kernel, stride, padding, out_hw, dtype, include_pad=False):
    """Elements in each window, (OH, OW): the non-padding ones, or (include_pad) those inside
    the padded input (fewer than kH*kW only for ceil_mode's windows past its edge), as
    torch counts them."""
    per_axis = []
    for a in range(2):
        start = np.arange(out_hw[a]) * stride[a] - padding[a]
        if include_pad:
            stop = np.minimum(start + kernel[a], x_hw[a] + padding[a])
        else:
            stop = np.minimum(start + kernel[a], x_hw[a])
            start = np.maximum(start, 0)
        per_axis.append(stop - start)
    return xp.asarray(np.outer(per_axis[0], per_axis[1]).astype(dtype))


def window_sum(xp, xpad, kernel, stride, out_hw):
    """sum over each kH x kW window of the padded input: one strided add per offset."""
    slices = offset_slices(kernel, stride, (1, 1), out_hw)
    _, r0, c0 = slices[0]
    total = xpad[:, :, r0, c0].copy()
    for _, rows, cols in slices[1:]:
        total += xpad[:, :, rows, cols]
    return total


def window_spread(xp, g, x_hw, kernel, stride, padding, extra=(0, 0)):
    """Adjoint of window_sum: each window's g added to every pixel of the window."""
    x_shape = tuple(g.shape[:2]) + tuple(x_hw)
    dx = padded_zeros(xp, x_shape, padding, extra, g.dtype)
    plain_write = disjoint(kernel, stride)
    for _, rows, cols in offset_slices(kernel, stride, (1, 1), g.shape[2:]):
        if plain_write:
            dx[:, :, rows, cols] = g
        else:
            dx[:, :, rows, cols] += g
    return crop(dx, x_shape, padding)
