"""Hypothesis settings profiles for autodiff test suites: `ci`, `dev` and `thorough`.

None has a deadline: a gradient check runs the function twice per input element, so a
conv + BatchNorm + ReLU example takes a few hundred milliseconds, and hypothesis'
default 200 ms deadline would fail tests on time instead of on maths.

- ci: 25 examples, derandomized (the same examples on every run, so CI is reproducible),
  20 steps per stateful run, no example database, the reproduction blob printed.
- dev: 60 examples, random, with the local example database (failures replay first).
- thorough: 1000 examples and 50 stateful steps, for a nightly or pre-release run.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["PROFILES", "register_profiles", "ENV_VAR"]

#: The environment variable that picks the profile.
ENV_VAR = "HYPOTHESIS_PROFILE"

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]
#: The profiles' settings, by name.
PROFILES = {
    "ci": dict(max_examples=25, deadline=None, derandomize=True, database=None,
               print_blob=True, stateful_step_count=20, suppress_health_check=_SLOW_IS_FINE),
    "dev": dict(max_examples=60, deadline=None, stateful_step_count=30,
                suppress_health_check=_SLOW_IS_FINE),
    "thorough": dict(max_examples=1000, deadline=None, stateful_step_count=50,
                     suppress_health_check=_SLOW_IS_FINE),
}


def register_profiles(default=None) -> str:
    """Register the `ci`, `dev` and `thorough` profiles with hypothesis and load one.

    The profile named by the HYPOTHESIS_PROFILE environment variable is loaded; if it is
    unset, `default` (when given; else the current profile stays). Returns the name of the
    profile in effect. A name hypothesis does not know raises an error listing the choices.
    """
    for name, values in PROFILES.items():
        settings.register_profile(name, **values)
    chosen = os.environ.get(ENV_VAR) or default
    if chosen:
        try:
            settings.load_profile(chosen)
        except Exception as exc:
            raise ValueError(f"{ENV_VAR}={chosen!r} is not a registered hypothesis profile "
                             f"(autodiff registers {sorted(PROFILES)}): {exc}") from None
    return settings.get_current_profile_name()
