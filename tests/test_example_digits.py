"""examples/digits_convnet.py: its split, and quick mode as a script."""
import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_convnet.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("digits_convnet_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_split_is_stratified_and_disjoint():
    train, val, test = _load_example().load_data(seed=0)
    assert (len(train), len(val), len(test)) == (1258, 180, 359)
    assert not set(train.indices) & set(test.indices) and not set(val.indices) & set(test.indices)
    labels = train.dataset.tensors[1].numpy()
    assert np.all(np.abs(np.bincount(labels[test.indices]) - 0.2 * np.bincount(labels)) <= 1)


def test_quick_mode_runs_as_a_script(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--no-progress",
                          "--checkpoints", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    epochs = re.findall(r"epoch +(\d+)/2 +loss ([\d.]+) +train acc +([\d.]+)% +val loss "
                        r"([\d.]+) +val acc +([\d.]+)%", out.stdout)
    assert [e[0] for e in epochs] == ["1", "2"], out.stdout
    assert float(epochs[1][1]) < float(epochs[0][1])  # the loss goes down
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch001.npz",
                                                          "epoch002.npz"]
    single = float(re.search(r"single model test accuracy: ([\d.]+)%", out.stdout).group(1))
    mean = float(re.search(r"ensemble of 3 \(averaged probabilities\) test accuracy: "
                           r"([\d.]+)%", out.stdout).group(1))
    assert single > 90.0 and mean > 90.0, out.stdout
    assert re.search(r"ensemble of 3 \(majority vote\) test accuracy: [\d.]+%", out.stdout)
    assert "same predictions for 100.0% of test images" in out.stdout
