"""pytest plugin for test suites of autodiff ops and models (registered through the
`pytest11` entry point, so installing the package enables it; `-p no:autodiff` disables).

- Hypothesis profiles `ci`, `dev` and `thorough` (see `autodiff.testing.profiles`) are
  registered, and one is loaded: `--hypothesis-profile` if given, else the
  HYPOTHESIS_PROFILE environment variable, else the ini option
  `autodiff_hypothesis_profile` (default "dev": no deadline, 60 examples).
- Fixtures:
  `ad_device`    runs the test once per device: "cpu", and "cuda" (skipped with the reason
                 when CuPy sees no GPU); `--ad-devices=cpu` narrows the list;
  `ad_dtype`     runs the test once per floating dtype in `--ad-dtypes` (default
                 float32,float64);
  `ad_generator` an `ad.Generator` (on the test's `ad_device`, else cpu) seeded from the
                 test's id, so every test has its own reproducible stream whatever runs
                 before it; `--ad-seed=N` shifts all the seeds. The default generators
                 (`ad.manual_seed`) are seeded the same way.

Importing this module imports neither hypothesis nor pytest fixtures' heavy parts: the
profiles are skipped (with the fixtures still available) when hypothesis is missing.
"""
from __future__ import annotations

import zlib

import pytest

import autodiff as ad
from autodiff.backend import as_dtype

_DEFAULT_DTYPES = "float32,float64"
_DEVICES = ("cpu", "cuda")


def pytest_addoption(parser):
    group = parser.getgroup("autodiff", "autodiff test fixtures and hypothesis profiles")
    group.addoption("--ad-devices", default=None,
                    help="comma-separated devices for the ad_device fixture "
                         "(default: cpu,cuda; cuda is skipped without a GPU)")
    group.addoption("--ad-dtypes", default=None,
                    help=f"comma-separated dtypes for the ad_dtype fixture (default: "
                         f"{_DEFAULT_DTYPES})")
    group.addoption("--ad-seed", type=int, default=0,
                    help="added to every test's ad_generator seed (default 0)")
    parser.addini("autodiff_hypothesis_profile", default="dev",
                  help="hypothesis profile loaded when neither --hypothesis-profile nor "
                       "HYPOTHESIS_PROFILE chooses one (ci, dev or thorough)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # tryfirst: hypothesis' own plugin loads --hypothesis-profile in its pytest_configure,
    # and the profile must be registered by then.
    try:
        import autodiff.testing as adt
    except ImportError:  # hypothesis is not installed: fixtures only
        return
    adt.register_profiles(default=config.getini("autodiff_hypothesis_profile") or None)


def pytest_report_header(config):
    try:
        from hypothesis import settings
    except ImportError:
        return "autodiff: hypothesis not installed (no profiles)"
    return (f"autodiff: hypothesis profile {settings.get_current_profile_name()!r} "
            f"(ci | dev | thorough via HYPOTHESIS_PROFILE)")


def _listed(config, option, default):
    value = config.getoption(option) or default
    return [v.strip() for v in value.split(",") if v.strip()]


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "ad_device" in metafunc.fixturenames:
        devices = _listed(config, "--ad-devices", ",".join(_DEVICES))
        metafunc.parametrize("ad_device", devices, indirect=True)
    if "ad_dtype" in metafunc.fixturenames:
        dtypes = _listed(config, "--ad-dtypes", _DEFAULT_DTYPES)
        for name in dtypes:
            as_dtype(name)  # an unknown name fails collection with its choices
        metafunc.parametrize("ad_dtype", dtypes, indirect=True)


@pytest.fixture
def ad_device(request):
    """A device string ("cpu", "cuda"); cuda tests skip when CuPy sees no GPU."""
    device = getattr(request, "param", "cpu")
    if device.startswith("cuda") and not ad.cuda.is_available():
        pytest.skip("CuPy is not installed or sees no GPU (cupy.is_available() is False)")
    return device


@pytest.fixture
def ad_dtype(request):
    """A floating dtype (ad.float32, ad.float64, ...)."""
    return as_dtype(getattr(request, "param", "float32"))


def test_seed(nodeid: str, shift: int = 0) -> int:
    """The seed `ad_generator` uses for the test with this node id."""
    return (zlib.crc32(nodeid.encode()) + shift) % 2**32


test_seed.__test__ = False  # a helper, not a test


@pytest.fixture
def ad_generator(request):
    """An ad.Generator seeded from this test's id (and --ad-seed)."""
    seed = test_seed(request.node.nodeid, request.config.getoption("--ad-seed"))
    request.node.user_properties.append(("ad_seed", seed))
    device = request.getfixturevalue("ad_device") if "ad_device" in request.fixturenames \
        else "cpu"
    ad.manual_seed(seed)  # code that uses the default stream is reproducible too
    return ad.Generator(device=device).manual_seed(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seeds = [v for k, v in item.user_properties if k == "ad_seed"]
        if seeds:
            report.sections.append(("autodiff", f"ad_generator seed {seeds[0]} (derived from "
                                    f"the test id; shift all seeds with --ad-seed)"))


__all__ = ["ad_device", "ad_dtype", "ad_generator", "test_seed"]
