"""max_pool2d / avg_pool2d with torch's options: ceil_mode, dilation, return_indices,
divisor_override, count_include_pad; the layers' positional order and repr. Values,
indices and gradients against a direct NumPy definition of torch's rules and float64
central differences, and against torch where installed."""
import inspect

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff as ad
import nn
import nn.functional as F
from autodiff.testing import assert_gradgrads_close, assert_grads_close


def _out_size(size, k, s, p, d, ceil):
    """torch's pooling_output_shape."""
    n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return n - 1 if ceil and (n - 1) * s >= size + p else n


def pool_reference(x, op, k, s, p, d=(1, 1), ceil=False, count_include_pad=True,
                   divisor_override=None):
    """torch's pooling from its definition, window by window: (y, flat indices) for max
    (first maximum in row-major order), y for avg (divisor: override, else the window's
    size clipped to the padded input, or its count of real elements)."""
    n, c, h, w = x.shape
    oh, ow = (_out_size(x.shape[2 + a], k[a], s[a], p[a], d[a], ceil) for a in (0, 1))
    y = np.zeros((n, c, oh, ow))
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for a in range(oh):
        for b in range(ow):
            r0, c0 = a * s[0] - p[0], b * s[1] - p[1]
            rows = [r0 + i * d[0] for i in range(k[0])]
            cols = [c0 + j * d[1] for j in range(k[1])]
            inside = [(r, q) for r in rows for q in cols if 0 <= r < h and 0 <= q < w]
            vals = np.stack([x[:, :, r, q] for r, q in inside], axis=-1)
            if op == "max":
                first = np.argmax(vals, axis=-1)  # the first maximum
                y[:, :, a, b] = np.max(vals, axis=-1)
                flat = np.array([r * w + q for r, q in inside])
                idx[:, :, a, b] = flat[first]
                continue
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = ((min(r0 + k[0], h + p[0]) - r0) * (min(c0 + k[1], w + p[1]) - c0))
            else:
                divisor = len(inside)
            y[:, :, a, b] = vals.sum(axis=-1) / divisor
    return (y, idx) if op == "max" else y


@st.composite
def pool_options(draw, op):
    """A geometry torch accepts (padding at most half the kernel, output not empty) whose
    every window holds an input element (see test_dilated_windows_only_in_padding_refused)."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if op == "max" else (1, 1)
    ceil = draw(st.booleans())
    hw = []
    for a in (0, 1):
        least = max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a])
        hw.append(least + draw(st.integers(0, 5)))
    for a in (0, 1):  # dilated windows stepping over the input entirely: drawn again
        n = _out_size(hw[a], k[a], s[a], p[a], d[a], ceil)
        for o in range(n):
            starts = [o * s[a] - p[a] + i * d[a] for i in range(k[a])]
            assume(any(0 <= t < hw[a] for t in starts))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(hw),
                k=k, s=s, p=p, d=d, ceil=ceil)


@given(o=pool_options("max"))
def test_max_pool_options_match_reference(o):
    x = np.random.default_rng(0).standard_normal(o["shape"])
    X = ad.tensor(x, requires_grad=True)
    y, idx = ad.max_pool2d(X, o["k"], o["s"], o["p"], o["d"], o["ceil"], True)
    want, want_idx = pool_reference(x, "max", o["k"], o["s"], o["p"], o["d"], o["ceil"])
    np.testing.assert_array_equal(y.detach().numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    assert idx.dtype == ad.int64 and not idx.requires_grad
    # the gradient: each window's g at its index (summed where windows share a maximum)
    g = np.random.default_rng(1).standard_normal(want.shape)
    plain = ad.max_pool2d(X, o["k"], o["s"], o["p"], o["d"], o["ceil"])
    np.testing.assert_array_equal(plain.detach().numpy(), want)
    for out in (y, plain):
        X.grad = None
        out.backward(ad.tensor(g))
        dx = np.zeros(x.shape).reshape(x.shape[0], x.shape[1], -1)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                np.add.at(dx[n, c], want_idx[n, c].ravel(), g[n, c].ravel())
        np.testing.assert_allclose(X.grad.numpy(), dx.reshape(x.shape), rtol=1e-12)


@given(o=pool_options("avg"), include=st.booleans(), divisor=st.sampled_from([None, 1, 3, -2]))
def test_avg_pool_options_match_reference_and_central_differences(o, include, divisor):
    x = np.random.default_rng(2).standard_normal(o["shape"])
    f = lambda t: ad.avg_pool2d(t, o["k"], o["s"], o["p"], o["ceil"], include, divisor)  # noqa: E731
    np.testing.assert_allclose(
        f(ad.tensor(x)).numpy(),
        pool_reference(x, "avg", o["k"], o["s"], o["p"], ceil=o["ceil"],
                       count_include_pad=include, divisor_override=divisor), rtol=1e-12)
    assert_grads_close(f, ad.tensor(x, requires_grad=True))


@given(o=pool_options("max"), include=st.booleans(), divisor=st.sampled_from([None, 3]))
def test_pool_options_match_torch(o, include, divisor):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = np.random.default_rng(3).standard_normal(o["shape"])
    g_rng = np.random.default_rng(4)
    args = (o["k"], o["s"], o["p"])
    cases = [(lambda t: ad.max_pool2d(t, *args, o["d"], o["ceil"], True),
              lambda t: tf.max_pool2d(t, *args, o["d"], o["ceil"], True))]
    if o["d"] == (1, 1):
        cases.append((lambda t: ad.avg_pool2d(t, *args, o["ceil"], include, divisor),
                      lambda t: tf.avg_pool2d(t, *args, o["ceil"], include, divisor)))
    for ours, theirs in cases:
        X, tx = ad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(X), theirs(tx)
        if isinstance(ty, tuple):
            np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy())
            y, ty = y[0], ty[0]
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        g = g_rng.standard_normal(ty.shape)
        y.backward(ad.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["max", "max_indices", "avg"])
def test_ceil_mode_and_dilation_second_order(op):
    rng = np.random.default_rng(5)
    x = ad.tensor(rng.permutation(60).reshape(1, 2, 5, 6) / 7.0, requires_grad=True)  # no ties
    if op == "avg":
        f = lambda t: ad.avg_pool2d(t, 2, 2, 1, True, False)  # noqa: E731
    elif op == "max":
        f = lambda t: ad.max_pool2d(t, 2, 2, 1, (2, 1), True)  # noqa: E731
    else:
        f = lambda t: ad.max_pool2d(t, 3, 2, 1, 1, True, True)[0]  # noqa: E731
    assert_gradgrads_close(lambda t: f(t) * f(t), x)


def test_ceil_mode_closed_forms():
    """5x5 input, 2x2 windows, stride 2: ceil_mode adds a third window per axis holding the
    last row/column; its average divides by the part inside the (padded) input."""
    x = ad.arange(25.0).reshape(1, 1, 5, 5)
    assert ad.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(ad.max_pool2d(x, 2, ceil_mode=True).numpy()[0, 0],
                                  [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    y = ad.avg_pool2d(x, 2, ceil_mode=True).numpy()[0, 0]
    assert y[0, 2] == (4 + 9) / 2 and y[2, 2] == 24 and y[2, 0] == (20 + 21) / 2
    # padding 1: a window starting at the input's last row is kept, none past it
    assert ad.avg_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert ad.max_pool2d(ad.arange(4.0).reshape(1, 1, 2, 2), 3, ceil_mode=True).item() == 3
    assert ad.avg_pool2d(x, 5, divisor_override=5).item() == 300 / 5


def test_int64_average_rounds_toward_zero_with_any_divisor():
    """torch's integer average: the quotient rounded toward zero, a negative
    divisor_override included (5 / -2 = -2, -7 / -2 = 3, -2 / 3 = 0)."""
    x = ad.tensor(np.array([[[[5, -7], [3, 2]]]]))
    np.testing.assert_array_equal(ad.avg_pool2d(x, 1, divisor_override=-2).numpy(),
                                  [[[[-2, 3], [-1, -1]]]])
    np.testing.assert_array_equal(ad.avg_pool2d(x, (1, 2), divisor_override=-2).numpy(),
                                  [[[[1], [-2]]]])
    np.testing.assert_array_equal(ad.avg_pool2d(x, (1, 2), divisor_override=3).numpy(),
                                  [[[[0], [1]]]])
    y = ad.avg_pool2d(ad.tensor(np.array([[[[-7, 1, 4]]]])), (1, 2), ceil_mode=True,
                      padding=(0, 1), count_include_pad=False)
    np.testing.assert_array_equal(y.numpy(), [[[[-7, 2]]]])


def test_errors_name_op_argument_and_value():
    x = ad.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must not be zero"):
        ad.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="avg_pool2d: divisor_override must be an int"):
        F.avg_pool2d(x, 2, divisor_override=1.5)
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must be a nonzero int"):
        nn.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"max_pool2d: window 0 along W \(start -1, "
                                         r"kernel_size 2, dilation 2\) has no element inside"):
        ad.max_pool2d(ad.randn(1, 1, 2, 1), 2, (2, 1), 1, (1, 2))
    with pytest.raises(ValueError, match="max_pool2d: dilation must be >= 1"):
        F.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size and stride must be >= 1 "
                                         r"\(dilation too\)"):
        nn.MaxPool2d(2, dilation=0)
    with pytest.raises(ValueError, match="max_pool2d: kernel .* larger than the padded input"):
        ad.max_pool2d(x, 2, dilation=4)


def test_dilated_windows_only_in_padding_refused():
    """torch returns -inf with an index outside the plane there (and its backward writes
    out of bounds): refused, whatever way the window steps over the input."""
    with pytest.raises(ValueError, match="only padding"):
        ad.max_pool2d(ad.randn(1, 1, 1, 4), (2, 3), 1, (1, 0), (2, 1), ceil_mode=True)


# ---------------------------------------------------------------- layers and signatures

TORCH_MAXPOOL = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]
TORCH_AVGPOOL = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                 "divisor_override"]
TORCH_F_MAX = ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
               "return_indices"]
TORCH_F_AVG = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
               "divisor_override"]


def _params(fn):
    return [n for n in inspect.signature(fn).parameters if n != "self"]


def test_signatures_are_torchs():
    assert _params(nn.MaxPool2d.__init__) == TORCH_MAXPOOL
    assert _params(nn.AvgPool2d.__init__) == TORCH_AVGPOOL
    assert _params(F.max_pool2d) == TORCH_F_MAX
    assert _params(F.avg_pool2d) == TORCH_F_AVG
    assert _params(ad.max_pool2d)[1:] == TORCH_F_MAX[1:]
    assert _params(ad.avg_pool2d)[1:] == TORCH_F_AVG[1:]
    torch = pytest.importorskip("torch")
    assert _params(torch.nn.MaxPool2d.__init__) == TORCH_MAXPOOL
    assert _params(torch.nn.AvgPool2d.__init__) == TORCH_AVGPOOL
    assert _params(torch.nn.functional.max_pool2d_with_indices) == TORCH_F_MAX
    # F.avg_pool2d is a builtin without a signature: its documented one
    assert "avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, " \
           "count_include_pad=True, divisor_override=None)" in torch.nn.functional.avg_pool2d.__doc__


def test_positional_arguments_land_in_torchs_parameters():
    x = ad.arange(25.0).reshape(1, 1, 5, 5)
    avg = nn.AvgPool2d(2, 2, 0, True)  # 4th slot: ceil_mode, as torch
    assert avg.ceil_mode and avg.count_include_pad and avg(x).shape == (1, 1, 3, 3)
    mx = nn.MaxPool2d(2, 2, 0, 1, True, True)  # dilation, return_indices, ceil_mode
    y, idx = mx(x)
    assert y.shape == idx.shape == (1, 1, 3, 3) and idx[0, 0, 2, 2].item() == 24
    y, idx = F.max_pool2d(x, 2, None, 0, 1, True, True)
    assert idx.shape == (1, 1, 3, 3)
    assert F.avg_pool2d(x, 2, None, 0, False, True, 2).shape == (1, 1, 2, 2)
    y, idx = F.max_pool2d(x[0], 2, return_indices=True)  # unbatched (C, H, W)
    assert y.shape == idx.shape == (1, 2, 2) and idx[0, 1, 1].item() == 18


@pytest.mark.parametrize("cls, args, kwargs", [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3, 2, 1, 2, True, True), {}),
    ("MaxPool2d", ((2, 3),), dict(ceil_mode=True)),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", (3, 2, 1, True, False, 3), {})])
def test_layer_repr_and_attributes_are_torchs(cls, args, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    for name in TORCH_MAXPOOL + TORCH_AVGPOOL:
        if hasattr(theirs, name):
            assert getattr(ours, name) == getattr(theirs, name), name
