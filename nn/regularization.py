"""L1/L2 weight penalties to add to a loss: loss + coefficient * penalty.

Which parameters are penalised (`include_all=False`, the default): the weights only. A
parameter is skipped when
  * it has fewer than 2 dimensions: biases, normalisation scales and shifts (BatchNorm,
    LayerNorm, GroupNorm weight/bias), PReLU slopes;
  * its name's last part is "bias";
  * it belongs to a normalisation layer (a module whose class name contains "Norm"), which
    also covers LayerNorm over several axes, whose weight is 2-D.
Names and modules are known when a Module (or `named_parameters()` pairs) is passed; for a
plain list of tensors only the dimension rule applies.

Weight decay in SGD, `weight_decay=wd`, adds wd * w to the gradient: the same as adding
(wd / 2) * l2_penalty(model) to the loss (with the default parameter selection, only for the
penalised parameters). AdamW's decoupled decay is not a penalty on the loss.
"""
from __future__ import annotations

import autodiff as ad

from .module import Module

__all__ = ["penalized_parameters", "l1_penalty", "l2_penalty"]


def _named(params):
    """(name, tensor, owning module's class name or None) triples from a Module, (name, tensor)
    pairs, or tensors."""
    if isinstance(params, Module):
        out = []
        for mod_name, mod in params.named_modules():
            for name, p in mod.named_parameters(recurse=False):
                full = f"{mod_name}.{name}" if mod_name else name
                out.append((full, p, type(mod).__name__))
        return out
    if isinstance(params, ad.Tensor):
        params = [params]
    out = []
    for item in params:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], ad.Tensor):
            out.append((item[0], item[1], None))
        elif isinstance(item, ad.Tensor):
            out.append((None, item, None))
        else:
            raise TypeError(f"penalty: expected a Module, Tensors or (name, Tensor) pairs, got "
                            f"an item of type {type(item).__name__}")
    return out


def _penalised(name, p, owner) -> bool:
    if p.ndim < 2:
        return False
    if name is not None and name.rsplit(".", 1)[-1] == "bias":
        return False
    return owner is None or "Norm" not in owner


def penalized_parameters(params, include_all: bool = False) -> list:
    """The parameters a penalty applies to (see the module docstring), e.g. to give only
    them weight decay: optim.SGD([{"params": decay, "weight_decay": 5e-4},
    {"params": rest}], lr) with decay = penalized_parameters(model)."""
    seen = set()
    out = []
    for name, p, owner in _named(params):
        if id(p) in seen:  # a shared parameter is penalised once
            continue
        seen.add(id(p))
        if include_all or _penalised(name, p, owner):
            out.append(p)
    return out


def _penalty(params, include_all, term):
    chosen = penalized_parameters(params, include_all)
    if not chosen:
        return ad.tensor(0.0)
    total = None
    for p in chosen:
        value = term(p).sum()
        total = value if total is None else total + value
    return total


def l1_penalty(params, include_all: bool = False):
    """sum_w |w| over the penalised parameters (a differentiable 0-d Tensor)."""
    return _penalty(params, include_all, ad.abs)


def l2_penalty(params, include_all: bool = False):
    """sum_w w^2 over the penalised parameters (a differentiable 0-d Tensor; no 1/2 factor)."""
    return _penalty(params, include_all, lambda p: p * p)
