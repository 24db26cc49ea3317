"""The engine's contracts with graph walkers (viz, tests, capture/replay): kept gradients,
errors as data, node attributes (INTERFACES.md sections 1, 2 and 6)."""
import threading

import numpy as np
import pytest

import autodiff as ad
from op_table import DIFFERENTIABLE


def _t(values, **kw):
    return ad.tensor(np.asarray(values, dtype=np.float64), **kw)


# ---------------------------------------------------------------- kept gradients

def test_backward_keeps_every_gradient_of_a_small_graph():
    w = _t([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    x = _t([[2.0, 1.0]])
    h = x @ w
    y = h.tanh()
    loss = (y * 3.0).sum()
    loss.backward()
    g_y = np.full((1, 2), 3.0)
    g_h = g_y * (1 - np.tanh(x.data @ w.data) ** 2)
    np.testing.assert_allclose(ad.kept_grad(loss).data, 1.0)
    np.testing.assert_allclose(ad.kept_grad(y).data, g_y)
    np.testing.assert_allclose(ad.kept_grad(h).data, g_h)
    np.testing.assert_allclose(ad.kept_grad(w).data, x.data.T @ g_h)
    assert ad.kept_grad(x) is None  # not visited: no gradient flows to it
    gx, gw = ad.kept_input_grads(h.grad_fn)
    assert gx is None  # matmul's rule returns None for an input that needs none
    np.testing.assert_allclose(gw, x.data.T @ g_h)
    assert y.grad is None and h.grad is None  # .grad keeps PyTorch's meaning


def test_a_leaf_keeps_what_this_pass_delivered_not_the_accumulated_grad():
    w = _t([1.0, 2.0], requires_grad=True)
    (w * 2.0).sum().backward()
    (w * 5.0).sum().backward()
    np.testing.assert_allclose(w.grad.data, [7.0, 7.0])
    np.testing.assert_allclose(ad.kept_grad(w).data, [5.0, 5.0])
    w.grad.data[...] = 0  # .grad does not alias the kept gradient
    np.testing.assert_allclose(ad.kept_grad(w).data, [5.0, 5.0])


def test_past_the_limit_none_and_nothing_stale():
    w = _t(np.ones(8), requires_grad=True)
    h = w * 2.0
    loss = h.sum()
    loss.backward(retain_graph=True)
    assert ad.kept_grad(h) is not None and ad.kept_input_grads(h.grad_fn) is not None
    previous = ad.set_keep_grads_limit(9)
    try:
        assert ad.get_keep_grads_limit() == 9
        loss.backward()
        np.testing.assert_allclose(ad.kept_grad(loss).data, 1.0)  # 1 + 8 elements: fit
        assert ad.kept_grad(h) is None  # 8 + 8 more do not: the old record is gone
        assert ad.kept_input_grads(h.grad_fn) is None
        assert ad.kept_grad(w) is None
    finally:
        assert ad.set_keep_grads_limit(previous) == 9


def test_an_in_place_write_leaves_the_kept_record_with_the_version_backward_saw():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * 3
    z.sum().backward()
    assert ad.kept_grad(y).tolist() == [3.0, 3.0]
    y += 1  # y gets a new history; z's input is now the old version (a shadow)
    old = z.grad_fn.inputs[0]
    assert old is not y
    assert ad.kept_grad(old).tolist() == [3.0, 3.0]
    assert ad.kept_grad(y) is None


def test_keep_grads_lifts_the_limit_in_this_thread_only():
    previous = ad.set_keep_grads_limit(0)
    try:
        w = _t(np.ones(5), requires_grad=True)
        with ad.keep_grads():
            (w * 2.0).sum().backward()
            seen = []
            thread = threading.Thread(target=lambda: seen.append(_kept_in_new_pass()))
            thread.start()
            thread.join()
        np.testing.assert_allclose(ad.kept_grad(w).data, 2.0)
        assert seen == [None]  # the other thread kept the limit (0)
        (w * 2.0).sum().backward()
        assert ad.kept_grad(w) is None
    finally:
        ad.set_keep_grads_limit(previous)


def _kept_in_new_pass():
    v = _t(np.ones(2), requires_grad=True)
    (v * 1.0).sum().backward()
    return ad.kept_grad(v)


def test_keep_grads_is_a_decorator_and_ad_grad_and_create_graph_keep_too():
    x = _t([1.0, 2.0], requires_grad=True)

    @ad.keep_grads()
    def second(x):
        y = x ** 3
        (g,) = ad.grad(y.sum(), x, create_graph=True)
        return y, g

    y, g = second(x)
    np.testing.assert_allclose(ad.kept_grad(y).data, [1.0, 1.0])
    kept = ad.kept_input_grads(y.grad_fn)
    assert isinstance(kept[0], ad.Tensor)  # under create_graph the gradients are Tensors
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10"])
def test_limit_must_be_a_nonnegative_int(bad):
    with pytest.raises(ValueError, match="set_keep_grads_limit"):
        ad.set_keep_grads_limit(bad)


# ---------------------------------------------------------------- errors as data

@pytest.mark.parametrize("call, kind, op", [
    (lambda: ad.ones((2, 3)) @ ad.ones((2, 3)), ValueError, "matmul"),
    (lambda: ad.ones((2, 3)).reshape(4, 2), ValueError, "reshape"),
    (lambda: ad.ones((2, 3)) + ad.ones((4,)), ValueError, "add"),
    (lambda: ad.ones((2,))[5], IndexError, "getitem"),
    (lambda: ad.concatenate([ad.ones((2, 3)), ad.ones((2, 4))]), ValueError, "concatenate"),
    (lambda: ad.clip(ad.ones(2)), ValueError, "clip"),
    (lambda: ad.conv2d(ad.ones((1, 2, 4, 4)), ad.ones((3, 1, 2, 2))), ValueError, "conv2d"),
    (lambda: ad.conv2d(ad.ones((1, 1, 4, 4)), ad.ones((3, 1, 2, 2)), stride=1.5), TypeError,
     "conv2d"),
    (lambda: ad.max_pool2d(ad.ones((1, 1, 4, 4)), 2, padding=2), ValueError, "max_pool2d"),
    (lambda: ad.sum(ad.ones((2, 3)), axis=4), IndexError, "sum"),  # torch: IndexError
    (lambda: ad.softmax_cross_entropy(ad.ones((2, 3)), np.array([0, 5])), IndexError,  # as torch
     "softmax_cross_entropy"),
    (lambda: ad.ones(3).backward(), RuntimeError, "backward"),
    (lambda: ad.sum_to_shape(np.ones((2, 3)), (4,)), ValueError, "backward"),
])
def test_op_errors_carry_the_op(call, kind, op):
    with pytest.raises(kind) as info:
        call()
    assert info.value.op == op


def test_backward_errors_carry_the_node_op():
    x = _t([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.sum().backward()
    with pytest.raises(ad.OpError) as info:
        y.sum().backward()
    assert info.value.op == "exp" and "second time" in str(info.value)
    z = x * x
    with ad.no_grad():
        x2 = x.detach()
    c = x2.clone().requires_grad_()
    z = c.exp()
    c2 = z.detach()  # noqa: F841
    with ad.no_grad():
        z += 1.0  # the output exp saved is overwritten
    with pytest.raises(RuntimeError) as info:
        z.sum().backward()
    assert info.value.op == "exp"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN/Inf anomaly mode catches
def test_anomaly_errors_are_floating_point_errors_with_op():
    x = _t([0.0, 4.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.sqrt(x)
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    assert isinstance(info.value, ad.AnomalyError)
    assert info.value.op == "sqrt" and info.value.phase == "backward"
    with ad.detect_anomaly(), pytest.raises(ad.AnomalyError) as info:
        ad.log(_t([-1.0]))
    assert info.value.op == "log" and info.value.phase == "forward"


def test_no_error_is_classified_by_its_message():
    """Nothing in autodiff/ reads an exception's message to decide what to do."""
    import ast
    from pathlib import Path
    for path in Path(ad.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {h.name for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) and h.name}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("startswith", "split", "endswith", "removeprefix")):
                inner = node.func.value
                if (isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "str"
                        and inner.args and getattr(inner.args[0], "id", None) in names):
                    raise AssertionError(f"{path.name}:{node.lineno} parses an error message")


# ---------------------------------------------------------------- node attributes

# setitem writes in place: its node's input is the old version of the tensor, whose buffer
# (shared with the new one) now holds the new values, so it cannot recompute its output.
@pytest.mark.parametrize("row", [r for r in DIFFERENTIABLE
                                 if not r.multi_output and r.name != "setitem"], ids=str)
def test_a_node_recomputes_its_output_from_inputs_and_params(row):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=3, deadline=None)
    @given(data=st.data())
    def check(data):
        case = data.draw(row.inputs(np.float64))
        xs = [ad.tensor(a, requires_grad=True) for a in case.arrays]
        out = row.fn(*xs, **case.kwargs)
        for t in ad.topological_order(out):
            node = t.grad_fn
            if node is not None:
                again = type(node).apply(*node.inputs, **node.params)
                np.testing.assert_array_equal(again.data, t.data)
    check()


def test_params_is_an_empty_mapping_without_keyword_parameters():
    x = _t([1.0, 2.0], requires_grad=True)
    assert dict((x * 2.0).grad_fn.params) == {}
    assert dict(x.sum(axis=0, keepdims=True).grad_fn.params) == {"axis": 0, "keepdims": True}


def test_topological_order_has_no_side_effects_and_inputs_see_old_versions():
    x = _t([1.0, 2.0], requires_grad=True)
    c = x * 1.0
    y = c + 2.0
    node = y.grad_fn
    raw = node._inputs
    c *= 3.0  # c gets a new history; y's op saw the old version
    order = ad.topological_order(y)
    assert node._inputs is raw  # nothing was rewritten
    old_c = node.inputs[0]
    assert old_c is not c and old_c.grad_fn is not c.grad_fn
    ids = {id(t) for t in order}
    assert id(old_c) in ids and id(c) not in ids
    (y.sum() + c.sum()).backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 4.0])


def test_sum_to_shape_is_public_for_arrays_and_tensors():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ad.sum_to_shape(g, (3, 1)),
                                  g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(ad.sum_to_shape(ad.tensor(g), (4,)).data, g.sum(axis=(0, 1)))


def test_hook_handles_remove_and_work_as_context_managers():
    x = _t([1.0], requires_grad=True)
    seen = []
    y = x * 2.0
    with y.register_hook(lambda g: seen.append(1)) as handle:
        assert isinstance(handle, ad.HookHandle)
        y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert seen == [1]
