"""nn.training: fit, History, callbacks, LayerStats, resuming, sanity checks."""
import math
import os

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import optim, training
from nn import transforms as T
from nn.training import Callback, Checkpoint, EarlyStopping, History, LayerStats
from nn.utils.data import DataLoader, TensorDataset


def gen(seed):
    return ad.Generator().manual_seed(seed)


def blobs(n=240, seed=0):
    """Two Gaussian blobs in 2-D, well separated (a linear model reaches ~100%)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 2.5, -2.5)
    return x.astype(np.float32), y.astype(np.int64)


def loaders(seed=0, batch=32, transform=None):
    x, y = blobs(seed=seed)
    train = DataLoader(TensorDataset(x[:200], y[:200]), batch_size=batch, shuffle=True,
                       generator=gen(seed), transform=transform)
    val = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=64)
    return train, val


def mlp(seed=0, dropout=0.0):
    ad.manual_seed(seed)
    layers = [nn.Linear(2, 8), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(8, 2))


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_fit_learns_blobs_and_records_history():
    train, val = loaders()
    model = mlp()
    h = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train, val, epochs=8, progress=False)
    assert h.last["val_accuracy"] >= 0.95 and h.last["accuracy"] >= 0.95
    assert len(h) == 8 and [r["epoch"] for r in h.epochs] == list(range(1, 9))
    assert len(h.steps) == 8 * len(train) == 8 * 7
    assert [s["step"] for s in h.steps] == list(range(1, 57))
    assert h.metrics == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert h["val_loss"] == [r["val_loss"] for r in h.epochs]
    assert h.monitor == "val_loss" and h.mode == "min"
    assert h.best == min(h.epochs, key=lambda r: r["val_loss"])
    assert all(r["lr"] == 0.1 and r["seconds"] > 0 for r in h.epochs)
    assert h.stopped_epoch is None
    final = training.evaluate(model, val, ("loss", "accuracy"), nn.CrossEntropyLoss())
    assert final["loss"] == pytest.approx(h.last["val_loss"], rel=1e-6)


def test_epoch_values_are_sample_weighted_means():
    """With lr = 0 nothing changes, so the epoch loss is the full-data loss and the step
    losses are each batch's loss."""
    x, y = blobs(50)
    train = DataLoader(TensorDataset(x, y), batch_size=16)       # 16, 16, 16, 2
    model = mlp()
    loss_fn = nn.CrossEntropyLoss()
    h = training.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), train,
                     epochs=1, progress=False)
    logits = model(ad.tensor(x)).numpy().astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    per_sample = -logp[np.arange(50), y]
    assert h.last["loss"] == pytest.approx(per_sample.mean(), rel=1e-5)
    assert h.last["accuracy"] == pytest.approx((logits.argmax(1) == y).mean())
    for s, start in zip(h.steps, range(0, 50, 16)):
        assert s["loss"] == pytest.approx(per_sample[start:start + 16].mean(), rel=1e-5)
    assert h.monitor == "loss"            # no val: the training loss is monitored


def test_custom_metric_and_binary_accuracy():
    x, y = blobs(64)
    data = DataLoader(TensorDataset(x, y.astype(np.float32)[:, None]), batch_size=16)
    ad.manual_seed(0)
    model = nn.Linear(2, 1)

    def mean_output(out, target):
        return float(out.numpy().mean())

    h = training.fit(model, nn.BCEWithLogitsLoss(), optim.SGD(model.parameters(), lr=0.5),
                     data, data, epochs=3, metrics=("loss", "accuracy", mean_output),
                     progress=False)
    assert h.last["val_accuracy"] > 0.95 and "val_mean_output" in h
    with pytest.raises(ValueError, match="needs a threshold"):
        training.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data,
                     epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown metric"):
        training.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data,
                     metrics=("f1",), progress=False)


class EpochClock(Callback):
    """Tells a scripted metric which epoch it is in, and keeps each epoch's weights."""
    order = -1

    def __init__(self):
        self.epoch, self.weights = 0, {}

    def on_epoch_begin(self, run):
        self.epoch = run.epoch + 1

    def on_epoch_end(self, run, logs):
        self.weights[logs["epoch"]] = weights(run.model)


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    clock = EpochClock()
    script = [5.0, 4.0, 3.0, 3.5, 2.9995, 3.6, 3.7, 3.8, 1.0]

    def score(out, target):
        return script[clock.epoch - 1]

    train, val = loaders()
    model = mlp()
    stop = EarlyStopping(monitor="val_score", mode="min", patience=3, min_delta=0.01)
    h = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train, val, epochs=9, callbacks=[stop, clock],
                     metrics=("loss", score), progress=False)
    # improvements (by more than 0.01): epochs 1, 2, 3; 2.9995 is within min_delta of 3.0;
    # the wait reaches patience 3 at epoch 6
    assert h.stopped_epoch == 6 == stop.stopped_epoch and len(h) == 6
    assert stop.best_epoch == 3 and stop.best == 3.0
    assert h.monitor == "val_score" and h.best_epoch == 5       # History: the plain minimum
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, clock.weights[3][k])
    assert not np.array_equal(clock.weights[6]["0.weight"], clock.weights[3]["0.weight"])


def test_early_stopping_patience_zero_and_mode_auto():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping().mode == "min"
    clock = EpochClock()
    script = [0.5, 0.6, 0.55, 0.9]

    def acc(out, target):
        return script[clock.epoch - 1]

    train, val = loaders()
    model = mlp()
    h = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train, val, epochs=4, metrics=("loss", acc), progress=False,
                     callbacks=[EarlyStopping(monitor="val_acc", patience=0), clock])
    assert h.stopped_epoch == 3 and h.mode == "max" and h.best_epoch == 2
    with pytest.raises(KeyError, match="not among the epoch's metrics"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train, epochs=1, progress=False, callbacks=[EarlyStopping()])


def _resume_setup(tmp_path, seed=0):
    """Model, optimizer, scheduler, loaders with shuffling and augmentation: everything
    random draws from explicit generators (and dropout from the default one once the
    randomness API is there)."""
    augment = T.Compose([T.GaussianNoise(0.3, generator=gen(seed + 10)),
                         T.RandomMask(0.1, generator=gen(seed + 11))])
    train, val = loaders(seed, transform=augment)
    model = mlp(seed, dropout=0.2)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    ckpt = Checkpoint(os.path.join(tmp_path, "ep{epoch:02d}.npz"), keep_last=2)
    stop = EarlyStopping(patience=10)
    return model, opt, sched, train, val, [stop, ckpt]


def test_checkpoint_keeps_last_files_and_resumes_bit_exactly(tmp_path):
    model, opt, sched, train, val, cbs = _resume_setup(tmp_path)
    ad.manual_seed(123)
    full = training.fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=6,
                        scheduler=sched, callbacks=cbs, progress=False)
    files = sorted(f for f in os.listdir(tmp_path) if f.startswith("ep"))
    assert files == ["ep05.npz", "ep06.npz"]                       # keep_last=2
    assert os.path.exists(tmp_path / "best.npz")
    best = nn.load(tmp_path / "best.npz")
    assert best["epoch"] == full.best_epoch
    # a run interrupted after epoch 5, resumed from its checkpoint in a fresh process state
    target = weights(model)
    model2, opt2, sched2, train2, val2, cbs2 = _resume_setup(tmp_path / "again", seed=0)
    ad.manual_seed(999)        # whatever the default stream did meanwhile
    resumed = training.fit(model2, nn.CrossEntropyLoss(), opt2, train2, val2, epochs=6,
                           scheduler=sched2, callbacks=cbs2, progress=False,
                           resume=tmp_path / "ep05.npz")
    for k, v in weights(model2).items():
        np.testing.assert_array_equal(v, target[k])
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.epochs]
    assert strip(resumed) == strip(full) and resumed.steps == full.steps
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert cbs2[1].saved == [str(tmp_path / "ep05.npz"), str(tmp_path / "again" / "ep06.npz")]


def test_resume_refuses_a_mismatched_run(tmp_path):
    model, opt, sched, train, val, cbs = _resume_setup(tmp_path)
    training.fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=1, scheduler=sched,
                 callbacks=cbs, progress=False)
    model2, opt2, _, train2, val2, cbs2 = _resume_setup(tmp_path / "b")
    with pytest.raises(ValueError, match="scheduler"):
        training.fit(model2, nn.CrossEntropyLoss(), opt2, train2, val2, epochs=2,
                     callbacks=cbs2, progress=False, resume=tmp_path / "ep01.npz")
    nn.save({"model": model.state_dict()}, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        training.fit(model2, nn.CrossEntropyLoss(), opt2, train2, epochs=2, progress=False,
                     resume=tmp_path / "plain.npz")


def test_checkpoint_argument_checks():
    with pytest.raises(ValueError, match="no {epoch} field"):
        Checkpoint("model.npz")
    Checkpoint("model.npz", keep_last=1)
    with pytest.raises(ValueError, match="every"):
        Checkpoint(every=0)


def test_history_round_trips_through_nn_save_and_csv(tmp_path):
    train, val = loaders()
    model = mlp()
    h = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     train, val, epochs=2, progress=False)
    nn.save(h.to_dict(), tmp_path / "h.npz")
    back = History.from_dict(nn.load(tmp_path / "h.npz"))
    assert back == h and back.best == h.best and back.steps == h.steps
    assert History.load(tmp_path / "h.npz") == h                # a saved to_dict() too
    nn.save(h, tmp_path / "h1.npz")                              # the History itself
    again = nn.load(tmp_path / "h1.npz")
    assert isinstance(again, History) and again == h and again.best == h.best
    h.save(tmp_path / "h2.npz")
    assert History.load(tmp_path / "h2.npz") == h == nn.load(tmp_path / "h2.npz")
    import json
    assert History.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    h.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"
    assert len(lines) == 3
    h.to_csv(tmp_path / "s.csv", steps=True)
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "step,epoch,loss,lr"
    assert h.history["lr"] == [0.1, 0.1]
    with pytest.raises(KeyError, match="no metric 'f1'"):
        h["f1"]


def test_schedulers_per_epoch_per_batch_and_on_plateau():
    train, val = loaders()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = training.fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=3, scheduler=sched,
                     progress=False)
    assert h["lr"] == [0.1, 0.05, 0.025]
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    h = training.fit(model, nn.CrossEntropyLoss(), opt, train, epochs=1, scheduler=sched,
                     scheduler_interval="batch", progress=False)
    assert [s["lr"] for s in h.steps] == pytest.approx([0.1 * 0.9 ** k for k in range(7)])
    # the plateau scheduler sees the monitored val metric
    clock = EpochClock()
    flat = [1.0, 1.0, 1.0, 1.0, 1.0]

    def score(out, target):
        return flat[clock.epoch - 1]

    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    h = training.fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=5,
                     scheduler=plateau, metrics=("loss", score), monitor="val_score",
                     callbacks=[clock], progress=False)
    assert h["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05]


def test_grad_clip_bounds_the_step():
    x, y = blobs(32)
    data = [(ad.tensor(x), ad.tensor(y))]
    model = mlp()
    before = weights(model)
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0), data,
                 epochs=1, grad_clip=1e-3, progress=False)
    change = np.sqrt(sum(((weights(model)[k] - before[k]).astype(np.float64) ** 2).sum()
                         for k in before))
    assert change <= 1e-3 * (1 + 1e-4)
    with pytest.raises(TypeError, match="grad_clip"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0),
                     data, grad_clip="big", progress=False)


def test_layer_stats_match_hand_computed_numbers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float64)
    y = rng.integers(0, 2, 16)
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    w1, b1 = model[0].weight.numpy().copy(), model[0].bias.numpy().copy()
    w2, b2 = model[2].weight.numpy().copy(), model[2].bias.numpy().copy()
    lr = 0.5
    stats = LayerStats(every=1, bins=10)
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr),
                 [(ad.tensor(x), ad.tensor(y))], epochs=1, callbacks=[stats],
                 metrics=("loss",), progress=False)
    (snap,) = stats.snapshots
    assert snap["step"] == 1 and snap["epoch"] == 1 and set(snap["layers"]) == {"0", "1", "2"}
    # forward and backward by hand
    z1 = x @ w1.T + b1
    a1 = np.tanh(z1)
    z2 = a1 @ w2.T + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz2 = (p - np.eye(2)[y]) / 16
    da1 = dz2 @ w2
    dz1 = da1 * (1 - a1 ** 2)
    gw1, gw2 = dz1.T @ x, dz2.T @ a1
    tanh = snap["layers"]["1"]
    assert tanh["mean"] == pytest.approx(a1.mean()) and tanh["std"] == pytest.approx(a1.std())
    assert tanh["saturation"] == pytest.approx((np.abs(a1) > 0.97).mean())
    assert list(tanh["percentiles"]) == [1, 5, 15, 25, 50, 75, 85, 95, 99]
    assert tanh["percentiles"][50] == pytest.approx(np.median(a1))
    assert tanh["hist"]["edges"][0] == -1.0 and tanh["hist"]["edges"][-1] == 1.0
    assert tanh["hist"]["counts"] == np.histogram(a1, 10, (-1, 1))[0].tolist()
    assert tanh["grad_mean"] == pytest.approx(da1.mean())
    assert tanh["grad_std"] == pytest.approx(da1.std())
    assert "weight_norm" not in tanh and "update_ratio" not in tanh
    first, last = snap["layers"]["0"], snap["layers"]["2"]
    assert first["mean"] == pytest.approx(z1.mean())
    assert first["saturation"] == 0.0                             # no exact zeros
    assert first["grad_mean"] == pytest.approx(dz1.mean())
    assert first["weight_norm"] == pytest.approx(np.linalg.norm(w1))
    assert first["weight_grad_norm"] == pytest.approx(np.linalg.norm(gw1))
    assert first["update_ratio"] == pytest.approx(lr * np.linalg.norm(gw1) / np.linalg.norm(w1))
    assert last["update_ratio"] == pytest.approx(lr * np.linalg.norm(gw2) / np.linalg.norm(w2))
    import json
    json.dumps(stats.snapshots)                                   # plain data


def test_activation_summary_reports_nan_and_inf_instead_of_hiding_them():
    rng = np.random.default_rng(3)
    a = np.tanh(3 * rng.normal(size=1000))
    a[:10] = np.nan
    s = training.activation_summary(a, "tanh", bins=20)
    finite = a[10:]
    assert (s["count"], s["nan"], s["inf"]) == (1000, 10, 0)
    assert np.isnan(s["mean"]) and np.isnan(s["std"])          # NumPy's (and torch's) mean
    assert s["saturation"] == pytest.approx((np.abs(finite) > 0.97).mean())
    assert 0.3 < s["saturation"] < 0.7                           # of the finite values
    np.testing.assert_allclose(list(s["percentiles"].values()),
                               np.percentile(finite, [1, 5, 15, 25, 50, 75, 85, 95, 99]))
    assert s["hist"]["counts"] == np.histogram(finite, 20, (-1, 1))[0].tolist()
    b = rng.normal(size=500)
    b[:3] = [np.inf, -np.inf, np.inf]
    s = training.activation_summary(b)                         # a histogram, not a crash
    assert (s["nan"], s["inf"]) == (0, 3) and np.isnan(s["std"])
    assert sum(s["hist"]["counts"]) == 497 and np.isfinite(s["hist"]["edges"]).all()
    for kind in ("tanh", "sigmoid", "other"):
        s = training.activation_summary(np.full(8, np.nan), kind)
        assert (s["count"], s["nan"]) == (8, 8) and np.isnan(s["saturation"])
        assert all(np.isnan(v) for v in s["percentiles"].values())
        assert s["hist"] == {"counts": [], "edges": [], "below": 0, "above": 0}
    assert set(training.SATURATION) == {"tanh", "sigmoid", "other"}


def test_histogram_range_is_robust_to_outliers_and_counts_what_it_leaves_out():
    rng = np.random.default_rng(4)
    v = rng.normal(size=10_000)
    plain = training.activation_summary(v)["hist"]               # nothing to leave out
    counts, edges = np.histogram(v, 30)
    assert plain["counts"] == counts.tolist() and plain["below"] == plain["above"] == 0
    np.testing.assert_allclose(plain["edges"], edges)
    v[:3] = [1e6, 2e6, -80.0]
    hist = training.activation_summary(v)["hist"]
    assert (hist["below"], hist["above"]) == (1, 2)
    assert sum(hist["counts"]) == 9_997
    lo, hi = np.percentile(v, [1, 99])
    assert hist["edges"][0] == pytest.approx(lo - (hi - lo))
    assert hist["edges"][-1] == pytest.approx(hi + (hi - lo))
    assert max(hist["counts"]) < 0.2 * v.size                    # the bulk spread over bins
    relu = np.maximum(rng.normal(size=10_000), 0)               # half exact zeros: a spike
    relu_hist = training.activation_summary(relu)["hist"]
    assert relu_hist["below"] == relu_hist["above"] == 0         # the tail is no outlier
    spike = np.zeros(1000)
    spike[0] = 5.0                                               # 1st = 99th percentile
    assert training.activation_summary(spike)["hist"]["edges"][-1] == 5.0
    grads = training.gradient_summary(v, bins=30)
    assert grads["grad_hist"] == hist and (grads["grad_nan"], grads["grad_inf"]) == (0, 0)


def test_layer_stats_keeps_the_step_where_the_loss_turned_nan():
    x, y = blobs(32)
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    with ad.no_grad():
        model[0].weight.data[3, :] = np.nan                      # hidden unit 3 diverged
    stats = LayerStats(every=1)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     DataLoader(TensorDataset(x, y), batch_size=8), epochs=1,
                     callbacks=[stats], progress=False)
    (snap,) = stats.snapshots
    assert snap["step"] == 1 and snap["epoch"] == 1
    hidden, tanh, out = (snap["layers"][k] for k in ("0", "1", "2"))
    assert (hidden["nan"], hidden["count"]) == (8, 64)           # one unit of 8 rows
    assert tanh["nan"] == 8 and tanh["saturation"] >= 0.0        # the 7 others still count
    assert out["nan"] == out["count"] == 16                      # it feeds every output
    assert tanh["grad_nan"] > 0
    assert not model[1]._forward_hooks


def test_layer_stats_every_n_steps_and_relu_saturation():
    x, y = blobs(64)
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    stats = LayerStats(every=3)
    data = DataLoader(TensorDataset(x, y), batch_size=8)
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), data,
                 epochs=2, callbacks=[stats], progress=False)
    assert [s["step"] for s in stats.snapshots] == [1, 4, 7, 10, 13, 16]
    assert [s["epoch"] for s in stats.snapshots] == [1, 1, 1, 2, 2, 2]
    relu = stats.snapshots[0]["layers"]["1"]
    assert 0.0 < relu["saturation"] < 1.0                    # the fraction of dead units
    assert not model[1]._forward_hooks                       # hooks removed at the end
    named = LayerStats(every=1, layers=["1"])
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), data,
                 epochs=1, callbacks=[named], progress=False)
    assert set(named.snapshots[0]["layers"]) == {"1"}
    with pytest.raises(KeyError, match="no module named"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     data, epochs=1, callbacks=[LayerStats(layers=["9"])], progress=False)


def test_sanity_helpers():
    x, y = blobs(100)
    data = DataLoader(TensorDataset(x, y), batch_size=50)
    ad.manual_seed(0)
    small = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 10))
    nn.init.normal_(small[2].weight, std=1e-3)
    nn.init.zeros_(small[2].bias)
    check = training.check_initial_loss(small, data, num_classes=10)
    assert check.ok and check.expected == pytest.approx(math.log(10))
    assert check.loss == pytest.approx(math.log(10), rel=0.01)
    loud = nn.Sequential(nn.Linear(2, 10))
    nn.init.normal_(loud[0].weight, std=30.0)
    with pytest.warns(UserWarning, match="initial loss"):
        assert not training.check_initial_loss(loud, data, num_classes=10).ok
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 4))
    batch = (ad.tensor(x[:8]), ad.tensor(np.arange(8) % 4))
    result = training.overfit_small_batch(model, nn.CrossEntropyLoss(),
                                          optim.Adam(model.parameters(), lr=0.05), batch)
    assert result.ok and result.final <= 1e-2 and result.losses[0] > 1.0


def test_progress_bar_and_silence(capsys):
    train, val = loaders()
    model = mlp()
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train,
                 val, epochs=1, progress=False)
    assert capsys.readouterr().err == ""
    training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train,
                 val, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "7/7" in err and "val_loss=" in err


def test_fit_errors_are_clear():
    model = mlp()
    x, y = blobs(8)
    with pytest.raises(TypeError, match="wrap the data in"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                     (ad.tensor(x), ad.tensor(y)), progress=False)
    with pytest.raises(FloatingPointError, match="the loss became"), \
            np.errstate(over="ignore", invalid="ignore"):
        training.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e30),
                     [(ad.tensor(x), ad.tensor(np.zeros((8, 2), np.float32)))], epochs=3,
                     metrics=("loss",), progress=False)
    with pytest.raises(ValueError, match="scheduler_interval"):
        training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), [],
                     scheduler_interval="step", progress=False)
