"""ad.scope (labelled regions recorded on nodes) and ad.observe_backward (backward steps)."""
import threading

import numpy as np
import pytest

import autodiff as ad
from helpers import run_threads


def _leaf(values):
    return ad.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- scope

def test_nodes_outside_any_scope_have_none():
    x = _leaf([1.0])
    assert ad.current_scope() is None
    assert (x * 2).grad_fn.scope is None


def test_nested_scopes_recorded_on_nodes():
    x = _leaf([1.0, 2.0])
    owner = object()
    with ad.scope("model", owner=owner) as outer:
        a = x * 2
        with ad.scope("layer1") as inner:
            b = a.tanh()
            assert ad.current_scope() is inner
        c = b + 1
        assert ad.current_scope() is outer
    d = c.sum()
    assert ad.current_scope() is None
    assert a.grad_fn.scope is outer and c.grad_fn.scope is outer
    assert b.grad_fn.scope is inner and d.grad_fn.scope is None
    assert outer.label == "model" and outer.owner is owner and outer.parent is None
    assert outer.depth == 0
    assert inner.label == "layer1" and inner.parent is outer and inner.depth == 1
    assert inner.owner is None
    assert inner.path() == (outer, inner) and outer.path() == (outer,)
    assert repr(inner) == "Scope(model / layer1)"


def test_each_entry_opens_a_new_scope():
    x = _leaf([1.0])
    cm = ad.scope("block")
    with cm as first:
        y1 = x * 2
    with cm as second:          # same label, a second call (e.g. a module used twice)
        y2 = x * 3
    assert first is not second and first.label == second.label == "block"
    assert y1.grad_fn.scope is first and y2.grad_fn.scope is second


def test_same_scope_instance_nested():
    cm = ad.scope("rec")
    with cm as outer:
        with cm as inner:
            assert inner.parent is outer
        assert ad.current_scope() is outer
    assert ad.current_scope() is None
    seen = []
    ob = ad.observe_backward(lambda t, *a: seen.append(t))
    x = _leaf([1.0])
    with ob:
        with ob:
            (x * 2).sum().backward()
        (x * 2).sum().backward()
    assert len(seen) == 3 * 2 + 3
    (x * 2).sum().backward()
    assert len(seen) == 9


def test_scope_labels_are_strings():
    with ad.scope(3) as s:
        assert s.label == "3"


def test_scope_restored_after_exception():
    with pytest.raises(ValueError):
        with ad.scope("a"):
            with ad.scope("b"):
                raise ValueError
    assert ad.current_scope() is None


def test_unrecorded_ops_and_leaves_carry_no_scope():
    with ad.scope("s"):
        leaf = ad.tensor([1.0], requires_grad=True)
        plain = ad.tensor([1.0]) * 2
        with ad.no_grad():
            frozen = leaf * 2
    assert leaf.grad_fn is None and plain.grad_fn is None and frozen.grad_fn is None


def test_scope_does_not_change_values_or_gradients():
    x1, x2 = _leaf([0.5, -1.0]), _leaf([0.5, -1.0])
    (x1.tanh() * x1).sum().backward()
    with ad.scope("s"):
        with ad.scope("t"):
            y = x2.tanh() * x2
        y.sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())


def test_scope_is_thread_local():
    barrier = threading.Barrier(2, timeout=10)
    seen = {}

    def inside():
        with ad.scope("worker"):
            barrier.wait()
            barrier.wait()

    def outside():
        barrier.wait()
        seen["other"] = ad.current_scope()
        barrier.wait()

    run_threads(inside, outside)
    assert seen == {"other": None}


def test_scope_graph_walk_groups_nodes():
    # What viz does: group a graph's nodes by their scope path.
    x = _leaf([1.0])
    with ad.scope("enc"):
        h = (x * 2).exp()
    with ad.scope("dec"):
        y = (h + 1).log()
    groups = {}
    for t in ad.topological_order(y):
        if t.grad_fn is not None:
            key = tuple(s.label for s in t.grad_fn.scope.path())
            groups.setdefault(key, []).append(t.grad_fn.name)
    assert groups == {("enc",): ["mul", "exp"], ("dec",): ["add", "log"]}


# ---------------------------------------------------------------- observe_backward

def _record(log):
    return lambda t, g, node, input_grads: log.append((t, g, node, input_grads))


def test_observer_sees_every_tensor_once_with_its_full_gradient():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, -1.0])
    h = x * w
    u = h.tanh()
    loss = (u * h).sum()
    log = []
    with ad.observe_backward(_record(log)):
        loss.backward(retain_graph=True)
    tensors = [entry[0] for entry in log]
    assert tensors[0] is loss
    assert len({id(t) for t in tensors}) == len(tensors)        # each exactly once
    assert {id(t) for t in tensors} == {id(t) for t in ad.topological_order(loss)}
    # reverse topological: every tensor comes after all of its consumers
    pos = {id(t): i for i, t in enumerate(tensors)}
    for t in tensors:
        if t.grad_fn is not None:
            for inp in t.grad_fn.inputs:
                if isinstance(inp, ad.Tensor) and inp.requires_grad:
                    assert pos[id(inp)] > pos[id(t)]
    # gradients: full (both uses of h summed) and equal to ad.grad's
    by_id = {id(t): (g, node, ig) for t, g, node, ig in log}
    gh, gu, gx = ad.grad(loss, [h, u, x], retain_graph=True)
    np.testing.assert_allclose(by_id[id(h)][0], gh.numpy())
    np.testing.assert_allclose(by_id[id(u)][0], gu.numpy())
    np.testing.assert_allclose(by_id[id(x)][0], gx.numpy())
    np.testing.assert_allclose(by_id[id(x)][0], x.grad.numpy())
    # node and per-input gradients
    g, node, ig = by_id[id(h)]
    assert node is h.grad_fn and node.name == "mul" and len(ig) == 2
    np.testing.assert_allclose(ig[0], g * w.numpy())
    np.testing.assert_allclose(ig[1], g * x.numpy())
    assert by_id[id(x)][1:] == (None, None)                    # leaves


def test_observer_gradient_of_scalar_root_is_one():
    x = _leaf([2.0])
    log = []
    y = (x * x).sum()
    with ad.observe_backward(_record(log)):
        y.backward()
    assert log[0][0] is y and float(log[0][1]) == 1.0


def test_no_observer_means_unchanged_behaviour():
    def run(observe):
        x = _leaf([0.3, -0.2, 0.9])
        m = x.exp() * x
        m.retain_grad()
        loss = (m.sigmoid() + m).sum()
        if observe:
            with ad.observe_backward(lambda *a: None):
                loss.backward()
        else:
            loss.backward()
        return x.grad.numpy(), m.grad.numpy(), m.grad_fn.released   # mul saved values

    plain, observed = run(False), run(True)
    np.testing.assert_array_equal(plain[0], observed[0])
    np.testing.assert_array_equal(plain[1], observed[1])
    assert plain[2] is observed[2] is True


def test_nested_observers_both_fire_in_order():
    x = _leaf([1.0])
    calls = []
    with ad.observe_backward(lambda t, *a: calls.append(("outer", id(t)))):
        with ad.observe_backward(lambda t, *a: calls.append(("inner", id(t)))):
            (x * 2).sum().backward()
        (x * 3).sum().backward()
    inner = [c for c in calls if c[0] == "inner"]
    outer = [c for c in calls if c[0] == "outer"]
    assert len(inner) == 3 and len(outer) == 6       # sum, mul, x per backward
    assert calls[0][0] == "outer" and calls[1][0] == "inner" and calls[0][1] == calls[1][1]
    (x * 4).sum().backward()                         # after the blocks: nothing observed
    assert len(calls) == 9


def test_observer_sees_gradient_after_hooks():
    x = _leaf([1.0])
    y = x * 2
    y.register_hook(lambda g: g * 10)
    log = []
    with ad.observe_backward(_record(log)):
        y.sum().backward()
    by_id = {id(t): g for t, g, _, _ in log}
    assert float(by_id[id(y)][0]) == 10.0 and float(by_id[id(x)][0]) == 20.0


def test_observer_with_ad_grad_includes_target_leaves():
    a, b = _leaf([1.0]), _leaf([2.0])
    seen = []
    with ad.observe_backward(lambda t, g, node, ig: seen.append(t)):
        ad.grad((a * b).sum(), [a, b])
    assert any(t is a for t in seen) and any(t is b for t in seen)


def test_observer_exception_propagates_and_state_restored():
    x = _leaf([1.0])

    def boom(*a):
        raise RuntimeError("observer failed")

    with pytest.raises(RuntimeError, match="observer failed"):
        with ad.observe_backward(boom):
            (x * 2).sum().backward()
    assert ad.is_grad_enabled()
    (x * 2).sum().backward()                          # no observer left behind
    assert x.grad.item() == 2.0


def test_observer_is_thread_local():
    x = _leaf([1.0])
    seen = []
    barrier = threading.Barrier(2, timeout=10)

    def observed():
        with ad.observe_backward(lambda *a: seen.append(threading.get_ident())):
            barrier.wait()
            barrier.wait()

    def other():
        barrier.wait()
        (x * 2).sum().backward()
        barrier.wait()

    run_threads(observed, other)
    assert seen == [] and x.grad.item() == 2.0


def test_observer_under_create_graph_gets_tensors():
    x = _leaf([1.0, 2.0])
    log = []
    with ad.observe_backward(_record(log)):
        (x * x).sum().backward(create_graph=True)
    assert all(isinstance(g, ad.Tensor) for _, g, _, _ in log)
    mul_entry = next(e for e in log if e[2] is not None and e[2].name == "mul")
    assert all(isinstance(i, ad.Tensor) for i in mul_entry[3])
    np.testing.assert_array_equal(log[-1][1].numpy(), [2.0, 4.0])
    assert x.grad.requires_grad                   # the gradient is itself differentiable
