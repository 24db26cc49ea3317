"""Conv2d, MaxPool2d, AvgPool2d layers: vs a direct NumPy loop, vs torch with copied
weights, gradcheck in float64, PyTorch's default init, clear errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from helpers import conv2d_reference as _np_conv  # tests/ is on sys.path
from nn import functional as F


@st.composite
def conv_configs(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # spatial sizes at least the dilated kernel extent minus padding: always valid
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 6))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 6))
    return dict(n=draw(st.integers(1, 2)), cin=draw(st.integers(1, 3)),
                cout=draw(st.integers(1, 3)), hw=(h, w), k=k, s=s, p=p, d=d,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@given(cfg=conv_configs())
def test_conv2d_layer_matches_direct_definition(cfg):
    rng = np.random.default_rng(cfg["seed"])
    layer = nn.Conv2d(cfg["cin"], cfg["cout"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                      dilation=cfg["d"], bias=cfg["bias"]).to(ad.float64)
    x_np = rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["hw"])
    y = layer(ad.tensor(x_np))
    b = layer.bias.data if cfg["bias"] else None
    expect = _np_conv(x_np, layer.weight.data, b, cfg["s"], cfg["p"], cfg["d"])
    assert y.shape == expect.shape
    np.testing.assert_allclose(y.data, expect, rtol=1e-10, atol=1e-12)


def _np_pool(x, kernel, stride, padding, op, count_include_pad=True):
    """Direct definition of max/avg pooling (max pads with -inf, avg with zeros)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fill = -np.inf if op == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    real = np.pad(np.ones(x.shape[2:]), ((ph, ph), (pw, pw)))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    y = np.empty(x.shape[:2] + (oh, ow))
    for p in range(oh):
        for q in range(ow):
            win = xp[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw]
            if op == "max":
                y[:, :, p, q] = win.max(axis=(2, 3))
            else:
                n = kh * kw if count_include_pad else real[p * sh:p * sh + kh,
                                                           q * sw:q * sw + kw].sum()
                y[:, :, p, q] = win.sum(axis=(2, 3)) / n
    return y


@given(k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       data=st.data(), op=st.sampled_from(["max", "avg", "avg_exclude_pad"]))
def test_pooling_layers_match_direct_definition(k, s, data, op):
    p = (data.draw(st.integers(0, k[0] // 2)), data.draw(st.integers(0, k[1] // 2)))
    h = data.draw(st.integers(max(1, k[0] - 2 * p[0]), 6))
    w = data.draw(st.integers(max(1, k[1] - 2 * p[1]), 6))
    x_np = np.random.default_rng(h * 7 + w).standard_normal((2, 2, h, w))
    if op == "max":
        layer = nn.MaxPool2d(k, s, p)
    else:
        layer = nn.AvgPool2d(k, s, p, count_include_pad=(op == "avg"))
    y = layer(ad.tensor(x_np))
    expect = _np_pool(x_np, k, s or k, p, op[:3], count_include_pad=(op != "avg_exclude_pad"))
    assert y.shape == expect.shape
    np.testing.assert_allclose(y.data, expect, rtol=1e-12, atol=1e-12)


def _run_both(torch, ours, theirs, shape, rng):
    """ours and theirs (torch) on the same random float64 input, then backward with the same
    random cotangent: (x, xt, y, yt)."""
    x_np = rng.standard_normal(shape)
    x, xt = ad.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    g = rng.standard_normal(yt.shape)
    y.backward(ad.tensor(g))
    yt.backward(torch.from_numpy(g))
    return x, xt, y, yt


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, padding=2),
                                dict(stride=(2, 1), padding=(0, 1), bias=False),
                                dict(padding="same"), dict(padding="valid")])
def test_conv2d_matches_torch(kw, rng):
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(3, 4, 3, **kw).to(ad.float64)
    theirs = torch.nn.Conv2d(3, 4, 3, **kw).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        if ours.bias is not None:
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x, xt, y, yt = _run_both(torch, ours, theirs, (2, 3, 7, 6), rng)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)
    if ours.bias is not None:
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("kind,kw", [("MaxPool2d", dict(kernel_size=2)),
                                     ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1)),
                                     ("AvgPool2d", dict(kernel_size=2)),
                                     ("AvgPool2d", dict(kernel_size=3, stride=1, padding=1)),
                                     ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1,
                                                        count_include_pad=False))])
def test_pooling_matches_torch(kind, kw, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, kind)(**kw), getattr(torch.nn, kind)(**kw)
    x, xt, y, yt = _run_both(torch, ours, theirs, (2, 3, 6, 5), rng)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    # unbatched (C, H, W) input
    x0 = x.data[0]
    np.testing.assert_allclose(ours(ad.tensor(x0)).data, theirs(torch.from_numpy(x0)).numpy(),
                               rtol=1e-12)


def test_small_convnet_loss_and_grads_match_torch(rng):
    """Conv -> BN -> ReLU -> MaxPool -> Conv -> AvgPool -> Flatten -> Linear -> CE."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(6, 3)).to(ad.float64)
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                            tnn.MaxPool2d(2), tnn.Conv2d(4, 6, 3), tnn.AvgPool2d(2),
                            tnn.Flatten(), tnn.Linear(6, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data))
                            for k, v in ours.state_dict().items()})
    x_np = rng.standard_normal((5, 1, 8, 8))
    t_np = rng.integers(0, 3, size=5)
    loss = F.cross_entropy(ours(ad.tensor(x_np)), ad.tensor(t_np))
    loss.backward()
    loss_t = tnn.functional.cross_entropy(theirs(torch.from_numpy(x_np)),
                                          torch.from_numpy(t_np))
    loss_t.backward()
    assert abs(loss.item() - loss_t.item()) < 1e-12
    for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(p.grad.data, pt.grad.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=name)


def test_default_init_bounds_like_torch():
    ad.manual_seed(0)
    layer = nn.Conv2d(8, 64, 3)
    fan_in = 8 * 3 * 3
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (64, 8, 3, 3) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform(-a, a) std = a/sqrt 3
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound
    assert nn.Conv2d(2, 3, 2, bias=False).bias is None


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(dilation=2, padding=1)])
def test_gradcheck_float64(kw, rng):
    x = ad.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(3), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))
    # pooling: x without ties (distinct values) so the max is differentiable
    xp = ad.tensor(rng.permutation(40).reshape(2, 1, 5, 4) / 7.0, requires_grad=True)
    assert ad.gradcheck(lambda x: F.max_pool2d(x, 2, 1, 1), (xp,))
    assert ad.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (xp,))


def test_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4\): expected 3 input channels.*2 "
                                         "channels"):
        conv(ad.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="kernel.*larger than the padded input"):
        conv(ad.randn(1, 3, 2, 5))
    nn.Conv2d(3, 4, 3, padding=1)(ad.randn(1, 3, 1, 1))  # padded input 3x3: fine
    with pytest.raises(ValueError, match="4-D"):
        conv(ad.randn(3, 5))
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    # an even kernel with padding="same" pads one more row/column at the bottom/right, as
    # torch (tests/test_conv_groups.py compares the values)
    assert nn.Conv2d(3, 4, 2, padding="same")(ad.randn(1, 3, 5, 6)).shape == (1, 4, 5, 6)
    with pytest.raises(ValueError, match="padding must be"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 4, 2.5)
    with pytest.raises(ValueError, match="at most half the kernel"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.MaxPool2d(3)(ad.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match="kernel_size and stride must be >= 1"):
        nn.AvgPool2d(2, stride=0)


@given(k=st.integers(2, 4), d=st.integers(1, 2), p=st.integers(0, 1), data=st.data())
def test_any_kernel_larger_than_the_padded_input_is_refused(k, d, p, data):
    extent = d * (k - 1) + 1
    h = data.draw(st.integers(1, max(1, extent - 2 * p - 1)))
    if h + 2 * p >= extent:  # no too-small size exists for this geometry
        return
    layer = nn.Conv2d(2, 3, k, padding=p, dilation=d)
    with pytest.raises(ValueError, match=r"conv2d: kernel .* larger than the padded input"):
        layer(ad.randn(1, 2, h, extent + 2))
    with pytest.raises(ValueError, match=r"conv2d: kernel .* larger than the padded input"):
        layer(ad.randn(1, 2, extent + 2, h))


def test_reprs():
    assert repr(nn.Conv2d(1, 2, 3, padding=1, bias=False)) == (
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)")
    # torch's form: the arguments as given, dilation and ceil_mode shown
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                     "ceil_mode=False)")


def test_on_device(device, rng):
    conv = nn.Conv2d(2, 3, 3, padding=1).to(device)
    x_np = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    x = ad.tensor(x_np, device=device, requires_grad=True)
    y = nn.MaxPool2d(2)(conv(x))
    y.sum().backward()
    assert y.device.startswith(device) and x.grad.device.startswith(device)
    ref = _np_conv(x_np, conv.weight.cpu().numpy(), conv.bias.cpu().numpy(), (1, 1), (1, 1),
                   (1, 1))
    ref = ref.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-5, atol=1e-5)
