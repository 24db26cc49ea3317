"""examples/hyperparameter_search.py: quick mode on a process pool, as a script."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hyperparameter_search.py"


def test_quick_search_on_worker_processes():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--no-progress",
                          "--executor", "processes"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert "executor: processes" in out.stdout
    spaces = re.findall(r"round (\d) space: lr=LogUniform\(([\d.e-]+), ([\d.e-]+)\)", out.stdout)
    assert [s[0] for s in spaces] == ["1", "2"], out.stdout
    (_, lo1, hi1), (_, lo2, hi2) = spaces
    assert float(lo1) <= float(lo2) < float(hi2) <= float(hi1)      # zoomed in
    assert float(hi2) / float(lo2) < float(hi1) / float(lo1)
    assert re.search(r"8 trials \(0 failed\)", out.stdout), out.stdout
    test = float(re.search(r"test accuracy ([\d.]+)%", out.stdout).group(1))
    assert test > 80.0, out.stdout
