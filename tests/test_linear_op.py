"""ad.linear: y = x W^T + b as one graph node (W in PyTorch's (out, in) layout)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import autodiff as ad

SHAPES = [(3, 4), (4,), (2, 3, 4)]  # batch, a single 1-D sample, (N, L, in)


def _arrays(x_shape, out=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape), rng.standard_normal((out, x_shape[-1])),
            rng.standard_normal(out))


def _t(a, device="cpu", dtype=ad.float64, requires_grad=True):
    return ad.tensor(a, dtype=dtype, device=device, requires_grad=requires_grad)


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_matches_numpy(device, x_shape, with_bias):
    x, w, b = _arrays(x_shape)
    y = ad.linear(_t(x, device), _t(w, device), _t(b, device) if with_bias else None)
    ref = x @ w.T + (b if with_bias else 0)
    assert y.shape == ref.shape and y.dtype == ad.float64
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_is_one_graph_node():
    x, w, b = _arrays((3, 4))
    y = ad.linear(_t(x), _t(w), _t(b))
    assert y.grad_fn.name == "linear" and len(y.grad_fn.inputs) == 3
    assert "g^T @ x" in y.grad_fn.derivative


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_gradcheck(device, x_shape, with_bias):
    x, w, b = _arrays(x_shape, seed=1)
    inputs = (_t(x, device), _t(w, device)) + ((_t(b, device),) if with_bias else ())
    assert ad.gradcheck(ad.linear, inputs)


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
def test_gradgradcheck(device, x_shape):
    x, w, b = _arrays(x_shape, seed=2)
    assert ad.gradgradcheck(ad.linear, (_t(x, device), _t(w, device), _t(b, device)))


def test_gradients_by_hand_and_only_where_needed():
    x, w, b = _arrays((2, 3, 4), seed=3)
    g = np.random.default_rng(4).standard_normal((2, 3, 5))
    xt, wt, bt = _t(x), _t(w), _t(b)
    ad.linear(xt, wt, bt).backward(ad.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), g @ w, rtol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), g.reshape(-1, 5).T @ x.reshape(-1, 4),
                               rtol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), g.sum(axis=(0, 1)), rtol=1e-12)
    # A constant input gets no gradient; the parameters still do.
    xc, wt2 = _t(x, requires_grad=False), _t(w)
    ad.linear(xc, wt2).sum().backward()
    assert xc.grad is None and wt2.grad.shape == (5, 4)


@given(rows=st.integers(1, 4), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       lead=st.sampled_from([(), (2,), (2, 1)]), seed=st.integers(0, 2**16))
def test_matches_matmul_plus_bias_in_value_and_gradient(rows, n_in, n_out, lead, seed):
    x, w, b = _arrays(lead + (rows, n_in), n_out, seed)
    g = np.random.default_rng(seed + 1).standard_normal(lead + (rows, n_out))
    fused = [_t(x), _t(w), _t(b)]
    plain = [_t(x), _t(w), _t(b)]
    y1 = ad.linear(*fused)
    y2 = plain[0] @ plain[1].T + plain[2]
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-12, atol=1e-12)
    y1.backward(ad.tensor(g))
    y2.backward(ad.tensor(g))
    for a, b_ in zip(fused, plain):
        np.testing.assert_allclose(a.grad.numpy(), b_.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_low_precision_keeps_dtype_and_accumulates_in_float32(device, dtype):
    # Output and gradients stay in the input dtype and agree with a float64 reference to
    # the dtype's precision (sums of 64 products, accumulated in float32).
    x, w, b = _arrays((8, 64), 3, seed=5)
    xt, wt, bt = (_t(a, device, getattr(ad, dtype)) for a in (x, w, b))
    y = ad.linear(xt, wt, bt)
    assert y.dtype == getattr(ad, dtype)
    ref = (xt.numpy().astype(np.float64) @ wt.numpy().astype(np.float64).T
           + bt.numpy().astype(np.float64))
    tol = {"float16": 2e-3, "bfloat16": 2e-2, "float32": 1e-5}[dtype]
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref, rtol=tol, atol=tol * 8)
    y.sum().backward()
    for t in (xt, wt, bt):
        assert t.grad.dtype == t.dtype
    np.testing.assert_allclose(bt.grad.numpy().astype(np.float64), np.full(3, 8.0))
    np.testing.assert_allclose(wt.grad.numpy().astype(np.float64),
                               np.tile(xt.numpy().astype(np.float64).sum(axis=0), (3, 1)),
                               rtol=tol, atol=tol * 8)


@pytest.mark.parametrize("x_shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_matches_torch(x_shape, with_bias):
    torch = pytest.importorskip("torch")
    x, w, b = _arrays(x_shape, seed=6)
    g = np.random.default_rng(7).standard_normal(x_shape[:-1] + (5,))
    ours = [_t(x), _t(w)] + ([_t(b)] if with_bias else [])
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)[:len(ours)]]
    y = ad.linear(*ours)
    ty = torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.backward(ad.tensor(g))
    ty.backward(torch.tensor(g))
    for a, ta in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_bias_of_one_element_broadcasts_and_gets_summed_gradient():
    x, w, _ = _arrays((3, 4), seed=8)
    bt = _t(np.array([0.5]))
    y = ad.linear(_t(x), _t(w), bt)
    np.testing.assert_allclose(y.numpy(), x @ w.T + 0.5, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(bt.grad.numpy(), [15.0])


def test_in_place_write_to_weight_before_backward_is_refused():
    x, w, b = _arrays((3, 4), seed=9)
    wt = _t(w)
    y = ad.linear(_t(x), wt, _t(b)).sum()
    wt.data *= 2.0  # as an optimizer step does, announced with mark_modified
    ad.mark_modified(wt)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


@pytest.mark.parametrize("x_shape, w_shape, b_shape, needle", [
    ((3, 4), (5, 3), (5,), "last dimension"),
    ((3, 4), (5, 4, 1), (5,), "2-D"),
    ((), (5, 4), (5,), "input of shape ()"),
    ((3, 4), (5, 4), (4,), "bias of shape (4,)"),
    ((3, 4), (5, 4), (5, 1), "bias of shape (5, 1)"),
])
def test_shape_errors_name_the_op_and_shapes(x_shape, w_shape, b_shape, needle):
    x, w, b = (np.ones(s) for s in (x_shape, w_shape, b_shape))
    with pytest.raises(ValueError, match="linear") as info:
        ad.linear(_t(x), _t(w), _t(b))
    assert needle in str(info.value)


def test_nn_linear_and_functional_linear_record_one_node():
    nn = pytest.importorskip("nn")
    layer = nn.Linear(4, 3)
    x = ad.tensor(np.ones((2, 4), dtype=np.float32))
    y = layer(x)
    assert y.grad_fn.name == "linear"
    assert y.grad_fn.inputs[1] is layer.weight and y.grad_fn.inputs[2] is layer.bias
    z = nn.functional.linear(x, layer.weight)
    assert z.grad_fn.name == "linear" and len(z.grad_fn.inputs) == 2
    np.testing.assert_allclose(y.numpy(), z.numpy() + layer.bias.numpy(), rtol=1e-6)
