"""SearchResults: one record per trial, as plain data (INTERFACES §4)."""
from __future__ import annotations

import csv
import math
import os

__all__ = ["SearchResults"]


def _value(record, metric):
    v = record["metrics"].get(metric)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


class SearchResults:
    """The trials of a search, ordered by trial number. Each record is a dict
    {"trial", "round", "config", "metrics", "status" ("ok" | "failed"), "error",
    "traceback", "seconds", "seed"}; everything but "seconds" is the same whichever
    executor ran the search."""

    def __init__(self, records=()):
        self.records = sorted((dict(r) for r in records), key=lambda r: r["trial"])

    @classmethod
    def from_records(cls, records) -> "SearchResults":
        return cls(records)

    def to_records(self) -> list:
        """Plain dicts (copies), one per trial."""
        return [{**r, "config": dict(r["config"]), "metrics": dict(r["metrics"])}
                for r in self.records]

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i):
        return self.records[i]

    @property
    def ok(self) -> list:
        return [r for r in self.records if r["status"] == "ok"]

    @property
    def failed(self) -> list:
        return [r for r in self.records if r["status"] == "failed"]

    def top(self, k: int, metric: str, mode: str = "min") -> list:
        """The k successful trials with the best `metric` (ties: the earlier trial first)."""
        if mode not in ("min", "max"):
            raise ValueError(f"SearchResults: mode must be 'min' or 'max', got {mode!r}")
        scored = [r for r in self.ok if _value(r, metric) is not None]
        if not scored and self.ok and not any(metric in r["metrics"] for r in self.ok):
            raise KeyError(f"SearchResults: no trial reported metric {metric!r}; reported: "
                           f"{sorted({m for r in self.ok for m in r['metrics']})}")
        sign = 1.0 if mode == "min" else -1.0
        return sorted(scored, key=lambda r: (sign * _value(r, metric), r["trial"]))[:k]

    def best(self, metric: str, mode: str = "min"):
        """The record of the best successful trial (None if none succeeded)."""
        top = self.top(1, metric, mode)
        return top[0] if top else None

    def _columns(self):
        configs, metrics = [], []
        for r in self.records:
            configs += [k for k in r["config"] if k not in configs]
            metrics += [k for k in r["metrics"] if k not in metrics]
        return configs, metrics

    def to_csv(self, path) -> None:
        """One row per trial: trial, round, status, seed, seconds, the config values, the
        metrics, error."""
        configs, metrics = self._columns()
        path = os.fspath(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["trial", "round", "status", "seed", "seconds"] + configs + metrics
                       + ["error"])
            for r in self.records:
                w.writerow([r["trial"], r["round"], r["status"], r["seed"],
                            f"{r['seconds']:.3f}"]
                           + [r["config"].get(k, "") for k in configs]
                           + [r["metrics"].get(k, "") for k in metrics]
                           + [r["error"] or ""])

    def table(self, metric=None, mode: str = "min", k=None) -> str:
        """A text table, sorted by `metric` when given (failed trials last)."""
        configs, metrics = self._columns()
        rows = list(self.records)
        if metric:
            ranked = self.top(len(self), metric, mode)
            ids = {r["trial"] for r in ranked}
            rows = ranked + [r for r in rows if r["trial"] not in ids]
        rows = rows[:k] if k else rows
        head = ["trial", "round"] + configs + metrics + ["status"]
        body = [[str(r["trial"]), str(r["round"])]
                + [_fmt(r["config"].get(c, "")) for c in configs]
                + [_fmt(r["metrics"].get(m, "")) for m in metrics]
                + [r["status"] if r["status"] == "ok" else f"failed: {r['error']}"[:40]]
                for r in rows]
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
        return "\n".join([line(head)] + [line(b) for b in body])

    def __repr__(self):
        return (f"SearchResults({len(self)} trials, {len(self.ok)} ok, "
                f"{len(self.failed)} failed)")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
