"""ad.testing assertions: wrong backward rules are caught, messages name the user's op or
module class with plain floats and a repro that reproduces, composite functions are
localised node by node, kinks never cause false failures, references are compared."""
import copy

import numpy as np
import pytest
from hypothesis import given

import autodiff as ad
import nn
from autodiff.testing import (assert_gradgrads_close, assert_grads_close,
                              assert_matches_reference, assert_module_grads_close, modules,
                              shapes, tensors)
from helpers import Cube, WrongCube


class ThreeSquare(ad.Function):
    """3x^2 whose own backward is wrong (3x instead of 6x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return 3 * x ** 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return 3 * x * g


class CubeViaThreeSquare(Cube):
    """x^3 with a right first derivative computed by ThreeSquare (so double backward runs
    ThreeSquare's wrong rule)."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ctx.call(ThreeSquare, x)


class WrongRelu(ad.Function):
    """relu whose backward passes twice the gradient everywhere."""

    @staticmethod
    def forward(ctx, x):
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        return 2 * g


class MyAct(nn.Module):
    def forward(self, x):
        return WrongCube.apply(x)


def _message(check, *args, **kwargs):
    with pytest.raises(AssertionError) as err:
        check(*args, **kwargs)
    assert isinstance(err.value, ad.GradcheckError)
    text = str(err.value)
    assert "np.float64" not in text and "np.float32" not in text, text
    return text


def _rerun_repro(text, **names):
    """Execute the message's repro lines; they must fail the same way again."""
    code = "\n".join(line[4:] for line in text.split("Reproduce with:\n", 1)[1].splitlines())
    with pytest.raises(ad.GradcheckError) as again:
        exec(code, dict(names))
    return str(again.value)


X = [[0.5, -1.0], [2.0, 1.5]]


# ----------------------------------------------------------------- naming and repro
def test_wrong_backward_is_named_by_its_class_with_plain_floats():
    x = ad.tensor(X, dtype=ad.float32, requires_grad=True)
    text = _message(assert_grads_close, WrongCube.apply, x)
    assert text.startswith("assert_grads_close(WrongCube.apply): gradient of input 0")
    assert "Function.apply" not in text
    # the worst element is x = 2 (error (3 - 2) x^2 = 4 there), values as plain floats
    assert "element (1, 0): analytic" in text and "input 0 at (1, 0) = 2" in text
    analytic = float(text.split("analytic ")[1].split()[0])
    numerical = float(text.split("vs numerical ")[1].split()[0])
    assert analytic / numerical == pytest.approx(2 / 3, rel=1e-6)
    assert "x0 = ad.tensor([[0.5, -1.0], [2.0, 1.5]], dtype=ad.float32, requires_grad=True)" \
        in text
    assert _rerun_repro(text, WrongCube=WrongCube) == text


def test_repro_rebuilds_float32_values_exactly():
    values = np.array([[0.1, -1 / 3], [2.5e-7, 7.0]], dtype=np.float32)
    x = ad.tensor(values, requires_grad=True)
    text = _message(assert_grads_close, WrongCube.apply, x)
    code = text.split("x0 = ", 1)[1].splitlines()[0]
    rebuilt = eval(code, {"ad": ad})
    assert rebuilt.dtype == ad.float32
    np.testing.assert_array_equal(rebuilt.numpy(), values)


def test_composite_function_names_the_op_whose_backward_is_wrong():
    x = ad.tensor(X, dtype=ad.float64, requires_grad=True)

    def model(t):
        return ad.tanh(WrongCube.apply(t * 0.5)).sum(axis=0)

    text = _message(assert_grads_close, model, x)
    assert text.startswith("assert_grads_close(test_composite_function_names_the_op_whose_"
                           "backward_is_wrong.<locals>.model)")
    assert "Checked the recorded graph node by node" in text
    wrong = [line for line in text.splitlines() if "WRONG:" in line]
    assert len(wrong) == 1 and "WrongCube (op 'wrongcube')" in wrong[0], text
    assert "backward" in wrong[0] and "vs numerical" in wrong[0]
    assert _rerun_repro(text, model=model)


def test_a_lambda_is_named_by_its_place_and_gets_a_placeholder():
    x = ad.tensor([1.0, 2.0], dtype=ad.float64, requires_grad=True)
    text = _message(assert_grads_close, lambda t: WrongCube.apply(t) + t, x)
    assert "assert_grads_close(<lambda> at test_testing_checks.py:" in text
    assert "ad.testing.assert_grads_close(fn, x0)  # fn: <lambda> at" in text


def test_a_gradient_lost_outside_the_graph_is_blamed_on_the_composition():
    x = ad.tensor([1.0, -2.0, 0.5], dtype=ad.float64, requires_grad=True)
    text = _message(assert_grads_close, lambda t: t * ad.tensor(t.numpy()), x)
    assert "every op's own backward matches its numerical derivative" in text
    assert "WRONG" not in text


def test_a_module_failure_names_module_parameter_and_the_wrong_op_with_its_scope():
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), MyAct(), nn.Linear(3, 1))
    x = ad.randn(4, 2)
    before = copy.deepcopy(model.state_dict())
    text = _message(assert_module_grads_close, model, x)
    assert text.startswith("assert_module_grads_close(Sequential): ")
    assert "parameter '0.weight'" in text and "parameter '0.bias'" in text
    wrong = [line for line in text.splitlines() if "WRONG:" in line]
    assert len(wrong) == 1 and "WrongCube" in wrong[0] and "1: MyAct" in wrong[0], text
    assert "model: your Sequential" in text
    # the module itself is untouched: same parameters, no gradients
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy())
    assert all(p.grad is None and p.dtype == ad.float32 for p in model.parameters())


def test_correct_modules_pass_and_keep_their_state():
    ad.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    x = ad.randn(5, 3)
    running = model[1].running_mean.numpy().copy()
    assert_module_grads_close(model, x)
    assert_module_grads_close(model, x, loss_fn=lambda out: (out ** 2).mean())
    model.eval()
    assert_module_grads_close(model, x, check_inputs=False)
    np.testing.assert_array_equal(model[1].running_mean.numpy(), running)


def test_random_module_output_asks_for_eval_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    x = ad.randn(4, 3)
    with pytest.raises(ValueError, match=r"Sequential.*changes between two calls.*\.eval\(\)"):
        assert_module_grads_close(model, x)
    assert_module_grads_close(model.eval(), x)


def test_module_with_integer_inputs():
    emb = nn.Embedding(5, 3)
    assert_module_grads_close(emb, ad.tensor([[0, 4], [2, 2]]))


# ----------------------------------------------------------------- kinks
def test_kink_tolerance_accepts_subgradients_only_at_kinks():
    at_kink = ad.tensor([0.0, 0.0], dtype=ad.float64, requires_grad=True)
    # central differences give 0.5 at relu's kink, backward gives 0: not a wrong rule
    assert_grads_close(ad.relu, at_kink)
    text = _message(assert_grads_close, ad.relu, at_kink, kink_tolerant=False)
    assert text.startswith("assert_grads_close(ad.relu): ") and "analytic 0 vs" in text
    assert "one-sided slopes" in text and "kink_tolerant=True skips such elements" in text
    assert "WRONG" not in text  # relu's rule is right: the node-by-node check knows kinks
    assert "ad.testing.assert_grads_close(ad.relu, x0, kink_tolerant=False)" in text
    # away from a kink the tolerance changes nothing: the wrong rule is caught
    x = ad.tensor([-1.0, 2.0], dtype=ad.float64, requires_grad=True)
    text = _message(assert_grads_close, WrongRelu.apply, x)
    assert "WrongRelu.apply" in text and "element (0,): analytic" in text
    # an element at a kink is skipped, the others are still compared (and reported)
    text = _message(assert_grads_close, WrongRelu.apply,
                    ad.tensor([0.0, 1.5], dtype=ad.float64, requires_grad=True))
    assert "element (1,)" in text and "1 of 1 elements disagree; 1 more at kinks were " \
        "skipped" in text


def test_ties_in_a_max_pool_after_a_conv_are_not_false_failures():
    # a constant image makes every pooling window a tie; perturbing one pixel moves
    # several windows' maxima in different directions
    ad.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2)).eval()
    assert_module_grads_close(model, ad.zeros(2, 2, 4, 4))
    with pytest.raises(AssertionError, match="kink"):
        assert_module_grads_close(model, ad.zeros(2, 2, 4, 4), kink_tolerant=False)


@given(x=tensors(shape=shapes(max_dims=2), dtype=ad.float64, elements=(-3, 3),
                 avoid_kinks_of=ad.relu))
def test_relu_based_gradient_check_never_fails_falsely(x):
    # The figure in the README comes from this test under HYPOTHESIS_PROFILE=thorough.
    assert_grads_close(lambda t: ad.relu(t) * t + ad.relu(-2 * t), x)
    assert_gradgrads_close(lambda t: ad.relu(t) * t, x)


@given(model=modules(kinds=("linear", "relu", "leaky_relu"), in_features=3, max_layers=3,
                     dtype=ad.float64),
       x=tensors(shape=(4, 3), dtype=ad.float64, elements=(-2, 2)))
def test_relu_networks_never_fail_falsely(model, x):
    # relu's input inside the network can be anything, 0 included (shrunk weights): the
    # kink-tolerant comparison keeps those examples from failing
    assert_module_grads_close(model, x)


# ----------------------------------------------------------------- second derivatives
def test_gradgrads_catch_a_wrong_rule_used_by_a_backward():
    x = ad.tensor([0.5, -1.5, 2.0], dtype=ad.float64, requires_grad=True)
    assert_grads_close(CubeViaThreeSquare.apply, x)  # the first derivative is right
    text = _message(assert_gradgrads_close, CubeViaThreeSquare.apply, x)
    assert text.startswith("assert_gradgrads_close(CubeViaThreeSquare.apply): second "
                           "derivative of input 0")
    assert "WRONG: ThreeSquare" in text
    assert_gradgrads_close(Cube.apply, x)
    assert_gradgrads_close(lambda t: ad.tanh(t) * ad.sigmoid(t), x,
                           grad_outputs=ad.tensor([1.0, 2.0, -1.0]))


# ----------------------------------------------------------------- references
def _cube_np(a):
    return a ** 3


def test_reference_values_and_gradients_with_numpy():
    x = ad.tensor(X, dtype=ad.float32, requires_grad=True)
    assert_matches_reference(Cube.apply, _cube_np, x)
    assert_matches_reference(lambda t: (ad.tanh(t), t.sum()),
                             lambda a: (np.tanh(a), a.sum()), x)
    text = _message(assert_matches_reference, WrongCube.apply, _cube_np, x)
    assert "analytic" in text and "reference (central differences of the reference)" in text
    assert "ad.testing.assert_matches_reference(WrongCube.apply, _cube_np, x0, " \
           "reference='numpy')" in text
    text = _message(assert_matches_reference, lambda t: t ** 3 + 1e-3, _cube_np, x)
    assert "output 0 (shape (2, 2), float32) differs from the reference _cube_np" in text
    assert "0.126000002 vs reference 0.125" in text


def test_reference_tolerance_follows_the_dtype():
    x = ad.tensor([0.3, 1.7], dtype=ad.float16)
    assert_matches_reference(ad.exp, np.exp, x, grads=False)  # float16 rounding is fine
    # the same float16 computation handed back as float64 is held to float64's tolerance
    with pytest.raises(AssertionError, match=r"output 0 \(shape \(2,\), float64\) differs"):
        assert_matches_reference(lambda t: ad.exp(t.half()).double(), np.exp, x.double(),
                                 grads=False)


def test_reference_shape_and_count_mismatches_are_reported():
    x = ad.tensor([1.0, 2.0])
    with pytest.raises(AssertionError, match=r"output 0 has shape \(2,\) but the reference"):
        assert_matches_reference(lambda t: t, lambda a: a[None], x)
    with pytest.raises(AssertionError, match="returned 1 outputs but the reference"):
        assert_matches_reference(lambda t: t, lambda a: (a, a), x)
    with pytest.raises(ValueError, match="'numpy' or 'torch'"):
        assert_matches_reference(lambda t: t, lambda a: a, x, reference="jax")


def test_reference_with_torch():
    torch = pytest.importorskip("torch")
    x = ad.tensor(X, dtype=ad.float64, requires_grad=True)
    assert_matches_reference(lambda t: ad.tanh(t) * 2, lambda a: torch.tanh(a) * 2, x,
                             reference="torch")
    text = _message(assert_matches_reference, WrongCube.apply, lambda a: a ** 3, x,
                    reference="torch")
    assert "reference (torch autograd)" in text and "WRONG: WrongCube" in text


# ----------------------------------------------------------------- argument errors
def test_inputs_are_validated():
    with pytest.raises(ValueError, match="at least one Tensor"):
        assert_gradgrads_close(lambda t: t, 1.0)
    with pytest.raises(ValueError, match="no floating-point tensor"):
        assert_matches_reference(lambda t: t * 2, lambda a: a * 2, ad.tensor([1, 2]))
    with pytest.raises(ValueError, match="nothing to check"):
        assert_module_grads_close(nn.ReLU(), ad.tensor([1, 2]))
    with pytest.raises(AssertionError, match="does not depend differentiably"):
        assert_gradgrads_close(lambda t: t.detach(), ad.tensor([1.0], requires_grad=True))


def test_empty_inputs_have_nothing_to_disagree_about():
    x = ad.tensor(np.zeros((0, 3)), dtype=ad.float64, requires_grad=True)
    assert_grads_close(lambda t: t * 2, x)
    assert_module_grads_close(nn.Linear(3, 2), ad.zeros(0, 3))


def test_ops_with_keyword_parameters_are_rechecked_from_node_params():
    x = ad.tensor(X, dtype=ad.float64, requires_grad=True)
    y = WrongCube.apply(x).sum(axis=0)
    assert dict(y.grad_fn.params)["axis"] == 0
    text = _message(assert_grads_close, lambda t: WrongCube.apply(t).sum(axis=0), x)
    assert "WRONG: WrongCube" in text and "not re-checked" not in text
    assert "2 ops re-run in float64" in text
