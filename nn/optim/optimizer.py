"""Optimizer base class: parameter groups, per-parameter state, step/zero_grad, state_dict.

Subclasses declare their `defaults`, validate a group's hyperparameters in `_validate` and
update one parameter in `_update(param, grad, state, group)`, working in place on the
backend arrays (`param.data`, `grad`), so a step allocates only the temporaries its formula
needs and runs unchanged on NumPy and CuPy.
"""
from __future__ import annotations

import math
import numbers
from collections import defaultdict

import numpy as np

import autodiff as ad

from .._grads import zero_grads

__all__ = ["Optimizer"]


class Optimizer:
    """Base class for optimizers: `param_groups` (parameters + hyperparameters) and `state`."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = defaultdict(dict)  # param -> its state, {} until its first step
        self.param_groups: list[dict] = []
        self._step_count = 0  # lets schedulers warn when they are stepped first
        name = type(self).__name__
        if isinstance(params, ad.Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts "
                            "(parameter groups), but got a single Tensor; pass [tensor] or "
                            "model.parameters()")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params is a set, whose order changes between runs, so "
                            "state_dict indices would not be reproducible; pass a list")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts "
                            f"(parameter groups), got {type(params).__name__}; pass "
                            "model.parameters()") from None
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list; pass the parameters to "
                             "optimize, e.g. model.parameters()")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones from defaults)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: the parameter group has no 'params' key "
                             f"(keys: {sorted(param_group)})")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, ad.Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a group's params is a set, whose order changes between "
                            "runs; pass a list")
        params = list(params)
        if params and isinstance(params[0], tuple):  # named_parameters() pairs
            group["param_names"] = [n for n, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, ad.Tensor):
                raise TypeError(f"{name}: can only optimize autodiff Tensors, but params[{i}] "
                                f"is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: params[{i}] (shape {p.shape}) is not a leaf tensor "
                                 "(it was computed from others); optimize a leaf, e.g. "
                                 "x.detach().requires_grad_()")
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in one group; it would be "
                             "updated twice per step")
        for other in self.param_groups:
            if any(id(p) in ids for p in other["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter "
                                 "group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        """Raise ValueError for bad hyperparameters in `group` (subclasses extend)."""
        check_nonnegative(self, group, "lr")

    # ---------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients: `p.grad = None`, or zero them (set_to_none=False).

        Zeroing gives each gradient Tensor a fresh zero buffer instead of writing into the
        old one, because a gradient array may be shared with the caller (e.g. the array
        passed to backward(gradient=...)).
        """
        for group in self.param_groups:
            zero_grads(group["params"], set_to_none)

    @ad.replay_eagerly  # in an ad.compile'd step: run as is at every replay (step counts, lr)
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure() if given.

        `closure` re-evaluates the model and returns the loss; it runs with grad enabled.
        """
        loss = None
        if closure is not None:
            with ad.enable_grad():
                loss = closure()
        updated = []
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                updated.append(p)
                grad = g.data
                if grad.shape != p.data.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: a parameter of shape {p.shape} has a "
                        f"gradient of shape {grad.shape}; they must match (was .grad set "
                        "by hand?)")
                self._update(p.data, grad, self.state[p], group)
        # The arrays were written directly: bump the versions so a graph that saved the old
        # values refuses to backpropagate (as after any in-place op).
        ad.mark_modified(*updated)
        self._step_count += 1
        return loss

    def _update(self, param, grad, state: dict, group: dict) -> None:  # pragma: no cover
        """Update the array `param` in place from the array `grad` (subclasses implement)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """{'state': {param index: {name: Tensor | int}}, 'param_groups': [{..., 'params':
        [indices]}]} with indices numbering the parameters across groups in order (PyTorch's
        layout). Tensors are references, like PyTorch; save them before stepping again."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by `state_dict` (copies the arrays, cast to
        each parameter's dtype and device; 'step' stays an int)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups' keys (from optimizer.state_dict())")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups but the optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            saved_params = [int(k) for k in saved["params"]]
            if len(saved_params) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(group['params'])} parameters but the saved group has "
                                 f"{len(saved_params)}")
            by_index.update(zip(saved_params, group["params"]))
        new_state = defaultdict(dict)
        for key, saved in state_dict["state"].items():
            key = int(key)
            if key not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {key}, "
                                 "which no parameter group lists")
            p = by_index[key]
            new_state[p] = {k: _restore(v, p, k, name) for k, v in saved.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            restored = {k: _restore_hparam(v) for k, v in saved.items() if k != "params"}
            # a checkpoint from before a hyperparameter existed (e.g. an AdamW saved without
            # decoupled_weight_decay) gets this optimizer's default for it, as torch's
            # __setstate__ fills them
            for key, value in self.defaults.items():
                restored.setdefault(key, value)
            restored["params"] = group["params"]
            new_groups.append(restored)
        for group in new_groups:
            self._validate(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------- helpers for subclasses

def check(opt, name, value, ok, requirement):
    """Raise naming the optimizer and hyperparameter unless `value` is a real number (else
    TypeError) for which `ok(value)` holds (else ValueError)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{type(opt).__name__}: invalid {name}={value!r} (a "
                        f"{type(value).__name__}); {requirement}")
    if not ok(value):
        raise ValueError(f"{type(opt).__name__}: invalid {name}={value!r}; {requirement}")


def check_nonnegative(opt, group, *names):
    """Each named hyperparameter must be a finite real number >= 0."""
    for n in names:
        check(opt, n, group[n], lambda v: math.isfinite(v) and v >= 0,
              "it must be a finite number >= 0")


def implementation_options(opt, **options) -> dict:
    """torch's implementation switches that `opt` has (foreach, fused, capturable,
    differentiable: the keywords given), checked, for its defaults (torch keeps them in
    every parameter group too).

    foreach (multi-tensor kernels) and fused (one fused kernel) choose how torch computes
    the same update; here every update is one in-place NumPy/CuPy pass per parameter, so
    None, False and True all give the same numbers (both True is refused, as torch does).
    capturable (step counts kept on the GPU for CUDA-graph capture) and differentiable
    (backpropagate through the step) cannot be honoured: True raises, naming the way out."""
    name = type(opt).__name__
    foreach, fused = options.get("foreach"), options.get("fused")
    capturable, differentiable = options.get("capturable"), options.get("differentiable")
    if foreach and fused:
        raise RuntimeError(f"{name}: `fused` and `foreach` cannot be `True` together "
                           "(as in torch); pass one of them")
    if capturable:
        raise ValueError(f"{name}: capturable=True keeps torch's step counts on a GPU for "
                         "CUDA-graph capture, which autodiff has no use for (ad.compile "
                         "captures whole training steps, optimizer included); pass "
                         "capturable=False")
    if differentiable:
        raise NotImplementedError(f"{name}: differentiable=True (backpropagating through "
                                  "the optimizer step) is not supported: steps update the "
                                  "parameters in place outside the graph; pass "
                                  "differentiable=False")
    return options


def effective_grad(param, grad, group, xp):
    """d = (-grad if maximize else grad) + weight_decay * param, allocating at most one array.

    Returns (d, owned): owned is True when d is a fresh array the caller may overwrite.
    """
    wd = group.get("weight_decay", 0)
    maximize = group.get("maximize", False)
    if wd != 0:
        d = xp.multiply(param, wd, out=scratch(param))
        if maximize:
            d -= grad
        else:
            d += grad
        return d, True
    if maximize:
        return xp.negative(grad, out=scratch(grad)), True
    return grad, False


def new_state(param, fill=0.0):
    """A state Tensor shaped, typed and placed like `param` (an array), filled with `fill`."""
    xp = ad.array_module(param)
    return ad.tensor(xp.full_like(param, fill))


def scratch(param):
    """An uninitialised array like `param` for a formula's temporaries; pass it as out=.

    Why not `tmp = xp.multiply(a, b)`: on a 0-d array (a learnable scalar) NumPy's ufuncs
    return a NumPy scalar, which cannot be written in place (out=tmp, tmp *= c)."""
    return ad.array_module(param).empty_like(param)


def _restore(value, p, key, name):
    """Copy a saved state entry onto p's device and dtype; 'step' becomes an int."""
    if key == "step":
        return int(float(value))
    if isinstance(value, ad.Tensor):
        value = value.data
    if ad.array_module(value) is np and not isinstance(value, np.ndarray):
        if isinstance(value, (numbers.Number, np.generic)):
            return value
        value = np.asarray(value)
    if value.shape != p.shape:
        raise ValueError(f"{name}.load_state_dict: saved state {key!r} has shape "
                         f"{tuple(value.shape)} but its parameter has shape {p.shape}")
    arr = ad.tensor(value).to(device=p.device, dtype=p.dtype).data
    if arr is value:  # never alias the loaded dict: the optimizer writes in place
        arr = arr.copy()
    return ad.tensor(arr)


def _restore_hparam(value):
    """Hyperparameters come back as Python values (a serializer may give lists or 0-d arrays)."""
    if isinstance(value, ad.Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    if isinstance(value, list):
        return tuple(_restore_hparam(v) for v in value)
    return value
