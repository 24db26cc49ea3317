"""Property tests of mylib's op, layer and optimizer with ad.testing. With the package
installed (pip install ".[test]"), plain `pytest` runs them under the shipped hypothesis
profiles (HYPOTHESIS_PROFILE=ci|dev|thorough)."""
import numpy as np
from hypothesis import given

import autodiff as ad
from autodiff.testing import (ModuleMachine, OptimizerMachine, assert_grads_close,
                              assert_matches_reference, assert_module_grads_close, tensors)
from mylib import GatedLinear, Signum, SoftShrink


# -- the op: gradients against central differences, values against NumPy
@given(x=tensors(shape=(3, 4), dtype=ad.float64, avoid_kinks_of=SoftShrink))
def test_soft_shrink(x):
    assert_grads_close(SoftShrink.apply, x)
    assert_matches_reference(SoftShrink.apply,
                             lambda a: np.sign(a) * np.maximum(np.abs(a) - 1, 0), x)


# -- the layer: gradients w.r.t. its input and every parameter
@given(x=tensors(shape=(5, 3), dtype=ad.float64, elements=(-3, 3)))
def test_gated_linear(x):
    assert_module_grads_close(GatedLinear(3, 2), x)


# -- the layer and the optimizer through random call sequences (state_dict round trips...)
class GatedLinearMachine(ModuleMachine):
    input_shape = (3,)

    def make_module(self):
        return GatedLinear(3, 2)


class SignumMachine(OptimizerMachine):
    def make_optimizer(self, params):
        return Signum(params, lr=0.01)


TestGatedLinearStates = GatedLinearMachine.TestCase
TestSignumStates = SignumMachine.TestCase


# -- the fixtures: every device (cuda skips without a GPU) and dtype, seeded per test
def test_gated_linear_runs_everywhere(ad_device, ad_dtype, ad_generator):
    layer = GatedLinear(3, 2).to(device=ad_device, dtype=ad_dtype)
    y = layer(ad.randn(4, 3, device=ad_device, dtype=ad_dtype, generator=ad_generator))
    assert y.shape == (4, 2) and y.dtype == ad_dtype and y.device == ad_device
