"""Activations (nn.functional and the modules): values and gradients against closed forms
and torch, gradcheck in float64 (first and second order), stability at +-1000."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
import nn
from nn import functional as F

# name -> (our function, NumPy reference in float64)
_erf = np.vectorize(math.erf)


def _sig(x):
    return 0.5 * (1 + np.tanh(x / 2))


def _softplus_ref(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "sigmoid": (F.sigmoid, _sig),
    "tanh": (F.tanh, np.tanh),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (F.silu, lambda x: x * _sig(x)),
    "softplus": (F.softplus, _softplus_ref),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: _softplus_ref(x, 2.0, 3.0)),
    "softmax": (lambda x: F.softmax(x, axis=-1),
                lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0),
                    lambda x: x - x.max(0) - np.log(np.exp(x - x.max(0)).sum(0))),
}

# values that avoid the kinks at 0 (central differences need a smooth neighbourhood)
SMOOTH = np.array([[-2.5, -1.1, -0.3, 0.2, 0.9], [1.7, -0.05, 0.45, -4.0, 3.1]])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_matches_closed_form(name):
    fn, ref = ACTIVATIONS[name]
    x = np.concatenate([SMOOTH, [[0.0, 5.0, -6.0, 25.0, -30.0]]])
    np.testing.assert_allclose(fn(ad.tensor(x)).numpy(), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradcheck_float64(name):
    fn, _ = ACTIVATIONS[name]
    assert ad.gradcheck(fn, (ad.tensor(SMOOTH, requires_grad=True),))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_second_derivative_gradcheck(name):
    # differentiate the gradient again: the activations are built from differentiable ops
    fn, _ = ACTIVATIONS[name]

    def grad_of(x):
        return ad.grad((fn(x) * ad.tensor(np.linspace(-1, 1, x.numel()).reshape(x.shape))).sum(),
                       x, create_graph=True)[0]

    assert ad.gradcheck(grad_of, (ad.tensor(SMOOTH, requires_grad=True),))


def test_softplus_second_derivative_is_sigmoid_slope():
    x = ad.tensor(SMOOTH, requires_grad=True)
    (g,) = ad.grad(F.softplus(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), _sig(SMOOTH), rtol=1e-12)
    (h,) = ad.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), _sig(SMOOTH) * (1 - _sig(SMOOTH)), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_stable_at_plus_minus_1000(name, device):
    fn, ref = ACTIVATIONS[name]
    data = np.array([[-1000.0, 1000.0, 0.0, -1e4, 1e4]], dtype=np.float32)
    x = ad.tensor(data, device=device, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # none inside the ops either
        y = fn(x)
        y.backward(ad.ones_like(y))
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad.numpy()))
    if name not in ("softmax", "log_softmax"):  # their reference overflows, not ours
        np.testing.assert_allclose(y.numpy(), ref(data.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_kink_conventions():
    # gradients at exactly 0 follow PyTorch: relu 0, leaky_relu slope, elu alpha,
    # softplus 1/2
    cases = [(F.relu, 0.0), (lambda x: F.leaky_relu(x, 0.1), 0.1), (lambda x: F.elu(x, 0.7), 0.7),
             (F.softplus, 0.5), (F.silu, 0.5), (F.gelu, 0.5)]
    for fn, expected in cases:
        x = ad.tensor([0.0], dtype=ad.float64, requires_grad=True)
        fn(x).sum().backward()
        assert x.grad.item() == pytest.approx(expected, abs=1e-12)


def test_softplus_threshold_switches_to_identity():
    x = ad.tensor([19.0, 20.0, 20.5, 30.0], dtype=ad.float64, requires_grad=True)
    y = F.softplus(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy()[2:], [20.5, 30.0])  # exactly x past the threshold
    np.testing.assert_allclose(y.numpy()[:2], np.log1p(np.exp([19.0, 20.0])), rtol=1e-14)
    np.testing.assert_array_equal(x.grad.numpy()[2:], [1.0, 1.0])


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-50, 50)))
def test_properties_over_shapes_and_values(data):
    x = ad.tensor(data)
    sp, sp_neg = F.softplus(x).numpy(), F.softplus(-x).numpy()
    np.testing.assert_allclose(sp - sp_neg, data, atol=1e-9)  # softplus(x) - softplus(-x) = x
    np.testing.assert_allclose(F.sigmoid(-x).numpy(), 1 - F.sigmoid(x).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.silu(x).numpy(), data * _sig(data), atol=1e-12)
    s = F.softmax(x, axis=-1).numpy()
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, axis=-1).numpy(), np.log(s), atol=1e-9)
    lr = F.leaky_relu(x, 0.3).numpy()
    np.testing.assert_allclose(lr, np.maximum(data, 0.3 * data), atol=1e-12)
    np.testing.assert_array_equal(F.relu(x).numpy(), np.maximum(data, 0))
    np.testing.assert_allclose(F.gelu(x).numpy(), ACTIVATIONS["gelu"][1](data), atol=1e-12)


# ---------------------------------------------------------------- PReLU

@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_forward_and_grads(num_parameters):
    m = nn.PReLU(num_parameters, init=0.25).to(dtype=ad.float64)
    with ad.no_grad():
        m.weight.data[...] = np.linspace(0.1, 0.3, num_parameters)
    data = np.random.default_rng(0).standard_normal((2, 3, 4))
    x = ad.tensor(data, requires_grad=True)
    y = m(x)
    a = np.linspace(0.1, 0.3, num_parameters).reshape(-1, 1) if num_parameters > 1 else 0.1
    np.testing.assert_allclose(y.numpy(), np.where(data > 0, data, a * data))
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(ad.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np.where(data > 0, g, a * g))
    wgrad = np.where(data > 0, 0, data * g)
    expected = wgrad.sum(axis=(0, 2)) if num_parameters > 1 else [wgrad.sum()]
    np.testing.assert_allclose(m.weight.grad.numpy(), expected)
    assert ad.gradcheck(lambda x, w: F.prelu(x, w),
                        (ad.tensor(SMOOTH[:, :3].reshape(2, 3), requires_grad=True),
                         ad.tensor(np.full(num_parameters, 0.2), requires_grad=True)))


def test_prelu_defaults_and_errors():
    m = nn.PReLU()
    assert m.weight.shape == (1,) and m.weight.item() == pytest.approx(0.25)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="prelu: weight of shape \\(4,\\).*channels"):
        nn.PReLU(4)(ad.ones(2, 3))
    with pytest.raises(ValueError, match="PReLU: num_parameters"):
        nn.PReLU(0)


# ---------------------------------------------------------------- modules

MODULES = [
    (nn.ReLU(), F.relu), (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5)), (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh),
    (nn.GELU(), F.gelu), (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")), (nn.SiLU(), F.silu),
    (nn.Softplus(2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    (nn.Softmax(0), lambda x: F.softmax(x, 0)), (nn.Softmax(dim=1), lambda x: F.softmax(x, 1)),
    (nn.LogSoftmax(axis=1), lambda x: F.log_softmax(x, 1)),
]


@pytest.mark.parametrize("module,fn", MODULES, ids=lambda m: repr(m) if isinstance(m, nn.Module) else "")
def test_modules_equal_functional(module, fn):
    x = ad.tensor(SMOOTH)
    np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
    assert list(module.parameters()) == []


def test_module_reprs_and_argument_errors():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert nn.ReLU(inplace=True)(ad.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(ad.tensor([1.0]), "fast")
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match="softmax: got both axis=0 and dim=1"):
        F.softmax(ad.tensor(SMOOTH), axis=0, dim=1)


def test_activation_keeps_float32_and_device(device):
    x = ad.tensor(SMOOTH.astype(np.float32), device=device, requires_grad=True)
    for module, _ in MODULES:
        y = module(x)
        assert y.dtype == ad.float32 and y.device == x.device
    m = nn.PReLU(5).to(device=device)
    y = m(x)
    y.sum().backward()
    assert m.weight.grad.device == x.device


# ---------------------------------------------------------------- torch oracle

TORCH_PAIRS = {
    "relu": (F.relu, "relu", {}),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), "leaky_relu", {"negative_slope": 0.2}),
    "elu": (lambda x: F.elu(x, 0.7), "elu", {"alpha": 0.7}),
    "sigmoid": (F.sigmoid, "sigmoid", {}),
    "tanh": (F.tanh, "tanh", {}),
    "gelu": (F.gelu, "gelu", {}),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), "gelu", {"approximate": "tanh"}),
    "silu": (F.silu, "silu", {}),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), "softplus", {"beta": 2.0, "threshold": 3.0}),
    "softmax": (lambda x: F.softmax(x, dim=1), "softmax", {"dim": 1}),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), "log_softmax", {"dim": 0}),
}


@pytest.mark.parametrize("name", sorted(TORCH_PAIRS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_against_torch(name, dtype):
    torch = pytest.importorskip("torch")
    fn, tname, kw = TORCH_PAIRS[name]
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((3, 7)) * 3).astype(dtype)
    data[0, :3] = [0.0, 1000.0, -1000.0]
    g = rng.standard_normal(data.shape).astype(dtype)
    x = ad.tensor(data, requires_grad=True)
    y = fn(x)
    y.backward(ad.tensor(g))
    tx = torch.tensor(data, requires_grad=True)
    ty = getattr(torch.nn.functional, tname)(tx, **kw)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)


@pytest.mark.parametrize("shape,num_parameters", [((4, 3), 3), ((2, 3, 5), 3), ((2, 3, 2, 2), 1),
                                                  ((6,), 1)])
def test_prelu_against_torch(shape, num_parameters):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    data = rng.standard_normal(shape)
    w = rng.uniform(0.05, 0.5, num_parameters)
    g = rng.standard_normal(shape)
    m = nn.PReLU(num_parameters).to(dtype=ad.float64)
    with ad.no_grad():
        m.weight.data[...] = w
    x = ad.tensor(data, requires_grad=True)
    y = m(x)
    y.backward(ad.tensor(g))
    tm = torch.nn.PReLU(num_parameters).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w))
    tx = torch.tensor(data, requires_grad=True)
    ty = tm(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-10)
