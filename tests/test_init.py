"""nn.init: sample statistics within sampling error, gains, fans, in-place semantics, and the
signal-propagation property that motivates Kaiming init."""
import math

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import init
from nn.init import _calculate_fan_in_and_fan_out

N_BIG = (500, 400)  # 200k samples: the sample std has relative sd 1/sqrt(2n) ~ 0.16%


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), a


def _assert_std(t, std, k=5):
    _, s, a = _stats(t)
    assert abs(s / std - 1) < k / math.sqrt(2 * a.size), (s, std)


def _assert_mean(t, mean, std, k=5):
    m, _, a = _stats(t)
    assert abs(m - mean) < k * std / math.sqrt(a.size), (m, mean)


def test_normal_and_uniform_statistics(device):
    t = ad.empty(*N_BIG, device=device)
    assert init.normal_(t, mean=1.0, std=2.0) is t
    _assert_mean(t, 1.0, 2.0)
    _assert_std(t, 2.0)
    init.uniform_(t, -1.0, 3.0)
    _, _, a = _stats(t)
    assert a.min() >= -1.0 and a.max() <= 3.0
    _assert_mean(t, 1.0, 4 / math.sqrt(12))
    _assert_std(t, 4 / math.sqrt(12))


def test_constant_fills():
    t = ad.empty(3, 4)
    np.testing.assert_array_equal(init.constant_(t, 2.5).data, np.full((3, 4), 2.5))
    np.testing.assert_array_equal(init.zeros_(t).data, np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(t).data, np.ones((3, 4)))
    np.testing.assert_array_equal(init.eye_(t).data, np.eye(3, 4))
    i = ad.zeros(3, dtype=ad.int64)
    np.testing.assert_array_equal(init.constant_(i, 7).data, [7, 7, 7])


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2), ("tanh", 0),
                                            ("linear", 0)])
def test_kaiming_statistics(mode, nonlinearity, a):
    w = ad.empty(*N_BIG)
    fan = 400 if mode == "fan_in" else 500
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    _assert_std(w, std)
    _assert_mean(w, 0.0, std)
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(w.data).max() <= math.sqrt(3) * std * (1 + 1e-6)
    _assert_std(w, std)


def test_kaiming_normal_std_is_sqrt_2_over_fan_in():
    w = init.kaiming_normal_(ad.empty(*N_BIG), nonlinearity="relu")
    _assert_std(w, math.sqrt(2 / 400))


def test_xavier_statistics():
    w = ad.empty(*N_BIG)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 900)
    assert np.abs(w.data).max() <= bound
    _assert_std(w, bound / math.sqrt(3))
    init.xavier_normal_(w, gain=0.5)
    _assert_std(w, 0.5 * math.sqrt(2 / 900))


def test_conv_weight_fans():
    w = ad.empty(64, 32, 3, 3)
    assert _calculate_fan_in_and_fan_out(w) == (32 * 9, 64 * 9)
    init.kaiming_normal_(w, nonlinearity="relu")
    _assert_std(w, math.sqrt(2 / (32 * 9)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(ad.empty(5))


def test_fans_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 4), (8, 3, 5), (8, 3, 5, 5), (2, 4, 1, 3, 3)]:
        ours = _calculate_fan_in_and_fan_out(ad.empty(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_gain_table():
    g = init.calculate_gain
    for name in ["linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose2d",
                 "sigmoid"]:
        assert g(name) == 1
    assert g("tanh") == pytest.approx(5 / 3)
    assert g("relu") == pytest.approx(math.sqrt(2))
    assert g("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert g("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert g("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softsign'"):
        g("softsign")
    with pytest.raises(ValueError, match="not a number"):
        g("leaky_relu", "x")


def test_gain_table_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3),
                        ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_trunc_normal():
    t = ad.empty(*N_BIG, dtype=ad.float64)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=-1.0, b=5.0)
    a = t.data
    assert a.min() >= -1.0 and a.max() <= 5.0
    # standardised bounds [-1, 2]: closed-form mean and std of the truncated normal
    lo, hi = -1.0, 2.0
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    Z = Phi(hi) - Phi(lo)
    mu = (phi(lo) - phi(hi)) / Z
    var = 1 + (lo * phi(lo) - hi * phi(hi)) / Z - mu ** 2
    _assert_mean(t, 1.0 + 2.0 * mu, 2.0 * math.sqrt(var))
    _assert_std(t, 2.0 * math.sqrt(var))
    with pytest.raises(ValueError, match="mass"):
        init.trunc_normal_(t, mean=0.0, std=1.0, a=10.0, b=11.0)


def test_orthogonal():
    for shape in [(6, 10), (10, 6), (4, 2, 3)]:
        w = init.orthogonal_(ad.empty(*shape), gain=2.0)
        m = w.data.reshape(shape[0], -1).astype(np.float64) / 2.0
        small = min(m.shape)
        prod = m @ m.T if m.shape[0] == small else m.T @ m
        np.testing.assert_allclose(prod, np.eye(small), atol=1e-5)


def test_in_place_on_parameters_reproducible_and_invalidating():
    lin = nn.Linear(50, 40)
    arr = lin.weight.data
    ad.manual_seed(3)
    init.kaiming_normal_(lin.weight)  # no error although it requires grad
    first = arr.copy()
    assert lin.weight.data is arr and lin.weight.requires_grad and lin.weight.is_leaf
    ad.manual_seed(3)
    init.kaiming_normal_(lin.weight)
    np.testing.assert_array_equal(arr, first)
    y = (lin(ad.ones(1, 50)) ** 2).sum()  # saves the weight for backward
    init.zeros_(lin.weight)
    with pytest.raises(RuntimeError):
        y.backward()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision(dtype):
    w = init.kaiming_normal_(ad.empty(*N_BIG, dtype=dtype))
    assert w.dtype == ad.zeros(1, dtype=dtype).dtype
    _assert_std(w, math.sqrt(2 / 400), k=10)  # a=0: leaky_relu gain is sqrt(2)


def test_errors():
    with pytest.raises(TypeError, match="floating"):
        init.normal_(ad.zeros(3, dtype=ad.int64))
    with pytest.raises(TypeError, match="ad.Tensor"):
        init.uniform_(np.zeros(3))
    with pytest.raises(ValueError, match="fan_in' or 'fan_out"):
        init.kaiming_uniform_(ad.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(ad.empty(3), 1, 0)


def _activation_stds(weight_init, depth=10, width=1024, batch=128):
    ad.manual_seed(0)
    h = ad.randn(batch, width)
    stds = []
    with ad.no_grad():
        for _ in range(depth):
            lin = nn.Linear(width, width)
            weight_init(lin.weight)
            init.zeros_(lin.bias)
            z = lin(h)
            stds.append(float(z.std().item()))
            h = z.relu()
    return np.array(stds)


def test_kaiming_keeps_deep_relu_signal_and_small_gaussian_collapses():
    stds = _activation_stds(lambda w: init.kaiming_normal_(w, nonlinearity="relu"))
    assert np.all(stds / stds[0] < 2) and np.all(stds / stds[0] > 0.5), stds
    small = _activation_stds(lambda w: init.normal_(w, 0.0, 0.01))
    # each layer multiplies the scale by 0.01 * sqrt(1024 / 2) ~ 0.23
    assert small[-1] / small[0] < 1e-4, small
