"""Numerical gradient checks with central differences in float64."""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["GradcheckError", "numerical_grads", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _to_float64_inputs(inputs):
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            out.append(Tensor(x.data.astype(np.float64), requires_grad=True))
        else:
            out.append(x)
    return out


def _scalar_projection(outputs, seeds):
    """sum_k <out_k, seed_k> as a Python float (the function numerical diffs)."""
    return sum(float((o.data.astype(np.float64) * s).sum()) for o, s in zip(outputs, seeds))


def numerical_grads(fn, inputs, seeds, eps=1e-6):
    """Central-difference gradients of sum_k <fn(inputs)_k, seed_k> for each grad input."""
    grads = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            grads.append(None)
            continue
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
        g = np.zeros(flat.shape, dtype=np.float64)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = _scalar_projection(_as_tuple(fn(*inputs)), seeds)
            flat[i] = orig - eps
            minus = _scalar_projection(_as_tuple(fn(*inputs)), seeds)
            flat[i] = orig
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g.reshape(x.shape))
    return grads


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0) -> bool:
    """Check analytic against central-difference gradients in float64.

    `fn` maps Tensors to a Tensor (or tuple of Tensors); the inputs that require grad are
    checked (they are converted to float64 copies). The outputs are projected on fixed
    random directions, so non-scalar outputs are checked through vector-Jacobian products.
    Returns True, or raises GradcheckError naming the input, the element, and the analytic
    and numerical values of the worst mismatch.
    """
    return _check(fn, inputs, eps, atol, rtol, seed, None)


def _check(fn, inputs, eps, atol, rtol, seed, _describe):
    """gradcheck's body; `_describe(position)` names a failing input in the error."""
    inputs = _to_float64_inputs(_as_tuple(inputs))
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    for x in inputs:
        if isinstance(x, Tensor) and backend.device_of(x.data) != "cpu":
            raise ValueError("gradcheck: inputs must be on the cpu (move them with .cpu())")
    outputs = _as_tuple(fn(*inputs))
    rng = np.random.default_rng(seed)
    seeds = [rng.standard_normal(o.shape) for o in outputs]
    from .autograd import grad as _grad
    wanted = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    diff_outputs = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if diff_outputs:
        analytic = _grad([o for o, _ in diff_outputs], wanted,
                         grad_outputs=[Tensor(s.astype(o.dtype)) for o, s in diff_outputs],
                         allow_unused=True)
    else:
        analytic = [None] * len(wanted)
    numeric = numerical_grads(fn, inputs, seeds, eps)
    numeric = [n for x, n in zip(inputs, numeric) if isinstance(x, Tensor) and x.requires_grad]
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for pos, x, a, n in zip(positions, wanted, analytic, numeric):
        a = np.zeros(x.shape) if a is None else a.data.astype(np.float64)
        err = np.abs(a - n) - (atol + rtol * np.abs(n))
        if err.size and (not np.all(np.isfinite(a)) or err.max() > 0):
            bad = np.where(~np.isfinite(a), np.inf, err)
            idx = np.unravel_index(int(np.argmax(bad)), x.shape) if x.ndim else ()
            what = _describe(pos) if _describe else f"gradcheck: gradient of input {pos}"
            raise GradcheckError(
                f"{what} (shape {x.shape}) is wrong at element "
                f"{tuple(int(i) for i in idx)}: analytic {a[idx]!r} vs numerical {n[idx]!r} "
                f"(atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0) -> bool:
    """Check second derivatives against central differences of the first, in float64.

    The map (inputs, v) -> v^T J(inputs), computed by `ad.grad(..., create_graph=True)`,
    is itself checked with `gradcheck`: its analytic gradient is the double backward of
    `fn`. `grad_outputs` (the v, one per output) default to fixed random tensors; they are
    checked too, since the map is linear in them. Returns True, or raises GradcheckError
    naming the input (or grad_output) and the element of the worst mismatch.
    """
    from .autograd import grad as _grad
    inputs = _to_float64_inputs(_as_tuple(inputs))
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wanted:
        raise ValueError("gradgradcheck: no input requires grad; nothing to check")
    outputs = _as_tuple(fn(*inputs))
    diff = [k for k, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no output of fn depends on an input that requires "
                         "grad; nothing to check")
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        vs = [Tensor(rng.standard_normal(outputs[k].shape), requires_grad=True) for k in diff]
    else:
        given = _as_tuple(grad_outputs)
        if len(given) != len(outputs):
            raise ValueError(f"gradgradcheck: got {len(given)} grad_outputs for "
                             f"{len(outputs)} outputs")
        vs = []
        for k in diff:
            v = given[k]
            data = v.data if isinstance(v, Tensor) else np.asarray(v)
            if data.shape != outputs[k].shape:
                raise ValueError(f"gradgradcheck: grad_outputs[{k}] has shape {data.shape} "
                                 f"but output {k} has shape {outputs[k].shape}")
            vs.append(Tensor(np.asarray(data, dtype=np.float64), requires_grad=True))
    n = len(inputs)

    def first_derivative(*args):
        xs, v = args[:n], args[n:]
        outs = _as_tuple(fn(*xs))
        grads = _grad([outs[k] for k in diff], [xs[i] for i in wanted], grad_outputs=list(v),
                      create_graph=True, allow_unused=True)
        # An unused input has a zero first derivative, and so a zero second derivative.
        return tuple(Tensor(np.zeros(xs[i].shape)) if g is None else g
                     for i, g in zip(wanted, grads))

    def describe(pos):
        if pos < n:
            return f"gradgradcheck: second derivative w.r.t. input {pos}"
        return (f"gradgradcheck: derivative of the vjp w.r.t. grad_outputs[{diff[pos - n]}] "
                "(the first derivative itself)")

    return _check(first_derivative, tuple(inputs) + tuple(vs), eps, atol, rtol, seed, describe)
