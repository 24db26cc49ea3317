"""Layers for sequences: Conv1d (vs a direct NumPy definition, vs torch with copied weights,
gradcheck, PyTorch's init, errors, the causal padding recipe), FlattenConsecutive, and
BatchNorm1d(channels_last=True) on (N, L, C) vs torch's BatchNorm1d on the transpose."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import functional as F


def _np_conv1d(x, w, b, stride, left, right, dilation, groups):
    """Direct definition: y[n, o, t] = b[o] + sum_{c, j} w[o, c, j] x_pad[n, g(o) c_g + c,
    s t + d j]."""
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)))
    c_out, c_g, k = w.shape
    o_g = c_out // groups
    length = (xp.shape[2] - dilation * (k - 1) - 1) // stride + 1
    y = np.zeros((x.shape[0], c_out, length))
    for o in range(c_out):
        g = o // o_g
        for t in range(length):
            for j in range(k):
                y[:, o, t] += xp[:, g * c_g:(g + 1) * c_g, t * stride + j * dilation] @ w[o, :, j]
        if b is not None:
            y[:, o] += b[o]
    return y


@st.composite
def conv1d_configs(draw):
    groups = draw(st.integers(1, 3))
    k, d, s = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    p = draw(st.integers(0, 2))
    length = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 9))
    return dict(n=draw(st.integers(1, 2)), cin=groups * draw(st.integers(1, 2)),
                cout=groups * draw(st.integers(1, 2)), groups=groups, length=length, k=k,
                s=s, p=p, d=d, bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@given(cfg=conv1d_configs())
def test_conv1d_matches_the_direct_definition(cfg):
    rng = np.random.default_rng(cfg["seed"])
    layer = nn.Conv1d(cfg["cin"], cfg["cout"], cfg["k"], stride=cfg["s"], padding=cfg["p"],
                      dilation=cfg["d"], groups=cfg["groups"], bias=cfg["bias"])
    layer.to(ad.float64)
    x_np = rng.standard_normal((cfg["n"], cfg["cin"], cfg["length"]))
    y = layer(ad.tensor(x_np))
    b = layer.bias.data if cfg["bias"] else None
    expect = _np_conv1d(x_np, layer.weight.data, b, cfg["s"], cfg["p"], cfg["p"], cfg["d"],
                        cfg["groups"])
    assert y.shape == expect.shape
    np.testing.assert_allclose(y.data, expect, rtol=1e-10, atol=1e-12)
    # unbatched (C, L) input
    np.testing.assert_allclose(layer(ad.tensor(x_np[0])).data, expect[0], rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("kw", [
    dict(), dict(stride=2, padding=1), dict(dilation=2, padding=2), dict(groups=2),
    dict(groups=4, stride=2, bias=False), dict(padding="same"), dict(padding="same", dilation=3),
    dict(padding="valid"), dict(padding=2, padding_mode="circular"),
    dict(padding=2, padding_mode="reflect"), dict(padding=3, padding_mode="replicate"),
    dict(padding="same", padding_mode="reflect")])
@pytest.mark.parametrize("kernel", [3, 4])
def test_conv1d_matches_torch(kw, kernel):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(kernel * 31 + len(kw))
    ours = nn.Conv1d(4, 8, kernel, **kw).to(ad.float64)
    theirs = torch.nn.Conv1d(4, 8, kernel, **kw).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        if ours.bias is not None:
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x_np = rng.standard_normal((3, 4, 11))
    x, xt = ad.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    g = rng.standard_normal(tuple(yt.shape))
    y.backward(ad.tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    if ours.bias is not None:
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-10)
    assert repr(ours) == repr(theirs)


def test_conv1d_functional_matches_torch_and_default_init_is_torchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x_np, w_np, b_np = (rng.standard_normal(s) for s in ((2, 6, 10), (4, 3, 3), (4,)))
    y = F.conv1d(ad.tensor(x_np), ad.tensor(w_np), ad.tensor(b_np), stride=2, padding=1,
                 dilation=2, groups=2)
    yt = torch.nn.functional.conv1d(*(torch.from_numpy(a) for a in (x_np, w_np, b_np)),
                                    stride=2, padding=1, dilation=2, groups=2)
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=1e-12)
    ad.manual_seed(0)
    layer = nn.Conv1d(8, 64, 5, groups=2)
    bound = 1 / math.sqrt(8 // 2 * 5)  # fan_in = C_in / groups * kernel_size
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (64, 4, 5) and w.dtype == np.float32
    assert bound * 0.95 < np.abs(w).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(dilation=2, padding="same"),
                                dict(groups=2, padding=1)])
def test_conv1d_gradcheck_float64(kw):
    rng = np.random.default_rng(7)
    x = ad.tensor(rng.standard_normal((2, 4, 7)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((2, 4 // kw.get("groups", 1), 2)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(2), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv1d_padding_modes_gradcheck(mode):
    rng = np.random.default_rng(8)
    layer = nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode).to(ad.float64)
    x = ad.tensor(rng.standard_normal((1, 2, 5)), requires_grad=True)
    assert ad.gradcheck(lambda x: layer(x), (x,))


def test_causal_padding_recipe_sees_only_the_past():
    """Left padding of dilation * (k - 1): same length, and y[t] ignores every x[t' > t]."""
    rng = np.random.default_rng(9)
    conv = nn.Conv1d(3, 2, kernel_size=2, dilation=4).to(ad.float64)
    x = ad.tensor(rng.standard_normal((1, 3, 12)), requires_grad=True)
    y = conv(ad.pad(x, ((0, 0), (0, 0), (4 * (2 - 1), 0))))
    assert y.shape == (1, 2, 12)
    for t in (0, 5, 11):
        (grad,) = ad.grad(y[0, :, t].sum(), [x], retain_graph=True)
        seen = np.flatnonzero(np.abs(grad.data[0]).sum(axis=0))
        assert set(seen) <= {t, t - 4} and t in seen


def test_dilated_causal_stack_equals_the_strided_stack_at_the_last_step():
    """WaveNet's two views of one network: kernel-2 convs with stride 2 (one output per
    sequence) and with dilations 1, 2, 4 on causally padded input (one output per time step)
    give the same result at the last step when they share weights."""
    rng = np.random.default_rng(10)
    strided = [nn.Conv1d(c, 5, 2, stride=2).to(ad.float64) for c in (3, 5, 5)]
    x = ad.tensor(rng.standard_normal((4, 3, 8)))
    h = x
    for conv in strided:
        h = conv(h).tanh()
    assert h.shape == (4, 5, 1)
    g = x
    for conv, d in zip(strided, (1, 2, 4)):
        g = F.conv1d(ad.pad(g, ((0, 0), (0, 0), (d, 0))), conv.weight, conv.bias,
                     dilation=d).tanh()
    assert g.shape == (4, 5, 8)
    np.testing.assert_allclose(g.data[:, :, -1], h.data[:, :, 0], rtol=1e-12)


def test_conv1d_errors():
    conv = nn.Conv1d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv1d\(3, 4\): expected 3 input channels"):
        conv(ad.randn(2, 2, 5))
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D \(N, C, L\)"):
        conv(ad.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="shorter than the dilated kernel"):
        nn.Conv1d(3, 4, 3, dilation=2)(ad.randn(1, 3, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv1d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        nn.Conv1d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="reflect.*at most 2"):
        nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect")(ad.randn(1, 1, 3))
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        nn.Conv1d(3, 4, 2.5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nn.Conv1d(3, 4, 2, stride=0)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv1d(ad.randn(1, 3, 5), ad.randn(4, 3, 2), ad.randn(3))


# ------------------------------------------------------------------ FlattenConsecutive

def test_flatten_consecutive_fuses_neighbouring_steps():
    x_np = np.arange(2 * 8 * 3, dtype=np.float64).reshape(2, 8, 3)
    y = nn.FlattenConsecutive(2)(ad.tensor(x_np))
    assert y.shape == (2, 4, 6)
    # step t of the output is [x_2t, x_2t+1] side by side
    np.testing.assert_array_equal(y.data[:, 1], np.concatenate([x_np[:, 2], x_np[:, 3]], 1))
    assert nn.FlattenConsecutive(8)(ad.tensor(x_np)).shape == (2, 24)
    assert nn.FlattenConsecutive(8, squeeze=False)(ad.tensor(x_np)).shape == (2, 1, 24)
    with pytest.raises(ValueError, match=r"FlattenConsecutive\(3\).*divisible by 3.*\(2, 8, 3\)"):
        nn.FlattenConsecutive(3)(ad.tensor(x_np))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        nn.FlattenConsecutive(0)
    assert repr(nn.FlattenConsecutive(2)) == "FlattenConsecutive(2)"


def test_flatten_consecutive_then_linear_is_a_strided_conv1d():
    """Linear(n C -> O) after FlattenConsecutive(n) on (N, L, C) equals Conv1d(C, O, n,
    stride=n) on (N, C, L), with weight[o, c, j] = linear.weight[o, j C + c]."""
    rng = np.random.default_rng(11)
    lin = nn.Linear(2 * 3, 5).to(ad.float64)
    conv = nn.Conv1d(3, 5, 2, stride=2).to(ad.float64)
    conv.load_state_dict({"weight": ad.tensor(lin.weight.data.reshape(5, 2, 3)
                                              .transpose(0, 2, 1).copy()),
                          "bias": lin.bias.detach()})
    x_np = rng.standard_normal((4, 8, 3))
    a = lin(nn.FlattenConsecutive(2)(ad.tensor(x_np)))           # (N, L/2, O)
    b = conv(ad.tensor(x_np).permute(0, 2, 1)).permute(0, 2, 1)  # (N, L/2, O)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


# ------------------------------------------------------------------ BatchNorm1d channels_last

@pytest.mark.parametrize("shape", [(6, 4, 5), (7, 5)])
def test_batchnorm1d_channels_last_matches_torch_on_the_transpose(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    ours = nn.BatchNorm1d(5, momentum=0.3, channels_last=True).to(ad.float64)
    theirs = torch.nn.BatchNorm1d(5, momentum=0.3).double()
    with torch.no_grad():
        ours.weight.data[...] = rng.uniform(0.5, 2, 5)
        ours.bias.data[...] = rng.standard_normal(5)
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))

    def torch_channels_last(xt):
        return theirs(xt.transpose(1, 2)).transpose(1, 2) if xt.ndim == 3 else theirs(xt)

    for step in range(3):  # training steps: outputs, gradients and running statistics
        x_np = rng.standard_normal(shape) * 3 + 1
        x, xt = ad.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        y, yt = ours(x), torch_channels_last(xt)
        g = rng.standard_normal(shape)
        y.backward(ad.tensor(g))
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(),
                                   rtol=1e-10)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   rtol=1e-12)
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   rtol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()
    ours.eval()
    theirs.eval()
    x_np = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(ad.tensor(x_np)).data,
                               torch_channels_last(torch.from_numpy(x_np)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_batchnorm1d_channels_last_statistics_per_last_axis_without_torch():
    rng = np.random.default_rng(13)
    x_np = rng.standard_normal((8, 4, 3)) * np.array([1.0, 10.0, 100.0]) + 5
    y = nn.BatchNorm1d(3, channels_last=True).to(ad.float64)(ad.tensor(x_np)).data
    expect = (x_np - x_np.mean(axis=(0, 1))) / np.sqrt(x_np.var(axis=(0, 1)) + 1e-5)
    np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-12)
    # the default (PyTorch) layout still reads channels from axis 1
    with pytest.raises(ValueError, match=r"expected 3 channels \(axis 1\)"):
        nn.BatchNorm1d(3)(ad.tensor(x_np))
    with pytest.raises(ValueError, match=r"expected 4 channels \(axis -1\).*\(8, 4, 3\)"):
        nn.BatchNorm1d(4, channels_last=True)(ad.tensor(x_np))
    with pytest.raises(ValueError, match=r"3-D \(N, L, C\)"):
        nn.BatchNorm1d(3, channels_last=True)(ad.randn(2, 2, 2, 3))
    assert "channels_last=True" in repr(nn.BatchNorm1d(3, channels_last=True))
    assert "channels_last" not in repr(nn.BatchNorm1d(3))


def test_batchnorm1d_channels_last_gradcheck():
    rng = np.random.default_rng(14)
    bn = nn.BatchNorm1d(2, channels_last=True).to(ad.float64)
    x = ad.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    assert ad.gradcheck(lambda x: bn(x), (x,))
