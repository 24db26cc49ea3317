"""Edge cases of the structural ops that the op table and the parity suite do not draw:
zeros in products, ties in extremes, gradients at 0 of norms, stable sorts, views and
version counters, 0-d and empty inputs, non-differentiable outputs, errors, and the ops
that are differentiable once."""
import math
import warnings

import numpy as np
import pytest

import autodiff as ad
import nn.functional as F


def t64(values, requires_grad=True):
    return ad.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def grad_of(fn, values):
    x = t64(values)
    fn(x).sum().backward()
    return x.grad.numpy()


# ---------------------------------------------------------------- products with zeros
def _others_product(x):
    """d prod(x)/dx_i = prod_{j != i} x_j, by brute force."""
    return np.array([np.prod(np.delete(x, i)) for i in range(len(x))])


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.0], [0.0, 4.0, 0.0, 2.0],
                                    [0.0, 0.0, 0.0], [1.5, -2.0, 0.5]])
def test_prod_gradient_is_the_product_of_the_others_even_with_zeros(values):
    np.testing.assert_allclose(grad_of(ad.prod, values), _others_product(np.array(values)))


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.0], [0.0, 4.0, 0.0, 2.0],
                                    [1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 1.0, 2.0]])
def test_cumprod_gradient_with_zeros_matches_brute_force(values):
    x = np.array(values)
    # d sum_k cumprod(x)_k / dx_i = sum_{k >= i} prod_{j <= k, j != i} x_j
    expected = [sum(np.prod(np.delete(x[:k + 1], i)) for k in range(i, len(x)))
                for i in range(len(x))]
    np.testing.assert_allclose(grad_of(lambda t: ad.cumprod(t, 0), values), expected)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0], [0.0, 0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
def test_prod_and_cumprod_second_derivatives_with_zeros(values):
    x = t64(values)
    assert ad.gradgradcheck(lambda t: ad.prod(t), [x])
    assert ad.gradgradcheck(lambda t: ad.cumprod(t, 0), [x])
    assert ad.gradgradcheck(lambda t: ad.prod(ad.cumprod(t, 0)), [x])  # third order inside


def test_scatter_reduce_prod_with_zeros_is_differentiable_once():
    x, src = t64([0.0, 2.0]), t64([3.0, 0.0, 5.0])
    index = ad.tensor([0, 0, 1])
    out = ad.scatter_reduce(x, 0, index, src, "prod")
    (gx, gs) = ad.grad(out.sum(), [x, src], create_graph=True)
    np.testing.assert_allclose(gx.numpy(), [0.0, 5.0])  # position 0: 0 * 3 * 0
    np.testing.assert_allclose(gs.numpy(), [0.0, 0.0, 2.0])
    with pytest.raises(RuntimeError, match="differentiable once|double backward"):
        ad.grad(gx.sum() + gs.sum(), [x, src])


# ---------------------------------------------------------------- ties and kinks
def test_amax_amin_split_the_gradient_between_ties_as_torch():
    np.testing.assert_allclose(grad_of(ad.amax, [1.0, 3.0, 3.0]), [0, 0.5, 0.5])
    np.testing.assert_allclose(grad_of(lambda t: ad.amin(t, 1), [[1.0, 1.0], [2.0, 0.0]]),
                               [[0.5, 0.5], [0, 1]])
    minmax = ad.aminmax(t64([2.0, 2.0, 5.0]))
    assert minmax.min.item() == 2.0 and minmax.max.item() == 5.0


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, 0])
def test_vector_norm_gradient_at_zero_is_zero(ord):
    np.testing.assert_array_equal(grad_of(lambda t: ad.linalg.vector_norm(t, ord),
                                          [0.0, 0.0, 0.0]), 0.0)
    # an entry at 0 in a nonzero vector gets 0 as well (torch: sign(0) = 0)
    assert grad_of(lambda t: ad.linalg.vector_norm(t, ord), [0.0, 2.0, -1.0])[0] == 0.0


def test_vector_norm_inf_splits_ties():
    np.testing.assert_allclose(grad_of(lambda t: ad.linalg.vector_norm(t, math.inf),
                                       [3.0, -3.0, 1.0]), [0.5, -0.5, 0.0])


def test_norms_closed_forms():
    x = t64([[3.0, -4.0], [0.0, 12.0]], requires_grad=False)
    assert ad.norm(x).item() == pytest.approx(13.0)
    np.testing.assert_allclose(ad.linalg.vector_norm(x, 1, dim=1).numpy(), [7.0, 12.0])
    assert ad.linalg.matrix_norm(x, 1).item() == pytest.approx(16.0)       # column sums
    assert ad.linalg.matrix_norm(x, math.inf).item() == pytest.approx(12.0)  # row sums
    s = np.linalg.svd(x.numpy(), compute_uv=False)
    assert ad.linalg.matrix_norm(x, "nuc").item() == pytest.approx(s.sum())
    assert ad.linalg.matrix_norm(x, 2).item() == pytest.approx(s.max())
    assert ad.linalg.matrix_norm(x, -2).item() == pytest.approx(s.min())


def test_singular_value_norms_are_differentiable_once():
    a = t64([[2.0, 1.0], [0.5, 3.0]])
    (g,) = ad.grad(ad.linalg.matrix_norm(a, "nuc"), a, create_graph=True)
    u, _, vt = np.linalg.svd(a.numpy())
    np.testing.assert_allclose(g.numpy(), u @ vt)
    with pytest.raises(RuntimeError, match="differentiable once|double backward"):
        g.sum().backward()


def test_cdist_matrix_product_form_matches_the_direct_one_and_has_zero_grad_at_zero():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 3))
    b = np.concatenate([a[:2], rng.standard_normal((3, 3))])
    x1, x2 = t64(a), t64(b)
    mm = ad.cdist(x1, x2)  # > 25 rows: the ||a||^2 + ||b||^2 - 2ab form
    direct = ad.cdist(x1, x2, compute_mode="donot_use_mm_for_euclid_dist")
    np.testing.assert_allclose(mm.numpy(), direct.numpy(), atol=1e-7)
    assert mm.numpy()[0, 0] == 0.0 and mm.numpy()[1, 1] == 0.0
    mm.sum().backward()
    assert np.all(np.isfinite(x1.grad.numpy()))


# ---------------------------------------------------------------- ordering
def test_sort_is_stable_ascending_and_descending():
    x = ad.tensor([2.0, 1.0, 2.0, 1.0, 3.0])
    assert ad.sort(x, stable=True).indices.tolist() == [1, 3, 0, 2, 4]
    assert ad.sort(x, descending=True, stable=True).indices.tolist() == [4, 0, 2, 1, 3]
    nan = ad.tensor([1.0, float("nan"), 0.0])
    assert ad.sort(nan).indices.tolist() == [2, 0, 1]  # NaN sorts last, as torch
    assert ad.sort(nan, descending=True).indices.tolist() == [1, 0, 2]


def test_named_tuples_unpack_and_have_torch_fields():
    x = t64([[3.0, 1.0, 2.0]])
    values, indices = ad.sort(x)
    result = ad.topk(x, 2)
    assert type(result).__name__ == "topk" and result._fields == ("values", "indices")
    assert result.indices.dtype == ad.int64 and not result.indices.requires_grad
    assert values.requires_grad and not indices.requires_grad
    assert ad.median(x, 1).values.item() == 2.0 and ad.median(x).item() == 2.0
    assert ad.return_types.cummax is type(ad.cummax(x, 1))


def test_median_is_the_lower_median():
    assert ad.median(ad.tensor([4.0, 1.0, 3.0, 2.0])).item() == 2.0  # NumPy would give 2.5


def test_mode_takes_the_smallest_of_the_most_frequent_at_its_last_position():
    m = ad.mode(ad.tensor([3.0, 2.0, 2.0, 1.0, 3.0, 1.0]))
    assert m.values.item() == 1.0 and m.indices.item() == 5


def test_index_outputs_are_not_differentiable():
    x = t64([[0.0, 2.0], [1.5, 0.0]])
    for out in (ad.argsort(x), ad.nonzero(x), ad.argwhere(x), *ad.where(x), ad.sort(x)[1],
                ad.count_nonzero(x), ad.any(x), ad.all(x)):
        assert not out.requires_grad and out.grad_fn is None


# ---------------------------------------------------------------- views
def test_view_shares_memory_and_the_version_counter():
    x = ad.arange(6.0)
    v = ad.view(x, 2, 3)
    v.data[0, 0] = 42.0
    assert x.data[0] == 42.0
    x += 1  # an in-place write bumps the shared version counter
    assert v.version == x.version == 1


def test_view_refuses_a_layout_it_cannot_view():
    t = ad.transpose(ad.ones(2, 3), 0, 1)
    with pytest.raises(RuntimeError, match="reshape") as err:
        ad.view(t, 6)
    assert err.value.op == "view"
    assert ad.reshape_as(t, ad.ones(6)).shape == (6,)


def test_narrow_chunk_unbind_expand_are_views():
    x = ad.arange(12.0).reshape(3, 4)
    for v in (ad.narrow(x, 1, 1, 2), ad.chunk(x, 2, 1)[0], ad.unbind(x, 0)[1],
              ad.expand(x[:1], 5, -1), ad.diagonal(x)):
        assert np.shares_memory(v.data, x.data)


def test_flip_is_a_copy_as_in_torch():
    x = ad.arange(4.0)
    assert not np.shares_memory(ad.flip(x, 0).data, x.data)


# ---------------------------------------------------------------- 0-d and empty inputs
def test_zero_d_inputs():
    s = t64(2.5)
    assert ad.cumsum(s, 0).shape == () and ad.prod(s, 0).item() == 2.5
    assert ad.sort(s).values.shape == () and ad.sort(s).indices.item() == 0
    assert ad.gather(s, 0, ad.tensor(0)).item() == 2.5
    assert ad.flip(s, 0).item() == 2.5 and ad.atleast_2d(s).shape == (1, 1)
    assert ad.nonzero(s).shape == (1, 0) and ad.nonzero(s, as_tuple=True)[0].tolist() == [0]
    assert ad.amax(s, 0).item() == 2.5 and ad.cummax(s, 0).indices.item() == 0


def test_empty_inputs():
    e = ad.zeros(2, 0)
    assert ad.sort(e, 1).values.shape == (2, 0) and ad.cumsum(e, 1).shape == (2, 0)
    assert ad.prod(e, 1).tolist() == [1.0, 1.0] and ad.nansum(e).item() == 0.0
    assert ad.masked_select(ad.ones(3), ad.zeros(3, dtype=ad.bool_)).shape == (0,)
    assert ad.nonzero(ad.zeros(3)).shape == (0, 1)
    assert ad.topk(e, 0).values.shape == (2, 0)
    with pytest.raises(IndexError, match="amax"):
        ad.amax(e)


# ---------------------------------------------------------------- errors carry the op
@pytest.mark.parametrize("call,op", [
    (lambda x: ad.cumsum(x, 2), "cumsum"), (lambda x: ad.sort(x, -3), "sort"),
    (lambda x: ad.flip(x, (0, 5)), "flip"), (lambda x: ad.gather(x, 3, ad.tensor([[0]])),
                                             "gather"),
    (lambda x: ad.diagonal(x, 0, 0, 2), "diagonal"), (lambda x: ad.amax(x, 4), "amax"),
    (lambda x: ad.movedim(x, 0, 2), "movedim"), (lambda x: ad.narrow(x, 9, 0, 1), "narrow")])
def test_out_of_range_dims_raise_index_error_naming_op_dim_and_rank(call, op):
    x = ad.ones(2, 3)
    with pytest.raises(IndexError) as err:
        call(x)
    assert err.value.op == op
    assert "rank 2" in str(err.value) and str(err.value).startswith(op)


def test_out_of_bounds_indices_raise_index_error():
    x = ad.ones(2, 3)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dim 1 with size 3"):
        ad.gather(x, 1, ad.tensor([[3]]))
    with pytest.raises(IndexError, match="index_select"):
        ad.index_select(x, 0, ad.tensor([-1]))
    with pytest.raises(TypeError, match="integer"):
        ad.index_select(x, 0, ad.tensor([0.0]))
    with pytest.raises(TypeError, match="bool"):
        ad.masked_fill(x, ad.tensor([1, 0, 1]), 0.0)


def test_dim_and_axis_aliases():
    x = t64([[1.0, 5.0], [3.0, 2.0]], requires_grad=False)
    assert ad.cumsum(x, axis=1).tolist() == ad.cumsum(x, dim=1).tolist()
    assert ad.amax(x, axis=0, keepdims=True).shape == (1, 2)
    with pytest.raises(TypeError, match="both dim"):
        ad.cumsum(x, dim=0, axis=0)
    with pytest.raises(TypeError, match="both keepdim"):
        ad.amax(x, 0, keepdim=True, keepdims=True)


def test_singular_matrices_raise():
    with pytest.raises(RuntimeError, match="singular") as err:
        ad.linalg.inv(ad.ones(2, 2))
    assert err.value.op == "inv"


# ---------------------------------------------------------------- torch's conventions
def test_meshgrid_defaults_to_ij_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = ad.meshgrid(ad.arange(2.0), ad.arange(3.0))
    assert a.shape == (2, 3) and b.tolist() == [[0, 1, 2], [0, 1, 2]]
    a, b = ad.meshgrid(ad.arange(2.0), ad.arange(3.0), indexing="xy")
    assert a.shape == (3, 2)


def test_repeat_is_torchs_and_repeat_interleave_is_numpys_repeat():
    x = ad.tensor([1, 2])
    assert ad.repeat(x, 2).tolist() == [1, 2, 1, 2]
    assert ad.repeat_interleave(x, 2).tolist() == [1, 1, 2, 2]
    assert ad.repeat_interleave(ad.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    with pytest.raises(ValueError, match="repeat"):
        ad.repeat(ad.ones(2, 2), 2)  # fewer sizes than dims


def test_one_hot_is_int64():
    out = F.one_hot(ad.tensor([0, 2]))
    assert out.dtype == ad.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1]]
    assert F.one_hot(ad.tensor([1]), num_classes=4).shape == (1, 4)


def test_pad_uses_torchs_width_order_and_crops_with_negative_widths():
    x = ad.arange(6.0).reshape(2, 3)
    assert F.pad(x, (1, 0)).shape == (2, 4)          # the last dim first
    assert F.pad(x, (0, 0, 1, 0)).shape == (3, 3)    # then the one before
    assert F.pad(x, (-1, 0)).tolist() == [[1, 2], [4, 5]]
    row = ad.arange(4.0).reshape(1, 1, 4)
    assert F.pad(row, (2, 1), mode="reflect").tolist() == [[[2, 1, 0, 1, 2, 3, 2]]]
    assert F.pad(row, (1, 2), mode="replicate").tolist() == [[[0, 0, 1, 2, 3, 3, 3]]]
    assert F.pad(row, (1, 1), mode="circular").tolist() == [[[3, 0, 1, 2, 3, 0]]]
    with pytest.raises(ValueError, match="reflect"):
        F.pad(row, (4, 0), mode="reflect")


def test_replicate_pad_gradient_collects_every_copy():
    x = t64([[[1.0, 2.0, 3.0]]])
    F.pad(x, (2, 1), mode="replicate").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[3.0, 1.0, 2.0]]])


_PAD_MODES = ("constant", "reflect", "replicate", "circular")
_PAD_WIDTHS = [(0, 0), (1, 2), (0, -1), (-1, 2), (2, -2), (4, -1), (-3, 3), (2, 0, 1, -1),
               (0, 0, 0, 0)]


def _pad_or_none(pad_fn, x, widths, mode):
    try:
        return pad_fn(x, widths, mode=mode)
    except (ValueError, RuntimeError, NotImplementedError):
        return None


def test_pad_reflect_and_replicate_map_positions_onto_the_uncropped_input():
    """torch reflects about the ends of the whole input, even where the other side crops;
    circular crops first and wraps around what is left."""
    row = ad.arange(5.0).reshape(1, 1, 5)
    assert F.pad(row, (3, -3), mode="reflect").tolist() == [[[3, 2, 1, 0, 1]]]
    assert F.pad(row, (4, -1), mode="reflect").tolist() == [[[4, 3, 2, 1, 0, 1, 2, 3]]]
    assert F.pad(row, (-3, 3), mode="reflect").tolist() == [[[3, 4, 3, 2, 1]]]
    assert F.pad(row, (5, -1), mode="replicate").tolist() == [[[0] * 6 + [1, 2, 3]]]
    assert F.pad(row, (2, -2), mode="circular").tolist() == [[[1, 2, 0, 1, 2]]]
    for widths, mode in [((5, 0), "reflect"), ((-2, -3), "replicate"), ((-1, 6), "circular")]:
        with pytest.raises(ValueError, match=f"pad: {mode}"):
            F.pad(row, widths, mode=mode)


@pytest.mark.parametrize("mode", _PAD_MODES)
@pytest.mark.parametrize("widths", [(0, 0), (0, -1), (-1, 0), (1, 1), (0, 0, 0, 0)])
def test_pad_result_is_never_the_input_or_a_view_of_it(mode, widths):
    x = ad.arange(12.0).reshape(1, 3, 4)
    before = x.numpy().copy()
    out = F.pad(x, widths, mode=mode)
    out[...] = -1.0
    np.testing.assert_array_equal(x.numpy(), before)


@pytest.mark.parametrize("mode", _PAD_MODES)
def test_pad_second_derivative_is_zero_and_connected_as_torchs(mode):
    """reflect and replicate (native ops in torch) keep their gradient connected to the
    input, so differentiating it again gives 0; constant and circular (composed in torch)
    give a constant gradient, as torch's."""
    x = t64(np.arange(12.0).reshape(1, 3, 4))
    y = F.pad(x, (2, 1, 1, 0), mode=mode)
    (g,) = ad.grad((y * ad.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))).sum(), x,
                   create_graph=True)
    assert g.requires_grad == (mode in ("reflect", "replicate"))
    if g.requires_grad:
        (gg,) = ad.grad((g * g.detach()).sum(), x, allow_unused=True)
        assert gg is None or not np.any(gg.numpy())


def test_circular_pad_wrapping_more_than_once_gives_every_copy_its_gradient():
    """(-3, 3) on a dim of 5 keeps 2 entries and wraps 3 more around them: torch computes
    this forward, but its gradient (2.13) misses copies, as it copies from its own output;
    here each entry gets the gradient of all its copies (README: differences from torch)."""
    x = t64(np.arange(10.0).reshape(2, 5))
    y = F.pad(x, (-3, 3), mode="circular")
    assert y.tolist() == [[3, 4, 3, 4, 3], [8, 9, 8, 9, 8]]
    (y * ad.tensor([1.0, 10.0, 100.0, 1000.0, 10000.0])).sum().backward()
    assert x.grad.tolist() == [[0, 0, 0, 10101, 1010]] * 2


@pytest.mark.parametrize("mode", _PAD_MODES)
@pytest.mark.parametrize("widths", _PAD_WIDTHS, ids=str)
def test_pad_matches_torch_values_gradients_and_second_order(mode, widths):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 5))
    tx = torch.tensor(a, requires_grad=True)
    ty = _pad_or_none(tF.pad, tx, widths, mode)
    if ty is None:
        assert _pad_or_none(F.pad, t64(a), widths, mode) is None, "torch refuses it"
        return
    x = t64(a)
    y = F.pad(x, widths, mode=mode)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    if mode == "circular" and widths == (-3, 3):
        return  # torch's gradient misses copies here (see the test above)
    w = rng.standard_normal(tuple(ty.shape))
    (tg,) = torch.autograd.grad((ty * torch.tensor(w)).sum(), tx, create_graph=True)
    (g,) = ad.grad((y * ad.tensor(w)).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12)
    assert g.requires_grad == tg.requires_grad


def test_repeated_indices_accumulate_gradients():
    x = t64([1.0, 2.0, 3.0])
    ad.index_select(x, 0, ad.tensor([0, 0, 2])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])
    y = t64([[1.0, 2.0]])
    ad.gather(y, 1, ad.tensor([[1, 1, 1]])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0.0, 3.0]])


def test_einsum_errors_name_the_problem():
    with pytest.raises(ValueError, match="einsum.*2 operand"):
        ad.einsum("ij,jk->ik", ad.ones(2, 2))
    with pytest.raises(ValueError, match="label 'j' has sizes"):
        ad.einsum("ij,jk->ik", ad.ones(2, 3), ad.ones(4, 2))
