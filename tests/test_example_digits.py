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
