"""examples/lectures/wavenet_names.py: the data pipeline, the two WaveNet builds (Flatten-
Consecutive + channels-last BatchNorm vs Conv1d + PyTorch-layout BatchNorm) computing the
same function, sampling, and the --quick run."""
import importlib.util
import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np

import autodiff as ad

LECTURES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "lectures"


def load():
    if str(LECTURES) not in sys.path:
        sys.path.insert(0, str(LECTURES))
    spec = importlib.util.spec_from_file_location("lecture_wavenet", LECTURES / "wavenet_names.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_names_file_is_the_documented_one():
    wn = load()
    words = wn.load_names()
    assert len(words) == 32033 and max(map(len, words)) == 15
    assert all(re.fullmatch("[a-z]+", w) for w in words)
    assert words[:3] == ["emma", "olivia", "ava"]


def test_build_dataset_contexts_and_split():
    wn = load()
    x, y = wn.build_dataset(["emma"], 3)
    # ... -> e, ..e -> m, .em -> m, emm -> a, mma -> .
    np.testing.assert_array_equal(x, [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13],
                                      [13, 13, 1]])
    np.testing.assert_array_equal(y, [5, 13, 13, 1, 0])
    words = wn.load_names()
    parts = wn.split(words, 8, seed=42)
    total = sum(len(w) + 1 for w in words)
    assert sum(len(parts[p][0]) for p in parts) == total
    assert parts["train"][0].shape[1] == 8
    again = wn.split(words, 8, seed=42)
    np.testing.assert_array_equal(again["val"][0], parts["val"][0])
    assert not np.array_equal(wn.split(words, 8, seed=1)["val"][0][:100],
                              parts["val"][0][:100])


def test_flatten_and_conv_wavenets_are_the_same_function():
    wn = load()
    ad.manual_seed(0)
    flat = wn.wavenet(layers="flatten").to(ad.float64)
    conv = wn.wavenet(layers="conv").to(ad.float64)
    assert flat.num_parameters() == conv.num_parameters() == 76579
    state = {}
    for (name, p), (cname, _) in zip(flat.state_dict().items(), conv.state_dict().items()):
        value = p.numpy()
        if value.ndim == 2 and name != "0.weight" and cname.endswith("weight") \
                and value.shape[1] != 128:
            # Linear (O, 2C) weight [o, j C + c] -> Conv1d (O, C, 2) weight [o, c, j]
            o, two_c = value.shape
            value = value.reshape(o, 2, two_c // 2).transpose(0, 2, 1)
        state[cname] = ad.tensor(np.array(value))  # a copy, 0-d stays 0-d
    conv.load_state_dict(state)
    rng = np.random.default_rng(0)
    x = ad.tensor(rng.integers(0, 27, size=(16, 8)))
    for mode in ("train", "eval"):
        getattr(flat, mode)()
        getattr(conv, mode)()
        np.testing.assert_allclose(flat(x).numpy(), conv(x).numpy(), rtol=1e-10, atol=1e-12)
    # the running statistics moved identically in both layouts
    np.testing.assert_allclose(flat[3].running_var.numpy(), conv[3].running_var.numpy(),
                               rtol=1e-12)


def test_sampling_draws_from_the_model_distribution():
    wn = load()
    ad.manual_seed(0)
    model = wn.baseline()
    names = wn.sample(model, 3, n=20, seed=1)
    assert len(names) == 20 and all(re.fullmatch("[a-z]*", n) for n in names)
    assert names == wn.sample(model, 3, n=20, seed=1)          # reproducible
    assert names != wn.sample(model, 3, n=20, seed=2)


def test_quick_run_from_the_command_line(tmp_path):
    """Through the CLI, in a subprocess: the demo's own BLAS setting (one thread, set
    before NumPy loads) keeps it ~15x faster on a busy machine than in this process."""
    out = subprocess.run([sys.executable, str(LECTURES / "wavenet_names.py"), "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["baseline"]["parameters"] == 12097       # the lecture's counts
    assert results["wavenet"]["parameters"] == 76579
    for name, r in results.items():
        assert r["steps"] == 2000
        assert abs(r["initial_val"] - math.log(27)) < 0.03, name  # uniform first guess
        assert r["val"] < 2.5 and r["train"] < 2.5, name
        assert len(r["samples"]) == 20
        assert f"{name}: train {r['train']:.4f}  val {r['val']:.4f}" in out.stdout
    assert (tmp_path / "wavenet.npz").exists() and (tmp_path / "losses.npz").exists()
