"""Grouped / depthwise conv2d (the engine op's `groups`), Conv2d's padding_mode and
padding="same" with even kernels, and Conv2d's signature slot by slot against torch's:
values and gradients against a NumPy reference and float64 central differences, and
against torch where installed."""
import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
import nn.functional as F
from autodiff.testing import assert_gradgrads_close, assert_grads_close
from helpers import conv2d_reference  # tests/ is on sys.path (rootdir-relative import)


def grouped_reference(x, w, b, stride, padding, dilation, groups):
    """Grouped convolution from its definition: group g's output channels are the
    convolution of group g's input channels with group g's filters."""
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    y = np.concatenate([conv2d_reference(x[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og],
                                         None, stride, padding, dilation)
                        for g in range(groups)], axis=1)
    return y if b is None else y + b[None, :, None, None]


@st.composite
def grouped_cases(draw):
    """(x shape, w shape, stride, padding, dilation, groups) with a valid geometry; C_out
    per group up to 3 times C_in per group (the stride-1 input gradient switches from the
    flipped-kernel convolution to col2im above 2x)."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    hw = [max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]) + draw(st.integers(0, 4)) for a in (0, 1)]
    return ((draw(st.integers(1, 2)), c_in) + tuple(hw), (c_out, c_in // groups) + k, s, p, d,
            groups)


def _arrays(case, seed):
    xs, ws = case[:2]
    rng = np.random.default_rng(seed)
    return rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])


@given(case=grouped_cases(), with_bias=st.booleans())
def test_grouped_conv2d_matches_reference_and_central_differences(case, with_bias):
    x, w, b = _arrays(case, 0)
    stride, padding, dilation, groups = case[2:]
    b = b if with_bias else None
    y = ad.conv2d(ad.tensor(x), ad.tensor(w), None if b is None else ad.tensor(b), stride,
                  padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), grouped_reference(x, w, b, stride, padding,
                                                            dilation, groups),
                               rtol=1e-10, atol=1e-12)
    inputs = [ad.tensor(x, requires_grad=True), ad.tensor(w, requires_grad=True)]
    if b is not None:
        inputs.append(ad.tensor(b, requires_grad=True))
    assert_grads_close(lambda *t: ad.conv2d(*t[:2], t[2] if len(t) > 2 else None, stride,
                                            padding, dilation, groups), *inputs)


@given(case=grouped_cases())
def test_grouped_conv2d_values_and_gradients_match_torch(case):
    torch = pytest.importorskip("torch")
    x, w, b = _arrays(case, 1)
    stride, padding, dilation, groups = case[2:]
    ours = [ad.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ad.conv2d(*ours, stride, padding, dilation, groups)
    ty = torch.nn.functional.conv2d(*theirs, stride, padding, dilation, groups)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(ty.shape)
    y.backward(ad.tensor(g))
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("groups, c_in, c_out, stride", [(2, 4, 6, 1), (3, 3, 9, 2),
                                                         (4, 4, 4, 1)])
def test_grouped_conv2d_second_order(groups, c_in, c_out, stride):
    rng = np.random.default_rng(3)
    x = ad.tensor(rng.standard_normal((2, c_in, 5, 4)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((c_out, c_in // groups, 3, 2)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(c_out), requires_grad=True)
    assert_gradgrads_close(lambda x, w, b: ad.conv2d(x, w, b, stride, 1, (1, 2), groups),
                           x, w, b)


def test_depthwise_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((8, 1, 3, 3))
    X, W = ad.tensor(x, requires_grad=True), ad.tensor(w, requires_grad=True)
    gx, gw = ad.grad(ad.conv2d(X, W, padding=1, groups=4).tanh().sum(), [X, W],
                     create_graph=True)
    ((gx * gx).sum() + (gw * gw).sum()).backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tgx, tgw = torch.autograd.grad(
        torch.nn.functional.conv2d(tx, tw, padding=1, groups=4).tanh().sum(), [tx, tw],
        create_graph=True)
    ((tgx * tgx).sum() + (tgw * tgw).sum()).backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), tw.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 8, 9, 9), (2, 6, 20, 20)])
def test_depthwise_float32_training_step_matches_float64_reference(shape):
    """float32 depthwise + pointwise layers, backward through the engine's scratch path
    (the input gradient written over the output gradient), against float64."""
    rng = np.random.default_rng(5)
    c = shape[1]
    x = rng.standard_normal(shape)
    wd, wp = rng.standard_normal((c, 1, 3, 3)), rng.standard_normal((2 * c, c, 1, 1))

    def run(dtype):
        X = ad.tensor(x.astype(dtype), requires_grad=True)
        Wd = ad.tensor(wd.astype(dtype), requires_grad=True)
        Wp = ad.tensor(wp.astype(dtype), requires_grad=True)
        y = ad.conv2d(ad.conv2d(X, Wd, padding=1, groups=c).relu(), Wp)
        (y * y).sum().backward()
        return [t.grad.numpy().astype(np.float64) for t in (X, Wd, Wp)]
    for got, want in zip(run(np.float32), run(np.float64)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())


def test_groups_errors_name_op_argument_and_shapes():
    x = ad.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match=r"conv2d: groups=3 must divide .*4 channels.*"
                                         r"\(1, 4, 5, 5\).*C_out=6"):
        ad.conv2d(x, ad.randn(6, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels .* C_in/groups \* "
                                         r"groups = 1 \* 2 = 2 \(weight shape \(4, 1, 3, 3\)\)"):
        ad.conv2d(x, ad.randn(4, 1, 3, 3), groups=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="conv2d: groups must be a positive int"):
            ad.conv2d(x, ad.randn(4, 4, 3, 3), groups=bad)
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(4\) and out_channels \(6\) "
                                         r"must both be divisible by groups \(4\)"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="Conv2d: groups must be a positive int"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        F.conv2d(x, ad.randn(4, 4, 3, 3), stride=2, padding="same")


# ---------------------------------------------------------------- the Conv2d layer

def test_positional_arguments_land_in_torchs_parameters():
    """nn.Conv2d(4, 4, 3, 1, 0, 1, 2) is groups=2 (torch), not bias=2."""
    conv = nn.Conv2d(4, 4, 3, 1, 0, 1, 2, False, "reflect")
    assert (conv.groups, conv.bias, conv.padding_mode) == (2, None, "reflect")
    assert conv.weight.shape == (4, 2, 3, 3)
    y = F.conv2d(ad.randn(1, 4, 5, 5), conv.weight, None, 1, 0, 1, 2)
    assert y.shape == (1, 4, 3, 3)


TORCH_CONV2D = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                "groups", "bias", "padding_mode", "device", "dtype"]
TORCH_F_CONV2D = ["input", "weight", "bias", "stride", "padding", "dilation", "groups"]


def _params(fn):
    return [n for n in inspect.signature(fn).parameters if n != "self"]


def test_signatures_are_torchs():
    # F.conv2d is a builtin in torch without a signature: its documented one
    # ("conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)")
    assert _params(nn.Conv2d.__init__) == TORCH_CONV2D
    assert _params(F.conv2d) == TORCH_F_CONV2D
    assert _params(ad.conv2d)[1:] == TORCH_F_CONV2D[1:]
    assert _params(nn.Conv1d.__init__) == TORCH_CONV2D
    defaults = {k: v.default for k, v in inspect.signature(nn.Conv2d).parameters.items()}
    assert defaults == {"in_channels": inspect.Parameter.empty,
                        "out_channels": inspect.Parameter.empty,
                        "kernel_size": inspect.Parameter.empty, "stride": 1, "padding": 0,
                        "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros",
                        "device": None, "dtype": None}
    torch = pytest.importorskip("torch")
    assert _params(torch.nn.Conv2d.__init__) == TORCH_CONV2D
    assert _params(torch.nn.Conv1d.__init__) == TORCH_CONV2D
    assert torch.nn.functional.conv2d.__doc__.lstrip().startswith(
        "conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)")


@pytest.mark.parametrize("c_in, c_out, k, groups", [(4, 8, 3, 2), (6, 6, (3, 2), 6),
                                                    (3, 6, 5, 3)])
def test_init_bounds_use_fan_in_per_group(c_in, c_out, k, groups):
    ad.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, k, groups=groups)
    kh, kw = (k, k) if isinstance(k, int) else k
    bound = 1 / math.sqrt(c_in // groups * kh * kw)
    assert conv.weight.shape == (c_out, c_in // groups, kh, kw)
    for p in (conv.weight, conv.bias):
        values = np.abs(p.numpy())
        assert values.max() <= bound
    # the largest of 24..96 uniform draws comes close to the bound (not 1/sqrt(C_in k k))
    assert np.abs(conv.weight.numpy()).max() > 0.75 * bound


@pytest.mark.parametrize("args, kwargs", [
    ((4, 8, 3), dict(groups=2)), ((2, 4, 2), dict(padding="same", padding_mode="reflect",
                                                  groups=2)),
    ((3, 3, 3), dict(padding=1, padding_mode="circular", bias=False, dilation=2)),
    ((3, 6, (3, 1)), dict(stride=2, padding="valid", groups=3))])
def test_repr_is_torchs(args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


def _copy_into(ours, theirs, torch):
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        if ours.bias is not None:
            theirs.bias.copy_(torch.tensor(ours.bias.numpy()))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel, padding, dilation, stride", [
    (3, 1, 1, 1), ((2, 3), (1, 2), (2, 1), (2, 1)), (2, "same", 1, 1), ((4, 3), "same", (1, 2), 1),
    ((2, 2), "valid", 1, 1)])
def test_padding_modes_and_same_match_torch(mode, kernel, padding, dilation, stride):
    torch = pytest.importorskip("torch")
    ad.manual_seed(1)
    ours = nn.Conv2d(4, 6, kernel, stride, padding, dilation, 2, True, mode,
                     dtype=ad.float64)
    theirs = torch.nn.Conv2d(4, 6, kernel, stride, padding, dilation, 2, True, mode,
                             dtype=torch.float64)
    _copy_into(ours, theirs, torch)
    x = np.random.default_rng(6).standard_normal((2, 4, 7, 6))
    for batch in (x, x[0]):  # batched and unbatched (C, H, W)
        X = ad.tensor(batch, requires_grad=True)
        tx = torch.tensor(batch, requires_grad=True)
        y, ty = ours(X), theirs(tx)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        g = np.random.default_rng(7).standard_normal(ty.shape)
        ours.zero_grad()
        y.backward(ad.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                   rtol=1e-10, atol=1e-11)
        theirs.zero_grad()


@pytest.mark.parametrize("mode, numpy_mode", [("zeros", "constant"), ("reflect", "reflect"),
                                              ("replicate", "edge"), ("circular", "wrap")])
def test_padding_modes_against_numpy_pad(mode, numpy_mode):
    """Without torch: the layer equals np.pad in the same mode, then a convolution without
    padding; padding="same" with a (2, 4) kernel pads (0, 1) rows and (1, 2) columns."""
    ad.manual_seed(2)
    conv = nn.Conv2d(2, 4, (2, 4), padding="same", padding_mode=mode, groups=2,
                     dtype=ad.float64)
    x = np.random.default_rng(8).standard_normal((1, 2, 5, 6))
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)), mode=numpy_mode)
    want = grouped_reference(padded, conv.weight.numpy(), conv.bias.numpy(), (1, 1), (0, 0),
                             (1, 1), 2)
    np.testing.assert_allclose(conv(ad.tensor(x)).detach().numpy(), want, rtol=1e-12)
    assert_grads_close(conv, ad.tensor(x, requires_grad=True))


def test_padding_mode_second_order():
    ad.manual_seed(3)
    conv = nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect", groups=2, dtype=ad.float64)
    x = ad.tensor(np.random.default_rng(9).standard_normal((1, 2, 4, 4)), requires_grad=True)
    assert_gradgrads_close(lambda x, w: F.conv2d(
        nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), w, None, groups=2),
        x, ad.tensor(conv.weight.numpy(), requires_grad=True))
