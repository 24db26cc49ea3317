"""ad.functional: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from autodiff import functional as F
import op_table  # tests/ is on sys.path under pytest (rootdir-relative import)
from helpers import t64


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def numeric_jacobian(f, x, eps=1e-6):
    """d f(x)[i...] / d x[j...] by central differences (float64)."""
    x = np.array(x, dtype=np.float64)
    out = f(t64(x)).data
    jac = np.zeros(out.shape + x.shape)
    for j in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[j] += eps
        xm[j] -= eps
        jac[(...,) + j] = (f(t64(xp)).data - f(t64(xm)).data) / (2 * eps)
    return jac


# ---------------------------------------------------------------- grad / value_and_grad

def test_grad_closed_form():
    df = F.grad(lambda x: (x ** 3).sum())
    np.testing.assert_allclose(df(t64([1.0, 2.0, -3.0])).data, [3.0, 12.0, 27.0])


def test_grad_argnums_int_and_tuple():
    f = lambda x, y, z: (x * y.exp() + z).sum()  # noqa: E731
    x, y, z = t64(randn(3)), t64(randn(3, seed=1)), t64(randn(3, seed=2))
    gy = F.grad(f, argnums=1)(x, y, z)
    assert isinstance(gy, ad.Tensor)
    np.testing.assert_allclose(gy.data, x.data * np.exp(y.data))
    gx, gz = F.grad(f, argnums=(0, 2))(x, y, z)
    np.testing.assert_allclose(gx.data, np.exp(y.data))
    np.testing.assert_allclose(gz.data, np.ones(3))
    (gneg,) = F.grad(f, argnums=(-1,))(x, y, z)
    np.testing.assert_allclose(gneg.data, np.ones(3))


def test_grad_leaves_inputs_and_their_grad_alone():
    x = t64([1.0, 2.0], requires_grad=True)
    g = F.grad(lambda a: (a * a).sum())(x)
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    assert x.grad is None
    assert not g.requires_grad  # detached without create_graph


def test_grad_works_under_no_grad():
    with ad.no_grad():
        g = F.grad(lambda a: a.tanh().sum())(t64([0.5]))
    np.testing.assert_allclose(g.data, 1 - np.tanh(0.5) ** 2)


def test_value_and_grad():
    v, g = F.value_and_grad(lambda a: a.exp().sum())(t64([0.0, 1.0]))
    np.testing.assert_allclose(v.item(), 1.0 + np.e)
    np.testing.assert_allclose(g.data, [1.0, np.e])
    v, (ga, gb) = F.value_and_grad(lambda a, b: (a * b).sum(), argnums=(0, 1))(t64([2.0]), t64([5.0]))
    assert v.item() == 10.0 and ga.item() == 5.0 and gb.item() == 2.0


def test_grad_unused_argument_gives_zeros():
    g = F.grad(lambda a, b: (a * 2).sum(), argnums=1)(t64([1.0]), t64([3.0, 4.0]))
    np.testing.assert_array_equal(g.data, [0.0, 0.0])
    g = F.grad(lambda a: t64(7.0))(t64([1.0, 2.0]))  # does not depend on a at all
    np.testing.assert_array_equal(g.data, [0.0, 0.0])


def test_grad_create_graph_composes():
    # d/dx of grad(x^4) = 12 x^2
    df = F.grad(lambda a: (a ** 4).sum(), create_graph=True)
    d2f = F.grad(lambda a: df(a).sum())
    np.testing.assert_allclose(d2f(t64([1.0, 2.0])).data, [12.0, 48.0])
    # and with respect to an outer leaf through ad.grad
    x = t64([3.0], requires_grad=True)
    g = df(x)
    assert g.requires_grad
    (h,) = ad.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, [108.0])


def test_grad_errors():
    with pytest.raises(ValueError, match="one-element Tensor.*reduce"):
        F.grad(lambda a: a * 2)(t64([1.0, 2.0]))
    with pytest.raises(TypeError, match="floating-point"):
        F.grad(lambda a: a.sum())(ad.tensor([1, 2]))
    with pytest.raises(ValueError, match="argnums"):
        F.grad(lambda a: a.sum(), argnums=3)(t64([1.0]))
    with pytest.raises(TypeError, match="must return a Tensor"):
        F.vjp(lambda a: 3.0, t64([1.0]))


# ---------------------------------------------------------------- vjp / jvp

def test_vjp_matches_transposed_jacobian():
    A = randn(4, 3)
    f = lambda x: ad.tensor(A) @ x.tanh()  # noqa: E731
    x, v = randn(3, seed=1), randn(4, seed=2)
    out, g = F.vjp(f, t64(x), t64(v))
    np.testing.assert_allclose(out.data, A @ np.tanh(x))
    np.testing.assert_allclose(g.data, v @ (A * (1 - np.tanh(x) ** 2)))


def test_vjp_scalar_output_default_v_and_tuple_inputs():
    out, (ga, gb) = F.vjp(lambda a, b: (a * b).sum(), (t64([1.0, 2.0]), t64([3.0, 4.0])))
    assert out.item() == 11.0
    np.testing.assert_allclose(ga.data, [3.0, 4.0])
    np.testing.assert_allclose(gb.data, [1.0, 2.0])
    with pytest.raises(ValueError, match="v may be omitted only"):
        F.vjp(lambda a: a * 2, t64([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        F.vjp(lambda a: a * 2, t64([1.0, 2.0]), t64([1.0]))


def test_jvp_matches_numerical_jacobian():
    f = lambda x: (x.exp() * x[::-1]).softmax()  # noqa: E731
    x, v = randn(4), randn(4, seed=3)
    out, jv = F.jvp(f, t64(x), t64(v))
    np.testing.assert_allclose(jv.data, numeric_jacobian(f, x) @ v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out.data, f(t64(x)).data)
    assert not jv.requires_grad


def test_jvp_tuple_outputs_and_inputs():
    f = lambda a, b: (a * b, (a - b).sum())  # noqa: E731
    (o1, o2), (j1, j2) = F.jvp(f, (t64([1.0, 2.0]), t64([3.0, 5.0])),
                               (t64([1.0, 0.0]), t64([0.0, 1.0])))
    np.testing.assert_allclose(j1.data, [3.0, 2.0])  # b*da + a*db
    np.testing.assert_allclose(j2.data, 0.0)         # sum(da - db)


def test_jvp_create_graph_is_differentiable():
    x = t64([0.7], requires_grad=True)
    _, jv = F.jvp(lambda a: a ** 3, x, t64([1.0]), create_graph=True)  # 3 x^2
    (d,) = ad.grad(jv.sum(), x)
    np.testing.assert_allclose(d.data, [6 * 0.7])


# ---------------------------------------------------------------- jacobian / hessian / hvp

def test_jacobian_shape_is_out_shape_plus_in_shape():
    x = randn(2, 3)
    W = randn(3, 4, seed=1)
    f = lambda a: (a @ ad.tensor(W)).tanh()  # noqa: E731
    J = F.jacobian(f)(t64(x))
    assert J.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(J.data, numeric_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_jacobian_tuple_argnums_and_outputs():
    f = lambda a, b: (a * b, a @ b)  # noqa: E731
    a, b = randn(3), randn(3, seed=1)
    (Jaa, Jab), (Jda, Jdb) = F.jacobian(f, argnums=(0, 1))(t64(a), t64(b))
    np.testing.assert_allclose(Jaa.data, np.diag(b))
    np.testing.assert_allclose(Jab.data, np.diag(a))
    np.testing.assert_allclose(Jda.data, b)
    np.testing.assert_allclose(Jdb.data, a)
    assert Jda.shape == (3,)


def test_jacobian_of_constant_output_is_zero():
    J = F.jacobian(lambda a: t64([1.0, 2.0]))(t64([5.0, 6.0, 7.0]))
    assert J.shape == (2, 3) and not J.data.any()


@given(st.sampled_from(["tanh", "exp", "sigmoid", "sqrt", "log", "square", "relu"]),
       st.integers(1, 5), st.integers(0, 2 ** 16))
def test_jacobian_of_elementwise_op_is_diagonal(name, n, seed):
    ops = {"tanh": ad.tanh, "exp": ad.exp, "sigmoid": ad.sigmoid, "sqrt": ad.sqrt,
           "log": ad.log, "square": lambda a: a * a, "relu": ad.relu}
    x = np.random.default_rng(seed).uniform(0.1, 2.0, n)
    J = F.jacobian(ops[name])(t64(x)).data
    off = J - np.diag(np.diag(J))
    assert not off.any()
    np.testing.assert_allclose(np.diag(J), np.diag(numeric_jacobian(ops[name], x)),
                               rtol=1e-6, atol=1e-8)


def test_hessian_and_hvp_closed_form():
    # f = sum(x^3) * y: H_xx = diag(6 x y), H_xy = 3 x^2, H_yy = 0
    x, y = t64([1.0, -2.0]), t64(0.5)
    (Hxx, Hxy), (Hyx, Hyy) = F.hessian(lambda a, b: (a ** 3).sum() * b, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(Hxx.data, np.diag([3.0, -6.0]))
    np.testing.assert_allclose(Hxy.data, [3.0, 12.0])
    np.testing.assert_allclose(Hyx.data, [3.0, 12.0])
    assert Hyy.shape == () and Hyy.item() == 0.0
    out, hv = F.hvp(lambda a: (a ** 3).sum(), x, t64([1.0, 1.0]))
    assert out.item() == -7.0
    np.testing.assert_allclose(hv.data, [6.0, -12.0])


def _scalar_functions():
    W = randn(3, 3, seed=7)
    return {
        "tanh-quadratic": lambda x: (x.tanh() * x).sum(),
        "logsumexp": lambda x: ad.logsumexp(x * 2.0),
        "softmax-entropy": lambda x: -(ad.softmax(x) * ad.log_softmax(x)).sum(),
        "bilinear": lambda x: (x @ ad.tensor(W)) @ x.sigmoid(),
        "norm": lambda x: ((x * x).sum() + 1.0).sqrt(),
        "exp-prod": lambda x: (x.exp() * x[::-1]).mean(),
    }


@given(st.sampled_from(sorted(_scalar_functions())),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_hvp_equals_hessian_times_v(name, xs, vs):
    f = _scalar_functions()[name]
    x, v = t64(xs), t64(vs)
    H = F.hessian(f)(x).data
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-10)
    _, hv = F.hvp(f, x, v)
    np.testing.assert_allclose(hv.data, H @ v.data, rtol=1e-7, atol=1e-9)


def test_hessian_create_graph_third_derivative():
    x = t64([0.3, -0.4], requires_grad=True)
    H = F.hessian(lambda a: (a ** 4).sum(), create_graph=True)(x)  # diag(12 x^2)
    (d,) = ad.grad(H.sum(), x)
    np.testing.assert_allclose(d.data, 24 * x.data)


# ---------------------------------------------------------------- against torch

def _torch():
    return pytest.importorskip("torch")


def test_against_torch_functional():
    torch = _torch()
    tf = torch.autograd.functional
    x, v3, v2 = randn(3), randn(3, seed=1), randn(2, seed=2)
    W = randn(2, 3, seed=3)

    def ours(a):
        return (ad.tensor(W) @ a.tanh()) * a[:2].exp()

    def theirs(a):
        return (torch.tensor(W) @ a.tanh()) * a[:2].exp()

    def scalar_ours(a):
        return ad.logsumexp(ours(a)) + (a ** 3).sum()

    def scalar_theirs(a):
        return torch.logsumexp(theirs(a), 0) + (a ** 3).sum()

    tx = torch.tensor(x)
    np.testing.assert_allclose(F.jacobian(ours)(t64(x)).data, tf.jacobian(theirs, tx).numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.hessian(scalar_ours)(t64(x)).data,
                               tf.hessian(scalar_theirs, tx).numpy(), rtol=1e-9, atol=1e-12)
    _, hv = F.hvp(scalar_ours, t64(x), t64(v3))
    np.testing.assert_allclose(hv.data, tf.hvp(scalar_theirs, tx, torch.tensor(v3))[1].numpy(),
                               rtol=1e-9, atol=1e-12)
    _, vj = F.vjp(ours, t64(x), t64(v2))
    np.testing.assert_allclose(vj.data, tf.vjp(theirs, tx, torch.tensor(v2))[1].numpy(),
                               rtol=1e-10, atol=1e-12)
    _, jv = F.jvp(ours, t64(x), t64(v3))
    np.testing.assert_allclose(jv.data, tf.jvp(theirs, tx, torch.tensor(v3))[1].numpy(),
                               rtol=1e-10, atol=1e-12)


def test_against_torch_multiple_inputs():
    torch = _torch()
    tf = torch.autograd.functional
    a, b = randn(2, 3), randn(3, seed=1)
    ours = lambda p, q: ((p @ q).sigmoid() * (p * q).sum(axis=1)).sum()  # noqa: E731
    theirs = lambda p, q: ((p @ q).sigmoid() * (p * q).sum(dim=1)).sum()  # noqa: E731
    H = F.hessian(ours, argnums=(0, 1))(t64(a), t64(b))
    Ht = tf.hessian(theirs, (torch.tensor(a), torch.tensor(b)))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].data, Ht[i][j].numpy(), rtol=1e-9, atol=1e-12)
    va, vb = randn(2, 3, seed=4), randn(3, seed=5)
    _, (ha, hb) = F.hvp(ours, (t64(a), t64(b)), (t64(va), t64(vb)))
    _, (ta, tb) = tf.hvp(theirs, (torch.tensor(a), torch.tensor(b)),
                         (torch.tensor(va), torch.tensor(vb)))
    np.testing.assert_allclose(ha.data, ta.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hb.data, tb.numpy(), rtol=1e-9, atol=1e-12)


def test_float32_inputs_keep_their_dtype(device):
    x = ad.tensor([0.5, -1.0], device=device)
    g = F.grad(lambda a: a.tanh().sum())(x)
    assert g.dtype == ad.float32 and g.device == x.device
    J = F.jacobian(ad.sigmoid)(x)
    assert J.dtype == ad.float32 and J.device == x.device
    s = 1 / (1 + np.exp(-x.cpu().data))
    np.testing.assert_allclose(J.cpu().data, np.diag(s * (1 - s)), rtol=1e-6)


def test_transforms_do_not_touch_the_callers_graph():
    x = t64([0.4, -0.9], requires_grad=True)
    y = x * 2.0  # a non-leaf input: its graph must survive the transforms
    f = lambda a: (a.tanh() ** 2).sum()  # noqa: E731
    H = F.hessian(f)(y)
    _, hv = F.hvp(f, y, t64([1.0, 0.0]))
    _, jv = F.jvp(ad.tanh, y, t64([1.0, 1.0]))
    _, vj = F.vjp(ad.tanh, y, t64([1.0, 1.0]))
    J = F.jacobian(ad.tanh)(y)
    for r in (H, hv, jv, vj, J):
        assert not r.requires_grad
    np.testing.assert_allclose(hv.data, H.data[:, 0])
    np.testing.assert_allclose(jv.data, vj.data)
    np.testing.assert_allclose(J.data, np.diag(jv.data))
    assert x.grad is None
    y.sum().backward()  # not freed by the transforms
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


ELEMENTWISE_UNARY = [r for r in op_table.DIFFERENTIABLE
                     if r.kind == "elementwise" and r.arity == 1 and r.maker is None]


@pytest.mark.parametrize("row", ELEMENTWISE_UNARY, ids=str)
@given(data=st.data())
def test_jacobian_of_table_elementwise_op_is_diagonal(row, data):
    case = data.draw(row.inputs(np.float64))
    (x,) = case.arrays
    f = lambda a: row.fn(a, **case.kwargs)  # noqa: E731
    J = F.jacobian(f)(t64(x)).data.reshape(x.size, x.size)
    np.testing.assert_array_equal(J - np.diag(np.diag(J)), 0.0)
    # the diagonal is the elementwise derivative, i.e. J v for v = ones
    _, jv = F.jvp(f, t64(x), t64(np.ones(x.shape)))
    np.testing.assert_allclose(np.diag(J), jv.data.reshape(-1), rtol=1e-12, atol=1e-14)
    if x.size:
        np.testing.assert_allclose(J, numeric_jacobian(f, x).reshape(x.size, x.size),
                                   rtol=1e-5, atol=1e-7)
