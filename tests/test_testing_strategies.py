"""ad.testing strategies: every drawn value is valid (shapes broadcast, conv and pool
geometries are accepted by the ops, labels are in range, probabilities sum to 1, kink
margins hold, modules run), and the kink margin survives shrinking."""
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import autodiff as ad
import nn
from autodiff.testing import (DEFAULT_KINK_MARGIN, conv_geometries, index_arrays, labels,
                              modules, pool_geometries, probabilities, register_kinks, shapes,
                              tensors)
from autodiff.testing.kinks import kink_points
from nn import functional as F


def _draw_invalid(strategy):
    @given(strategy)
    def draw(_):
        pass
    return draw


# ----------------------------------------------------------------- kinks
@given(x=tensors(shape=shapes(), dtype=st.sampled_from(ad.testing.FLOAT_DTYPES),
                 avoid_kinks_of=ad.relu))
def test_relu_kink_margin_holds_in_every_dtype(x):
    assert np.all(np.abs(x.numpy().astype(np.float64)) >= DEFAULT_KINK_MARGIN)


@given(x=tensors(shape=(6,), dtype=ad.float64, elements=(-3, 3),
                 avoid_kinks_of=[ad.abs, "hardtanh"], kink_margin=0.05))
def test_several_ops_and_a_custom_margin(x):
    v = x.numpy()
    for k in (0.0, -1.0, 1.0):
        assert np.all(np.abs(v - k) >= 0.05), (k, v)


@given(x=tensors(shape=(5,), dtype=ad.float32, elements=(-4, 4), avoid_kinks_of="floor"))
def test_periodic_kinks(x):
    v = x.numpy().astype(np.float64)
    assert np.all(np.abs(v - np.round(v)) >= DEFAULT_KINK_MARGIN)


@pytest.mark.parametrize("op", [ad.relu, F.relu, F.leaky_relu, nn.ReLU, nn.ReLU(), nn.ELU,
                                "leaky_relu", "LeakyReLU", ad.Tensor.relu])
def test_kinks_are_found_by_any_spelling_of_the_op(op):
    assert kink_points(op)(-1, 1) == [0.0]


def test_kinks_from_an_attribute_a_registration_or_numbers():
    class Notch(ad.Function):
        kinks = (0.5, 2.0)
    assert kink_points(Notch)(-10, 10) == [0.5, 2.0]
    assert kink_points([0.25, Notch])(0, 1) == [0.25, 0.5]

    def my_step(x):
        return x
    register_kinks(my_step, [3.0])
    assert kink_points(my_step)(0, 5) == [3.0]
    with pytest.raises(ValueError, match="no kinks known.*register_kinks"):
        kink_points(lambda x: x)


def test_shrinking_never_reaches_a_kink():
    # The simplest example hypothesis can find is the one it shrinks to: it stays a margin
    # away from 0 instead of landing on relu's kink.
    x = find(tensors(shape=(3,), dtype=ad.float64, avoid_kinks_of=ad.relu), lambda t: True,
             settings=settings(database=None))
    assert np.all(np.abs(x.numpy()) >= DEFAULT_KINK_MARGIN), x.numpy()
    # without kink avoidance the same search lands exactly on it
    plain = find(tensors(shape=(3,), dtype=ad.float64), lambda t: True,
                 settings=settings(database=None))
    assert np.all(plain.numpy() == 0.0)


@pytest.mark.parametrize("kwargs,match", [
    ({"dtype": ad.int64, "avoid_kinks_of": ad.relu}, "floating dtype"),
    ({"elements": (-1e-4, 1e-4), "avoid_kinks_of": ad.relu}, "away from the kinks"),
    ({"kink_margin": 0.0, "avoid_kinks_of": ad.relu}, "positive"),
])
def test_kink_arguments_are_checked(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        _draw_invalid(tensors(shape=(2,), **kwargs))()


@given(x=tensors(shape=(4,), dtype=ad.float64, elements=st.floats(-1, 1),
                 avoid_kinks_of=ad.abs))
def test_kinks_filter_a_user_element_strategy(x):
    assert np.all(np.abs(x.numpy()) >= DEFAULT_KINK_MARGIN)


@given(x=st.from_type(ad.Tensor))
def test_from_type_draws_tensors(x):
    assert isinstance(x, ad.Tensor) and x.dtype == ad.float32
    assert np.all(np.isfinite(x.numpy()))


# ----------------------------------------------------------------- shapes and geometries
@given(s=shapes(min_dims=1, max_dims=2, min_side=2, max_side=3))
def test_shapes_respect_bounds(s):
    assert 1 <= len(s) <= 2 and all(2 <= n <= 3 for n in s)


@given(g=conv_geometries(groups=(1, 3)), data=st.data())
def test_conv_geometries_are_accepted_by_conv2d(g, data):
    x = data.draw(tensors(shape=g["input_shape"], elements=(-1, 1)))
    w = data.draw(tensors(shape=g["weight_shape"], elements=(-1, 1)))
    b = data.draw(tensors(shape=g["bias_shape"], elements=(-1, 1)))
    y = ad.conv2d(x, w, b, stride=g["stride"], padding=g["padding"], dilation=g["dilation"],
                  groups=g["groups"])
    assert y.shape == g["output_shape"]
    assert all(min(g[k]) >= lo for k, lo in (("stride", 1), ("dilation", 1), ("padding", 0)))
    c_in, c_out = g["input_shape"][1], g["weight_shape"][0]
    assert c_in == g["weight_shape"][1] * g["groups"] and c_out % g["groups"] == 0


@given(g=conv_geometries(in_channels=(1, 2), out_channels=(4, 6), groups=3))
def test_conv_geometries_raise_channels_to_a_multiple_of_groups(g):
    assert g["groups"] == 3 and g["input_shape"][1] == 3 and g["weight_shape"][:2] == (6, 1)


@given(g=conv_geometries(batch=1, in_channels=2, kernel_size=3, dilation=(2, 3), size=(1, 2),
                         square=True))
def test_conv_geometries_fixed_values_and_square(g):
    assert g["input_shape"][:2] == (1, 2) and g["weight_shape"][1:] == (2, 3, 3)
    assert g["input_shape"][2] == g["input_shape"][3]
    assert g["stride"][0] == g["stride"][1] and g["dilation"][0] == g["dilation"][1]
    # size=(1, 2) is raised wherever a dilated 3x3 kernel needs more room
    d, p = g["dilation"][0], g["padding"][0]
    assert g["input_shape"][2] + 2 * p >= d * 2 + 1


@given(g=pool_geometries(ceil_mode=None), data=st.data())
def test_pool_geometries_are_accepted_by_both_pools(g, data):
    x = data.draw(tensors(shape=g["input_shape"], elements=(-1, 1)))
    for pool in (ad.max_pool2d, ad.avg_pool2d):
        y = pool(x, g["kernel_size"], stride=g["stride"], padding=g["padding"],
                 ceil_mode=g["ceil_mode"])
        assert y.shape == g["output_shape"]
    assert all(p <= k // 2 for p, k in zip(g["padding"], g["kernel_size"]))


@given(g=pool_geometries(size=(1, 7), kernel_size=(1, 4), ceil_mode=None))
def test_pool_geometries_output_shape_is_torchs(g):
    torch = pytest.importorskip("torch")
    x = torch.zeros(g["input_shape"])
    y = torch.nn.functional.max_pool2d(x, g["kernel_size"], g["stride"], g["padding"],
                                       ceil_mode=g["ceil_mode"])
    assert tuple(y.shape) == g["output_shape"]


def test_geometry_arguments_are_checked():
    with pytest.raises(InvalidArgument, match="kernel_size must be an int"):
        _draw_invalid(conv_geometries(kernel_size=(3, 1)))()
    with pytest.raises(InvalidArgument, match="stride"):
        _draw_invalid(pool_geometries(stride=0))()


# ----------------------------------------------------------------- indices, labels, probabilities
@given(shape=shapes(min_dims=1, max_dims=3), data=st.data())
def test_index_arrays_for_advanced_indexing(shape, data):
    x = ad.arange(int(np.prod(shape))).reshape(shape)
    idx = data.draw(index_arrays(shape, allow_negative=data.draw(st.booleans())))
    assert isinstance(idx, tuple) and len(idx) == len(shape)
    assert all(i.dtype == ad.int64 for i in idx)
    expected = x.numpy()[tuple(i.numpy() for i in idx)]
    np.testing.assert_array_equal(x[idx].numpy(), expected)


@given(data=st.data())
def test_index_arrays_along_an_axis_stay_in_range(data):
    idx = data.draw(index_arrays((3, 5), axis=1, result_shape=(2, 4)))
    assert idx.shape == (2, 4) and idx.dtype == ad.int64
    assert idx.numpy().min() >= 0 and idx.numpy().max() <= 4
    negative = data.draw(index_arrays((3, 5), axis=0, allow_negative=True))
    assert negative.numpy().min() >= -3 and negative.numpy().max() <= 2


def test_index_arrays_reject_what_cannot_be_indexed():
    with pytest.raises(InvalidArgument, match="empty axis"):
        _draw_invalid(index_arrays((2, 0)))()
    with pytest.raises(InvalidArgument, match="axis 2 is out of range"):
        _draw_invalid(index_arrays((2, 3), axis=2))()


@given(y=labels(num_classes=st.integers(1, 6), shape=st.tuples(st.integers(1, 5))))
def test_labels_are_in_range(y):
    assert y.dtype == ad.int64 and y.ndim == 1
    assert y.numpy().min() >= 0


@given(k=st.integers(2, 5), data=st.data())
def test_labels_work_with_cross_entropy(k, data):
    y = data.draw(labels(num_classes=k, shape=4))
    assert y.shape == (4,) and y.numpy().max() < k
    logits = data.draw(tensors(shape=(4, k), dtype=ad.float64, elements=(-3, 3)))
    assert np.isfinite(F.cross_entropy(logits, y).item())


@given(p=probabilities(dtype=st.sampled_from([ad.float32, ad.float64]), axis=-1))
def test_probabilities_sum_to_one(p):
    v = p.numpy().astype(np.float64)
    assert np.all(v > 0)
    np.testing.assert_allclose(v.sum(axis=-1), 1.0, rtol=1e-6 if p.dtype == ad.float32
                               else 1e-12)


@given(p=probabilities(shape=(3, 4, 2), axis=1, allow_zero=True, dtype=ad.float64))
def test_probabilities_along_an_axis_may_hold_zeros(p):
    v = p.numpy()
    assert np.all(v >= 0)
    np.testing.assert_allclose(v.sum(axis=1), 1.0, rtol=1e-12)


def test_probabilities_with_zeros_do_occur():
    p = find(probabilities(shape=(3,), allow_zero=True, dtype=ad.float64),
             lambda t: (t.numpy() == 0).any(), settings=settings(database=None))
    assert (p.numpy() == 0).any() and abs(p.numpy().sum() - 1) < 1e-12


# ----------------------------------------------------------------- modules
@given(model=modules(in_features=3), x=tensors(shape=(4, 3), elements=(-2, 2)))
def test_modules_for_vectors_run(model, x):
    assert isinstance(model, nn.Module)
    out = model(x)
    assert out.shape[0] == 4 and out.dtype == ad.float32
    assert np.all(np.isfinite(out.numpy()))
    n_layers = len(model) if isinstance(model, nn.Sequential) else 1
    assert 1 <= n_layers <= 3


@given(model=modules(in_shape=(2, 5, 4), max_layers=4, dtype=ad.float64),
       x=tensors(shape=(2, 2, 5, 4), dtype=ad.float64, elements=(-2, 2)))
def test_modules_for_images_have_valid_geometries(model, x):
    out = model(x)
    assert out.shape[0] == 2 and np.all(np.isfinite(out.numpy()))
    assert all(p.dtype == ad.float64 for p in model.parameters())


@given(model=modules(kinds=("linear", "tanh"), in_features=2, max_layers=2))
def test_modules_draw_only_the_asked_kinds(model):
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    assert all(isinstance(m, (nn.Linear, nn.Tanh)) for m in layers)


def test_modules_parameters_come_from_the_drawn_seed():
    # the same choices give the same parameters, whatever the global random state
    ad.manual_seed(1)
    a = find(modules(kinds=("linear",), in_features=3, max_layers=1), lambda m: True,
             settings=settings(database=None))
    ad.manual_seed(2)
    b = find(modules(kinds=("linear",), in_features=3, max_layers=1), lambda m: True,
             settings=settings(database=None))
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())


def test_modules_arguments_are_checked():
    with pytest.raises(InvalidArgument, match="unknown layer kinds"):
        _draw_invalid(modules(kinds=("lstm",)))()
    with pytest.raises(InvalidArgument, match="none of the kinds"):
        _draw_invalid(modules(kinds=("conv2d",), in_features=3))()


@given(x=tensors(shape=(8,), dtype=st.sampled_from(ad.testing.FLOAT_DTYPES)))
def test_default_floats_are_well_scaled(x):
    v = np.abs(x.numpy().astype(np.float64))
    assert np.all((v == 0) | ((v >= 1e-6) & (v <= 10))), v
    if x.dtype == ad.float16:  # no subnormals either
        assert np.all((v == 0) | (v >= np.finfo(np.float16).tiny))
