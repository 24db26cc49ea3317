"""Metrics for fit/evaluate: functions of (outputs, targets) giving a batch mean, averaged
over an epoch weighted by batch size (so the epoch value is the mean over all samples)."""
from __future__ import annotations

import numpy as np

import autodiff as ad

__all__ = ["accuracy", "binary_accuracy", "resolve_metrics"]


def _array(t):
    """The backing array (NumPy or CuPy: metrics are computed where the data is)."""
    if isinstance(t, ad.Tensor):
        return t.data
    return t if hasattr(t, "__array_namespace__") else np.asarray(t)


def _fraction(hits) -> float:
    return int(ad.array_module(hits).count_nonzero(hits)) / max(hits.size, 1)


def accuracy(outputs, targets) -> float:
    """Fraction of samples whose largest output (axis 1) is the target class; targets are
    class indices (N, ...) or class probabilities / one-hot rows of the outputs' shape."""
    out, y = _array(outputs), _array(targets)
    if out.ndim < 2:
        raise ValueError(f"accuracy: needs outputs (N, C, ...) with one score per class, got "
                         f"shape {out.shape}; for one output per sample use binary_accuracy")
    pred = out.argmax(axis=1)
    if y.shape == out.shape:
        y = y.argmax(axis=1)
    if y.shape != pred.shape:
        raise ValueError(f"accuracy: targets of shape {y.shape} do not fit outputs of shape "
                         f"{out.shape} (expected {pred.shape} class indices or {out.shape} "
                         "probabilities)")
    return _fraction(pred == y)


def binary_accuracy(threshold: float = 0.5):
    """A metric: fraction of samples with (output > threshold) == target (0/1); use
    threshold 0 for logits (BCEWithLogitsLoss), 0.5 for probabilities (BCELoss)."""

    def binary_accuracy(outputs, targets) -> float:
        out, y = _array(outputs), _array(targets)
        if out.size != y.size:
            raise ValueError(f"binary_accuracy: outputs of shape {out.shape} and targets of "
                             f"shape {y.shape} need one value per sample")
        return _fraction((out.reshape(-1) > threshold) == (y.reshape(-1) > 0.5))

    return binary_accuracy


def _accuracy_for(loss_fn):
    """accuracy, or binary_accuracy with the threshold the loss implies, picked on the first
    batch from the output shape."""
    name = type(loss_fn).__name__ if loss_fn is not None else ""
    threshold = {"BCEWithLogitsLoss": 0.0, "BCELoss": 0.5}.get(name)

    def pick(outputs, targets) -> float:
        shape = tuple(outputs.shape)
        if len(shape) >= 2 and shape[1] > 1:
            return accuracy(outputs, targets)
        if threshold is None:
            raise ValueError(f"fit: 'accuracy' with one output per sample (shape {shape}) "
                             f"needs a threshold; the loss {name or None} does not say whether "
                             "outputs are logits or probabilities: pass "
                             "metrics=('loss', nn.training.binary_accuracy(0.0)) for logits "
                             "or binary_accuracy(0.5) for probabilities")
        return binary_accuracy(threshold)(outputs, targets)

    pick.__name__ = "accuracy"
    return pick


def resolve_metrics(metrics, loss_fn) -> dict:
    """{name: fn(outputs, targets) -> float} from names ('loss' is always recorded by the
    loop itself; 'accuracy'/'acc'), callables (named by __name__) or a {name: fn} dict."""
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        items = []
        for m in metrics:
            if isinstance(m, str):
                items.append((m, m))
            elif callable(m):
                items.append((getattr(m, "__name__", type(m).__name__), m))
            else:
                raise TypeError(f"fit: a metric must be a name or a function (outputs, "
                                f"targets) -> float, got {type(m).__name__}")
    out = {}
    for name, m in items:
        if m == "loss" or name == "loss" and not callable(m):
            continue
        if m in ("accuracy", "acc"):
            out["accuracy"] = _accuracy_for(loss_fn)
        elif isinstance(m, str):
            raise ValueError(f"fit: unknown metric {m!r}; built in: 'loss', 'accuracy' (pass a "
                             "function (outputs, targets) -> float for others)")
        else:
            if name.startswith("val_") or name in ("epoch", "lr", "seconds", "step"):
                raise ValueError(f"fit: metric name {name!r} is reserved")
            out[name] = m
    return out
