"""Op tests driven by the spec table (tests/op_table.py), plus the documented edge cases.

Per row: forward against NumPy in every supported dtype on every device; backward against
float64 central differences (ad.testing.assert_grads_close); backward in the row's dtypes
on every device against the float64 analytic gradient; forward and backward against torch.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autodiff as ad
from op_table import BY_NAME, DIFFERENTIABLE, F64, FLOATS, OPS

# The `device` fixture only returns a string, so reusing it across examples is safe.
on_every_device = settings(suppress_health_check=list(settings().suppress_health_check)
                           + [HealthCheck.function_scoped_fixture])

# Relative tolerance per dtype (absolute tolerance is this times the output's scale):
# half types round every result to 11 (float16) or 8 (bfloat16) significant bits.
TOL = {ad.float16: 1e-2, ad.bfloat16: 4e-2, ad.float32: 2e-5, ad.float64: 1e-10,
       ad.int64: 0}


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _f64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype == ad.bfloat16 else a


def assert_close(actual, expected, dtype, what=""):
    """Compare with the dtype's tolerance, scaled by the magnitude of the expected values."""
    actual, expected = _f64(actual), _f64(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = TOL.get(np.dtype(dtype), 0)
    if tol == 0:  # integer and bool results: exactly
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


def _seeds(outputs, dtype):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(o.shape).astype(dtype) for o in outputs]


def _analytic(row, arrays, kwargs, dtype, device):
    """(outputs, grads) of row.fn on `arrays` cast to dtype, pulled back along fixed seeds."""
    xs = [ad.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
    outs = _as_tuple(row.fn(*xs, **kwargs))
    seeds = _seeds(outs, dtype)
    grads = ad.grad(list(outs), xs, [ad.tensor(s, device=device) for s in seeds],
                    allow_unused=True)
    return outs, xs, grads


REQUIRED = {"add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "clip",
            "maximum", "minimum", "where", "tanh", "sigmoid", "relu", "erf", "sum", "mean",
            "var", "std", "max", "min", "logsumexp", "softmax", "log_softmax", "matmul",
            "reshape", "transpose", "squeeze", "unsqueeze", "flatten", "broadcast_to",
            "concatenate", "stack", "split", "pad", "getitem_basic", "getitem_advanced",
            "setitem"}


def test_table_covers_every_op():
    assert REQUIRED <= set(BY_NAME), f"missing rows: {sorted(REQUIRED - set(BY_NAME))}"
    # every row is gradient-checked, except bool/integer results, which say why
    assert all(row.differentiable or row.notes for row in OPS)


@pytest.mark.parametrize("row", OPS, ids=str)
@on_every_device
@given(data=st.data())
def test_forward_matches_numpy(row, device, data):
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    case = data.draw(row.inputs(dtype), label="case")
    xs = [ad.tensor(a, device=device) for a in case.arrays]
    out = _as_tuple(row.fn(*xs, **case.kwargs))
    # The reference sees the same (already rounded) inputs, computed in float64.
    ref = _as_tuple(row.np_fn(*[_f64(a) for a in case.arrays], **case.kwargs))
    assert len(out) == len(ref)
    expected_dtype = row.result_dtype(dtype)
    for o, r in zip(out, ref):
        assert o.dtype == expected_dtype, \
            f"{row.name}: result dtype {o.dtype} for inputs of {dtype}"
        assert o.device == xs[0].device
        assert not o.requires_grad
        assert_close(o.numpy(), r, expected_dtype, f"{row.name} forward in {dtype}")


@pytest.mark.parametrize("row", DIFFERENTIABLE, ids=str)
@given(data=st.data())
def test_backward_matches_numerical(row, data):
    case = data.draw(row.inputs(ad.float64), label="case")
    xs = [ad.tensor(a, requires_grad=True) for a in case.arrays]
    ad.testing.assert_grads_close(lambda *t: row.fn(*t, **case.kwargs), *xs)


@pytest.mark.parametrize("row", DIFFERENTIABLE, ids=str)
@on_every_device
@given(data=st.data())
def test_backward_in_dtype_on_device(row, device, data):
    """Gradients in half/single precision on `device` agree with float64 ones on the cpu,
    and come back in the input's dtype and on its device."""
    dtype = data.draw(st.sampled_from(FLOATS), label="dtype")
    case = data.draw(row.inputs(dtype), label="case")
    _, xs, grads = _analytic(row, case.arrays, case.kwargs, dtype, device)
    _, _, ref = _analytic(row, [_f64(a) for a in case.arrays], case.kwargs, np.float64, "cpu")
    for i, (x, g, r) in enumerate(zip(xs, grads, ref)):
        assert g.dtype == dtype and g.shape == x.shape and g.device == x.device
        assert_close(g.numpy(), r.numpy(), dtype, f"{row.name}: gradient of input {i}")


@pytest.mark.parametrize("row", OPS, ids=str)
@settings(max_examples=15)
@given(data=st.data())
def test_matches_torch(row, data):
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    if row.torch_fn is None:
        pytest.skip(f"{row.name} has no torch reference: {row.notes}")
    if not row.differentiable:  # values (and dtypes) only, in the row's widest dtype
        case = data.draw(row.inputs(row.dtypes[-1] if F64 not in row.dtypes else F64))
        out = _as_tuple(row.fn(*[ad.tensor(a) for a in case.arrays], **case.kwargs))
        tout = _as_tuple(row.torch_fn(*[torch.as_tensor(a) for a in case.arrays], **case.kwargs))
        for o, t in zip(out, tout):
            assert str(o.dtype) == str(t.dtype).replace("torch.", "")
            np.testing.assert_array_equal(o.numpy(), t.numpy(), err_msg=f"{row.name} vs torch")
        return
    case = data.draw(row.inputs(ad.float64), label="case")
    outs, _, grads = _analytic(row, case.arrays, case.kwargs, np.float64, "cpu")
    txs = [torch.tensor(a, requires_grad=True) for a in case.arrays]
    touts = _as_tuple(row.torch_fn(*txs, **case.kwargs))
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert_close(o.numpy(), t.detach().numpy(), np.float64, f"{row.name} vs torch")
    seeds = [torch.tensor(s) for s in _seeds(outs, np.float64)]
    tgrads = torch.autograd.grad(touts, txs, seeds, allow_unused=True)
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        expected = np.zeros(case.arrays[i].shape) if tg is None else tg.numpy()
        assert_close(g.numpy(), expected, np.float64, f"{row.name} gradient {i} vs torch")


# ----------------------------------------------------------------- stability at extremes
EXTREME_DTYPES = [ad.float16, ad.bfloat16, ad.float32, ad.float64]


@pytest.mark.parametrize("dtype", EXTREME_DTYPES, ids=str)
def test_sigmoid_saturates_without_overflow(dtype, device):
    x = ad.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), dtype=dtype, device=device,
                  requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y = ad.sigmoid(x)
        y.sum().backward()
    np.testing.assert_allclose(_f64(y.numpy()), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-12)
    g = _f64(x.grad.numpy())
    assert np.all(np.isfinite(g)) and g[2] == pytest.approx(0.25)
    assert g[0] == 0 and g[-1] == 0


@pytest.mark.parametrize("dtype", EXTREME_DTYPES, ids=str)
def test_softmax_family_stable_for_huge_logits(dtype, device):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    x = ad.tensor(logits, dtype=dtype, device=device, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        sm, lsm, lse = ad.softmax(x, axis=-1), ad.log_softmax(x, axis=-1), ad.logsumexp(x, 1)
        (sm[:, 0].sum() + lsm.sum() + lse.sum()).backward()
    np.testing.assert_allclose(_f64(sm.numpy()), [[1, 0, 0], [1 / 3] * 3], rtol=1e-2, atol=1e-6)
    np.testing.assert_allclose(_f64(lsm.numpy()), [[0, -2000, -1000], [-np.log(3)] * 3],
                               rtol=1e-2, atol=2e-2)
    np.testing.assert_allclose(_f64(lse.numpy()), [1000, -1000 + np.log(3)], rtol=1e-2)
    assert np.all(np.isfinite(_f64(x.grad.numpy())))


def test_logsumexp_keeps_precision_near_large_values():
    x = ad.tensor([1000.0, 1000.0], dtype=ad.float64)
    assert ad.logsumexp(x).item() == pytest.approx(1000 + np.log(2), abs=1e-12)


# ----------------------------------------------------------------- ties and kinks (documented)
def _grad_of(fn, values, dtype=ad.float64):
    x = ad.tensor(values, dtype=dtype, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def test_max_min_split_gradient_equally_between_ties():
    np.testing.assert_allclose(_grad_of(ad.max, [1.0, 3.0, 3.0, 2.0]), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(_grad_of(ad.min, [1.0, 1.0, 1.0, 2.0]), [1 / 3] * 3 + [0])
    rows = _grad_of(lambda x: ad.amax(x, 1), [[2.0, 2.0], [1.0, 4.0]])
    np.testing.assert_allclose(rows, [[0.5, 0.5], [0, 1]])


def test_maximum_minimum_split_gradient_at_ties():
    a = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ad.tensor([1.0, 5.0, 0.0], requires_grad=True)
    (ad.maximum(a, b) + 10 * ad.minimum(a, b)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [5.5, 10, 1])
    np.testing.assert_allclose(b.grad.numpy(), [5.5, 1, 10])


def test_abs_relu_clip_at_kinks():
    np.testing.assert_array_equal(_grad_of(ad.abs, [-1.0, 0.0, 2.0]), [-1, 0, 1])
    np.testing.assert_array_equal(_grad_of(ad.relu, [-1.0, 0.0, 2.0]), [0, 0, 1])
    # clip passes the gradient on the closed interval, boundaries included
    np.testing.assert_array_equal(_grad_of(lambda x: ad.clip(x, -1.0, 1.0),
                                           [-2.0, -1.0, 0.0, 1.0, 2.0]), [0, 1, 1, 1, 0])


def test_tie_conventions_match_torch():
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    values = [[2.0, 2.0, -1.0], [0.0, 3.0, 3.0]]
    cases = [(lambda x: ad.amax(x, 1), lambda t: t.amax(dim=1)),
             (lambda x: ad.min(x), lambda t: t.amin()),
             (ad.abs, torch.abs), (ad.relu, torch.relu),
             (lambda x: ad.clip(x, 0.0, 2.0), lambda t: t.clamp(0.0, 2.0)),
             (lambda x: ad.maximum(x, ad.tensor(2.0, dtype=ad.float64)),
              lambda t: torch.maximum(t, torch.tensor(2.0, dtype=torch.float64)))]
    for ours, theirs in cases:
        t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        theirs(t).sum().backward()
        np.testing.assert_allclose(_grad_of(ours, values), t.grad.numpy())


def test_repeated_advanced_indices_accumulate():
    x = ad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x[[0, 0, 2, 0]] * ad.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 3.0])
    y = ad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y[np.array([1, 1]), np.array([2, 2])].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 0, 0], [0, 0, 2]])


# ----------------------------------------------------------------- comparisons
COMPARISONS = [("lt", lambda a, b: a < b, np.less), ("le", lambda a, b: a <= b, np.less_equal),
               ("gt", lambda a, b: a > b, np.greater),
               ("ge", lambda a, b: a >= b, np.greater_equal),
               ("eq", lambda a, b: a == b, np.equal), ("ne", lambda a, b: a != b, np.not_equal)]


@pytest.mark.parametrize("name,op,ref", COMPARISONS, ids=[c[0] for c in COMPARISONS])
@on_every_device
@given(shapes=ad.testing.broadcastable_shapes(2), data=st.data())
def test_comparisons_return_bool_without_grad(name, op, ref, device, shapes, data):
    # small integers in a float dtype so that equality actually happens
    a, b = (data.draw(ad.testing.tensors(shape=s, dtype=ad.float32, elements=(-2, 2),
                                         device=device)) for s in shapes)
    a.requires_grad_(True)
    for other, other_np in ((b, b.numpy()), (0.5, 0.5)):
        out = op(a, other)
        assert out.dtype == ad.bool_ and out.device == a.device
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), ref(a.numpy(), other_np))


# ----------------------------------------------------------------- matmul errors
@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 2, 3), (3, 3, 4)),
                                   ((5, 3), (2,))])
def test_matmul_shape_errors_name_op_and_shapes(sa, sb):
    with pytest.raises(ValueError) as err:
        ad.matmul(ad.ones(*sa), ad.ones(*sb))
    msg = str(err.value)
    assert "matmul" in msg and str(sa) in msg and str(sb) in msg


def test_matmul_rejects_scalars_with_hint():
    with pytest.raises(ValueError, match=r"matmul.*at least 1-D.*use \*"):
        ad.tensor(2.0) @ ad.ones(3)


def test_matmul_vector_cases_match_numpy():
    rng = np.random.default_rng(1)
    for sa, sb in [((3,), (3,)), ((3,), (2, 3, 4)), ((2, 1, 3, 4), (4, 5)), ((4, 3), (3,))]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        out = ad.tensor(a) @ ad.tensor(b)
        np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)
        assert out.shape == (a @ b).shape
