"""conv2d, max_pool2d, avg_pool2d: values and gradients vs torch, gradcheck, double
backward, half precision, clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from helpers import conv2d_reference  # tests/ is on sys.path (rootdir-relative import)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a, device="cpu", requires_grad=True):
    return ad.tensor(a, device=device, requires_grad=requires_grad)


def _np(t):
    return t.cpu().numpy() if hasattr(t, "cpu") else np.asarray(t)


# ---------------------------------------------------------------- input strategies

@st.composite
def conv_cases(draw):
    """Valid (x shape, w shape, stride, padding, dilation), small."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    co = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    # the input must hold at least one dilated window once padded
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    return (n, c, h, w), (co, c, kh, kw), (sh, sw), (ph, pw), (dh, dw)


# ---------------------------------------------------------------- conv2d

@given(conv_cases(), st.booleans())
def test_conv2d_matches_reference_and_gradcheck(case, with_bias):
    xs, ws, stride, padding, dilation = case
    rng = _rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = ad.conv2d(_t(x), _t(w), _t(b) if with_bias else None, stride, padding, dilation)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x, w, b if with_bias else None,
                                                           stride, padding, dilation),
                               rtol=1e-10, atol=1e-10)
    inputs = [_t(x), _t(w)] + ([_t(b)] if with_bias else [])
    assert ad.gradcheck(lambda *a: ad.conv2d(*a, stride=stride, padding=padding,
                                             dilation=dilation), inputs)


@given(conv_cases())
@settings(max_examples=15)
def test_conv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    xs, ws, stride, padding, dilation = case
    rng = _rng(2)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    X, W, B = _t(x), _t(w), _t(b)
    y = ad.conv2d(X, W, B, stride, padding, dilation)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation)
    ty.backward(torch.tensor(g))
    assert y.dtype == ad.float32
    for ours, theirs in ((y, ty), (X.grad, tx.grad), (W.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


def _run_on(device, fn, arrays):
    """fn's output and the gradients of sum(out**2) w.r.t. every input, as NumPy arrays."""
    ts = [_t(a, device) for a in arrays]
    y = fn(*ts)
    (y * y).sum().backward()
    return [_np(y)] + [_np(t.grad) for t in ts]


def test_conv2d_on_device(device):
    rng = _rng(3)
    arrays = [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)),
              rng.standard_normal(4)]

    def fn(*a):
        return ad.conv2d(*a, stride=2, padding=1)
    got = _run_on(device, fn, arrays)
    np.testing.assert_allclose(got[0], conv2d_reference(*arrays, (2, 2), (1, 1), (1, 1)),
                               rtol=1e-10)
    # the device agrees with the CPU, whose gradients are checked numerically
    for a, b in zip(got, _run_on("cpu", fn, arrays)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert ad.gradcheck(fn, [_t(a) for a in arrays])


@pytest.mark.parametrize("width", [9, 23])
def test_conv2d_both_stride1_layouts(width):
    """Narrow maps use row-flattened windows, wide ones plain im2col: both must agree."""
    from autodiff.ops import _conv_kernels as conv
    assert (width <= conv.FLAT_IM2COL_MAX_WIDTH) == (width == 9)
    rng = _rng(13)
    arrays = [rng.standard_normal((3, 2, 4, width)), rng.standard_normal((3, 2, 3, 2)),
              rng.standard_normal(3)]

    def fn(*a):
        return ad.conv2d(*a, padding=(1, 2), dilation=(1, 2))
    got = _run_on("cpu", fn, arrays)
    np.testing.assert_allclose(got[0], conv2d_reference(*arrays, (1, 1), (1, 2), (1, 2)),
                               rtol=1e-10)
    assert ad.gradcheck(fn, [_t(a) for a in arrays])


@pytest.mark.parametrize("budget", [1, 3000, 13000, 1 << 30])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_batch_slices_agree(monkeypatch, budget, stride):
    """The CPU builds im2col columns a slice of the batch at a time: one sample per slice,
    uneven slices (the last one shorter) and the whole batch must all give the same."""
    from autodiff.ops import _conv_kernels as conv
    monkeypatch.setattr(conv, "CPU_COLUMN_BYTES", budget)
    rng = _rng(15)
    arrays = [rng.standard_normal((5, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3)),
              rng.standard_normal(3)]

    def fn(*a):
        return ad.conv2d(*a, stride=stride, padding=1)
    got = _run_on("cpu", fn, arrays)
    np.testing.assert_allclose(got[0], conv2d_reference(*arrays, (stride,) * 2, (1, 1), (1, 1)),
                               rtol=1e-10)
    assert ad.gradcheck(fn, [_t(a) for a in arrays])


def test_conv2d_non_contiguous_input():
    rng = _rng(14)
    base = rng.standard_normal((2, 6, 3, 7))
    x = base.transpose(0, 2, 3, 1)[:, :, ::-1, :]  # (2, 3, 7, 6), negative strides
    w = rng.standard_normal((2, 3, 2, 3))
    for padding, stride in (((0, 0), (1, 1)), ((1, 0), (2, 1)), ((1, 1), (1, 1))):
        y = ad.conv2d(_t(x), _t(w), stride=stride, padding=padding)
        np.testing.assert_allclose(
            y.numpy(), conv2d_reference(np.ascontiguousarray(x), w, None, stride, padding,
                                        (1, 1)), rtol=1e-10)


def test_conv2d_double_backward_gradcheck():
    rng = _rng(4)
    X = _t(rng.standard_normal((2, 2, 6, 5)))
    W = _t(rng.standard_normal((3, 2, 3, 2)))
    B = _t(rng.standard_normal(3))

    def f(x, w, b):
        y = ad.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2))
        gx, gw, gb = ad.grad((y * y).sum(), [x, w, b], create_graph=True)
        return (gx * gx).sum() + (gw ** 3).sum() + (gb * gb).sum()
    assert ad.gradcheck(f, [X, W, B])


def test_conv2d_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    rng = _rng(5)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    X, W = _t(x), _t(w)
    y = ad.conv2d(X, W, padding=1)
    gx, gw = ad.grad((y.tanh()).sum(), [X, W], create_graph=True)
    ((gx * gx).sum() + (gw * gw).sum()).backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1)
    tgx, tgw = torch.autograd.grad(ty.tanh().sum(), [tx, tw], create_graph=True)
    ((tgx * tgx).sum() + (tgw * tgw).sum()).backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), tw.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16])
def test_conv2d_half_accumulates_in_float32(dtype):
    rng = _rng(6)
    x = rng.standard_normal((2, 8, 6, 6))
    w = rng.standard_normal((4, 8, 3, 3)) * 0.1
    X, W = _t(x.astype(dtype)), _t(w.astype(dtype))
    y = ad.conv2d(X, W, padding=1)
    assert y.dtype == dtype
    ref = conv2d_reference(X.numpy().astype(np.float64), W.numpy().astype(np.float64), None,
                           (1, 1), (1, 1), (1, 1))
    tol = 1e-2 if dtype == ad.float16 else 4e-2
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref, rtol=tol, atol=tol)
    y.sum().backward()
    assert X.grad.dtype == dtype and W.grad.dtype == dtype


def test_conv2d_only_needed_grads():
    rng = _rng(7)
    x = _t(rng.standard_normal((1, 1, 4, 4)), requires_grad=False)
    W = _t(rng.standard_normal((2, 1, 3, 3)))
    ad.conv2d(x, W).sum().backward()
    assert x.grad is None and W.grad is not None
    assert W.grad.shape == (2, 1, 3, 3)


def test_conv2d_errors():
    x = ad.zeros((2, 3, 5, 5))
    w = ad.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: input has 2 channels.*C_in=3"):
        ad.conv2d(ad.zeros((2, 2, 5, 5)), w)
    with pytest.raises(ValueError, match=r"conv2d: input must be 4-D.*\(3, 5, 5\)"):
        ad.conv2d(ad.zeros((3, 5, 5)), w)
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        ad.conv2d(x, ad.zeros((4, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: kernel \(3, 3\).*larger than the padded"):
        ad.conv2d(ad.zeros((1, 3, 2, 5)), w)
    with pytest.raises(ValueError, match=r"conv2d: kernel.*dilated extent 5"):
        ad.conv2d(ad.zeros((1, 3, 4, 4)), w, dilation=2, padding=(0, 2))
    with pytest.raises(ValueError, match=r"conv2d: stride must be >= 1"):
        ad.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"conv2d: padding must be >= 0"):
        ad.conv2d(x, w, padding=(-1, 0))
    with pytest.raises(ValueError, match=r"conv2d: dilation must be >= 1"):
        ad.conv2d(x, w, dilation=0)
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair"):
        ad.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(4,\)"):
        ad.conv2d(x, w, ad.zeros(3))
    with pytest.raises(TypeError, match=r"conv2d: all operands must have one dtype"):
        ad.conv2d(x, ad.zeros((4, 3, 3, 3), dtype=ad.float64))
    with pytest.raises(TypeError, match=r"conv2d: input must be a floating-point"):
        ad.conv2d(ad.zeros((2, 3, 5, 5), dtype=ad.int64), w)


# ---------------------------------------------------------------- pooling

@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 7))
    w = draw(st.integers(max(1, kw - 2 * pw), 7))
    return (n, c, h, w), (kh, kw), (sh, sw), (ph, pw)


@given(pool_cases(), st.booleans())
def test_max_pool2d_matches_torch_with_ties(case, ties):
    torch = pytest.importorskip("torch")
    xs, k, s, p = case
    rng = _rng(8)
    # rounded values make ties common: the gradient must go to the first maximum
    x = np.round(rng.standard_normal(xs)) if ties else rng.standard_normal(xs)
    X = _t(x)
    y = ad.max_pool2d(X, k, s, p)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, k, s, p)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_torch(case, count_include_pad):
    torch = pytest.importorskip("torch")
    xs, k, s, p = case
    rng = _rng(9)
    x = rng.standard_normal(xs)
    X = _t(x)
    y = ad.avg_pool2d(X, k, s, p, count_include_pad=count_include_pad)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, k, s, p, count_include_pad=count_include_pad)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool2d_reference_and_tie_rule():
    x = np.array([[[[1., 3., 3., 0.],
                    [3., 2., 1., 3.],
                    [0., 0., 5., 5.],
                    [0., 0., 5., 5.]]]])
    X = _t(x)
    y = ad.max_pool2d(X, 2)
    np.testing.assert_array_equal(y.numpy(), [[[[3., 3.], [0., 5.]]]])
    y.backward(np.array([[[[1., 2.], [3., 4.]]]]))
    # every window has tied maxima; each gradient lands on the first in row-major order
    np.testing.assert_array_equal(X.grad.numpy(), [[[[0., 1., 2., 0.],
                                                     [0., 0., 0., 0.],
                                                     [3., 0., 4., 0.],
                                                     [0., 0., 0., 0.]]]])


def test_max_pool2d_nan_propagates_and_gets_gradient():
    x = np.array([[[[1., np.nan], [2., 0.]]]])
    X = _t(x)
    y = ad.max_pool2d(X, 2)
    assert np.isnan(y.numpy()).all()
    y.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(X.grad.numpy(), [[[[0., 1.], [0., 0.]]]])


def test_max_pool2d_padding_is_minus_infinity():
    x = -np.ones((1, 1, 2, 2))
    y = ad.max_pool2d(_t(x), 2, stride=1, padding=1)
    np.testing.assert_array_equal(y.numpy(), -np.ones((1, 1, 3, 3)))


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool_gradcheck_and_double_backward(op):
    rng = _rng(10)
    # distinct values keep max pooling away from its (measure-zero) kinks
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0
    X = _t(x)
    pool = (lambda a: ad.max_pool2d(a, 3, 2, 1)) if op == "max" else \
        (lambda a: ad.avg_pool2d(a, 3, 2, 1, count_include_pad=False))
    assert ad.gradcheck(pool, [X])

    def twice(a):
        y = pool(a * a)
        (ga,) = ad.grad((y * y).sum(), [a], create_graph=True)
        return (ga * ga).sum()
    assert ad.gradcheck(twice, [X])


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool_on_device(device, op):
    torch = pytest.importorskip("torch")
    x = np.round(_rng(12).standard_normal((2, 3, 7, 6)) * 2)  # ties included
    if op == "max":
        fn, ref = (lambda a: ad.max_pool2d(a, 3, 2, 1)), \
            (lambda a: torch.nn.functional.max_pool2d(a, 3, 2, 1))
    else:
        fn, ref = (lambda a: ad.avg_pool2d(a, 3, 2, 1, count_include_pad=False)), \
            (lambda a: torch.nn.functional.avg_pool2d(a, 3, 2, 1, count_include_pad=False))
    y, gx = _run_on(device, fn, [x])
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16])
def test_pool_half(dtype):
    rng = _rng(11)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    X = _t(x)
    y = ad.max_pool2d(X, 2) + ad.avg_pool2d(X, 3, 2, 1)
    assert y.dtype == dtype
    y.sum().backward()
    assert X.grad.dtype == dtype
    ref = ad.max_pool2d(_t(x.astype(np.float32)), 2) + ad.avg_pool2d(_t(x.astype(np.float32)), 3, 2, 1)
    np.testing.assert_allclose(y.numpy().astype(np.float32), ref.numpy(), rtol=2e-2, atol=2e-2)


def test_pool_errors():
    x = ad.zeros((1, 2, 4, 4))
    for pool in (ad.max_pool2d, ad.avg_pool2d):
        name = pool.__name__
        with pytest.raises(ValueError, match=rf"{name}: input must be 4-D"):
            pool(ad.zeros((2, 4, 4)), 2)
        with pytest.raises(ValueError, match=rf"{name}: kernel \(5, 5\).*larger than the padded"):
            pool(x, 5)
        with pytest.raises(ValueError, match=rf"{name}: padding \(2, 2\) must be at most half"):
            pool(x, 3, padding=2)
        with pytest.raises(ValueError, match=rf"{name}: stride must be >= 1"):
            pool(x, 2, stride=0)
        with pytest.raises(TypeError, match=rf"{name}: kernel_size must be an int or a pair"):
            pool(x, 2.5)


def test_derivative_strings_and_names():
    X = _t(_rng().standard_normal((1, 1, 4, 4)))
    W = _t(_rng().standard_normal((1, 1, 2, 2)))
    for y, name in ((ad.conv2d(X, W), "conv2d"), (ad.max_pool2d(X, 2), "max_pool2d"),
                    (ad.avg_pool2d(X, 2), "avg_pool2d")):
        assert y.grad_fn.name == name
        assert y.grad_fn.derivative


# ---------------------------------------------------------------- the tuned kernel paths

def _max_pool_reference(x, k, s, p):
    """Direct max pooling in float64 and torch's gradient routing: each window's gradient
    goes to its first maximum in row-major order, or to its last NaN when it has any; a
    window of only -inf (padding included) routes to its first element inside x."""
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.empty((n, c, oh, ow), x.dtype)
    where = np.empty((n, c, oh, ow, 2), int)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, at = None, None
                    for di in range(kh):
                        for dj in range(kw):
                            r, q = i * sh - ph + di, j * sw - pw + dj
                            if not (0 <= r < h and 0 <= q < w):
                                continue
                            v = x[a, b, r, q]
                            if at is None or v > best or np.isnan(v):
                                best, at = v, (r, q)
                    y[a, b, i, j], where[a, b, i, j] = best, at
    return y, where


def _route_reference(g, where, x_shape):
    dx = np.zeros(x_shape)
    for idx in np.ndindex(g.shape):
        r, q = where[idx]
        dx[idx[0], idx[1], r, q] += g[idx]
    return dx


@pytest.mark.parametrize("shape,k,s,p", [
    ((2, 3, 6, 8), (2, 2), (2, 2), (0, 0)),   # tiled
    ((2, 2, 7, 9), (2, 2), (2, 2), (0, 0)),   # tiled, odd sizes: a left-out remainder
    ((1, 2, 6, 7), (3, 2), (3, 2), (0, 0)),   # tiled, rectangular, 3 rows per window
    ((1, 2, 5, 6), (1, 3), (1, 3), (0, 0)),   # tiled, one row
    ((1, 2, 6, 5), (2, 1), (2, 1), (0, 0)),   # tiled, one column
    ((1, 1, 4, 4), (1, 1), (1, 1), (0, 0)),   # tiled, identity
    ((2, 2, 7, 6), (3, 3), (2, 2), (1, 1)),   # overlapping, padded
    ((1, 2, 5, 5), (2, 3), (1, 2), (1, 1)),   # overlapping, padded, rectangular
])
@pytest.mark.parametrize("values", ["ties", "nans", "minus_inf"])
def test_max_pool2d_paths_match_reference(shape, k, s, p, values):
    rng = _rng(21)
    x = np.round(rng.standard_normal(shape) * 1.5)  # many ties
    if values == "nans":  # several NaNs per window: the last one gets the gradient (torch)
        x[rng.random(shape) < 0.3] = np.nan
    elif values == "minus_inf":  # whole windows of -inf, next to -inf padding
        x[rng.random(shape) < 0.6] = -np.inf
    X = _t(x)
    y = ad.max_pool2d(X, k, s, p)
    ref, where = _max_pool_reference(x, k, s, p)
    np.testing.assert_array_equal(y.numpy(), ref)
    g = rng.standard_normal(ref.shape)
    y.backward(g)  # overlapping windows add in another order: not bit for bit
    np.testing.assert_allclose(X.grad.numpy(), _route_reference(g, where, shape), rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("k,s,p", [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))])
def test_max_pool2d_nans_and_infinite_gradients_match_torch(k, s, p):
    torch = pytest.importorskip("torch")
    rng = _rng(22)
    x = np.round(rng.standard_normal((2, 3, 7, 8)))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[rng.random(x.shape) < 0.2] = -np.inf
    X, tx = _t(x), torch.tensor(x, requires_grad=True)
    y, ty = ad.max_pool2d(X, k, s, p), torch.nn.functional.max_pool2d(tx, k, s, p)
    g = rng.standard_normal(y.shape)
    g[0, 0, 0, 0], g[1, 2, 1, 1] = np.inf, np.nan  # 0 off the maximum, whatever g holds
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(X.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_max_pool2d_integers_both_paths(dtype):
    x = _rng(23).integers(0, 5, (2, 2, 6, 7)).astype(dtype)
    for k, s, p in (((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))):
        y = ad.max_pool2d(ad.tensor(x), k, s, p)
        assert y.dtype == ad.tensor(x).dtype
        np.testing.assert_array_equal(y.numpy(), _max_pool_reference(x, k, s, p)[0])


def test_max_pool2d_non_contiguous_input_and_no_grad():
    rng = _rng(24)
    base = rng.standard_normal((2, 9, 3, 8))
    x = base.transpose(0, 2, 3, 1)[:, :, ::-1, ::2]  # (2, 3, 8, 5), negative strides
    X = _t(x)
    y = ad.max_pool2d(X, 2)
    ref, where = _max_pool_reference(np.ascontiguousarray(x), (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(y.numpy(), ref)
    y.backward(np.ones(ref.shape))
    np.testing.assert_array_equal(X.grad.numpy(), _route_reference(np.ones(ref.shape), where,
                                                                   x.shape))
    with ad.no_grad():
        np.testing.assert_array_equal(ad.max_pool2d(_t(x), 2).numpy(), ref)


def test_max_pool2d_tiled_double_backward():
    x = _rng(25).permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7) / 5.0
    X = _t(x)

    def twice(a):
        y = ad.max_pool2d(a * a, 2)
        (ga,) = ad.grad((y * y).sum(), [a], create_graph=True)
        return (ga * ga).sum()
    assert ad.gradcheck(lambda a: ad.max_pool2d(a, 2), [X])
    assert ad.gradcheck(twice, [X])


@pytest.mark.parametrize("c,co", [(3, 2), (2, 4), (4, 8), (1, 3)])  # C_out <= 2 C_in or not
@pytest.mark.parametrize("k,p,d", [((3, 3), (1, 1), (1, 1)), ((1, 1), (1, 0), (1, 1)),
                                   ((2, 3), (2, 1), (1, 2)), ((3, 1), (0, 2), (2, 1))])
@pytest.mark.parametrize("width", [5, 21])  # row-flattened columns, or plain im2col
def test_conv2d_stride1_input_gradient_paths(c, co, k, p, d, width):
    """Stride 1's input gradient is a convolution of g with the flipped kernel (padding
    d(k-1) - p, a crop where that is negative) or a col2im: both against float64 central
    differences and torch."""
    rng = _rng(26)
    x = rng.standard_normal((2, c, 6, width))
    w = rng.standard_normal((co, c) + k)
    X, W = _t(x), _t(w)
    y = ad.conv2d(X, W, None, 1, p, d)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x, w, None, (1, 1), p, d),
                               rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    # (y * g).sum(): the engine's own gradient array reaches conv2d (dx may overwrite it)
    (y * _t(g, requires_grad=False)).sum().backward()
    assert ad.gradcheck(lambda a: ad.conv2d(a, W.detach(), None, 1, p, d), [_t(x)])
    torch = pytest.importorskip("torch")
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, None, 1, p, d).backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k,s,p,include", [(2, 2, 0, True), (3, 2, 1, True), (3, 2, 1, False),
                                           ((2, 3), 1, (1, 1), False)])
def test_avg_pool2d_int64_as_torch(k, s, p, include):
    """torch averages int64 (integer sum, quotient rounded toward zero) and refuses other
    integer types with NotImplementedError."""
    torch = pytest.importorskip("torch")
    x = _rng(27).integers(-9, 10, (2, 3, 6, 7))
    y = ad.avg_pool2d(ad.tensor(x), k, s, p, count_include_pad=include)
    ty = torch.nn.functional.avg_pool2d(torch.tensor(x), k, s, p, count_include_pad=include)
    assert y.dtype == ad.int64
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


@pytest.mark.parametrize("dtype", [ad.int32, ad.int16, ad.int8, ad.uint8, ad.bool])
def test_avg_pool2d_other_integer_types_refused_as_torch(dtype):
    x = ad.zeros((1, 1, 4, 4), dtype=dtype)
    with pytest.raises(NotImplementedError, match=r"avg_pool2d: not implemented for dtype") \
            as info:
        ad.avg_pool2d(x, 2)
    assert info.value.op == "avg_pool2d"


def test_reused_buffers_never_shared_while_referenced():
    """conv2d/max_pool2d keep their arrays between calls (no page faults each step): an
    array is reused only once nothing refers to it, and a gradient is never shared."""
    rng = _rng(28)
    w = _t(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    xs = [rng.standard_normal((2, 3, 8, 8)).astype(np.float32) for _ in range(3)]
    outs = [ad.conv2d(_t(x, requires_grad=False), w, padding=1) for x in xs[:2]]
    kept = outs[0].numpy()  # a view the caller holds: its memory must not be reused
    expected = kept.copy()
    del outs[0]
    for x in xs:
        y = ad.max_pool2d(ad.conv2d(_t(x, requires_grad=False), w, padding=1).relu(), 2)
        assert not np.shares_memory(y.numpy(), kept)
        y.sum().backward()
    np.testing.assert_array_equal(kept, expected)
    np.testing.assert_allclose(outs[0].numpy(), conv2d_reference(
        xs[1].astype(np.float64), w.numpy().astype(np.float64), None, (1, 1), (1, 1),
        (1, 1)), rtol=1e-5, atol=1e-5)
    # a step repeated gives the same gradient (reused buffers hold no stale values)
    grads = []
    for _ in range(3):
        w.grad = None
        h = ad.max_pool2d(ad.conv2d(_t(xs[0], requires_grad=False), w, padding=1).relu(), 2)
        (h * h).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(grads[0], grads[2])


def test_kept_buffers_do_not_grow_step_after_step():
    """Gradients conv2d's backward hands back to the kernels' store are kept only while no
    spare of their shape is there: repeating a step keeps the store's size."""
    from autodiff.ops import _conv_kernels as kernels
    rng = _rng(29)
    # big enough to be past the kept-gradients limit (the fast path's scratch condition)
    x = _t(rng.standard_normal((4, 3, 24, 24)).astype(np.float32), requires_grad=False)
    w = _t(rng.standard_normal((6, 3, 3, 3)).astype(np.float32))
    c = _t(rng.standard_normal((4, 6, 24, 24)).astype(np.float32), requires_grad=False)
    sizes = []
    for _ in range(8):
        # y * c: a fresh gradient array reaches conv2d's backward every step
        (ad.conv2d(x, w, padding=1) * c).sum().backward()
        store = kernels._Store._local.store
        sizes.append(store.nbytes)
    assert sizes[2:] == [sizes[2]] * 6
    from autodiff import _fastpath
    if _fastpath.ENABLED:  # the plain core (AUTODIFF_FASTPATH=0) hands no gradient back
        assert len(store.arrays[((4, 6, 24, 24), np.dtype(np.float32), None)]) == 2  # y, spare
