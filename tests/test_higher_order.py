"""Higher-order derivatives: gradgradcheck over the op table, closed forms, torch."""
import numpy as np
import pytest

import autodiff as ad


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
