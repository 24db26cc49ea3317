"""nn.utils.data: datasets, samplers, splits and DataLoader against NumPy references."""
import collections
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import autodiff as ad
import nn
from nn.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                           SequentialSampler, Subset, TensorDataset, default_collate,
                           load_arrays, load_digits, random_split, stratified_split)


def gen(seed):
    return ad.Generator().manual_seed(seed)


def _data(n, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), np.arange(n) % 4


class PerSample(Dataset):
    """A dataset without get_batch: the loader collates sample by sample."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def _batches(loader):
    return [(xb.numpy(), yb.numpy()) for xb, yb in loader]


@given(n=st.integers(1, 40), batch=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_loader_matches_numpy_reference(n, batch, drop_last, shuffle, seed):
    x, y = _data(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=shuffle,
                        drop_last=drop_last, generator=gen(seed))
    order = ad.randperm(n, generator=gen(seed)).numpy() if shuffle else np.arange(n)
    stop = n - n % batch if drop_last else n
    expected = [(x[order[i:i + batch]], y[order[i:i + batch]]) for i in range(0, stop, batch)]
    got = _batches(loader)
    assert len(loader) == len(expected) == len(got)
    for (gx, gy), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)
    # the per-sample path (no get_batch, default_collate) gives the same batches
    slow = DataLoader(PerSample(x, y), batch_size=batch, shuffle=shuffle, drop_last=drop_last,
                      generator=gen(seed))
    for (gx, gy), (sx, sy) in zip(got, _batches(slow)):
        np.testing.assert_array_equal(gx, sx)
        np.testing.assert_array_equal(gy, sy)


def test_last_batch_sizes_and_len():
    ds = TensorDataset(*_data(10))
    assert [len(b[1]) for b in DataLoader(ds, batch_size=4)] == [4, 4, 2]
    assert [len(b[1]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(ds)) == 10                      # torch's default batch_size=1


def test_shuffle_is_reproducible_and_new_each_epoch():
    ds = TensorDataset(*_data(50))
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=gen(3))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=gen(3))
    ea1, ea2 = _batches(a), _batches(a)
    eb1, eb2 = _batches(b), _batches(b)
    for u, v in zip(ea1 + ea2, eb1 + eb2):
        np.testing.assert_array_equal(u[0], v[0])
    ya1, ya2 = np.concatenate([y for _, y in ea1]), np.concatenate([y for _, y in ea2])
    xs = np.concatenate([x for x, _ in ea1])
    assert sorted(map(tuple, xs.tolist())) == sorted(map(tuple, ds.tensors[0].numpy().tolist()))
    assert not np.array_equal(ya1, ya2)            # a fresh permutation every pass
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=gen(4))
    assert not np.array_equal(np.concatenate([y for _, y in _batches(c)]), ya1)


def test_shuffle_without_generator_follows_the_default_seed():
    ds = TensorDataset(*_data(30))
    ad.manual_seed(11)
    first = _batches(DataLoader(ds, batch_size=7, shuffle=True))
    ad.manual_seed(11)
    again = _batches(DataLoader(ds, batch_size=7, shuffle=True))
    for u, v in zip(first, again):
        np.testing.assert_array_equal(u[1], v[1])


def test_transform_touches_inputs_only():
    x, y = _data(12)
    seen = []

    def double(t):
        seen.append(type(t))
        return t * 2

    loader = DataLoader(TensorDataset(x, y), batch_size=5, transform=double,
                        target_transform=lambda t: t + 100)
    for i, (xb, yb) in enumerate(loader):
        np.testing.assert_array_equal(xb.numpy(), 2 * x[5 * i:5 * i + 5])
        np.testing.assert_array_equal(yb.numpy(), y[5 * i:5 * i + 5] + 100)
    assert seen == [ad.Tensor] * 3
    only_x = DataLoader(TensorDataset(x), batch_size=4, transform=double)
    np.testing.assert_array_equal(next(iter(only_x))[0].numpy(), 2 * x[:4])


def test_default_collate_types_follow_torch():
    batch = default_collate([(np.ones(2, np.float32), 1, 0.5, True, "a"),
                             (np.zeros(2, np.float32), 2, 1.5, False, "b")])
    x, i, f, b, s = batch
    assert isinstance(batch, list)                      # torch returns tuples as lists
    assert x.shape == (2, 2) and x.dtype == ad.float32
    assert i.dtype == ad.int64 and i.tolist() == [1, 2]
    assert f.dtype == ad.float64 and b.dtype == ad.bool_
    assert s == ["a", "b"]
    d = default_collate([{"x": ad.tensor([1.0]), "y": 0}, {"x": ad.tensor([2.0]), "y": 1}])
    assert d["x"].shape == (2, 1) and d["y"].tolist() == [0, 1]
    Pair = collections.namedtuple("Pair", "a b")
    p = default_collate([Pair(1, 2.0), Pair(3, 4.0)])
    assert isinstance(p, Pair) and p.a.tolist() == [1, 3]
    with pytest.raises(RuntimeError, match="same shape"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tc
    samples = [(np.arange(3, dtype=np.float32) + k, k, 0.5 * k) for k in range(4)]
    ours, theirs = default_collate(samples), tc(samples)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
        assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]


def test_loader_argument_errors():
    ds = TensorDataset(*_data(5))
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(ds, transform=3)


def test_samplers_and_batch_sampler():
    ds = TensorDataset(*_data(7))
    bs = BatchSampler(SequentialSampler(ds), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    loader = DataLoader(ds, batch_sampler=[[6, 0], [3]])
    assert [b[1].tolist() for b in loader] == [[6 % 4, 0], [3]]
    rs = RandomSampler(ds, replacement=True, num_samples=20, generator=gen(0))
    draws = list(rs)
    assert len(draws) == 20 and set(draws) <= set(range(7))
    long = RandomSampler(ds, num_samples=10, generator=gen(0))
    got = list(long)
    assert sorted(got[:7]) == list(range(7)) and len(set(got[7:])) == 3
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 7 and single[2][1].shape == ()


def test_dataset_containers():
    x, y = _data(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    sub = Subset(ds, [9, 2, 5])
    np.testing.assert_array_equal(sub[0][0].numpy(), x[9])
    np.testing.assert_array_equal(sub.get_batch(np.array([2, 0]))[1].numpy(), y[[5, 9]])
    cat = ConcatDataset([sub, ds])
    assert len(cat) == 13 and cat.cumulative_sizes == [3, 13]
    np.testing.assert_array_equal(cat[3][0].numpy(), x[0])
    np.testing.assert_array_equal(cat[-1][0].numpy(), x[9])
    idx = np.array([12, 0, 4, 1, 3])
    got = cat.get_batch(idx)
    np.testing.assert_array_equal(got[0].numpy(), np.stack([cat[i][0].numpy() for i in idx]))
    assert isinstance(ds + sub, ConcatDataset)
    assert not hasattr(ConcatDataset([PerSample(x, y), ds]), "get_batch")
    with pytest.raises(ValueError, match="same size along its first"):
        TensorDataset(x, y[:3])


@pytest.mark.parametrize("lengths,sizes", [([3, 7], [3, 7]), ([0.3, 0.7], [3, 7]),
                                           ([0.33, 0.33, 0.34], [4, 3, 3]), ([0.5, 0.5], [5, 5])])
def test_random_split_sizes(lengths, sizes):
    parts = random_split(TensorDataset(*_data(10)), lengths, generator=gen(0))
    assert [len(p) for p in parts] == sizes
    idx = sorted(i for p in parts for i in p.indices)
    assert idx == list(range(10))


def test_random_split_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, fr in [(10, [0.33, 0.33, 0.34]), (17, [0.1, 0.2, 0.7]), (5, [0.25, 0.75])]:
        theirs = torch.utils.data.random_split(range(n), fr)
        assert [len(p) for p in random_split(TensorDataset(*_data(n)), fr)] == \
            [len(p) for p in theirs]


def test_random_split_is_reproducible_and_checks_lengths():
    ds = TensorDataset(*_data(20))
    a = [p.indices for p in random_split(ds, [0.5, 0.5], generator=gen(1))]
    b = [p.indices for p in random_split(ds, [0.5, 0.5], generator=gen(1))]
    assert a == b and a[0] == ad.randperm(20, generator=gen(1)).tolist()[:10]
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [5, 5])
    with pytest.raises(ValueError, match="non-negative integers or fractions"):
        random_split(ds, [25, -5])


def test_stratified_split_keeps_class_proportions():
    y = np.repeat(np.arange(3), [50, 30, 20])
    ds = TensorDataset(np.zeros((100, 1), np.float32), y)
    train, val, test = stratified_split(ds, [0.6, 0.2, 0.2], generator=gen(0))
    assert [len(train), len(val), len(test)] == [60, 20, 20]
    for part, frac in ((train, 0.6), (val, 0.2), (test, 0.2)):
        counts = np.bincount(y[part.indices], minlength=3)
        assert np.all(np.abs(counts - frac * np.array([50, 30, 20])) <= 1), counts
    assert sorted(train.indices + val.indices + test.indices) == list(range(100))
    again = stratified_split(ds, [0.6, 0.2, 0.2], generator=gen(0))
    assert again[0].indices == train.indices
    # lengths that do not divide evenly: still exact totals, each class within one
    uneven = stratified_split(ds, [33, 67], generator=gen(2))
    assert [len(p) for p in uneven] == [33, 67]
    counts = np.bincount(y[uneven[0].indices], minlength=3)
    assert np.all(np.abs(counts - 0.33 * np.array([50, 30, 20])) <= 1)


@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=6),
       cut=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_stratified_split_property(counts, cut, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    k = max(0, min(n, round(cut * n)))
    a, b = stratified_split(TensorDataset(np.zeros((n, 1)), y), [k, n - k], generator=gen(seed))
    assert len(a) == k and len(b) == n - k
    got = np.bincount(y[a.indices], minlength=len(counts)) if k else np.zeros(len(counts))
    assert np.all(np.abs(got - np.asarray(counts) * k / n) < 1 + 1e-9)


def test_stratified_split_labels_from_a_generic_dataset():
    x, y = _data(40)
    parts = stratified_split(PerSample(x, y), [0.5, 0.5], generator=gen(0))
    assert [np.bincount(y[p.indices]).tolist() for p in parts] == [[5] * 4, [5] * 4]
    with pytest.raises(ValueError, match="one class label per sample"):
        stratified_split(TensorDataset(x, y), [0.5, 0.5], labels=y[:3])


def test_load_arrays(tmp_path):
    a = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "b.npz", x=a, y=np.arange(4))
    (tmp_path / "c.csv").write_text("f1,f2,label\n1,2,0\n3.5,4,1\n")
    (tmp_path / "d.csv").write_text("1;2\n3;4\n")
    np.testing.assert_array_equal(load_arrays(tmp_path / "a.npy"), a)
    z = load_arrays(tmp_path / "b.npz")
    assert set(z) == {"x", "y"} and z["y"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(load_arrays(tmp_path / "c.csv"), [[1, 2, 0], [3.5, 4, 1]])
    np.testing.assert_array_equal(load_arrays(str(tmp_path / "d.csv"), delimiter=";"),
                                  [[1, 2], [3, 4]])
    obj = tmp_path / "o.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_arrays(obj)
    with pytest.raises(ValueError, match="expected a .npy"):
        load_arrays(tmp_path / "e.json")


def test_shipped_digits():
    ds = load_digits()
    images, labels = ds.tensors
    assert images.shape == (1797, 1, 8, 8) and images.dtype == ad.float32
    assert labels.dtype == ad.int64
    assert float(images.numpy().min()) == 0 and float(images.numpy().max()) == 16
    assert np.bincount(labels.numpy()).tolist() == [178, 182, 177, 183, 181, 182, 181, 179,
                                                    174, 180]
    assert images.numpy()[0, 0, 1].tolist() == [0, 0, 13, 15, 10, 15, 5, 0]   # the first "0"
    flat, y = load_digits(flatten=True, as_arrays=True)
    assert flat.shape == (1797, 64) and isinstance(flat, np.ndarray)
    import importlib.resources
    readme = importlib.resources.files("nn.utils.data").joinpath("datasets", "README.md")
    text = readme.read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text


def test_utils_names_stay_importable():
    from nn.utils import clip_grad_norm_, clip_grad_value_, fuse_batchnorm  # noqa: F401
    assert nn.utils.data.DataLoader is DataLoader
    assert math.isfinite(float(nn.utils.clip_grad_norm_([], 1.0).item()))
