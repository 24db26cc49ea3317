"""Search spaces: distributions to sample hyperparameters from, and the lecture's log grids.

A space is a dict {name: dimension}; a dimension is a distribution below, a list/tuple of
values (a grid axis, or a uniform choice in random search) or a constant.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["LogUniform", "Uniform", "IntUniform", "Choice", "log_grid", "Distribution"]


class Distribution:
    """A dimension of a search space: `sample(rng)` draws one value (rng: numpy Generator);
    `zoom(values, margin)` narrows it around `values` (coarse-to-fine)."""

    def sample(self, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def zoom(self, values, margin: float):  # pragma: no cover - abstract
        raise NotImplementedError


class _Range(Distribution):
    log = False
    name = "Range"

    def __init__(self, lo, hi):
        if not (isinstance(lo, numbers.Real) and isinstance(hi, numbers.Real)
                and math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"{self.name}: needs finite lo < hi, got lo={lo!r}, hi={hi!r}")
        if self.log and lo <= 0:
            raise ValueError(f"{self.name}: a log scale needs lo > 0, got {lo!r}")
        self.lo, self.hi = lo, hi

    def _to(self, v):
        return math.log(v) if self.log else float(v)

    def _from(self, u):
        return math.exp(u) if self.log else u

    def zoom(self, values, margin: float = 0.1):
        """[min(values), max(values)] widened on each side by `margin` of this range's width
        (in log space for log scales), clipped to this range."""
        lo, hi = self._zoomed(values, margin)
        return type(self)(lo, hi)

    def _zoomed(self, values, margin):
        a, b = self._to(self.lo), self._to(self.hi)
        pad = margin * (b - a)
        lo = self._from(min(self._to(v) for v in values) - pad)
        hi = self._from(max(self._to(v) for v in values) + pad)
        return max(self.lo, lo), min(self.hi, hi)     # clipped in value space: exact ends

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __repr__(self):
        return f"{type(self).__name__}({self.lo:g}, {self.hi:g})"


class Uniform(_Range):
    """Uniform on [lo, hi)."""
    name = "Uniform"

    def sample(self, rng):
        return float(rng.uniform(self.lo, self.hi))


class LogUniform(_Range):
    """log-uniform on [lo, hi): every decade equally likely (learning rates, weight decay)."""
    name = "LogUniform"
    log = True

    def sample(self, rng):
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))


class IntUniform(_Range):
    """Integers lo..hi, both included, uniformly (or log-uniformly with log=True: widths,
    batch sizes)."""
    name = "IntUniform"

    def __init__(self, lo: int, hi: int, log: bool = False):
        if not (isinstance(lo, numbers.Integral) and isinstance(hi, numbers.Integral)):
            raise ValueError(f"IntUniform: lo and hi must be integers, got {lo!r}, {hi!r}")
        self.log = log
        super().__init__(int(lo), int(hi) + 1)   # half-open internally: [lo, hi + 1)
        self.hi = int(hi)

    def sample(self, rng):
        if self.log:
            u = math.exp(rng.uniform(math.log(self.lo), math.log(self.hi + 1)))
            return int(min(self.hi, max(self.lo, math.floor(u))))
        return int(rng.integers(self.lo, self.hi + 1))

    def zoom(self, values, margin: float = 0.1):
        lo, hi = self._zoomed(values, margin)
        lo, hi = math.floor(lo + 1e-9), math.ceil(hi - 1e-9)
        if lo == hi:
            return Choice([lo])
        return IntUniform(lo, hi, log=self.log)

    def __repr__(self):
        return f"IntUniform({self.lo}, {self.hi}{', log=True' if self.log else ''})"


class Choice(Distribution):
    """One of `options`, uniformly."""

    def __init__(self, options):
        self.options = list(options)
        if not self.options:
            raise ValueError("Choice: needs at least one option")

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def zoom(self, values, margin: float = 0.1):
        """The options that appear among `values` (in their original order)."""
        kept = [o for o in self.options if any(_same(o, v) for v in values)]
        return Choice(kept or self.options)

    def __eq__(self, other):
        return isinstance(other, Choice) and self.options == other.options

    def __repr__(self):
        return f"Choice({self.options!r})"


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and the like
        return a is b


def _nice(values, max_digits: int = 3):
    """Round to the fewest significant digits (1..max_digits) keeping values distinct."""
    for digits in range(1, max_digits + 1):
        rounded = [float(f"{v:.{digits}g}") for v in values]
        if all(a < b for a, b in zip(rounded, rounded[1:])):
            return rounded
    return [float(v) for v in values]


def log_grid(lo: float, hi: float, per_decade: int = 3, round: bool = True) -> list:
    """Values from lo to hi (both included) evenly spaced on a log scale, `per_decade`
    steps per factor of ten, rounded to the fewest significant digits that keep them apart:
    per_decade=2 gives the lecture's 1-3-10 grid ([0.001, 0.003, 0.01]), per_decade=3 the
    1-2-5-10 grid ([0.001, 0.002, 0.005, 0.01]); round=False keeps the exact powers."""
    if not (isinstance(lo, numbers.Real) and isinstance(hi, numbers.Real) and 0 < lo < hi):
        raise ValueError(f"log_grid: needs 0 < lo < hi, got lo={lo!r}, hi={hi!r}")
    if not isinstance(per_decade, numbers.Integral) or per_decade < 1:
        raise ValueError(f"log_grid: per_decade must be an int >= 1, got {per_decade!r}")
    steps = math.log10(hi / lo) * per_decade
    # interior points more than half a step below hi (a closer one would crowd hi)
    k = np.arange(1, int(math.ceil(steps - 0.5 - 1e-9)))
    inner = list(lo * 10.0 ** (k / per_decade))
    if round:
        inner = _nice(inner)
        inner = [v for v in inner if lo < v < hi]
    return [float(lo)] + [float(v) for v in inner] + [float(hi)]


def sample_space(space: dict, rng) -> dict:
    """One configuration: distributions sampled, lists/tuples chosen from uniformly,
    constants as they are (in the space's key order)."""
    config = {}
    for name, dim in space.items():
        if isinstance(dim, Distribution):
            config[name] = dim.sample(rng)
        elif isinstance(dim, (list, tuple)):
            config[name] = dim[int(rng.integers(len(dim)))]
        else:
            config[name] = dim
    return config


def check_space(space, where: str) -> dict:
    if not isinstance(space, dict) or not space:
        raise TypeError(f"{where}: space must be a non-empty dict {{name: dimension}}, got "
                        f"{type(space).__name__}")
    for name, dim in space.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: hyperparameter names must be strings, got {name!r}")
        if isinstance(dim, (list, tuple)) and not dim:
            raise ValueError(f"{where}: {name!r} has an empty list of values")
    return space
