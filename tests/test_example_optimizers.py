"""examples/optimizers.py runs in quick mode and its optimizers make progress."""
import importlib.util
import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "optimizers.py"
NAMES = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam"]


def test_quick_mode_runs_as_a_script():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    valley, rosen = out.stdout.split("Rosenbrock:")
    for section in (valley, rosen):
        for name in NAMES:
            assert f"  {name} " in section
    assert "steps to tol" in out.stdout and "final loss" in out.stdout


def test_quick_results_make_sense():
    spec = importlib.util.spec_from_file_location("optimizers_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.main(["--quick"])
    # start losses: valley 0.5 * (16 + 100) = 58; Rosenbrock 24.2
    for name in NAMES:
        assert results["valley", name][1] < 58.0 / 10
        assert results["Rosenbrock", name][1] < 24.2 / 4
    # heavy-ball momentum at its optimal setting converges in ~60 steps; plain SGD cannot
    assert results["valley", "Momentum"][0] is not None and results["valley", "Momentum"][0] < 80
    assert results["valley", "SGD"][0] is None
