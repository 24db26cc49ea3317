"""In-place ops: version counters, stale saved values, leaves, views, mark_modified."""
import numpy as np
import pytest

import autodiff as ad


def _leaf(values, device="cpu"):
    return ad.tensor(np.asarray(values, dtype=np.float64), device=device, requires_grad=True)


@pytest.mark.parametrize("update", [
    lambda t: t.__iadd__(1.0), lambda t: t.__isub__(1.0), lambda t: t.__imul__(2.0),
    lambda t: t.__itruediv__(2.0), lambda t: t.__setitem__(0, 5.0),
])
def test_every_inplace_op_bumps_the_version(update):
    t = ad.zeros(3)
    assert t.version == 0
    update(t)
    assert t.version == 1
    update(t)
    assert t.version == 2


def test_inplace_values_match_numpy(device):
    t = ad.tensor([1.0, 2.0, 4.0], device=device)
    ref = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    t += 1
    ref += 1
    t -= ad.tensor([0.5, 0.5, 0.5], device=device)
    ref -= 0.5
    t *= 3
    ref *= 3
    t /= 2
    ref /= 2
    t[1] = -7.0
    ref[1] = -7.0
    t[ad.tensor([0, 2], device=device)] = 0.0
    ref[[0, 2]] = 0.0
    np.testing.assert_allclose(t.numpy(), ref)
    assert t.dtype == ad.float32


def test_inplace_keeps_the_buffer():
    t = ad.zeros(3)
    buf = t.data
    t += 2
    t[0] = 1
    assert t.data is buf


def test_inplace_broadcast_to_a_bigger_shape_refused():
    t = ad.zeros(3)
    with pytest.raises(ValueError, match=r"add_ .*shape \(2, 3\).*\(3,\)"):
        t += ad.ones(2, 3)


def test_inplace_float_into_int_refused():
    t = ad.tensor([1, 2])
    with pytest.raises(TypeError, match="add_.*float32.*int64"):  # int + 0.5 is float32
        t += 0.5


@pytest.mark.parametrize("update, opname", [
    (lambda t: t.__iadd__(1.0), "mul"), (lambda t: t.__imul__(2.0), "mul"),
    (lambda t: t.__setitem__(0, 3.0), "mul"),
])
def test_backward_through_modified_saved_input_raises_naming_op(update, opname):
    a = _leaf([1.0, 2.0])
    b = a * 1
    c = b * b           # mul saves b
    update(b)
    with pytest.raises(RuntimeError, match=rf"'{opname}'.*modified by an in-place operation"):
        c.sum().backward()


def test_backward_through_modified_saved_output_raises():
    a = _leaf([1.0, 2.0])
    e = a.exp()         # exp saves its output
    loss = e.sum()
    with ad.no_grad():
        e += 1
    with pytest.raises(RuntimeError, match="output of 'exp'.*in-place"):
        loss.backward()


def test_other_saved_values_are_fine_after_unrelated_inplace():
    # exp saves its output, not its input: modifying the input afterwards is harmless,
    # and the consumer recorded before the write still backpropagates into the old value.
    a = _leaf([1.0, 2.0])
    b = a * 1
    c = b.exp()
    b *= 2
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.exp([1.0, 2.0]))


@pytest.mark.parametrize("use, slope", [(lambda y: y * 3, 3.0), (lambda y: 3 * y, 3.0),
                                        (lambda y: y / 2, 0.5)])
def test_writing_to_a_value_only_multiplied_by_constants_is_fine(use, slope):
    # mul/div by a constant do not need the tensor's value for the gradient (as in torch):
    # they used to save it anyway, so the later write raised.
    a = _leaf([1.0, 2.0])
    y = a * 1
    c = use(y)
    y += 1
    c.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [slope, slope])
    z = a * 1
    d = 2 / z               # the divisor's value is needed: the write must raise
    z += 1
    with pytest.raises(RuntimeError, match="'div'.*in-place"):
        d.sum().backward()


def test_consumer_recorded_before_setitem_keeps_old_history():
    # Regression: ops recorded before an in-place write used to backpropagate through the
    # write's node (zeroing the overwritten entries and crediting the written value).
    torch = pytest.importorskip("torch")
    a = _leaf([1.0, 2.0, 3.0])
    v = ad.tensor(10.0, dtype=ad.float64, requires_grad=True)
    b = a * 1
    c = b.exp()
    b[0] = v
    (c.sum() + 2 * b.sum()).backward()
    ta = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    tv = torch.tensor(10.0, dtype=torch.float64, requires_grad=True)
    tb = ta * 1
    tc = tb.exp()
    tb[0] = tv
    (tc.sum() + 2 * tb.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy())


def test_ad_grad_through_a_consumer_recorded_before_a_write():
    # Regression: ad.grad's pruning followed the written tensor's new history and
    # reported the leaf as unused.
    x = _leaf([1.0, 2.0])
    b = x * 1
    c = b.exp()
    b += 1
    (gx,) = ad.grad(c.sum(), x, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), np.exp([1.0, 2.0]))
    c.sum().backward(inputs=[x])
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


def test_consumers_before_and_after_several_writes():
    a = _leaf([1.0, 2.0])
    b = a * 1
    c1 = b + 1          # sees b = a (add saves nothing, so later writes are harmless)
    b += a              # b = 2a
    c2 = b - 1          # sees 2a
    b -= a * 7          # b = -5a
    c3 = b
    (3 * c1 + 5 * c2 + c3).sum().backward()
    # d/da [3a + 10a - 5a] = 8
    np.testing.assert_allclose(a.grad.numpy(), [8.0, 8.0])


@pytest.mark.parametrize("update, factor", [(lambda t: t.__iadd__(t), 2.0),
                                            (lambda t: t.__isub__(t), 0.0)])
def test_inplace_with_itself_as_operand(update, factor):
    # Regression: `b += b` listed b as an input of its own node: backward never ended.
    a = _leaf([1.0, 2.0])
    b = a * 1
    update(b)
    b.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [factor, factor])
    assert b.grad_fn.inputs[1] is not b


def test_inplace_square_with_itself():
    a = _leaf([1.0, 2.0])
    b = a + 0
    b *= b                      # mul saves the old b: it runs on a copy, as torch's does
    np.testing.assert_array_equal(b.numpy(), [1.0, 4.0])
    b.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="setitem_.*leaf"):
        w[0] = 3.0
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    with ad.no_grad():
        w -= 1
        w[1] = 9.0
    np.testing.assert_array_equal(w.numpy(), [0.0, 9.0])
    assert w.is_leaf and w.requires_grad and w.version == 2


def test_inplace_into_plain_tensor_joins_the_graph():
    q = _leaf([1.0, 2.0])
    t = ad.zeros(2, dtype=ad.float64)
    t += q * q
    assert t.requires_grad and not t.is_leaf and t.grad_fn.name == "add"
    t.sum().backward()
    np.testing.assert_allclose(q.grad.numpy(), [2.0, 4.0])


def test_plain_tensor_joining_the_graph_keeps_earlier_consumers_edges():
    # An op that used the plain tensor before the write must not list its new version (made
    # after that op) as an input: that made a cycle in topological_order's edges (viz).
    x = ad.tensor(np.array([1.0, 2.0]))
    w = _leaf([3.0, 4.0])
    o = x + w
    x += o
    order = ad.topological_order(x)
    assert [t.grad_fn.name if t.grad_fn else "leaf" for t in order] == \
        ["leaf", "leaf", "add", "add"]
    seqs = {id(t): k for k, t in enumerate(order)}
    for k, t in enumerate(order):
        for inp in t.grad_fn.inputs if t.grad_fn else ():
            assert seqs[id(inp)] < k   # every edge points to an earlier tensor
    assert o.grad_fn.inputs[0] is not x and not o.grad_fn.inputs[0].requires_grad
    (gw,) = ad.grad(x.sum(), [w])
    np.testing.assert_allclose(gw.numpy(), [1.0, 1.0])


def test_setitem_gradients():
    a = _leaf([1.0, 2.0, 3.0])
    v = ad.tensor(10.0, dtype=ad.float64, requires_grad=True)
    b = a * 2
    b[1] = v * 3
    np.testing.assert_allclose(b.numpy(), [2.0, 30.0, 6.0])
    (b * ad.tensor([1.0, 2.0, 3.0], dtype=ad.float64)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 0.0, 6.0])
    assert v.grad.item() == pytest.approx(6.0)


def test_view_made_under_no_grad_cannot_be_written_with_grad_on():
    # Regression: the write changed b's values behind its graph: a.grad came out [2, 2]
    # instead of [6, 2] (torch raises here too).
    a = _leaf([1.0, 1.0])
    b = a * 2
    with ad.no_grad():
        v = b[0:1]
    with pytest.raises(RuntimeError, match="mul_ .*view made under no_grad"):
        v *= 3
    with ad.no_grad():
        v *= 3                  # an explicit no_grad write is the user's choice
    np.testing.assert_array_equal(b.numpy(), [6.0, 2.0])


def test_view_of_a_leaf_that_requires_grad_cannot_be_written_with_grad_on():
    a = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="add_ .*view of a leaf tensor"):
        a[0:1].add_(1.0)
    with ad.no_grad():
        a[0:1].add_(1.0)        # an optimizer-style update
    np.testing.assert_array_equal(a.numpy(), [2.0, 2.0])


def test_view_of_a_detached_tensor_may_be_written():
    a = _leaf([1.0, 1.0])
    b = a * 2
    v = b.detach()[0:1]         # detach opts out of the graph, as in torch
    v *= 3
    np.testing.assert_array_equal(b.numpy(), [6.0, 2.0])


def test_inplace_on_views_allowed_without_grad():
    base = ad.zeros(2, 3)
    row = base[1]
    row += 5                      # nothing requires grad: a plain write through the view
    np.testing.assert_array_equal(base.numpy(), [[0, 0, 0], [5, 5, 5]])
    assert base.version == row.version == 1


def test_mark_modified_makes_stale_graph_raise():
    w = _leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data[...] = 0.0               # a write the engine cannot see
    ad.mark_modified(w)
    assert w.version == 1
    with pytest.raises(RuntimeError, match="'mul'.*modified by an in-place operation"):
        loss.backward()


def test_mark_modified_shares_counter_with_detached_views():
    w = _leaf([1.0, 2.0])
    d = w.detach()
    ad.mark_modified(d)
    assert w.version == 1


def test_random_programs_with_inplace_writes_never_give_wrong_grads():
    """Random programs mixing out-of-place ops and in-place writes, vs torch (float64).

    Where torch computes gradients we compute the same ones (writes through views and into
    tensors that have views included); where torch raises (a saved value was modified, a
    view made under no_grad written with grad on), we must raise too.
    """
    torch = pytest.importorskip("torch")
    from hypothesis import given
    from hypothesis import strategies as st

    kinds = ["add", "mul", "tanh", "iadd", "imul", "isub", "setitem", "nograd_imul",
             "view_iadd", "nograd_view"]
    step = st.tuples(st.sampled_from(kinds), st.integers(0, 50), st.integers(0, 50))

    def run(lib, leaves, steps):
        pool = list(leaves)
        for kind, i, j in steps:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if kind == "add":
                pool.append(a + b)
            elif kind == "mul":
                pool.append(a * b)
            elif kind == "tanh":
                pool.append(lib.tanh(a))
            else:
                k = 2 + (i % max(1, len(pool) - 2))   # never write into the leaves
                if k >= len(pool) or tuple(np.broadcast_shapes(pool[k].shape, b.shape)) != \
                        tuple(pool[k].shape):
                    continue
                target = pool[k]
                if b is target and kind in ("imul", "view_iadd"):
                    # the operand is the memory being written: torch refuses (it saved the
                    # operand, or reads a view of what it writes); the engine computes it
                    continue
                if kind == "iadd":
                    target += b
                elif kind == "imul":
                    target *= b
                elif kind == "isub":
                    target -= b * 0.5
                elif kind == "nograd_imul":
                    with lib.no_grad():
                        target *= 1.5
                elif kind == "view_iadd":
                    view = target[0:1]
                    view += b.reshape(-1)[0]
                elif kind == "nograd_view":
                    with lib.no_grad():
                        view = target[0:1]
                    view *= 2.0
                else:
                    target[0] = b.reshape(-1)[0] * 2
        if len(pool) == 2:
            return None
        return sum((t * (n + 1)).sum() for n, t in enumerate(pool[2:]))

    @given(steps=st.lists(step, min_size=1, max_size=15))
    def check(steps):
        rng = np.random.default_rng(len(steps))
        va, vb = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (3,))
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (va, vb))
        try:
            tloss = run(torch, (ta, tb), steps)
            if tloss is None:
                return
            tloss.backward()
            want = [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in (ta, tb)]
        except RuntimeError:
            want = None
        a, b = _leaf(va), _leaf(vb)
        try:
            run(ad, (a, b), steps).backward()
        except RuntimeError:
            assert want is None, "torch computes this program, the engine refused it"
            return
        assert want is not None, "torch refused (stale saved value) but we computed grads"
        for leaf, w in zip((a, b), want):
            got = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)
        # ad.grad (which prunes the graph to the targets) must agree
        a2, b2 = _leaf(va), _leaf(vb)
        got = ad.grad(run(ad, (a2, b2), steps), [a2, b2], allow_unused=True)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.zeros(w.shape) if g is None else g.numpy(), w,
                                       rtol=1e-10, atol=1e-12)

    check()


def test_topological_order_follows_the_version_an_op_saw():
    a = _leaf([1.0, 2.0])
    b = a * 1
    mul = b.grad_fn
    c = b.exp()
    b += 5                      # b now has an 'add' node; c still depends on the old b
    order = ad.topological_order(c)
    names = [t.grad_fn.name if t.grad_fn is not None else "leaf" for t in order]
    assert names == ["leaf", "mul", "exp"]
    assert order[1].grad_fn is mul and order[1] is not b
    assert all(t is not b for t in order)
    assert c.grad_fn.inputs[0] is order[1]       # node.inputs now name that version too
    both = ad.topological_order([c, b])
    assert [t.grad_fn.name if t.grad_fn else "leaf" for t in both] == \
        ["leaf", "mul", "exp", "add"]


# ---------------------------------------------------------------- writes through views, vs torch
# torch rebases: a write through a view gives the base the history "old base with the view's
# entries replaced" (CopySlices), and every view of a written base reads it again. Values,
# first- and second-order gradients must equal torch's for each kind of view.
VIEWS = {
    "slice": lambda t: t[1:, ::2],
    "int index": lambda t: t[1],
    "reshape": lambda t: t.reshape(2, 6),
    "view": lambda t: t.view(4, 3),
    "flatten": lambda t: t.flatten(),
    "transpose": lambda t: t.transpose(0, 1),
    "T": lambda t: t.T,
    "select": lambda t: t.select(1, 2),
    "narrow": lambda t: t.narrow(1, 1, 2),
    "diagonal": lambda t: t.diagonal(),
    "unsqueeze": lambda t: t.unsqueeze(0),
    "expand without overlap": lambda t: t.unsqueeze(0).expand(1, 3, 4),
    "movedim": lambda t: t.movedim(0, 1),
    "view of a view": lambda t: t[1:].T[1:3],
}


def _through_view(lib, view, x, s):
    y = x * 1
    v = view(y)
    v.mul_(s)           # the base's values change through the view
    v.add_(s * s)       # a chain of writes
    return [y, v]


def _into_base(lib, view, x, s):
    y = x.sin() + 1
    v = view(y)
    w = v * 2           # a consumer of the old view values
    y.mul_(s)           # the view's values change through the base
    y[0] = s * 3
    return [v, w, y]


def _setitem_in_view(lib, view, x, s):
    y = x * x
    v = view(y)
    v[..., 0] = s.exp()
    u = view(y)         # another view of the same base, made after the write
    u.sub_(s)
    return [y, v, u]


def _saving_writes(lib, view, x, s):
    y = x + 0
    v = view(y)
    v.pow_(2)            # writes whose op saved the values they overwrite
    v.div_(s + 2)
    v[..., :1].copy_(s * 2)  # a view of the view, written
    return [y.exp(), v]


SCENARIOS = {f.__name__.strip("_"): f for f in (_through_view, _into_base, _setitem_in_view,
                                                 _saving_writes)}


def _run_view_program(lib, grad, scenario, view, x_values, s_value):
    x = lib.tensor(x_values, dtype=lib.float64, requires_grad=True)
    s = lib.tensor(s_value, dtype=lib.float64, requires_grad=True)
    outs = scenario(lib, view, x, s)
    loss = sum((o * lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)),
                               dtype=lib.float64)).sum() for o in outs)
    gx, gs = grad(loss, [x, s], create_graph=True)
    second = (gx * gx).sum() + gs * gs
    hx, hs = grad(second, [x, s])
    return [o.detach().numpy().copy() for o in outs] + [
        t.detach().numpy() for t in (gx, gs, hx, hs)]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("view", VIEWS)
def test_writes_through_views_match_torch(view, scenario):
    torch = pytest.importorskip("torch")
    x_values = np.linspace(-0.9, 0.8, 12).reshape(3, 4)
    ours = _run_view_program(ad, ad.grad, SCENARIOS[scenario], VIEWS[view], x_values, 0.7)
    theirs = _run_view_program(torch, torch.autograd.grad, SCENARIOS[scenario], VIEWS[view],
                               x_values, 0.7)
    names = ["output"] * (len(ours) - 4) + ["d/dx", "d/ds", "d2/dx", "d2/ds"]
    for name, o, t in zip(names, ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_view_reads_its_base_again_after_the_base_is_written():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[1:]
    assert v.grad_fn.name == "getitem"
    y.mul_(x)                   # v's values are now x[1:] ** 2
    assert v.grad_fn.name == "as_strided" and y.grad_fn.name.startswith("mul")
    np.testing.assert_array_equal(v.numpy(), [4.0, 9.0])
    (g,) = ad.grad(v.sum(), x)
    np.testing.assert_array_equal(g.numpy(), [0.0, 4.0, 6.0])


def test_a_write_through_a_view_rebases_the_base_and_its_other_views():
    x = _leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    first, last = y[:2], y[2:]
    whole = y.reshape(2, 2)
    first.mul_(10.0)
    assert y.grad_fn.name == "copy_slices" and whole.grad_fn.name == "as_strided"
    assert last.grad_fn.name == "as_strided" and first.grad_fn.name == "as_strided"
    np.testing.assert_array_equal(whole.numpy(), [[10.0, 20.0], [3.0, 4.0]])
    (g,) = ad.grad(whole.sum() + last.sum(), x)
    np.testing.assert_array_equal(g.numpy(), [10.0, 10.0, 2.0, 2.0])


def test_views_of_a_written_base_cost_nothing_once_gone():
    x = _leaf([1.0, 2.0])
    y = x * 1
    for _ in range(1000):       # views made and dropped: the base keeps no list of them
        y[0:1].sum()
    box = y._vbox
    assert box is not None and len(box.views) < 50
    y.add_(1.0)
    (g,) = ad.grad(y.sum(), x)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_a_write_into_a_broadcast_view_with_repeated_entries_is_refused():
    y = _leaf([1.0]) * 1
    z = y.expand(3)
    with pytest.raises(ValueError, match="share one memory location"):
        z.add_(1.0)
