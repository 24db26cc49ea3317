"""examples/xor.py: the hand-set network's table and a trained network at 100% accuracy."""
import importlib.util
import pathlib
import subprocess
import sys

import numpy as np

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "xor.py"


def _load():
    spec = importlib.util.spec_from_file_location("xor_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_script_prints_the_lecture_table_and_learns_xor():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = [line.split() for line in lines[2:6]]
    assert [r[:2] for r in rows] == [["0", "0"], ["0", "1"], ["1", "0"], ["1", "1"]]
    assert [r[4] for r in rows] == ["0.183", "0.743", "0.743", "0.334"]
    assert [r[5] for r in rows] == ["0", "1", "1", "0"]  # XOR read with threshold 0.5
    assert "accuracy 100%" in out.stdout


def test_hand_set_values_match_the_closed_form():
    example = _load()
    table = example.hand_set_table()
    x = table[:, :2].astype(np.float64)
    h = _sigmoid(x @ np.array([[3.0, 4.0], [2.0, 3.0]]).T + np.array([-2.0, -4.0]))
    y = _sigmoid(h @ np.array([5.0, -5.0]) - 2.0)
    np.testing.assert_allclose(table[:, 2:4], h, rtol=1e-5)
    np.testing.assert_allclose(table[:, 4], y, rtol=1e-5)
    np.testing.assert_allclose(table[:, 4], [0.183, 0.743, 0.743, 0.334], atol=5e-4)


def test_trained_network_classifies_all_four_inputs():
    example = _load()
    result = example.main(["--quick", "--seed", "3"])
    assert result["accuracy"] == 1.0
    assert result["loss"] < 0.05
    probs = result["probs"]
    assert probs[0] < 0.5 < probs[1] and probs[2] > 0.5 > probs[3]
