"""nn.ensemble: combining members vs NumPy, training members on executors, MC dropout, TTA."""
import concurrent.futures as cf
import multiprocessing

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import optim, training
from nn import transforms as T
from nn.ensemble import Ensemble, mc_dropout_predict, train_ensemble, tta_predict
from nn.utils.data import DataLoader, TensorDataset


def gen(seed):
    return ad.Generator().manual_seed(seed)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _fixed_members(seed=0, m=5, d=4, c=3):
    rng = np.random.default_rng(seed)
    members = []
    for _ in range(m):
        lin = nn.Linear(d, c)
        lin.weight.data[...] = rng.normal(size=(c, d))
        lin.bias.data[...] = rng.normal(size=c)
        members.append(lin)
    return members


def test_mean_and_vote_match_numpy():
    members = _fixed_members()
    x = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    probs = np.stack([_softmax(x @ m.weight.numpy().T + m.bias.numpy()) for m in members])
    mean = Ensemble(members)(ad.tensor(x))
    np.testing.assert_allclose(mean.numpy(), probs.mean(0), rtol=1e-5)
    votes = Ensemble(members, combine="vote")(ad.tensor(x)).numpy()
    picks = probs.argmax(2)
    expected = np.stack([np.bincount(picks[:, n], minlength=3) for n in range(20)]) / 5
    np.testing.assert_allclose(votes, expected)
    majority = Ensemble(members, combine="vote").predict(ad.tensor(x)).numpy()
    np.testing.assert_array_equal(majority, expected.argmax(1))
    dis = Ensemble(members).disagreement(ad.tensor(x)).numpy()
    np.testing.assert_allclose(dis, (picks != probs.mean(0).argmax(1)).mean(0))
    assert Ensemble(members).num_parameters() == 5 * (3 * 4 + 3)
    with pytest.raises(ValueError, match="combine"):
        Ensemble(members, combine="median")


def test_mean_is_differentiable_and_averages_regressors():
    members = _fixed_members(m=2)
    reg = Ensemble(members, softmax=False)
    x = ad.tensor(np.ones((2, 4), np.float32))
    out = reg(x)
    ref = (members[0](x).numpy() + members[1](x).numpy()) / 2
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    out.sum().backward()
    assert members[0].weight.grad is not None


def _blobs(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    x = (rng.normal(size=(n, 2)) + centres[y]).astype(np.float32)
    return x, y.astype(np.int64)


def make_model():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 3))


def make_adam(params):
    return optim.Adam(params, lr=0.03)


def _fit_kwargs():
    x, y = _blobs()
    noise = T.GaussianNoise(0.2, generator=gen(5))
    return dict(loss_fn=nn.CrossEntropyLoss(), optimizer=make_adam, epochs=3,
                train=DataLoader(TensorDataset(x[:120], y[:120]), batch_size=16, shuffle=True,
                                 generator=gen(0), transform=noise),
                val=DataLoader(TensorDataset(x[120:], y[120:]), batch_size=40))


def _states(ens):
    return [{k: v.numpy() for k, v in m.state_dict().items()} for m in ens.models]


def _assert_same(a, b):
    for sa, sb in zip(_states(a), _states(b)):
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])


def test_train_ensemble_is_reproducible_and_members_differ():
    kw = _fit_kwargs()
    ens = train_ensemble(make_model, kw, n=3, progress=False)
    again = train_ensemble(make_model, kw, n=3, progress=False)
    _assert_same(ens, again)
    s = _states(ens)
    assert not np.array_equal(s[0]["0.weight"], s[1]["0.weight"])
    assert len(ens.histories) == 3 and all(len(h) == 3 for h in ens.histories)
    x, y = _blobs(60, seed=1)
    acc = training.evaluate(ens, [(ad.tensor(x), ad.tensor(y))], ("accuracy",))["accuracy"]
    assert acc > 0.85
    boot = train_ensemble(make_model, kw, n=2, bootstrap=True, seeds=[7, 8], progress=False)
    boot2 = train_ensemble(make_model, kw, n=2, bootstrap=True, seeds=[7, 8], progress=False)
    _assert_same(boot, boot2)


def test_train_ensemble_same_on_a_process_pool():
    kw = _fit_kwargs()
    serial = train_ensemble(make_model, kw, n=2, seeds=[3, 4], progress=False)
    ctx = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pooled = train_ensemble(make_model, kw, n=2, seeds=[3, 4], executor=pool,
                                progress=False)
    _assert_same(serial, pooled)
    assert [h.to_dict()["steps"] for h in serial.histories] == \
        [h.to_dict()["steps"] for h in pooled.histories]


def test_train_ensemble_checks_its_arguments():
    kw = _fit_kwargs()
    with pytest.raises(TypeError, match="function params -> optimizer"):
        train_ensemble(make_model, {**kw, "optimizer": optim.SGD(make_model().parameters(),
                                                                 lr=0.1)}, n=1)
    with pytest.raises(ValueError, match="lacks"):
        train_ensemble(make_model, {"train": kw["train"]}, n=1)
    with pytest.raises(RuntimeError, match="member 0 \\(seed 0\\) failed"):
        train_ensemble(make_model, {**kw, "metrics": ("nope",)}, n=1, progress=False)
    with pytest.raises(TypeError, match="executor must be"):
        train_ensemble(make_model, kw, n=1, executor="dask")


def test_mc_dropout_predict():
    ad.manual_seed(0)
    model = make_model()
    x = ad.tensor(_blobs(10)[0])
    ad.manual_seed(1)
    mean, std = mc_dropout_predict(model, x, samples=20)
    ad.manual_seed(1)
    mean2, std2 = mc_dropout_predict(model, x, samples=20)
    np.testing.assert_array_equal(mean.numpy(), mean2.numpy())
    assert mean.shape == (10, 3) and np.all(std.numpy() > 0)
    np.testing.assert_allclose(mean.numpy().sum(1), 1.0, rtol=1e-5)
    assert model.training and not model[2].mc                 # everything restored
    _, std1 = mc_dropout_predict(model, x, samples=1)
    assert np.all(std1.numpy() == 0)
    with pytest.raises(ValueError, match="no Dropout"):
        mc_dropout_predict(nn.Linear(2, 3), x)


def test_tta_predict():
    ad.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = ad.tensor(np.random.default_rng(0).random((4, 1, 4, 4)).astype(np.float32))
    model.eval()
    plain = ad.softmax(model(x), 1).numpy()
    model.train()
    same = tta_predict(model, x, T.Lambda(lambda t: t), n=3)
    np.testing.assert_allclose(same.numpy(), plain, rtol=1e-6)
    flip = T.RandomHorizontalFlip(1.0)
    both = tta_predict(model, x, flip, n=1)
    flipped = ad.softmax(model(flip(x)), 1).numpy()
    np.testing.assert_allclose(both.numpy(), (plain + flipped) / 2, rtol=1e-6)
    assert model.training
