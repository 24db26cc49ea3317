"""Training curves (train vs validation, the early-stopping point) and learning-rate schedules.

They read the training workflow's records as plain data (INTERFACES §4): a `History`, its
`.to_dict()`, a Keras-style {metric: [per-epoch values]} dict or a list of per-epoch dicts.
"""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict

import numpy as np

from ._mpl import (FONT, LINESTYLES, LINEWIDTH, MARKERS, color, figure_title, legend,
                   style_axes, target_axes)

__all__ = ["plot_history", "plot_lr", "lr_values", "history_records"]


def _is_number_list(v) -> bool:
    return isinstance(v, (list, tuple, np.ndarray)) and all(
        isinstance(x, (int, float, np.floating, np.integer)) or x is None for x in v)


def history_records(history) -> tuple:
    """(per-epoch dicts, per-step dicts, meta) from a History, its to_dict(), a dict of
    per-epoch lists or a list of per-epoch dicts. meta: best_epoch, monitor, mode,
    stopped_epoch (None when unknown)."""
    meta = {k: None for k in ("best_epoch", "monitor", "mode", "stopped_epoch")}
    if hasattr(history, "epochs") and not isinstance(history, dict):
        for k in meta:
            meta[k] = getattr(history, k, None)
        return list(history.epochs), list(getattr(history, "steps", None) or []), meta
    if isinstance(history, dict) and isinstance(history.get("epochs"), list) and (
            not history["epochs"] or isinstance(history["epochs"][0], dict)):
        for k in meta:
            meta[k] = history.get(k)
        return list(history["epochs"]), list(history.get("steps") or []), meta
    if isinstance(history, dict):
        series = {k: list(v) for k, v in history.items() if _is_number_list(v)}
        if not series:
            raise ValueError("plot_history: the dict holds no per-epoch lists of numbers; "
                             "pass a History, history.to_dict() or {'loss': [...], ...}")
        n = max(len(v) for v in series.values())
        epochs = [{"epoch": i + 1, **{k: v[i] for k, v in series.items() if i < len(v)}}
                  for i in range(n)]
        return epochs, [], meta
    if isinstance(history, (list, tuple)) and all(isinstance(r, dict) for r in history):
        return [dict(r, epoch=r.get("epoch", i + 1)) for i, r in enumerate(history)], [], meta
    raise TypeError(f"plot_history: expected a History, its to_dict(), a dict of per-epoch "
                    f"lists or a list of per-epoch dicts, got {type(history).__name__}")


def _column(records, key):
    xs, ys = [], []
    for i, r in enumerate(records):
        v = r.get(key)
        if v is not None:
            xs.append(r.get("epoch", i + 1))
            ys.append(float(v))
    return np.asarray(xs), np.asarray(ys)


def _mode_for(metric: str) -> str:
    name = metric.lower()
    return "max" if any(w in name for w in ("acc", "f1", "precision", "recall", "auc",
                                             "score")) else "min"


def _best(records, meta):
    """(epoch, monitor, value) of the best epoch, or None."""
    monitor = meta.get("monitor")
    if monitor is None:
        monitor = next((m for m in ("val_loss", "loss") if any(m in r for r in records)), None)
    if monitor is None:
        return None
    epochs, values = _column(records, monitor)
    if not len(values):
        return None
    best = meta.get("best_epoch")
    if best is None:
        mode = meta.get("mode") or _mode_for(monitor)
        best = int(epochs[np.argmax(values) if mode == "max" else np.argmin(values)])
    where = np.nonzero(epochs == best)[0]
    return int(best), monitor, (float(values[where[0]]) if len(where) else None)


def _history_runs(history) -> dict:
    """{label or None: history}: one history, or a dict {label: history} to compare runs."""
    if isinstance(history, dict) and history and all(
            hasattr(v, "epochs") or isinstance(v, dict)
            or (isinstance(v, (list, tuple)) and v and isinstance(v[0], dict))
            for v in history.values()) and "epochs" not in history:
        return {str(k): v for k, v in history.items()}
    return {None: history}


def plot_history(history, metrics=("loss", "accuracy"), mark_best=True, steps=False,
                 logy=False, ax=None, size="16:9", title=None):
    """Training vs validation curves, one panel per metric, with the best epoch marked.

    `history`: a History, its to_dict(), {metric: [per-epoch values]} (Keras' history), a
    list of per-epoch dicts, or a dict {label: any of these} to compare runs (one colour
    per run, validation solid, training dotted). For each name in `metrics` the panel
    shows "<name>" (training) and "val_<name>" (validation), whichever were recorded.
    `mark_best`: a vertical line at the best epoch of the monitored metric (the History's
    monitor, else val_loss), where early stopping restores the weights; the end of a run
    stopped early is marked too. `steps=True` adds the per-step training loss
    (History.steps), faint. `ax`: one Axes per metric shown.
    """
    runs = {label: history_records(h) for label, h in _history_runs(history).items()}
    if not all(records for records, _, _ in runs.values()):
        raise ValueError("plot_history: the history has no epochs yet")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    shown = [m for m in metrics if any(m in r or f"val_{m}" in r
                                       for records, _, _ in runs.values() for r in records)]
    if not shown:
        known = sorted({k for records, _, _ in runs.values() for r in records for k in r}
                       - {"epoch", "lr", "seconds"})
        raise ValueError(f"plot_history: none of {metrics} was recorded; recorded: {known}")
    fig, axes = target_axes(ax, size, "plot_history", n=len(shown), ncols=len(shown))
    compare = len(runs) > 1 or None not in runs
    for i, (label, (records, step_records, meta)) in enumerate(runs.items()):
        best = _best(records, meta) if mark_best else None
        for a, m in zip(axes, shown):
            has_val = any(f"val_{m}" in r for r in records)
            for j, (key, name) in enumerate(((m, "training"), (f"val_{m}", "validation"))):
                xs, ys = _column(records, key)
                if not len(xs):
                    continue
                if compare:
                    faint = j == 0 and has_val  # training dotted beside validation
                    a.plot(xs, ys, color=color(i), linestyle=":" if faint else "-",
                           linewidth=LINEWIDTH * (0.7 if faint else 1),
                           label=f"{label}, {name}")
                else:
                    a.plot(xs, ys, color=color(j), linestyle=LINESTYLES[j],
                           linewidth=LINEWIDTH, marker=MARKERS[j] if len(xs) <= 40 else None,
                           markersize=7, label=name)
            if steps and m == "loss" and step_records:
                _plot_steps(a, step_records, color(i if compare else 0))
            if best is not None:
                epoch, monitor, value = best
                a.axvline(epoch, color=color(i) if compare else "#555555", linestyle=":",
                          linewidth=2, label=None if compare else f"best epoch {epoch}")
                if monitor in (m, f"val_{m}") and value is not None:
                    a.plot([epoch], [value], marker="*", markersize=20,
                           color=color(i if compare else 3), markeredgecolor="black",
                           linestyle="none", zorder=5,
                           label=f"best {monitor} {value:.4g}" + (f" (epoch {epoch})"
                                                                  if compare else ""))
            stopped = meta.get("stopped_epoch")
            if mark_best and stopped:
                a.axvline(stopped, color=color(i if compare else 3), linestyle="--",
                          linewidth=1.5, label=f"stopped early (epoch {stopped})")
    for a, m in zip(axes, shown):
        if logy:
            a.set_yscale("log")
        style_axes(a, "epoch", m + (" (log scale)" if logy else ""), m)
        a.xaxis.get_major_locator().set_params(integer=True)
        legend(a, loc="best")
    if title:
        figure_title(fig, title)
    return fig


def _plot_steps(a, step_records, line_color):
    """The per-step loss against fractional epochs (step k of n in epoch e at e - 1 + k/n)."""
    per_epoch = defaultdict(list)
    for r in step_records:
        if r.get("loss") is not None:
            per_epoch[r.get("epoch", 1)].append(float(r["loss"]))
    xs, ys = [], []
    for epoch in sorted(per_epoch):
        values = per_epoch[epoch]
        n = len(values)
        xs += [epoch - 1 + (k + 1) / n for k in range(n)]
        ys += values
    a.plot(xs, ys, color=line_color, alpha=0.3, linewidth=1, label="training, per step")


def _is_plateau(scheduler) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def lr_values(scheduler, steps: int) -> np.ndarray:
    """The learning rates of the next `steps` epochs (or steps), shape (steps, groups).

    Row k is the lr in use after k calls of scheduler.step() from its current state. A copy
    is stepped (sharing the parameters, with empty optimizer state), so the scheduler and
    its optimizer are untouched."""
    if _is_plateau(scheduler):
        raise TypeError("plot_lr: ReduceLROnPlateau's lr depends on the validation metric, so "
                        "it cannot be simulated; pass the lrs the run recorded, e.g. "
                        "plot_lr(history) or plot_lr(history['lr'])")
    optimizer = getattr(scheduler, "optimizer", None)
    if optimizer is None or not hasattr(scheduler, "step"):
        raise TypeError(f"plot_lr: expected an lr scheduler, a list of lrs or a History, got "
                        f"{type(scheduler).__name__}")
    if int(steps) < 1:
        raise ValueError(f"plot_lr: steps must be >= 1, got {steps!r}")
    memo = {id(p): p for g in optimizer.param_groups for p in g["params"]}
    memo[id(optimizer.state)] = defaultdict(dict)  # momentum buffers etc. are not needed
    sched = copy.deepcopy(scheduler, memo)
    groups = sched.optimizer.param_groups
    lrs = [[float(g["lr"]) for g in groups]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()"
        for _ in range(int(steps) - 1):
            sched.step()
            lrs.append([float(g["lr"]) for g in groups])
    return np.asarray(lrs)


def _lr_series(source, steps, unit):
    """[(label suffix, x, lrs)] for one schedule."""
    if hasattr(source, "optimizer") and hasattr(source, "step"):
        if steps is None:
            raise ValueError("plot_lr: give steps= (how many epochs or steps to simulate) "
                             "with a scheduler")
        values = lr_values(source, steps)
        xs = np.arange(values.shape[0])
        if values.shape[1] == 1:
            return [("", xs, values[:, 0])]
        return [(f" group {k}", xs, values[:, k]) for k in range(values.shape[1])]
    if hasattr(source, "epochs") or (isinstance(source, dict) and "epochs" in source):
        records, step_records, _ = history_records(source)
        rows = step_records if unit == "step" and step_records else records
        key = "step" if rows is step_records else "epoch"
        xs = [r.get(key, i + 1) for i, r in enumerate(rows) if r.get("lr") is not None]
        ys = [float(r["lr"]) for r in rows if r.get("lr") is not None]
        if not ys:
            raise ValueError("plot_lr: the history recorded no 'lr'")
        return [("", np.asarray(xs), np.asarray(ys))]
    values = np.asarray(source, dtype=np.float64)
    if values.ndim != 1 or not values.size:
        raise ValueError(f"plot_lr: expected a scheduler, a History or a 1-D list of lrs, got "
                         f"shape {values.shape}")
    if steps is not None:
        values = values[:int(steps)]
    return [("", np.arange(values.size), values)]


def plot_lr(schedule, steps=None, unit="epoch", log=None, ax=None, size="16:9", title=None):
    """A learning-rate schedule: lr per epoch (or step) as a step function.

    `schedule`: an nn.optim.lr_scheduler object (simulated for `steps` steps on a copy; see
    lr_values), a list of lrs, a History (its recorded "lr"; per step with unit="step"),
    or a dict {label: any of these} to compare schedules. `log`: log-scale y (default: when
    the lrs span more than 10x)."""
    items = schedule.items() if isinstance(schedule, dict) and "epochs" not in schedule else [
        (None, schedule)]
    fig, (a,) = target_axes(ax, size, "plot_lr")
    values = []
    n = 0
    for label, source in items:
        for suffix, xs, ys in _lr_series(source, steps, unit):
            name = (label or "") + suffix
            a.plot(xs, ys, drawstyle="steps-post", color=color(n),
                   linestyle=LINESTYLES[n % 8], linewidth=LINEWIDTH,
                   label=name.strip() or None)
            values.append(ys)
            n += 1
    flat = np.concatenate(values)
    positive = flat[flat > 0]
    if log is None:
        log = bool(positive.size) and positive.size == flat.size and (
            positive.max() > 10 * positive.min())
    if log:
        a.set_yscale("log")
    style_axes(a, unit, "learning rate" + (" (log scale)" if log else ""),
               title or "learning-rate schedule")
    legend(a, loc="best")
    return fig
