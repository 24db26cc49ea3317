"""LayerStats: the "babysitting" numbers of training, per layer, every n steps (INTERFACES §4).

For each watched layer and recorded step: the output activations' mean, std, saturation,
percentiles and histogram; the same for d loss / d activation; the weight's norm, its
gradient's norm, and the update-to-data ratio ||w_after - w_before|| / ||w_before|| (for
SGD that is |lr * grad| / |w|; the lecture's rule of thumb wants ~1e-3).
"""
from __future__ import annotations

import numpy as np

import autodiff as ad

from .. import activation as _act
from .. import conv as _conv
from .. import linear as _linear
from .callbacks import Callback

__all__ = ["LayerStats", "PERCENTILES", "activation_summary"]

PERCENTILES = (1, 5, 15, 25, 50, 75, 85, 95, 99)
_ACTIVATIONS = (_act.ReLU, _act.LeakyReLU, _act.PReLU, _act.ELU, _act.Sigmoid, _act.Tanh,
                _act.GELU, _act.SiLU, _act.Softplus)
_AFFINE = tuple(c for c in (_linear.Linear, _linear.Maxout, _conv.Conv2d,
                            getattr(_conv, "Conv1d", None)) if c is not None)


def _kind(module) -> str:
    if isinstance(module, _act.Tanh):
        return "tanh"
    if isinstance(module, _act.Sigmoid):
        return "sigmoid"
    return "other"


def _histogram(a: np.ndarray, bins: int, value_range=None) -> dict:
    counts, edges = np.histogram(a, bins=bins, range=value_range)
    return {"counts": counts.astype(int).tolist(), "edges": edges.astype(float).tolist()}


def activation_summary(a, kind: str = "other", bins: int = 30,
                       percentiles=PERCENTILES) -> dict:
    """mean, std (population), saturation, percentiles {p: value} and histogram of `a`.

    saturation: the fraction with |a| > 0.97 for tanh, with a < 0.03 or a > 0.97 for sigmoid
    (both flat ends), else the fraction of exact zeros (dead units of ReLU-like layers)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if kind == "tanh":
        saturation, value_range = float((np.abs(a) > 0.97).mean()), (-1.0, 1.0)
    elif kind == "sigmoid":
        saturation, value_range = float(((a < 0.03) | (a > 0.97)).mean()), (0.0, 1.0)
    else:
        saturation, value_range = float((a == 0).mean()), None
    values = np.percentile(a, percentiles)
    return {"mean": float(a.mean()), "std": float(a.std()), "saturation": saturation,
            "percentiles": {int(p): float(v) for p, v in zip(percentiles, values)},
            "hist": _histogram(a, bins, value_range)}


def _norm(arr) -> float:
    flat = np.asarray(arr, dtype=np.float64).reshape(-1)
    return float(np.sqrt(flat @ flat))


def _host(t) -> np.ndarray:
    return np.array(t.numpy(), copy=True)


class LayerStats(Callback):
    """Record per-layer statistics every `every` optimizer steps (steps 1, 1 + every, ...)
    into `.snapshots`: {"step", "epoch", "layers": {name: {...}}} as INTERFACES §4 lists.

    layers: None watches the leaf modules that are activation functions (ReLU, Tanh,
    Sigmoid, GELU, ...) or Linear/Conv layers; or pass dotted names from named_modules(),
    or a tuple of module classes. `bins`: histogram bins. Only recorded steps pay (hooks
    return at once otherwise)."""

    def __init__(self, every: int = 100, layers=None, bins: int = 30):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"LayerStats: every must be an int >= 1, got {every!r}")
        self.every, self.layers, self.bins = every, layers, bins
        self.snapshots: list = []
        self._handles = []
        self._active = False

    def _watched(self, model):
        if self.layers is None:
            return [(n, m) for n, m in model.named_modules()
                    if n and not list(m.children()) and isinstance(m, _ACTIVATIONS + _AFFINE)]
        if isinstance(self.layers, tuple) and all(isinstance(c, type) for c in self.layers):
            return [(n, m) for n, m in model.named_modules() if n and isinstance(m, self.layers)]
        named = dict(model.named_modules())
        missing = [n for n in self.layers if n not in named]
        if missing:
            raise KeyError(f"LayerStats: no module named {missing} in the model; names are "
                           f"those of named_modules(), e.g. {[n for n in named if n][:6]}")
        return [(n, named[n]) for n in self.layers]

    def on_train_begin(self, run):
        self._modules = self._watched(run.model)
        if not self._modules:
            raise ValueError("LayerStats: the model has no layer to watch (no activation, "
                             "Linear or Conv leaf module); pass layers=")
        for name, module in self._modules:
            self._handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def record(module, args, out):
            if not self._active or not isinstance(out, ad.Tensor):
                return None
            self._acts[name] = _host(out)
            if out.requires_grad:
                out.register_hook(lambda g: self._grads.__setitem__(name, _host(g)))
            return None
        return record

    def on_batch_begin(self, run):
        self._active = run.step % self.every == 0
        self._acts, self._grads, self._weights = {}, {}, {}

    def on_after_backward(self, run):
        if not self._active:
            return
        for name, module in self._modules:
            w = getattr(module, "weight", None)
            if isinstance(w, ad.Tensor) and w.requires_grad:
                grad = None if w.grad is None else _norm(w.grad.numpy())
                self._weights[name] = (_host(w), grad)

    def on_batch_end(self, run, logs):
        if not self._active:
            return
        self._active = False
        layers = {}
        for name, module in self._modules:
            if name not in self._acts:
                continue      # not used in this forward pass
            entry = activation_summary(self._acts[name], _kind(module), self.bins)
            if name in self._grads:
                g = activation_summary(self._grads[name], "other", self.bins)
                entry.update(grad_mean=g["mean"], grad_std=g["std"], grad_hist=g["hist"])
            if name in self._weights:
                before, grad_norm = self._weights[name]
                w_norm = _norm(before)
                entry["weight_norm"] = w_norm
                if grad_norm is not None:
                    entry["weight_grad_norm"] = grad_norm
                after = module.weight.numpy()
                entry["update_ratio"] = (_norm(after.astype(np.float64) - before)
                                         / w_norm if w_norm > 0 else float("nan"))
            layers[name] = entry
        self.snapshots.append({"step": run.step, "epoch": run.current_epoch, "layers": layers})
        self._acts, self._grads, self._weights = {}, {}, {}

    def on_train_end(self, run):
        for h in self._handles:
            h.remove()
        self._handles = []
        self._active = False

    def __repr__(self):
        return f"LayerStats(every={self.every}, snapshots={len(self.snapshots)})"
