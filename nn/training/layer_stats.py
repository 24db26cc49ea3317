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

__all__ = ["LayerStats", "PERCENTILES", "SATURATION", "activation_summary", "gradient_summary"]

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


#: What "saturation" counts for each kind of layer, in words (for labels and printouts):
#: the share of values where the layer passes (almost) no gradient back.
SATURATION = {
    "tanh": "share of |a| > 0.97: tanh's flat ends, where tanh' = 1 - a^2 < 0.06",
    "sigmoid": "share of a < 0.03 or a > 0.97: sigmoid's flat ends, where sigmoid' < 0.03",
    "other": "share of exact zeros: a ReLU unit at 0 passes no gradient back",
}

#: The histogram of an unbounded layer spans its 1st..99th percentiles widened by that span
#: on each side (within the data's min and max): less than 1% of outliers on a side cannot
#: squeeze the bulk into one bin, and a Gaussian or ReLU layer loses nothing (7 and 4.6
#: sigma). When those percentiles coincide (a spike), it spans min..max.
HIST_CORE = (1.0, 99.0)
HIST_MARGIN = 1.0


def _histogram(a: np.ndarray, bins: int, value_range) -> dict:
    """Counts and edges of the finite values `a` over `value_range`, with "below"/"above":
    the values outside the edges, counted but in no bin."""
    if a.size == 0:
        return {"counts": [], "edges": [], "below": 0, "above": 0}
    counts, edges = np.histogram(a, bins=bins, range=value_range)
    return {"counts": counts.astype(int).tolist(), "edges": edges.astype(float).tolist(),
            "below": int((a < edges[0]).sum()), "above": int((a > edges[-1]).sum())}


def _robust_range(a: np.ndarray, core_lo: float, core_hi: float) -> tuple:
    """HIST_CORE's percentiles widened by HIST_MARGIN of their span, within min..max."""
    lo, hi = float(a.min()), float(a.max())
    if core_hi <= core_lo:
        return lo, hi
    margin = HIST_MARGIN * (core_hi - core_lo)
    return max(lo, core_lo - margin), min(hi, core_hi + margin)


def activation_summary(a, kind: str = "other", bins: int = 30,
                       percentiles=PERCENTILES) -> dict:
    """mean, std (population), saturation, percentiles {p: value} and histogram of `a`.

    saturation (see SATURATION): the share of the values where the layer passes almost no
    gradient back: |a| > 0.97 for tanh, a < 0.03 or a > 0.97 for sigmoid (both flat ends),
    else exact zeros (inactive ReLU units). Histograms: tanh over [-1, 1], sigmoid over
    [0, 1], others over a percentile-based range ("below"/"above" count what lies outside).

    Non-finite values are reported, never hidden: "nan" and "inf" count them; mean and
    std are NumPy's over all values (NaN when any value is NaN, as torch's mean); the
    saturation, percentiles and histogram describe the finite values only (NaN and an
    empty histogram when there are none)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    finite_mask = np.isfinite(a)
    finite = a if finite_mask.all() else a[finite_mask]
    nans = int(np.isnan(a).sum())
    value_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(kind)
    if finite.size == 0:
        saturation = float("nan")
    elif kind == "tanh":
        saturation = float((np.abs(finite) > 0.97).mean())
    elif kind == "sigmoid":
        saturation = float(((finite < 0.03) | (finite > 0.97)).mean())
    else:
        saturation = float((finite == 0).mean())
    n = len(percentiles)
    values = (np.percentile(finite, list(percentiles) + list(HIST_CORE)) if finite.size
              else np.full(n + 2, np.nan))
    if value_range is None and finite.size:
        value_range = _robust_range(finite, values[n], values[n + 1])
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in std: NaN, as NumPy
        mean, std = (float(a.mean()), float(a.std())) if a.size else (np.nan, np.nan)
    return {"mean": mean, "std": std, "saturation": saturation,
            "percentiles": {int(p): float(v) for p, v in zip(percentiles, values[:n])},
            "hist": _histogram(finite, bins, value_range),
            "count": int(a.size), "nan": nans, "inf": int(a.size - finite.size - nans)}


def gradient_summary(g, bins: int = 30) -> dict:
    """The gradient entries of a layer's record: "grad_mean", "grad_std", "grad_hist"
    (activation_summary's, of d loss / d activation) and "grad_nan", "grad_inf"."""
    s = activation_summary(g, "other", bins, percentiles=())
    return {"grad_mean": s["mean"], "grad_std": s["std"], "grad_hist": s["hist"],
            "grad_nan": s["nan"], "grad_inf": s["inf"]}


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
    return at once otherwise). A recorded step during which the run fails (a NaN loss
    stops fit) is kept: its "nan"/"inf" counts show which layers diverged."""

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
        self._step = run.step + 1  # this batch's step (1-based), also if it fails
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
        if self._active:
            self._record(run)

    def _record(self, run):
        self._active = False
        layers = {}
        for name, module in self._modules:
            if name not in self._acts:
                continue      # not used in this forward pass
            entry = activation_summary(self._acts[name], _kind(module), self.bins)
            if name in self._grads:
                entry.update(gradient_summary(self._grads[name], self.bins))
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
        self.snapshots.append({"step": self._step, "epoch": run.current_epoch,
                               "layers": layers})
        self._acts, self._grads, self._weights = {}, {}, {}

    def on_train_end(self, run):
        if self._active and self._acts:
            # the run died inside a recorded step (fit raises when the loss turns NaN):
            # keep that step, it shows which layers went NaN or Inf
            self._record(run)
        for h in self._handles:
            h.remove()
        self._handles = []
        self._active = False

    def __repr__(self):
        return f"LayerStats(every={self.every}, snapshots={len(self.snapshots)})"
