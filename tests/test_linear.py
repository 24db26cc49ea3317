"""Dense layers: Linear, Maxout, Dropout, Flatten, Identity (values, gradients, init, errors)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn.linear import dropout, linear


def _f64(*shape, seed=0, requires_grad=False):
    rng = np.random.default_rng(seed)
    return ad.tensor(rng.standard_normal(shape), requires_grad=requires_grad)


def _params(m):
    """The module's parameters as fresh float64 leaves, and a function of (x, *params)."""
    names = [n for n, _ in m.named_parameters()]
    leaves = [ad.tensor(p.data.astype(np.float64), requires_grad=True)
              for _, p in m.named_parameters()]

    def fn(x, *ps):
        return nn.functional_call(m, dict(zip(names, ps)), x)
    return leaves, fn


# ---------------------------------------------------------------- Linear

def test_linear_forward_matches_numpy(device):
    m = nn.Linear(3, 2, device=device)
    x = ad.randn(4, 3, device=device)
    y = m(x)
    expected = x.numpy() @ m.weight.numpy().T + m.bias.numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert y.device.startswith(device) and m.weight.shape == (2, 3) and m.bias.shape == (2,)


def test_linear_batched_leading_dims_and_no_bias():
    m = nn.Linear(3, 5, bias=False, dtype=ad.float64)
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    x = _f64(2, 4, 3)
    np.testing.assert_allclose(m(x).data, x.data @ m.weight.data.T)
    np.testing.assert_allclose(m(_f64(3)).data, _f64(3).data @ m.weight.data.T)
    assert m.weight.dtype == np.float64


def test_linear_bad_input_names_the_sizes():
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(3, 2\).*shape \(4, 5\).*in_features=3"):
        m(ad.ones(4, 5))
    with pytest.raises(TypeError, match="ad.Tensor"):
        m(np.ones((4, 3)))
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(0, 2)
    with pytest.raises(ValueError, match="weight.shape"):
        linear(ad.ones(2, 2), ad.ones(3, 3))


def test_linear_default_init_is_pytorchs_uniform():
    ad.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = m.weight.data, m.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-c, c) has std c / sqrt(3); 120k samples give a relative sampling error ~ 0.2%
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.01
    assert abs(w.mean()) < 4 * bound / math.sqrt(3) / math.sqrt(w.size)
    assert np.abs(b).max() > 0.9 * bound


def test_linear_init_reproducible():
    ad.manual_seed(5)
    a = nn.Linear(4, 3)
    ad.manual_seed(5)
    b = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    m = nn.Linear(3, 2, bias=bias)
    leaves, fn = _params(m)
    assert ad.gradcheck(fn, [_f64(4, 3, requires_grad=True), *leaves])


def test_functional_linear_gradcheck():
    assert ad.gradcheck(linear, [_f64(2, 5, 3, requires_grad=True), _f64(4, 3, seed=1,
                        requires_grad=True), _f64(4, seed=2, requires_grad=True)])


def _torch_check(m, tm, x_shape, seed=0):
    """Forward, input gradient and parameter gradients of `m` against torch module `tm`
    after copying m's parameters into it (float64)."""
    torch = pytest.importorskip("torch")
    m.double()
    with torch.no_grad():
        for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
            assert n == tn
            tp.copy_(torch.from_numpy(p.data.copy()))
    x = _f64(*x_shape, seed=seed, requires_grad=True)
    tx = torch.from_numpy(x.data.copy()).requires_grad_()
    y, ty = m(x), tm(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    y.backward(ad.tensor(g))
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for (n, p), tp in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=n)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    torch = pytest.importorskip("torch")
    _torch_check(nn.Linear(3, 4, bias=bias), torch.nn.Linear(3, 4, bias=bias).double(),
                 (2, 5, 3))


# ---------------------------------------------------------------- Maxout

def test_maxout_is_max_of_affine_pieces():
    m = nn.Maxout(3, 2, pieces=4, dtype=ad.float64)
    assert m.weight.shape == (8, 3) and m.bias.shape == (8,)
    x = _f64(5, 3)
    z = x.data @ m.weight.data.T + m.bias.data
    expected = np.stack([z[:, 4 * j:4 * j + 4].max(axis=1) for j in range(2)], axis=1)
    np.testing.assert_allclose(m(x).data, expected)
    assert m(_f64(2, 6, 3)).shape == (2, 6, 2)
    with pytest.raises(ValueError, match="Maxout"):
        m(ad.ones(2, 4))
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(3, 2, pieces=0)


def test_maxout_with_one_piece_is_linear():
    m = nn.Maxout(3, 2, pieces=1)
    lin = nn.Linear(3, 2)
    lin.load_state_dict(m.state_dict())
    x = ad.randn(4, 3)
    np.testing.assert_array_equal(m(x).data, lin(x).data)


def test_maxout_gradcheck():
    m = nn.Maxout(3, 2, pieces=3)
    leaves, fn = _params(m)
    assert ad.gradcheck(fn, [_f64(4, 3, requires_grad=True), *leaves])


def test_maxout_matches_torch():
    torch = pytest.importorskip("torch")

    class TorchMaxout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(6, 3, dtype=torch.float64))
            self.bias = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))

        def forward(self, x):
            z = torch.nn.functional.linear(x, self.weight, self.bias)
            return z.view(*x.shape[:-1], 2, 3).amax(-1)
    _torch_check(nn.Maxout(3, 2, pieces=3), TorchMaxout(), (4, 3))


# ---------------------------------------------------------------- Flatten, Identity

def test_flatten_and_identity():
    x = _f64(2, 3, 4, 5, requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, -2)(x).shape == (2, 12, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.data.reshape(2, 60))
    assert nn.Identity(3, foo=1)(x) is x
    assert ad.gradcheck(nn.Flatten(), [x])
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_flatten_matches_torch():
    torch = pytest.importorskip("torch")
    x = _f64(2, 3, 4)
    for args in [(), (0,), (0, 1), (1, 1)]:
        assert nn.Flatten(*args)(x).shape == tuple(torch.nn.Flatten(*args)(
            torch.from_numpy(x.data)).shape)


# ---------------------------------------------------------------- Dropout

def test_dropout_scales_kept_elements_and_grads(device):
    ad.manual_seed(0)
    x = ad.ones(200, 50, device=device, requires_grad=True)
    d = nn.Dropout(0.25)
    y = d(x)
    v = y.numpy()
    kept = v != 0
    np.testing.assert_allclose(v[kept], 1 / 0.75, rtol=1e-6)
    y.backward(ad.ones(200, 50, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), v)  # dy/dx = mask / (1 - p)
    # fraction dropped ~ p: binomial sd = sqrt(p(1-p)/n) ~ 0.003
    assert abs((~kept).mean() - 0.25) < 0.015


def test_dropout_eval_identity_and_edge_probabilities():
    x = ad.randn(10, 10)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    z = nn.Dropout(1.0)(ad.randn(4, 4, requires_grad=True))
    assert not z.data.any()
    for bad, kind in ((-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError),
                      ("0.5", TypeError), (True, TypeError)):
        with pytest.raises(kind, match="dropout probability"):
            nn.Dropout(bad)
        with pytest.raises(kind, match="dropout probability"):
            dropout(x, bad)
    assert dropout(x, 0.5, training=False) is x


def test_dropout_reproducible_under_manual_seed():
    x = ad.randn(30, 30)
    ad.manual_seed(123)
    a = nn.Dropout(0.3)(x).data
    ad.manual_seed(123)
    b = nn.Dropout(0.3)(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dropout(0.3)(x).data)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_dropout_keeps_dtype(dtype):
    x = ad.ones(8, 8, dtype=dtype)
    y = dropout(x, 0.5)
    assert y.dtype == x.dtype
    assert set(np.unique(y.data.astype(np.float64))) <= {0.0, 2.0}


@given(p=st.floats(0.05, 0.9), seed=st.integers(0, 1000))
def test_dropout_mean_matches_input_in_expectation(p, seed):
    ad.manual_seed(seed)
    n = 40_000
    x = ad.full((n,), 3.0, dtype=ad.float64)
    y = dropout(x, p).data
    # mean of n i.i.d. values 3 m / (1 - p): sd = 3 sqrt(p / (1 - p) / n); allow 5 sd
    assert abs(y.mean() - 3.0) < 5 * 3 * math.sqrt(p / (1 - p) / n)


def test_mc_dropout_stays_active_in_eval():
    ad.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1)).eval()
    x = ad.randn(1, 4)
    assert np.array_equal(model(x).data, model(x).data)  # deterministic in eval
    assert nn.set_mc_dropout(model) == 1 and model[1].mc
    samples = np.array([model(x).item() for _ in range(20)])
    assert samples.std() > 0  # stochastic: MC samples differ
    assert repr(model[1]) == "Dropout(p=0.5, mc=True)"
    nn.set_mc_dropout(model, False)
    assert np.array_equal(model(x).data, model(x).data)
    assert nn.Dropout(0.5, mc=True).eval()(x) is not x


def test_dropout_gradcheck_with_a_fixed_mask():
    def fn(x):
        ad.manual_seed(7)  # the same mask at every evaluation
        return dropout(x, 0.3)
    x = _f64(6, 5, requires_grad=True)
    assert ad.gradcheck(fn, [x])
    assert ad.gradcheck(lambda x: nn.Identity()(x) * 1.0, [x])
