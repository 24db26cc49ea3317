"""nn.save / nn.load: bit-exact round trips, atomic writes, refusal of pickles, devices,
and bit-exact training resume from model + optimizer checkpoints."""
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
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

from helpers import run_threads

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


# ---------------------------------------------------------------- hostile and broken files
# Every malformed, truncated, crafted or inconsistent file gives CheckpointError naming the
# file; nothing is unpickled, nothing recurses without bound, nothing large is allocated
# before the sizes were checked.

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def _npy(descr, shape, payload=b"", fortran=False):
    """The bytes of a .npy member whose header says `descr` and `shape`, then `payload`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buf.getvalue() + payload


def _craft(path, root, members=(), manifest=None, compression=zipfile.ZIP_STORED):
    """A zip laid out like a checkpoint: `root` as the manifest's root entry (or the raw
    `manifest` bytes) and `members` {name: array or .npy bytes}."""
    if manifest is None:
        manifest = json.dumps({"format": "autodiff-nn-checkpoint", "version": 1,
                               "root": root}).encode()
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("__manifest__.npy", _npy("|u1", (len(manifest),), manifest))
        for name, value in dict(members).items():
            if isinstance(value, np.ndarray):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, value, allow_pickle=False)
                value = buf.getvalue()
            z.writestr(name + ".npy", value)
    return path


def _refused(path, *words, **kw):
    with pytest.raises(nn.CheckpointError) as info:
        nn.load(path, **kw)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)
    return message


def _tensor_spec(dtype, requires_grad=False, name="a0", device="cpu"):
    return {"t": "tensor", "a": name, "dtype": dtype, "device": device,
            "requires_grad": requires_grad}


def test_empty_file_and_non_archives(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _refused(empty, "empty")
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a checkpoint\n" * 10)
    _refused(text, "not a checkpoint archive")
    with pytest.raises(IsADirectoryError):
        nn.load(tmp_path)


def _sample_checkpoint(path):
    obj = {"w": ad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True),
           "b": ad.tensor([1, 2]), "nested": [1, 2.5, "x", None, (np.arange(3, dtype=np.int16),)],
           "h": ad.tensor([1.5, -2.0], dtype=ad.bfloat16)}
    nn.save(obj, path)
    return obj


def test_every_flipped_byte_is_detected_or_harmless(tmp_path):
    good = tmp_path / "good"
    obj = _sample_checkpoint(good)
    blob = good.read_bytes()
    bad = tmp_path / "bad"
    positions = range(len(blob)) if THOROUGH else \
        np.random.default_rng(0).choice(len(blob), 150, replace=False)
    refused = 0
    for i in positions:
        for mask in (0x01, 0x80, 0xFF) if THOROUGH else (0xFF,):
            damaged = bytearray(blob)
            damaged[i] ^= mask
            bad.write_bytes(bytes(damaged))
            try:
                back = nn.load(bad)
            except nn.CheckpointError as exc:
                assert str(bad) in str(exc)
                refused += 1
            else:  # a byte zip ignores (a timestamp, a version field): the same contents
                _same(obj, back)
    assert refused > len(positions) // 2


def test_every_truncation_is_refused(tmp_path):
    good = tmp_path / "good"
    _sample_checkpoint(good)
    blob = good.read_bytes()
    bad = tmp_path / "bad"
    lengths = range(len(blob)) if THOROUGH else \
        np.random.default_rng(1).choice(len(blob), 100, replace=False)
    for n in lengths:
        bad.write_bytes(blob[:n])
        _refused(bad)


@pytest.mark.parametrize("array,kind", [
    (np.array(["ab", "c"]), "unicode"),
    (np.array([b"ab", b"c"]), "bytes"),
    (np.array([1 + 2j]), "complex"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime"),
    (np.array([5], dtype="timedelta64[s]"), "timedelta"),
    (np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]), "structured"),
    (np.zeros(2, dtype=">f8"), "big-endian"),
])
def test_arrays_a_tensor_cannot_hold_are_refused(tmp_path, array, kind):
    path = _craft(tmp_path / kind, _tensor_spec(str(array.dtype)), {"a0": array})
    _refused(path, "a0", "dtype")


def test_complex_arrays_round_trip_but_complex_tensors_are_refused(tmp_path):
    arr = np.array([1 + 2j, -0.5j], dtype=np.complex64)
    nn.save({"z": arr}, tmp_path / "z")
    _same({"z": arr}, nn.load(tmp_path / "z"))
    path = _craft(tmp_path / "zt", _tensor_spec("complex64"), {"a0": arr})
    _refused(path, "complex64", "tensor entry cannot hold")


def test_object_array_is_never_unpickled(tmp_path):
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil()
    buf = io.BytesIO()
    np.lib.format.write_array(buf, evil, allow_pickle=True)
    path = _craft(tmp_path / "o", {"t": "ndarray", "a": "a0", "dtype": "object",
                                   "device": "cpu"}, {"a0": buf.getvalue()})
    _refused(path, "unpickling")
    assert _UNPICKLED == []


@pytest.mark.parametrize("dtype", ["int64", "bool", "uint8"])
def test_non_float_tensor_marked_requires_grad(tmp_path, dtype):
    path = _craft(tmp_path / "g", _tensor_spec(dtype, requires_grad=True),
                  {"a0": np.zeros(3, dtype=dtype)})
    _refused(path, dtype, "requires_grad")
    path = _craft(tmp_path / "g2", _tensor_spec("float32", requires_grad="yes"),
                  {"a0": np.zeros(3, dtype="float32")})
    _refused(path, "requires_grad")


def _nested(depth):
    """A manifest whose root nests `depth` containers (dicts and lists, alternating), as
    text: json.dumps itself cannot write one 800 deep."""
    head, tail = [], []
    for i in range(depth):
        if i % 2:
            head.append('{"t":"list","v":[')
            tail.append("]}")
        else:
            head.append('{"t":"dict","ordered":false,"v":[[{"t":"str","v":"k"},')
            tail.append("]]}")
    root = "".join(head) + '{"t":"none"}' + "".join(reversed(tail))
    return ('{"format":"autodiff-nn-checkpoint","version":1,"root":%s}' % root).encode()


@pytest.mark.parametrize("depth", [serialization.MAX_DEPTH + 1, 800, 20_000])
def test_deep_manifest_is_refused_without_recursion(tmp_path, depth):
    _refused(_craft(tmp_path / "deep", None, manifest=_nested(depth)), "nested", "deep")


def test_nesting_limit_is_the_same_for_save_and_load(tmp_path):
    deepest = None
    for _ in range(serialization.MAX_DEPTH):
        deepest = [deepest]
    nn.save(deepest, tmp_path / "ok")
    assert nn.load(tmp_path / "ok") == deepest
    with pytest.raises(ValueError, match="nested more than"):
        nn.save([deepest], tmp_path / "too_deep")
    _refused(_craft(tmp_path / "deep_raw", None, manifest=_nested(serialization.MAX_DEPTH + 1)),
             "deep")
    assert nn.load(_craft(tmp_path / "at_limit", None,
                          manifest=_nested(serialization.MAX_DEPTH))) is not None
    # plain JSON nesting (not made of entries) is bounded before parsing too
    _refused(_craft(tmp_path / "json", None, manifest=b"[" * 50_000 + b"]" * 50_000), "deep")


@pytest.mark.parametrize("shape", [(10**6, 10**6), (10**30,), (2**62, 4), (-3, 2),
                                   (1,) * 65])
def test_absurd_declared_shapes_allocate_nothing(tmp_path, shape):
    path = _craft(tmp_path / "s", _tensor_spec("float64"),
                  {"a0": _npy("<f8", shape, b"\0" * 64)})
    tracemalloc.start()
    try:
        _refused(path, "a0")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_declared_shape_must_match_the_bytes_present(tmp_path):
    short = _craft(tmp_path / "short", _tensor_spec("float64"),
                   {"a0": _npy("<f8", (4,), b"\0" * 24)})
    _refused(short, "a0", "(4,)", "32 bytes", "24 bytes")
    long = _craft(tmp_path / "long", _tensor_spec("float64"),
                  {"a0": _npy("<f8", (2,), b"\0" * 24)})
    _refused(long, "a0", "(2,)")


def _deflated_zeros(path, nbytes):
    """A checkpoint-shaped zip whose one array is `nbytes` of zeros, deflated (a zip bomb:
    about a thousandth of its size on disk)."""
    manifest = json.dumps({"format": "autodiff-nn-checkpoint", "version": 1,
                           "root": _tensor_spec("uint8")}).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__manifest__.npy", _npy("|u1", (len(manifest),), manifest))
        with z.open("a0.npy", "w", force_zip64=True) as f:
            f.write(_npy("|u1", (nbytes,)))
            chunk = bytes(2**20)
            for _ in range(nbytes // len(chunk)):
                f.write(chunk)
    return path


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    bomb = _deflated_zeros(tmp_path / "bomb", 16 * 2**20)
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        _refused(bomb, "max_bytes=4,194,304", "decompressed", max_bytes=4 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    # with a limit that allows it, the same file loads
    assert nn.load(bomb, max_bytes=32 * 2**20).shape == (16 * 2**20,)


def test_default_limit_refuses_what_expands_past_the_file_size(tmp_path):
    # the size a member declares is checked, not discovered by decompressing: a member
    # whose central-directory entry declares 2 GiB (its data stays small)
    path = _craft(tmp_path / "declared", _tensor_spec("uint8"),
                  {"a0": np.zeros(2**16, np.uint8)}, compression=zipfile.ZIP_DEFLATED)
    blob = bytearray(path.read_bytes())
    entry = blob.index(b"PK\x01\x02")  # central directory entries
    while blob[entry + 46: entry + 46 + 6] != b"a0.npy":
        entry = blob.index(b"PK\x01\x02", entry + 1)
    struct.pack_into("<I", blob, entry + 24, 2**31)  # the uncompressed size field
    path.write_bytes(bytes(blob))
    tracemalloc.start()
    try:
        _refused(path, "2,147,483,", "max_bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    # and a member that declares less than it holds is cut at its declared size
    struct.pack_into("<I", blob, entry + 24, 2**10)
    path.write_bytes(bytes(blob))
    _refused(path, "a0")


def test_own_files_load_under_the_default_limit(tmp_path, monkeypatch):
    # save stores arrays uncompressed, so its files never expand past their own size: they
    # load whatever the default margin (shrunk here to 1 KiB, from 256 MiB)
    monkeypatch.setattr(serialization, "DEFAULT_EXPANSION", 1024)
    big = np.zeros(2**16)
    nn.save({"big": big}, tmp_path / "big")
    assert nn.load(tmp_path / "big")["big"].shape == big.shape
    _refused(tmp_path / "big", "max_bytes", max_bytes=2**16)
    _refused(_deflated_zeros(tmp_path / "deflated", 2**20), "max_bytes")


@pytest.mark.parametrize("root,members,words", [
    (_tensor_spec("float32", name="a7"), {"a0": np.zeros(1, np.float32)}, ["missing array", "a7"]),
    (_tensor_spec("float32"), {"a0": np.zeros(1, np.float64)}, ["float64", "float32"]),
    (_tensor_spec("bfloat16"), {"a0": np.zeros(1, np.float32)}, ["bfloat16"]),
    (_tensor_spec("float32", device="tpu:0"), {"a0": np.zeros(1, np.float32)}, ["device"]),
    ({"t": "npscalar", "a": "a0", "dtype": "int64", "device": "cpu"},
     {"a0": np.zeros(2, np.int64)}, ["0-d"]),
    ({"t": "float", "v": "0x1.0p+99999999999"}, {}, ["bad float"]),
    ({"t": "float", "v": 1.5}, {}, ["float"]),
    ({"t": "int", "v": True}, {}, ["int"]),
    ({"t": "pickle", "v": "cos\nsystem"}, {}, ["unknown", "pickle"]),
    ({"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]}, {}, ["key"]),
    ({"t": "dict", "v": [1, 2]}, {}, ["dict entry"]),
    ([1, 2], {}, ["manifest entry"]),
])
def test_inconsistent_manifests(tmp_path, root, members, words):
    _refused(_craft(tmp_path / "m", root, members), *words)


_HISTORY_DATA = {"t": "dict", "v": [[{"t": "str", "v": "epochs"}, {"t": "list", "v": []}]]}


@pytest.mark.parametrize("root,words", [
    ({"t": "object", "type": "os.system", "v": {"t": "str", "v": "echo hi"}},
     ["unknown object type", "os.system"]),
    ({"t": "object", "type": ["nn.training.History"], "v": _HISTORY_DATA}, ["object type"]),
    ({"t": "object", "type": "nn.training.History", "v": {"t": "int", "v": 3}},
     ["nn.training.History entry", "cannot be built"]),
    ({"t": "object", "type": "nn.training.History", "v": {"t": "dict", "v": [
        [{"t": "str", "v": "epochs"}, {"t": "list", "v": [{"t": "int", "v": 1}]}]]}},
     ["nn.training.History entry"]),
    ({"t": "object", "type": "nn.training.History", "v": {"t": "dict", "v": [
        [{"t": "str", "v": "epochs"}, {"t": "list", "v": []}],
        [{"t": "str", "v": "mode"}, {"t": "str", "v": "sideways"}]]}}, ["mode"]),
])
def test_crafted_object_entries_are_refused(tmp_path, root, words):
    _refused(_craft(tmp_path / "m", root, {}), *words)


def test_history_is_saved_by_value_and_loads_as_an_equal_history(tmp_path):
    from nn.training import History
    h = History(monitor="val_accuracy", mode="max")
    for epoch, (loss, acc) in enumerate([(0.9, 0.5), (float("nan"), 0.75), (0.4, 0.7)], 1):
        h.log_epoch({"epoch": epoch, "loss": loss, "val_accuracy": acc, "lr": 0.1,
                     "seconds": 0.25 * epoch})
        h.log_step({"step": epoch, "epoch": epoch, "loss": loss, "lr": 0.1})
    h.stopped_epoch = 3
    nn.save(h, tmp_path / "h.npz")
    back = nn.load(tmp_path / "h.npz")
    assert type(back) is History and back is not h
    assert back == h and back.best_epoch == 2 and back.stopped_epoch == 3
    assert (back.monitor, back.mode) == ("val_accuracy", "max")
    assert np.isnan(back["loss"][1]) and np.isnan(back.steps[1]["loss"])
    assert back.steps[0] == h.steps[0] and back.steps[2] == h.steps[2]
    assert back.epochs[0] == h.epochs[0] and back.epochs[0] is not h.epochs[0]
    assert back != History.from_dict({**h.to_dict(), "stopped_epoch": None})
    nested = {"history": h, "runs": [h, h], "model": {"w": ad.ones(2)}}
    nn.save(nested, tmp_path / "n.npz")
    loaded = nn.load(tmp_path / "n.npz")
    assert loaded["history"] == h and all(r == h for r in loaded["runs"])
    assert History.load(tmp_path / "h.npz") == h


def test_a_history_subclass_is_not_silently_saved_as_a_history(tmp_path):
    from nn.training import History

    class Mine(History):
        pass

    with pytest.raises(TypeError, match="nn.training.History"):
        nn.save(Mine(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("manifest,words", [
    (b"{not json", ["unreadable manifest"]),
    (b"\xff\xfe{}", ["unreadable manifest"]),
    (b'{"format": "something-else", "version": 1}', ["not an nn.save manifest"]),
    (b'{"format": "autodiff-nn-checkpoint", "version": 2}', ["version 2"]),
    (b'{"format": "autodiff-nn-checkpoint", "version": 1, "root": {"t": "int", "v": 1'
     + b"0" * 5000 + b"}}", ["manifest"]),
])
def test_unreadable_manifests(tmp_path, manifest, words):
    _refused(_craft(tmp_path / "m", None, manifest=manifest), *words)


def test_archive_level_problems(tmp_path):
    dup = tmp_path / "dup"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _craft(dup, _tensor_spec("float64"), {"a0": np.zeros(1)})
        with zipfile.ZipFile(dup, "a") as z:
            z.writestr("a0.npy", b"x")
    _refused(dup, "twice")
    other = _craft(tmp_path / "other", {"t": "none"})
    with zipfile.ZipFile(other, "a") as z:
        z.writestr("readme.txt", b"hi")
    _refused(other, "readme", "not a .npy")
    lzma = _craft(tmp_path / "lzma", {"t": "none"}, compression=zipfile.ZIP_LZMA)
    _refused(lzma, "compression")
    manifest_kind = tmp_path / "mk"
    with zipfile.ZipFile(manifest_kind, "w") as z:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.zeros(3))
        z.writestr("__manifest__.npy", buf.getvalue())
    _refused(manifest_kind, "manifest is float64")
    fortran = _craft(tmp_path / "f", {"t": "ndarray", "a": "a0", "dtype": "float64",
                                      "device": "cpu"},
                     {"a0": _npy("<f8", (2, 3), np.arange(6.0).tobytes(), fortran=True)})
    np.testing.assert_array_equal(nn.load(fortran), np.arange(6.0).reshape(2, 3, order="F"))


def test_bad_map_location_is_a_caller_error_not_a_checkpoint_error(tmp_path):
    nn.save({"a": ad.ones(1)}, tmp_path / "c")
    with pytest.raises((ValueError, TypeError)) as info:
        nn.load(tmp_path / "c", map_location="tpu")
    assert not isinstance(info.value, nn.CheckpointError)


# ---------------------------------------------------------------- temporaries of killed saves

def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_next_save_removes_abandoned_temporaries_only(tmp_path):
    stale = tmp_path / ".ck.npz.nn-save-abcd1234.tmp"
    stale.write_bytes(b"half a checkpoint")
    other_target = tmp_path / ".other.nn-save-zzzz_999.tmp"
    other_target.write_bytes(b"another save that died")
    foreign = tmp_path / ".ck.npz.abcd1234.tmp"  # not our naming: never touched
    foreign.write_bytes(b"someone else's")
    live = tmp_path / ".ck.npz.nn-save-live0000.tmp"  # a save in progress holds its lock
    live.write_bytes(b"being written")
    fd = os.open(live, os.O_RDWR)
    fcntl = pytest.importorskip("fcntl")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        nn.save({"w": ad.ones(2)}, tmp_path / "ck.npz")
        assert _temporaries(tmp_path) == sorted([foreign.name, live.name])
    finally:
        os.close(fd)
    nn.save({"w": ad.ones(2)}, tmp_path / "ck.npz")  # its writer is gone now
    assert _temporaries(tmp_path) == [foreign.name]


def test_concurrent_saves_into_one_folder_never_remove_each_others_files(tmp_path):
    def saver(k):
        def run():
            for step in range(8):
                nn.save({"k": k, "step": step, "w": ad.full((64, 64), float(step))},
                        tmp_path / f"ck{k}")
        return run
    run_threads(*(saver(k) for k in range(4)))
    assert _temporaries(tmp_path) == []
    for k in range(4):
        back = nn.load(tmp_path / f"ck{k}")
        assert back["k"] == k and back["step"] == 7


_SAVE_LOOP = """
import sys, numpy as np, autodiff as ad, nn
path = sys.argv[1]
big = np.random.default_rng(0).standard_normal((1024, 1024))  # 8 MiB: a save takes a while
step = 0
print("ready", flush=True)
while True:
    step += 1
    nn.save({"step": step, "big": big + step, "w": ad.tensor(big[:3] * step)}, path)
"""


def test_sigkill_during_save_never_corrupts_and_next_save_cleans_up(tmp_path):
    script = tmp_path / "save_loop.py"
    script.write_text(_SAVE_LOOP)
    target = tmp_path / "ck"
    rng = np.random.default_rng(0)
    killed_mid_write = 0
    for _ in range(25 if THOROUGH else 3):
        proc = subprocess.Popen([sys.executable, str(script), str(target)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        killed_mid_write += bool(_temporaries(tmp_path))
        if target.exists():  # the last completed save, intact
            back = nn.load(target)
            np.testing.assert_array_equal(back["big"][0, :4],
                                          np.random.default_rng(0).standard_normal(4)
                                          + back["step"])
    nn.save({"w": ad.ones(1)}, tmp_path / "after")
    assert _temporaries(tmp_path) == []
    assert THOROUGH is False or killed_mid_write > 0
