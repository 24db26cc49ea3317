"""Clearing parameter gradients, shared by Module.zero_grad and Optimizer.zero_grad."""
from __future__ import annotations

import autodiff as ad


def zero_grads(params, set_to_none: bool = True) -> None:
    """`p.grad = None` for each parameter, or a fresh zero buffer (set_to_none=False).

    Zeroing replaces the gradient's array instead of writing into it, because a gradient
    array may be shared with the caller (e.g. the array passed to backward(gradient=...)).
    """
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            g = p.grad
            g.data = ad.array_module(g.data).zeros_like(g.data)
