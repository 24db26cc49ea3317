"""nn.save / nn.load: bit-exact round trips, atomic writes, refusal of pickles, devices,
and bit-exact training resume from model + optimizer checkpoints."""
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
import nn
from nn import optim, serialization

DTYPES = ["float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"]


def _bits(a):
    a = np.asarray(a)
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def _same(a, b):
    """Equal structure and types, arrays equal bit for bit."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, ad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(_bits(a.numpy()), _bits(b.numpy()))
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(_bits(a), _bits(b))
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_of_nested_structures(tmp_path):
    obj = {
        "model": OrderedDict(w=ad.randn(3, 2), b=ad.tensor(1.5)),
        "ints": {0: [1, -2**70, True, None], 1: (0.1, float("inf"), float("-inf"), -0.0)},
        "nan": float("nan"),
        "text": "héllo \"quoted\" \n",
        "arr": np.arange(6, dtype=np.int32).reshape(2, 3),
        "scalar": np.float32(2.5),
        "empty": ad.zeros(0, 3),
        "nested": [[], {}, ()],
        3.5: "float key", None: "none key", False: "bool key",
        "param": nn.Parameter(ad.ones(2)),
    }
    path = tmp_path / "ck.npz"
    nn.save(obj, path)
    back = nn.load(path)
    expected = dict(obj)
    expected["param"] = ad.ones(2, requires_grad=True)  # Parameters come back as Tensors
    _same(expected, back)
    assert back["param"].requires_grad
    assert isinstance(back["model"], OrderedDict) and type(back["ints"]) is dict
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_path_is_used_as_given(tmp_path):
    p = tmp_path / "weights.ckpt"
    nn.save({"a": 1}, str(p))
    assert os.listdir(tmp_path) == ["weights.ckpt"]
    assert nn.load(str(p)) == {"a": 1}


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_bit_exact_including_special_values(tmp_path, dtype):
    rng = np.random.default_rng(0)
    t = ad.tensor(rng.standard_normal((5, 7)) * 1e3, dtype=dtype)
    if dtype.startswith(("float", "bfloat")):
        specials = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 1e-40, 6e-8])
        t.data.reshape(-1)[:7] = specials.astype(t.dtype)
    nn.save({"t": t, "raw": t.data}, tmp_path / "c")
    back = nn.load(tmp_path / "c")
    _same({"t": t, "raw": t.data}, back)


@given(arr=hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64, np.int64]),
                      hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_round_trip_property(tmp_path_factory, arr):
    path = tmp_path_factory.mktemp("rt") / "c"
    nn.save([arr, ad.tensor(arr)], path)
    back = nn.load(path)
    _same([arr, ad.tensor(arr)], back)


def test_model_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Maxout(4, 2, pieces=3), nn.Linear(2, 1))
    model[0].register_buffer("steps", ad.tensor(7))
    nn.save(model.state_dict(), tmp_path / "m")
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Maxout(4, 2, pieces=3), nn.Linear(2, 1))
    fresh[0].register_buffer("steps", ad.tensor(0))
    fresh.load_state_dict(nn.load(tmp_path / "m"))
    _same(model.state_dict(), fresh.state_dict())
    x = ad.randn(5, 3)
    np.testing.assert_array_equal(model(x).data, fresh(x).data)


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = ad.tensor(rng.standard_normal((8, 3)))
        t = ad.tensor(rng.standard_normal((8, 1)))
        opt.zero_grad()
        ((model(x) - t) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), amsgrad=True),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
])
def test_resume_from_checkpoint_is_bit_exact(tmp_path, make_opt):
    def build():
        return nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 1))
    ad.manual_seed(0)
    model = build()
    opt = make_opt(model.parameters())
    _train(model, opt, 3, seed=1)
    nn.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
            tmp_path / "ck")
    _train(model, opt, 4, seed=2)  # the uninterrupted run

    ad.manual_seed(99)
    resumed = build()
    opt2 = make_opt(resumed.parameters())
    ck = nn.load(tmp_path / "ck")
    resumed.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optim"])
    assert ck["epoch"] == 3
    _train(resumed, opt2, 4, seed=2)
    for (n, a), b in zip(model.named_parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=n)


def test_optimizer_state_dict_round_trip(tmp_path):
    model = nn.Linear(2, 2)
    opt = optim.AdamW(model.parameters(), lr=0.1, betas=(0.5, 0.6))
    model(ad.ones(1, 2)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    nn.save(sd, tmp_path / "o")
    back = nn.load(tmp_path / "o")
    _same(sd, back)
    assert back["param_groups"][0]["betas"] == (0.5, 0.6)
    assert list(back["state"]) == [0, 1] and back["state"][0]["step"] == 1


def test_interrupted_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    nn.save({"w": ad.ones(3)}, path)
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(serialization, "_write_archive", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": ad.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]
    np.testing.assert_array_equal(nn.load(path)["w"].data, np.ones(3))


def test_failed_save_of_bad_object_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['f'\] is a function"):
        nn.save({"f": lambda: 0}, tmp_path / "x")
    with pytest.raises(TypeError, match="state_dict"):
        nn.save(nn.Linear(1, 1), tmp_path / "x")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="cycle"):
        nn.save(loop, tmp_path / "x")
    with pytest.raises(TypeError, match="keys must be"):
        nn.save({(1, 2): 3}, tmp_path / "x")
    assert os.listdir(tmp_path) == []


_UNPICKLED = []


def _evil():
    _UNPICKLED.append(True)
    return "pwned"


class _Evil:
    def __reduce__(self):
        return (_evil, ())


def test_pickle_containing_archive_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    # a genuine manifest pointing at an object array (which needs pickle to read)
    manifest = ('{"format":"autodiff-nn-checkpoint","version":1,'
                '"root":{"t":"ndarray","a":"a0","dtype":"object","device":"cpu"}}')
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil()
    np.savez(path, __manifest__=np.frombuffer(manifest.encode(), np.uint8), a0=evil)
    with pytest.raises(nn.CheckpointError, match="unpickling"):
        nn.load(path)
    # a plain pickle file
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(nn.CheckpointError, match="not a checkpoint archive"):
        nn.load(raw)
    assert _UNPICKLED == []


def test_malformed_files_are_refused(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(2))
    with pytest.raises(nn.CheckpointError, match="no manifest"):
        nn.load(plain)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(nn.CheckpointError, match="single array"):
        nn.load(single)
    good = tmp_path / "good"
    nn.save({"w": ad.ones(2)}, good)
    with zipfile.ZipFile(good) as z:
        manifest = z.read("__manifest__.npy")
    lying = tmp_path / "lying"
    with zipfile.ZipFile(lying, "w") as z:
        z.writestr("__manifest__.npy", manifest)
        with z.open("a0.npy", "w") as f:
            np.save(f, np.ones(2, dtype=np.int64))  # manifest says float32
    with pytest.raises(nn.CheckpointError, match="dtype int64 but the manifest says"):
        nn.load(lying)
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing")


def test_checkpoint_from_device_loads_on_cpu(tmp_path, device):
    model = nn.Linear(3, 2).to(device)
    nn.save(model.state_dict(), tmp_path / "d")
    sd = nn.load(tmp_path / "d")  # map_location="cpu" by default
    assert all(v.device == "cpu" for v in sd.values())
    cpu_model = nn.Linear(3, 2)
    cpu_model.load_state_dict(sd)
    for a, b in zip(model.parameters(), cpu_model.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    kept = nn.load(tmp_path / "d", map_location=None)  # back where it was saved
    assert all(v.device.startswith(device) for v in kept.values())
