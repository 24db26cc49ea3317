"""nn.tuning: spaces, log grids, plans, and the same results on every executor."""
import concurrent.futures as cf
import json
import math
import multiprocessing
import sys

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import optim, tuning
from nn.tuning import (Choice, IntUniform, LogUniform, SearchResults, Uniform, grid_search,
                       log_grid, random_search, trial_seed)


def test_log_grid_gives_the_lecture_grids_exactly():
    assert log_grid(0.001, 0.01, 2) == [0.001, 0.003, 0.01]
    assert log_grid(0.001, 0.01, 3) == [0.001, 0.002, 0.005, 0.01]
    assert log_grid(1e-4, 1e-1, 3) == [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01,
                                       0.02, 0.05, 0.1]
    assert log_grid(1e-3, 1e-1, 1) == [0.001, 0.01, 0.1]
    assert log_grid(1e-3, 5e-2, 3) == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
    exact = log_grid(1.0, 10.0, 3, round=False)
    np.testing.assert_allclose(exact, [1, 10 ** (1 / 3), 10 ** (2 / 3), 10], rtol=1e-15)
    fine = log_grid(1.0, 10.0, 10)
    assert len(fine) == 11 and all(a < b for a, b in zip(fine, fine[1:]))
    with pytest.raises(ValueError, match="0 < lo < hi"):
        log_grid(0, 1)


def test_distributions_sample_their_ranges():
    rng = np.random.default_rng(0)
    lr = [LogUniform(1e-4, 1e-1).sample(rng) for _ in range(3000)]
    assert min(lr) >= 1e-4 and max(lr) < 1e-1
    per_decade = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0] / 3000
    np.testing.assert_allclose(per_decade, 1 / 3, atol=0.04)      # each decade alike
    u = [Uniform(-1, 1).sample(rng) for _ in range(2000)]
    assert -1 <= min(u) and max(u) < 1 and abs(np.mean(u)) < 0.05
    ints = [IntUniform(2, 5).sample(rng) for _ in range(400)]
    assert set(ints) == {2, 3, 4, 5}                               # both ends included
    wide = [IntUniform(16, 256, log=True).sample(rng) for _ in range(2000)]
    assert 16 <= min(wide) and max(wide) <= 256 and np.median(wide) < 100
    assert {Choice(["a", "b"]).sample(rng) for _ in range(50)} == {"a", "b"}
    with pytest.raises(ValueError, match="lo > 0"):
        LogUniform(0, 1)
    with pytest.raises(ValueError, match="lo < hi"):
        Uniform(2, 1)


def test_grid_and_random_search():
    grid = grid_search({"lr": log_grid(1e-3, 1e-2, 2), "wd": [0.0, 1e-4], "act": "relu"})
    assert len(grid) == 6
    assert grid[:2] == [{"lr": 0.001, "wd": 0.0, "act": "relu"},
                        {"lr": 0.001, "wd": 1e-4, "act": "relu"}]
    with pytest.raises(TypeError, match="has no grid"):
        grid_search({"lr": LogUniform(1e-3, 1e-1)})
    space = {"lr": LogUniform(1e-4, 1e-1), "width": Choice([16, 32]), "depth": [1, 2, 3],
             "act": "tanh"}
    a, b = random_search(space, 20, seed=3), random_search(space, 20, seed=3)
    assert a == b and a != random_search(space, 20, seed=4)
    assert len({c["lr"] for c in a}) == 20                 # a new value every trial
    assert {c["depth"] for c in a} == {1, 2, 3} and all(c["act"] == "tanh" for c in a)


def test_zoom_narrows_around_values():
    lr = LogUniform(1e-5, 1e-1).zoom([1e-3, 4e-3], margin=0.1)
    assert lr.lo == pytest.approx(1e-3 / 10 ** 0.4) and lr.hi == pytest.approx(4e-3 * 10 ** 0.4)
    assert LogUniform(1e-5, 1e-1).zoom([2e-5], margin=0.5).lo == 1e-5   # clipped to the range
    assert Uniform(0, 10).zoom([4, 5], margin=0.1) == Uniform(3, 6)
    assert IntUniform(1, 100).zoom([40, 42], margin=0.01) == IntUniform(39, 43)
    assert Choice([8, 16, 32]).zoom([32, 8]) == Choice([8, 32])


def quadratic(config):
    """A cheap objective with its minimum at lr = 10^-2.5 (and width 16)."""
    if config["lr"] > 0.05:
        raise ValueError("diverged")
    return {"val_loss": (math.log10(config["lr"]) + 2.5) ** 2 + config["width"] / 1000}


def test_run_records_trials_and_failures(tmp_path):
    space = {"lr": LogUniform(1e-4, 1e-1), "width": Choice([16, 64])}
    configs = random_search(space, 12, seed=0)
    res = tuning.run(quadratic, configs, seed=5, progress=False)
    assert len(res) == 12 and [r["trial"] for r in res] == list(range(12))
    failed = [r for r in res if r["config"]["lr"] > 0.05]
    assert failed and res.failed == failed
    assert all(r["status"] == "failed" and r["error"] == "ValueError: diverged"
               and "quadratic" in r["traceback"] and r["metrics"] == {} for r in failed)
    assert all(r["seed"] == trial_seed(5, r["trial"]) and r["round"] == 1 for r in res)
    best = res.best("val_loss")
    assert best["metrics"]["val_loss"] == min(quadratic(c)["val_loss"]
                                              for c in configs if c["lr"] <= 0.05)
    assert res.top(3, "val_loss")[0] is best
    assert res.best("val_loss", mode="max")["metrics"]["val_loss"] == max(
        r["metrics"]["val_loss"] for r in res.ok)
    records = res.to_records()
    assert set(records[0]) >= {"trial", "config", "metrics", "status", "error", "seconds",
                               "seed", "round"}
    json.dumps(records)
    assert SearchResults.from_records(records).to_records() == records
    res.to_csv(tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == "trial,round,status,seed,seconds,lr,width,val_loss,error"
    assert len(lines) == 13 and "ValueError: diverged" in (tmp_path / "r.csv").read_text()
    assert "val_loss" in res.table("val_loss")
    with pytest.raises(KeyError, match="no trial reported"):
        res.best("accuracy")


def test_run_seeds_each_trial():
    def draw(config, seed):
        return {"u": float(ad.rand(1).item()), "seed": float(seed % 1000)}

    res = tuning.run(draw, [{}, {}, {}], seed=1, progress=False)
    for r in res:
        ad.manual_seed(trial_seed(1, r["trial"]))
        assert r["metrics"]["u"] == float(ad.rand(1).item())
        assert r["metrics"]["seed"] == trial_seed(1, r["trial"]) % 1000
    with pytest.raises(TypeError, match="list of configurations"):
        tuning.run(quadratic, {"lr": [1, 2]})


def test_coarse_to_fine_zooms_in_on_the_best():
    space = {"lr": LogUniform(1e-6, 1e0), "width": Choice([16, 64, 256])}
    plan = tuning.coarse_to_fine(space, rounds=3, keep_top=4, n_trials=12, seed=2)
    res = tuning.run(quadratic, plan, progress=False)
    assert len(res) == 36 and [r["round"] for r in res] == [1] * 12 + [2] * 12 + [3] * 12
    assert len(plan.spaces) == 3
    widths = [math.log10(s["lr"].hi / s["lr"].lo) for s in plan.spaces]
    assert widths[0] > widths[1] > widths[2]
    top2 = res.top(4, "val_loss")
    assert all(plan.spaces[2]["lr"].lo <= r["config"]["lr"] <= plan.spaces[2]["lr"].hi
               for r in SearchResults([r for r in res if r["round"] <= 2]).top(4, "val_loss"))
    coarse_best = SearchResults([r for r in res if r["round"] == 1]).best("val_loss")
    assert top2[0]["metrics"]["val_loss"] <= coarse_best["metrics"]["val_loss"]
    assert abs(math.log10(res.best("val_loss")["config"]["lr"]) + 2.5) < 0.3


def tiny_fit(config, seed):
    """A real (tiny) training run: its initialisation and data come from the trial seed."""
    rng = np.random.default_rng(seed % 2 ** 32)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x.sum(1) > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, config["width"]), nn.Tanh(),
                          nn.Linear(config["width"], 2))
    opt = optim.SGD(model.parameters(), lr=config["lr"])
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(ad.tensor(x)), ad.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    if config["width"] == 3:
        raise RuntimeError("width 3 is cursed")
    return {"val_loss": float(loss.item())}


SPACE = {"lr": LogUniform(1e-3, 1.0), "width": Choice([3, 8, 16])}


def _comparable(res):
    return [{k: v for k, v in r.items() if k not in ("seconds", "traceback")}
            for r in res.to_records()]


def test_same_results_serially_and_on_a_process_pool():
    configs = random_search(SPACE, 6, seed=0)
    serial = tuning.run(tiny_fit, configs, progress=False)
    assert serial.failed and serial.ok
    ctx = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pooled = tuning.run(tiny_fit, configs, executor=pool, progress=False)
    assert _comparable(pooled) == _comparable(serial)
    with cf.ThreadPoolExecutor(2) as threads:         # accepted; configs and order kept
        threaded = tuning.run(quadratic, [{"lr": 1e-3, "width": 16}] * 3, executor=threads,
                              progress=False)
    assert [r["status"] for r in threaded] == ["ok"] * 3


def test_same_results_on_a_dask_local_cluster():
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (pip install -e '.[distributed]')")
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # workers cannot import tests/
    configs = random_search(SPACE, 6, seed=0)
    serial = tuning.run(tiny_fit, configs, progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = tuning.run(tiny_fit, configs, executor=client, progress=False)
    assert _comparable(on_dask) == _comparable(serial)
    assert any(r["status"] == "failed" and "cursed" in r["error"] for r in on_dask)


def test_run_progress_and_executor_errors(capsys):
    tuning.run(quadratic, [{"lr": 1e-3, "width": 16}] * 2, progress=True)
    assert "trials" in capsys.readouterr().err
    with pytest.raises(TypeError, match="executor must be"):
        tuning.run(quadratic, [{"lr": 1e-3, "width": 16}], executor=object(), progress=False)
