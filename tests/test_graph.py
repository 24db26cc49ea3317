"""Backward over graphs: diamonds, reuse, broadcasting, freeing, hooks, accumulation, ad.grad."""
import gc
import time
import weakref

import numpy as np
import pytest

import autodiff as ad


def _leaf(values, device="cpu", dtype=ad.float64):
    return ad.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


# ---------------------------------------------------------------- shapes of graphs

def test_diamond(device):
    x = _leaf([1.0, -2.0, 3.0], device)
    a = x * 2
    b = x * 3
    c = (a * b).sum()             # 6 x^2
    c.backward()
    np.testing.assert_allclose(x.grad.numpy(), 12 * np.array([1.0, -2.0, 3.0]))


def test_nested_diamonds_match_torch():
    torch = pytest.importorskip("torch")
    v = np.array([0.3, -0.7, 1.1])

    def f(x, tanh, exp):
        a = tanh(x)
        b = a * x
        c = exp(a) + b
        d = c * a - b / (1 + c * c)
        return (d * d + c).sum()

    x = _leaf(v)
    f(x, ad.tanh, ad.exp).backward()
    tx = torch.tensor(v, requires_grad=True)
    f(tx, torch.tanh, torch.exp).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_tensor_reused_many_times(device):
    x = _leaf([1.0, 2.0], device)
    y = x
    for _ in range(99):
        y = y + x                  # x feeds 100 additions
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 100.0])
    x.grad = None
    (x * x * x).sum().backward()   # reuse inside one expression: 3 x^2
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_same_tensor_as_both_operands():
    x = _leaf([3.0])
    (x * x).backward(ad.ones(1, dtype=ad.float64))
    assert x.grad.item() == 6.0
    x.grad = None
    (x / x).sum().backward()
    assert x.grad.item() == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("xshape, bshape", [((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)),
                                            ((4, 1, 3), (5, 1)), ((2, 3), ()),
                                            ((3,), (2, 1, 3))])
def test_broadcast_gradients_summed_back(xshape, bshape, device):
    rng = np.random.default_rng(0)
    xv, bv = rng.normal(size=xshape), rng.normal(size=bshape)
    x, b = _leaf(xv, device), _leaf(bv, device)
    out = x * b + b
    assert out.shape == np.broadcast_shapes(xshape, bshape)
    w = rng.normal(size=out.shape)
    (out * ad.tensor(w, device=device)).sum().backward()
    assert x.grad.shape == xshape and b.grad.shape == bshape
    # closed forms: dL/dx = sum_to(w*b), dL/db = sum_to(w*x + w)
    def sum_to(g, shape):
        lead = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(lead)))
        return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), sum_to(w * bv, xshape).reshape(xshape))
    np.testing.assert_allclose(b.grad.numpy(), sum_to(w * xv + w, bshape).reshape(bshape))


def test_broadcast_gradient_keeps_half_dtype():
    x = ad.ones(1000, dtype=ad.bfloat16, requires_grad=True)
    b = ad.tensor([0.01], dtype=ad.bfloat16, requires_grad=True)
    (x * b).sum().backward()
    assert b.grad.dtype == ad.bfloat16
    # accumulated in float32: 1000 ones sum to ~1000 (bf16 accumulation would stall at 256)
    assert b.grad.item() == pytest.approx(1000, rel=0.01)


# ---------------------------------------------------------------- backward arguments

def test_non_scalar_root_needs_gradient():
    x = _leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*one-element outputs.*gradient="):
        y.backward()
    y.backward(ad.tensor([1.0, 10.0], dtype=ad.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])


def test_gradient_argument_forms():
    x = _leaf([[1.0, 2.0]])
    (x * 3).backward(np.array([[1.0, 2.0]]), retain_graph=True)
    (x * 3).backward([[1.0, 1.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[6.0, 9.0]])
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\).*\(1, 2\)"):
        (x * 3).backward(np.ones(2))


def test_scalar_root_in_one_element_shape():
    x = _leaf([2.0])
    (x * x).backward()            # one element: implicit gradient of 1
    assert x.grad.item() == 4.0


def test_leaf_grad_does_not_alias_user_gradient():
    # Regression: a leaf's .grad used to be the caller's gradient buffer itself.
    x = _leaf([1.0, 2.0])
    g = ad.tensor([5.0, 5.0], dtype=ad.float64)
    (x + 0).backward(g)
    g.data[...] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    y = _leaf([1.0])
    arr = np.array([3.0])
    y.backward(arr)               # backward on the leaf itself
    assert not np.shares_memory(y.grad.data, arr)


def test_sibling_leaves_get_separate_gradient_buffers():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


# ---------------------------------------------------------------- freeing and retain_graph

def test_retain_graph_allows_second_backward():
    x = _leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    assert not loss.grad_fn.inputs[0].grad_fn.released
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_saved_values_released_and_second_backward_raises():
    x = _leaf([1.0, 2.0])
    h = x.exp()
    loss = (h * h).sum()
    mul = loss.grad_fn.inputs[0].grad_fn
    assert mul.name == "mul" and not mul.released and len(mul.saved) == 2
    loss.backward()
    assert mul.released and h.grad_fn.released
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                                           "retain_graph=True"):
        loss.backward()


def test_saved_arrays_freed_after_backward():
    """A saved temporary that no tensor holds dies as soon as backward has used it."""
    class Square(ad.Function):
        @staticmethod
        def forward(ctx, x):
            twice = x * 2
            ctx.save(twice)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (twice,) = ctx.saved
            return g * twice

    x = _leaf([1.0, 2.0])
    y = Square.apply(x)
    ref = weakref.ref(y.grad_fn.saved[0])
    y.sum().backward(retain_graph=True)
    assert ref() is not None                       # retained
    y.sum().backward()
    assert ref() is None                           # released with the graph still alive
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_intermediates_collected_without_cycles():
    gc.collect()
    gc.disable()              # refcounting alone must free the graph: no reference cycles
    try:
        x = _leaf(np.ones(1000))
        h = (x * 2).tanh()
        loss = (h * h).sum()
        refs = [weakref.ref(h), weakref.ref(h.data), weakref.ref(loss.grad_fn)]
        del h
        loss.backward()
        assert all(r() is not None for r in refs[:2])  # still reachable through the graph
        del loss
        assert all(r() is None for r in refs)
        assert x.grad is not None
    finally:
        gc.enable()


def test_no_graph_kept_under_no_grad():
    x = _leaf(np.ones(10))
    with ad.no_grad():
        h = x * 2
        y = h.exp()
    assert y.grad_fn is None and not y.requires_grad
    ref = weakref.ref(h)
    del h
    assert ref() is None


# ---------------------------------------------------------------- retain_grad and hooks

def test_retain_grad():
    x = _leaf([1.0, 2.0])
    m = x * x
    assert m.retain_grad() is m and m.retains_grad
    n = x * 3
    (m + n).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [1.0, 1.0])
    assert n.grad is None                         # not retained
    x.retain_grad()                               # no-op on leaves
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])


def test_hook_modifies_gradient_flowing_on():
    x = _leaf([1.0, 2.0])
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])


def test_hook_order_and_removal():
    x = _leaf([1.0])
    y = x * 1
    calls = []
    h1 = y.register_hook(lambda g: calls.append("first") or g + 1)
    y.register_hook(lambda g: calls.append("second") or g * 2)
    y.sum().backward(retain_graph=True)
    assert calls == ["first", "second"] and x.grad.item() == 4.0   # (1 + 1) * 2
    h1.remove()
    h1.remove()                                   # removing twice is harmless
    x.grad = None
    y.sum().backward()
    assert x.grad.item() == 2.0


def test_hook_handle_as_context_manager():
    x = _leaf([1.0, 2.0])
    with x.register_hook(lambda g: g * 0):
        (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_hook_may_return_arrays_or_scalars_in_any_dtype():
    x = _leaf([1.0, 2.0])
    x.register_hook(lambda g: g.numpy() * 2)            # a NumPy array
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    y = _leaf(1.0)
    y.register_hook(lambda g: 5.0)                      # a Python float (float32 by default)
    (y * 3).backward()
    assert y.grad.item() == 5.0 and y.grad.dtype == ad.float64   # regression: was float32


def test_hook_on_leaf_sees_total_gradient_once():
    x = _leaf([1.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 2 + x * 3).sum().backward()
    assert seen == [5.0]


# ---------------------------------------------------------------- accumulation

def test_leaf_grads_accumulate_and_clear():
    x = _leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    first = x.grad
    (x * 1).sum().backward()
    np.testing.assert_array_equal(first.numpy(), [5.0, 7.0])   # old grad tensor untouched
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.grad.dtype == x.dtype and not x.grad.requires_grad


def test_grad_is_a_plain_tensor_of_leaf_shape(device):
    x = _leaf(np.ones((2, 3)), device, dtype=ad.float32)
    (x.sum(axis=0) * 2).sum().backward()
    assert isinstance(x.grad, ad.Tensor) and x.grad.shape == (2, 3)
    assert x.grad.dtype == ad.float32 and x.grad.device == x.device and x.grad.is_leaf


# ---------------------------------------------------------------- ad.grad and inputs=

def test_ad_grad_returns_without_accumulating():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    ga, gb = ad.grad((a * b).sum(), [a, b])
    np.testing.assert_array_equal(ga.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gb.numpy(), [1.0, 2.0])
    assert a.grad is None and b.grad is None


def test_ad_grad_allow_unused():
    a, b = _leaf([1.0]), _leaf([2.0])
    with pytest.raises(RuntimeError, match=r"input 1 .*not part of the graph.*allow_unused"):
        ad.grad((a * 3).sum(), [a, b])
    ga, gb = ad.grad((a * 3).sum(), [a, b], allow_unused=True)
    assert ga.item() == 3.0 and gb is None


def test_ad_grad_of_intermediate_and_several_outputs():
    x = _leaf([1.0, 2.0])
    h = x * x
    y1, y2 = h.sum(), (h * 2).sum()
    (gh,) = ad.grad([y1, y2], [h], retain_graph=True)
    np.testing.assert_array_equal(gh.numpy(), [3.0, 3.0])
    (gx,) = ad.grad(y1, x, grad_outputs=ad.tensor(2.0, dtype=ad.float64))
    np.testing.assert_array_equal(gx.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        ad.grad(y1, ad.ones(2))


def test_ad_grad_with_a_repeated_input():
    # Regression: the first occurrence was reported as "not part of the graph".
    x = _leaf([1.0, 2.0])
    g1, g2 = ad.grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(g1.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(g2.numpy(), [2.0, 4.0])


def test_backward_inputs_restricts_accumulation():
    a, b = _leaf([1.0]), _leaf([2.0])
    h = a * b
    (h * h).sum().backward(inputs=[a], retain_graph=True)
    assert a.grad.item() == pytest.approx(2 * 2 * 2 * 1) and b.grad is None
    (h * 1).sum().backward(inputs=h)              # a non-leaf input gets .grad too
    assert h.grad.item() == 1.0 and b.grad is None


# ---------------------------------------------------------------- deep graphs

@pytest.mark.slow
def test_million_op_chain_backward_without_recursion():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(1_000_000):
        y = -y
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])   # even number of negations
    assert time.perf_counter() - start < 60


def test_deep_chain_topological_order():
    x = ad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    order = ad.topological_order(y)
    assert order[0] is x and order[-1] is y and len(order) == 40_001
    y.backward()
    assert x.grad.item() == 1.0


def test_concurrent_backward_in_threads():
    import threading
    errors, results = [], {}

    def work(k):
        try:
            x = ad.tensor(np.full(8, float(k)), requires_grad=True)
            for _ in range(200):
                x.grad = None
                ((x * x).tanh() * k + x).sum().backward()
            v = np.full(8, float(k))
            results[k] = np.allclose(x.grad.numpy(), k * (1 - np.tanh(v * v) ** 2) * 2 * v + 1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and results == {1: True, 2: True, 3: True, 4: True}


_UNARY = ["tanh", "sigmoid", "neg"]
_BINARY = ["add", "sub", "mul"]


def _program_step(pool, step, lib):
    kind, i, j = step
    a, b = pool[i % len(pool)], pool[j % len(pool)]
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "neg":
        return -a
    return getattr(lib, kind)(a)


def test_random_dags_match_torch():
    """Random programs with heavy reuse (diamonds, repeated operands) vs torch, float64."""
    torch = pytest.importorskip("torch")
    from hypothesis import given
    from hypothesis import strategies as st

    step = st.tuples(st.sampled_from(_BINARY + _UNARY), st.integers(0, 50),
                     st.integers(0, 50))

    @given(steps=st.lists(step, min_size=1, max_size=25),
           shape_b=st.sampled_from([(3,), (1,), (2, 1), (2, 3)]))
    def check(steps, shape_b):
        rng = np.random.default_rng(len(steps))
        va, vb = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, shape_b)
        ours = [_leaf(va), _leaf(vb)]
        theirs = [torch.tensor(va, requires_grad=True), torch.tensor(vb, requires_grad=True)]
        for s in steps:
            ours.append(_program_step(ours, s, ad))
            theirs.append(_program_step(theirs, s, torch))
        loss = sum((t * (k + 1)).sum() for k, t in enumerate(ours[2:]))
        tloss = sum((t * (k + 1)).sum() for k, t in enumerate(theirs[2:]))
        loss.backward()
        tloss.backward()
        for o, t in zip(ours[:2], theirs[:2]):
            got = np.zeros(o.shape) if o.grad is None else o.grad.numpy()
            want = np.zeros(o.shape) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)

    check()
