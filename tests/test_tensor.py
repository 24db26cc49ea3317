"""The Tensor API: creation, attributes, conversion, operators, repr."""
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad


# ---------------------------------------------------------------- creation

def test_tensor_default_dtypes():
    assert ad.tensor([1.0, 2.0]).dtype == ad.float32      # Python floats -> float32
    assert ad.tensor(2.5).dtype == ad.float32
    assert ad.tensor([1, 2]).dtype == ad.int64
    assert ad.tensor([True, False]).dtype == ad.bool_
    assert ad.tensor(np.zeros(2, dtype=np.float64)).dtype == ad.float64  # arrays keep theirs
    assert ad.tensor(np.zeros(2, dtype=np.float16)).dtype == ad.float16
    assert ad.tensor(np.float64(1.0)).dtype == ad.float64
    assert ad.tensor([1.0], dtype="bfloat16").dtype == ad.bfloat16
    assert ad.tensor([1, 2], dtype=ad.float64).dtype == ad.float64


def test_tensor_from_array_and_from_tensor():
    a = np.ones(3)
    t = ad.tensor(a)
    assert isinstance(t.data, np.ndarray) and t.dtype == a.dtype
    np.testing.assert_array_equal(t.numpy(), a)
    w = ad.tensor([1.0, 2.0], requires_grad=True) * 2
    u = ad.tensor(w)
    assert u is not w and u.is_leaf and not u.requires_grad and u.grad_fn is None
    np.testing.assert_array_equal(u.numpy(), [2.0, 4.0])


def test_tensor_name_and_requires_grad():
    t = ad.tensor([1.0, 2.0], requires_grad=True, name="w")
    assert t.name == "w" and t.requires_grad and t.is_leaf and t.grad is None
    assert t.grad_fn is None
    u = ad.tensor([1.0])
    assert u.name is None
    u.name = "bias"
    assert u.name == "bias"


@pytest.mark.parametrize("make, shape", [
    (lambda d: ad.zeros(2, 3, device=d), (2, 3)),
    (lambda d: ad.zeros((2, 3), device=d), (2, 3)),
    (lambda d: ad.zeros([4], device=d), (4,)),
    (lambda d: ad.zeros(device=d), ()),
    (lambda d: ad.ones(3, device=d), (3,)),
    (lambda d: ad.full((2, 2), 1.5, device=d), (2, 2)),
    (lambda d: ad.full(3, 1.5, device=d), (3,)),
    (lambda d: ad.empty(2, 1, device=d), (2, 1)),
    (lambda d: ad.eye(3, device=d), (3, 3)),
    (lambda d: ad.eye(2, 4, device=d), (2, 4)),
])
def test_creation_shapes(make, shape, device):
    t = make(device)
    assert t.shape == shape and t.dtype == ad.float32 and t.device.startswith(device)
    assert t.is_leaf and not t.requires_grad


@pytest.mark.parametrize("shape", [(np.int64(2), 3), ((np.int32(2), 3),), (np.array([2, 3]),),
                                   (ad.tensor(2), 3), ([2, 3],)])
def test_creation_shape_forms(shape):
    # Regression: NumPy integers were rejected and a 0-d int tensor gave shape ().
    for fn in (ad.zeros, ad.ones, ad.empty, ad.randn, ad.rand):
        assert fn(*shape).shape == (2, 3)


@pytest.mark.parametrize("fn", [ad.zeros, ad.ones, ad.randn, ad.rand, ad.empty])
def test_creation_bad_shapes(fn):
    name = fn.__name__
    with pytest.raises(TypeError, match=rf"{name}: shape must be integers"):
        fn(2.5)
    with pytest.raises(TypeError, match=rf"{name}: shape must be integers"):
        fn((2, 3.0))
    with pytest.raises(ValueError, match=rf"{name}: negative dimension"):
        fn(2, -1)
    with pytest.raises(TypeError, match="full: shape"):
        ad.full(2.5, 1.0)


def test_creation_values(device):
    np.testing.assert_array_equal(ad.zeros(2, 2, device=device).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(ad.ones(3, device=device).numpy(), np.ones(3))
    np.testing.assert_array_equal(ad.full((2,), 7.5, device=device).numpy(), [7.5, 7.5])
    np.testing.assert_array_equal(ad.eye(2, 3, device=device).numpy(), np.eye(2, 3))
    np.testing.assert_array_equal(ad.arange(1, 10, 3, device=device).numpy(), [1, 4, 7])
    np.testing.assert_allclose(ad.linspace(0, 1, 5, device=device).numpy(),
                               np.linspace(0, 1, 5), rtol=1e-6)


def test_full_dtype_follows_value():
    assert ad.full(2, 1.0).dtype == ad.float32
    assert ad.full(2, 1).dtype == ad.int64
    assert ad.full(2, True).dtype == ad.bool_
    assert ad.full(2, 1, dtype=ad.float64).dtype == ad.float64


def test_arange_dtypes():
    assert ad.arange(5).dtype == ad.int64
    np.testing.assert_array_equal(ad.arange(5).numpy(), np.arange(5))
    t = ad.arange(0, 1, 0.25)
    assert t.dtype == ad.float32
    np.testing.assert_array_equal(t.numpy(), [0, 0.25, 0.5, 0.75])
    assert ad.arange(3, dtype=ad.float64).dtype == ad.float64


def test_like_functions_copy_shape_dtype_device():
    x = ad.zeros(2, 3, dtype=ad.float64)
    for fn, fill in [(ad.zeros_like, 0), (ad.ones_like, 1)]:
        t = fn(x)
        assert t.shape == (2, 3) and t.dtype == ad.float64 and t.device == x.device
        assert np.all(t.numpy() == fill)
    f = ad.full_like(x, 3.0)
    assert f.dtype == ad.float64 and np.all(f.numpy() == 3.0)
    assert ad.zeros_like(x, dtype=ad.float16).dtype == ad.float16
    assert ad.ones_like(x, requires_grad=True).requires_grad
    assert ad.randn_like(x).shape == (2, 3) and ad.randn_like(x).dtype == ad.float64
    r = ad.rand_like(x)
    assert r.dtype == ad.float64 and np.all((r.numpy() >= 0) & (r.numpy() < 1))


def test_random_reproducible_with_manual_seed(device):
    ad.manual_seed(123)
    a = ad.randn(4, 3, device=device).numpy()
    b = ad.rand(5, device=device).numpy()
    ad.manual_seed(123)
    np.testing.assert_array_equal(ad.randn(4, 3, device=device).numpy(), a)
    np.testing.assert_array_equal(ad.rand(5, device=device).numpy(), b)
    ad.manual_seed(124)
    assert not np.array_equal(ad.randn(4, 3, device=device).numpy(), a)


def test_random_shapes_dtypes_and_distribution():
    ad.manual_seed(0)
    n = ad.randn(2000, dtype=ad.float64)
    assert n.dtype == ad.float64 and n.shape == (2000,)
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    u = ad.rand((20, 100))
    assert u.shape == (20, 100) and u.dtype == ad.float32
    assert u.numpy().min() >= 0 and u.numpy().max() < 1 and abs(u.numpy().mean() - 0.5) < 0.05
    assert ad.randn(3, dtype=ad.bfloat16).dtype == ad.bfloat16
    assert ad.randn(3, requires_grad=True).requires_grad
    assert ad.randint(0, 5, np.int64(3)).shape == (3,) and ad.randint(4).shape == ()
    i = ad.randint(0, 5, (100,))
    assert i.dtype == ad.int64 and i.numpy().min() >= 0 and i.numpy().max() < 5


# ---------------------------------------------------------------- attributes

def test_shape_attributes():
    t = ad.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.dtype == ad.float32 and t.device == "cpu"
    assert t.T.shape == (4, 3, 2)
    m = ad.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(m.T.numpy(), [[1.0], [2.0], [3.0]])
    assert ad.tensor(1.0).ndim == 0 and ad.tensor(1.0).numel() == 1


def test_iteration_over_first_axis():
    x = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    sum((k + 1) * r.sum() for k, r in enumerate(x)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0], [2.0, 2.0]])
    a, b = ad.tensor([1.0, 2.0])
    assert a.item() == 1.0 and b.item() == 2.0
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(ad.tensor(1.0))       # regression: silently gave []


def test_data_is_the_backing_array():
    t = ad.tensor([1.0, 2.0])
    assert isinstance(t.data, np.ndarray)
    t.data[0] = 5.0
    assert t.tolist() == [5.0, 2.0]


def test_grad_fn_and_is_leaf():
    x = ad.tensor([1.0], requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name == "mul"
    assert y.grad_fn.inputs[0] is x
    z = ad.tensor([1.0]) * 2        # nothing requires grad: no node
    assert z.is_leaf and z.grad_fn is None and not z.requires_grad


def test_detach():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert d.data is y.data        # shares memory
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])


def test_numpy_item_tolist():
    t = ad.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert ad.tensor(2.5).item() == 2.5 and isinstance(ad.tensor(2.5).item(), float)
    assert ad.tensor([[7]]).item() == 7 and isinstance(ad.tensor([7]).item(), int)
    assert float(ad.tensor(2.0)) == 2.0 and int(ad.tensor(3.0)) == 3
    assert [10, 20, 30][ad.tensor(1)] == 20
    np.testing.assert_array_equal(np.asarray(ad.tensor([1.0, 2.0])), [1.0, 2.0])


def test_numpy_of_tensor_requiring_grad_is_read_only():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    arr = w.numpy()
    with pytest.raises(ValueError):
        arr[0] = 3.0
    assert ad.tensor([1.0]).numpy().flags.writeable


def test_to_dtype_is_differentiable():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    d = w.to(dtype=ad.float64)
    assert d.dtype == ad.float64 and d.grad_fn is not None
    (d * d).sum().backward()
    assert w.grad.dtype == ad.float32            # gradient comes back in the leaf's dtype
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    assert w.to(dtype=ad.float32) is w           # no-op conversions return self
    assert w.to(device="cpu") is w
    assert w.float() is w
    assert w.double().dtype == ad.float64 and w.half().dtype == ad.float16


def test_to_device_roundtrip(device):
    t = ad.tensor([1.0, 2.0], requires_grad=True)
    moved = t.to(device)
    assert moved.device.startswith(device)
    back = moved.cpu()
    assert back.device == "cpu"
    (back * back).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 4.0])
    if device == "cuda":
        c = t.cuda()
        assert c.device == "cuda:0"
        assert "device='cuda:0'" in repr(c)


def test_requires_grad_():
    t = ad.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad


# ---------------------------------------------------------------- operators

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scalar", [2, 0.5, np.float32(1.5)])
def test_scalar_and_reflected_operands(op, scalar):
    a = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    t = ad.tensor(a)
    fwd, rev = op(t, scalar), op(scalar, t)
    np.testing.assert_allclose(fwd.numpy(), op(a, scalar), rtol=1e-6)
    np.testing.assert_allclose(rev.numpy(), op(scalar, a), rtol=1e-6)
    assert isinstance(rev, ad.Tensor)
    assert fwd.dtype == rev.dtype == ad.float32   # Python/NumPy scalars keep float32


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_reflected_operator_gradients(op):
    # d/dx of op(c, x) and op(x, c) in float64 against central differences.
    x = ad.tensor([0.5, 1.5, 2.0], dtype=ad.float64, requires_grad=True)
    assert ad.gradcheck(lambda t: op(1.5, t), (x,))
    assert ad.gradcheck(lambda t: op(t, 1.5), (x,))


def test_numpy_array_on_the_left():
    t = ad.tensor([1.0, 2.0], requires_grad=True)
    r = np.array([3.0, 4.0], dtype=np.float32) * t
    assert isinstance(r, ad.Tensor) and r.requires_grad
    r.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 4.0])
    m = np.eye(2, dtype=np.float32) @ t
    assert isinstance(m, ad.Tensor)


def test_unary_and_matmul_operators():
    a = np.array([[1.0, -2.0], [3.0, 4.0]], dtype=np.float32)
    t = ad.tensor(a)
    np.testing.assert_array_equal((-t).numpy(), -a)
    assert (+t) is t
    np.testing.assert_array_equal(abs(t).numpy(), np.abs(a))
    np.testing.assert_allclose((t @ t).numpy(), a @ a)
    np.testing.assert_allclose((a @ t).numpy(), a @ a)


@pytest.mark.parametrize("op", [operator.eq, operator.ne, operator.lt, operator.le,
                                operator.gt, operator.ge], ids=lambda f: f.__name__)
def test_comparisons_have_no_grad(op):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t = ad.tensor(a, requires_grad=True)
    for r, ref in [(op(t, 2.0), op(a, 2.0)), (op(2.0, t), op(2.0, a)),
                   (op(t, ad.tensor([3.0, 2.0, 1.0])), op(a, np.array([3.0, 2.0, 1.0])))]:
        assert r.dtype == ad.bool_ and not r.requires_grad and r.grad_fn is None
        np.testing.assert_array_equal(r.numpy(), ref)


def test_logical_operators():
    t = ad.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(((t > 1) & (t < 3)).numpy(), [False, True, False])
    np.testing.assert_array_equal(((t < 2) | (t > 2)).numpy(), [True, False, True])
    np.testing.assert_array_equal((~(t > 1)).numpy(), [True, False, False])
    np.testing.assert_array_equal(((t > 1) ^ (t > 2)).numpy(), [False, True, False])


shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@given(shape=shapes, data=st.data())
def test_broadcasting_operators_match_numpy(shape, data):
    # b's shape: a suffix of a's with some dims set to 1 (so the pair broadcasts).
    k = data.draw(st.integers(0, len(shape)))
    bshape = tuple(1 if data.draw(st.booleans()) else s for s in shape[len(shape) - k:])
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, shape)
    b = rng.uniform(0.5, 2.0, bshape)
    for op in BINARY:
        out = op(ad.tensor(a), ad.tensor(b))
        np.testing.assert_allclose(out.numpy(), op(a, b), rtol=1e-12)
        assert out.shape == np.broadcast_shapes(shape, bshape)


# ---------------------------------------------------------------- repr

def test_repr():
    assert repr(ad.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ad.tensor([1, 2])) == "tensor([1, 2], dtype=int64)"
    assert repr(ad.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    x = ad.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<mul>)"
    assert repr(ad.tensor(np.array([0.5]), name="w")) == "tensor([0.5], dtype=float64, name='w')"
    assert repr(ad.tensor([1.0, 2.5], dtype=ad.bfloat16)) == "tensor([1. , 2.5], dtype=bfloat16)"
    assert repr(ad.tensor([1.0], dtype=ad.float16)) == "tensor([1.], dtype=float16)"
    long = repr(ad.arange(1000, dtype=ad.float32))
    assert "..." in long and len(long) < 200


def test_hashable_by_identity():
    a, b = ad.tensor(1.0), ad.tensor(1.0)
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2


# ---------------------------------------------------------------- the documented surface

API_NAMES = """tensor zeros ones full arange eye linspace zeros_like ones_like full_like randn rand
    manual_seed float16 bfloat16 float32 float64 int64 bool_ cuda no_grad enable_grad
    set_grad_enabled is_grad_enabled detect_anomaly grad functional gradcheck GradcheckError
    gradgradcheck Function testing concatenate stack split where maximum minimum pad matmul
    logsumexp softmax log_softmax erf one_hot exp log sqrt abs tanh sigmoid relu clip sum mean
    var std max min argmax argmin reshape transpose permute squeeze unsqueeze flatten
    broadcast_to Tensor scope Scope observe_backward mark_modified topological_order""".split()
TENSOR_MEMBERS = """data grad requires_grad is_leaf grad_fn name shape ndim size dtype device T
    backward retain_grad register_hook detach numpy item tolist to cpu cuda requires_grad_
    sum mean var std max min argmax argmin exp log sqrt abs tanh sigmoid relu clip reshape
    transpose permute squeeze unsqueeze flatten broadcast_to""".split()


def test_documented_names_exist():
    """API.md's autodiff surface (renaming or dropping a name needs a deprecation path)."""
    assert [n for n in API_NAMES if not hasattr(ad, n)] == []
    t = ad.tensor([1.0])
    assert [m for m in TENSOR_MEMBERS if not hasattr(t, m)] == []
    for fn in ("grad", "value_and_grad", "jacobian", "hessian", "vjp", "jvp", "hvp"):
        assert callable(getattr(ad.functional, fn))
    assert ad.cuda.is_available() in (True, False)
