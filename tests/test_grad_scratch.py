"""Backward rules that overwrite their incoming gradient (Function.overwrites_grad, e.g.
relu) may do so only when the engine finds the array unshared: a retained .grad, a hook,
or a gradient shared between two inputs must keep its values."""
import numpy as np

import autodiff as ad


def _relu_chain():
    x = ad.tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    w = ad.tensor(np.array([[1.5, -2.0], [0.5, 3.0]]), requires_grad=True)
    return x, w


def test_relu_gradient_matches_closed_form():
    x, w = _relu_chain()
    h = x @ w
    (h.relu() * 2.0).sum().backward()
    mask = (x.data @ w.data) > 0
    np.testing.assert_array_equal(w.grad.data, x.data.T @ (2.0 * mask))


def test_retained_grad_of_relu_output_is_not_overwritten():
    x, w = _relu_chain()
    y = (x @ w).relu()
    y.retain_grad()
    (y * ad.tensor(np.array([[5.0, 6.0], [7.0, 8.0]]))).sum().backward()
    # relu's backward received exactly this array: it must not have been masked in place
    np.testing.assert_array_equal(y.grad.data, [[5.0, 6.0], [7.0, 8.0]])
    mask = (x.data @ w.data) > 0
    np.testing.assert_array_equal(w.grad.data, x.data.T @ (y.grad.data * mask))


def test_hook_sees_unmasked_gradient():
    x, w = _relu_chain()
    y = (x @ w).relu()
    seen = []
    y.register_hook(lambda g: seen.append(g.data))
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(seen[0], np.full((2, 2), 3.0))


def test_gradient_shared_by_two_relus_is_not_overwritten():
    x, w = _relu_chain()
    h = x @ w
    a, b = h.relu(), (-h).relu()
    (a + b).sum().backward()  # add passes one gradient array to both relus
    np.testing.assert_array_equal(w.grad.data, x.data.T @ np.sign(x.data @ w.data))


def test_relu_after_max_pool_twice_same_result():
    rng = np.random.default_rng(0)
    x = ad.tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    grads = []
    for _ in range(2):
        (ad.max_pool2d(x.relu(), 2) * 1.5).sum().backward(retain_graph=True)
        grads.append(x.grad.data.copy())
        x.grad = None
    np.testing.assert_array_equal(grads[0], grads[1])
    assert sorted(np.unique(grads[0])) == [0.0, 1.5]


def _conv_grads(cin, cout, padding, retain):
    rng = np.random.default_rng(3)
    x = ad.tensor(rng.standard_normal((3, cin, 6, 5)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((cout, cin, 3, 3)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(cout), requires_grad=True)
    y = ad.conv2d(x, w, b, padding=padding)
    if retain:  # a retained gradient is shared: conv2d must not write over it
        y.retain_grad()
    coef = ad.tensor(rng.standard_normal(y.shape))
    (y * coef).relu().sum().backward()  # relu hands conv2d an unshared gradient
    if retain:  # still the gradient conv2d received
        np.testing.assert_array_equal(y.grad.data, coef.data * (y.data * coef.data > 0))
    return x.grad.data, w.grad.data, b.grad.data


def test_conv2d_backward_same_with_an_unshared_gradient():
    for cin, cout, padding in ((2, 4, 1), (4, 2, 1), (3, 3, 0), (1, 8, 2)):
        fast = _conv_grads(cin, cout, padding, retain=False)
        ref = _conv_grads(cin, cout, padding, retain=True)
        for a, r in zip(fast, ref):
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


class _DoubleRawBackward(ad.Function):
    """2x, with a raw-NumPy backward that reuses a scratch gradient (no double backward)."""
    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        if ctx.grad_is_scratch:
            np.multiply(g, 2.0, out=g)
            return g
        return np.multiply(g, 2.0)


def test_scratch_flag_of_an_earlier_pass_does_not_leak_into_create_graph():
    x = ad.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = _DoubleRawBackward.apply(x)
    loss = (y * 3.0).sum()
    loss.backward(retain_graph=True)      # g of y is unshared here: may be overwritten
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    x.grad = None
    y.retain_grad()
    loss.backward(create_graph=True)      # the raw rule falls back to arrays of y.grad
    np.testing.assert_array_equal(y.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
