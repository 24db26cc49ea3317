"""Property-based testing for your own ops, layers, models and optimizers (`ad.testing`).

Needs `hypothesis` (the `test` extra: pip install "autodiff-lectures[test]"); `import
autodiff` does not import it, `ad.testing` is loaded on first use.

    import autodiff as ad
    from hypothesis import given

    @given(ad.testing.tensors(shape=(3, 4), dtype=ad.float64, avoid_kinks_of=ad.relu))
    def test_my_op_gradient(x):
        ad.testing.assert_grads_close(MyOp.apply, x)

Strategies: `tensors`, `shapes`, `broadcastable_shapes`, `conv_geometries`,
`pool_geometries`, `index_arrays`, `labels`, `probabilities`, `modules`; and
`st.from_type(ad.Tensor)` draws `tensors()` once this package is imported (the pytest
plugin imports it).
Assertions: `assert_grads_close`, `assert_gradgrads_close`, `assert_module_grads_close`,
`assert_matches_reference` (NumPy or torch). Messages name your op or module class, the
input, the element and both values, name the op whose own backward is wrong when the
function records several, and print lines that reproduce the failure.
Kinks: `register_kinks`, and `tensors(avoid_kinks_of=op)`.
Profiles: `register_profiles()` (ci, dev, thorough; chosen by HYPOTHESIS_PROFILE).
Stateful: `OptimizerMachine`, `ModuleMachine`.
The pytest plugin (`autodiff.pytest_plugin`, enabled by installing the package) loads the
profiles and provides the fixtures `ad_device`, `ad_dtype` and `ad_generator`.
"""
import hypothesis as _hypothesis
from hypothesis import strategies as _st

from .. import random as _random
from ..tensor import Tensor as _Tensor
from .checks import (assert_gradgrads_close, assert_grads_close, assert_matches_reference,
                     assert_module_grads_close, default_tolerances)
from .kinks import register_kinks
from .localize import localize
from .modules import modules
from .profiles import PROFILES, register_profiles
from .stateful import ModuleMachine, OptimizerMachine
from .strategies import (ALL_DTYPES, DEFAULT_KINK_MARGIN, FLOAT_DTYPES, broadcastable_shapes,
                         conv_geometries, index_arrays, labels, pool_geometries,
                         probabilities, shapes, tensors)

__all__ = ["tensors", "shapes", "broadcastable_shapes", "conv_geometries", "pool_geometries",
           "index_arrays", "labels", "probabilities", "modules", "assert_grads_close",
           "assert_gradgrads_close", "assert_module_grads_close", "assert_matches_reference",
           "default_tolerances", "localize", "register_kinks", "register_profiles", "PROFILES",
           "OptimizerMachine", "ModuleMachine", "FLOAT_DTYPES", "ALL_DTYPES",
           "DEFAULT_KINK_MARGIN"]

# `st.from_type(ad.Tensor)` (and type-annotated `st.builds`) draw float32 tensors of up
# to three small axes, with finite values.
_st.register_type_strategy(_Tensor, tensors())


class _EngineRandom:
    """autodiff's global random stream in the form `hypothesis.register_random` takes:
    hypothesis seeds it before each example and restores it after, so a test that draws
    from ad.randn or builds a module (random init) replays exactly when shrinking."""

    def seed(self, value):
        _random.manual_seed(value)

    def getstate(self):
        return _random.get_rng_state()

    def setstate(self, state):
        _random.set_rng_state(state)


_ENGINE_RANDOM = _EngineRandom()  # hypothesis keeps only a weak reference
_hypothesis.register_random(_ENGINE_RANDOM)
