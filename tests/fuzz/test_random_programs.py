"""The random-program fuzzer (issue 12): random DAGs over the op table with reuse,
broadcasting, in-place ops, hooks, retain_grad and create_graph, compared with torch.

Every program torch computes must give the same values and first/second-order gradients
here. Refusals and wrong results the engine is known to give (KNOWN_REFUSALS, KNOWN_WRONG:
narrow categories, each with strict-xfail reproducers in tests/test_bad_inputs.py) are
counted, not failed, until the engine fix lands; anything else fails the test with the
program's listing.

Profiles: `ci` runs a few dozen programs (seconds); `thorough` runs 10,000. With
FUZZ_REPORT=path the counts by category are written there as JSON (and printed with -s).
FUZZ_KEEP_GOING=1 counts every outcome and fails nothing (a survey: the first failure
would otherwise stop the run, and hypothesis's shrinking replays count again).
"""
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import programs

PROGRAMS = int(os.environ.get("FUZZ_PROGRAMS") or {"ci": 40, "dev": 300, "thorough": 10_000}.get(
    os.environ.get("HYPOTHESIS_PROFILE", "ci"), 40))  # FUZZ_PROGRAMS=n overrides the profile

# category pattern -> why it is tolerated for now (none: every refusal fails the test).
# A new entry needs a strict-xfail reproducer in tests/test_bad_inputs.py.
KNOWN_REFUSALS = {}

# Wrong results known from the same kind of list (each also a strict xfail in the catalogue).
KNOWN_WRONG = {}

KEEP_GOING = os.environ.get("FUZZ_KEEP_GOING", "") not in ("", "0")

STATS = programs.Stats()


def _known(category, table):
    return any(re.fullmatch(pattern, category) for pattern in table)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\n" + STATS.summary())
    if os.environ.get("FUZZ_REPORT"):
        STATS.dump(os.environ["FUZZ_REPORT"])


@settings(max_examples=PROGRAMS)
@given(data=st.data())
def test_random_programs_match_torch(data):
    torch = pytest.importorskip("torch")
    outcome, exc = programs.run_one(data.draw, torch, STATS)
    if os.environ.get("FUZZ_REPORT") and STATS.programs % 500 == 0:
        STATS.dump(os.environ["FUZZ_REPORT"])  # so far: a long run that dies keeps its figures
    if KEEP_GOING:
        return
    if (outcome == "wrong" and not _known(exc.category, KNOWN_WRONG)) or \
            (outcome == "refused" and not _known(exc.category, KNOWN_REFUSALS)):
        raise exc


def test_the_fuzzer_covers_what_it_claims():
    """Runs after the fuzz test: most programs were valid and every feature was exercised."""
    if STATS.programs == 0:
        pytest.skip("the fuzz test did not run (torch is not installed)")
    assert STATS.ok >= STATS.programs // 2, STATS.summary()
    assert STATS.with_inplace > 0 and STATS.second_order > 0, STATS.summary()
