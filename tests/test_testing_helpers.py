"""ad.testing: the strategies produce what they promise, and assert_grads_close catches
wrong backward rules."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff.testing import (ALL_DTYPES, FLOAT_DTYPES, assert_grads_close,
                              broadcastable_shapes, tensors)
from helpers import Cube, WrongCube  # x^3 with a right and a wrong backward


def test_importing_autodiff_does_not_import_hypothesis():
    code = ("import sys, autodiff as ad\n"
            "assert 'hypothesis' not in sys.modules, 'import autodiff imported hypothesis'\n"
            "assert callable(ad.testing.tensors)\n"
            "assert 'hypothesis' in sys.modules\n"
            "assert 'nn' not in sys.modules, 'ad.testing imported nn (only modules() may)'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        ad.not_a_thing  # noqa: B018


# ----------------------------------------------------------------- tensors()
@given(x=tensors(shape=(2, 3), dtype=ad.float64, elements=(-1.5, 0.25)))
def test_tensors_fixed_shape_dtype_and_bounds(x):
    assert isinstance(x, ad.Tensor) and x.shape == (2, 3) and x.dtype == ad.float64
    assert np.all((x.numpy() >= -1.5) & (x.numpy() <= 0.25))
    assert not x.requires_grad and x.is_leaf and x.device == "cpu"


@given(x=tensors(shape=hnp.array_shapes(min_dims=2, max_dims=2, max_side=3),
                 dtype=st.sampled_from(FLOAT_DTYPES), elements=(0.1, 0.3)))
def test_tensors_shape_and_dtype_strategies_and_unrepresentable_bounds(x):
    # 0.1 and 0.3 are not representable in any binary float: values stay inside anyway
    assert x.ndim == 2 and all(1 <= s <= 3 for s in x.shape)
    assert x.dtype in FLOAT_DTYPES
    values = x.numpy().astype(np.float64)
    assert np.all((values >= 0.1) & (values <= 0.3)), values


@given(x=tensors(dtype=st.sampled_from(ALL_DTYPES)))
def test_tensors_defaults_are_bounded_and_finite(x):
    assert x.ndim <= 3 and all(1 <= s <= 4 for s in x.shape)
    values = x.numpy()
    if x.dtype in FLOAT_DTYPES:
        values = values.astype(np.float64)
        assert np.all(np.isfinite(values)) and np.all(np.abs(values) <= 10)
    elif x.dtype == ad.int64:
        assert np.all(np.abs(values) <= 100)
    else:
        assert x.dtype == ad.bool_


@given(x=tensors(shape=(5,), dtype=ad.int64, elements=(-2.5, 3.7)))
def test_tensors_integer_bounds(x):
    assert x.dtype == ad.int64 and x.numpy().min() >= -2 and x.numpy().max() <= 3


@given(x=tensors(shape=(3,), dtype="bfloat16", elements=st.just(7.0)))
def test_tensors_custom_element_strategy(x):
    assert x.dtype == ad.bfloat16 and x.tolist() == [7.0, 7.0, 7.0]


@given(x=tensors(shape=(2,), dtype=ad.float16, requires_grad=True))
def test_tensors_requires_grad_gives_leaves(x):
    assert x.requires_grad and x.is_leaf and x.grad is None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-3)


@given(x=tensors(shape=(2,), device="cpu"))
def test_tensors_device(x):
    assert x.device == "cpu"


@pytest.mark.parametrize("kwargs,match", [
    ({"dtype": ad.int64, "requires_grad": True}, "floating dtype"),
    ({"dtype": ad.float32, "elements": (1.0, -1.0)}, "lo <= hi"),
    ({"dtype": ad.float32, "elements": (0.0, float("inf"))}, "finite"),
    ({"dtype": ad.bool_, "elements": (0, 1)}, "bool"),
    ({"dtype": "int32"}, "unsupported dtype"),
])
def test_tensors_rejects_bad_arguments(kwargs, match):
    @given(tensors(**kwargs))
    def draw(_):
        pass

    with pytest.raises(InvalidArgument, match=match):
        draw()


# ----------------------------------------------------------------- broadcastable_shapes()
@given(shapes=broadcastable_shapes(3, min_dims=1, max_dims=3, min_side=2, max_side=3))
def test_broadcastable_shapes_broadcast_within_bounds(shapes):
    assert len(shapes) == 3 and all(isinstance(s, tuple) for s in shapes)
    result = np.broadcast_shapes(*shapes)
    assert 1 <= len(result) <= 3 and all(2 <= s <= 3 for s in result)
    assert all(len(s) <= len(result) for s in shapes)
    # and the engine broadcasts them the same way
    total = sum((ad.ones(*s) for s in shapes), ad.zeros(()))
    assert total.shape == result


@given(shapes=broadcastable_shapes(2))
def test_broadcastable_shapes_default_sizes(shapes):
    result = np.broadcast_shapes(*shapes)
    assert len(result) <= 3 and all(1 <= s <= 4 for s in result)


def test_broadcastable_shapes_rejects_n_below_one():
    with pytest.raises(InvalidArgument, match="n must be >= 1"):
        broadcastable_shapes(0)


# ----------------------------------------------------------------- assert_grads_close()
class WrongSecondInput(ad.Function):
    """a * b whose gradient for b is off by a sign."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return g * b, -g * a


@given(x=tensors(shape=(2, 3), dtype=ad.float64, elements=(-2, 2), requires_grad=True),
       w=tensors(shape=(3, 2), dtype=ad.float64, elements=(-2, 2), requires_grad=True))
def test_assert_grads_close_accepts_correct_gradients(x, w):
    assert_grads_close(lambda x: Cube.apply(x), x)
    assert_grads_close(lambda x, w: ad.tanh(x @ w).sum(axis=0), x, w)


def test_assert_grads_close_catches_wrong_custom_backward():
    x = ad.tensor([[0.5, -1.0], [2.0, 1.5]], dtype=ad.float64, requires_grad=True)

    def cube(t):
        return WrongCube.apply(t)

    with pytest.raises(AssertionError) as err:
        assert_grads_close(cube, x)
    msg = str(err.value)
    assert "cube" in msg and "input 0" in msg and "analytic" in msg and "numerical" in msg
    assert isinstance(err.value, ad.GradcheckError)
    # the element with the worst error is named: |(3 - 2) x^2| is largest at x = 2.0
    assert "(1, 0)" in msg


def test_assert_grads_close_names_the_wrong_input():
    a = ad.tensor([1.0, 2.0], requires_grad=True)
    b = ad.tensor([3.0, -1.0], requires_grad=True)
    with pytest.raises(AssertionError, match="input 1"):
        assert_grads_close(WrongSecondInput.apply, a, b)
    # checking only `a` passes: b's wrong rule is not looked at
    assert_grads_close(WrongSecondInput.apply, a, b.detach())


def test_assert_grads_close_checks_all_float_inputs_when_none_requires_grad():
    a = ad.tensor([1.0, 2.0])
    b = ad.tensor([3.0, -1.0])
    with pytest.raises(AssertionError, match="input 1"):
        assert_grads_close(WrongSecondInput.apply, a, b)
    assert not a.requires_grad and not b.requires_grad  # the originals are untouched


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_assert_grads_close_works_in_float64_whatever_the_input_dtype(dtype):
    x = ad.tensor([0.3, -0.7, 1.1], dtype=dtype, requires_grad=True)
    before = x.numpy().copy()
    assert_grads_close(lambda t: ad.sigmoid(t) * t, x)
    assert x.dtype == dtype and x.grad is None
    np.testing.assert_array_equal(x.numpy(), before)


def test_assert_grads_close_passes_through_non_tensor_arguments():
    x = ad.tensor([0.5, 1.5], requires_grad=True)
    assert_grads_close(lambda t, k: (t ** k).sum(), x, 3)


def test_assert_grads_close_multiple_outputs():
    x = ad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert_grads_close(lambda t: ad.split(t * t, 1, dim=1), x)  # 3 pieces


def test_assert_grads_close_reports_missing_graph():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(AssertionError, match="does not depend differentiably"):
        assert_grads_close(lambda t: t.detach() * 2, x)


def test_assert_grads_close_needs_a_float_tensor():
    with pytest.raises(ValueError, match="no floating-point tensor"):
        assert_grads_close(lambda t: t * 2, ad.tensor([1, 2]))
    with pytest.raises(ValueError, match="at least one Tensor"):
        assert_grads_close(lambda t: t, 1.0)


def test_assert_grads_close_tolerances_are_used():
    x = ad.tensor([1.0], requires_grad=True)
    # WrongCube is off by x^2 = 1 here: a tolerance of 2 lets it through, the default not
    assert_grads_close(WrongCube.apply, x, atol=2.0)
    with pytest.raises(AssertionError):
        assert_grads_close(WrongCube.apply, x)


# ----------------------------------------------------------------- the documented use
class Softplus(ad.Function):
    """A user's own op: log(1 + e^x), written the stable way."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1 + np.exp(-x))


@given(x=tensors(shape=hnp.array_shapes(max_dims=2), dtype=ad.float64, elements=(-5, 5),
                 requires_grad=True))
def test_users_can_property_test_their_own_op(x):
    assert_grads_close(Softplus.apply, x)


@given(shapes=broadcastable_shapes(2), data=st.data())
def test_users_can_property_test_broadcasting(shapes, data):
    a, b = (data.draw(tensors(shape=s, dtype=ad.float64, elements=(-3, 3),
                              requires_grad=True)) for s in shapes)

    def my_binary_op(u, v):
        return Softplus.apply(u) * v

    assert my_binary_op(a, b).shape == np.broadcast_shapes(*shapes)
    assert_grads_close(my_binary_op, a, b)
