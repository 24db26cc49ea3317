"""examples/digits_convnet.py: the shipped data, quick mode as a script, and its results."""
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


def test_shipped_data_is_the_uci_digits_test_set():
    with np.load(ROOT / "examples" / "data" / "digits.npz") as z:
        images, labels = z["images"], z["labels"]
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    assert labels.shape == (1797,) and set(np.unique(labels)) == set(range(10))
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image is the familiar "0" of this data set
    assert images[0, 1].tolist() == [0, 0, 13, 15, 10, 15, 5, 0]
    readme = (ROOT / "examples" / "data" / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Alpaydin" in readme


def test_split_is_stratified_and_disjoint():
    x_tr, y_tr, x_te, y_te = _load_example().load_digits(seed=0)
    assert len(y_tr) + len(y_te) == 1797 and x_tr.shape[1:] == (1, 8, 8)
    assert x_tr.dtype == np.float32 and abs(float(x_tr.mean())) < 1e-5
    assert np.all(np.abs(np.bincount(y_te) - 36) <= 1)


def test_quick_mode_runs_as_a_script():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    epochs = re.findall(r"epoch +(\d+)/2 +loss ([\d.]+) +train acc +([\d.]+)% +test acc "
                        r"+([\d.]+)% +time +([\d.]+)s", out.stdout)
    assert [e[0] for e in epochs] == ["1", "2"], out.stdout
    assert float(epochs[1][1]) < float(epochs[0][1])  # the loss goes down
    acc = float(re.search(r"test accuracy: ([\d.]+)%", out.stdout).group(1))
    assert acc > 90.0, out.stdout
    assert "same predictions for 100.0% of test images" in out.stdout
