"""The fused batch_norm op: closed-form backward vs the same formula composed from autodiff
ops, vs gradcheck and vs torch; running statistics, eval mode, half precision, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad

SHAPES = [(5, 3), (4, 3, 6), (3, 3, 4, 5)]


def _t(a, device="cpu", requires_grad=True):
    return ad.tensor(a, device=device, requires_grad=requires_grad)


def composed_batch_norm(x, w, b, eps=1e-5):
    """The same normalisation as a chain of ordinary autodiff ops (reference)."""
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return xc / ad.sqrt(var + eps) * w.reshape(cshape) + b.reshape(cshape)


def _inputs(shape, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    g = rng.standard_normal(shape)
    return x, w, b, g


@st.composite
def bn_shapes(draw):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
    shape = (n, c) + tuple(spatial)
    if n * int(np.prod(spatial, dtype=int)) < 2:
        shape = (2,) + shape[1:]
    return shape


@given(bn_shapes())
def test_fused_backward_matches_composed_ops(shape):
    x, w, b, g = _inputs(shape)
    X, W, B = _t(x), _t(w), _t(b)
    y = ad.batch_norm(X, weight=W, bias=B, training=True)
    assert y.grad_fn.name == "batch_norm"  # one fused node, not a chain
    y.backward(g)
    X2, W2, B2 = _t(x), _t(w), _t(b)
    y2 = composed_batch_norm(X2, W2, B2)
    y2.backward(g)
    np.testing.assert_allclose(y.numpy(), y2.numpy(), rtol=1e-10, atol=1e-12)
    for ours, ref in ((X.grad, X2.grad), (W.grad, W2.grad), (B.grad, B2.grad)):
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-9, atol=1e-11)


def test_backward_is_the_paper_closed_form():
    x, w, b, g = _inputs((6, 2, 3))
    X = _t(x)
    ad.batch_norm(X, weight=_t(w), bias=_t(b), training=True).backward(g)
    axes = (0, 2)
    m = x.shape[0] * x.shape[2]
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    xhat = (x - mean) * inv_std
    dx = (1 / m) * w.reshape(1, -1, 1) * inv_std * (
        m * g - g.sum(axis=axes, keepdims=True) - xhat * (g * xhat).sum(axis=axes, keepdims=True))
    np.testing.assert_allclose(X.grad.numpy(), dx, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck_and_double_backward(shape):
    x, w, b, _ = _inputs(shape, 1)
    X, W, B = _t(x), _t(w), _t(b)
    assert ad.gradcheck(lambda a, c, d: ad.batch_norm(a, weight=c, bias=d, training=True),
                        [X, W, B])

    def second(a, c, d):
        y = ad.batch_norm(a, weight=c, bias=d, training=True)
        # tanh keeps the values O(1): central differences stay accurate
        grads = ad.grad(y.tanh().sum(), [a, c, d], create_graph=True)
        return sum((q * q).sum() for q in grads)
    assert ad.gradcheck(second, [X, W, B])


@pytest.mark.parametrize("training", [True, False])
def test_on_device_matches_composed_ops(device, training):
    x, w, b, g = _inputs((4, 3, 2, 3), 6)
    rm, rv = np.linspace(-1, 1, 3), np.linspace(0.5, 2, 3)
    X, W, B = _t(x, device), _t(w, device), _t(b, device)
    RM, RV = ad.tensor(rm.copy(), device=device), ad.tensor(rv.copy(), device=device)
    y = ad.batch_norm(X, RM, RV, W, B, training=training, momentum=0.25)
    y.backward(ad.tensor(g, device=device))
    X2, W2, B2 = _t(x), _t(w), _t(b)
    if training:
        y2 = composed_batch_norm(X2, W2, B2)
        count = x.size // 3
        np.testing.assert_allclose(RM.cpu().numpy(), 0.75 * rm + 0.25 * x.mean(axis=(0, 2, 3)),
                                   rtol=1e-12)
        np.testing.assert_allclose(RV.cpu().numpy(), 0.75 * rv + 0.25 * x.var(axis=(0, 2, 3))
                                   * count / (count - 1), rtol=1e-12)
    else:
        cshape = (1, 3, 1, 1)
        y2 = (X2 - rm.reshape(cshape)) / np.sqrt(rv.reshape(cshape) + 1e-5) * \
            W2.reshape(cshape) + B2.reshape(cshape)
    y2.backward(g)
    np.testing.assert_allclose(y.cpu().numpy(), y2.numpy(), rtol=1e-10, atol=1e-12)
    for ours, ref in ((X.grad, X2.grad), (W.grad, W2.grad), (B.grad, B2.grad)):
        np.testing.assert_allclose(ours.cpu().numpy(), ref.numpy(), rtol=1e-9, atol=1e-11)


def test_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    x, w, b, _ = _inputs((3, 3, 4, 5), 1)
    X, W, B = _t(x), _t(w), _t(b)
    y = ad.batch_norm(X, weight=W, bias=B, training=True)
    total = sum((q * q).sum() for q in ad.grad((y ** 3).sum(), [X, W, B], create_graph=True))
    total.backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True)
    tgrads = torch.autograd.grad((ty ** 3).sum(), [tx, tw, tb], create_graph=True)
    sum((q * q).sum() for q in tgrads).backward()
    for ours, theirs in ((X.grad, tx.grad), (W.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-9)


def test_without_affine_parameters():
    x, _, _, g = _inputs((4, 3, 2))
    X = _t(x)
    y = ad.batch_norm(X, training=True)
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.numpy().var(axis=(0, 2)), 1, rtol=1e-4)
    assert ad.gradcheck(lambda a: ad.batch_norm(a, training=True), [X])


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch_training_running_stats_and_eval(shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b, g = _inputs(shape, 2)
    c = shape[1]
    X, W, B = _t(x), _t(w), _t(b)
    rm, rv = ad.zeros(c, dtype=ad.float64), ad.ones(c, dtype=ad.float64)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    for step in range(3):  # several steps: the running statistics compound
        xs = x * (step + 1) + step
        y = ad.batch_norm(ad.tensor(xs), rm, rv, W, B, training=True, momentum=0.2)
        ty = F.batch_norm(torch.tensor(xs), trm, trv, tw, tb, training=True, momentum=0.2)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12)
    y = ad.batch_norm(X, rm, rv, W, B, training=True)
    ty = F.batch_norm(tx, trm, trv, tw, tb, training=True)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((X.grad, tx.grad), (W.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-11)
    # eval: the running statistics, a plain affine map with gradients to x, weight, bias
    X.grad = W.grad = B.grad = None
    tx.grad = tw.grad = tb.grad = None
    y = ad.batch_norm(X, rm, rv, W, B, training=False)
    ty = F.batch_norm(tx, trm, trv, tw, tb, training=False)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((X.grad, tx.grad), (W.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-11)


def test_running_stats_formula_and_return_stats():
    x, _, _, _ = _inputs((4, 2, 3), 3)
    rm, rv = ad.full((2,), 0.5, dtype=ad.float64), ad.full((2,), 2.0, dtype=ad.float64)
    y, mean, var = ad.batch_norm(ad.tensor(x), rm, rv, training=True, momentum=0.3,
                                 return_stats=True)
    bm, bv = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(mean.numpy(), bm, rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), bv, rtol=1e-12)
    assert not mean.requires_grad and not var.requires_grad
    np.testing.assert_allclose(rm.numpy(), 0.7 * 0.5 + 0.3 * bm, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.7 * 2.0 + 0.3 * bv * 12 / 11, rtol=1e-12)


def test_running_stat_update_invalidates_graphs_that_saved_them():
    x, w, b, _ = _inputs((4, 2), 4)
    rm, rv = ad.zeros(2, dtype=ad.float64, requires_grad=True), ad.ones(2, dtype=ad.float64)
    loss = (rm * rm).sum()
    with ad.no_grad():
        ad.batch_norm(ad.tensor(x), rm, rv, training=True)
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        loss.backward()


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16])
def test_half_precision_normalises_in_float32(dtype):
    rng = np.random.default_rng(5)
    # a large common offset: a half-precision mean/variance would lose the small spread
    x = (rng.standard_normal((64, 2, 4)) * 0.5 + 30).astype(dtype)
    X = _t(x)
    y = ad.batch_norm(X, training=True)
    assert y.dtype == dtype
    ref = ad.batch_norm(ad.tensor(x.astype(np.float64)), training=True)
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref.numpy(), atol=3e-2)
    y.sum().backward()
    assert X.grad.dtype == dtype
    assert np.isfinite(X.grad.numpy().astype(np.float32)).all()


def test_errors():
    x = ad.zeros((4, 3, 2))
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel"):
        ad.batch_norm(ad.zeros((1, 3)), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: input must have a batch and a channel"):
        ad.batch_norm(ad.zeros(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\)"):
        ad.batch_norm(x, weight=ad.ones(2), training=True)
    with pytest.raises(ValueError, match=r"running_mean and running_var are required"):
        ad.batch_norm(x, training=False)
    with pytest.raises(ValueError, match=r"give both running_mean and running_var"):
        ad.batch_norm(x, ad.zeros(3), None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: input must be floating point"):
        ad.batch_norm(ad.zeros((4, 3), dtype=ad.int64), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be a positive"):
        ad.batch_norm(x, training=True, eps=0)
    with pytest.raises(TypeError, match=r"batch_norm: weight has dtype float64 but the input"):
        ad.batch_norm(x, weight=ad.ones(3, dtype=ad.float64), training=True)


def test_half_input_with_float32_parameters():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 3, 4)).astype(np.float16)
    W, B = _t(np.linspace(0.5, 1.5, 3).astype(np.float32)), _t(np.zeros(3, np.float32))
    X = _t(x)
    y = ad.batch_norm(X, weight=W, bias=B, training=True)
    assert y.dtype == ad.float16
    ref = composed_batch_norm(ad.tensor(x.astype(np.float64)), ad.tensor(W.numpy().astype(np.float64)),
                              ad.tensor(np.zeros(3)))
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref.numpy(), atol=1e-2)
    y.sum().backward()
    assert X.grad.dtype == ad.float16 and W.grad.dtype == ad.float32
    X.grad = W.grad = None
    y = ad.batch_norm(X, ad.zeros(3), ad.ones(3), W, B, training=False)
    assert y.dtype == ad.float16
    np.testing.assert_allclose(y.numpy().astype(np.float64),
                               x.astype(np.float64) / np.sqrt(1 + 1e-5) * W.numpy().reshape(1, 3, 1),
                               rtol=2e-3, atol=2e-3)
    y.sum().backward()
    assert X.grad.dtype == ad.float16 and W.grad.dtype == ad.float32
