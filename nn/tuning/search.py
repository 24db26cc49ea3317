"""Which configurations to try: grid search, random search, coarse-to-fine rounds, and
`run`, which evaluates them serially, on a concurrent.futures Executor or on Dask."""
from __future__ import annotations

import inspect
import itertools
import math
import numbers
import time
import traceback

import numpy as np

import autodiff as ad

from .._parallel import TaskError, run_tasks
from .results import SearchResults
from .space import Distribution, check_space, sample_space

__all__ = ["grid_search", "random_search", "coarse_to_fine", "CoarseToFine", "run",
           "trial_seed"]


def grid_search(space: dict) -> list:
    """Every combination of the listed values (lists, tuples or Choice options; constants
    are fixed), the last hyperparameter varying fastest. For the lecture's log grids use
    `log_grid`, e.g. {"lr": log_grid(1e-4, 1e-1, 2), "wd": [0, 1e-4]}."""
    check_space(space, "grid_search")
    axes = []
    for name, dim in space.items():
        if isinstance(dim, (list, tuple)):
            axes.append(list(dim))
        elif hasattr(dim, "options"):
            axes.append(list(dim.options))
        elif isinstance(dim, Distribution):
            raise TypeError(f"grid_search: {name!r} is a {type(dim).__name__}, which has no "
                            "grid; list its values (e.g. log_grid(lo, hi, per_decade)) or use "
                            "random_search")
        else:
            axes.append([dim])
    return [dict(zip(space, combo)) for combo in itertools.product(*axes)]


def _rng(seed, *stream) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *stream]))


def random_search(space: dict, n_trials: int, seed: int = 0) -> list:
    """`n_trials` configurations drawn independently from `space` (distributions sampled,
    lists chosen from uniformly, constants fixed); the same seed gives the same list. Random
    beats a grid when few hyperparameters matter: each trial tries a new value of each."""
    check_space(space, "random_search")
    if not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"random_search: n_trials must be an int >= 1, got {n_trials!r}")
    rng = _rng(seed)
    return [sample_space(space, rng) for _ in range(n_trials)]


class CoarseToFine:
    """A search in `rounds`: round 1 samples `n_trials` configurations from `space`; each
    later round samples from the space zoomed around the `keep_top` best trials so far
    (ranked by `metric`, `mode`): every range shrinks to span those trials' values, widened
    by `margin` of its width on each side (log ranges in log space), and choices keep the
    options they used. `spaces[r]` is the space round r + 1 sampled from. Pass it to `run`.
    """

    def __init__(self, space: dict, rounds: int = 3, keep_top: int = 5, n_trials: int = 16,
                 metric: str = "val_loss", mode: str = "min", seed: int = 0,
                 margin: float = 0.1):
        check_space(space, "coarse_to_fine")
        for what, v in (("rounds", rounds), ("keep_top", keep_top), ("n_trials", n_trials)):
            if not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"coarse_to_fine: {what} must be an int >= 1, got {v!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"coarse_to_fine: mode must be 'min' or 'max', got {mode!r}")
        self.space, self.rounds, self.keep_top, self.n_trials = space, rounds, keep_top, n_trials
        self.metric, self.mode, self.seed, self.margin = metric, mode, seed, margin
        self.spaces = [space]

    def zoom(self, results: SearchResults) -> dict:
        """The space around the best trials of `results`."""
        top = results.top(self.keep_top, self.metric, self.mode)
        if not top:
            raise RuntimeError(f"coarse_to_fine: no trial of the previous rounds reported "
                               f"{self.metric!r} successfully, so there is nothing to zoom "
                               f"around ({len(results.failed)} failed)")
        zoomed = {}
        for name, dim in self.space.items():
            values = [r["config"][name] for r in top]
            if isinstance(dim, Distribution):
                zoomed[name] = self.spaces[-1][name].zoom(values, self.margin) \
                    if isinstance(self.spaces[-1][name], Distribution) else self.spaces[-1][name]
            elif isinstance(dim, (list, tuple)):
                zoomed[name] = [v for v in dim if v in values] or list(dim)
            else:
                zoomed[name] = dim
        return zoomed

    def configs(self, round_index: int, results: SearchResults) -> list:
        """The configurations of round `round_index` (0-based), given all results so far."""
        if round_index > 0:
            self.spaces = self.spaces[:round_index] + [self.zoom(results)]
        rng = _rng(self.seed, round_index)
        return [sample_space(self.spaces[round_index], rng) for _ in range(self.n_trials)]

    def __repr__(self):
        return (f"CoarseToFine({self.rounds} rounds x {self.n_trials} trials, keep_top="
                f"{self.keep_top}, metric={self.metric!r})")


def coarse_to_fine(space: dict, rounds: int = 3, keep_top: int = 5, n_trials: int = 16,
                   metric: str = "val_loss", mode: str = "min", seed: int = 0,
                   margin: float = 0.1) -> CoarseToFine:
    """A coarse-to-fine random search plan for `run` (see CoarseToFine)."""
    return CoarseToFine(space, rounds, keep_top, n_trials, metric, mode, seed, margin)


def trial_seed(seed: int, trial: int) -> int:
    """The seed of trial `trial` in a search with `seed` (63 bits, independent streams)."""
    state = np.random.SeedSequence([int(seed), int(trial)]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def _takes_seed(objective) -> bool:
    try:
        params = inspect.signature(objective).parameters
    except (TypeError, ValueError):
        return False
    return "seed" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _run_trial(objective, config: dict, seed: int, pass_seed: bool) -> dict:
    """Evaluate one configuration (in whatever process runs it): seed the default generator,
    call the objective, time it; an exception becomes a failed record."""
    ad.manual_seed(seed)
    start = time.perf_counter()
    try:
        out = objective(dict(config), seed=seed) if pass_seed else objective(dict(config))
        if not isinstance(out, dict):
            raise TypeError(f"the objective must return a dict of metrics, got "
                            f"{type(out).__name__}")
        metrics = {str(k): float(v) for k, v in out.items()}
        status, error, trace = "ok", None, None
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        metrics, status = {}, "failed"
        error = f"{type(exc).__name__}: {exc}"
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"metrics": metrics, "status": status, "error": error, "traceback": trace,
            "seconds": time.perf_counter() - start, "seed": seed}


def run(objective, trials, executor=None, seed: int = 0, progress: bool = True) -> SearchResults:
    """Evaluate `objective(config) -> {metric: value}` on each configuration of `trials`
    (a list from grid_search/random_search, or a CoarseToFine plan) and return the
    SearchResults.

    executor: None (one after the other, here), any concurrent.futures.Executor
    (ProcessPoolExecutor for CPU-bound trials; the objective must then be a top-level,
    picklable function), or a dask.distributed.Client (a LocalCluster or a real cluster's
    scheduler). Trial i runs with ad.manual_seed(trial_seed(seed, i)), and gets `seed=` too
    if the objective accepts it, so results are identical whichever executor ran them
    (threads share the default generator: give each trial its own ad.Generator(seed) there).
    A trial that raises is recorded as failed with its error; the others go on. A tqdm bar
    counts finished trials (per round for coarse-to-fine).
    """
    if not callable(objective):
        raise TypeError(f"run: objective must be a function config -> dict of metrics, got "
                        f"{type(objective).__name__}")
    pass_seed = _takes_seed(objective)
    records = []

    def evaluate(configs, round_number):
        first = len(records)
        tasks = [(objective, c, trial_seed(seed, first + i), pass_seed)
                 for i, c in enumerate(configs)]
        desc = "trials" if round_number is None else f"round {round_number}"
        done = [None] * len(tasks)
        for i, out in run_tasks(_run_trial, tasks, executor, progress, desc, "tuning.run"):
            if isinstance(out, TaskError):     # the worker itself failed (not the objective)
                out = {"metrics": {}, "status": "failed", "error": out.error,
                       "traceback": out.traceback, "seconds": math.nan,
                       "seed": tasks[i][2]}
            done[i] = out
        for i, (config, out) in enumerate(zip(configs, done)):
            records.append({"trial": first + i, "round": round_number or 1,
                            "config": dict(config), **out})

    if isinstance(trials, CoarseToFine):
        for r in range(trials.rounds):
            evaluate(trials.configs(r, SearchResults(records)), r + 1)
        return SearchResults(records)
    if isinstance(trials, dict):
        raise TypeError("run: trials must be a list of configurations (grid_search(space) or "
                        "random_search(space, n)), not the space itself")
    configs = list(trials)
    if not all(isinstance(c, dict) for c in configs):
        raise TypeError("run: every trial must be a dict of hyperparameters")
    evaluate(configs, None)
    return SearchResults(records)
