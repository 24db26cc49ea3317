"""Per-layer activation and gradient statistics of one forward (and backward) pass.

No matplotlib here: `collect_layer_stats` returns plain data, one snapshot in the format the
training workflow's `LayerStats` callback records (INTERFACES §4), so the same plots read
both. Only the public APIs of autodiff and nn modules are used (forward hooks, ad.grad).
"""
from __future__ import annotations

import numbers

import numpy as np

import autodiff as ad

__all__ = ["collect_layer_stats", "layer_snapshots", "record_list", "summarize"]


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


def summarize(values, kind: str = "other", bins: int = 30) -> dict:
    """The statistics LayerStats records for one array: nn.training.activation_summary
    (mean, population std, saturation, percentiles, a histogram robust to outliers, and
    the counts of NaN and Inf, which stay out of the percentiles and histogram)."""
    from nn.training import activation_summary  # noqa: PLC0415

    return activation_summary(values, kind, bins)


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


def collect_layer_stats(model, x, loss_fn=None, target=None, layers=None, bins: int = 30,
                        step: int = 0, epoch: int = 0) -> dict:
    """One snapshot of per-layer statistics from a forward pass (and a backward pass when
    `loss_fn` is given), in the LayerStats format:

        {"step": step, "epoch": epoch, "layers": {name: {"mean", "std", "saturation",
         "percentiles": {1: v, ..., 99: v}, "hist": {"counts", "edges", "below", "above"},
         "count", "nan", "inf", "module",
         ["grad_mean", "grad_std", "grad_hist", "grad_nan", "grad_inf", "weight_grad_norm"],
         ["weight_norm"]}}}

    `layers`: None (every leaf Linear/Conv and activation module, by their dotted names
    from named_modules()), "activations" (activation modules only) or a list of names.
    With `loss_fn`, loss = loss_fn(model(x), target) (or loss_fn(model(x)) without target)
    and the gradient entries are d loss / d (layer output), taken with ad.grad, so the
    parameters' .grad stay untouched. The model runs in its current mode (a training-mode
    forward updates BatchNorm's running statistics as any forward does). Saturation, the
    share of values where almost no gradient passes back: tanh |a| > 0.97, sigmoid
    a < 0.03 or a > 0.97, otherwise the share of exact zeros (nn.training.SATURATION).
    """
    if not hasattr(model, "named_modules") or not hasattr(model, "register_forward_hook"):
        raise TypeError(f"collect_layer_stats: model must be an nn.Module, got "
                        f"{type(model).__name__}")
    if not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"collect_layer_stats: bins must be a positive integer, got {bins!r}")
    from nn.training import gradient_summary  # noqa: PLC0415

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
            entry.update(gradient_summary(g, bins))
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


def record_list(items, required: str, what: str, expected: str) -> list:
    """`items` as a non-empty list of dicts that each have the key `required`."""
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"{what}: expected {expected}, got {type(items).__name__}") from None
    if not items:
        raise ValueError(f"{what}: got no records (expected {expected})")
    bad = next((r for r in items if not isinstance(r, dict) or required not in r), None)
    if bad is not None:
        raise ValueError(f"{what}: every record must be a dict with a {required!r} key "
                         f"({expected}), got {bad!r:.80}")
    return items


def layer_snapshots(stats) -> list:
    """The list of snapshot dicts in `stats`: a LayerStats callback (its .snapshots), a
    list of snapshots, or one snapshot."""
    snaps = getattr(stats, "snapshots", stats)
    if isinstance(snaps, dict):
        if "layers" not in snaps:
            raise ValueError("viz.plots: expected a layer-stats snapshot (a dict with a "
                             f"'layers' key), got a dict with keys {sorted(snaps)[:8]}")
        return [snaps]
    return record_list(snaps, "layers", "viz.plots",
                       "LayerStats, a list of its snapshots or one snapshot dict")
