"""Signature parity with PyTorch: a name torch also has takes torch's parameters in torch's
slots, so positional and keyword calls written for torch mean the same here.

The audit (needs torch) compares, for every class of nn and nn.optim and every function
of nn.functional that torch also has, our positional parameters slot by slot with
torch's (the same names in the same order, none fewer), checks that every torch parameter
exists here, and that the defaults torch declares in Python are ours too. The behavioural tests pin
down what the parameters added for parity do: against torch where it is installed, and
against closed forms always.
"""
from __future__ import annotations

import functools
import inspect
import math
import re
import warnings

import numpy as np
import pytest

import autodiff as ad
import nn
import nn.functional as F
import nn.optim as optim

# ------------------------------------------------------------------------------- audit

#: Documented differences: name -> why ours differs from torch's signature. None at
#: present: additions of ours (F.dropout's generator=, BatchNorm1d's channels_last=, the
#: softmaxes' axis= alias) are keyword-only, so they take no slot of torch's.
EXCEPTIONS: dict[str, str] = {}


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _signature(fn, variadic=None):
    """[(name, positional?)] of fn's parameters without self/cls; None when Python cannot
    tell (a C function); `variadic` when it only has *args/**kwargs (a wrapper, or a
    class taking nothing of its own: Module.__init__(*args, **kwargs))."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    if params and all(p.kind in _VARIADIC for p in params):
        return variadic
    return [(p.name, p.kind in _POSITIONAL) for p in params if p.kind not in _VARIADIC]


def _doc_signature(fn, name):
    """torch's C functions document their signature on the docstring's first line:
    `gelu(input, approximate = 'none') -> Tensor`; parsed the same way as _signature."""
    first = (getattr(fn, "__doc__", None) or "").strip().split("\n")[0]
    m = re.match(rf"{name}\((.*)\)\s*->", first)
    if not m:
        return None
    out, positional = [], True
    for part in m.group(1).split(","):
        part = part.strip()
        if part == "*":
            positional = False
        elif part:
            out.append((part.split("=")[0].split(":")[0].strip(), positional))
    return out


def _different_defaults(ours, theirs):
    """[(name, ours, torch's)] where both declare a default and they differ (only where
    Python can read torch's signature)."""
    try:
        mine, torchs = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    except (TypeError, ValueError):
        return []
    out = []
    for name, p in torchs.items():
        q = mine.get(name)
        if q is None or p.default is p.empty or q.default is q.empty:
            continue
        a, b = q.default, p.default
        same = (a == b or (a != a and b != b)) if isinstance(b, (int, float)) else a == b
        if not same or isinstance(a, bool) != isinstance(b, bool):
            out.append((name, a, b))
    return out


def _torch_signature(torch, namespace, name, init):
    obj = getattr(namespace, name)
    if init:
        sig = _signature(obj.__init__, variadic=False)  # False: ask __new__ (Parameter)
        if sig is False:
            sig = _signature(obj.__new__, variadic=[])
        return sig
    sig = _signature(obj)
    if sig is None:
        sig = _doc_signature(obj, name)
    if sig is None and hasattr(namespace, "_" + name):  # boolean_dispatch (max_pool2d)
        sig = _signature(getattr(namespace, "_" + name))
    return sig


@functools.lru_cache(maxsize=1)
def _audit(torch):
    """(names checked, {label: problem}) for every name both libraries have (computed once:
    reading ~200 signatures takes a second)."""
    checked, problems = [], {}
    spaces = [("nn", nn, torch.nn, True), ("F", F, torch.nn.functional, False),
              ("optim", optim, torch.optim, True)]
    for label, ours_ns, theirs_ns, init in spaces:
        for name in dir(ours_ns):
            if name.startswith("_") or not hasattr(theirs_ns, name):
                continue
            ours, theirs = getattr(ours_ns, name), getattr(theirs_ns, name)
            if init != (isinstance(ours, type) and isinstance(theirs, type)):
                continue
            if not callable(ours):
                continue
            mine = _signature(ours.__init__ if init else ours, variadic=[])
            torchs = _torch_signature(torch, theirs_ns, name, init)
            key = f"{label}.{name}"
            if torchs is None:
                problems[key] = "torch's signature cannot be read"
                continue
            checked.append(key)
            our_pos = [n for n, pos in mine if pos]
            their_pos = [n for n, pos in torchs if pos]
            slots = [(i, n, their_pos[i] if i < len(their_pos) else None)
                     for i, n in enumerate(our_pos) if i >= len(their_pos) or their_pos[i] != n]
            # torch's positional parameters that are keyword-only (or absent) here
            slots += [(i, None, n) for i, n in enumerate(their_pos) if i >= len(our_pos)]
            names = {n for n, _ in mine}
            missing = [n for n, _ in torchs if n not in names]
            defaults = _different_defaults(ours.__init__ if init else ours,
                                           theirs.__init__ if init else theirs)
            if slots or missing or defaults:
                problems[key] = (f"slot differences {slots}, torch parameters we lack "
                                 f"{missing}, different defaults {defaults}")
    return checked, problems


def test_every_shared_name_has_torchs_parameters_in_torchs_slots():
    torch = pytest.importorskip("torch")
    checked, problems = _audit(torch)
    assert len(checked) >= 85, f"only {len(checked)} names audited: {checked}"
    unexplained = {k: v for k, v in problems.items() if k not in EXCEPTIONS}
    assert not unexplained, "\n".join(f"{k}: {v}" for k, v in sorted(unexplained.items()))
    stale = sorted(set(EXCEPTIONS) - set(problems))  # fixed since: must leave the table
    assert not stale, f"no longer differ from torch, remove from EXCEPTIONS: {stale}"


def test_the_audit_sees_a_slot_difference():
    """The comparison itself: a function whose second slot differs is reported."""
    assert _signature(lambda input, reduction="mean", weight=None: None) == [
        ("input", True), ("reduction", True), ("weight", True)]
    doc = type("D", (), {"__doc__": "gelu(input, approximate = 'none') -> Tensor"})
    assert _doc_signature(doc, "gelu") == [("input", True), ("approximate", True)]
    assert _different_defaults(lambda input, p=0.5: None, lambda input, p=0.1: None) == [
        ("p", 0.5, 0.1)]
    assert _different_defaults(lambda flag=0: None, lambda flag=False: None) == [
        ("flag", 0, False)]


# Positional calls written for torch: the same attributes on both sides.
POSITIONAL_CALLS = [
    ("MSELoss", (None, False), ("reduction",)),
    ("L1Loss", (False, True, "none"), ("reduction",)),
    ("NLLLoss", (None, None, 4, False), ("reduction", "ignore_index")),
    ("CrossEntropyLoss", (None, True, 2, None, "sum", 0.2),
     ("reduction", "ignore_index", "label_smoothing")),
    ("BCELoss", (None, None, None, "sum"), ("reduction",)),
    ("HuberLoss", ("sum", 0.5), ("reduction", "delta")),
    ("BatchNorm1d", (4, 1e-3, None, False, False), ("eps", "momentum", "affine",
                                                   "track_running_stats")),
    ("InstanceNorm2d", (4, 1e-3, 0.2, True, True), ("eps", "momentum", "affine",
                                                   "track_running_stats")),
    ("GroupNorm", (2, 4, 1e-3, False), ("num_groups", "num_channels", "eps", "affine")),
    ("LayerNorm", ((2, 3), 1e-3, True, False), ("normalized_shape", "eps",
                                               "elementwise_affine")),
    ("Embedding", (5, 3, -1, 2.0, 1.0, True, False),
     ("padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse")),
    ("Hardtanh", (-2.0, 3.0, False), ("min_val", "max_val", "inplace")),
    ("LeakyReLU", (0.2, False), ("negative_slope", "inplace")),
    ("Softplus", (2.0, 10.0), ("beta", "threshold")),
    ("Linear", (3, 2, False), ("in_features", "out_features")),
]


@pytest.mark.parametrize(("name", "args", "attributes"), POSITIONAL_CALLS,
                         ids=[c[0] for c in POSITIONAL_CALLS])
def test_positional_constructor_calls_mean_what_they_mean_in_torch(name, args, attributes):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy reduction arguments warn on both sides
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    for attribute in attributes:
        mine, torchs = getattr(ours, attribute), getattr(theirs, attribute)
        assert mine == (tuple(torchs) if isinstance(torchs, (list, tuple)) else torchs), \
            (name, attribute)
    assert list(ours.state_dict()) == list(theirs.state_dict()), name
    assert [tuple(p.shape) for p in ours.parameters()] == \
        [tuple(p.shape) for p in theirs.parameters()], name


# ---------------------------------------------------------------- legacy reductions

# (size_average, reduce) -> the reduction torch's legacy rule gives
LEGACY = [((None, None), None), ((True, None), "mean"), ((False, None), "sum"),
          ((None, True), "mean"), ((None, False), "none"), ((False, False), "none"),
          ((True, False), "none"), ((False, True), "sum"), ((True, True), "mean")]

_MATCH = "size_average and reduce args will be deprecated"


def _regression_pair(rng):
    return (ad.tensor(rng.standard_normal((3, 4))), ad.tensor(rng.standard_normal((3, 4))))


@pytest.mark.parametrize(("legacy", "expected"), LEGACY)
def test_loss_layers_convert_size_average_and_reduce_as_torch(legacy, expected):
    size_average, reduce = legacy
    for cls in (nn.MSELoss, nn.L1Loss, nn.BCELoss, nn.BCEWithLogitsLoss,
                nn.CrossEntropyLoss, nn.NLLLoss):
        if expected is None:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert cls(size_average=size_average, reduce=reduce).reduction == "mean"
            continue
        with pytest.warns(UserWarning, match=_MATCH) as record:
            # the reduction given is ignored once a legacy argument is, as in torch
            layer = cls(size_average=size_average, reduce=reduce, reduction="sum")
        assert layer.reduction == expected, cls.__name__
        assert f"reduction='{expected}'" in str(record[0].message)
        assert record[0].filename == __file__  # attributed to the caller's line


@pytest.mark.parametrize(("legacy", "expected"), [c for c in LEGACY if c[1] is not None])
def test_functional_losses_convert_size_average_and_reduce(legacy, expected):
    size_average, reduce = legacy
    rng = np.random.default_rng(0)
    x, t = _regression_pair(rng)
    d = x.numpy() - t.numpy()
    closed = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[expected]
    logits = ad.tensor(rng.standard_normal((5, 3)))
    idx = np.array([0, 2, 1, 1, 0])
    logp = logits.numpy() - np.log(np.exp(logits.numpy()).sum(1, keepdims=True))
    rows = -logp[np.arange(5), idx]
    p = ad.tensor(rng.uniform(0.1, 0.9, (3, 4)))
    positive = (t.numpy() > 0).astype(np.float64)
    bce = -positive * np.log(p.numpy()) - (1 - positive) * np.log(1 - p.numpy())
    t01 = ad.tensor(positive)
    cases = [
        (lambda: F.mse_loss(x, t, size_average, reduce), closed(d * d)),
        (lambda: F.l1_loss(x, t, size_average, reduce), closed(np.abs(d))),
        (lambda: F.nll_loss(ad.tensor(logp), idx, None, size_average, -100, reduce), closed(rows)),
        (lambda: F.cross_entropy(logits, idx, None, size_average, -100, reduce), closed(rows)),
        (lambda: F.binary_cross_entropy(p, t01, None, size_average, reduce), closed(bce)),
        (lambda: F.binary_cross_entropy_with_logits(ad.tensor(np.log(p.numpy() / (1 - p.numpy()))),
                                                    t01, None, size_average, reduce), closed(bce)),
    ]
    for call, want in cases:
        with pytest.warns(UserWarning, match=_MATCH) as record:
            got = call()
        assert record[0].filename == __file__
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_legacy_arguments_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w = rng.uniform(0.5, 2.0, 3)
    idx = np.array([0, 2, 1, 2])
    tf = torch.nn.functional
    T = torch.tensor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for size_average, reduce in [c[0] for c in LEGACY]:
            pairs = [
                (F.mse_loss(ad.tensor(x), ad.tensor(t), size_average, reduce),
                 tf.mse_loss(T(x), T(t), size_average, reduce)),
                (nn.L1Loss(size_average, reduce)(ad.tensor(x), ad.tensor(t)),
                 torch.nn.L1Loss(size_average, reduce)(T(x), T(t))),
                # positional: weight, size_average, ignore_index, reduce
                (nn.CrossEntropyLoss(ad.tensor(w), size_average, 1, reduce)(ad.tensor(x), idx),
                 torch.nn.CrossEntropyLoss(T(w), size_average, 1, reduce)(T(x), T(idx))),
                (F.nll_loss(ad.tensor(x), idx, ad.tensor(w), size_average, 2, reduce),
                 tf.nll_loss(T(x), T(idx), T(w), size_average, 2, reduce)),
                (nn.BCEWithLogitsLoss(ad.tensor(w), size_average, reduce, "mean",
                                      ad.tensor(w[::-1].copy()))(ad.tensor(x), ad.tensor(t > 0)),
                 torch.nn.BCEWithLogitsLoss(T(w), size_average, reduce, "mean",
                                            T(w[::-1].copy()))(T(x), T(t > 0).double())),
            ]
            for ours, theirs in pairs:
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_cross_entropy_third_slot_is_size_average_not_ignore_index():
    """nn.CrossEntropyLoss(w, None, 3): the 3 is ignore_index (slot 2), as in torch."""
    loss = nn.CrossEntropyLoss(None, None, 3)
    assert loss.ignore_index == 3 and loss.reduction == "mean"
    x = ad.tensor(np.random.default_rng(2).standard_normal((4, 5)))
    kept = np.array([0, 1, 2])
    full = F.cross_entropy(x, np.array([0, 1, 2, 3]), reduction="none").numpy()
    np.testing.assert_allclose(loss(x, np.array([0, 1, 2, 3])).item(), full[kept].mean())


def test_course_code_size_average_false_runs():
    with pytest.warns(UserWarning, match=_MATCH):
        loss = nn.MSELoss(size_average=False)
    x, t = ad.tensor([1.0, 2.0]), ad.tensor([0.0, 0.0])
    assert loss(x, t).item() == 5.0


# ---------------------------------------------------------------- pointwise loss weights

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_weight_closed_forms(reduction):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = rng.uniform(0.1, 2.0, (3, 4))
    d = x - t
    huber = np.where(np.abs(d) < 0.5, 0.5 * d * d, 0.5 * (np.abs(d) - 0.25))
    for fn, elem, weighted_mean in [(F.mse_loss, d * d, True), (F.l1_loss, np.abs(d), True),
                                    (lambda *a, **k: F.huber_loss(*a, delta=0.5, **k), huber,
                                     False)]:
        wt = ad.tensor(w, requires_grad=True)
        got = fn(ad.tensor(x), ad.tensor(t), reduction=reduction, weight=wt)
        if reduction == "none":
            want = w * elem
        elif reduction == "sum":
            want = (w * elem).sum()
        else:  # mse/l1 divide by the total weight; huber takes the plain mean
            want = (w * elem).sum() / (w.sum() if weighted_mean else w.size)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
        got.sum().backward()  # the weight is differentiable, as in torch
        if reduction == "sum":
            np.testing.assert_allclose(wt.grad.numpy(), elem, rtol=1e-12)
        with pytest.raises(ValueError, match="weight of shape .* input's shape"):
            fn(ad.tensor(x), ad.tensor(t), weight=ad.tensor(w[0]))


def test_pointwise_weight_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, t, w = rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), rng.uniform(0, 1, (5, 2))
    tf = torch.nn.functional
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        for reduction in ("mean", "sum", "none"):
            ow, tw = ad.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
            ours = getattr(F, name)(ad.tensor(x), ad.tensor(t), reduction=reduction, weight=ow)
            theirs = getattr(tf, name)(torch.tensor(x), torch.tensor(t), reduction=reduction,
                                       weight=tw)
            np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
            ours.sum().backward()
            theirs.sum().backward()
            np.testing.assert_allclose(ow.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- device/dtype and bias

def test_norm_layers_take_device_before_dtype_positionally():
    for layer in (nn.BatchNorm1d(3, 1e-5, 0.1, True, True, "cpu", ad.float64),
                  nn.BatchNorm2d(3, 1e-5, 0.1, True, True, "cpu", ad.float64),
                  nn.InstanceNorm2d(3, 1e-5, 0.1, True, True, "cpu", ad.float64),
                  nn.GroupNorm(1, 3, 1e-5, True, "cpu", ad.float64),
                  nn.LayerNorm(3, 1e-5, True, True, "cpu", ad.float64),
                  nn.Linear(3, 2, True, "cpu", ad.float64),
                  nn.Embedding(4, 3, None, None, 2.0, False, False, None, False, "cpu",
                               ad.float64)):
        assert layer.weight.dtype == ad.float64, type(layer).__name__
        assert layer.weight.device == "cpu"


def _bn_closed_form(x, weight, bias, axes):
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = y if weight is None else y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


@pytest.mark.parametrize("affine", [True, False])
def test_norm_layers_bias_false(affine):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 2, 2))
    layers = [(nn.BatchNorm2d(3, affine=affine, bias=False, dtype=ad.float64), (0, 2, 3),
               {"running_mean", "running_var", "num_batches_tracked"}),
              (nn.InstanceNorm2d(3, affine=affine, bias=False, dtype=ad.float64), (2, 3), set()),
              (nn.GroupNorm(3, 3, affine=affine, bias=False, dtype=ad.float64), (2, 3), set())]
    for layer, axes, buffers in layers:
        assert layer.bias is None
        assert (layer.weight is not None) == affine
        assert set(layer.state_dict()) == buffers | ({"weight"} if affine else set())
        assert [n for n, _ in layer.named_parameters()] == (["weight"] if affine else [])
        assert "bias=False" in repr(layer)
        if affine:
            with ad.no_grad():
                layer.weight.data[...] = [0.5, 2.0, -1.0]
        want = _bn_closed_form(x, layer.weight.numpy() if affine else None, None, axes)
        out = layer(ad.tensor(x))
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-9, atol=1e-12)
        if affine:  # no bias to reach, the weight still learns: d sum(y) / d w_c = sum xhat_c
            (out * out).sum().backward()
            xhat = want / layer.weight.numpy().reshape(1, -1, 1, 1)
            np.testing.assert_allclose(layer.weight.grad.numpy(),
                                       (2 * want * xhat).sum((0, 2, 3)), rtol=1e-9)


def test_norm_layers_bias_false_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 5))
    pairs = [(nn.BatchNorm1d(3, bias=False, dtype=ad.float64),
              torch.nn.BatchNorm1d(3, bias=False, dtype=torch.float64)),
             (nn.GroupNorm(1, 3, bias=False, dtype=ad.float64),
              torch.nn.GroupNorm(1, 3, bias=False, dtype=torch.float64)),
             (nn.LayerNorm(5, bias=False, dtype=ad.float64),
              torch.nn.LayerNorm(5, bias=False, dtype=torch.float64)),
             (nn.BatchNorm1d(3, affine=False, bias=False, dtype=ad.float64),
              torch.nn.BatchNorm1d(3, affine=False, bias=False, dtype=torch.float64))]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        if ours.weight is not None:
            w = rng.uniform(0.5, 2.0, tuple(ours.weight.shape))
            with ad.no_grad():
                ours.weight.data[...] = w
            with torch.no_grad():
                theirs.weight.copy_(torch.tensor(w))
        xo, xt = ad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
        g = rng.standard_normal(x.shape)
        (yo * ad.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
        if ours.weight is not None:
            np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                       rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------- Embedding

def _renormed(table, ids, max_norm, p):
    out = table.copy()
    for r in np.unique(ids):
        n = np.linalg.norm(out[r], ord=p)
        if n > max_norm:
            out[r] = out[r] * (max_norm / (n + 1e-7))
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_looked_up_rows_in_place(norm_type):
    rng = np.random.default_rng(7)
    table = rng.standard_normal((6, 4)) * 2
    table[4] = 0.01  # below max_norm: untouched
    ids = np.array([[0, 1, 1], [4, 1, 3]])
    layer = nn.Embedding(6, 4, None, 1.5, norm_type, _weight=ad.tensor(table))
    out = layer(ad.tensor(ids))
    want = _renormed(table, ids, 1.5, norm_type)
    np.testing.assert_allclose(layer.weight.numpy(), want, rtol=1e-12)  # in place
    np.testing.assert_allclose(out.numpy(), want[ids], rtol=1e-12)
    np.testing.assert_array_equal(layer.weight.numpy()[[2, 5]], table[[2, 5]])  # not looked up
    assert layer.weight.grad is None  # the renormalisation is outside the graph
    functional_table = ad.tensor(table.copy())
    F.embedding(ad.tensor(ids), functional_table, None, 1.5, norm_type)
    np.testing.assert_allclose(functional_table.numpy(), want, rtol=1e-12)


def test_embedding_scale_grad_by_freq_divides_each_rows_gradient_by_its_count():
    rng = np.random.default_rng(8)
    ids = np.array([[0, 1, 1], [5, 1, 3]])
    g = rng.standard_normal((2, 3, 4))
    table = ad.tensor(rng.standard_normal((6, 4)))
    layer = nn.Embedding(6, 4, None, None, 2.0, True, _weight=table)
    before = layer.weight.numpy().copy()
    out = layer(ad.tensor(ids))
    np.testing.assert_array_equal(out.numpy(), before[ids])  # values unchanged
    (out * ad.tensor(g)).sum().backward()
    want = np.zeros((6, 4))
    np.add.at(want, ids, g)
    counts = np.bincount(ids.ravel(), minlength=6)
    want /= np.maximum(counts, 1)[:, None]
    np.testing.assert_allclose(layer.weight.grad.numpy(), want, rtol=1e-12)
    # and through F.embedding's slot, with padding_idx (row 3 gets nothing)
    w = ad.tensor(before, requires_grad=True)
    (F.embedding(ad.tensor(ids), w, 3, None, 2.0, True) * ad.tensor(g)).sum().backward()
    want[3] = 0
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12)


def test_embedding_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    table = (rng.standard_normal((7, 3)) * 2).astype(np.float32)
    ids = np.array([[0, 2, 2, 6], [2, 5, 0, 1]])
    g = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for args in [(None, 1.2, 2.0, True), (1, 0.9, 1.0, False), (-2, None, 2.0, True),
                 (None, 1.0, float("inf"), True)]:
        ours = nn.Embedding(7, 3, *args, False, ad.tensor(table.copy()))
        theirs = torch.nn.Embedding(7, 3, *args, False, torch.tensor(table.copy()))
        for _ in range(2):  # the renormalisation happens at every forward
            yo, yt = ours(ad.tensor(ids)), theirs(torch.tensor(ids))
            np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=2e-6, atol=1e-7)
            (yo * ad.tensor(g)).sum().backward()
            (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(),
                                   rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                   rtol=2e-6, atol=1e-6)
        assert repr(ours) == repr(theirs)


def test_embedding_freeze_sparse_and_pretrained():
    frozen = nn.Embedding(3, 2, _weight=ad.ones(3, 2), _freeze=True)
    assert not frozen.weight.requires_grad and list(frozen.parameters())
    assert nn.Embedding(3, 2).weight.requires_grad
    with pytest.raises(NotImplementedError, match="Embedding: sparse=True"):
        nn.Embedding(3, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="embedding: sparse=True"):
        F.embedding(ad.tensor([0]), ad.ones(3, 2), sparse=True)
    layer = nn.Embedding.from_pretrained(ad.ones(3, 2) * 5, True, None, 1.0)
    layer(ad.tensor([1]))
    np.testing.assert_allclose(np.linalg.norm(layer.weight.numpy()[1]), 1.0, rtol=1e-6)
    assert layer.max_norm == 1.0 and not layer.weight.requires_grad


# ---------------------------------------------------------------- F: parameter names

def test_functional_first_parameter_is_input_by_keyword():
    x = ad.tensor(np.linspace(-2, 2, 6).reshape(2, 3))
    v = x.numpy()
    for name, want in [("relu", np.maximum(v, 0)), ("sigmoid", 1 / (1 + np.exp(-v))),
                       ("tanh", np.tanh(v)), ("silu", v / (1 + np.exp(-v))),
                       ("elu", np.where(v > 0, v, np.expm1(v))),
                       ("leaky_relu", np.where(v > 0, v, 0.01 * v)),
                       ("gelu", v / 2 * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))), ("softplus", np.log1p(np.exp(v))), ("dropout", v)]:
        kw = {"training": False} if name == "dropout" else {}
        got = getattr(F, name)(input=x, **kw)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)
    w = ad.tensor(np.ones((2, 3)))
    np.testing.assert_allclose(F.linear(input=x, weight=w).numpy(), x.numpy() @ w.numpy().T)
    np.testing.assert_array_equal(F.one_hot(tensor=ad.tensor([1, 0]), num_classes=3).numpy(),
                                  np.eye(3, dtype=np.int64)[[1, 0]])


INPLACE = [("relu", lambda x: np.maximum(x, 0)), ("relu6", lambda x: np.clip(x, 0, 6)),
           ("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x)),
           ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
           ("silu", lambda x: x / (1 + np.exp(-x))), ("hardtanh", lambda x: np.clip(x, -1, 1)),
           ("hardsigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
           ("hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6),
           ("celu", lambda x: np.where(x > 0, x, np.expm1(x))),
           ("selu", lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772
                                                           * np.expm1(x))),
           ("mish", lambda x: x * np.tanh(np.log1p(np.exp(x))))]


@pytest.mark.parametrize(("name", "closed"), INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_activations_overwrite_their_input(name, closed):
    values = np.array([-7.0, -2.5, -0.5, 0.25, 1.5, 8.0])
    x = ad.tensor(values.copy())
    assert getattr(F, name)(x, inplace=True) is x
    np.testing.assert_allclose(x.numpy(), closed(values), rtol=1e-12, atol=1e-15)
    fresh = ad.tensor(values.copy())
    getattr(F, name)(fresh)  # out of place by default
    np.testing.assert_array_equal(fresh.numpy(), values)
    # through a non-leaf: the gradient of sum(f(2w)^2), the same as out of place
    w = ad.tensor(values / 2, requires_grad=True)
    h = w * 2
    getattr(F, name)(h, inplace=True)
    (h * h).sum().backward()
    w2 = ad.tensor(values / 2, requires_grad=True)
    ref = getattr(F, name)(w2 * 2)
    (ref * ref).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        getattr(F, name)(ad.tensor(values, requires_grad=True), inplace=True)


def test_inplace_relu_layer_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x, w1, w2 = (rng.standard_normal(s) for s in ((4, 3), (5, 3), (2, 5)))

    def model(lib, dtype):
        return lib.Sequential(lib.Linear(3, 5, bias=False, dtype=dtype),
                              lib.Hardtanh(-0.5, 0.5, True),
                              lib.Linear(5, 2, bias=False, dtype=dtype), lib.ReLU(inplace=True))

    ours, theirs = model(nn, ad.float64), model(torch.nn, torch.float64)
    with ad.no_grad():
        ours[0].weight.data[...], ours[2].weight.data[...] = w1, w2
    with torch.no_grad():
        theirs[0].weight.copy_(torch.tensor(w1))
        theirs[2].weight.copy_(torch.tensor(w2))
    yo, yt = ours(ad.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12)
    (yo * yo).sum().backward()
    (yt * yt).sum().backward()
    for i in (0, 2):
        np.testing.assert_allclose(ours[i].weight.grad.numpy(), theirs[i].weight.grad.numpy(),
                                   rtol=1e-12)
    assert repr(ours) == repr(theirs)


def test_activation_layers_print_as_torch():
    torch = pytest.importorskip("torch")
    for name in ("ReLU", "LeakyReLU", "ELU", "SiLU", "Hardtanh", "ReLU6", "Mish", "SELU",
                 "CELU", "Hardswish", "Hardsigmoid"):
        for kw in ({}, {"inplace": True}):
            assert repr(getattr(nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))


def test_normalize_out():
    x = ad.tensor(np.arange(1.0, 7.0).reshape(2, 3))
    out = ad.zeros(2, 3, dtype=ad.float64)
    assert F.normalize(x, 2.0, 1, 1e-12, out) is out
    np.testing.assert_allclose(out.numpy(), x.numpy() / np.linalg.norm(x.numpy(), axis=1,
                                                                         keepdims=True))
    with pytest.raises(RuntimeError, match="out= does not support automatic differentiation"):
        F.normalize(ad.tensor(x.numpy(), requires_grad=True), out=out)
    with pytest.raises(ValueError, match="out has shape"):
        F.normalize(x, out=ad.zeros(3, 2))


def test_hardtanh_deprecated_keywords():
    with pytest.warns(FutureWarning, match="`min_value` is deprecated and renamed to `min_val`"):
        layer = nn.Hardtanh(min_value=-0.5)
    with pytest.warns(FutureWarning, match="`max_value` is deprecated"):
        layer2 = nn.Hardtanh(-1.0, 1.0, False, None, 0.25)  # torch's slots
    assert (layer.min_val, layer.max_val) == (-0.5, 1.0)
    assert (layer2.min_val, layer2.max_val) == (-1.0, 0.25)
    x = ad.tensor([-2.0, 0.1, 2.0])
    np.testing.assert_allclose(layer2(x).numpy(), [-1.0, 0.1, 0.25])
    with pytest.raises(ValueError, match="must be greater than min_val"):
        nn.Hardtanh(1.0, 1.0)  # torch refuses equal bounds too


# ---------------------------------------------------------------- optimizers

def _run(tensor, opt_factory, steps=4, seed=10):
    """Parameters after `steps` steps on f(theta) = sum(c * theta^2) + sum(theta^3) / 3,
    with `tensor` = ad.tensor or torch.tensor."""
    rng = np.random.default_rng(seed)
    theta = tensor(rng.standard_normal(5), requires_grad=True)
    c = tensor(rng.uniform(0.5, 2.0, 5))
    opt = opt_factory([theta])
    for _ in range(steps):
        opt.zero_grad()
        ((c * theta * theta).sum() + (theta * theta * theta).sum() / 3).backward()
        opt.step()
    return theta.detach().numpy()


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1, maximize=True, foreach=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, maximize=True, fused=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True,
                  maximize=True)),
    ("AdamW", dict(lr=0.1, maximize=True, foreach=False)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True, foreach=None)),
]


@pytest.mark.parametrize(("name", "kw"), OPTIMIZERS)
def test_optimizer_options_against_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours = _run(ad.tensor, lambda p: getattr(optim, name)(p, **kw))
    theirs = _run(torch.tensor, lambda p: getattr(torch.optim, name)(p, **kw))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_maximize_and_decoupled_weight_decay_closed_forms():
    rng = np.random.default_rng(11)
    theta0, g = rng.standard_normal(4), rng.standard_normal(4)

    def one_step(opt_cls, **kw):
        theta = ad.tensor(theta0.copy(), requires_grad=True)
        opt = opt_cls([theta], **kw)
        theta.grad = ad.tensor(g)
        opt.step()
        return theta.numpy()

    # one SGD step with maximize climbs: theta + lr (g - wd theta)
    np.testing.assert_allclose(one_step(optim.SGD, lr=0.1, weight_decay=0.2, maximize=True),
                               theta0 + 0.1 * (g - 0.2 * theta0), rtol=1e-12)
    # Adam's first step is lr * sign-ish m / (sqrt(v) + eps) with m = g, v = g^2 bias-corrected
    lr, wd, eps = 0.01, 0.5, 1e-8
    adam_step = lr * g / (np.abs(g) + eps)
    np.testing.assert_allclose(one_step(optim.Adam, lr=lr, weight_decay=wd,
                                        decoupled_weight_decay=True),
                               theta0 * (1 - lr * wd) - adam_step, rtol=1e-12)
    np.testing.assert_allclose(one_step(optim.Adam, lr=lr, weight_decay=wd,
                                        decoupled_weight_decay=True),
                               one_step(optim.AdamW, lr=lr, weight_decay=wd), rtol=0)
    np.testing.assert_allclose(one_step(optim.Adam, lr=lr, maximize=True),
                               theta0 + adam_step, rtol=1e-12)


def test_optimizer_positional_slots_and_refused_options():
    p = [ad.zeros(2, requires_grad=True)]
    # torch's RMSprop takes capturable, foreach, maximize, differentiable positionally
    assert optim.RMSprop(p, 0.01, 0.99, 1e-8, 0, 0, False, False, None, True) \
        .param_groups[0]["maximize"] is True
    assert optim.Adagrad(p, 0.01, 0, 0, 0, 1e-10, True).param_groups[0]["foreach"] is True
    for name in ("SGD", "Adam", "AdamW", "Adagrad"):
        cls = getattr(optim, name)
        with pytest.raises(RuntimeError, match=f"{name}: `fused` and `foreach`"):
            cls(p, foreach=True, fused=True)
        with pytest.raises(NotImplementedError, match=f"{name}: differentiable=True"):
            cls(p, differentiable=True)
    for cls in (optim.Adam, optim.AdamW, optim.RMSprop):
        with pytest.raises(ValueError, match="capturable=True"):
            cls(p, capturable=True)
    assert optim.AdamW(p).param_groups[0]["decoupled_weight_decay"] is True


def test_checkpoint_without_new_hyperparameters_keeps_the_math():
    """A state_dict saved before decoupled_weight_decay/foreach... existed loads with this
    optimizer's defaults for them: an old AdamW checkpoint stays decoupled."""
    for cls, decoupled in ((optim.AdamW, True), (optim.Adam, False)):
        theta = ad.tensor([1.0, -2.0], requires_grad=True)
        opt = cls([theta], lr=0.1, weight_decay=0.5)
        old = opt.state_dict()
        for group in old["param_groups"]:
            for key in ("decoupled_weight_decay", "foreach", "fused", "capturable",
                        "differentiable"):
                del group[key]
        opt.load_state_dict(old)
        assert opt.param_groups[0]["decoupled_weight_decay"] is decoupled
        theta.grad = ad.tensor([0.0, 0.0])
        opt.step()  # zero gradient: decoupled, theta * (1 - lr wd); else an L2 Adam step of lr
        want = [0.95, -1.9] if decoupled else [0.9, -1.9]
        np.testing.assert_allclose(theta.numpy(), want, rtol=1e-6)


def test_optimizer_groups_hold_torchs_keys():
    torch = pytest.importorskip("torch")
    for name in ("SGD", "Adam", "AdamW", "Adagrad", "RMSprop"):
        ours = getattr(optim, name)([ad.zeros(2, requires_grad=True)])
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
        assert set(ours.param_groups[0]) == set(theirs.param_groups[0]), name
        assert {k: v for k, v in ours.param_groups[0].items() if k != "params"} == \
            {k: (tuple(v) if isinstance(v, tuple) else v)
             for k, v in theirs.param_groups[0].items() if k != "params"}, name
