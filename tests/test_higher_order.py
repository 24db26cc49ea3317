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
