"""16 trials of a random search: serially, on 2 local processes, on a 2-worker Dask
LocalCluster (issue 15).

Each trial trains the digits MLP of examples/hyperparameter_search.py for a few epochs
(about half a second of one core). Reports the wall time of each way and its speed-up over
the serial run (ideal: 2x on 2 free cores), with the Dask cluster's start-up shown
separately, and checks that the three result tables are identical (but for the timings).
Wall time is the point here, so run it on a quiet machine (`uptime` is printed).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_search.py [--trials 16] [--epochs 4]
"""
import _common  # noqa: F401  (single-threaded set-up first; workers inherit it)
import argparse
import concurrent.futures as cf
import multiprocessing
import os
import sys
import time

import autodiff as ad
import nn
from nn import optim, training, tuning
from nn import transforms as T
from nn.utils.data import DataLoader, load_digits, stratified_split

SPACE = {"lr": tuning.LogUniform(1e-3, 1e-1), "width": tuning.Choice([64, 128, 256]),
         "dropout": tuning.Uniform(0.0, 0.3)}


class Trial:
    """objective(config, seed): train the MLP for `epochs` epochs, report val loss/accuracy."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, config, seed):
        train, val, _ = stratified_split(load_digits(flatten=True), [0.7, 0.1, 0.2],
                                         generator=ad.Generator().manual_seed(0))
        stats = T.Standardizer().fit(DataLoader(train, batch_size=2048))
        train_loader = DataLoader(train, batch_size=64, shuffle=True, transform=stats,
                                  generator=ad.Generator().manual_seed(seed))
        val_loader = DataLoader(val, batch_size=1024, transform=stats)
        model = nn.Sequential(nn.Linear(64, config["width"]), nn.ReLU(),
                              nn.Dropout(config["dropout"]), nn.Linear(config["width"], 10))
        opt = optim.Adam(model.parameters(), lr=config["lr"])
        h = training.fit(model, nn.CrossEntropyLoss(), opt, train_loader, val_loader,
                         epochs=self.epochs, progress=False)
        return {"val_loss": h.last["val_loss"], "val_accuracy": h.last["val_accuracy"]}


def comparable(results):
    return [{k: v for k, v in r.items() if k not in ("seconds", "traceback")}
            for r in results.to_records()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    print(f"uptime: {os.popen('uptime').read().strip()}")
    configs = tuning.random_search(SPACE, args.trials, seed=0)
    objective = Trial(args.epochs)
    tuning.run(objective, configs[:1], progress=False)          # warm caches and imports
    print(f"{args.trials} trials of {args.epochs} epochs (digits MLP), wall time")

    t0 = time.perf_counter()
    serial = tuning.run(objective, configs, progress=False)
    t_serial = time.perf_counter() - t0
    print(_common.row("serial", t_serial, unit="s", scale=1))

    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pooled = tuning.run(objective, configs, executor=pool, progress=False)
    t_pool = time.perf_counter() - t0
    print(_common.row("ProcessPoolExecutor(2)", t_pool, unit="s", scale=1, baseline=t_serial)
          + f"  (speed-up {t_serial / t_pool:.2f}x)")
    assert comparable(pooled) == comparable(serial), "process pool results differ"

    try:
        import cloudpickle
        from distributed import Client, LocalCluster
    except ImportError:
        print("  dask[distributed] not installed: pip install -e '.[distributed]'")
        return
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t_start = time.perf_counter() - t0
        client.run(lambda: __import__("nn"))                   # workers import the package
        t1 = time.perf_counter()
        on_dask = tuning.run(objective, configs, executor=client, progress=False)
        t_dask = time.perf_counter() - t1
    print(_common.row("dask LocalCluster(2 workers)", t_dask, unit="s", scale=1,
                      baseline=t_serial)
          + f"  (speed-up {t_serial / t_dask:.2f}x; cluster start {t_start:.1f} s)")
    assert comparable(on_dask) == comparable(serial), "dask results differ"
    print("  the three result tables are identical")


if __name__ == "__main__":
    main()
