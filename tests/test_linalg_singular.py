"""det / slogdet / logdet gradients at singular matrices (issue 12): never an exception
where torch computes a gradient; finite values equal torch's; the derivative of det is the
cofactor matrix everywhere (singular or not), also under create_graph."""
import numpy as np
import pytest

import autodiff as ad

SINGULAR = {
    "rank 1, 2x2": [[2.0, 2.0], [2.0, 2.0]],
    "rank 1, 3x3": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]],
    "zero row": [[1.0, 2.0], [0.0, 0.0]],
    "rank 2, 3x3": [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]],
    "batch, one singular": [[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]],
}


def _cofactors(a):
    """Closed form: (-1)^(i+j) det(minor) of a NumPy matrix (or a batch of them)."""
    a = np.asarray(a)
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, -2), j, -1)
            out[..., i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


@pytest.mark.parametrize("name", SINGULAR)
def test_det_gradient_is_the_cofactor_matrix_at_singular_matrices(name):
    a = ad.tensor(SINGULAR[name], dtype=ad.float64, requires_grad=True)
    (g,) = ad.grad(ad.linalg.det(a).sum(), a)
    np.testing.assert_allclose(g.numpy(), _cofactors(SINGULAR[name]), atol=1e-12)
    # create_graph: the cofactors are built from ops, so they differentiate again
    (g,) = ad.grad(ad.linalg.det(a).sum(), a, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), _cofactors(SINGULAR[name]), atol=1e-12)
    (h,) = ad.grad((g * g).sum(), a)
    eps, values = 1e-6, np.asarray(SINGULAR[name])
    numeric = np.zeros_like(values)  # d/dA sum(cofactors^2), central differences
    for k in np.ndindex(values.shape):
        up, down = values.copy(), values.copy()
        up[k] += eps
        down[k] -= eps
        numeric[k] = ((_cofactors(up) ** 2).sum() - (_cofactors(down) ** 2).sum()) / (2 * eps)
    np.testing.assert_allclose(h.numpy(), numeric, atol=1e-6)


@pytest.mark.parametrize("name", SINGULAR)
def test_slogdet_backward_at_a_singular_matrix_is_not_finite_like_torchs(name):
    torch = pytest.importorskip("torch")
    a = ad.tensor(SINGULAR[name], dtype=ad.float64, requires_grad=True)
    sign, logabs = ad.linalg.slogdet(a)
    (g,) = ad.grad(logabs.sum(), a)           # torch returns inf/NaN here; so do we
    t = torch.tensor(SINGULAR[name], dtype=torch.float64, requires_grad=True)
    t_sign, t_logabs = torch.linalg.slogdet(t)
    (tg,) = torch.autograd.grad(t_logabs.sum(), t)
    np.testing.assert_array_equal(sign.numpy(), t_sign.detach().numpy())
    np.testing.assert_allclose(logabs.numpy(), t_logabs.detach().numpy(), rtol=1e-12)
    ours, theirs = g.numpy(), tg.numpy()
    singular = ~np.isfinite(t_logabs.detach().numpy())
    # a singular matrix's gradient is not finite (which inf or NaN depends on the LU
    # kernel's order of operations); a regular one's equals torch's
    assert not np.isfinite(ours[singular]).all()
    np.testing.assert_allclose(ours[~singular], theirs[~singular], rtol=1e-12)


def test_slogdet_create_graph_at_a_singular_matrix_raises_as_torch():
    a = ad.tensor(SINGULAR["rank 1, 2x2"], dtype=ad.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="singular"):
        ad.grad(ad.linalg.slogdet(a).logabsdet, a, create_graph=True)


def test_regular_matrices_keep_the_inverse_formula():
    a = ad.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=ad.float64, requires_grad=True)
    (g,) = ad.grad(ad.linalg.det(a), a)
    np.testing.assert_allclose(g.numpy(), [[3.0, -1.0], [-1.0, 2.0]])
    (g,) = ad.grad(ad.linalg.slogdet(a).logabsdet, a)
    np.testing.assert_allclose(g.numpy(), np.linalg.inv([[2.0, 1.0], [1.0, 3.0]]).T)
