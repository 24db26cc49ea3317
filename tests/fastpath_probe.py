"""Values and gradients of every op-table row, and of the paths the speed layer tunes, saved
to an .npz file: tests/test_fastpath.py runs this once with the fast path and once with
AUTODIFF_FASTPATH=0 and requires the two files to be identical, bit for bit.

    python tests/fastpath_probe.py OUT.npz
"""
import os
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import autodiff as ad  # noqa: E402
from op_table import OPS  # noqa: E402

results = {}


def put(key, value):
    if isinstance(value, ad.Tensor):
        value = value.data
    if value is None:
        value = np.array("None")
    results[f"{len(results):05d} {key}"] = np.asarray(value)


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def probe_row(row, dtype, case):
    xs = [ad.tensor(a.astype(dtype), requires_grad=row.differentiable) for a in case.arrays]
    outs = as_tuple(row.fn(*xs, **case.kwargs))
    for o in outs:
        put(f"{row.name} {dtype} value", o)
    if not row.differentiable:
        return
    rng = np.random.default_rng(0)
    loss = sum((o * ad.tensor(rng.standard_normal(o.shape).astype(dtype))).sum() for o in outs)
    loss.backward(retain_graph=True)
    for x in xs:
        put(f"{row.name} {dtype} grad", x.grad)
    for o in outs:  # kept gradients are part of the result
        put(f"{row.name} {dtype} kept", ad.kept_grad(o))
    if dtype == np.float64:  # second order: the create_graph walk
        gs = ad.grad(loss, xs, create_graph=True, allow_unused=True)
        total = sum((g * g).sum() for g in gs if g is not None)
        if isinstance(total, ad.Tensor) and total.requires_grad:
            for g2 in ad.grad(total, xs, allow_unused=True):
                put(f"{row.name} {dtype} grad2", g2)


probe_settings = settings(max_examples=4, derandomize=True, database=None, deadline=None,
                          suppress_health_check=list(HealthCheck))


def probe_op_table():
    for row in OPS:
        for dtype in (np.float64, np.float32, ad.bfloat16):
            if np.dtype(dtype) not in row.dtypes:
                continue

            run_row(row, dtype)


def run_row(row, dtype):
    @probe_settings
    @given(data=st.data())
    def run(data):
        probe_row(row, dtype, data.draw(row.inputs(np.float64)))
    run()


def probe_tuned_paths():
    """The paths _fastpath.py changes: scratch gradients (relu, conv2d), leaves that share
    one gradient array, roots given a gradient, in-place writes, hooks, retained grads."""
    rng = np.random.default_rng(1)
    x = ad.tensor(rng.standard_normal((4, 3, 6, 6)), requires_grad=True)
    w = ad.tensor(rng.standard_normal((5, 3, 3, 3)), requires_grad=True)
    b = ad.tensor(rng.standard_normal(5), requires_grad=True)
    h = ad.conv2d(x, w, b, padding=1).relu()
    y = ad.max_pool2d(h, 2) + ad.avg_pool2d(h, 2)
    z = ad.batch_norm(y, training=True, weight=ad.ones(5, dtype=ad.float64))
    (z * z).sum().backward()
    for t in (x, w, b):
        put("conv grad", t.grad)
    a = ad.tensor(rng.standard_normal(7), requires_grad=True)
    c = ad.tensor(rng.standard_normal(7), requires_grad=True)
    s = a + c  # one gradient array sent to both leaves
    s.retain_grad()
    s.register_hook(lambda g: g * 2.0)
    (s.relu() * 3.0).backward(gradient=ad.ones(7, dtype=ad.float64))
    put("shared a", a.grad)
    put("shared c", c.grad)
    put("retained", s.grad)
    d = a.detach().clone().requires_grad_()
    e = d * 2.0
    f = e + c  # recorded before the write: routed to the version of e it saw
    e += c
    e *= 3.0
    (f * 2.0 + e * 5.0).sum().backward()
    put("inplace d", d.grad)
    put("inplace c", c.grad)
    with ad.keep_grads():
        u = ad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
        v = ad.softmax_cross_entropy(u.relu() @ ad.tensor(rng.standard_normal((4, 5))),
                                     ad.tensor(np.array([0, 4, 2])))
        v.mean().backward()
        for t in ad.topological_order(v):
            put("kept all", ad.kept_grad(t))
            if t.grad_fn is not None:
                for gi in ad.kept_input_grads(t.grad_fn):
                    put("kept inputs", gi)


if __name__ == "__main__":
    probe_op_table()
    probe_tuned_paths()
    put("fastpath enabled", np.array(ad.Function.apply.__func__.__module__))
    np.savez(sys.argv[1], **results)
