"""Hyperparameter search: spaces (LogUniform, Uniform, IntUniform, Choice, log_grid), plans
(grid_search, random_search, coarse_to_fine) and `run` on one core, a concurrent.futures
Executor or a Dask cluster, returning SearchResults (records as INTERFACES §4).

    from nn import tuning
    space = {"lr": tuning.LogUniform(1e-4, 1e-1), "width": tuning.Choice([32, 64, 128])}
    results = tuning.run(objective, tuning.random_search(space, 16, seed=0), executor=pool)
    results.best("val_loss")
"""
from .results import SearchResults
from .search import CoarseToFine, coarse_to_fine, grid_search, random_search, run, trial_seed
from .space import Choice, Distribution, IntUniform, LogUniform, Uniform, log_grid

__all__ = ["LogUniform", "Uniform", "IntUniform", "Choice", "Distribution", "log_grid",
           "grid_search", "random_search", "coarse_to_fine", "CoarseToFine", "run",
           "trial_seed", "SearchResults"]
