"""Dtypes: creation, defaults, grad eligibility, half-precision accumulation, result and
gradient dtypes, and NumPy-style promotion."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff.testing import ALL_DTYPES, FLOAT_DTYPES, tensors

F16, BF16, F32, F64, I64, BOOL = ad.float16, ad.bfloat16, ad.float32, ad.float64, ad.int64, ad.bool_
HALF = [F16, BF16]

on_every_device = settings(suppress_health_check=list(settings().suppress_health_check)
                           + [HealthCheck.function_scoped_fixture])


# ----------------------------------------------------------------- creation and defaults
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_every_dtype_can_be_created(dtype, device):
    values = [0, 1, 1] if dtype in (I64, BOOL) else [0.5, -1.25, 3.0]
    for t in (ad.tensor(values, dtype=dtype, device=device),
              ad.tensor(values, dtype=str(np.dtype(dtype)), device=device),
              ad.zeros(3, dtype=dtype, device=device), ad.ones(2, 3, dtype=dtype, device=device),
              ad.full((2,), values[1], dtype=dtype, device=device)):
        assert t.dtype == dtype
    np.testing.assert_array_equal(ad.tensor(values, dtype=dtype).numpy(),
                                  np.asarray(values).astype(dtype))


def test_dtype_names_and_aliases():
    assert ad.tensor([1.0], dtype="bfloat16").dtype == BF16
    assert ad.tensor([1.0], dtype="half").dtype == F16
    assert ad.tensor([1.0], dtype="double").dtype == F64
    assert ad.tensor([1], dtype="long").dtype == I64
    with pytest.raises(TypeError, match="unknown dtype 'float8'.*bfloat16"):
        ad.tensor([1.0], dtype="float8")


def test_python_data_defaults():
    assert ad.tensor(1.5).dtype == F32
    assert ad.tensor([[1.0, 2.0]]).dtype == F32
    assert ad.tensor([1, 2]).dtype == I64
    assert ad.tensor(3).dtype == I64
    assert ad.tensor([True, False]).dtype == BOOL
    assert ad.zeros(2).dtype == F32 and ad.randn(2).dtype == F32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.int32,
                                   np.bool_, BF16], ids=str)
def test_numpy_arrays_keep_their_dtype(dtype):
    arr = np.arange(4).astype(dtype)
    assert ad.tensor(arr).dtype == np.dtype(dtype)
    assert ad.tensor(arr[0]).dtype == np.dtype(dtype)  # NumPy scalars too


@pytest.mark.parametrize("dtype", [I64, BOOL], ids=str)
def test_integer_and_bool_tensors_cannot_require_grad(dtype):
    with pytest.raises(TypeError, match=f"floating-point.*{np.dtype(dtype)}.*ad.float32"):
        ad.tensor([1, 0], dtype=dtype, requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        ad.zeros(2, dtype=dtype, requires_grad=True)
    t = ad.tensor([1, 0], dtype=dtype)
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad_()
    assert not t.requires_grad


def test_integer_results_of_float_inputs_carry_no_grad():
    x = ad.tensor([0.3, -1.2, 2.0], requires_grad=True)
    for out in (x.argmax(), x > 0):
        assert not out.requires_grad and out.grad_fn is None


def test_sign_has_a_zero_gradient_as_torch():
    # torch.sign(x) requires grad when x does; its gradient is 0 (not "no gradient")
    x = ad.tensor([0.3, -1.2, 0.0], requires_grad=True)
    out = ad.sign(x)
    assert out.requires_grad and out.dtype == x.dtype
    (out * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


# ----------------------------------------------------------------- half-precision accumulation
def test_naive_half_sums_would_be_wrong():
    # the failure mode the engine avoids: a running bfloat16 sum stalls at 4
    acc = np.asarray(0, dtype=BF16)
    for _ in range(1000):
        acc = (acc + np.asarray(0.01, dtype=BF16)).astype(BF16)
    assert float(acc) < 5


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_sum_and_mean_accumulate_in_float32(dtype, device):
    x = ad.full((10_000,), 0.01, dtype=dtype, device=device)
    s, m = x.sum(), x.mean()
    assert s.dtype == dtype and m.dtype == dtype
    step = float(np.asarray(0.01, dtype=dtype))  # 0.01 rounded to the half type
    assert s.item() == pytest.approx(10_000 * step, rel=1e-2)
    assert s.item() == pytest.approx(100, rel=2e-2)
    assert m.item() == pytest.approx(step, rel=1e-2)
    rows = ad.full((100, 100), 0.01, dtype=dtype, device=device).sum(axis=0)
    np.testing.assert_allclose(rows.numpy().astype(np.float64), 100 * step, rtol=1e-2)
    assert ad.full((100, 100), 0.01, dtype=dtype).sum(axis=(0, 1)).item() == pytest.approx(100, rel=2e-2)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_var_std_logsumexp_accumulate_in_float32(dtype):
    base = np.tile([1.0, 2.0, 3.0, 4.0], 2500)
    x = ad.tensor(base, dtype=dtype)
    assert x.var().item() == pytest.approx(1.25, rel=1e-2) and x.var().dtype == dtype
    assert x.std(correction=1).item() == pytest.approx(np.std(base, ddof=1), rel=1e-2)
    lse = ad.logsumexp(ad.zeros(10_000, dtype=dtype))
    assert lse.item() == pytest.approx(np.log(10_000), rel=1e-2) and lse.dtype == dtype


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_matmul_accumulates_in_float32(dtype, device):
    a = ad.full((2, 10_000), 0.01, dtype=dtype, device=device)
    b = ad.ones(10_000, 3, dtype=dtype, device=device)
    out = a @ b
    assert out.dtype == dtype and out.shape == (2, 3)
    np.testing.assert_allclose(out.numpy().astype(np.float64), 100, rtol=2e-2)
    v = ad.full((10_000,), 0.01, dtype=dtype, device=device)
    assert (v @ ad.ones(10_000, dtype=dtype, device=device)).item() == pytest.approx(100, rel=2e-2)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_backward_accumulates_in_float32(dtype, device):
    # d(sum(a @ b))/db = a^T @ ones: a sum over the 10,000 rows of a
    a = ad.full((10_000, 2), 0.01, dtype=dtype, device=device)
    b = ad.ones(2, 3, dtype=dtype, device=device, requires_grad=True)
    (a @ b).sum().backward()
    assert b.grad.dtype == dtype
    np.testing.assert_allclose(b.grad.numpy().astype(np.float64), 100, rtol=2e-2)
    # a broadcast input: its gradient is summed over the 10,000 broadcast copies
    x = ad.ones(1, dtype=dtype, device=device, requires_grad=True)
    ((x + ad.zeros(10_000, dtype=dtype, device=device)) * 0.01).sum().backward()
    assert x.grad.dtype == dtype and x.grad.item() == pytest.approx(100, rel=2e-2)


# ----------------------------------------------------------------- result and gradient dtypes
UNARY = [("exp", ad.exp), ("tanh", ad.tanh), ("sigmoid", ad.sigmoid), ("relu", ad.relu),
         ("erf", ad.erf), ("abs", ad.abs), ("square", lambda x: x * x),
         ("scaled", lambda x: 0.5 * x - 1.5), ("rdiv", lambda x: 1.0 / (x * x + 1.0)),
         ("pow", lambda x: (x * x + 1.0) ** 0.5), ("clip", lambda x: x.clip(-0.5, 0.5)),
         ("where", lambda x: ad.where(x > 0, x, 0.0)), ("max", lambda x: ad.maximum(x, 0.25)),
         ("sum", lambda x: x.sum(axis=-1)), ("mean", lambda x: x.mean()),
         ("var", lambda x: x.var(axis=0, keepdims=True)), ("softmax", ad.softmax),
         ("log_softmax", ad.log_softmax), ("logsumexp", lambda x: ad.logsumexp(x, -1)),
         ("matmul", lambda x: x @ x.T), ("getitem", lambda x: x[[0, 0]]),
         ("pad", lambda x: ad.pad(x, 1, 0.5))]


@pytest.mark.parametrize("name,fn", UNARY, ids=[u[0] for u in UNARY])
@on_every_device
@given(x=tensors(shape=(2, 3), dtype=st.sampled_from(FLOAT_DTYPES), elements=(-2, 2),
                 requires_grad=True))
def test_result_and_gradient_dtype_equal_input_dtype(name, fn, x, device):
    x = x.detach().to(device=device).requires_grad_()
    out = fn(x)
    assert out.dtype == x.dtype, f"{name}: {x.dtype} in, {out.dtype} out"
    out.sum().backward()
    assert x.grad.dtype == x.dtype and x.grad.shape == x.shape and x.grad.device == x.device


def test_bfloat16_with_python_floats_stays_bfloat16():
    # ml_dtypes alone would promote bfloat16 * 0.5 to float32
    x = ad.tensor([1.0, 2.0], dtype=BF16)
    for out in (x * 0.5, 0.5 * x, x + 0.1, 2.0 - x, x / 3.0, 3.0 / x, x ** 2.0, 2.0 ** x,
                ad.maximum(x, 1.5), ad.where(x > 1, x, 0.0), x.clip(0.0, 1.5)):
        assert out.dtype == BF16
    np.testing.assert_allclose((x * 0.5).numpy().astype(np.float64), [0.5, 1.0])


# ----------------------------------------------------------------- promotion
def _numpy_result_dtype(op, a, b):
    return op(np.zeros(2, dtype=a), np.zeros(2, dtype=b)).dtype


PAIRS = [(a, b) for a in ALL_DTYPES for b in ALL_DTYPES]


def _torch_result_dtype(a, b):
    """torch.promote_types, written out: the higher category (bool < integer < float)
    wins outright; float16 with bfloat16 is float32; within a category, NumPy's rule."""
    def category(d):
        return 0 if d == BOOL else 2 if d in FLOAT_DTYPES else 1
    if category(a) != category(b):
        return a if category(a) > category(b) else b
    if {a, b} == {F16, BF16}:
        return F32
    return a if a == b else np.promote_types(a, b)


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_binary_promotion_follows_torch(a, b):
    for name, ours in [("add", lambda x, y: x + y), ("mul", lambda x, y: x * y),
                       ("maximum", ad.maximum)]:
        if a == b == BOOL and name == "add":
            continue  # bool + bool: torch gives bool (logical or); not an arithmetic case
        expected = _torch_result_dtype(a, b)
        got = ours(ad.ones(2, dtype=a), ad.ones(2, dtype=b)).dtype
        assert got == expected, f"{name}({a}, {b}) -> {got}, torch gives {expected}"


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_python_scalars_are_weak(dtype):
    """A Python number does not widen a tensor's dtype (NumPy's rule, and torch's)."""
    x = ad.ones(2, dtype=dtype)
    if dtype in FLOAT_DTYPES:
        assert (x * 2.5).dtype == dtype and (x + 1).dtype == dtype
    elif dtype == I64:
        assert (x + 1).dtype == I64
        assert (x * 2.5).dtype == F32  # int * float is the default float (torch)
        assert (x / x).dtype == F32    # true division of integers: float32 (torch)
    else:
        assert (x & True).dtype == BOOL


@pytest.mark.parametrize("low,high", [(F16, F32), (BF16, F32), (F32, F64), (F16, F64)],
                         ids=str)
def test_mixed_precision_gradients_keep_each_input_dtype(low, high):
    a = ad.tensor([1.0, 2.0], dtype=low, requires_grad=True)
    b = ad.tensor([3.0, 4.0], dtype=high, requires_grad=True)
    out = (a * b).sum()
    assert out.dtype == high
    out.backward()
    assert a.grad.dtype == low and b.grad.dtype == high
    np.testing.assert_allclose(a.grad.numpy().astype(np.float64), [3, 4])
    np.testing.assert_allclose(b.grad.numpy().astype(np.float64), [1, 2])


def test_casts_are_differentiable_and_cast_gradients_back():
    x = ad.tensor([1.0, -2.0], dtype=F32, requires_grad=True)
    y = x.to(dtype=BF16)
    assert y.dtype == BF16 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == F32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])


def test_bool_and_int_reductions_follow_numpy():
    b = ad.tensor([True, False, True])
    assert b.sum().dtype == I64 and b.sum().item() == 2
    i = ad.tensor([[1, 2], [3, 4]])
    assert i.sum(axis=0).dtype == I64 and i.sum(axis=0).tolist() == [4, 6]
    assert (i @ i).dtype == I64 and (i @ i).tolist() == [[7, 10], [15, 22]]
    assert i.max().item() == 4 and i.max().dtype == I64


@given(x=tensors(dtype=st.sampled_from(ALL_DTYPES)))
def test_tensors_strategy_round_trips_every_dtype(x):
    # creation from an array of the same dtype is lossless, for every dtype
    y = ad.tensor(x.numpy())
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y.numpy(), x.numpy())
