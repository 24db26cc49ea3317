"""Sanity checks before a long run (the lecture's list): the initial loss of a classifier
should be about log(C), and the model must be able to drive the loss to ~0 on a tiny batch."""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import autodiff as ad

from .loop import _split_batch, evaluate

__all__ = ["check_initial_loss", "overfit_small_batch", "InitialLoss", "OverfitResult"]


class InitialLoss(NamedTuple):
    loss: float          # the measured mean loss
    expected: float      # log(num_classes): the loss of uniform predictions
    ok: bool             # |loss - expected| <= rtol * expected


class OverfitResult(NamedTuple):
    losses: list         # the loss at every step
    final: float
    ok: bool             # final <= tol


def check_initial_loss(model, data, num_classes: int, loss_fn=None, rtol: float = 0.25,
                       max_batches=None) -> InitialLoss:
    """Mean loss of the untrained `model` on `data` (an iterable of (inputs, targets)
    batches, or one such batch) against log(num_classes), the cross-entropy of uniform
    predictions. A loss far above it means overconfident initial logits (weights too
    large); warns (UserWarning) when |loss - log C| > rtol log C."""
    if num_classes < 2:
        raise ValueError(f"check_initial_loss: num_classes must be >= 2, got {num_classes}")
    if loss_fn is None:
        from ..loss import CrossEntropyLoss
        loss_fn = CrossEntropyLoss()
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], ad.Tensor):
        data = [data]
    if max_batches is not None:
        data = _first(data, max_batches)
    loss = evaluate(model, data, ("loss",), loss_fn)["loss"]
    expected = math.log(num_classes)
    ok = abs(loss - expected) <= rtol * expected
    if not ok:
        warnings.warn(f"check_initial_loss: the initial loss is {loss:.4g}, expected about "
                      f"log({num_classes}) = {expected:.4g} for {num_classes} classes; check "
                      "the output layer's initial scale and the loss", UserWarning, stacklevel=2)
    return InitialLoss(loss, expected, ok)


def _first(data, n):
    out = []
    for batch in data:
        if len(out) == n:
            break
        out.append(batch)
    return out


def overfit_small_batch(model, loss_fn, optimizer, batch, steps: int = 200,
                        tol: float = 1e-2) -> OverfitResult:
    """Train on the single `batch` (inputs, targets) for up to `steps` steps, stopping once
    the loss is <= tol. A model that cannot overfit a few samples has a bug (or too much
    regularisation: switch off dropout and weight decay for this check)."""
    x, y = _split_batch(batch, "overfit_small_batch")
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
        if losses[-1] <= tol:
            break
    return OverfitResult(losses, losses[-1], losses[-1] <= tol)
