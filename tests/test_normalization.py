"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d.

Checked against NumPy closed forms, central differences (gradcheck, float64), the same
formula composed from autodiff ops (for the fused batch-norm backward), and torch with
copied weights (forward, input and parameter gradients, running statistics after several
training steps, eval output).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import functional as F


def _np_norm(x, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _randomise(module, rng):
    """Random affine parameters (ours) so that gradients through them are non-trivial."""
    for p in module.parameters():
        p.data[...] = rng.standard_normal(p.shape)


def _copy_to_torch(ours, theirs):
    import torch
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(getattr(ours, name).data.copy()))
        for name, b in theirs.named_buffers():
            mine = getattr(ours, name)
            if mine is not None:
                b.copy_(torch.from_numpy(np.asarray(mine.data).copy()))


def _compare_step(ours, theirs, x_np, g_np, rtol=1e-6, atol=1e-8):
    """One forward/backward through both; outputs, input grads and parameter grads agree."""
    import torch
    x = ad.tensor(x_np, requires_grad=True)
    y = ours(x)
    y.backward(ad.tensor(g_np))
    xt = torch.tensor(x_np, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g_np))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=rtol, atol=1e-7)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.data, p.grad.numpy(),
                                   rtol=rtol, atol=1e-7, err_msg=name)
    ours.zero_grad()
    theirs.zero_grad()


# ------------------------------------------------------------------ BatchNorm

def _bn_pair(kind, c, rng, **kw):
    import torch
    ours = getattr(nn, kind)(c, **kw).to(ad.float64)
    theirs = getattr(torch.nn, kind)(c, **kw).double()
    if ours.affine:
        _randomise(ours, rng)
    _copy_to_torch(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("kind,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (3, 2, 4, 5))])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_matches_torch_over_training_steps(kind, shape, momentum, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _bn_pair(kind, shape[1], rng, momentum=momentum)
    for step in range(4):
        x_np = rng.standard_normal(shape) * (step + 1) + step
        g_np = rng.standard_normal(shape)
        _compare_step(ours, theirs, x_np, g_np)
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   rtol=1e-12)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   rtol=1e-12)
        assert int(ours.num_batches_tracked.data) == int(theirs.num_batches_tracked) == step + 1
    ours.eval(), theirs.eval()
    x_np = rng.standard_normal(shape)
    _compare_step(ours, theirs, x_np, rng.standard_normal(shape))
    assert int(ours.num_batches_tracked.data) == 4  # eval does not count batches
    del torch


@pytest.mark.parametrize("affine,track", [(False, True), (True, False), (False, False)])
def test_batchnorm_switches_match_torch(affine, track, rng):
    pytest.importorskip("torch")
    ours, theirs = _bn_pair("BatchNorm2d", 3, rng, affine=affine, track_running_stats=track)
    assert (ours.weight is None) == (not affine)
    assert (ours.running_mean is None) == (not track)
    shape = (4, 3, 3, 2)
    for _ in range(2):
        _compare_step(ours, theirs, rng.standard_normal(shape), rng.standard_normal(shape))
    ours.eval(), theirs.eval()
    # without running stats, eval normalises with the batch statistics too
    _compare_step(ours, theirs, rng.standard_normal(shape) + 3, rng.standard_normal(shape))


def test_batchnorm_closed_form_and_running_stats_without_torch(rng):
    bn = nn.BatchNorm1d(4, momentum=0.2).to(ad.float64)
    x = rng.standard_normal((8, 4)) * 3 + 1
    y = bn(ad.tensor(x))
    np.testing.assert_allclose(y.data, _np_norm(x, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, 0.2 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, 0.8 + 0.2 * x.var(0, ddof=1), rtol=1e-12)
    bn.eval()
    x2 = rng.standard_normal((3, 4))
    expect = (x2 - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5)
    np.testing.assert_allclose(bn(ad.tensor(x2)).data, expect, rtol=1e-10)


def test_batchnorm_cumulative_average_when_momentum_is_none(rng):
    bn = nn.BatchNorm1d(2, momentum=None).to(ad.float64)
    xs = [rng.standard_normal((5, 2)) + i for i in range(3)]
    for x in xs:
        bn(ad.tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in xs], axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data,
                               np.mean([x.var(0, ddof=1) for x in xs], axis=0), rtol=1e-12)


def test_batchnorm_buffers_in_state_dict_and_reset():
    bn = nn.BatchNorm2d(3)
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var",
                                    "num_batches_tracked"}
    assert bn.num_batches_tracked.dtype == ad.int64
    bn(ad.randn(2, 3, 2, 2))
    assert not np.allclose(bn.running_mean.data, 0)
    bn.reset_running_stats()
    assert np.all(bn.running_mean.data == 0) and np.all(bn.running_var.data == 1)
    assert int(bn.num_batches_tracked.data) == 0
    assert "BatchNorm2d(3, eps=1e-05, momentum=0.1" in repr(bn)


def _composed_batch_norm(x, w, b, eps=1e-5):
    """The same formula as the fused op, one autodiff node per step."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) * (x - mean)).mean(axis=axes, keepdims=True)
    return (x - mean) / ad.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (2, 3, 2, 3)])
def test_fused_batch_norm_backward_matches_composed_formula(shape, rng):
    x_np = rng.standard_normal(shape) * 2 + 1
    w_np, b_np = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    g = ad.tensor(rng.standard_normal(shape))
    results = []
    for fn in (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
               _composed_batch_norm):
        x, w, b = (ad.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        y = fn(x, w, b)
        y.backward(g)
        results.append((y.data, x.grad.data, w.grad.data, b.grad.data))
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-9, atol=1e-12)


def test_fused_batch_norm_is_one_node():
    x = ad.randn(4, 3, requires_grad=True)
    w, b = ad.ones(3, requires_grad=True), ad.zeros(3, requires_grad=True)
    y = F.batch_norm(x, None, None, w, b, training=True)
    assert {id(i) for i in y.grad_fn.inputs if isinstance(i, ad.Tensor)} >= {id(x), id(w), id(b)}


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3), (2, 2, 2, 3)])
def test_batch_norm_gradcheck(shape, rng):
    x = ad.tensor(rng.standard_normal(shape), requires_grad=True)
    w = ad.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    b = ad.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                        (x, w, b))
    rm, rv = ad.tensor(rng.standard_normal(shape[1])), ad.tensor(rng.random(shape[1]) + 0.5)
    assert ad.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
                        (x, w, b))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ad.randn(1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(ad.randn(1, 3, 1, 1))
    nn.BatchNorm2d(3).eval()(ad.randn(1, 3, 1, 1))  # fine in eval
    nn.BatchNorm1d(3)(ad.randn(1, 3, 2))  # two values per channel: fine
    with pytest.raises(ValueError, match=r"expected 3 channels.*\(4, 2\)"):
        nn.BatchNorm1d(3)(ad.randn(4, 2))
    with pytest.raises(ValueError, match="BatchNorm2d.*4-D"):
        nn.BatchNorm2d(3)(ad.randn(4, 3))
    with pytest.raises(ValueError, match="BatchNorm1d.*2-D"):
        nn.BatchNorm1d(3)(ad.randn(4, 3, 2, 2))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


def test_batchnorm_on_device(device, rng):
    bn = nn.BatchNorm2d(2).to(device)
    x_np = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    x = ad.tensor(x_np, device=device, requires_grad=True)
    y = bn(x)
    y.sum().backward()
    assert y.device.startswith(device)
    np.testing.assert_allclose(y.cpu().numpy(), _np_norm(x_np, (0, 2, 3)), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.cpu().numpy(), 0.1 * x_np.mean((0, 2, 3)),
                               rtol=1e-5)


# ------------------------------------------------------------------ LayerNorm

@pytest.mark.parametrize("shape,normalized", [((4, 5), 5), ((2, 3, 4), (3, 4)),
                                              ((3, 2, 2, 3), (3,))])
def test_layernorm_matches_torch(shape, normalized, rng):
    torch = pytest.importorskip("torch")
    ours = nn.LayerNorm(normalized).to(ad.float64)
    theirs = torch.nn.LayerNorm(normalized).double()
    _randomise(ours, rng)
    _copy_to_torch(ours, theirs)
    _compare_step(ours, theirs, rng.standard_normal(shape) * 3, rng.standard_normal(shape))
    ours.eval(), theirs.eval()  # identical in eval
    _compare_step(ours, theirs, rng.standard_normal(shape), rng.standard_normal(shape))


def test_layernorm_no_affine_and_gradcheck(rng):
    ln = nn.LayerNorm((2, 3), elementwise_affine=False)
    assert list(ln.parameters()) == []
    no_bias = nn.LayerNorm(3, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"] and no_bias.bias is None
    x1 = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(no_bias(ad.tensor(x1)).data, _np_norm(x1, 1), rtol=1e-4,
                               atol=1e-5)
    x = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(ln.to(ad.float64)(ad.tensor(x)).data, _np_norm(x, (1, 2)),
                               rtol=1e-10)
    xt = ad.tensor(x, requires_grad=True)
    w = ad.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = ad.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), (xt, w, b))


def test_layernorm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\).*\(2, 3\)"):
        nn.LayerNorm(4)(ad.randn(2, 3))
    with pytest.raises(ValueError, match="LayerNorm"):
        nn.LayerNorm(())


# ------------------------------------------------------------------ GroupNorm

@pytest.mark.parametrize("groups,shape", [(2, (3, 4, 5)), (1, (2, 6, 2, 2)), (6, (2, 6, 3, 1)),
                                          (3, (2, 6, 2, 3))])
def test_groupnorm_matches_torch(groups, shape, rng):
    torch = pytest.importorskip("torch")
    ours = nn.GroupNorm(groups, shape[1]).to(ad.float64)
    theirs = torch.nn.GroupNorm(groups, shape[1]).double()
    _randomise(ours, rng)
    _copy_to_torch(ours, theirs)
    _compare_step(ours, theirs, rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape))


def test_groupnorm_gradcheck_and_errors(rng):
    x = ad.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = ad.tensor(rng.standard_normal(4), requires_grad=True)
    b = ad.tensor(rng.standard_normal(4), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    with pytest.raises(ValueError, match="multiple of num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\).*\(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(ad.randn(2, 6, 3))
    with pytest.raises(ValueError, match="cannot be split into 4"):
        F.group_norm(ad.randn(2, 6, 3), 4)


# ------------------------------------------------------------------ InstanceNorm2d

@pytest.mark.parametrize("affine,track,momentum", [(False, False, 0.3), (True, False, 0.3),
                                                   (True, True, 0.3), (False, True, 0.3),
                                                   (False, True, None)])
def test_instancenorm_matches_torch(affine, track, momentum, rng):
    torch = pytest.importorskip("torch")
    ours = nn.InstanceNorm2d(3, affine=affine, track_running_stats=track,
                             momentum=momentum).to(ad.float64)
    theirs = torch.nn.InstanceNorm2d(3, affine=affine, track_running_stats=track,
                                     momentum=momentum).double()
    if affine:
        _randomise(ours, rng)
    _copy_to_torch(ours, theirs)
    shape = (2, 3, 3, 4)
    for step in range(3):
        _compare_step(ours, theirs, rng.standard_normal(shape) * (step + 1) + step,
                      rng.standard_normal(shape))
        if track:
            np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                       rtol=1e-12)
            np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                       rtol=1e-12)
            assert int(ours.num_batches_tracked.data) == int(theirs.num_batches_tracked)
    ours.eval(), theirs.eval()
    _compare_step(ours, theirs, rng.standard_normal(shape), rng.standard_normal(shape))
    # unbatched (C, H, W)
    x3 = rng.standard_normal(shape[1:])
    np.testing.assert_allclose(ours(ad.tensor(x3)).data,
                               theirs(torch.tensor(x3)).detach().numpy(), rtol=1e-6,
                               atol=1e-8)


def test_instancenorm_gradcheck_and_errors(rng):
    x = ad.tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    w = ad.tensor(rng.standard_normal(2), requires_grad=True)
    b = ad.tensor(rng.standard_normal(2), requires_grad=True)
    assert ad.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm2d(2)(ad.randn(2, 2, 1, 1))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(2\): expected 2 channels"):
        nn.InstanceNorm2d(2, affine=True)(ad.randn(2, 3, 2, 2))
    with pytest.warns(UserWarning, match="expected 2 channels"):
        nn.InstanceNorm2d(2)(ad.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="4-D"):
        nn.InstanceNorm2d(2)(ad.randn(2, 2))


# ------------------------------------------------------------------ properties

@given(n=st.integers(2, 4), c=st.integers(1, 4), h=st.integers(1, 3), w=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_every_norm_matches_numpy_reference(n, c, h, w, seed):
    """Each layer equals (x - mean) / sqrt(var + eps) over its own axes."""
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((n, c, h, w)) * 5 + rng.standard_normal()
    x = ad.tensor(x_np)
    expect = {
        "bn": _np_norm(x_np, (0, 2, 3)),
        "ln": _np_norm(x_np, (1, 2, 3)),
        "gn1": _np_norm(x_np, (1, 2, 3)),  # one group = layer norm over (C, H, W)
        "gnc": _np_norm(x_np, (2, 3)),  # one channel per group = instance norm
    }
    got = {
        "bn": nn.BatchNorm2d(c).to(ad.float64)(x),
        "ln": nn.LayerNorm((c, h, w)).to(ad.float64)(x),
        "gn1": nn.GroupNorm(1, c).to(ad.float64)(x),
        "gnc": nn.GroupNorm(c, c).to(ad.float64)(x),
    }
    if h * w > 1:
        expect["in"] = _np_norm(x_np, (2, 3))
        got["in"] = nn.InstanceNorm2d(c)(x)
    for key in expect:
        np.testing.assert_allclose(got[key].data, expect[key], rtol=1e-9, atol=1e-9,
                                   err_msg=key)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_are_normalised_in_float32(dtype, rng):
    """Far from zero (mean 100, std 1) the statistics must not be rounded to the half grid."""
    dt = getattr(ad, dtype)
    x_np = (rng.standard_normal((4, 4, 3, 3)) + 100).astype(np.float32)
    x = ad.tensor(x_np).to(dtype=dt)
    exact = x.to(dtype=ad.float32).data.astype(np.float64)  # the rounded input, exactly
    tol = 0.01 if dtype == "float16" else 0.03  # about 4 ulps of a value of size 2
    for layer, axes in ((nn.LayerNorm((4, 3, 3)), (1, 2, 3)), (nn.GroupNorm(2, 4), None),
                        (nn.InstanceNorm2d(4), (2, 3)), (nn.BatchNorm2d(4), (0, 2, 3))):
        y = layer.to(dt)(x)
        assert y.dtype == dt
        ref = (_np_norm(exact.reshape(4, 2, -1), 2).reshape(exact.shape) if axes is None
               else _np_norm(exact, axes))
        np.testing.assert_allclose(y.to(dtype=ad.float32).data, ref, atol=tol,
                                   err_msg=type(layer).__name__)
