"""Custom ops with ad.Function: the README example, double backward, errors, gradcheck."""
import numpy as np
import pytest

import autodiff as ad
from helpers import Cube, t64  # tests/ is on sys.path (pytest's rootdir-relative import)

class Softplus(ad.Function):
    """log(1 + e^x), its backward written with ctx.xp so it runs on Tensors too"""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        xp = ctx.xp
        return xp.maximum(x, 0) + xp.log(1 + xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1 + ctx.xp.exp(-x))


class NumpyCube(Cube):
    """x^3 with a backward that calls numpy directly (fine once, not twice)"""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return 3 * np.square(x) * g


class AsArrayCube(NumpyCube):
    """Converts the saved Tensor to an array: the result is a Tensor, but not a function of x"""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (3 * np.asarray(x) ** 2)


def test_readme_example():
    x = t64([1.0, -2.0, 0.5], requires_grad=True)
    y = Cube.apply(x)
    np.testing.assert_allclose(y.data, x.data ** 3)
    assert y.grad_fn.name == "cube" and y.grad_fn.derivative == "d x^3/dx = 3 x^2"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    assert ad.gradcheck(Cube.apply, (t64([0.3, -1.1], requires_grad=True),))


def test_cube_double_and_triple_backward_closed_form():
    x = t64([1.0, -2.0, 0.5], requires_grad=True)
    (d1,) = ad.grad(Cube.apply(x).sum(), x, create_graph=True)
    (d2,) = ad.grad(d1.sum(), x, create_graph=True)
    (d3,) = ad.grad(d2.sum(), x)
    np.testing.assert_allclose(d1.data, 3 * x.data ** 2)
    np.testing.assert_allclose(d2.data, 6 * x.data)
    np.testing.assert_allclose(d3.data, [6.0, 6.0, 6.0])
    assert ad.gradgradcheck(Cube.apply, (t64([0.3, -1.1], requires_grad=True),))


def test_xp_backward_supports_double_backward():
    x = t64([-3.0, -0.2, 0.0, 1.5, 20.0], requires_grad=True)
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(Softplus.apply(x).data, np.log1p(np.exp(x.data)))
    (d1,) = ad.grad(Softplus.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(d1.data, s)
    (d2,) = ad.grad(d1.sum(), x)
    np.testing.assert_allclose(d2.data, s * (1 - s))
    assert ad.gradgradcheck(Softplus.apply, (t64([-1.0, 0.3, 2.0], requires_grad=True),))
    assert ad.functional.hessian(lambda a: Softplus.apply(a).sum())(t64([0.5])).item() == \
        pytest.approx(0.5 ** 0 * (1 / (1 + np.exp(-0.5))) * (1 - 1 / (1 + np.exp(-0.5))))


def test_numpy_ufunc_backward_is_differentiable_again():
    # np.square on a Tensor dispatches to the engine's op (Tensor.__array_ufunc__), so a
    # backward written with NumPy functions stays a function of x under create_graph.
    x = t64([1.0, 2.0], requires_grad=True)
    (d1,) = ad.grad(NumpyCube.apply(x).sum(), x, create_graph=True)
    (d2,) = ad.grad(d1.sum(), x)
    np.testing.assert_allclose(d2.data, [6.0, 12.0])
    assert ad.gradgradcheck(NumpyCube.apply, (t64([0.5, -1.5], requires_grad=True),))


@pytest.mark.parametrize("op, reason", [(AsArrayCube, "converts a Tensor to a NumPy array")])
def test_raw_numpy_backward_works_once_and_refuses_twice(op, reason):
    x = t64([1.0, 2.0], requires_grad=True)
    op.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 12.0])
    # create_graph still gives the right first derivative as a value ...
    (d1,) = ad.grad(op.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(d1.data, [3.0, 12.0])
    # ... but differentiating it again names the op and says what to do.
    with pytest.raises(RuntimeError, match=rf"{op.__name__.lower()}: its backward {reason}.*"
                                           r"cannot be differentiated again.*ctx\.xp"):
        ad.grad(d1.sum(), x)
    with pytest.raises(RuntimeError, match="cannot be differentiated again"):
        ad.gradgradcheck(op.apply, (t64([0.5], requires_grad=True),))


def test_gradcheck_catches_wrong_custom_backward():
    class WrongSquare(ad.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save(a, b)
            return a * a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved
            return g * a * b, g * a * a * 1.01  # d/da misses the factor 2; d/db is 1% off

    a = t64([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    b = t64([0.5, 2.0], requires_grad=True)
    with pytest.raises(ad.GradcheckError,
                       match=r"gradient of input 0 \(shape \(2, 2\)\) is wrong at element "
                             r"\(\d, \d\): analytic .* vs numerical"):
        ad.gradcheck(WrongSquare.apply, (a, b))
    with pytest.raises(ad.GradcheckError, match=r"input 1 \(shape \(2,\)\)"):
        ad.gradcheck(WrongSquare.apply, (a.detach(), b))


def test_gradgradcheck_catches_wrong_double_backward():
    class WrongSecond(Cube):
        """x^3 whose backward is right in value but wrong as a function of x"""

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved
            # x.detach() hides x from the second derivative: right value, wrong slope.
            x_const = x.detach() if isinstance(x, ad.Tensor) else x
            return 3 * x_const * x_const * g

    x = t64([0.7, -1.3], requires_grad=True)
    assert ad.gradcheck(WrongSecond.apply, (x,))
    with pytest.raises(ad.GradcheckError, match="gradgradcheck: second derivative w.r.t. "
                                                r"input 0 \(shape \(2,\)\) is wrong at element"):
        ad.gradgradcheck(WrongSecond.apply, (x,))


def test_needs_input_grad_skips_unneeded_work():
    seen = []

    class Scale(ad.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved
            seen.append(ctx.needs_input_grad)
            gx = g * w if ctx.needs_input_grad[0] else None
            gw = (g * x).sum() if ctx.needs_input_grad[1] else None
            return gx, gw

    x, w = t64([1.0, 2.0]), t64(3.0, requires_grad=True)
    Scale.apply(x, w).sum().backward()
    assert seen == [(False, True)]
    assert w.grad.item() == 3.0 and x.grad is None
    x.requires_grad_()
    w.grad = None
    Scale.apply(x, w).sum().backward()
    assert seen[-1] == (True, True)
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_mark_non_differentiable():
    class ArgSortValues(ad.Function):
        """Sorted values (differentiable) cannot be expressed here; we return the ranks"""

        @staticmethod
        def forward(ctx, x):
            ctx.mark_non_differentiable()
            return ctx.xp.argsort(ctx.xp.argsort(x)).astype(x.dtype)

    x = t64([0.3, -1.0, 2.0], requires_grad=True)
    r = ArgSortValues.apply(x)
    np.testing.assert_array_equal(r.data, [1.0, 0.0, 2.0])
    assert not r.requires_grad and r.grad_fn is None
    # Using the output in a loss: gradients flow through the other branch only.
    loss = (x * r).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, r.data)


def test_custom_op_wrong_number_of_gradients_is_a_clear_error():
    class TwoIn(ad.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a, b = t64([1.0], requires_grad=True), t64([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="twoin: backward returned 1 gradients for 2 inputs"):
        TwoIn.apply(a, b).sum().backward()


def test_custom_op_with_ctx_call_supports_double_backward():
    class Affine(ad.Function):
        """x @ w; the backward reuses the matmul op through ctx.call"""

        @staticmethod
        def forward(ctx, x, w):
            ctx.save(x, w)
            return x @ w

        @staticmethod
        def backward(ctx, g):
            from autodiff.ops.linalg import MatMul
            x, w = ctx.saved
            return ctx.call(MatMul, g, w.swapaxes(-1, -2)), ctx.call(MatMul, x.swapaxes(-1, -2), g)

    x = t64(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    w = t64(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
    assert ad.gradcheck(Affine.apply, (x, w))
    assert ad.gradgradcheck(lambda a, b: Affine.apply(a, b).tanh(), (x, w))


def _readme_section():
    import pathlib
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("## Higher-order gradients")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_code_blocks_run():
    blocks = _readme_section().split("```python\n")[1:]
    assert len(blocks) >= 3
    namespace = {"ad": ad}
    for block in blocks:
        exec(block.split("```")[0], namespace)  # noqa: S102 (our own README)
    np.testing.assert_allclose(namespace["t"].grad.data, [3.0, 12.0])
    F = namespace["F"]
    H = F.hessian(namespace["rosen"])(ad.tensor([1.0, 1.0]))
    np.testing.assert_allclose(H.data, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-6)
    np.testing.assert_allclose(namespace["h"].data, 6 * namespace["x"].data)


def test_saved_output_stays_connected_under_create_graph():
    class MyExp(ad.Function):
        """e^x, saving its output (as built-in exp does)"""

        @staticmethod
        def forward(ctx, x):
            out = ctx.xp.exp(x)
            ctx.save(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved
            return g * out

    x = t64([0.2, -0.7], requires_grad=True)
    d = MyExp.apply(x)
    for _ in range(3):  # every derivative of e^x is e^x
        (d,) = ad.grad(d.sum(), x, create_graph=True)
        np.testing.assert_allclose(d.data, np.exp(x.data), rtol=1e-14)
    assert ad.gradgradcheck(MyExp.apply, (x,))
