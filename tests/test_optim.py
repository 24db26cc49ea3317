"""nn.optim optimizers: torch trajectories, closed-form steps, properties, state, errors."""
import copy
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from nn import optim

# (optimizer name, hyperparameters): every option of every optimizer appears somewhere.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3,
                     eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3, eps=1e-4)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, betas=(0.5, 0.9), amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, maximize=True)),
]


def _problem(seed):
    """A random regression problem: loss(W, b) = mean((tanh(X W + b) - Y)^2) + 0.05 |W|^2."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((16, 5))
    Y = rng.standard_normal((16, 3))
    W0 = rng.standard_normal((5, 3))
    b0 = rng.standard_normal(3)
    return X, Y, W0, b0


def _ad_loss(X, Y, W, b, sign):
    err = (X @ W + b).tanh() - Y
    return sign * ((err * err).mean() + 0.05 * (W * W).sum())


def _run_ours(name, kw, X, Y, W0, b0, steps, device="cpu", groups=None):
    # ad.tensor keeps a NumPy array's buffer, and the optimizer writes in place: copy.
    W = ad.tensor(W0.copy(), device=device, requires_grad=True)
    b = ad.tensor(b0.copy(), device=device, requires_grad=True)
    Xt, Yt = ad.tensor(X, device=device), ad.tensor(Y, device=device)
    params = [W, b] if groups is None else [dict(params=[W], **groups[0]),
                                             dict(params=[b], **groups[1])]
    opt = getattr(optim, name)(params, **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        _ad_loss(Xt, Yt, W, b, sign).backward()
        opt.step()
        traj.append(np.concatenate([W.numpy().ravel(), b.numpy().ravel()]))
    return np.array(traj)


def _run_torch(torch, name, kw, X, Y, W0, b0, steps, groups=None):
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    params = [W, b] if groups is None else [dict(params=[W], **groups[0]),
                                             dict(params=[b], **groups[1])]
    opt = getattr(torch.optim, name)(params, **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        _ad_loss(Xt, Yt, W, b, sign).backward()
        opt.step()
        traj.append(np.concatenate([W.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(traj)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kw, device):
    torch = pytest.importorskip("torch")
    for seed in (0, 1):
        problem = _problem(seed)
        ours = _run_ours(name, kw, *problem, steps=50, device=device)
        ref = _run_torch(torch, name, kw, *problem, steps=50)
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9,
                                   err_msg=f"{name}({kw}) seed {seed}")
        assert np.abs(ours[-1] - ours[0]).max() > 1e-3  # the parameters really moved


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_param_groups_match_torch(name):
    """Per-group hyperparameters override the defaults, as in torch."""
    torch = pytest.importorskip("torch")
    extra = {"SGD": dict(momentum=0.7), "Adagrad": dict(lr_decay=0.1),
             "RMSprop": dict(alpha=0.8), "Adam": dict(betas=(0.7, 0.95)),
             "AdamW": dict(weight_decay=0.2)}[name]
    groups = [dict(lr=0.02), dict(lr=0.2, **extra)]
    problem = _problem(3)
    ours = _run_ours(name, dict(lr=0.05), *problem, steps=30, groups=groups)
    ref = _run_torch(torch, name, dict(lr=0.05), *problem, steps=30, groups=groups)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(), (0,), (2, 0)], ids=["0d", "empty", "2x0"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_0d_and_zero_size_parameters_match_torch(name, kw, shape, dtype):
    """A learnable scalar (0-d: on it NumPy's ufuncs return scalars, not arrays) and a
    zero-size parameter step as in torch, and every state tensor keeps the parameter's
    shape and dtype, as torch's does."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    start = rng.standard_normal(shape).astype(dtype)
    ours = ad.tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    opt, ref = getattr(optim, name)([ours], **kw), getattr(torch.optim, name)([theirs], **kw)
    tol = dict(rtol=1e-12, atol=0) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for g in rng.standard_normal((5,) + shape).astype(dtype):
        ours.grad, theirs.grad = ad.tensor(g.copy()), torch.tensor(g.copy())
        opt.step()
        ref.step()
        assert ours.shape == shape and ours.dtype == dtype and isinstance(ours.data, np.ndarray)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **tol)
    if shape:
        assert ours.numpy().size == 0
    else:
        assert ours.item() != start.item()  # it really moved
    for key, value in opt.state[ours].items():
        if isinstance(value, ad.Tensor):
            assert value.shape == shape and value.dtype == dtype, key
            assert isinstance(value.data, np.ndarray), key
            np.testing.assert_allclose(value.numpy(), ref.state[theirs][key].numpy(), **tol)


# ---------------------------------------------------------------- closed forms, no torch

def _param(values):
    return ad.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def _set_grad(p, g):
    p.grad = ad.tensor(np.asarray(g, dtype=np.float64))


P0 = np.array([0.5, -1.0, 2.0])
G1 = np.array([0.3, -2.0, 1e-3])
G2 = np.array([-1.0, 0.5, 4.0])


def _two_steps(opt_cls, **kw):
    p = _param(P0)
    opt = opt_cls([p], **kw)
    out = []
    for g in (G1, G2):
        _set_grad(p, g)
        opt.step()
        out.append(p.numpy().copy())
    return out


def test_sgd_closed_form():
    lr, mu, damp, wd = 0.1, 0.9, 0.25, 0.01
    s1, s2 = _two_steps(optim.SGD, lr=lr, momentum=mu, dampening=damp, weight_decay=wd)
    d1 = G1 + wd * P0
    b1 = d1                                  # the buffer starts at the first gradient
    np.testing.assert_allclose(s1, P0 - lr * b1, rtol=1e-14)
    d2 = G2 + wd * s1
    b2 = mu * b1 + (1 - damp) * d2
    np.testing.assert_allclose(s2, s1 - lr * b2, rtol=1e-14)


def test_sgd_nesterov_closed_form():
    lr, mu = 0.1, 0.9
    s1, s2 = _two_steps(optim.SGD, lr=lr, momentum=mu, nesterov=True)
    b1 = G1
    np.testing.assert_allclose(s1, P0 - lr * (G1 + mu * b1), rtol=1e-14)
    b2 = mu * b1 + G2
    np.testing.assert_allclose(s2, s1 - lr * (G2 + mu * b2), rtol=1e-14)


def test_adagrad_closed_form():
    lr, decay, acc, eps = 0.5, 0.1, 0.2, 1e-10
    s1, s2 = _two_steps(optim.Adagrad, lr=lr, lr_decay=decay, initial_accumulator_value=acc)
    sum1 = acc + G1 ** 2
    np.testing.assert_allclose(s1, P0 - lr * G1 / (np.sqrt(sum1) + eps), rtol=1e-14)
    sum2 = sum1 + G2 ** 2
    np.testing.assert_allclose(s2, s1 - lr / (1 + decay) * G2 / (np.sqrt(sum2) + eps),
                               rtol=1e-14)


def test_rmsprop_closed_form():
    lr, alpha, eps, mu = 0.01, 0.9, 1e-8, 0.5
    s1, s2 = _two_steps(optim.RMSprop, lr=lr, alpha=alpha, momentum=mu)
    v1 = (1 - alpha) * G1 ** 2
    b1 = G1 / (np.sqrt(v1) + eps)
    np.testing.assert_allclose(s1, P0 - lr * b1, rtol=1e-14)
    v2 = alpha * v1 + (1 - alpha) * G2 ** 2
    b2 = mu * b1 + G2 / (np.sqrt(v2) + eps)
    np.testing.assert_allclose(s2, s1 - lr * b2, rtol=1e-14)


def test_rmsprop_centered_closed_form():
    lr, alpha, eps = 0.01, 0.9, 1e-8
    s1, s2 = _two_steps(optim.RMSprop, lr=lr, alpha=alpha, centered=True)
    v1, a1 = (1 - alpha) * G1 ** 2, (1 - alpha) * G1
    np.testing.assert_allclose(s1, P0 - lr * G1 / (np.sqrt(v1 - a1 ** 2) + eps), rtol=1e-12)
    v2, a2 = alpha * v1 + (1 - alpha) * G2 ** 2, alpha * a1 + (1 - alpha) * G2
    np.testing.assert_allclose(s2, s1 - lr * G2 / (np.sqrt(v2 - a2 ** 2) + eps), rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_closed_form(amsgrad):
    lr, (b1, b2), eps, wd = 0.1, (0.9, 0.999), 1e-8, 0.05
    s1, s2 = _two_steps(optim.Adam, lr=lr, weight_decay=wd, amsgrad=amsgrad)
    d1 = G1 + wd * P0
    m1, v1 = (1 - b1) * d1, (1 - b2) * d1 ** 2
    np.testing.assert_allclose(
        s1, P0 - lr / (1 - b1) * m1 / (np.sqrt(v1) / np.sqrt(1 - b2) + eps), rtol=1e-13)
    d2 = G2 + wd * s1
    m2, v2 = b1 * m1 + (1 - b1) * d2, b2 * v1 + (1 - b2) * d2 ** 2
    vv = np.maximum(v1, v2) if amsgrad else v2
    np.testing.assert_allclose(
        s2, s1 - lr / (1 - b1 ** 2) * m2 / (np.sqrt(vv) / np.sqrt(1 - b2 ** 2) + eps),
        rtol=1e-13)


def test_adamw_decouples_weight_decay():
    lr, wd, eps = 0.1, 0.5, 1e-8
    (s1, _) = _two_steps(optim.AdamW, lr=lr, weight_decay=wd)
    # the decay shrinks theta directly; the moments see only the raw gradient
    np.testing.assert_allclose(s1, P0 * (1 - lr * wd) - lr * G1 / (np.abs(G1) + eps),
                               rtol=1e-13)
    (a1, _) = _two_steps(optim.Adam, lr=lr, weight_decay=wd)
    assert not np.allclose(a1, s1)


# ---------------------------------------------------------------- momentum as courses teach it

def _quadratic_grads(theta):
    return np.array([1.0, 10.0]) * theta - np.array([0.5, -1.0])


def _sgd_path(steps, **kw):
    p = _param([2.0, 1.0])
    opt = optim.SGD([p], **kw)
    path = []
    for _ in range(steps):
        _set_grad(p, _quadratic_grads(p.numpy()))
        opt.step()
        path.append(p.numpy().copy())
    return np.array(path)


def test_velocity_momentum_is_sgd_momentum():
    """rho <- mu rho - alpha g; theta <- theta + rho  ==  SGD(lr=alpha, momentum=mu)."""
    alpha, mu, theta, rho, path = 0.05, 0.8, np.array([2.0, 1.0]), np.zeros(2), []
    for _ in range(30):
        rho = mu * rho - alpha * _quadratic_grads(theta)
        theta = theta + rho
        path.append(theta)
    np.testing.assert_allclose(_sgd_path(30, lr=alpha, momentum=mu), path, rtol=1e-12,
                               atol=1e-14)


def test_moving_average_momentum_is_scaled_sgd_momentum():
    """m <- beta m + (1-beta) g; theta <- theta - alpha m (m_0 = 0) ==
    SGD(lr=alpha*(1-beta), momentum=beta); dampening=beta instead starts from m_0 = g_1."""
    alpha, beta = 0.1, 0.9
    theta, m, path = np.array([2.0, 1.0]), np.zeros(2), []
    for _ in range(30):
        m = beta * m + (1 - beta) * _quadratic_grads(theta)
        theta = theta - alpha * m
        path.append(theta)
    np.testing.assert_allclose(_sgd_path(30, lr=alpha * (1 - beta), momentum=beta), path,
                               rtol=1e-12, atol=1e-14)
    damped = _sgd_path(30, lr=alpha, momentum=beta, dampening=beta)
    assert not np.allclose(damped, path)
    theta, path = np.array([2.0, 1.0]), []
    m = _quadratic_grads(theta)  # m_0 = g_1
    for _ in range(30):
        m = beta * m + (1 - beta) * _quadratic_grads(theta)
        theta = theta - alpha * m
        path.append(theta)
    np.testing.assert_allclose(damped, path, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- properties

ALL = [("SGD", dict(momentum=0.9, nesterov=True)), ("SGD", dict(momentum=0.5, dampening=0.5)),
       ("Adagrad", dict(lr_decay=0.1)), ("RMSprop", dict(momentum=0.5, centered=True)),
       ("Adam", dict(amsgrad=True)), ("AdamW", dict(weight_decay=0.1))]

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("name,kw", ALL)
@given(data=st.data())
def test_lr_zero_changes_nothing(name, kw, data):
    shape = data.draw(hnp.array_shapes(max_dims=3, max_side=4))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    x = data.draw(hnp.arrays(dtype, shape, elements=finite))
    p = ad.tensor(x.copy(), requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.0, **kw)
    for _ in range(3):
        p.grad = ad.tensor(data.draw(hnp.arrays(dtype, shape, elements=finite)))
        opt.step()
    np.testing.assert_array_equal(p.numpy(), x)
    assert p.dtype == dtype


@given(data=st.data())
def test_adam_first_step_is_lr_per_coordinate(data):
    """m_hat / sqrt(v_hat) = g / |g| on step one: every coordinate moves by lr, whatever the
    gradient's scale."""
    shape = data.draw(hnp.array_shapes(max_dims=2, max_side=5))
    mags = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(1e-2, 1.0)))
    signs = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    scale = 10.0 ** data.draw(st.integers(-3, 6))
    lr = data.draw(st.sampled_from([1e-3, 0.1, 1.0]))
    x = data.draw(hnp.arrays(np.float64, shape, elements=finite))
    p = ad.tensor(x.copy(), requires_grad=True)
    g = mags * signs * scale
    p.grad = ad.tensor(g)
    optim.Adam([p], lr=lr).step()
    step = x - p.numpy()
    # |step| = lr |g| / (|g| + eps): within eps / |g| <= 1e-3 of lr at any gradient scale
    np.testing.assert_allclose(step, lr * signs, rtol=1.01e-3, atol=1e-12 * (1 + np.abs(x).max()))
    np.testing.assert_allclose(step, lr * g / (np.abs(g) + 1e-8), rtol=1e-6,
                               atol=1e-12 * (1 + np.abs(x).max()))


@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3), elements=finite),
       lr=st.floats(0, 10))
def test_plain_sgd_is_gradient_step(x, lr):
    g = np.cos(x) * 3
    p = ad.tensor(x.copy(), requires_grad=True)
    p.grad = ad.tensor(g)
    optim.SGD([p], lr=lr).step()
    np.testing.assert_array_equal(p.numpy(), x - lr * g)


@pytest.mark.parametrize("name,kw", ALL)
def test_gradients_are_never_modified(name, kw):
    """Gradient buffers may be shared with the caller; the optimizer only reads them."""
    p = _param([1.0, -2.0, 3.0])
    g = np.array([0.5, 0.25, -4.0])
    opt = getattr(optim, name)([p], lr=0.1, maximize=True, weight_decay=0.1, **{
        k: v for k, v in kw.items() if k != "weight_decay"})
    for _ in range(3):
        p.grad = ad.tensor(g)  # the same array every step
        opt.step()
    np.testing.assert_array_equal(g, [0.5, 0.25, -4.0])


@pytest.mark.parametrize("name,kw", ALL)
def test_update_is_in_place(name, kw):
    """The parameter keeps its buffer: views of it (and modules holding it) see the step."""
    p = _param(np.arange(6.0).reshape(2, 3))
    buf = p.data
    view = buf[0]
    opt = getattr(optim, name)([p], lr=0.1, **kw)
    p.grad = ad.tensor(np.ones((2, 3)))
    opt.step()
    assert p.data is buf
    assert not np.array_equal(view, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("name,kw", ALL + [("SGD", {}), ("RMSprop", {}), ("Adam", {}),
                                     ("Adam", dict(weight_decay=0.1))])
def test_step_allocates_only_the_formulas_temporaries(name, kw):
    """No per-step allocation beyond the formula's temporaries (measured by tracemalloc,
    which sees NumPy's buffers)."""
    n = 200_000
    p = ad.tensor(np.ones(n, dtype=np.float32), requires_grad=True)
    p.grad = ad.tensor(np.full(n, 0.5, dtype=np.float32))
    opt = getattr(optim, name)([p], lr=0.1, **kw)
    opt.step()  # creates the state
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one temporary; an L2 penalty (g + wd * theta) needs a second
    limit = (2 if kw.get("weight_decay") and name != "AdamW" else 1) * p.data.nbytes
    assert peak <= limit + 64 * 1024, f"{name}({kw}) peaked at {peak / p.data.nbytes:.2f}x"


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16, ad.float32])
@pytest.mark.parametrize("name,kw", ALL + [("Adam", dict(weight_decay=0.1))])
def test_low_precision_params_keep_dtype_and_track_float64(name, kw, dtype):
    def run(dt):
        p = ad.tensor(np.array([1.0, -0.5, 2.0, 0.25]), dtype=dt, requires_grad=True)
        opt = getattr(optim, name)([p], lr=0.05, **kw)
        for g in ([1.0, -2.0, 3.0, 0.5], [0.5, 0.5, -1.0, 2.0], [-1.0, 0.25, 1.0, 1.0]):
            p.grad = ad.tensor(np.array(g), dtype=dt)
            opt.step()
        assert p.dtype == dt and all(v.dtype == dt for v in opt.state[p].values()
                                     if isinstance(v, ad.Tensor))
        return p.numpy().astype(np.float64)

    tol = {ad.float16: 1e-2, ad.bfloat16: 3e-2, ad.float32: 1e-6}[dtype]
    np.testing.assert_allclose(run(dtype), run(ad.float64), rtol=tol, atol=tol)


# ---------------------------------------------------------------- API behaviour

def test_step_bumps_versions_so_stale_graphs_raise():
    """Like any in-place write, a step invalidates graphs that saved the old parameters."""
    w = _param([1.0, 2.0])
    x = ad.tensor(np.array([3.0, 4.0]))
    opt = optim.SGD([w], lr=0.1)
    loss = (w * x * w).sum()  # saves w
    loss.backward(retain_graph=True)
    v = w.version
    opt.step()
    assert w.version == v + 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    loss = (w * x * w).sum()  # a fresh graph after the step is fine
    loss.backward()



def test_params_without_grad_are_skipped():
    a, b = _param([1.0, 2.0]), _param([3.0, 4.0])
    opt = optim.Adam([a, b], lr=0.1)
    _set_grad(a, [1.0, -1.0])
    opt.step()
    np.testing.assert_array_equal(b.numpy(), [3.0, 4.0])
    assert b not in opt.state and a in opt.state
    assert opt.state[a]["step"] == 1


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = _param([1.0, 2.0])
    shared = np.array([5.0, 6.0])
    p.grad = ad.tensor(shared)
    q = _param([0.0])  # no grad at all: left alone
    opt = optim.SGD([p, q], lr=0.1)
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype
    assert q.grad is None
    np.testing.assert_array_equal(shared, [5.0, 6.0])  # the caller's array is untouched


def test_zero_grad_then_backward_accumulates_from_zero():
    p = _param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    (3 * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0])


def test_step_with_closure():
    x = _param([3.0, -4.0])
    opt = optim.SGD([x], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    with ad.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 25.0 and calls == [25.0]
    np.testing.assert_array_equal(x.numpy(), [1.5, -2.0])
    assert opt.step() is None


def test_step_returns_closure_loss_and_trains():
    rng = np.random.default_rng(0)
    A = ad.tensor(rng.standard_normal((20, 4)))
    y = ad.tensor(rng.standard_normal(20))
    w = ad.tensor(np.zeros(4), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        r = A @ w - y
        loss = (r * r).mean()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(200)]
    best = np.linalg.lstsq(A.numpy(), y.numpy(), rcond=None)[0]
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(w.numpy(), best, atol=1e-3)


def test_add_param_group_and_defaults():
    a, b = _param([1.0]), _param([2.0])
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9  # filled from the defaults
    _set_grad(a, [1.0])
    _set_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 1.5])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert "Parameter Group 1" in repr(opt)


def test_named_parameters_are_accepted():
    a = _param([1.0])
    opt = optim.SGD([("weight", a)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a] or opt.param_groups[0]["params"][0] is a
    assert opt.param_groups[0]["param_names"] == ["weight"]


BAD = [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(lr=float("nan")), "lr"),
    ("SGD", dict(lr="0.1"), "lr"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "weight_decay"),
    ("SGD", dict(lr=0.1, dampening=2.0), "dampening"),
    ("SGD", dict(lr=0.1, nesterov=True), "nesterov"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1e-10), "eps"),
    ("RMSprop", dict(alpha=-0.9), "alpha"),
    ("RMSprop", dict(momentum=-1.0), "momentum"),
    ("RMSprop", dict(eps=-1.0), "eps"),
    ("Adam", dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    ("Adam", dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    ("Adam", dict(betas=(0.9,)), "betas"),
    ("Adam", dict(eps=-1e-8), "eps"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay"),
    ("AdamW", dict(lr=math.inf), "lr"),
]


@pytest.mark.parametrize("name,kw,word", BAD, ids=[f"{n}-{w}-{i}" for i, (n, _, w)
                                                   in enumerate(BAD)])
def test_bad_hyperparameters_raise(name, kw, word):
    with pytest.raises(ValueError, match=word) as info:
        getattr(optim, name)([_param([1.0])], **kw)
    assert name in str(info.value)


def test_bad_group_hyperparameters_raise():
    with pytest.raises(ValueError, match="Adam: invalid lr"):
        optim.Adam([{"params": [_param([1.0])], "lr": -1.0}])


def test_bad_params_raise():
    p = _param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="autodiff Tensors"):
        optim.SGD([np.ones(3)], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([p, p], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    p.grad = ad.tensor(np.ones(2))
    with pytest.raises(RuntimeError, match=r"shape \(1,\).*shape \(2,\)"):
        opt.step()


# ---------------------------------------------------------------- state_dict

@pytest.mark.parametrize("name,kw", ALL)
def test_state_dict_layout(name, kw):
    a, b, c = _param([1.0, 2.0]), _param([3.0]), _param([4.0, 5.0, 6.0])
    opt = getattr(optim, name)([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, **kw)
    for p in (a, c):
        _set_grad(p, np.ones(p.shape))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["state"]) == {0, 2}
    for entry in sd["state"].values():
        for key, value in entry.items():
            assert isinstance(value, (ad.Tensor, int, float)), (key, type(value))


def _train(opt_factory, steps, seed=0, start=None):
    """Train a tiny regression with `opt_factory(params)`; returns (params, optimizer)."""
    X, Y, W0, b0 = _problem(seed)
    W = ad.tensor((W0 if start is None else start[0]).copy(), requires_grad=True)
    b = ad.tensor((b0 if start is None else start[1]).copy(), requires_grad=True)
    opt = opt_factory([W, b])
    return W, b, opt, (ad.tensor(X), ad.tensor(Y))


def _run_steps(W, b, opt, data, steps):
    for _ in range(steps):
        opt.zero_grad()
        _ad_loss(*data, W, b, 1.0).backward()
        opt.step()


@pytest.mark.parametrize("name,kw", ALL)
def test_resume_from_state_dict_is_bit_for_bit(name, kw):
    factory = lambda ps: getattr(optim, name)(ps, lr=0.05, **kw)  # noqa: E731
    W, b, opt, data = _train(factory, 0)
    _run_steps(W, b, opt, data, 20)
    W1, b1, opt1, _ = _train(factory, 0)
    _run_steps(W1, b1, opt1, data, 8)
    saved = copy.deepcopy((W1.numpy().copy(), b1.numpy().copy(), opt1.state_dict()))
    _run_steps(W1, b1, opt1, data, 5)  # keeps training after the checkpoint; must not leak
    W2, b2, opt2, _ = _train(factory, 0, start=saved[:2])
    opt2.load_state_dict(saved[2])
    _run_steps(W2, b2, opt2, data, 12)
    np.testing.assert_array_equal(W2.numpy(), W.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())


def test_load_state_dict_copies_and_casts():
    p = ad.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    sd = {"state": {0: {"step": np.array(4.0), "exp_avg": np.full(3, 0.5),
                        "exp_avg_sq": np.full(3, 0.25)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0], betas=[0.8, 0.9],
                                lr=np.float64(0.2))]}
    opt.load_state_dict(sd)
    st_ = opt.state[p]
    assert st_["step"] == 4 and isinstance(st_["step"], int)
    assert st_["exp_avg"].dtype == np.float32
    assert opt.param_groups[0]["betas"] == (0.8, 0.9)
    assert opt.param_groups[0]["params"][0] is p
    p.grad = ad.tensor(np.ones(3, dtype=np.float32))
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], np.full(3, 0.5))  # not aliased


def test_load_state_dict_mismatch_raises():
    a, b = _param([1.0]), _param([2.0])
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="has 1 parameters but the saved group has 2"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameter groups but the optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"state": {}})
