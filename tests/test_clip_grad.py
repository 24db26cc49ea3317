"""nn.utils.clip_grad_norm_ and clip_grad_value_ against NumPy closed forms and torch."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from nn.utils import clip_grad_norm_, clip_grad_value_


def _params(grads, dtype=np.float64, device="cpu"):
    out = []
    for g in grads:
        p = ad.tensor(np.zeros(np.shape(g), dtype=dtype), device=device, requires_grad=True)
        if g is not None:
            p.grad = ad.tensor(np.array(g, dtype=dtype), device=device)
        out.append(p)
    return out


GRADS = [[3.0, -4.0], [[1.0, 2.0], [-2.0, 0.5]], [12.0]]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm", [0.1, 5.0, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, device):
    torch = pytest.importorskip("torch")
    ps = _params(GRADS, device=device)
    ts = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in GRADS]
    for t, g in zip(ts, GRADS):
        t.grad = torch.tensor(g, dtype=torch.float64)
    total = clip_grad_norm_(ps, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    assert isinstance(total, ad.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(ref.item(), rel=1e-12)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_closed_form():
    ps = _params(GRADS)
    flat = np.concatenate([np.ravel(g) for g in GRADS])
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert total.item() == pytest.approx(np.linalg.norm(flat), rel=1e-14)
    scale = 1.0 / (np.linalg.norm(flat) + 1e-6)
    for p, g in zip(ps, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), np.array(g) * scale, rtol=1e-14)


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@given(data=st.data())
def test_clipped_norm_is_at_most_max_norm_and_direction_kept(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    grads = [data.draw(hnp.arrays(dtype, hnp.array_shapes(max_dims=2, max_side=4),
                                  elements=finite)) for _ in range(data.draw(st.integers(1, 3)))]
    max_norm = data.draw(st.floats(1e-3, 1e3))
    ps = _params(grads, dtype=dtype)
    total = clip_grad_norm_(ps, max_norm).item()
    flat_before = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    flat_after = np.concatenate([p.grad.numpy().ravel() for p in ps]).astype(np.float64)
    assert total == pytest.approx(np.linalg.norm(flat_before), rel=1e-5, abs=1e-30)
    assert np.linalg.norm(flat_after) <= max_norm * (1 + 1e-5) + 1e-30
    if max_norm / (total + 1e-6) >= 1:  # torch's clip coefficient: at most 1
        np.testing.assert_array_equal(flat_after, flat_before)  # small gradients untouched
    else:
        np.testing.assert_allclose(flat_after, flat_before * (max_norm / (total + 1e-6)),
                                   rtol=1e-5, atol=1e-30)
    assert all(p.grad.dtype == dtype for p in ps)


def test_nonfinite_norm():
    ps = _params([[1.0, np.inf], [2.0]])
    with pytest.raises(RuntimeError, match="non-finite|inf"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[1].grad.numpy(), [2.0])  # nothing scaled on error
    with np.errstate(invalid="ignore"):
        total = clip_grad_norm_(ps, 1.0)  # PyTorch: scale by max_norm / inf = 0
    assert total.item() == math.inf
    np.testing.assert_array_equal(ps[1].grad.numpy(), [0.0])
    assert np.isnan(ps[0].grad.numpy()[1])
    ps = _params([[1.0, np.nan]])
    total = clip_grad_norm_(ps, 1.0)
    assert math.isnan(total.item()) and np.isnan(ps[0].grad.numpy()).all()


def test_clip_grad_norm_skips_missing_grads_and_accepts_one_tensor():
    a, b = _params([[3.0, 4.0], None])
    assert b.grad is None
    assert clip_grad_norm_([a, b], 1.0).item() == pytest.approx(5.0)
    assert b.grad is None
    assert clip_grad_norm_(a, 10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([b], 1.0).item() == 0.0


def test_clip_does_not_write_into_shared_gradient_arrays():
    shared = np.array([30.0, 40.0])
    p = ad.tensor(np.zeros(2), requires_grad=True)
    p.grad = ad.tensor(shared)
    g = p.grad
    clip_grad_norm_([p], 1.0)
    np.testing.assert_array_equal(shared, [30.0, 40.0])
    assert p.grad is g  # the same gradient Tensor, with a new scaled buffer
    np.testing.assert_allclose(g.numpy(), [0.6, 0.8], rtol=1e-6)
    clip_grad_value_([p], 0.7)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.7], rtol=1e-6)


@given(g=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3), elements=finite),
       c=st.floats(0, 100))
def test_clip_grad_value_is_numpy_clip(g, c):
    (p,) = _params([g])
    clip_grad_value_(p, c)
    np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -c, c))


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ps = _params(GRADS)
    ts = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in GRADS]
    for t, g in zip(ts, GRADS):
        t.grad = torch.tensor(g, dtype=torch.float64)
    clip_grad_value_(ps, 1.5)
    torch.nn.utils.clip_grad_value_(ts, 1.5)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16, ad.float32])
def test_half_precision_gradients_keep_their_dtype(dtype):
    p = ad.tensor(np.zeros(4), dtype=dtype, requires_grad=True)
    p.grad = ad.tensor(np.array([1.0, -2.0, 3.0, 0.5]), dtype=dtype)
    total = clip_grad_norm_([p], 1.0)
    assert total.dtype == dtype and p.grad.dtype == dtype
    assert total.item() == pytest.approx(math.sqrt(14.25), rel=1e-2)
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64),
                               np.array([1.0, -2.0, 3.0, 0.5]) / math.sqrt(14.25), rtol=1e-2)
    clip_grad_value_([p], 0.5)
    assert p.grad.dtype == dtype
    assert float(np.abs(p.grad.numpy().astype(np.float64)).max()) <= 0.5


def test_bad_arguments_raise():
    ps = _params(GRADS)
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm"):
        clip_grad_norm_(ps, -1.0)
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type"):
        clip_grad_norm_(ps, 1.0, norm_type=-2)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value"):
        clip_grad_value_(ps, -0.5)
