"""Shared test configuration: hypothesis profiles chosen by HYPOTHESIS_PROFILE."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cuda_available():
    try:
        import autodiff as ad
        return ad.cuda.is_available()
    except Exception:
        return False


CUDA = _cuda_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not CUDA, reason="CuPy is not installed or sees no GPU (cupy.is_available() is False)"))]


@pytest.fixture(params=DEVICES)
def device(request):
    """Run a test on every device: 'cpu' always, 'cuda' when a GPU is available."""
    return request.param


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
