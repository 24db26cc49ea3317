"""Per-layer activation and gradient statistics of one forward (and backward) pass.

No matplotlib here: `collect_layer_stats` returns plain data, one snapshot in the format the
training workflow's `LayerStats` callback records (INTERFACES §4), so the same plots read
both. Only the public APIs of autodiff and nn modules are used (forward hooks, ad.grad).
"""
from __future__ import annotations

import numbers

import numpy as np

import autodiff as ad

__all__ = ["collect_layer_stats", "layer_snapshots", "summarize", "PERCENTILES",
           "SATURATION_THRESHOLD"]

#: The percentiles every snapshot records.
PERCENTILES = (1, 5, 15, 25, 50, 75, 85, 95, 99)
#: |a| beyond which a tanh unit counts as saturated (sigmoid: a < 0.03 or a > 0.97).
SATURATION_THRESHOLD = 0.97


def _classes(nn, names):
    return tuple(c for c in (getattr(nn, n, None) for n in names) if isinstance(c, type))


def _kinds():
    """{kind: tuple of nn classes}: which modules count as activations or affine layers."""
    import nn  # noqa: PLC0415  (public classes only, for isinstance)

    return {
        "tanh": _classes(nn, ["Tanh"]),
        "sigmoid": _classes(nn, ["Sigmoid"]),
        "activation": _classes(nn, ["ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU",
                                    "Softplus", "Maxout"]),
        "affine": _classes(nn, ["Linear", "Conv1d", "Conv2d", "Conv3d"]),
    }


def _kind(module, kinds) -> str | None:
    for kind, classes in kinds.items():
        if classes and isinstance(module, classes):
            return kind
    return None


def _saturation(a: np.ndarray, kind: str) -> float:
    """tanh: fraction with |a| > 0.97; sigmoid: a < 0.03 or a > 0.97 (both flat ends);
    anything else: the fraction of exact zeros (dead ReLU units)."""
    if a.size == 0:
        return float("nan")
    if kind == "tanh":
        return float(np.mean(np.abs(a) > SATURATION_THRESHOLD))
    if kind == "sigmoid":
        return float(np.mean(np.abs(a - 0.5) > SATURATION_THRESHOLD - 0.5))
    return float(np.mean(a == 0))


def _hist(a: np.ndarray, bins: int, value_range=None) -> dict:
    finite = a[np.isfinite(a)]
    counts, edges = np.histogram(finite, bins=bins, range=value_range)
    return {"counts": counts.tolist(), "edges": edges.tolist()}


def summarize(values, kind: str = "activation", bins: int = 50) -> dict:
    """mean, std, saturation, percentiles and histogram of an array (flattened, float64).

    tanh and sigmoid outputs get the fixed histogram ranges [-1, 1] and [0, 1], so layers
    compare bin for bin; otherwise the range is the data's. std is the population std
    (NumPy's default, ddof=0). Percentiles and histograms skip NaN/Inf; mean/std show them."""
    a = np.asarray(values, dtype=np.float64).ravel()
    finite = a[np.isfinite(a)]
    value_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(kind)
    if value_range is not None and finite.size and (finite.min() < value_range[0]
                                                    or finite.max() > value_range[1]):
        value_range = None
    pct = (np.percentile(finite, PERCENTILES) if finite.size
           else np.full(len(PERCENTILES), np.nan))
    return {"mean": float(a.mean()) if a.size else float("nan"),
            "std": float(a.std()) if a.size else float("nan"),
            "saturation": _saturation(a, kind),
            "percentiles": {q: float(v) for q, v in zip(PERCENTILES, pct)},
            "hist": _hist(a, bins, value_range)}


def _to_numpy(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def _select(model, layers, kinds) -> dict:
    """{name: (module, kind)} of the modules to watch, in named_modules order."""
    named = list(model.named_modules())
    if layers is None or layers == "activations":
        wanted = (("tanh", "sigmoid", "activation") if layers == "activations"
                  else ("tanh", "sigmoid", "activation", "affine"))
        chosen = {}
        for name, module in named:
            if next(iter(module.children()), None) is not None:
                continue  # leaves only: a container's output is its last leaf's
            kind = _kind(module, kinds)
            if kind in wanted:
                chosen[name or type(module).__name__] = (module, kind)
        if not chosen:
            raise ValueError("collect_layer_stats: the model has no Linear/Conv or activation "
                             "leaf modules to watch; name the modules with layers=[...] "
                             f"(its modules: {[n for n, _ in named if n]})")
        return chosen
    if isinstance(layers, str):
        layers = [layers]
    modules = dict(named)
    missing = [n for n in layers if n not in modules]
    if missing:
        raise ValueError(f"collect_layer_stats: no module named {missing} in the model; "
                         f"its modules are {[n for n in modules if n]}")
    return {n: (modules[n], _kind(modules[n], kinds)) for n in layers}


def collect_layer_stats(model, x, loss_fn=None, target=None, layers=None, bins: int = 50,
                        step: int = 0, epoch: int = 0) -> dict:
    """One snapshot of per-layer statistics from a forward pass (and a backward pass when
    `loss_fn` is given), in the LayerStats format:

        {"step": step, "epoch": epoch, "layers": {name: {"mean", "std", "saturation",
         "percentiles": {1: v, ..., 99: v}, "hist": {"counts", "edges"}, "module",
         ["grad_mean", "grad_std", "grad_hist", "weight_grad_norm"], ["weight_norm"]}}}

    `layers`: None (every leaf Linear/Conv and activation module, by their dotted names
    from named_modules()), "activations" (activation modules only) or a list of names.
    With `loss_fn`, loss = loss_fn(model(x), target) (or loss_fn(model(x)) without target)
    and the gradient entries are d loss / d (layer output), taken with ad.grad, so the
    parameters' .grad stay untouched. The model runs in its current mode (a training-mode
    forward updates BatchNorm's running statistics as any forward does). Saturation:
    tanh |a| > 0.97, sigmoid a < 0.03 or a > 0.97, otherwise the fraction of exact zeros.
    """
    if not hasattr(model, "named_modules") or not hasattr(model, "register_forward_hook"):
        raise TypeError(f"collect_layer_stats: model must be an nn.Module, got "
                        f"{type(model).__name__}")
    if not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"collect_layer_stats: bins must be a positive integer, got {bins!r}")
    watched = _select(model, layers, _kinds())
    outputs = {name: [] for name in watched}
    handles = []

    def recorder(name):
        def hook(module, args, out):
            if isinstance(out, ad.Tensor):
                outputs[name].append(out)
        return hook

    try:
        for name, (module, _) in watched.items():
            handles.append(module.register_forward_hook(recorder(name)))
        if loss_fn is None:
            with ad.no_grad():
                model(x)
            grads = {}
        else:
            out = model(x)
            loss = loss_fn(out) if target is None else loss_fn(out, target)
            grads = _gradients(loss, outputs, watched)
    finally:
        for handle in handles:
            handle.remove()

    result = {}
    for name, (module, kind) in watched.items():
        if not outputs[name]:
            continue  # the module did not run in this forward pass
        values = np.concatenate([_to_numpy(t).ravel() for t in outputs[name]])
        entry = summarize(values, kind or "other", bins)
        entry["module"] = type(module).__name__
        weight = getattr(module, "weight", None)
        if isinstance(weight, ad.Tensor):
            entry["weight_norm"] = float(np.linalg.norm(_to_numpy(weight)))
        if name in grads:
            g, wg = grads[name]
            gsum = summarize(g, "gradient", bins)
            entry.update(grad_mean=gsum["mean"], grad_std=gsum["std"], grad_hist=gsum["hist"])
            if wg is not None:
                entry["weight_grad_norm"] = float(np.linalg.norm(wg))
        result[name] = entry
    return {"step": int(step), "epoch": int(epoch), "layers": result}


def _gradients(loss, outputs, watched) -> dict:
    """{name: (d loss / d outputs flattened, d loss / d weight or None)} by one ad.grad."""
    if not isinstance(loss, ad.Tensor) or int(np.prod(loss.shape)) != 1:
        raise ValueError("collect_layer_stats: loss_fn must return a scalar Tensor, got "
                         f"{getattr(loss, 'shape', type(loss).__name__)}")
    targets, owners = [], []
    for name, tensors in outputs.items():
        for t in tensors:
            if t.requires_grad:
                targets.append(t)
                owners.append((name, "out"))
        weight = getattr(watched[name][0], "weight", None)
        if isinstance(weight, ad.Tensor) and weight.requires_grad and tensors:
            targets.append(weight)
            owners.append((name, "weight"))
    if not targets:
        return {}
    found = ad.grad(loss, targets, allow_unused=True)
    pieces: dict = {}
    for (name, what), t, g in zip(owners, targets, found):
        arr = np.zeros(t.shape) if g is None else _to_numpy(g)
        slot = pieces.setdefault(name, ([], None))
        if what == "out":
            slot[0].append(arr.ravel())
        else:
            pieces[name] = (slot[0], arr)
    return {name: (np.concatenate(outs) if outs else np.zeros(0), wg)
            for name, (outs, wg) in pieces.items() if outs}


def layer_snapshots(stats) -> list:
    """The list of snapshot dicts in `stats`: a LayerStats callback (its .snapshots), a
    list of snapshots, or one snapshot."""
    snaps = getattr(stats, "snapshots", stats)
    if isinstance(snaps, dict):
        if "layers" not in snaps:
            raise ValueError("viz.plots: expected a layer-stats snapshot (a dict with a "
                             f"'layers' key), got a dict with keys {sorted(snaps)[:8]}")
        return [snaps]
    try:
        snaps = list(snaps)
    except TypeError:
        raise TypeError("viz.plots: expected LayerStats, a list of snapshots or one snapshot "
                        f"dict, got {type(stats).__name__}") from None
    if not snaps:
        raise ValueError("viz.plots: the layer stats hold no snapshots yet")
    for s in snaps:
        if not isinstance(s, dict) or "layers" not in s:
            raise ValueError("viz.plots: every snapshot must be a dict with a 'layers' key "
                             f"(the LayerStats format), got {type(s).__name__}")
    return snaps
