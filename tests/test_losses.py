"""Losses (nn.functional and the modules): values against closed forms and torch (including
the weighted mean, ignore_index and label smoothing), input and target gradients,
gradcheck in float64, stability for logits of +-1000, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _reduce(v, reduction, denom=None):
    if reduction == "none":
        return v
    return v.sum() if reduction == "sum" else v.sum() / (v.size if denom is None else denom)


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_closed_form(reduction, rng):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    d = x - t
    cases = {
        F.mse_loss: d ** 2,
        F.l1_loss: np.abs(d),
        lambda a, b, reduction: F.huber_loss(a, b, reduction, delta=0.7):
            np.where(np.abs(d) < 0.7, 0.5 * d ** 2, 0.7 * (np.abs(d) - 0.35)),
    }
    for fn, per in cases.items():
        got = fn(ad.tensor(x), ad.tensor(t), reduction=reduction).numpy()
        np.testing.assert_allclose(got, _reduce(per, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_closed_form_with_weight_and_ignore(reduction, rng):
    x = rng.standard_normal((6, 4))
    t = np.array([0, 3, -100, 1, 3, 2])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    got = F.cross_entropy(ad.tensor(x), t, weight=ad.tensor(w), reduction=reduction).numpy()
    keep = t != -100
    safe = np.where(keep, t, 0)
    per = (_logsumexp(x, 1) - x[np.arange(6), safe]) * w[safe] * keep
    np.testing.assert_allclose(got, _reduce(per, reduction, denom=(w[safe] * keep).sum()),
                               rtol=1e-12)


def test_cross_entropy_label_smoothing_closed_form(rng):
    x = rng.standard_normal((5, 3))
    t = np.array([0, 2, 1, 1, 0])
    eps, c = 0.3, 3
    logp = x - _logsumexp(x, 1)[:, None]
    smooth = (1 - eps) * np.eye(c)[t] + eps / c
    expected = -(smooth * logp).sum(1).mean()
    assert F.cross_entropy(ad.tensor(x), t, label_smoothing=eps).item() == pytest.approx(expected, rel=1e-12)
    # the same through probability targets
    got = F.cross_entropy(ad.tensor(x), ad.tensor(np.eye(c)[t]), label_smoothing=eps).item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_binary_losses_closed_form(rng):
    z = rng.standard_normal((4, 3)) * 3
    t = rng.random((4, 3))
    p = 1 / (1 + np.exp(-z))
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert F.binary_cross_entropy(ad.tensor(p), ad.tensor(t)).item() == pytest.approx(bce.mean(), rel=1e-12)
    assert F.binary_cross_entropy_with_logits(ad.tensor(z), ad.tensor(t)).item() == pytest.approx(bce.mean(), rel=1e-12)
    pw = np.array([1.0, 2.0, 0.5])
    weighted = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    got = F.binary_cross_entropy_with_logits(ad.tensor(z), ad.tensor(t), pos_weight=pw, reduction="sum")
    assert got.item() == pytest.approx(weighted.sum(), rel=1e-12)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2 ** 31 - 1),
       st.sampled_from([1.0, 30.0, 1000.0]))
def test_cross_entropy_equals_logsumexp_minus_picked(n, c, seed, scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * scale
    t = rng.integers(0, c, n)
    expected = _logsumexp(x, 1) - x[np.arange(n), t]
    logits = ad.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10, atol=1e-10)
    loss.sum().backward()
    softmax = np.exp(x - _logsumexp(x, 1)[:, None])
    np.testing.assert_allclose(logits.grad.numpy(), softmax - np.eye(c)[t], atol=1e-12)
    # nll of log_softmax is the same loss
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(ad.tensor(x), 1), t, reduction="none").numpy(),
                               expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- gradcheck

def _t(a):
    return ad.tensor(a, requires_grad=True)


GRADCHECKS = {
    "mse": lambda rng: (lambda x, t: F.mse_loss(x, t), (_t(rng.standard_normal((3, 2))), _t(rng.standard_normal((3, 2))))),
    "l1": lambda rng: (lambda x, t: F.l1_loss(x, t, reduction="sum"),
                   (_t(np.array([[0.5, -1.0], [2.0, 0.3]])), _t(np.zeros((2, 2))))),
    "huber": lambda rng: (lambda x, t: F.huber_loss(x, t, delta=0.8),
                      (_t(np.array([0.3, -0.5, 2.0, -1.5])), _t(np.array([0.0, 0.1, -0.2, 0.4])))),
    "cross_entropy": lambda rng: (lambda x: F.cross_entropy(x, np.array([1, 0, -100, 2]), weight=np.array([1.0, 2.0, 0.5]),
                                                        label_smoothing=0.1),
                              (_t(rng.standard_normal((4, 3))),)),
    "cross_entropy_nd": lambda rng: (lambda x: F.cross_entropy(x, np.array([[1, 0], [2, 2]]), reduction="sum"),
                                 (_t(rng.standard_normal((2, 3, 2))),)),
    "cross_entropy_probs": lambda rng: (lambda x, p: F.cross_entropy(x, p, label_smoothing=0.2),
                                    (_t(rng.standard_normal((3, 4))), _t(rng.random((3, 4))))),
    "nll": lambda rng: (lambda x: F.nll_loss(x, np.array([1, 1, 0]), weight=np.array([0.3, 2.0])),
                    (_t(rng.standard_normal((3, 2))),)),
    "bce": lambda rng: (lambda x, t: F.binary_cross_entropy(x, t, weight=np.array([1.0, 0.5])),
                    (_t(rng.uniform(0.05, 0.95, (3, 2))), _t(rng.random((3, 2))))),
    "bce_logits": lambda rng: (lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=np.array([2.0, 0.5])),
                           (_t(rng.standard_normal((3, 2))), _t(rng.random((3, 2))))),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck_float64(name, rng):
    fn, inputs = GRADCHECKS[name](rng)
    assert ad.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_probs", "bce", "bce_logits", "huber"])
def test_second_order_gradcheck(name, rng):
    # the losses are differentiable twice (Hessian-vector products of training losses)
    fn, inputs = GRADCHECKS[name](rng)
    x, rest = inputs[0], inputs[1:]
    rest = tuple(r.detach() for r in rest)

    def grad_of(x):
        (g,) = ad.grad(fn(x, *rest), x, create_graph=True)
        return g

    assert ad.gradcheck(grad_of, (x,))


# ---------------------------------------------------------------- stability

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_stable_for_logits_of_1000(reduction, device):
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [0.0, 0.0, -1000.0]],
                   dtype=np.float32)
    cases = [
        lambda x: F.cross_entropy(x, np.array([1, 0, 2]), reduction=reduction),
        lambda x: F.cross_entropy(x, np.array([1, -100, 2]), weight=np.ones(3), reduction=reduction,
                                  label_smoothing=0.1),
        lambda x: F.cross_entropy(x, ad.tensor(np.full((3, 3), 1 / 3, dtype=np.float32), device=device),
                                  reduction=reduction),
        lambda x: F.cross_entropy(x, ad.tensor(np.eye(3, dtype=np.float32), device=device),
                                  reduction=reduction, label_smoothing=0.2),
        lambda x: F.nll_loss(F.log_softmax(x, 1), np.array([1, 0, 2]), reduction=reduction),
        lambda x: F.binary_cross_entropy_with_logits(
            x, ad.tensor(np.eye(3, dtype=np.float32), device=device), reduction=reduction,
            pos_weight=np.array([3.0, 1.0, 0.5])),
        lambda x: F.binary_cross_entropy(F.sigmoid(x), ad.tensor(np.eye(3, dtype=np.float32), device=device),
                                         reduction=reduction),
    ]
    for fn in cases:
        x = ad.tensor(big, device=device, requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = fn(x)
            loss.sum().backward()
        assert np.all(np.isfinite(loss.numpy())), loss
        assert np.all(np.isfinite(x.grad.numpy())), x.grad


def test_extreme_logits_give_exact_limits():
    x = ad.tensor([[1000.0, -1000.0]], requires_grad=True)
    assert F.cross_entropy(x, np.array([0])).item() == 0.0
    assert F.cross_entropy(x, np.array([1])).item() == pytest.approx(2000.0)
    assert F.binary_cross_entropy_with_logits(x, ad.tensor([[0.0, 1.0]])).item() == pytest.approx(1000.0)
    # BCE on saturated probabilities: log clamped at -100, as PyTorch
    p = ad.tensor([0.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy(p, ad.tensor([1.0, 0.0]), reduction="none").numpy(),
                               [100.0, 100.0])


def test_bce_gradient_at_saturated_probabilities():
    # PyTorch's rule: (x - t) / max(x (1 - x), 1e-12): large but finite at x = 0 or 1
    x = ad.tensor([0.0, 1.0, 0.25], dtype=ad.float64, requires_grad=True)
    F.binary_cross_entropy(x, ad.tensor([1.0, 0.0, 1.0], dtype=ad.float64), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1e12, 1e12, -4.0])


def test_all_targets_ignored_gives_nan_loss_and_zero_gradient(rng):
    x = ad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.full(3, -100), label_smoothing=0.1)
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    assert F.nll_loss(x, np.full(3, -100), reduction="sum").item() == 0.0


# ---------------------------------------------------------------- errors

def test_errors_name_the_loss_and_the_shapes():
    x = ad.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="mse_loss: target shape \\(3,\\) differs from input shape \\(3, 4\\)"):
        F.mse_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="L1Loss: reduction"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(IndexError, match="cross_entropy: target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="nll_loss: target -1 is out of bounds"):
        F.nll_loss(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="cross_entropy: input of shape \\(3, 4\\).*needs a target of shape \\(3,\\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(TypeError, match="nll_loss: class-index targets must be integers"):
        F.nll_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match="weight must have one entry per class"):
        F.cross_entropy(x, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="ignore_index=1 applies to class-index targets"):
        F.cross_entropy(x, np.zeros((3, 4)), ignore_index=1)
    with pytest.raises(ValueError, match="binary_cross_entropy: input must be probabilities in \\[0, 1\\]"):
        F.binary_cross_entropy(ad.tensor([0.5, 1.5]), ad.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


# ---------------------------------------------------------------- modules

def test_modules_match_functional_and_store_weights_as_buffers(rng):
    x = ad.tensor(rng.standard_normal((4, 3)))
    t_idx = np.array([2, 0, 1, 2])
    t_prob = ad.tensor(rng.random((4, 3)))
    w = [1.0, 2.0, 3.0]
    pairs = [
        (nn.MSELoss(reduction="sum")(x, t_prob), F.mse_loss(x, t_prob, reduction="sum")),
        (nn.L1Loss()(x, t_prob), F.l1_loss(x, t_prob)),
        (nn.HuberLoss(delta=0.3)(x, t_prob), F.huber_loss(x, t_prob, delta=0.3)),
        (nn.CrossEntropyLoss(weight=w, ignore_index=0, label_smoothing=0.1)(x, t_idx),
         F.cross_entropy(x, t_idx, weight=np.array(w), ignore_index=0, label_smoothing=0.1)),
        (nn.NLLLoss(weight=w, reduction="none")(x, t_idx), F.nll_loss(x, t_idx, weight=np.array(w), reduction="none")),
        (nn.BCELoss(weight=w)(F.sigmoid(x), t_prob), F.binary_cross_entropy(F.sigmoid(x), t_prob, weight=np.array(w))),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, t_prob),
         F.binary_cross_entropy_with_logits(x, t_prob, pos_weight=np.array(w))),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    m = nn.CrossEntropyLoss(weight=w)
    assert list(m.state_dict()) == ["weight"] and list(m.parameters()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert repr(nn.HuberLoss(delta=2.0)) == "HuberLoss(delta=2.0)"


def test_loss_on_device_keeps_dtype(device, rng):
    x = ad.tensor(rng.standard_normal((4, 3)).astype(np.float32), device=device, requires_grad=True)
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).to(device=device)(x, ad.tensor([0, 1, 2, 0], device=device))
    loss.backward()
    assert loss.dtype == ad.float32 and loss.device == x.device and x.grad.device == x.device
    bce = nn.BCEWithLogitsLoss()(x, ad.zeros(4, 3, device=device))
    assert bce.dtype == ad.float32 and bce.device == x.device


# ---------------------------------------------------------------- torch oracle

def _run_both(torch, ours, theirs, arrays, grad_mask):
    """Evaluate our loss and torch's on copies of `arrays`; compare values and the
    gradients of the arrays flagged in grad_mask."""
    xs = [ad.tensor(a, requires_grad=m) if a.dtype.kind == "f" else a for a, m in zip(arrays, grad_mask)]
    ts = [torch.tensor(a, requires_grad=m) if a.dtype.kind == "f" else torch.tensor(a)
          for a, m in zip(arrays, grad_mask)]
    y, ty = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = np.random.default_rng(5).standard_normal(y.shape)
    y.backward(ad.tensor(seed))
    ty.backward(torch.tensor(seed))
    for x, t, m in zip(xs, ts, grad_mask):
        if m:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


CE_CASES = {
    "plain": ((5, 4), (5,), {}),
    "weight": ((5, 4), (5,), {"weight": True}),
    "ignore": ((5, 4), (5,), {"ignore": -100}),
    "ignore_a_class": ((6, 3), (6,), {"ignore_index": 1}),
    "weight_ignore_smoothing": ((6, 4), (6,), {"weight": True, "ignore": -100, "label_smoothing": 0.25}),
    "smoothing": ((5, 4), (5,), {"label_smoothing": 0.1}),
    "spatial": ((2, 4, 3, 2), (2, 3, 2), {"weight": True, "ignore": -100, "label_smoothing": 0.2}),
    "unbatched": ((4,), (), {"weight": True}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CE_CASES))
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_index_losses_against_torch(loss, case, reduction):
    torch = pytest.importorskip("torch")
    xshape, tshape, opts = CE_CASES[case]
    if loss == "nll_loss":  # no label smoothing there; the other options still apply
        opts = {k: v for k, v in opts.items() if k != "label_smoothing"}
    rng = np.random.default_rng(sorted(CE_CASES).index(case))
    c = xshape[0] if len(xshape) == 1 else xshape[1]
    x = rng.standard_normal(xshape) * 2
    t = rng.integers(0, c, tshape)
    if "ignore" in opts and t.ndim:
        t.reshape(-1)[1] = opts["ignore"]
    kw = {"reduction": reduction}
    if opts.get("weight"):
        kw["weight"] = rng.uniform(0.2, 2.0, c)
    if "ignore_index" in opts:
        kw["ignore_index"] = opts["ignore_index"]
    if "label_smoothing" in opts:
        kw["label_smoothing"] = opts["label_smoothing"]
    tkw = dict(kw, weight=torch.tensor(kw["weight"])) if "weight" in kw else kw
    ours, theirs = getattr(F, loss), getattr(torch.nn.functional, loss)
    _run_both(torch, lambda a, b: ours(a, b, **kw), lambda a, b: theirs(a, b, **tkw), [x, t], [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weight,smoothing", [((4, 3), False, 0.0), ((4, 3), True, 0.15),
                                                    ((2, 3, 4), True, 0.0), ((3,), False, 0.3)])
def test_probability_targets_against_torch(shape, weight, smoothing, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2
    axis = 0 if len(shape) == 1 else 1
    p = rng.random(shape)
    p /= p.sum(axis=axis, keepdims=True)
    c = shape[axis]
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    w = rng.uniform(0.5, 2.0, c)
    ours = lambda a, b: F.cross_entropy(a, b, weight=w if weight else None, **kw)  # noqa: E731
    theirs = lambda a, b: torch.nn.functional.cross_entropy(  # noqa: E731
        a, b, weight=torch.tensor(w) if weight else None, **kw)
    _run_both(torch, ours, theirs, [x, p], [True, True])  # the target's gradient too


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_against_torch(reduction, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 5))
    t = rng.standard_normal((3, 5))
    t[0, :2] = x[0, :2] + np.array([1.0, -1.0])  # exactly at the Huber switch point
    t[1, 0] = x[1, 0]  # a zero difference
    tf = torch.nn.functional
    for ours, theirs in [(lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: tf.mse_loss(a, b, reduction=reduction)),
                         (lambda a, b: F.l1_loss(a, b, reduction=reduction), lambda a, b: tf.l1_loss(a, b, reduction=reduction)),
                         (lambda a, b: F.huber_loss(a, b, reduction, 1.0),
                          lambda a, b: tf.huber_loss(a, b, reduction=reduction, delta=1.0)),
                         (lambda a, b: F.huber_loss(a, b, reduction, 0.4),
                          lambda a, b: tf.huber_loss(a, b, reduction=reduction, delta=0.4))]:
        _run_both(torch, ours, theirs, [x, t], [True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_against_torch(reduction, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    z = rng.standard_normal((4, 3)) * 3
    z[0] = [0.0, 40.0, -40.0]
    t = rng.random((4, 3))
    t[1] = [0.0, 1.0, 0.5]
    w, pw = rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 3.0, 3)
    for kw in [{}, {"weight": w}, {"pos_weight": pw}, {"weight": w, "pos_weight": pw}]:
        tkw = {k: torch.tensor(v) for k, v in kw.items()}
        _run_both(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **kw),
                  lambda a, b: tf.binary_cross_entropy_with_logits(a, b, reduction=reduction, **tkw),
                  [z, t], [True, True])
    p = rng.uniform(0.01, 0.99, (4, 3))
    p[0, :2] = [0.0, 1.0]  # saturated: clamped logs, finite input gradients
    for kw in [{}, {"weight": w}]:
        tkw = {k: torch.tensor(v) for k, v in kw.items()}
        _run_both(torch, lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw),
                  lambda a, b: tf.binary_cross_entropy(a, b, reduction=reduction, **tkw),
                  [p, t], [True, False])
    # target gradient: equal to torch's where torch's is finite (it is +-inf at x = 0 or 1,
    # ours is the derivative of the clamped loss there, +-100)
    p = rng.uniform(0.01, 0.99, (4, 3))
    _run_both(torch, lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
              lambda a, b: tf.binary_cross_entropy(a, b, reduction=reduction), [p, t], [True, True])


def test_cross_entropy_hessian_vector_product_against_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 5))
    t = np.array([0, 4, -100, 2])
    v = rng.standard_normal((4, 5))
    kw = dict(weight=np.linspace(0.5, 1.5, 5), label_smoothing=0.1)
    a = ad.tensor(x, requires_grad=True)
    (g,) = ad.grad(F.cross_entropy(a, t, **kw), a, create_graph=True)
    (hv,) = ad.grad((g * ad.tensor(v)).sum(), a)
    ta = torch.tensor(x, requires_grad=True)
    tkw = dict(kw, weight=torch.tensor(kw["weight"]))
    (tg,) = torch.autograd.grad(torch.nn.functional.cross_entropy(ta, torch.tensor(t), **tkw), ta,
                                create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), ta)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_losses_keep_dtype_and_stay_close(dtype, rng):
    data = rng.standard_normal((4, 3)) * 3
    t_idx = np.array([0, 1, 2, 1])
    t_bin = (rng.random((4, 3)) > 0.5).astype(np.float64)
    cases = [
        lambda x, tb: F.cross_entropy(x, t_idx, weight=np.ones(3), label_smoothing=0.1),
        lambda x, tb: F.nll_loss(F.log_softmax(x, 1), t_idx),
        lambda x, tb: F.binary_cross_entropy_with_logits(x, tb, pos_weight=np.full(3, 2.0)),
        lambda x, tb: F.binary_cross_entropy(F.sigmoid(x), tb),
        lambda x, tb: F.huber_loss(x, tb),
    ]
    for fn in cases:
        x = ad.tensor(data, dtype=dtype, requires_grad=True)
        loss = fn(x, ad.tensor(t_bin, dtype=dtype))
        loss.backward()
        assert str(loss.dtype) == dtype
        assert str(x.grad.dtype) == dtype and np.all(np.isfinite(x.grad.numpy().astype(np.float32)))
        exact = fn(ad.tensor(data), ad.tensor(t_bin)).item()
        assert float(loss.item()) == pytest.approx(exact, rel=3e-2, abs=3e-2)
