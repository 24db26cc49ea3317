"""Regression tests for the PyTorch names that used to follow NumPy's meaning (issue 13):
each test failed on the engine before, returning different numbers with no error.

Values are checked against NumPy or closed forms here; tests/test_parity_semantics.py runs
the same one-liners on torch when it is installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad


def _x(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- transpose, T, permute
def test_transpose_swaps_the_two_dims_it_is_given():
    x = _x(2, 3)
    np.testing.assert_array_equal(ad.tensor(x).transpose(0, 1).numpy(), x.T)  # was x itself
    y = _x(2, 3, 4)
    assert ad.tensor(y).transpose(0, 2).shape == (4, 3, 2)
    assert ad.transpose(ad.tensor(y), -1, 1).shape == (2, 4, 3)
    np.testing.assert_array_equal(ad.tensor(y).transpose(1, 2).numpy(), y.swapaxes(1, 2))


def test_transpose_with_a_permutation_points_to_permute():
    with pytest.raises(TypeError, match="permute"):
        ad.tensor(_x(2, 3, 4)).transpose(2, 0, 1)


def test_permute_T_mT_t():
    y = ad.tensor(_x(2, 3, 4))
    assert y.permute(2, 0, 1).shape == (4, 2, 3)
    assert y.permute((2, 0, 1)).shape == (4, 2, 3)
    assert y.mT.shape == (2, 4, 3) and y.mH.shape == (2, 4, 3)
    m = ad.tensor(_x(2, 3))
    np.testing.assert_array_equal(m.T.numpy(), m.numpy().T)
    np.testing.assert_array_equal(m.t().numpy(), m.numpy().T)
    v = ad.tensor(_x(3))
    assert v.t().shape == v.T.shape == (3,) and v.t() is not v  # a view, as torch
    with pytest.raises(RuntimeError, match="<= 2 dims"):
        y.t()
    with pytest.warns(UserWarning, match="mT"):
        assert y.T.shape == (4, 3, 2)


def test_dims_out_of_range_raise_index_errors_naming_the_op():
    x = ad.tensor(_x(2, 3))
    for call in (lambda: x.transpose(0, 3), lambda: x.permute(2, 1), lambda: x.sum(2),
                 lambda: x.max(5), lambda: x.argmax(3), lambda: x.flatten(5)):
        with pytest.raises(IndexError, match="out of range") as info:
            call()
        assert info.value.op


# ---------------------------------------------------------------- std / var
def test_std_and_var_are_unbiased_by_default():
    x = _x(4, 5, dtype=np.float64)
    t = ad.tensor(x)
    np.testing.assert_allclose(t.std().item(), x.std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(t.var(1).numpy(), x.var(1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(t.var(1, unbiased=False).numpy(), x.var(1), rtol=1e-12)
    np.testing.assert_allclose(t.var(1, True).numpy(), x.var(1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(t.std(0, correction=0, keepdim=True).numpy(),
                               x.std(0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(t.var(False).item(), x.var(), rtol=1e-12)  # var(unbiased)
    np.testing.assert_allclose(ad.std(t, dim=(0, 1), correction=2).item(),
                               x.std(ddof=2), rtol=1e-12)
    with pytest.raises(TypeError, match="not both"):
        t.var(0, unbiased=True, correction=1)


def test_std_gradient_uses_the_same_correction():
    x = _x(6, dtype=np.float64)
    t = ad.tensor(x, requires_grad=True)
    t.std().backward()
    n = x.size
    expected = (x - x.mean()) / ((n - 1) * x.std(ddof=1))
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-10)


# ---------------------------------------------------------------- max / min / argmax
def test_max_with_a_dim_returns_values_and_indices():
    x = _x(3, 4)
    values, indices = ad.tensor(x).max(1)  # was one row of values, unpacked silently
    np.testing.assert_array_equal(values.numpy(), x.max(1))
    np.testing.assert_array_equal(indices.numpy(), x.argmax(1))
    assert indices.dtype == ad.int64
    out = ad.tensor(x).min(dim=0, keepdim=True)
    assert out.values.shape == (1, 4) and out.indices.shape == (1, 4)
    np.testing.assert_array_equal(out.indices.numpy(), x.argmin(0)[None])
    assert type(out).__name__ == "min" and isinstance(out, tuple)
    assert ad.tensor(x).max().shape == ()  # the full reduction is a tensor


def test_max_dim_gradient_goes_to_the_returned_index_only():
    x = ad.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])  # first of ties
    y = ad.tensor([1.0, 3.0, 3.0], requires_grad=True)
    y.max().backward()  # the full reduction splits between ties, as torch
    np.testing.assert_array_equal(y.grad.numpy(), [0, 0.5, 0.5])


def test_max_of_two_tensors_is_elementwise():
    a, b = ad.tensor([1.0, 5.0]), ad.tensor([3.0, 2.0])
    np.testing.assert_array_equal(ad.max(a, b).numpy(), [3, 5])
    np.testing.assert_array_equal(a.min(b).numpy(), [1, 2])


def test_max_over_several_dims_points_to_amax():
    with pytest.raises(TypeError, match="amax"):
        ad.tensor(_x(2, 3)).max(dim=(0, 1))


def test_argmax_takes_dim_and_keepdim():
    x = _x(3, 4)
    t = ad.tensor(x)
    np.testing.assert_array_equal(t.argmax(dim=1).numpy(), x.argmax(1))
    assert t.argmax(1, keepdim=True).shape == (3, 1)
    assert t.argmin().item() == x.argmin()
    assert ad.argmax(t, dim=None, keepdim=True).shape == (1, 1)


# ---------------------------------------------------------------- dim / keepdim and aliases
def test_reductions_and_joins_take_dim_and_keepdim():
    x = _x(2, 3, 4)
    t = ad.tensor(x)
    np.testing.assert_allclose(t.sum(dim=1, keepdim=True).numpy(), x.sum(1, keepdims=True))
    np.testing.assert_allclose(t.mean(dim=(0, 2)).numpy(), x.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(ad.logsumexp(t, dim=-1).numpy(),
                               np.log(np.exp(x).sum(-1)), rtol=1e-5)
    assert ad.cat([t, t], dim=1).shape == (2, 6, 4)
    assert ad.stack([t, t], dim=3).shape == (2, 3, 4, 2)
    assert t.softmax(dim=0).shape == (2, 3, 4)
    assert t.any(dim=1).shape == (2, 4) and t.all(dim=1, keepdim=True).shape == (2, 1, 4)
    assert t.squeeze(dim=0).shape == (2, 3, 4) and t.unsqueeze(dim=1).shape == (2, 1, 3, 4)


def test_numpy_spellings_are_aliases_and_both_at_once_is_an_error():
    x = _x(2, 3)
    t = ad.tensor(x)
    np.testing.assert_allclose(t.sum(axis=1, keepdims=True).numpy(), x.sum(1, keepdims=True))
    assert ad.cat([t, t], axis=1).shape == (2, 6)
    with pytest.raises(TypeError, match="both"):
        t.sum(dim=0, axis=0)
    with pytest.raises(TypeError, match="both"):
        t.mean(0, keepdim=True, keepdims=True)


def test_squeeze_leaves_a_named_dim_of_another_size():
    t = ad.zeros(2, 1, 3)
    assert t.squeeze(0).shape == (2, 1, 3)
    assert t.squeeze((0, 1)).shape == (2, 3)


def test_zero_dim_tensors_accept_dim_0_and_minus_1():
    t = ad.tensor(3.0)
    assert t.sum(0).item() == 3.0 and t.sum(-1).item() == 3.0
    assert t.max(0).values.item() == 3.0 and t.max(0).indices.item() == 0
    assert t.softmax(0).item() == 1.0


# ---------------------------------------------------------------- split
def test_split_makes_pieces_of_the_given_size():
    t = ad.arange(5)
    pieces = ad.split(t, 2)  # was 2 sections
    assert [p.tolist() for p in pieces] == [[0, 1], [2, 3], [4]]
    assert isinstance(pieces, tuple)
    assert [p.shape for p in t.split([1, 4])] == [(1,), (4,)]
    assert [p.shape for p in ad.zeros(2, 6).split(3, dim=1)] == [(2, 3), (2, 3)]
    with pytest.raises(ValueError, match="sum to"):
        t.split([1, 2])


# ---------------------------------------------------------------- size, numel, casts
def test_size_is_a_method_returning_a_tuple_subclass():
    t = ad.zeros(2, 3)
    assert t.size() == (2, 3) and isinstance(t.size(), ad.Size) and isinstance(t.size(), tuple)
    assert t.size(0) == 2 and t.size(-1) == 3 and type(t.size(1)) is int
    assert t.shape == t.size() and t.shape.numel() == 6
    assert t.numel() == 6 and t.dim() == 2 and t.ndim == 2
    assert repr(t.size()) == "Size([2, 3])" and t.size()[1:] == ad.Size([3])
    assert t.element_size() == 4 and ad.zeros(2, dtype=ad.float64).element_size() == 8
    with pytest.raises(IndexError):
        ad.tensor(1.0).size(0)


def test_dtype_casts_and_to_with_a_positional_dtype():
    t = ad.tensor([1.5, -2.5])
    assert t.long().dtype == ad.int64 and t.long().tolist() == [1, -2]
    assert t.int().dtype == ad.int32 and t.short().dtype == ad.int16
    assert t.double().dtype == ad.float64 and t.half().dtype == ad.float16
    assert t.bfloat16().dtype == ad.bfloat16 and t.bool().dtype == ad.bool_
    assert t.to(ad.float64).dtype == ad.float64
    assert t.to("cpu", ad.int64).dtype == ad.int64
    assert t.to(ad.zeros(1, dtype=ad.float16)).dtype == ad.float16
    assert t.to(ad.float32) is t and t.to(ad.float32, copy=True) is not t
    assert ad.long is ad.int64 and ad.int is ad.int32 and ad.float is ad.float32


# ---------------------------------------------------------------- tensor copies
def test_tensor_copies_as_tensor_and_from_numpy_share():
    a = np.zeros(3, dtype=np.float32)
    copied, shared, from_np = ad.tensor(a), ad.as_tensor(a), ad.from_numpy(a)
    a[0] = 7.0
    assert copied[0].item() == 0.0  # was 7: the tensor followed the array
    assert shared[0].item() == 7.0 and from_np[0].item() == 7.0
    assert ad.from_numpy(np.zeros(2)).dtype == ad.float64  # keeps the array's dtype
    t = ad.tensor([1.0, 2.0])
    assert ad.as_tensor(t) is t and ad.tensor(t).data is not t.data


# ---------------------------------------------------------------- indexing
def test_a_tuple_inside_an_index_is_an_index_array():
    x = ad.tensor(_x(2, 5, 6))
    assert x[((0, 1),)].shape == (2, 5, 6)  # was x[0, 1], shape (6,)
    np.testing.assert_array_equal(x[((0, 1),)].numpy(), x.numpy()[[0, 1]])


def test_integers_apply_before_advanced_indices_as_in_torch():
    a = _x(2, 3, 4)
    t = ad.tensor(a, requires_grad=True)
    out = t[0, :, [1, 2]]
    assert out.shape == (3, 2)  # NumPy: (2, 3)
    np.testing.assert_array_equal(out.numpy(), a[0][:, [1, 2]])
    assert t[None, 0, :, [1, 2]].shape == (1, 3, 2)
    assert t[ad.tensor(1), :, [0, 3]].shape == (3, 2)
    out.sum().backward()
    expected = np.zeros_like(a)
    expected[0, :, [1, 2]] = 1
    np.testing.assert_array_equal(t.grad.numpy(), expected)
    w = ad.zeros(2, 3, 4)
    w[0, :, [1, 2]] = ad.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(w.numpy()[0][:, [1, 2]], np.arange(6.0).reshape(3, 2))


# ---------------------------------------------------------------- creation
def test_linspace_integer_dtypes_truncate_and_bool_is_refused():
    out = ad.linspace(5, -5, 20, dtype=ad.int32)
    np.testing.assert_array_equal(out.numpy(), np.trunc(np.linspace(5, -5, 20)).astype(np.int32))
    assert out.dtype == ad.int32
    with pytest.raises(TypeError, match="bool"):
        ad.linspace(0, 1, 5, dtype=ad.bool_)


def test_one_hot_is_int64():
    out = ad.one_hot(ad.tensor([0, 2]), 3)
    assert out.dtype == ad.int64
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1]])


def test_every_public_tensor_method_has_a_docstring():
    """Each public method and property of Tensor says what it computes in its summary:
    the torch name it follows (torch.Tensor.x, or ad.x, which names torch's) or a formula."""
    import inspect
    import re
    says = re.compile(r"torch|ad\.\w|[=+*/^<>|&~]| - ")
    missing, vague = [], []
    for name in dir(ad.Tensor):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(ad.Tensor, name)
        fn = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
        if not (callable(fn) or isinstance(attr, property)):
            continue
        doc = inspect.getdoc(fn) or ""
        if not doc.strip():
            missing.append(name)
        elif not says.search(doc.split("\n\n")[0]):
            vague.append(name)
    assert not missing, f"Tensor methods without a docstring: {missing}"
    assert not vague, f"Tensor docstrings with neither a formula nor torch's name: {vague}"


# ------------------------------------------------------------- promotion, autograd, interop
def test_scalars_and_0d_tensors_do_not_upcast_and_integers_divide_to_float32():
    x = ad.randn(3)
    assert (x * np.sqrt(2 / 3)).dtype == ad.float32            # was float64 (NumPy's rule)
    assert (x * np.float64(2.0)).dtype == ad.float32
    assert (x + ad.tensor(1.0, dtype=ad.float64)).dtype == ad.float32
    assert (ad.tensor(1) + 0.5).dtype == ad.float32
    assert (ad.tensor([3]) / ad.tensor([2])).dtype == ad.float32
    np.testing.assert_allclose((ad.tensor([3]) / ad.tensor([2])).numpy(), [1.5])
    assert (ad.tensor([4]) ** 0.5).dtype == ad.float32
    assert ad.tensor(2).exp().dtype == ad.float32
    assert (ad.tensor([1, 2]) * 2).dtype == ad.int64
    assert (ad.tensor([1.0], dtype=ad.float16) + ad.tensor([1.0], dtype=ad.bfloat16)).dtype \
        == ad.float32


def test_pow_gradients_at_zero_as_torch():
    x = ad.tensor([0.0, 2.0], dtype=ad.float64, requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])          # was NaN at 0
    y = ad.tensor([-1.0, 2.0], dtype=ad.float64, requires_grad=True)
    (ad.tensor([0.0, 0.0], dtype=ad.float64) ** y).sum().backward()
    assert y.grad.numpy()[0] == -np.inf and y.grad.numpy()[1] == 0.0   # was 0 at y < 0


def test_backward_with_create_graph_keeps_the_graph():
    x = ad.tensor([0.5, -1.0], dtype=ad.float64, requires_grad=True)
    (x.tanh() ** 2).sum().backward(create_graph=True)
    (g2,) = ad.grad(x.grad.sum(), [x])  # raised "backward through the graph a second time"
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(g2.numpy(), 2 * (1 - t ** 2) * (1 - 3 * t ** 2))


def test_inplace_methods_follow_torch():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.add_(1)
    y = w * 1
    v = ad.tensor([3.0, 4.0], requires_grad=True)
    y.mul_(v).add_(v, alpha=2).clamp_(max=10.0)
    np.testing.assert_array_equal(y.numpy(), [9.0, 10.0])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 0.0])
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 0.0])
    z = ad.zeros(3)
    assert z.fill_(2.5) is z and z.zero_() is z and z.copy_(ad.tensor([1, 2, 3])) is z
    np.testing.assert_array_equal(z.numpy(), [1.0, 2.0, 3.0])
    assert z.dtype == ad.float32


def test_numpy_functions_on_tensors_return_differentiable_tensors():
    x = ad.tensor([0.5, 1.0], dtype=ad.float64, requires_grad=True)
    for out in (np.exp(x), np.add(x, 1), np.mean(x, axis=0), np.concatenate([x, x])):
        assert isinstance(out, ad.Tensor) and out.requires_grad   # np.exp(t) used to raise
    np.exp(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]))


def test_makemore_update_through_data_works_in_place():
    p = ad.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    before = p.data
    p.data += -0.1 * p.grad                 # raised "does not support ufuncs"
    assert p.data is before
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6], rtol=1e-6)


def test_dlpack_and_format():
    a = np.arange(4.0)
    t = ad.from_dlpack(a)
    a[0] = 7.0
    assert t.numpy()[0] == 7.0                       # zero-copy
    assert np.from_dlpack(t)[0] == 7.0
    assert t.__dlpack_device__() == (1, 0)
    assert f"{ad.tensor(1 / 3):.3f}" == "0.333"


# ---------------------------------------------------------------- reductions' dtype=
def test_integer_sums_give_int64_and_dtype_converts_first():
    i32 = ad.tensor(np.array([[1, -2, 3]], dtype=np.int32))
    assert ad.sum(i32).dtype == ad.int64 and i32.sum(1).dtype == ad.int64
    u8 = ad.tensor(np.array([200, 100], dtype=np.uint8))
    assert u8.sum().dtype == ad.int64 and u8.sum().item() == 300  # NumPy: uint64
    assert ad.tensor([True, True]).sum().dtype == ad.int64
    assert ad.nansum(i32, dtype=ad.int8).dtype == ad.int8  # was int64
    assert u8.sum(dtype=ad.uint8).item() == 44  # wraps in the dtype asked for
    assert ad.tensor([0.7, 0.6]).sum(dtype=ad.int64).item() == 0  # converted first
    assert ad.tensor([1, -1, 0]).sum(dtype=ad.bool).item() is True
    assert ad.tensor([1, 2]).sum(dtype=ad.bool).dtype == ad.bool_


@pytest.mark.parametrize("op", ["sum", "nansum", "mean", "prod", "cumsum", "cumprod",
                                "softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_reduction_dtype_gradient_comes_back_in_the_input_dtype(op, dtype):
    x = ad.tensor(np.array([[0.5, 1.5], [2.0, -1.0]], dtype=dtype), requires_grad=True)
    args = (1,) if op in ("cumsum", "cumprod", "softmax", "log_softmax") else ()
    y = getattr(ad, op)(x, *args, dtype=ad.float64)
    assert y.dtype == ad.float64
    (y * ad.tensor(np.arange(y.numel(), dtype=np.float64).reshape(y.shape))).sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == (2, 2)


@pytest.mark.parametrize("call", [lambda x: x.sum(dtype=ad.int32),
                                  lambda x: ad.prod(x, 0, dtype=ad.int64),
                                  lambda x: x.cumsum(0, dtype=ad.int64),
                                  lambda x: ad.nansum(x, dtype=ad.bool)])
def test_integer_dtype_for_an_input_that_requires_grad_raises_as_torch(call):
    x = ad.tensor([1.5, 2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad") as info:
        call(x)
    assert info.value.op in ("sum", "prod", "cumsum", "nansum")
    with ad.no_grad():
        assert call(x).dtype.kind in "biu"
    assert call(x.detach()).dtype.kind in "biu"


def test_mean_and_softmax_of_integers_raise_as_torch():
    i = ad.tensor([[1, 2], [3, 5]])
    for call in (lambda: i.mean(), lambda: ad.mean(i, 0), lambda: i.mean(dtype=ad.int32),
                 lambda: ad.tensor([1.0]).mean(dtype=ad.int64), lambda: ad.softmax(i, 1),
                 lambda: i.log_softmax(0), lambda: ad.nanmean(i, dtype=ad.float32)):
        with pytest.raises(TypeError, match="floating-point"):
            call()
    assert i.mean(dtype=ad.float32).item() == pytest.approx(2.75)
    assert i.mean(0, dtype=ad.float64).dtype == ad.float64
    np.testing.assert_allclose(ad.softmax(i, 1, dtype=ad.float64).numpy()[0],
                               np.exp([1, 2]) / np.exp([1, 2]).sum())
    for call in (lambda: ad.linalg.vector_norm(i, dtype=ad.float32),  # torch checks the
                 lambda: ad.linalg.matrix_norm(i, "nuc"),              # input, then dtype=
                 lambda: ad.linalg.vector_norm(i.float(), dtype=ad.int64)):
        with pytest.raises(TypeError, match="floating-point"):
            call()
    for op in (ad.cumsum, ad.cumprod):  # torch has no bool scans
        with pytest.raises(TypeError, match="dtype=bool"):
            op(i, 0, dtype=ad.bool)


def test_functional_softmax_takes_torchs_arguments():
    import nn
    from nn import functional as F
    x = ad.tensor(_x(2, 3, 4))
    np.testing.assert_allclose(F.softmax(x, 2, dtype=ad.float64).numpy(),
                               ad.softmax(x.double(), 2).numpy())
    assert F.log_softmax(x, dim=1, dtype=ad.float64).dtype == ad.float64
    with pytest.warns(UserWarning, match="implicit dimension"):  # torch: dim 0 for 3-D
        np.testing.assert_allclose(F.softmax(x).numpy(), ad.softmax(x, 0).numpy())
    with pytest.warns(UserWarning, match="implicit dimension"):
        np.testing.assert_allclose(nn.Softmax()(x).numpy(), ad.softmax(x, 0).numpy())
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)" and nn.Softmax(axis=2).dim == 2


def test_scatter_reduce_tie_with_an_excluded_self_value_gives_src_the_whole_gradient():
    """A deliberate difference (README table): torch counts the excluded self value among
    the tied maxima and src gets half the gradient, which then sums to 0.5."""
    x = ad.tensor([0.5, 2.0], requires_grad=True)
    src = ad.tensor([0.5], requires_grad=True)
    y = ad.scatter_reduce(x, 0, ad.tensor([0]), src, "amax", include_self=False)
    y.sum().backward()
    assert y.tolist() == [0.5, 2.0]
    assert src.grad.tolist() == [1.0] and x.grad.tolist() == [0.0, 1.0]
