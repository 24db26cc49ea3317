"""The gradient comparison under every `ad.testing` assertion.

A function's outputs are projected on fixed random directions s_k, so one scalar
F(x) = sum_k <out_k(x), s_k> covers non-scalar and multiple outputs; its gradient from
backward (a vector-Jacobian product) is compared element by element with central
differences in float64:

    numerical_i = (F(x + eps e_i) - F(x - eps e_i)) / (2 eps)
    ok          : |analytic_i - numerical_i| <= atol + rtol |numerical_i|

Kinks: the same three evaluations also give the one-sided slopes
right = (F(x + eps e_i) - F(x)) / eps and left = (F(x) - F(x - eps e_i)) / eps. Where
they disagree by more than twice the tolerance, F is not differentiable within eps of x
along e_i (relu at 0, a tie inside a max pool, a jump): there is no derivative to compare
with, and with `kink_tolerant=True` the element is skipped (counted in `Mismatch.at_kinks`).
(Requiring the analytic value to lie between the slopes is right for one kink, but not
when ties in several places break in different directions, e.g. a conv feeding a max
pool on a constant image.) At a smooth point left and right differ only by ~eps |F''|,
far below the tolerance, so every element where F is smooth is still checked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..graph import grad as _grad
from ..tensor import Tensor

__all__ = ["Mismatch", "as_tuple", "host64", "float64_leaf", "direction_seeds", "project",
           "compare_gradients"]


@dataclass
class Mismatch:
    """The worst disagreeing element of one checked input."""
    position: int          # which leaf (index into the list that was checked)
    index: tuple           # the element
    shape: tuple           # the leaf's shape
    analytic: float
    numerical: float
    left: float            # one-sided slopes (equal to numerical at a smooth point)
    right: float
    tolerance: float
    bad: int               # how many checked elements of this leaf disagree
    checked: int           # how many elements of this leaf were compared
    at_kinks: int = 0      # elements skipped because F has a kink there (kink_tolerant)


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def host64(value):
    """A Tensor's or array's values as a float64 NumPy array on the host."""
    data = value.data if isinstance(value, Tensor) else value
    return np.asarray(backend.to_device(data, "cpu"), dtype=np.float64)


def float64_leaf(t: Tensor, requires_grad: bool) -> Tensor:
    """A contiguous float64 cpu copy of a floating tensor (or a plain copy of another),
    as a fresh leaf; perturbing its `.data` in place is how differences are taken."""
    host = backend.to_device(t.data, "cpu")
    if backend.is_floating(host.dtype):
        return Tensor(np.array(host, dtype=np.float64, order="C"), requires_grad=requires_grad)
    return Tensor(np.array(host, order="C"))


def direction_seeds(outputs, seed):
    """One fixed standard-normal direction per floating output (None for the others)."""
    rng = np.random.default_rng(seed)
    seeds = []
    for o in outputs:
        dtype = getattr(o, "dtype", None)
        floating = dtype is not None and backend.is_floating(np.dtype(dtype))
        seeds.append(rng.standard_normal(tuple(o.shape)) if floating else None)
    return seeds


def project(outputs, seeds) -> float:
    """F = sum_k <out_k, s_k> in float64."""
    total = 0.0
    for o, s in zip(outputs, seeds):
        if s is not None:
            total += float(np.sum(host64(o) * s))
    return total


def _elements(size, max_elements, rng):
    if max_elements is None or size <= max_elements:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_elements, replace=False))


def numerical_slopes(evaluate_projection, arrays, eps, max_elements=None, seed=0):
    """For each float64 array (perturbed in place and restored): the flat indices checked
    and the central, left and right difference quotients of `evaluate_projection()`."""
    rng = np.random.default_rng(seed + 7)
    f0 = evaluate_projection()
    results = []
    for arr in arrays:
        if not arr.flags.c_contiguous:
            raise ValueError("numerical_slopes: the array must be C-contiguous (a flat view "
                             "is what gets perturbed; a copy would not change the input)")
        flat = arr.reshape(-1)
        idx = _elements(flat.size, max_elements, rng)
        plus = np.empty(idx.size)
        minus = np.empty(idx.size)
        for j, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            plus[j] = evaluate_projection()
            flat[i] = orig - eps
            minus[j] = evaluate_projection()
            flat[i] = orig
        with np.errstate(invalid="ignore", over="ignore"):
            results.append((idx, (plus - minus) / (2 * eps), (plus - f0) / eps,
                            (f0 - minus) / eps))
    return results


def worst_mismatch(position, shape, analytic_flat, idx, central, left, right, atol, rtol,
                   kink_tolerant):
    """The worst disagreeing element among `idx`, or None when all agree."""
    a = analytic_flat[idx]
    tol = atol + rtol * np.abs(central)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - central) - tol
        bad = ~(err <= 0)  # NaN counts as bad
        at_kink = np.abs(right - left) > 2 * tol
    skipped = 0
    if kink_tolerant:
        skipped = int((at_kink & np.isfinite(a)).sum())
        bad &= ~(at_kink & np.isfinite(a))  # a non-finite analytic value is wrong anywhere
    if not bad.any():
        return None
    score = np.where(bad, np.where(np.isfinite(err), err, np.inf), -np.inf)
    j = int(np.argmax(score))
    index = np.unravel_index(int(idx[j]), shape) if shape else ()
    return Mismatch(position, tuple(int(i) for i in index), tuple(shape), float(a[j]),
                    float(central[j]), float(left[j]), float(right[j]), float(tol[j]),
                    int(bad.sum()), int(idx.size) - skipped, skipped)


def compare_gradients(evaluate, leaves, *, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0,
                      kink_tolerant=True, max_elements=None):
    """Check backward's gradient of F = sum_k <evaluate()_k, s_k> w.r.t. each float64 leaf.

    evaluate: a zero-argument callable computing the outputs (a Tensor or a tuple) from
        the current values of `leaves` (float64 Tensors that require grad, contiguous).
    Returns (mismatches, outputs): a list with the worst element of each disagreeing leaf
    (empty when all agree), and the outputs of the first evaluation with their graph.
    """
    outputs = as_tuple(evaluate())
    seeds = direction_seeds(outputs, seed)
    diff = [(o, s) for o, s in zip(outputs, seeds)
            if s is not None and isinstance(o, Tensor) and o.requires_grad]
    if diff:
        grads = _grad([o for o, _ in diff], list(leaves),
                      grad_outputs=[Tensor(s.astype(o.dtype)) for o, s in diff],
                      retain_graph=True, allow_unused=True)
    else:
        grads = [None] * len(leaves)
    analytic = [np.zeros(x.shape) if g is None else host64(g).reshape(x.shape)
                for x, g in zip(leaves, grads)]
    slopes = numerical_slopes(lambda: project(as_tuple(evaluate()), seeds),
                              [x.data for x in leaves], eps, max_elements, seed)
    mismatches = []
    for pos, (x, a, (idx, central, left, right)) in enumerate(zip(leaves, analytic, slopes)):
        m = worst_mismatch(pos, x.shape, a.reshape(-1), idx, central, left, right, atol,
                           rtol, kink_tolerant)
        if m is not None:
            mismatches.append(m)
    return mismatches, outputs
