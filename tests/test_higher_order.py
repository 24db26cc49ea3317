"""Higher-order derivatives: gradgradcheck over the op table, closed forms, torch."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff as ad
from autodiff import functional as F
from op_table import DIFFERENTIABLE  # tests/ is on sys.path (pytest's rootdir-relative import)


def test_vector_dot_vector_backward_and_double_backward():
    # Regression: matmul of two 1-D operands (0-d output) failed in backward.
    a = ad.tensor([1.0, 2.0, -1.0], dtype=ad.float64, requires_grad=True)
    b = ad.tensor([3.0, 4.0, 0.5], dtype=ad.float64, requires_grad=True)
    (a @ b).backward()
    np.testing.assert_allclose(a.grad.data, b.data)
    np.testing.assert_allclose(b.grad.data, a.data)
    assert ad.gradgradcheck(lambda x, y: x @ y, (a, b))


def test_grad_of_several_outputs_sharing_nodes_is_one_pass():
    # Regression: ad.grad ran one backward per output, so the first freed nodes the
    # second needed ("backward through the graph a second time").
    x = ad.tensor([0.5, -1.0], dtype=ad.float64, requires_grad=True)
    y = x.exp()
    a, b = y * 2.0, y.sum() * y
    ga, gb = ad.tensor([1.0, 1.0], dtype=ad.float64), ad.tensor([1.0, -1.0], dtype=ad.float64)
    (g,) = ad.grad([a, b], x, grad_outputs=[ga, gb])
    e = np.exp(x.data)
    # d/dx [2 e . ga + (sum e)(e . gb)] = 2 e ga + e (e . gb) + (sum e) e gb
    np.testing.assert_allclose(g.data, 2 * e + e * (e @ gb.data) + e.sum() * e * gb.data)
    assert ad.gradcheck(lambda t: (t.exp() * 2.0, t.exp().sum() * t.exp()), (x,))


def test_create_graph_on_shared_subgraph_then_second_order():
    x = ad.tensor([0.3, 0.8], dtype=ad.float64, requires_grad=True)
    y = x.tanh()
    (g,) = ad.grad([y.sum(), (y * y).sum()], x, create_graph=True)
    t = np.tanh(x.data)
    np.testing.assert_allclose(g.data, (1 - t ** 2) * (1 + 2 * t))
    (h,) = ad.grad(g.sum(), x)
    # d/dx (1 - t^2)(1 + 2t) = (1 - t^2) (-2t (1 + 2t) + 2 (1 - t^2))
    np.testing.assert_allclose(h.data, (1 - t ** 2) * (-2 * t * (1 + 2 * t) + 2 * (1 - t ** 2)))


# ---------------------------------------------------------------- the spec table

def _scalarize(outputs, seed):
    """sum_k <out_k, w_k> with fixed random weights w_k: a scalar that sees every output."""
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    rng = np.random.default_rng(seed)
    total = None
    for o in outs:
        w = ad.tensor(rng.standard_normal(o.shape), dtype=o.dtype)
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


@pytest.mark.parametrize("row", DIFFERENTIABLE, ids=str)
@given(data=st.data())
def test_gradgradcheck_every_differentiable_op(row, data):
    case = data.draw(row.inputs(np.float64))
    xs = [ad.tensor(a, requires_grad=True) for a in case.arrays]
    assert ad.gradgradcheck(lambda *t: row.fn(*t, **case.kwargs), xs)


@pytest.mark.parametrize("row", DIFFERENTIABLE, ids=str)
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_hvp_equals_hessian_times_v_for_table_ops(row, data, seed):
    case = data.draw(row.inputs(np.float64))
    first, *rest = [ad.tensor(a) for a in case.arrays]

    def f(x):
        return _scalarize(row.fn(x, *rest, **case.kwargs), seed)

    H = F.hessian(f)(first).data.reshape(first.numel(), first.numel())
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-9)
    v = np.random.default_rng(seed + 1).standard_normal(first.shape)
    _, hv = F.hvp(f, first, ad.tensor(v))
    np.testing.assert_allclose(hv.data.reshape(-1), H @ v.reshape(-1), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("row", [r for r in DIFFERENTIABLE if r.torch_fn is not None], ids=str)
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_hessian_matches_torch_for_table_ops(row, data, seed):
    torch = pytest.importorskip("torch")
    case = data.draw(row.inputs(np.float64))
    if row.name == "pow":
        # torch zeroes d(a^b)/da where b == 0 exactly, which also drops its derivative in b
        # (d2/da db = 1 at a = 1, b = 0; torch's Hessian is not even symmetric there).
        assume(np.all(case.arrays[1] != 0))
    ours = F.hessian(lambda *xs: _scalarize(row.fn(*xs, **case.kwargs), seed),
                     argnums=tuple(range(len(case.arrays))))(*[ad.tensor(a) for a in case.arrays])

    def theirs(*xs):
        outs = row.torch_fn(*xs, **case.kwargs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        rng = np.random.default_rng(seed)
        return sum((o * torch.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)

    try:
        ref = torch.autograd.functional.hessian(theirs, tuple(torch.tensor(a) for a in case.arrays))
    except (TypeError, ValueError, RuntimeError, IndexError):
        # Cases torch cannot express (negative-step slices, a 0-d logsumexp, empty lists).
        assume(False)
    for i in range(len(case.arrays)):
        for j in range(len(case.arrays)):
            np.testing.assert_allclose(ours[i][j].data, ref[i][j].numpy(), rtol=1e-8, atol=1e-9,
                                       err_msg=f"{row.name}: d2/dx{i}dx{j}")


# ---------------------------------------------------------------- closed forms

TANH_POINTS = [-2.0, -0.5, 0.0, 0.3, 1.7]


def _tanh_derivatives(x):
    t = np.tanh(x)
    s = 1 - t ** 2
    return [s, -2 * t * s, s * (6 * t ** 2 - 2), 8 * t * s * (2 - 3 * t ** 2)]


def test_tanh_derivatives_up_to_order_4():
    x = ad.tensor(TANH_POINTS, dtype=ad.float64, requires_grad=True)
    expected = _tanh_derivatives(np.array(TANH_POINTS))
    d = ad.tanh(x)
    for order in range(4):
        (d,) = ad.grad(d.sum(), x, create_graph=True)  # elementwise: the sum keeps it exact
        np.testing.assert_allclose(d.data, expected[order], rtol=1e-12, atol=1e-14,
                                   err_msg=f"order {order + 1}")


def test_tanh_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    x = ad.tensor(TANH_POINTS, dtype=ad.float64, requires_grad=True)
    tx = torch.tensor(TANH_POINTS, dtype=torch.float64, requires_grad=True)
    d, td = ad.tanh(x), torch.tanh(tx)
    for _ in range(4):
        (d,) = ad.grad(d.sum(), x, create_graph=True)
        (td,) = torch.autograd.grad(td.sum(), tx, create_graph=True)
        np.testing.assert_allclose(d.data, td.detach().numpy(), rtol=1e-12, atol=1e-14)


def rosenbrock(x, a=1.0, b=100.0):
    """sum_i (a - x_i)^2 + b (x_{i+1} - x_i^2)^2"""
    return ((a - x[:-1]) ** 2 + b * (x[1:] - x[:-1] ** 2) ** 2).sum()


@pytest.mark.parametrize("point", [(1.0, 1.0), (-1.2, 1.0), (0.0, 0.0), (0.5, -0.7)])
def test_rosenbrock_hessian_closed_form(point):
    x, y = point
    H = F.hessian(rosenbrock)(ad.tensor(point, dtype=ad.float64))
    expected = np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x],
                         [-400 * x, 200.0]])
    np.testing.assert_allclose(H.data, expected, rtol=1e-12, atol=1e-10)
    g = F.grad(rosenbrock)(ad.tensor(point, dtype=ad.float64))
    np.testing.assert_allclose(g.data, [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
                               rtol=1e-12, atol=1e-10)


def test_rosenbrock_hessian_n_dimensional_is_tridiagonal_closed_form():
    x = np.array([0.3, -0.8, 1.1, 0.9, -0.2])
    H = F.hessian(rosenbrock)(ad.tensor(x, dtype=ad.float64)).data
    n = len(x)
    expected = np.zeros((n, n))
    for i in range(n - 1):  # each term couples x_i and x_{i+1}
        expected[i, i] += 2 - 400 * (x[i + 1] - x[i] ** 2) + 800 * x[i] ** 2
        expected[i, i + 1] += -400 * x[i]
        expected[i + 1, i] += -400 * x[i]
        expected[i + 1, i + 1] += 200
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-10)


@given(st.integers(1, 6), st.integers(0, 2 ** 16))
def test_hessian_of_quadratic_form_is_a_plus_a_transpose(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    x = rng.standard_normal(n)
    f = lambda v: v @ (ad.tensor(A) @ v)  # noqa: E731
    np.testing.assert_allclose(F.hessian(f)(ad.tensor(x)).data, A + A.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.grad(f)(ad.tensor(x)).data, (A + A.T) @ x, rtol=1e-12,
                               atol=1e-12)


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=6))
def test_softmax_jacobian_is_diag_s_minus_s_s_transpose(values):
    x = np.array(values)
    s = np.exp(x - x.max())
    s /= s.sum()
    J = F.jacobian(ad.softmax)(ad.tensor(x)).data
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), rtol=1e-10, atol=1e-13)


def test_softmax_jacobian_batched_along_an_axis():
    x = np.random.default_rng(0).standard_normal((3, 2))  # softmax over axis 0, per column
    J = F.jacobian(lambda t: ad.softmax(t, axis=0))(ad.tensor(x)).data  # (3, 2, 3, 2)
    for c in range(2):
        s = np.exp(x[:, c]) / np.exp(x[:, c]).sum()
        np.testing.assert_allclose(J[:, c, :, c], np.diag(s) - np.outer(s, s), atol=1e-13)
        np.testing.assert_array_equal(J[:, c, :, 1 - c], 0.0)


def test_softmax_cross_entropy_double_backward():
    # loss_n = logsumexp(x_n) - x_n[t_n]: Hessian w.r.t. row n is diag(p_n) - p_n p_n^T.
    x = np.random.default_rng(1).standard_normal((2, 3))
    targets = np.array([2, 0])
    f = lambda t: ad.softmax_cross_entropy(t, targets).sum()  # noqa: E731
    H = F.hessian(f)(ad.tensor(x)).data
    for n in range(2):
        p = np.exp(x[n]) / np.exp(x[n]).sum()
        np.testing.assert_allclose(H[n, :, n, :], np.diag(p) - np.outer(p, p), atol=1e-13)
        np.testing.assert_array_equal(H[n, :, 1 - n, :], 0.0)
    assert ad.gradgradcheck(lambda t: ad.softmax_cross_entropy(t, targets),
                            (ad.tensor(x, requires_grad=True),))


def test_third_order_mixed_partials_are_symmetric():
    # f = x^2 y^3 z: d3f/dx dy dz = 2x * 3y^2 in any order.
    x, y, z = (ad.tensor(v, dtype=ad.float64, requires_grad=True) for v in (0.7, -1.3, 2.0))
    f = x ** 2 * y ** 3 * z
    (fx,) = ad.grad(f, x, create_graph=True)
    (fxy,) = ad.grad(fx, y, create_graph=True)
    (fxyz,) = ad.grad(fxy, z)
    (fz,) = ad.grad(f, z, create_graph=True)
    (fzy,) = ad.grad(fz, y, create_graph=True)
    (fzyx,) = ad.grad(fzy, x)
    expected = 2 * 0.7 * 3 * 1.3 ** 2
    assert fxyz.item() == pytest.approx(expected, rel=1e-12)
    assert fzyx.item() == pytest.approx(expected, rel=1e-12)


def test_backward_create_graph_fills_differentiable_grad():
    x = ad.tensor([0.5, 2.0], dtype=ad.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    (h,) = ad.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_gradgradcheck_error_names_grad_output_and_validates():
    x = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)
    with pytest.raises(ValueError, match="no input requires grad"):
        ad.gradgradcheck(lambda t: t * 2, (x.detach(),))
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(3,\)"):
        ad.gradgradcheck(lambda t: t * 2, (x,), grad_outputs=(np.ones(3),))
    assert ad.gradgradcheck(lambda t: t.exp(), (x,), grad_outputs=(np.array([1.0, -2.0]),))


def test_gradient_penalty_through_an_nn_model_matches_torch():
    # WGAN-GP style: loss = (||d D(x)/dx|| - 1)^2, backpropagated to D's parameters.
    torch = pytest.importorskip("torch")
    import nn
    model = nn.Sequential(nn.Linear(3, 5, dtype=ad.float64), nn.Tanh(),
                          nn.Linear(5, 1, dtype=ad.float64))
    x0 = np.random.default_rng(2).standard_normal((4, 3))
    x = ad.tensor(x0, requires_grad=True)
    (gx,) = ad.grad(model(x).sum(), x, create_graph=True)
    penalty = ((((gx * gx).sum(axis=1)) ** 0.5 - 1.0) ** 2).mean()
    penalty.backward()

    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), tm.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    tx = torch.tensor(x0, requires_grad=True)
    (tgx,) = torch.autograd.grad(tm(tx).sum(), tx, create_graph=True)
    tpen = ((tgx.pow(2).sum(dim=1).sqrt() - 1.0) ** 2).mean()
    tpen.backward()
    assert penalty.item() == pytest.approx(tpen.item(), rel=1e-12)
    for ours, theirs in zip(model.parameters(), tm.parameters()):
        if theirs.grad is None:  # the output bias does not affect d D(x)/dx
            assert ours.grad is None or not ours.grad.data.any()
            continue
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_grad_wrt_intermediate_runs_only_the_nodes_it_needs():
    # Regression: ad.grad(z, y) for a non-leaf y also ran (and freed) the nodes above y,
    # so a later backward through them failed; PyTorch leaves them alone.
    x = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)
    y = x.exp()
    w = ad.tensor([0.5], dtype=ad.float64, requires_grad=True)
    side = w.exp()  # newer than y but not depending on it: not needed for d z / d y
    z = (y * y).sum() + (side * y).sum()
    ran = []
    with ad.observe_backward(lambda t, g, node, gs: ran.append(node and node.name)):
        (gy,) = ad.grad(z, y)
    np.testing.assert_allclose(gy.data, 2 * y.data + np.exp(0.5))
    assert "exp" not in ran  # neither x.exp() nor w.exp() ran
    assert y.grad_fn.saved and side.grad_fn.saved  # not freed
    (y.sum() + side.sum()).backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data))
    np.testing.assert_allclose(w.grad.data, np.exp(w.data))


def test_grad_wrt_two_targets_on_one_path():
    x = ad.tensor([0.3], dtype=ad.float64, requires_grad=True)
    y = x.tanh()
    z = (y * y).sum()
    gx, gy = ad.grad(z, [x, y])
    np.testing.assert_allclose(gy.data, 2 * y.data)
    np.testing.assert_allclose(gx.data, 2 * y.data * (1 - y.data ** 2))
    x.grad = None
    z2 = (x.tanh() * 3.0).sum()
    z2.backward(inputs=[x])
    np.testing.assert_allclose(x.grad.data, 3 * (1 - np.tanh(0.3) ** 2))


@pytest.mark.parametrize("name", ["conv2d", "conv2d_strided", "max_pool2d", "avg_pool2d"])
def test_gradgradcheck_conv_and_pool(name):
    rng = np.random.default_rng(3)
    x = ad.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(2), requires_grad=True)
    cases = {
        "conv2d": (lambda a, k, c: ad.conv2d(a, k, c, padding=1), (x, w, b)),
        "conv2d_strided": (lambda a, k: ad.conv2d(a, k, stride=2, padding=1, dilation=1), (x, w)),
        "max_pool2d": (lambda a: ad.max_pool2d(a, 2), (x,)),
        "avg_pool2d": (lambda a: ad.avg_pool2d(a, 3, stride=1, padding=1), (x,)),
    }
    fn, inputs = cases[name]
    assert ad.gradgradcheck(fn, inputs)
