"""Assertions for users' own ops, layers and models: gradients against central differences,
second derivatives, values and gradients against a NumPy or torch reference.

Failures raise `ad.GradcheckError` (an AssertionError) whose message names the code under
test (the op class, not `Function.apply`; the module class), the input or parameter, the
element and both values as plain floats, says which recorded op's own backward is wrong
when the function composes several, and ends with lines that reproduce the failure.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import backend
from ..gradcheck import GradcheckError
from ..graph import grad as _grad
from ..tensor import Tensor
from .localize import localize
from .numerics import (as_tuple, compare_gradients, direction_seeds, float64_leaf, host64,
                       numerical_slopes, project, worst_mismatch)
from .repro import (call_expression, describe_callable, index_text, num, options_text,
                    repro_lines)

__all__ = ["assert_grads_close", "assert_gradgrads_close", "assert_matches_reference",
           "assert_module_grads_close", "default_tolerances"]


# ---------------------------------------------------------------- shared pieces

_GRAD_DEFAULTS = dict(eps=1e-6, atol=1e-5, rtol=1e-3, kink_tolerant=True, check_inputs=True,
                      max_elements=None)

def _prepare(inputs, where):
    """Float64 cpu leaf copies of the inputs and the positions to check.

    The tensors with requires_grad=True are checked; if none requires grad, every
    floating-point tensor is. Other arguments pass through unchanged."""
    tensors_in = [x for x in inputs if isinstance(x, Tensor)]
    if not tensors_in:
        raise ValueError(f"{where}: pass at least one Tensor input")
    check_all = not any(x.requires_grad for x in tensors_in)
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor):
            wants = x.requires_grad or (check_all and backend.is_floating(x.dtype))
            x = float64_leaf(x, wants and backend.is_floating(x.dtype))
        prepared.append(x)
    positions = [i for i, x in enumerate(prepared) if isinstance(x, Tensor) and x.requires_grad]
    if not positions:
        raise ValueError(f"{where}: no floating-point tensor input to check "
                         f"(dtypes {[str(x.dtype) for x in tensors_in]})")
    return prepared, positions


def _require_graph(outputs, where, name):
    if not any(isinstance(o, Tensor) and o.requires_grad for o in outputs):
        raise GradcheckError(f"{where}({name}): the output does not depend differentiably on "
                             "any input (no graph was recorded)")


def _mismatch_text(m, label, atol, rtol, kink_tolerant=True, what="gradient"):
    kink = ""
    if not kink_tolerant and abs(m.right - m.left) > 2 * m.tolerance:
        kink = (f" (one-sided slopes {num(m.left)} and {num(m.right)}: the function has a kink "
                "within eps of this element, where no derivative exists; kink_tolerant=True "
                "skips such elements)")
    skipped = f"; {m.at_kinks} more at kinks were skipped" if m.at_kinks else ""
    return (f"{what} of {label} (shape {m.shape}) is wrong at element {index_text(m.index)}: "
            f"analytic {num(m.analytic)} vs numerical {num(m.numerical)} "
            f"(|difference| {num(abs(m.analytic - m.numerical))} > atol + rtol*|numerical| = "
            f"{num(m.tolerance)}, atol={num(atol)}, rtol={num(rtol)}){kink}; "
            f"{m.bad} of {m.checked} elements disagree{skipped}")


def _raise(where, name, mismatch_lines, outputs, repro, eps, atol, rtol, value_line=""):
    __tracebackhide__ = True
    parts = [f"{where}({name}): " + mismatch_lines[0]]
    parts += ["  also: " + line for line in mismatch_lines[1:]]
    if value_line:
        parts.append(value_line)
    # Always kink-tolerant: a node at a kink is not a wrong rule, and blaming it would hide
    # the op that is.
    report = localize(outputs, eps=eps, atol=atol, rtol=rtol, kink_tolerant=True)
    text = report.describe()
    if text and (len(report.findings) != 1 or report.checked > 1 or report.skipped):
        parts.append(text)
    elif report.findings:  # the function is that one op: its name says it all already
        parts.append("  WRONG: " + report.findings[0].describe())
    parts.append("Reproduce with:\n" + repro)
    raise GradcheckError("\n".join(parts))


def _input_value(prepared, m, position):
    x = prepared[position]
    return f"  input {position} at {index_text(m.index)} = {num(host64(x)[m.index])}"


# ---------------------------------------------------------------- first derivatives

def assert_grads_close(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, kink_tolerant=True,
                       max_elements=None):
    """Assert that the gradients backward computes for `fn` match numerical ones.

    fn: maps the inputs to a Tensor, or a tuple of Tensors (non-scalar outputs are checked
        through vector-Jacobian products with fixed random directions).
    inputs: Tensors (and other arguments passed through unchanged). The tensors with
        `requires_grad=True` are checked; if none requires grad, every floating-point
        tensor is. Inputs are copied to float64 on the cpu, so the originals (any dtype or
        device) are never modified.
    eps: step of the central differences; atol/rtol: the tolerance
        |analytic - numerical| <= atol + rtol * |numerical| for every element.
    kink_tolerant: skip the elements where the function has a kink within eps (the
        one-sided slopes differ: relu at 0 inside a model, a tie in a max pool), where no
        derivative exists to compare with, instead of reporting a false failure.
    max_elements: compare at most this many elements of each input (a fixed random
        sample; None: all), to bound the cost on large inputs.

    Raises `ad.GradcheckError` (an AssertionError) naming `fn`, the input, the element and
    both values; when fn records several ops, also the op whose own backward is wrong
    (checked node by node on the recorded graph); and lines that reproduce the failure.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not these internals
    where = "assert_grads_close"
    name = describe_callable(fn)
    prepared, positions = _prepare(inputs, where)
    leaves = [prepared[i] for i in positions]
    _require_graph(as_tuple(fn(*prepared)), where, name)
    mismatches, outputs = compare_gradients(lambda: fn(*prepared), leaves, eps=eps, atol=atol,
                                            rtol=rtol, kink_tolerant=kink_tolerant,
                                            max_elements=max_elements)
    if not mismatches:
        return
    lines = [_mismatch_text(m, f"input {positions[m.position]}", atol, rtol, kink_tolerant)
             for m in mismatches]
    expr, comment = call_expression(fn)
    options = options_text(dict(eps=eps, atol=atol, rtol=rtol, kink_tolerant=kink_tolerant,
                                max_elements=max_elements), _GRAD_DEFAULTS)
    first = mismatches[0]
    _raise(where, name, lines, outputs, repro_lines(where, expr, inputs, comment, options), eps,
           atol, rtol, _input_value(prepared, first, positions[first.position]))


def assert_module_grads_close(module, *inputs, loss_fn=None, check_inputs=True, eps=1e-6,
                              atol=1e-5, rtol=1e-3, kink_tolerant=True, max_elements=None):
    """Assert that backward's gradients w.r.t. a module's parameters (and its floating
    inputs) match numerical ones.

    module: an nn.Module (anything with named_parameters(), to(dtype=) and __call__); it is
        copied and the copy converted to float64, so the module itself (its parameters,
        gradients, running statistics) is never touched. The copy keeps the module's
        train/eval mode; the output must be deterministic in that mode (call .eval() first
        for a model with dropout).
    inputs: the arguments of module(...); floating tensors are checked too when
        `check_inputs` (integer ones, e.g. embedding ids, pass through).
    loss_fn: optional callable applied to the output (e.g. a loss against fixed targets);
        by default the output itself is checked through random projections.
    kink_tolerant, max_elements: as in `assert_grads_close`.

    Raises `ad.GradcheckError` naming the module class, the parameter ('layers.0.weight')
    or input, the element and both values, and the op whose own backward is wrong.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not these internals
    where = "assert_module_grads_close"
    name = type(module).__qualname__
    model = copy.deepcopy(module)
    model.to(dtype=backend.float64)
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for _, p in params:  # the numerical step perturbs .data in place: make it contiguous
        if not p.data.flags.c_contiguous:
            p.data = np.ascontiguousarray(p.data)
    xs = [float64_leaf(x, check_inputs and backend.is_floating(x.dtype))
          if isinstance(x, Tensor) else x for x in inputs]
    in_positions = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    labels = [f"input {i}" for i in in_positions] + [f"parameter '{n}'" for n, _ in params]
    leaves = [xs[i] for i in in_positions] + [p for _, p in params]
    if not leaves:
        raise ValueError(f"{where}({name}): nothing to check: the module has no parameter "
                         "that requires grad and no floating input is checked")

    def evaluate():
        out = model(*xs)
        return out if loss_fn is None else loss_fn(out)

    first, second = as_tuple(evaluate()), as_tuple(evaluate())
    _require_graph(first, where, name)
    seeds = direction_seeds(first, 0)
    if project(first, seeds) != project(second, seeds):
        raise ValueError(f"{where}({name}): the module's output changes between two calls "
                         "with the same input (random in training mode, e.g. Dropout), so "
                         "no numerical derivative exists; call module.eval() before the check")
    mismatches, outputs = compare_gradients(evaluate, leaves, eps=eps, atol=atol, rtol=rtol,
                                            kink_tolerant=kink_tolerant,
                                            max_elements=max_elements)
    if not mismatches:
        return
    lines = [_mismatch_text(m, labels[m.position], atol, rtol, kink_tolerant)
             for m in mismatches]
    options = options_text(dict(check_inputs=check_inputs, eps=eps, atol=atol, rtol=rtol,
                                kink_tolerant=kink_tolerant, max_elements=max_elements),
                           _GRAD_DEFAULTS)
    comment = f"model: your {name} with the same parameters (state_dict)"
    if loss_fn is not None:
        options = ", loss_fn=loss_fn" + options
        comment += f"; loss_fn: {describe_callable(loss_fn)}"
    repro = repro_lines(where, "model", inputs, comment, options)
    _raise(where, name, lines, outputs, repro, eps, atol, rtol)


# ---------------------------------------------------------------- second derivatives

def assert_gradgrads_close(fn, *inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                           kink_tolerant=True):
    """Assert that second derivatives (double backward) of `fn` match numerical ones.

    The map (inputs, v) -> v^T J(inputs), computed by `ad.grad(..., create_graph=True)`,
    is itself checked like `assert_grads_close`: its analytic gradient is the double
    backward of `fn`. `grad_outputs` (the v, one per output) default to fixed random
    tensors and are checked too, since the map is linear in them. Inputs as in
    `assert_grads_close`; failures name fn, the input (or grad_output) and the element.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not these internals
    where = "assert_gradgrads_close"
    name = describe_callable(fn)
    prepared, positions = _prepare(inputs, where)
    outs = as_tuple(fn(*prepared))
    _require_graph(outs, where, name)
    diff = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    rng = np.random.default_rng(1)
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(tuple(outs[k].shape)), requires_grad=True)
              for k in diff]
    else:
        given = as_tuple(grad_outputs)
        if len(given) != len(outs):
            raise ValueError(f"{where}: got {len(given)} grad_outputs for {len(outs)} outputs")
        vs = [float64_leaf(given[k] if isinstance(given[k], Tensor) else Tensor(given[k]),
                           True) for k in diff]
    xs = [prepared[i] for i in positions]

    def first_derivative():
        outs = as_tuple(fn(*prepared))
        grads = _grad([outs[k] for k in diff], xs, grad_outputs=list(vs), create_graph=True,
                      allow_unused=True)
        # An unused input has a zero first derivative, and so a zero second derivative.
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g for x, g in zip(xs, grads))

    labels = ([f"input {i}" for i in positions]
              + [f"grad_outputs[{k}] (the first derivative itself)" for k in diff])
    mismatches, outputs = compare_gradients(first_derivative, xs + vs, eps=eps, atol=atol,
                                            rtol=rtol, kink_tolerant=kink_tolerant)
    if not mismatches:
        return
    lines = [_mismatch_text(m, labels[m.position], atol, rtol, kink_tolerant,
                            what="second derivative") for m in mismatches]
    expr, comment = call_expression(fn)
    options = options_text(dict(eps=eps, atol=atol, rtol=rtol, kink_tolerant=kink_tolerant),
                           _GRAD_DEFAULTS)
    if grad_outputs is not None:
        comment = "; ".join(c for c in (comment, "pass your grad_outputs too") if c)
    _raise(where, name, lines, outputs, repro_lines(where, expr, inputs, comment, options), eps,
           atol, rtol)


# ---------------------------------------------------------------- references

#: (rtol, atol) for comparing values, by dtype (the defaults of torch.testing.assert_close).
_VALUE_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5),
                     "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def default_tolerances(dtype) -> tuple:
    """(rtol, atol) for comparing values computed in `dtype` with a float64 reference."""
    return _VALUE_TOLERANCES.get(str(backend.as_dtype(dtype)), (0.0, 0.0))


def _to_reference(x, reference, requires_grad):
    if not isinstance(x, Tensor):
        return x
    host = backend.to_device(x.data, "cpu")
    arr = np.array(host, dtype=np.float64) if backend.is_floating(host.dtype) else host.copy()
    if reference == "numpy":
        return arr
    import torch
    t = torch.from_numpy(arr)
    return t.requires_grad_(requires_grad) if backend.is_floating(host.dtype) else t


def _torch_gradients(reference_fn, inputs, positions, seeds):
    import torch
    args = [_to_reference(x, "torch", i in positions) for i, x in enumerate(inputs)]
    outs = as_tuple(reference_fn(*args))
    pairs = [(o, torch.from_numpy(s)) for o, s in zip(outs, seeds)
             if s is not None and o.requires_grad]
    wanted = [args[i] for i in positions]
    if not pairs:
        return [np.zeros(tuple(w.shape)) for w in wanted]
    grads = torch.autograd.grad([o for o, _ in pairs], wanted, [s for _, s in pairs],
                                allow_unused=True)
    return [np.zeros(tuple(w.shape)) if g is None else g.detach().numpy().astype(np.float64)
            for w, g in zip(wanted, grads)]


def _reference_host(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def assert_matches_reference(fn, reference_fn, *inputs, reference="numpy", rtol=None,
                             atol=None, grads=True, eps=1e-6, grad_atol=1e-5, grad_rtol=1e-3):
    """Assert that `fn` agrees with a reference implementation in values and gradients.

    reference_fn: the same function written with NumPy (reference="numpy": it receives
        float64 ndarrays) or torch (reference="torch": float64 torch tensors; torch is
        imported only then). It returns an array/tensor or a tuple of them, like fn.
    Values: fn runs on the inputs as given (their dtype); each output is compared with the
        float64 reference within rtol/atol (default: by the output's dtype, as
        torch.testing.assert_close).
    Gradients (grads=True): backward's gradients of fn (in float64) against torch's
        autograd, or, for a NumPy reference, against central differences of the
        reference itself (grad_atol/grad_rtol as in assert_grads_close).
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not these internals
    where = "assert_matches_reference"
    if reference not in ("numpy", "torch"):
        raise ValueError(f"{where}: reference must be 'numpy' or 'torch', got {reference!r}")
    if reference == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ImportError(f"{where}: reference='torch' needs torch installed "
                              "(pip install torch), or write the reference with NumPy and "
                              "use reference='numpy'") from None
    name = describe_callable(fn)
    ref_name = describe_callable(reference_fn)
    expr, comment = call_expression(fn)
    ref_expr, ref_comment = call_expression(reference_fn, "reference_fn")
    comment = "; ".join(c for c in (comment, ref_comment) if c)
    repro = repro_lines(where, f"{expr}, {ref_expr}", inputs, comment,
                        f", reference={reference!r}")
    ours = as_tuple(fn(*inputs))
    theirs = as_tuple(reference_fn(*[_to_reference(x, reference, False) for x in inputs]))
    if len(ours) != len(theirs):
        raise GradcheckError(f"{where}({name}): fn returned {len(ours)} outputs but the "
                             f"reference {ref_name} returned {len(theirs)}\nReproduce with:\n"
                             + repro)
    for k, (o, r) in enumerate(zip(ours, theirs)):
        r = _reference_host(r)
        got = host64(o)
        if got.shape != r.shape:
            raise GradcheckError(f"{where}({name}): output {k} has shape {got.shape} but the "
                                 f"reference {ref_name} gives {r.shape}\nReproduce with:\n"
                                 + repro)
        dtype = o.dtype if isinstance(o, Tensor) else got.dtype
        d_rtol, d_atol = default_tolerances(dtype)
        rt = d_rtol if rtol is None else rtol
        at = d_atol if atol is None else atol
        with np.errstate(invalid="ignore"):
            err = np.abs(got - r) - (at + rt * np.abs(r))
            same_nan = np.isnan(got) & np.isnan(r)
            bad = ~((err <= 0) | same_nan | (got == r))
        if bad.any():
            score = np.where(bad, np.where(np.isfinite(err), err, np.inf), -np.inf)
            idx = np.unravel_index(int(np.argmax(score)), got.shape) if got.ndim else ()
            raise GradcheckError(
                f"{where}({name}): output {k} (shape {got.shape}, {dtype}) differs from the "
                f"reference {ref_name} at element {index_text(idx)}: {num(got[idx])} vs "
                f"reference {num(r[idx])} (rtol={num(rt)}, atol={num(at)}); "
                f"{int(bad.sum())} of {got.size} elements differ\nReproduce with:\n" + repro)
    if not grads:
        return
    prepared, positions = _prepare(inputs, where)
    leaves = [prepared[i] for i in positions]
    outputs = as_tuple(fn(*prepared))
    if not any(isinstance(o, Tensor) and o.requires_grad for o in outputs):
        return  # nothing differentiable: the values were all there was to compare
    seeds = direction_seeds(outputs, 0)
    diff = [(o, s) for o, s in zip(outputs, seeds)
            if s is not None and isinstance(o, Tensor) and o.requires_grad]
    analytic = _grad([o for o, _ in diff], leaves,
                     grad_outputs=[Tensor(s.astype(o.dtype)) for o, s in diff],
                     retain_graph=True, allow_unused=True)
    analytic = [np.zeros(x.shape) if g is None else host64(g) for x, g in zip(leaves, analytic)]
    if reference == "torch":
        expected = _torch_gradients(reference_fn, prepared, positions, seeds)
        slopes = [(np.arange(e.size), e.reshape(-1), e.reshape(-1), e.reshape(-1))
                  for e in expected]
        what = "torch autograd"
    else:
        arrays = [_to_reference(x, "numpy", False) for x in prepared]
        slopes = numerical_slopes(
            lambda: project([_reference_host(r) for r in as_tuple(reference_fn(*arrays))],
                            seeds), [arrays[i] for i in positions], eps)
        what = "central differences of the reference"
    lines = []
    for pos, (x, a, (idx, central, left, right)) in enumerate(zip(leaves, analytic, slopes)):
        m = worst_mismatch(pos, x.shape, a.reshape(-1), idx, central, left, right, grad_atol,
                           grad_rtol, kink_tolerant=reference == "numpy")
        if m is not None:
            lines.append(_mismatch_text(m, f"input {positions[pos]}", grad_atol, grad_rtol)
                         .replace("numerical", f"reference ({what})", 1))
    if lines:
        _raise(where, name, lines, outputs, repro, eps, grad_atol, grad_rtol)
