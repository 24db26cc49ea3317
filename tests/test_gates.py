"""Residual, Highway and the general gated skip form: the lecture's closed-form gradient,
identity properties, formulas, gradcheck, torch, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
import nn
from nn import functional as F


def _sig(z):
    return 0.5 * (1 + np.tanh(z / 2))


# ---------------------------------------------------------------- the lecture's gradient

@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2 ** 31 - 1))
def test_highway_unit_gradient_equals_closed_form(m, n, seed):
    """p = W2 h, s = p + b, y = sigma(p) sigma(s) + (1 - sigma(p)) p, E = (t - y)^2 / 2:
    dE/dW2 = (y - t)[sigma(p) sigma(s)(1 - sigma(s)) + sigma(p)(1 - sigma(p)) sigma(s)
             + 1 - sigma(p) - p sigma(p)(1 - sigma(p))] h"""
    rng = np.random.default_rng(seed)
    h_, w_, b_, t_ = (rng.standard_normal(n), rng.standard_normal((m, n)), rng.standard_normal(m),
                      rng.standard_normal(m))
    W2 = ad.tensor(w_, requires_grad=True)
    h, b, t = ad.tensor(h_), ad.tensor(b_), ad.tensor(t_)
    p = W2 @ h
    s = p + b
    y = F.gated_skip(ad.sigmoid(s), p, gate=ad.sigmoid(p))
    E = ((t - y) ** 2 / 2).sum()
    E.backward()

    P = w_ @ h_
    S = P + b_
    sp, ss = _sig(P), _sig(S)
    Y = sp * ss + (1 - sp) * P
    bracket = sp * ss * (1 - ss) + sp * (1 - sp) * ss + 1 - sp - P * sp * (1 - sp)
    expected = np.outer((Y - t_) * bracket, h_)
    np.testing.assert_allclose(y.numpy(), Y, rtol=1e-12)
    np.testing.assert_allclose(W2.grad.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_lecture_variants_written_with_gated_skip():
    rng = np.random.default_rng(1)
    h_, w_, b_, v_ = (rng.standard_normal(3), rng.standard_normal((3, 3)), rng.standard_normal(3),
                      rng.standard_normal((3, 3)))
    h, W, b, V = map(ad.tensor, (h_, w_, b_, v_))
    p = W @ h
    s = p + b
    P = w_ @ h_
    S = P + b_
    # residual y = sigma(s) + p; scaled skip y = sigma(s) + V s; highway
    np.testing.assert_allclose(F.gated_skip(ad.sigmoid(s), p).numpy(), _sig(S) + P, rtol=1e-12)
    np.testing.assert_allclose(F.gated_skip(ad.sigmoid(s), V @ s).numpy(), _sig(S) + v_ @ S, rtol=1e-12)
    np.testing.assert_allclose(F.gated_skip(ad.sigmoid(s), p, gate=ad.sigmoid(p)).numpy(),
                               _sig(P) * _sig(S) + (1 - _sig(P)) * P, rtol=1e-12)


def test_gated_module_forms():
    ad.manual_seed(0)
    x = ad.randn(5, 4, dtype=ad.float64)
    lin = nn.Linear(4, 4).to(dtype=ad.float64)
    proj = nn.Linear(4, 4, bias=False).to(dtype=ad.float64)
    gate = nn.Linear(4, 4).to(dtype=ad.float64)
    body = nn.Sequential(lin, nn.Sigmoid())
    with ad.no_grad():
        residual = nn.Gated(body)(x)
        scaled = nn.Gated(body, carry=proj)(x)
        highway = nn.Gated(body, gate=nn.Sequential(gate, nn.Sigmoid()))(x)
        hx, t = ad.sigmoid(lin(x)).numpy(), ad.sigmoid(gate(x)).numpy()
        np.testing.assert_allclose(residual.numpy(), hx + x.numpy(), rtol=1e-12)
        np.testing.assert_allclose(scaled.numpy(), hx + proj(x).numpy(), rtol=1e-12)
        np.testing.assert_allclose(highway.numpy(), t * hx + (1 - t) * x.numpy(), rtol=1e-12)
    # plain callables work too and register nothing
    g = nn.Gated(ad.tanh, gate=ad.sigmoid)
    assert list(g.parameters()) == []
    np.testing.assert_allclose(g(x).numpy(), _sig(x.numpy()) * np.tanh(x.numpy())
                               + (1 - _sig(x.numpy())) * x.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- Residual

@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.floats(-1e3, 1e3)))
def test_residual_with_zero_branch_is_identity(data):
    x = ad.tensor(data, requires_grad=True)
    y = nn.Residual(lambda v: v * 0.0)(x)
    np.testing.assert_array_equal(y.numpy(), data)
    y.backward(ad.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(data))  # dy/dx = I


def test_residual_zero_linear_branch_and_gradients():
    lin = nn.Linear(3, 3).to(dtype=ad.float64)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    x = ad.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    block = nn.Residual(lin)
    np.testing.assert_array_equal(block(x).numpy(), x.numpy())
    # with a nonzero branch: y = x W^T + b + x; gradcheck through input and weights
    nn.init.normal_(lin.weight)
    w = ad.tensor(lin.weight.numpy().copy(), requires_grad=True)
    assert ad.gradcheck(lambda x, w: nn.functional_call(block, {"fn.weight": w}, x), (x, w))
    assert [n for n, _ in block.named_parameters()] == ["fn.weight", "fn.bias"]


def test_residual_shape_error_is_clear():
    block = nn.Residual(nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"Residual: the branch Linear maps an input of shape "
                                         r"\(4, 3\) to shape \(4, 2\)"):
        block(ad.ones(4, 3))
    # (4, 1) + (4,) would broadcast silently; it must raise instead
    with pytest.raises(ValueError, match="Residual"):
        nn.Residual(lambda v: v.reshape(4, 1))(ad.ones(4))
    with pytest.raises(TypeError, match="Residual: fn must be a Module or a callable"):
        nn.Residual(3)


def test_gated_skip_errors():
    with pytest.raises(ValueError, match=r"gated_skip: the transform has shape \(2, 3\) but the "
                                         r"carried \(skip\) input has shape \(2, 4\)"):
        F.gated_skip(ad.ones(2, 3), ad.ones(2, 4))
    with pytest.raises(TypeError, match="Gated: gate must be a Module or a callable"):
        nn.Gated(ad.tanh, gate=0.5)


# ---------------------------------------------------------------- Highway

def _highway_ref(x, wh, bh, wt, bt):
    t = _sig(x @ wt.T + bt)
    return t * np.maximum(x @ wh.T + bh, 0) + (1 - t) * x


def test_highway_formula_and_initial_carry():
    ad.manual_seed(3)
    hw = nn.Highway(4, gate_bias=-3.0).to(dtype=ad.float64)
    np.testing.assert_array_equal(hw.gate.bias.numpy(), -3.0)
    assert [n for n, _ in hw.named_parameters()] == ["transform.weight", "transform.bias",
                                                     "gate.weight", "gate.bias"]
    x = np.random.default_rng(0).standard_normal((6, 4)) * 0.1
    ref = _highway_ref(x, hw.transform.weight.numpy(), hw.transform.bias.numpy(),
                       hw.gate.weight.numpy(), hw.gate.bias.numpy())
    y = hw(ad.tensor(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    # the negative gate bias makes the layer start close to the identity: T ~ sigma(-3) = 0.05
    h = np.maximum(x @ hw.transform.weight.numpy().T + hw.transform.bias.numpy(), 0)
    assert np.abs(y - x).mean() < 0.1 * np.abs(h - x).mean()


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.just(3)), elements=st.floats(-1e3, 1e3)))
def test_highway_with_closed_gate_is_identity(data):
    hw = nn.Highway(3, activation=nn.Tanh()).to(dtype=ad.float64)
    nn.init.zeros_(hw.gate.weight)
    nn.init.constant_(hw.gate.bias, -1000.0)  # sigma(-1000) = 0 exactly: the gate is closed
    np.testing.assert_array_equal(hw(ad.tensor(data)).numpy(), data)


def test_highway_with_open_gate_is_the_transform():
    hw = nn.Highway(3, activation=nn.Tanh()).to(dtype=ad.float64)
    nn.init.zeros_(hw.gate.weight)
    nn.init.constant_(hw.gate.bias, 1000.0)
    x = ad.tensor(np.random.default_rng(1).standard_normal((2, 3)))
    np.testing.assert_allclose(hw(x).numpy(), np.tanh(hw.transform(x).numpy()), rtol=1e-12)


def test_highway_gradcheck_all_parameters():
    hw = nn.Highway(3, activation=nn.Tanh()).to(dtype=ad.float64)
    rng = np.random.default_rng(2)
    names = ["transform.weight", "transform.bias", "gate.weight", "gate.bias"]
    params = [ad.tensor(rng.standard_normal(dict(hw.named_parameters())[n].shape), requires_grad=True)
              for n in names]
    x = ad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert ad.gradcheck(lambda x, *ps: nn.functional_call(hw, dict(zip(names, ps)), x), (x, *params))


def test_highway_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    hw = nn.Highway(5).to(dtype=ad.float64)  # ReLU transform
    x_ = rng.standard_normal((3, 5))
    g_ = rng.standard_normal((3, 5))
    x = ad.tensor(x_, requires_grad=True)
    hw(x).backward(ad.tensor(g_))

    th, tg = torch.nn.Linear(5, 5).double(), torch.nn.Linear(5, 5).double()
    with torch.no_grad():
        for tl, ours in ((th, hw.transform), (tg, hw.gate)):
            tl.weight.copy_(torch.tensor(ours.weight.numpy()))
            tl.bias.copy_(torch.tensor(ours.bias.numpy()))
    tx = torch.tensor(x_, requires_grad=True)
    t = torch.sigmoid(tg(tx))
    ty = t * torch.relu(th(tx)) + (1 - t) * tx
    ty.backward(torch.tensor(g_))
    np.testing.assert_allclose(hw(ad.tensor(x_)).numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    for ours, tl in ((hw.transform, th), (hw.gate, tg)):
        np.testing.assert_allclose(ours.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ours.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_highway_on_device(device):
    hw = nn.Highway(4).to(device=device)
    x = ad.randn(2, 4, device=device, requires_grad=True)
    y = hw(x)
    y.sum().backward()
    assert y.device == x.device and hw.gate.weight.grad.device == x.device
    assert "Highway(\n  features=4, gate_bias=-2.0" in repr(hw)
