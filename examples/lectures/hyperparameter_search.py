"""Hyperparameter search (lecture: "Hyperparameter optimization": grids on a log scale,
random search beats grid search when few hyperparameters matter, coarse to fine).

  1. The lecture's log grids: nn.tuning.log_grid(1e-3, 1e-2, 2) = [0.001, 0.003, 0.01] and
     log_grid(1e-3, 1e-2, 3) = [0.001, 0.002, 0.005, 0.01].
  2. Grid vs random with one important and one unimportant hyperparameter (Bergstra &
     Bengio, 2012): a score that depends almost only on x. Nine grid trials test 3 values
     of x, nine random trials 9 values; over 200 repetitions random search finds the
     better x. Figure grid_vs_random.png (viz.plots.plot_grid_vs_random).
  3. Sample learning rates log-uniformly: LogUniform(1e-4, 1e-1) puts a third of the draws
     in each decade; Uniform(1e-4, 1e-1) puts 90% in the top decade and almost never tries
     1e-4..1e-3.
  4. Coarse to fine on the digits: an MLP's learning rate and weight decay, a first round
     over wide log ranges, then a round zoomed around the best trials (by validation loss).
     Figure search_scatter.png (viz.plots.plot_search: one marker per round, colour =
     validation loss, a star on the best).

Run: python examples/lectures/hyperparameter_search.py [--quick] [--out DIR]
(examples/hyperparameter_search.py runs a bigger search on worker processes or Dask.)
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import nn  # noqa: E402
from nn import optim, training, tuning  # noqa: E402


def score(x, y):
    """A validation score (higher is better) that depends on x and hardly on y: a narrow
    peak at x = 0.73."""
    return np.exp(-((x - 0.73) / 0.08) ** 2) + 0.02 * np.sin(6 * y)


def grid_vs_random(repeats=200, n=9):
    """Mean best score of a 3x3 grid (randomly shifted each repetition) and of 9 random
    trials, over `repeats` repetitions."""
    rng = np.random.default_rng(0)
    k = int(np.sqrt(n))
    best_grid, best_random = [], []
    for _ in range(repeats):
        offset = rng.random(2) / k  # where the grid sits inside its cells
        ticks_x, ticks_y = np.arange(k) / k + offset[0], np.arange(k) / k + offset[1]
        gx, gy = np.meshgrid(ticks_x, ticks_y)
        best_grid.append(score(gx, gy).max())
        rx, ry = rng.random(n), rng.random(n)
        best_random.append(score(rx, ry).max())
    return float(np.mean(best_grid)), float(np.mean(best_random))


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class DigitsObjective:
    """objective(config) -> {"val_loss", "val_accuracy"} of the digits MLP trained with
    Adam(lr, weight_decay) for `epochs` epochs (run seeds each trial)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, config):
        train, val, test = _common.digits_splits(seed=0)
        train_loader, val_loader, _, _ = _common.digits_loaders(train, val, test)
        model = _mlp()
        opt = optim.Adam(model.parameters(), lr=config["lr"],
                         weight_decay=config["weight_decay"])
        history = training.fit(model, nn.CrossEntropyLoss(), opt, train_loader, val_loader,
                               epochs=self.epochs, progress=False)
        last = history.epochs[-1]
        return {"val_loss": last["val_loss"], "val_accuracy": last["val_accuracy"]}


def main(argv=None):
    args = _common.parse_args("hyperparameter_search", __doc__, argv)
    result = {}
    print("== 1. log grids")
    for per_decade in (2, 3):
        grid = tuning.log_grid(1e-3, 1e-2, per_decade)
        print(f"log_grid(1e-3, 1e-2, per_decade={per_decade}) = {grid}")
        result[f"log_grid_{per_decade}"] = grid

    print("\n== 2. grid vs random search, 9 trials, only x matters (peak at x = 0.73)")
    repeats = 50 if args.quick else 200
    grid_best, random_best = grid_vs_random(repeats)
    print(f"mean best score over {repeats} repetitions: grid {grid_best:.3f}, random "
          f"{random_best:.3f} (the peak is 1.02)")
    result.update(grid_best=grid_best, random_best=random_best)

    print("\n== 3. sampling a learning rate in [1e-4, 1e-1]: share of draws per decade")
    rng = np.random.default_rng(0)
    n = 10_000
    draws = {"LogUniform": [tuning.LogUniform(1e-4, 1e-1).sample(rng) for _ in range(n)],
             "Uniform": [tuning.Uniform(1e-4, 1e-1).sample(rng) for _ in range(n)]}
    edges = [1e-4, 1e-3, 1e-2, 1e-1]
    shares = {name: np.histogram(v, bins=edges)[0] / n for name, v in draws.items()}
    print(_common.table(["distribution", "1e-4..1e-3", "1e-3..1e-2", "1e-2..1e-1"],
                        [(name, *(100 * s)) for name, s in shares.items()],
                        ["{}", "{:.1f}%", "{:.1f}%", "{:.1f}%"]))
    result["decade_shares"] = shares

    rounds, trials, epochs = (2, 4, 2) if args.quick else (2, 10, 10)
    space = {"lr": tuning.LogUniform(1e-5, 1.0), "weight_decay": tuning.LogUniform(1e-6, 1e-1)}
    plan = tuning.coarse_to_fine(space, rounds=rounds, keep_top=3, n_trials=trials,
                                 metric="val_loss", mode="min", seed=0)
    print(f"\n== 4. coarse to fine: {rounds} rounds of {trials} trials, {epochs} epochs each, "
          "lr in [1e-5, 1], weight decay in [1e-6, 0.1]")
    results = tuning.run(DigitsObjective(epochs), plan, progress=False)
    records = results.to_records()
    for r in sorted(records, key=lambda r: (r["round"], r["metrics"]["val_loss"])):
        c, m = r["config"], r["metrics"]
        print(f"  round {r['round']}  lr {c['lr']:.2e}  weight decay {c['weight_decay']:.1e}"
              f"  ->  val loss {m['val_loss']:.4f}, val accuracy {100 * m['val_accuracy']:.1f}%")
    best = results.best("val_loss")
    zoomed = plan.spaces[-1]
    print(f"round 2 searched lr in [{zoomed['lr'].lo:.2e}, {zoomed['lr'].hi:.2e}], weight "
          f"decay in [{zoomed['weight_decay'].lo:.1e}, {zoomed['weight_decay'].hi:.1e}]")
    print(f"best: lr {best['config']['lr']:.2e}, weight decay "
          f"{best['config']['weight_decay']:.1e}: val loss {best['metrics']['val_loss']:.4f}")
    result.update(records=records, best=best, zoomed=(zoomed["lr"].lo, zoomed["lr"].hi))

    if _common.have_matplotlib():
        from viz import plots
        fig = plots.plot_grid_vs_random(9, seed=0)
        _common.save(fig, args.out, "grid_vs_random")
        fig = plots.plot_search(results, "lr", "weight_decay", color="val_loss",
                                title="Coarse to fine on the digits MLP (colour: validation "
                                      "loss)")
        _common.save(fig, args.out, "search_scatter")
    else:
        _common.skip_figures_note()
    return result


if __name__ == "__main__":
    main()
