"""examples/lectures/optimizers.py (formerly examples/optimizers.py): the steps-to-tolerance
tables, Adam's fixed-size step with betas (0, 0), GD vs SGD, the learning-rate runs."""
import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

LECTURES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "lectures"
EXAMPLE = LECTURES / "optimizers.py"
NAMES = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"]
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


def _load():
    if str(LECTURES) not in sys.path:
        sys.path.insert(0, str(LECTURES))
    spec = importlib.util.spec_from_file_location("optimizers_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_quick_mode_runs_as_a_script(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    valley, rosen = out.stdout.split("Rosenbrock:")
    for section in (valley, rosen):
        for name in NAMES:
            assert f"  {name} " in section
    assert "steps to tol" in out.stdout and "final loss" in out.stdout
    if HAVE_MPL:
        for name in ("optimizer_paths_valley", "optimizer_paths_saddle",
                     "optimizer_paths_rosenbrock", "optimizer_gd_vs_sgd", "adam_betas_zero",
                     "learning_rates"):
            assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name


def test_quick_results_make_sense(tmp_path):
    results = _load().main(["--quick", "--out", str(tmp_path)])
    # start losses: valley 0.5 * (16 + 100) = 58; Rosenbrock 24.2
    for name in NAMES:
        assert results["valley", name][1] < 58.0 / 10
        assert results["Rosenbrock", name][1] < 24.2 / 4
    # heavy-ball momentum at its optimal setting converges in ~60 steps; plain SGD cannot
    assert results["valley", "Momentum"][0] is not None and results["valley", "Momentum"][0] < 80
    assert results["valley", "SGD"][0] is None
    # Adam with betas (0, 0): every step is exactly lr = 0.3 long (lr * g / |g|)
    xs = results["adam_betas_zero"]
    np.testing.assert_allclose(np.abs(np.diff(xs)), 0.3, rtol=1e-6)
    np.testing.assert_allclose(xs[-4:], [0.1, -0.2, 0.1, -0.2], atol=1e-6)  # oscillates
    # learning rates: too small barely moves, too large ends no better than chance (log 10)
    lr = results["learning_rates"]
    assert abs(lr[1e-4][-1] - lr[1e-4][0]) < 0.05
    assert lr[0.3][-1] < lr[0.03][-1] < lr[1e-4][-1]
    assert lr[3.0][0] > np.log(10) and lr[3.0][-1] > 2.0
    if HAVE_MPL:
        gd, sgd = results["gd_vs_sgd"].values()
        assert gd == pytest.approx(2.80, abs=0.01)        # the nearest, local minimum
        assert abs(sgd - 0.46) < 1.0                      # noise carried it to the global one
