"""Callbacks: code that `fit` calls at fixed points of the loop (Keras' names).

A callback overrides any of on_train_begin(run), on_epoch_begin(run), on_batch_begin(run),
on_after_backward(run) (gradients are there, the optimizer has not stepped),
on_batch_end(run, logs), on_epoch_end(run, logs), on_train_end(run); `run` is the live
`Run` (model, optimizer, scheduler, history, epoch, step, stop_training, ...). Callbacks
with state that resuming needs implement state_dict()/load_state_dict().
"""
from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["Callback", "EarlyStopping", "Checkpoint"]


class Callback:
    """Base class; every hook does nothing. `order`: callbacks run sorted by it (stable),
    so Checkpoint (order 100) saves after the others have updated their state."""

    order = 0

    def on_train_begin(self, run): pass
    def on_epoch_begin(self, run): pass
    def on_batch_begin(self, run): pass
    def on_after_backward(self, run): pass
    def on_batch_end(self, run, logs): pass
    def on_epoch_end(self, run, logs): pass
    def on_train_end(self, run): pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _improved(current, best, mode, min_delta=0.0) -> bool:
    if current is None or math.isnan(current):
        return False
    return current < best - min_delta if mode == "min" else current > best + min_delta


def _resolve_mode(monitor: str, mode: str, name: str) -> str:
    if mode == "auto":   # Keras: accuracy-like metrics are maximised
        return "max" if ("acc" in monitor or monitor.startswith("fmeasure")
                         or "auc" in monitor) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"{name}: mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _monitored(logs, monitor, name):
    if monitor not in logs:
        raise KeyError(f"{name}: monitor={monitor!r} is not among the epoch's metrics "
                       f"{sorted(k for k in logs if k not in ('epoch', 'seconds'))}; pass "
                       "val= to fit for val_* metrics, or monitor another one")
    return logs[monitor]


def _copy_state(model) -> dict:
    return {k: v.data.copy() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs
    (Keras' rule: the wait counter counts epochs since the last improvement; training stops
    at the epoch where it reaches patience, never at the first epoch). With
    `restore_best_weights=True`, stopping loads the weights (parameters and buffers) of the
    best epoch back into the model; as in Keras, a run that ends without stopping keeps its
    last weights. `baseline`: the value to beat at first; `start_from_epoch`: epochs to
    wait before counting."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 0,
                 min_delta: float = 0.0, restore_best_weights: bool = True, baseline=None,
                 start_from_epoch: int = 0):
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, "EarlyStopping")
        self.patience, self.min_delta = patience, abs(float(min_delta))
        self.restore_best_weights, self.baseline = restore_best_weights, baseline
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_weights = None

    def on_train_begin(self, run):
        if run.epoch == 0:       # a fresh run (a resumed one keeps its loaded state)
            self._reset()

    def on_epoch_end(self, run, logs):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        epoch = logs["epoch"]
        if epoch <= self.start_from_epoch:
            return
        self.wait += 1
        if _improved(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = float(current), epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(run.model)
            if self.baseline is None or _improved(current, self.baseline, self.mode,
                                                  self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            run.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                run.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.best = int(state["wait"]), float(state["best"])
        self.best_epoch, self.stopped_epoch = state["best_epoch"], state["stopped_epoch"]
        weights = state["best_weights"]
        self.best_weights = None if weights is None else {
            k: (v.numpy() if hasattr(v, "numpy") else np.asarray(v)) for k, v in weights.items()}

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
                f"patience={self.patience}, min_delta={self.min_delta})")


class Checkpoint(Callback):
    """Save the whole training state (model, optimizer, scheduler, History, RNG states,
    callbacks' state, epoch) with nn.save (atomic, no pickle) every `every` epochs to
    `path_pattern.format(epoch=..., **logs)` (e.g. "ckpt/epoch{epoch:03d}.npz"), keeping
    the newest `keep_last` of the files it wrote (None keeps all). `save_best` also writes
    `best_path` (default: "best.npz" next to the pattern) whenever `monitor` improves.
    `fit(..., resume=path)` continues from any of these files bit for bit."""

    order = 100

    def __init__(self, path_pattern: str = "checkpoints/epoch{epoch:03d}.npz", every: int = 1,
                 keep_last=3, save_best: bool = True, monitor=None, mode: str = "auto",
                 best_path=None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint: every must be an int >= 1, got {every!r}")
        if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
            raise ValueError(f"Checkpoint: keep_last must be an int >= 1 or None, got "
                             f"{keep_last!r}")
        if "{epoch" not in os.fspath(path_pattern) and keep_last != 1:
            raise ValueError(f"Checkpoint: path_pattern {path_pattern!r} has no {{epoch}} field, "
                             "so every save overwrites the last; add one (e.g. "
                             "'ckpt/epoch{epoch:03d}.npz') or pass keep_last=1")
        self.path_pattern, self.every, self.keep_last = os.fspath(path_pattern), every, keep_last
        self.save_best, self.monitor, self._mode = save_best, monitor, mode
        self.best_path = os.fspath(best_path) if best_path is not None else os.path.join(
            os.path.dirname(self.path_pattern), "best.npz")
        self.saved: list = []
        self.best = None

    def on_train_begin(self, run):
        if self.monitor is None:
            self.monitor = run.history.monitor
        self.mode = _resolve_mode(self.monitor, self._mode, "Checkpoint")
        if run.epoch == 0:
            self.saved, self.best = [], None

    def _write(self, path, run):
        from ..serialization import save
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        save(run.state_dict(), path)

    def on_epoch_end(self, run, logs):
        epoch = logs["epoch"]
        if self.save_best:
            current = _monitored(logs, self.monitor, "Checkpoint")
            start = math.inf if self.mode == "min" else -math.inf
            if _improved(current, start if self.best is None else self.best, self.mode):
                self.best = float(current)
                self._write(self.best_path, run)
        if epoch % self.every == 0 or run.stop_training or epoch == run.epochs:
            path = self.path_pattern.format(**{**logs, "epoch": epoch})
            # the list is updated before writing, so the file records itself among the saved
            self.saved = [p for p in self.saved if p != path] + [path]
            drop = []
            while self.keep_last is not None and len(self.saved) > self.keep_last:
                drop.append(self.saved.pop(0))
            self._write(path, run)
            for old in drop:
                if os.path.exists(old):
                    os.remove(old)

    def state_dict(self) -> dict:
        return {"saved": list(self.saved), "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.saved = list(state["saved"])
        self.best = state["best"]

    def __repr__(self):
        return (f"Checkpoint({self.path_pattern!r}, every={self.every}, "
                f"keep_last={self.keep_last}, save_best={self.save_best})")
