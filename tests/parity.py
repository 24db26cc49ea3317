"""A harness for parity tests: a line of PyTorch code run verbatim on torch and, with the
namespace swapped, on autodiff, and the two results compared.

    run_line("x.max(1)", AUTODIFF, {"x": array})       -> (result, leaves)
    assert_same(ours, theirs, "x.max(1)")                 # values, dtypes, shapes, structure
    gradients(result, leaves)                             # d sum(result * w) / d leaf

The namespaces bind `torch`, `F` and `nn` (torch, torch.nn.functional, torch.nn, or
autodiff, nn.functional, nn) and `np`. Inputs are NumPy arrays made into leaf tensors with
each side's own `torch.tensor` (float inputs require grad when asked). Results may be
tensors, Python numbers, sizes, tuples, lists and named tuples (torch.return_types): the
comparison walks the structure, checking named-tuple field names, tensor shapes and dtypes
(by name: 'float32', 'int64', 'bool', ...) and values within the dtype's tolerance.
"""
from __future__ import annotations

import numpy as np

import autodiff as ad
import nn
from nn import functional as nnF

#: Relative tolerance per result dtype (by name); integer and bool results compare exactly.
TOL = {"float16": 1e-2, "bfloat16": 4e-2, "float32": 2e-5, "float64": 1e-10}

AUTODIFF = {"torch": ad, "F": nnF, "nn": nn, "np": np}


def torch_namespace():
    """The namespace with torch bound (imports torch: call it after importorskip)."""
    import torch
    return {"torch": torch, "F": torch.nn.functional, "nn": torch.nn, "np": np}


def is_torch(namespace) -> bool:
    return namespace["torch"] is not ad


def make_leaf(namespace, array, requires_grad=False):
    """A leaf tensor of `array`'s values and dtype on the namespace's side."""
    torch = namespace["torch"]
    if is_torch(namespace):
        out = torch.from_numpy(np.array(array, dtype=np.float32 if _is_bf16(array) else None))
        if _is_bf16(array):
            out = out.to(torch.bfloat16)
        return out.requires_grad_(requires_grad)
    return ad.tensor(array, requires_grad=requires_grad)


def run_line(code, namespace, inputs, grad=()):
    """Evaluate `code` with `inputs` ({name: array}) as leaf tensors (those named in `grad`
    require grad); plain Python values in `inputs` are passed as they are.
    Returns (result, {name: leaf})."""
    leaves = {}
    env = dict(namespace)
    for name, value in inputs.items():
        if isinstance(value, np.ndarray) or _is_bf16(value):
            leaves[name] = make_leaf(namespace, value, name in grad)
            env[name] = leaves[name]
        else:
            env[name] = value
    return eval(code, env), leaves


def gradients(result, leaves, seed=7):
    """{name: gradient array or None} of sum(result * w) for fixed weights w, w.r.t. the
    leaves that require grad (result: a tensor, or the first tensor of a tuple)."""
    out = _first_tensor(result)
    wanted = {k: v for k, v in leaves.items() if v.requires_grad}
    if out is None or not wanted or not out.requires_grad:
        return {k: None for k in wanted}
    w = np.asarray(np.random.default_rng(seed).standard_normal(tuple(out.shape)).round(2) + 0.25)
    if isinstance(out, ad.Tensor):
        grads = ad.grad((out * ad.tensor(w.astype(np.float64)).to(out.dtype)).sum(),
                        list(wanted.values()), allow_unused=True)
    else:
        import torch
        weight = torch.from_numpy(w).to(out.dtype)
        grads = torch.autograd.grad((out * weight).sum(), list(wanted.values()),
                                    allow_unused=True)
    return {k: (None if g is None else to_numpy(g)) for k, g in zip(wanted, grads)}


def _first_tensor(result):
    if isinstance(result, (list, tuple)):
        return _first_tensor(result[0]) if result else None
    return result if hasattr(result, "requires_grad") else None


def _is_bf16(value) -> bool:
    return getattr(value, "dtype", None) == ad.bfloat16


# ---------------------------------------------------------------- comparing results
def dtype_name(t) -> str:
    """'float32', 'int64', 'bool', 'bfloat16' for a tensor of either library or an array."""
    name = str(t.dtype).replace("torch.", "")
    return "bool" if name == "bool_" else name


def to_numpy(t):
    """A tensor of either library as a NumPy array (float64 for floating-point values)."""
    if isinstance(t, ad.Tensor):
        arr = t.numpy()
    elif hasattr(t, "detach"):
        t = t.detach()
        arr = (t.double() if t.dtype.is_floating_point else t).numpy()
    else:
        arr = np.asarray(t)
    if arr.dtype.kind == "f" or arr.dtype == ad.bfloat16:
        arr = arr.astype(np.float64)
    return arr


def assert_close(actual, expected, dtype, what, rtol=None):
    """Arrays equal in shape, NaN/inf positions, and values within the dtype's tolerance
    (relative to the largest finite magnitude); integer and bool values exactly."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = rtol if rtol is not None else TOL.get(dtype)
    if tol is None or expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    actual, expected = actual.astype(np.float64), expected.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], err_msg=f"{what}: inf")
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.max(np.abs(expected[finite])))) if finite.any() else 1.0
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=tol, atol=tol * scale,
                               err_msg=what)


def assert_same(ours, theirs, what, rtol=None):
    """autodiff's result `ours` matches torch's `theirs`: the same structure (tuple,
    list, named tuple and its field names), Python types for numbers, and for tensors the
    same shape, dtype and values."""
    if hasattr(theirs, "_fields"):  # torch.return_types: a named tuple
        assert getattr(ours, "_fields", None) == tuple(theirs._fields), \
            f"{what}: fields {getattr(ours, '_fields', None)} != {tuple(theirs._fields)}"
    if isinstance(theirs, (tuple, list)) and not _is_size(theirs):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), \
            f"{what}: {type(ours).__name__} of {len(ours) if hasattr(ours, '__len__') else '?'}" \
            f" items, torch {type(theirs).__name__} of {len(theirs)}"
        assert isinstance(ours, tuple) == isinstance(theirs, tuple), \
            f"{what}: {type(ours).__name__} where torch returns {type(theirs).__name__}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{what}[{i}]", rtol)
        return
    if _is_size(theirs):
        assert isinstance(ours, ad.Size) and tuple(ours) == tuple(theirs), \
            f"{what}: {ours!r} != {theirs!r}"
        return
    if not hasattr(theirs, "dtype") or isinstance(theirs, (np.ndarray, np.generic)):
        assert type(ours) is type(theirs) and ours == theirs or (
            isinstance(theirs, float) and np.isclose(ours, theirs, rtol=rtol or 1e-6)), \
            f"{what}: {ours!r} ({type(ours).__name__}) != {theirs!r} ({type(theirs).__name__})"
        return
    assert isinstance(ours, ad.Tensor), f"{what}: {type(ours).__name__}, torch a tensor"
    assert dtype_name(ours) == dtype_name(theirs), \
        f"{what}: dtype {dtype_name(ours)}, torch {dtype_name(theirs)}"
    assert tuple(ours.shape) == tuple(theirs.shape), \
        f"{what}: shape {tuple(ours.shape)}, torch {tuple(theirs.shape)}"
    assert_close(to_numpy(ours), to_numpy(theirs), dtype_name(ours), what, rtol)


def _is_size(value) -> bool:
    return type(value).__name__ == "Size"
