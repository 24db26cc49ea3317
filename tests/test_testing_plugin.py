"""autodiff's pytest plugin and the user test suite in examples/testing: the fixtures, the
profile choice (--hypothesis-profile > HYPOTHESIS_PROFILE > ini > 'dev'), the plugin in a
fresh venv from the installed package, the example suite catching a planted bug, and the
README showing exactly the example files."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

import autodiff as ad
from autodiff.pytest_plugin import test_seed as seed_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "testing"


# ----------------------------------------------------------------- fixtures, in this suite
def test_ad_device_runs_on_each_device(ad_device, request):
    assert ad_device == request.node.callspec.params["ad_device"]
    assert ad.zeros(2, device=ad_device).device == ad_device


def test_ad_dtype_defaults_to_float32_and_float64(ad_dtype, request):
    assert request.node.callspec.id in ("float32", "float64")
    assert ad_dtype == getattr(ad, request.node.callspec.id)


def test_ad_generator_seeds_each_test_from_its_id(ad_generator, request):
    drawn = ad.randn(4).numpy()
    ad.manual_seed(seed_for(request.node.nodeid))
    np.testing.assert_array_equal(ad.randn(4).numpy(), drawn)
    assert seed_for(request.node.nodeid) != seed_for(request.node.nodeid + "x")
    assert isinstance(ad_generator, ad.Generator) and ad_generator.device == "cpu"
    assert ad_generator.initial_seed() == seed_for(request.node.nodeid)
    first = ad.randn(3, generator=ad_generator).numpy()
    np.testing.assert_array_equal(
        ad.randn(3, generator=ad.Generator().manual_seed(seed_for(request.node.nodeid)))
        .numpy(), first)


def test_the_project_runs_under_a_registered_profile():
    expected = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
    assert settings.get_current_profile_name() == expected
    assert settings().deadline is None
    assert settings.get_profile("ci").derandomize
    assert settings.get_profile("thorough").max_examples == 1000


def test_register_profiles_rejects_an_unknown_name(monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "fast")
    current = settings.get_current_profile_name()
    try:
        with pytest.raises(ValueError, match="'fast' is not a registered hypothesis profile"):
            ad.testing.register_profiles()
    finally:
        settings.load_profile(current)


# ----------------------------------------------------------------- a user's project
USER_TEST = textwrap.dedent("""
    import autodiff as ad
    from hypothesis import given, settings

    def test_profile(ad_dtype):
        print("PROFILE", settings.get_current_profile_name(), settings().max_examples,
              "DTYPE", ad_dtype)

    @given(x=ad.testing.tensors(shape=(2,), dtype=ad.float64))
    def test_uses_strategies(x):
        ad.testing.assert_grads_close(lambda t: (t * t).sum(), x)
""")


def _run_pytest(python, cwd, *args, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    env.update(env_extra or {})
    return subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-s", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _profiles_seen(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(set(re.findall(r"PROFILE (\w+) (\d+) DTYPE (\w+)", result.stdout)))


def test_profile_choice_in_a_user_project(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    default = _run_pytest(sys.executable, tmp_path, "--ad-dtypes=float16")
    assert "autodiff: hypothesis profile 'dev'" in default.stdout
    assert _profiles_seen(default) == [("dev", "60", "float16")]
    by_env = _run_pytest(sys.executable, tmp_path, "-k", "profile",
                         env_extra={"HYPOTHESIS_PROFILE": "thorough"})
    assert _profiles_seen(by_env) == [("thorough", "1000", "float32"),
                                      ("thorough", "1000", "float64")]
    by_option = _run_pytest(sys.executable, tmp_path, "-k", "profile", "--ad-dtypes=float64",
                            "--hypothesis-profile=ci",
                            env_extra={"HYPOTHESIS_PROFILE": "thorough"})
    assert _profiles_seen(by_option) == [("ci", "25", "float64")]
    off = _run_pytest(sys.executable, tmp_path, "-p", "no:autodiff", "-k", "profile")
    assert off.returncode != 0 and "fixture 'ad_dtype' not found" in off.stdout


def test_fixtures_work_without_hypothesis(tmp_path):
    # a stand-in `hypothesis` that cannot be imported: the plugin keeps its fixtures
    blocker = tmp_path / "blocked" / "hypothesis"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('hypothesis is not installed')\n")
    (tmp_path / "test_plain.py").write_text(
        "def test_fixtures(ad_device, ad_dtype, ad_generator):\n"
        "    print('GOT', ad_device, ad_dtype)\n")
    result = _run_pytest(sys.executable, tmp_path, "-p", "no:hypothesispytest",
                         env_extra={"PYTHONPATH": str(tmp_path / "blocked")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "autodiff: hypothesis not installed (no profiles)" in result.stdout
    assert "GOT cpu float32" in result.stdout and "GOT cpu float64" in result.stdout


# ----------------------------------------------------------------- the example suite
def test_example_suite_catches_a_wrong_backward(tmp_path):
    suite = tmp_path / "suite"
    shutil.copytree(EXAMPLES, suite, ignore=shutil.ignore_patterns("__pycache__"))
    mylib = suite / "mylib.py"
    source = mylib.read_text()
    assert "return g * (abs(x) > 1)" in source
    mylib.write_text(source.replace("return g * (abs(x) > 1)", "return g * (abs(x) > 0.5)"))
    result = _run_pytest(sys.executable, suite, "-k", "soft_shrink",
                         env_extra={"HYPOTHESIS_PROFILE": "ci"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "assert_grads_close(SoftShrink.apply): gradient of input 0" in result.stdout
    assert "ad.testing.assert_grads_close(SoftShrink.apply, x0)" in result.stdout


def test_readme_shows_the_example_suite_verbatim():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Testing your own ops and models", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    for name in ("mylib.py", "test_mylib.py"):
        body = (EXAMPLES / name).read_text()
        assert any(block.strip() in body for block in blocks if len(block) > 200), name
    assert "examples/testing" in section


# ----------------------------------------------------------------- a fresh install
_OFFLINE = ("No matching distribution", "Could not find a version", "NewConnectionError",
            "Temporary failure in name resolution", "Network is unreachable")


@pytest.mark.slow
def test_plugin_loads_in_a_fresh_venv_from_the_installed_package(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", f"{ROOT}[test]"],
                             capture_output=True, text=True, timeout=300)
    if install.returncode != 0:
        if any(marker in install.stderr for marker in _OFFLINE):
            pytest.skip("pip cannot reach PyPI from here: " + install.stderr.strip()[-200:])
        pytest.fail(install.stdout + install.stderr)
    suite = tmp_path / "suite"  # outside the repository: only the installed package counts
    shutil.copytree(EXAMPLES, suite, ignore=shutil.ignore_patterns("__pycache__"))
    result = _run_pytest(python, suite, env_extra={"HYPOTHESIS_PROFILE": "ci"}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "autodiff: hypothesis profile 'ci'" in result.stdout
    assert re.search(r"\d+ passed", result.stdout)
    where = subprocess.run([str(python), "-c", "import autodiff; print(autodiff.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True)
    assert str(venv) in where.stdout  # the installed copy, not this checkout
