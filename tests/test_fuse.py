"""nn.utils.fuse_batchnorm: folding eval-mode BatchNorm into the preceding Linear/Conv2d."""
import numpy as np
import pytest

import autodiff as ad
import nn


def _randomise_bn(model, rng):
    """Random running statistics and affine parameters, as after training."""
    with ad.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                if m.running_mean is not None:
                    m.running_mean.data[...] = rng.standard_normal(c) * 2
                    m.running_var.data[...] = rng.random(c) * 3 + 0.05
                if m.weight is not None:
                    m.weight.data[...] = rng.standard_normal(c)
                    m.bias.data[...] = rng.standard_normal(c)


def _assert_same_eval(model, fused, x_np):
    model.eval()
    with ad.no_grad():
        ref = model(ad.tensor(x_np)).data
        got = fused(ad.tensor(x_np)).data
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_convnet_with_nested_sequentials(rng):
    ad.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 5, 3, bias=False), nn.BatchNorm2d(5, affine=False),
                      nn.ReLU()),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(5 * 2 * 2, 6), nn.BatchNorm1d(6), nn.ReLU(),
        nn.Linear(6, 3, bias=False), nn.BatchNorm1d(3))
    _randomise_bn(model, rng)
    model.train()
    fused = nn.utils.fuse_batchnorm(model)
    assert model.training  # the original is untouched
    assert not any(m.training for m in fused.modules())
    assert _count(model, (nn.BatchNorm1d, nn.BatchNorm2d)) == 4
    assert _count(fused, (nn.BatchNorm1d, nn.BatchNorm2d)) == 0
    assert _count(fused, nn.Identity) == 4
    assert fused[3][0].bias is not None and fused[9].bias is not None  # biases created
    assert model[3][0].bias is None
    _assert_same_eval(model, fused, rng.standard_normal((4, 2, 6, 6)).astype(np.float32))
    # the copy shares nothing with the original
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for p in fused.parameters())


def test_float64_is_exact_to_rounding(rng):
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)).to(ad.float64)
    _randomise_bn(model, rng)
    fused = nn.utils.fuse_batchnorm(model)
    x = rng.standard_normal((7, 5))
    model.eval()
    np.testing.assert_allclose(fused(ad.tensor(x)).data, model(ad.tensor(x)).data,
                               rtol=1e-12, atol=1e-12)
    assert fused[0].weight.dtype == ad.float64


def test_unfusable_pairs_are_left_alone(rng):
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.BatchNorm2d(3),  # not directly after the conv
        nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, track_running_stats=False),  # batch stats
        nn.Flatten(), nn.BatchNorm1d(3 * 2 * 2))
    _randomise_bn(model, rng)
    fused = nn.utils.fuse_batchnorm(model)
    assert _count(fused, (nn.BatchNorm1d, nn.BatchNorm2d)) == 3
    _assert_same_eval(model, fused, rng.standard_normal((3, 1, 4, 4)).astype(np.float32))


def test_only_matching_sizes_are_folded():
    fused = nn.utils.fuse_batchnorm(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)))
    assert _count(fused, nn.BatchNorm1d) == 0
    # a BatchNorm whose features are not the layer's outputs is not the layer's BN
    unfit = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(4))
    assert _count(nn.utils.fuse_batchnorm(unfit), nn.BatchNorm1d) == 1


def test_matches_torch_fusion_formula(rng):
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Conv2d(2, 3, 2), nn.BatchNorm2d(3)).to(ad.float64)
    _randomise_bn(model, rng)
    fused = nn.utils.fuse_batchnorm(model)
    conv = torch.nn.Conv2d(2, 3, 2).double()
    bn = torch.nn.BatchNorm2d(3).double().eval()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(model[0].weight.data))
        conv.bias.copy_(torch.from_numpy(model[0].bias.data))
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, name).copy_(torch.from_numpy(getattr(model[1], name).data))
    t_fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv.eval(), bn)
    np.testing.assert_allclose(fused[0].weight.data, t_fused.weight.detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(fused[0].bias.data, t_fused.bias.detach().numpy(), rtol=1e-12)


def test_errors():
    with pytest.raises(TypeError, match="fuse_batchnorm: expected an nn.Module"):
        nn.utils.fuse_batchnorm([nn.Linear(2, 2)])


def test_on_device(device, rng):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).to(device)
    _randomise_bn(model.cpu(), rng)
    model.to(device)
    fused = nn.utils.fuse_batchnorm(model)
    x = ad.tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32), device=device)
    model.eval()
    np.testing.assert_allclose(fused(x).cpu().numpy(), model(x).cpu().numpy(), rtol=1e-5,
                               atol=1e-5)
