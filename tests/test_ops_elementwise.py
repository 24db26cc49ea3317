"""The elementwise ops of issue 13 at their special points, their dtype rules, their errors,
and regressions for the divergences from torch the issue measured. Expected values are
torch 2.13's, written out so the tests mean something without torch; where torch is
installed each is also checked against it.
"""
import math

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as F

F64 = ad.float64


def _grad(fn, values, dtype=F64):
    x = ad.tensor(values, dtype=dtype, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def _torch_grad(fn, values):
    torch = pytest.importorskip("torch")
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    fn(torch, x).sum().backward()
    return x.grad.numpy()


# ------------------------------------------------------------------------- pow at 0
def test_pow_zero_exponent_has_zero_gradient_at_zero():
    # issue 13: (x ** 0).backward() gave NaN at x = 0 (0 * 0^-1); torch gives 0
    np.testing.assert_array_equal(_grad(lambda x: x ** 0, [0.0, 1.0, -2.0]), [0, 0, 0])
    y = ad.tensor([0.0, 0.0], dtype=F64, requires_grad=True)
    x = ad.tensor([0.0, 3.0], dtype=F64, requires_grad=True)
    (x ** y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_pow_gradient_in_a_negative_exponent_of_zero_is_minus_inf():
    # issue 13: 0 ** y w.r.t. a negative y gave 0; torch gives -inf (0 where y >= 0)
    for base in (0.0, ad.zeros(3, dtype=F64)):
        y = ad.tensor([-1.0, 0.0, 2.0], dtype=F64, requires_grad=True)
        (base ** y).sum().backward()
        np.testing.assert_array_equal(y.grad.numpy(), [-math.inf, 0.0, 0.0])
    x = ad.tensor([0.0, 1.0, 2.0], dtype=F64, requires_grad=True)
    y = ad.tensor([-1.0, -2.0, 0.5], dtype=F64, requires_grad=True)
    (x ** y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-math.inf, -2.0, 0.5 / math.sqrt(2)])
    np.testing.assert_allclose(y.grad.numpy(), [-math.inf, 0.0, math.sqrt(2) * math.log(2)])


def test_pow_conventions_match_torch():
    torch = pytest.importorskip("torch")
    xs, ys = [0.0, 0.0, 0.0, 1.0, 2.0], [-1.0, 0.0, 2.0, 0.0, -0.5]
    x = ad.tensor(xs, dtype=F64, requires_grad=True)
    y = ad.tensor(ys, dtype=F64, requires_grad=True)
    (x ** y).sum().backward()
    tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
    (tx ** ty).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


def test_pow_second_derivative_in_the_exponent_survives_b_equal_zero():
    # Only a == b == 0 is masked: d/db (b a^(b-1)) = a^(b-1) (1 + b ln a) = 1/a at b = 0.
    a = ad.tensor([2.0], dtype=F64, requires_grad=True)
    b = ad.tensor([0.0], dtype=F64, requires_grad=True)
    (ga,) = ad.grad((a ** b).sum(), a, create_graph=True)
    (gab,) = ad.grad(ga.sum(), b)
    np.testing.assert_allclose(gab.numpy(), [0.5])


# ------------------------------------------------------------------------- kinks
KINKS = [  # (ours, torch's, points, torch 2.13's gradients there)
    (F.hardtanh, lambda t, x: t.nn.functional.hardtanh(x), [-1.0, 1.0, 0.0, 2.0], [0, 0, 1, 0]),
    (F.relu6, lambda t, x: t.nn.functional.relu6(x), [0.0, 6.0, 3.0, 7.0], [0, 0, 1, 0]),
    (F.hardswish, lambda t, x: t.nn.functional.hardswish(x), [-3.0, 3.0, 0.0, -4.0, 4.0],
     [0, 1, 0.5, 0, 1]),
    (F.hardsigmoid, lambda t, x: t.nn.functional.hardsigmoid(x), [-3.0, 3.0, 0.0],
     [0, 0, 1 / 6]),
    (F.selu, lambda t, x: t.nn.functional.selu(x), [0.0],
     [1.6732632423543772 * 1.0507009873554805]),
    (F.celu, lambda t, x: t.nn.functional.celu(x), [0.0], [1.0]),
    (F.logsigmoid, lambda t, x: t.nn.functional.logsigmoid(x), [0.0, -800.0, 800.0],
     [0.5, 1.0, 0.0]),
    (F.mish, lambda t, x: t.nn.functional.mish(x), [0.0, -800.0, 800.0], [0.6, 0.0, 1.0]),
    (F.softsign, lambda t, x: t.nn.functional.softsign(x), [0.0], [1.0]),
    (ad.sign, lambda t, x: t.sign(x), [0.0, -1.0, 2.0], [0, 0, 0]),
    (ad.frac, lambda t, x: t.frac(x), [1.5, -1.5], [1, 1]),
    (lambda x: ad.clamp(x, -1.0, 1.0), lambda t, x: t.clamp(x, -1.0, 1.0), [-1.0, 1.0, 2.0],
     [1, 1, 0]),
]


@pytest.mark.parametrize("ours,theirs,points,expected", KINKS,
                         ids=[k[0].__name__ for k in KINKS])
def test_gradients_at_kinks_are_torchs(ours, theirs, points, expected):
    np.testing.assert_allclose(_grad(ours, points), expected, rtol=1e-7)


@pytest.mark.parametrize("ours,theirs,points,expected", KINKS,
                         ids=[k[0].__name__ for k in KINKS])
def test_gradients_at_kinks_match_torch(ours, theirs, points, expected):
    np.testing.assert_allclose(_grad(ours, points), _torch_grad(theirs, points), rtol=1e-7)


def test_clamp_with_tensor_bounds_routes_the_gradient_as_torch():
    x = ad.tensor([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], requires_grad=True)
    lo = ad.tensor([1.5, 2.0, 0.0, 2.0, 1.0, 5.0], requires_grad=True)
    hi = ad.tensor([2.0, 2.0, 1.0, 1.0, 3.0, 4.0], requires_grad=True)
    out = ad.clamp(x, min=lo, max=hi)
    np.testing.assert_array_equal(out.numpy(), [1.5, 2.0, 1.0, 1.0, 2.0, 4.0])
    out.sum().backward()
    # lo > hi (the last three but one): the result is hi, and hi gets the gradient
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(lo.grad.numpy(), [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(hi.grad.numpy(), [0, 0, 1, 1, 0, 1])


def test_fmax_fmin_ignore_nan_and_do_not_split_ties():
    a = ad.tensor([1.0, math.nan, 2.0, 3.0], requires_grad=True)
    b = ad.tensor([1.0, 5.0, math.nan, 1.0], requires_grad=True)
    out = ad.fmax(a, b)
    np.testing.assert_array_equal(out.numpy(), [1.0, 5.0, 2.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1, 0, 1, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [0, 1, 0, 0])


# ------------------------------------------------------------------------- dtype rules
@pytest.mark.parametrize("name", ["exp", "log1p", "sqrt", "tanh", "sigmoid", "erf", "sin", "cos",
                                  "exp2", "rsqrt", "reciprocal", "erfc", "softsign", "mish",
                                  "selu", "logit"])
@pytest.mark.parametrize("dtype", [ad.int64, ad.int32, ad.bool_], ids=str)
def test_integer_inputs_to_float_functions_give_float32(name, dtype):
    # issue 13: ad.tensor(2).exp() was float64; torch gives the default float dtype
    fn = getattr(ad, name)
    x = ad.tensor([1, 2, 0], dtype=dtype) if dtype != ad.bool_ else ad.tensor([True, False])
    out = fn(x)
    assert out.dtype == ad.float32
    with np.errstate(all="ignore"):
        ref = fn(ad.tensor(x.numpy().astype(np.float32)))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_binary_float_functions_promote_as_torch():
    i = ad.tensor([1, 2])
    assert ad.atan2(i, i).dtype == ad.float32
    assert ad.lerp(ad.tensor([0.0, 1.0]), ad.tensor([1.0, 3.0], dtype=F64), 0.5).dtype == F64
    # a 0-d float64 tensor does not upcast a float32 one, nor a Python float
    x32 = ad.tensor([0.5, 1.5])
    assert ad.hypot(x32, ad.tensor(2.0, dtype=F64)).dtype == ad.float32
    assert ad.xlogy(x32, 2.0).dtype == ad.float32
    assert ad.xlogy(ad.tensor([1, 2]), 2.0).dtype == ad.float32
    half = ad.tensor([1.0], dtype=ad.float16)
    assert ad.logaddexp(half, ad.tensor([1.0], dtype=ad.bfloat16)).dtype == ad.float32


def test_clamp_promotes_and_integer_functions_keep_integers():
    i = ad.tensor([1, 2, 3])
    out = ad.clamp(i, min=1.5)
    assert out.dtype == ad.float32
    np.testing.assert_array_equal(out.numpy(), [1.5, 2.0, 3.0])
    assert ad.clamp(i, min=2).dtype == ad.int64
    assert ad.clamp(ad.tensor([True, False]), min=0).dtype == ad.int64
    for fn in (ad.floor, ad.ceil, ad.round, ad.trunc, ad.sign, ad.square, ad.relu6,
               ad.hardtanh, ad.nan_to_num):
        assert fn(i).dtype == ad.int64, fn
    assert ad.square(ad.tensor([True])).dtype == ad.int64
    assert ad.sign(ad.tensor([True, False])).dtype == ad.bool_
    assert ad.fmax(i, i).dtype == ad.int64


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16, ad.float32, ad.float64], ids=str)
def test_nan_to_num_defaults_to_the_dtypes_extremes(dtype):
    x = ad.tensor([math.nan, math.inf, -math.inf, 1.5], dtype=dtype)
    out = ad.nan_to_num(x)
    assert out.dtype == dtype
    import ml_dtypes
    info = ml_dtypes.finfo(dtype)
    np.testing.assert_array_equal(out.numpy().astype(np.float64),
                                  [0.0, float(info.max), float(info.min), 1.5])


def test_half_types_compute_multi_step_formulas_in_float32():
    # mish in bfloat16, step by step, would round four times; one rounding is torch's result
    x = np.linspace(-4, 4, 41)
    for dtype in (ad.float16, ad.bfloat16):
        xd = ad.tensor(x, dtype=dtype)
        exact = (lambda v: v * np.tanh(np.logaddexp(0, v)))(xd.numpy().astype(np.float64))
        rounded_once = exact.astype(np.float32).astype(dtype).astype(np.float64)
        np.testing.assert_array_equal(ad.mish(xd).numpy().astype(np.float64), rounded_once)


# ------------------------------------------------------------------------- closeness
def test_isclose_allclose_equal_follow_torch_defaults():
    a = ad.tensor([1.0, math.inf, math.nan, 1e-9])
    b = ad.tensor([1.0 + 1e-6, math.inf, math.nan, 0.0])
    np.testing.assert_array_equal(ad.isclose(a, b).numpy(), [True, True, False, True])
    np.testing.assert_array_equal(ad.isclose(a, b, equal_nan=True).numpy(), [True] * 4)
    assert ad.allclose(a, b, equal_nan=True) is True
    assert ad.allclose(a, b) is False
    assert ad.equal(ad.tensor([1, 2]), ad.tensor([1.0, 2.0])) is True
    assert ad.equal(ad.tensor([1.0]), ad.tensor([1.0, 1.0])) is False
    assert ad.equal(ad.tensor([math.nan]), ad.tensor([math.nan])) is False


# ------------------------------------------------------------------------- bitwise
def test_bitwise_ops_are_bitwise_on_integers():
    a = ad.tensor([5, -2, 12])
    np.testing.assert_array_equal(ad.bitwise_and(a, 3).numpy(), [1, 2, 0])
    np.testing.assert_array_equal(ad.bitwise_or(a, 3).numpy(), [7, -1, 15])
    np.testing.assert_array_equal(ad.bitwise_xor(a, 3).numpy(), [6, -3, 15])
    np.testing.assert_array_equal(ad.bitwise_not(a).numpy(), [-6, 1, -13])
    np.testing.assert_array_equal(ad.bitwise_left_shift(a, 2).numpy(), [20, -8, 48])
    np.testing.assert_array_equal(ad.bitwise_right_shift(a, 1).numpy(), [2, -1, 6])
    # shifts by the bit width or more: 0, or the sign (torch)
    np.testing.assert_array_equal(ad.bitwise_left_shift(a, 70).numpy(), [0, 0, 0])
    np.testing.assert_array_equal(ad.bitwise_right_shift(a, 70).numpy(), [0, -1, 0])
    b = ad.tensor([True, False])
    np.testing.assert_array_equal(ad.bitwise_and(b, ad.tensor([True, True])).numpy(),
                                  [True, False])
    assert ad.bitwise_and(b, 3).dtype == ad.int64  # bool & int promotes, as torch


def test_operators_are_bitwise_on_integers_and_logical_on_bools():
    # issue 13: & | ^ ~ on integer tensors were logical (a & 3 gave booleans)
    a = ad.tensor([5, -2, 12])
    np.testing.assert_array_equal((a & 3).numpy(), [1, 2, 0])
    np.testing.assert_array_equal((3 & a).numpy(), [1, 2, 0])
    np.testing.assert_array_equal((a | 3).numpy(), [7, -1, 15])
    np.testing.assert_array_equal((a ^ 3).numpy(), [6, -3, 15])
    np.testing.assert_array_equal((~a).numpy(), [-6, 1, -13])
    np.testing.assert_array_equal((a << 1).numpy(), [10, -4, 24])
    np.testing.assert_array_equal((a >> 1).numpy(), [2, -1, 6])
    assert (a & 3).dtype == ad.int64
    m = ad.tensor([1.0, -1.0, 3.0]) > 0
    np.testing.assert_array_equal((m & ~m).numpy(), [False] * 3)
    np.testing.assert_array_equal((m | True).numpy(), [True] * 3)
    with pytest.raises(TypeError, match="bitwise_not"):
        ~ad.tensor([1.5])


def test_remainder_and_floor_division_operators_follow_python_signs():
    a = ad.tensor([5.0, -5.0, 5.0, -5.0])
    b = ad.tensor([3.0, 3.0, -3.0, -3.0])
    np.testing.assert_array_equal((a % b).numpy(), [2.0, 1.0, -1.0, -2.0])
    np.testing.assert_array_equal(ad.fmod(a, b).numpy(), [2.0, -2.0, 2.0, -2.0])
    np.testing.assert_array_equal((a // b).numpy(), [1.0, -2.0, -2.0, 1.0])
    np.testing.assert_array_equal(a.div(b, rounding_mode="trunc").numpy(), [1, -1, -1, 1])
    i = ad.tensor([7, -7])
    np.testing.assert_array_equal((i // 2).numpy(), [3, -4])
    np.testing.assert_array_equal((i % -2).numpy(), [-1, -1])
    np.testing.assert_array_equal(i.div(2, rounding_mode="trunc").numpy(), [3, -3])
    assert (i // 2).dtype == ad.int64 and (i % 2.5).dtype == ad.float32
    x = ad.tensor([5.5, -5.5], requires_grad=True)
    y = ad.tensor([2.0, 2.0], requires_grad=True)
    (x % y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1])
    np.testing.assert_array_equal(y.grad.numpy(), [-2, 3])  # -floor(x / y)


def test_bitwise_ops_refuse_floats_naming_the_op():
    with pytest.raises(TypeError, match="bitwise_and.*float32") as err:
        ad.bitwise_and(ad.tensor([1.5]), 1)
    assert err.value.op == "bitwise_and"
    with pytest.raises(TypeError, match="bitwise_left_shift.*integer"):
        ad.bitwise_left_shift(ad.tensor([True]), ad.tensor([True]))


# ------------------------------------------------------------------------- errors
def test_integer_division_by_zero_raises_as_torch():
    for fn in (ad.remainder, ad.fmod, ad.floor_divide,
               lambda a, b: ad.div(a, b, rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="ZeroDivisionError") as err:
            fn(ad.tensor([7, 1]), ad.tensor([2, 0]))
        assert err.value.op in ("remainder", "fmod", "floor_divide", "trunc_divide")
    # floats divide by zero to inf/nan, as torch
    np.testing.assert_array_equal(ad.floor_divide(ad.tensor([1.5]), 0.0).numpy(), [math.inf])
    assert np.isnan(ad.remainder(ad.tensor([1.5]), 0.0).numpy()).all()


def test_bad_arguments_raise_clear_errors():
    x = ad.tensor([0.5, 1.5])
    with pytest.raises(ValueError, match="hardtanh: min_val .* greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="Hardtanh"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(RuntimeError, match="celu: alpha cannot be 0"):
        F.celu(x, 0.0)
    with pytest.raises(TypeError, match="round: decimals=2 needs a floating"):
        ad.round(ad.tensor([1, 2]), decimals=2)
    with pytest.raises(TypeError, match="frac: needs a floating"):
        ad.frac(ad.tensor([1, 2]))
    with pytest.raises(TypeError, match="floor: not defined for bool"):
        ad.floor(ad.tensor([True]))
    with pytest.raises(ValueError, match="div: rounding_mode must be"):
        ad.div(x, x, rounding_mode="round")
    with pytest.raises(ValueError, match="clamp: at least one"):
        ad.clamp(x)
    with pytest.raises(TypeError, match="clip: got both min= and lo="):
        ad.clip(x, min=0.0, lo=0.0)


# ------------------------------------------------------------------------- higher order
def test_second_derivatives_through_the_new_rules_match_closed_forms():
    x = ad.tensor([0.3, -0.7, 1.1], dtype=F64, requires_grad=True)
    v = x.numpy()
    cases = [(ad.sin, -np.sin(v)), (ad.cos, -np.cos(v)), (ad.sinh, np.sinh(v)),
             (ad.log1p, -1 / (1 + v) ** 2), (ad.square, np.full(3, 2.0)),
             (ad.logsigmoid, -np.exp(v) / (1 + np.exp(v)) ** 2),
             (lambda t: ad.atan2(t, ad.tensor(2.0, dtype=F64)),
              -2 * 2 * v / (v * v + 4) ** 2)]
    for fn, second in cases:
        (g,) = ad.grad(fn(x).sum(), x, create_graph=True)
        (h,) = ad.grad(g.sum(), x)
        np.testing.assert_allclose(h.numpy(), second, rtol=1e-10, err_msg=str(fn))


# ------------------------------------------------------------------------- nn modules
def test_activation_modules_have_torchs_signatures_and_reprs():
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.CELU(0.5)) == "CELU(alpha=0.5)"
    x = ad.tensor([-4.0, -1.0, 0.0, 2.0, 7.0])
    for module, fn in [(nn.Softsign(), F.softsign), (nn.Hardtanh(-0.5, 2.0),
                                                      lambda t: F.hardtanh(t, -0.5, 2.0)),
                       (nn.ReLU6(inplace=True), F.relu6), (nn.LogSigmoid(), F.logsigmoid),
                       (nn.Mish(), F.mish), (nn.SELU(), F.selu), (nn.CELU(2.0),
                                                                   lambda t: F.celu(t, 2.0)),
                       (nn.Hardswish(), F.hardswish), (nn.Hardsigmoid(), F.hardsigmoid)]:
        np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
