"""Shared test configuration.

The hypothesis profiles (ci, dev, thorough; HYPOTHESIS_PROFILE picks one, `ci` by default
through pyproject's `autodiff_hypothesis_profile`) and the fixtures `ad_device`,
`ad_dtype`, `ad_generator` come from autodiff's own pytest plugin (autodiff/pytest_plugin.py,
entry point `pytest11`), as in any user's suite.
"""
import numpy as np
import pytest


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("autodiff"):
        raise pytest.UsageError(
            "autodiff's pytest plugin is not loaded: install the project (make install, or "
            "pip install -e '.[test]') so its pytest11 entry point is registered, and do not "
            "pass -p no:autodiff")


@pytest.fixture
def device(ad_device):
    """Run a test on every device: 'cpu' always, 'cuda' when a GPU is available."""
    return ad_device


# ---------------------------------------------------------------- random streams
# No test shares a random stream with another, so skipping (e.g. the torch tests on a
# machine without torch), reordering or running one test alone cannot change another's
# numbers: each test gets a fresh seeded NumPy generator (`rng`), and the default
# generator behind ad.randn, nn.init and dropout is reseeded before every test.

@pytest.fixture
def rng():
    """A NumPy random generator seeded for this test alone."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _reseed_default_generator():
    import autodiff as ad
    ad.manual_seed(0)
