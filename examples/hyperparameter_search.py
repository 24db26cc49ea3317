"""Random hyperparameter search on a log scale, coarse to fine, on one core, on local worker
processes, or on a Dask cluster.

An MLP (64 -> width -> 10, ReLU, dropout) learns the shipped 8x8 digits (flattened,
standardised per pixel on the training images). The search samples the learning rate and
the weight decay log-uniformly (every decade equally likely), the width from a choice and
the dropout uniformly; each round keeps the best trials by validation loss and zooms every
range around them. Every trial is seeded (nn.tuning.trial_seed), so the table is the same
whichever executor ran it. Finally a model is trained with the best configuration and
evaluated on the test images, which the search never saw.

Run: python examples/hyperparameter_search.py [--executor serial|processes|dask]
         [--scheduler tcp://host:8786] [--rounds R] [--trials N] [--epochs E] [--quick]
--executor dask starts a LocalCluster of 2 worker processes, or connects to the scheduler
at --scheduler (a real cluster: `dask scheduler` on one machine, `dask worker
tcp://host:8786` on the others, each with this package installed).
(--quick: 2 rounds of 4 trials of 2 epochs, for CI.)
"""
import argparse
import concurrent.futures as cf
import contextlib
import time

import autodiff as ad
import nn
from nn import optim, training, tuning
from nn import transforms as T
from nn.utils.data import DataLoader, load_digits, stratified_split

SPACE = {
    "lr": tuning.LogUniform(1e-4, 1e-1),
    "weight_decay": tuning.LogUniform(1e-6, 1e-2),
    "width": tuning.Choice([32, 64, 128, 256]),
    "dropout": tuning.Uniform(0.0, 0.5),
}


def data(seed=0, batch_size=64, split_seed=0):
    """Train/val/test loaders of the flattened digits, standardised on the training set."""
    train, val, test = stratified_split(load_digits(flatten=True), [0.7, 0.1, 0.2],
                                        generator=ad.Generator().manual_seed(split_seed))
    stats = T.Standardizer().fit(DataLoader(train, batch_size=2048))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, transform=stats,
                       generator=ad.Generator().manual_seed(seed)),
            DataLoader(val, batch_size=1024, transform=stats),
            DataLoader(test, batch_size=1024, transform=stats))


def make_model(config):
    return nn.Sequential(nn.Linear(64, config["width"]), nn.ReLU(),
                         nn.Dropout(config["dropout"]), nn.Linear(config["width"], 10))


def train(config, seed, epochs):
    """(model, History, test loader) of one training run with `config`."""
    train_loader, val_loader, test_loader = data(seed)
    model = make_model(config)
    opt = optim.AdamW(model.parameters(), lr=config["lr"],
                      weight_decay=config["weight_decay"])
    history = training.fit(model, nn.CrossEntropyLoss(), opt, train_loader, val_loader,
                           epochs=epochs, progress=False)
    return model, history, test_loader


def objective(config, seed, epochs=8):
    """What one trial reports: the validation loss and accuracy of its last epoch."""
    _, history, _ = train(config, seed, epochs)
    return {"val_loss": history.last["val_loss"], "val_accuracy": history.last["val_accuracy"]}


class Objective:
    """objective with the number of epochs fixed (a picklable callable for the workers)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, config, seed):
        return objective(config, seed, self.epochs)


@contextlib.contextmanager
def make_executor(kind, scheduler=None):
    if kind == "serial":
        yield None
    elif kind == "processes":
        with cf.ProcessPoolExecutor(2) as pool:
            yield pool
    else:
        from dask.distributed import Client, LocalCluster
        if scheduler:
            with Client(scheduler) as client:
                yield client
        else:
            with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                yield client


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=("serial", "processes", "dask"), default="serial")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (with --executor dask)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12, help="trials per round")
    parser.add_argument("--keep-top", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 rounds x 4 trials x 2 epochs")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.trials, args.keep_top, args.epochs = 2, 4, 2, 2

    plan = tuning.coarse_to_fine(SPACE, rounds=args.rounds, keep_top=args.keep_top,
                                 n_trials=args.trials, metric="val_loss", seed=args.seed)
    print(f"search: {args.rounds} rounds x {args.trials} trials of {args.epochs} epochs, "
          f"keeping the best {args.keep_top} by val_loss; executor: {args.executor}")
    start = time.perf_counter()
    with make_executor(args.executor, args.scheduler) as executor:
        results = tuning.run(Objective(args.epochs), plan, executor=executor, seed=args.seed,
                             progress=not args.no_progress)
    seconds = time.perf_counter() - start
    for r, space in enumerate(plan.spaces, 1):
        print(f"round {r} space: " + ", ".join(f"{k}={v!r}" for k, v in space.items()))
    print(results.table("val_loss", k=8))
    best = results.best("val_loss")
    config = best["config"]
    print(f"{len(results)} trials ({len(results.failed)} failed) in {seconds:.1f} s; best: trial "
          f"{best['trial']} (round {best['round']}) val_loss {best['metrics']['val_loss']:.4f}, "
          f"val accuracy {100 * best['metrics']['val_accuracy']:.1f}%")
    print("best config: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in config.items()))
    ad.manual_seed(best["seed"])
    model, _, test_loader = train(config, best["seed"], args.epochs)
    test = training.evaluate(model, test_loader, ("accuracy",))["accuracy"]
    print(f"retrained with the best config: test accuracy {100 * test:.1f}%")
    return dict(results=results, best=best, test_accuracy=test, seconds=seconds)


if __name__ == "__main__":
    main()
