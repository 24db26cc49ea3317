"""History: what `fit` recorded, as plain Python data (INTERFACES §4), so plots need no nn."""
from __future__ import annotations

import csv
import math
import os

__all__ = ["History"]

_NOT_METRICS = ("epoch", "lr", "seconds")
FORMAT = "nn.training.History"


def _same(a, b) -> bool:
    """a == b for plain data, except that NaN equals NaN (a diverged epoch's record)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


class History:
    """Per-epoch and per-step records of a training run.

    `epochs`: one dict per epoch, {"epoch" (1-based), "loss", "accuracy", "val_loss",
    "val_accuracy", ..., "lr" (the learning rate the epoch started with), "seconds"};
    `steps`: one dict per optimizer step, {"step" (global, 1-based), "epoch", "loss", "lr"}.
    `history["val_loss"]` is the list of per-epoch values (Keras' `history.history[...]`).
    `best` is the epoch dict with the best `monitor` value (lowest for mode "min").
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min"):
        if mode not in ("min", "max"):
            raise ValueError(f"History: mode must be 'min' or 'max', got {mode!r}")
        self.epochs: list = []
        self.steps: list = []
        self.monitor, self.mode = monitor, mode
        self.stopped_epoch = None

    # ---------------------------------------------------------------- recording
    def log_epoch(self, record: dict) -> None:
        self.epochs.append(dict(record))

    def log_step(self, record: dict) -> None:
        self.steps.append(dict(record))

    # ---------------------------------------------------------------- reading
    @property
    def metrics(self) -> list:
        """Names of the recorded metrics, in first-seen order ("loss", "accuracy",
        "val_loss", ...; not epoch, lr or seconds)."""
        names = []
        for record in self.epochs:
            names += [k for k in record if k not in _NOT_METRICS and k not in names]
        return names

    def __getitem__(self, name: str) -> list:
        if not isinstance(name, str):
            raise TypeError(f"History: index with a metric name, got {type(name).__name__}; "
                            "history.epochs[i] is the record of epoch i + 1")
        if not any(name in r for r in self.epochs):
            raise KeyError(f"History: no metric {name!r}; recorded: "
                           f"{self.metrics + ['lr', 'seconds']}")
        return [r.get(name) for r in self.epochs]

    def __contains__(self, name) -> bool:
        return any(name in r for r in self.epochs)

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self) -> list:
        return self.metrics

    @property
    def history(self) -> dict:
        """{metric: [per-epoch values]} including "lr" (Keras' History.history)."""
        return {k: self[k] for k in self.metrics + ["lr"] if k in self}

    def _best_index(self):
        values = [(i, r.get(self.monitor)) for i, r in enumerate(self.epochs)]
        values = [(i, v) for i, v in values if v is not None and not math.isnan(v)]
        if not values:
            return None
        pick = min if self.mode == "min" else max
        return pick(values, key=lambda iv: iv[1])[0]   # the first epoch wins ties

    @property
    def best(self):
        """The record of the epoch with the best monitored value (None if never recorded)."""
        i = self._best_index()
        return None if i is None else self.epochs[i]

    @property
    def best_epoch(self):
        best = self.best
        return None if best is None else best["epoch"]

    @property
    def last(self):
        return self.epochs[-1] if self.epochs else None

    # ---------------------------------------------------------------- plain data
    def to_dict(self) -> dict:
        """Plain, JSON-able data (nn.save can write it): round-trips via from_dict."""
        return {"format": FORMAT, "version": 1, "monitor": self.monitor, "mode": self.mode,
                "stopped_epoch": self.stopped_epoch,
                "epochs": [dict(r) for r in self.epochs],
                "steps": [dict(r) for r in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild from `to_dict()` output (or nn.load of it)."""
        if not isinstance(data, dict) or "epochs" not in data:
            raise ValueError("History.from_dict: expected the dict History.to_dict() returns "
                             f"(with 'epochs' and 'steps'), got {type(data).__name__}")
        h = cls(data.get("monitor", "val_loss"), data.get("mode", "min"))
        h.stopped_epoch = data.get("stopped_epoch")
        h.epochs = [dict(r) for r in data["epochs"]]
        h.steps = [dict(r) for r in data.get("steps", [])]
        return h

    def save(self, path) -> None:
        """nn.save(self, path): atomic, no pickle; nn.load(path) returns an equal History."""
        from ..serialization import save
        save(self, path)

    @classmethod
    def load(cls, path) -> "History":
        """The History in `path` (written by nn.save(history), or of its to_dict())."""
        from ..serialization import load
        data = load(path)
        return data if isinstance(data, History) else cls.from_dict(data)

    def to_csv(self, path, steps: bool = False) -> None:
        """One row per epoch (or per step with steps=True), one column per key."""
        rows = self.steps if steps else self.epochs
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
        path = os.fspath(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)

    def __eq__(self, other):
        """The same records, settings and stop (a NaN metric equals a NaN)."""
        return isinstance(other, History) and _same(self.to_dict(), other.to_dict())

    def __repr__(self):
        best = self.best
        tail = "" if best is None else f", best {self.monitor}={best[self.monitor]:.4g} " \
                                       f"at epoch {best['epoch']}"
        return (f"History({len(self.epochs)} epochs, {len(self.steps)} steps, "
                f"metrics={self.metrics}{tail})")
