"""ad.testing.OptimizerMachine / ModuleMachine: they find planted bugs in toy optimizers and
modules, pass correct ones, and the project's optimizers and layers run through them
(against torch.optim where torch is installed)."""
import numpy as np
import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

import autodiff as ad
import nn
from autodiff.testing import ModuleMachine, OptimizerMachine, shapes
from helpers import WrongCube
from nn import optim

try:
    import torch
except ImportError:  # the machines check invariants only, without a reference
    torch = None

# The planted bugs must be found within the ci profile's budget (25 runs of 20 steps),
# whatever profile runs the suite; the project's machines below use the profile. No shrink
# phase: finding the bug is what these tests check, and shrinking a stateful run to the
# shortest failing sequence takes hundreds of reruns.
SEARCH = settings(max_examples=25, stateful_step_count=20, derandomize=True, database=None,
                  deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))


def _failure(machine):
    with pytest.raises(AssertionError) as err:
        run_state_machine_as_test(machine, settings=SEARCH)
    return str(err.value)


# ----------------------------------------------------------------- toy optimizers
class ToySGD:
    """Plain SGD written against the optimizer protocol (no nn.optim base class)."""

    def __init__(self, params, lr=0.1):
        self.param_groups = [{"params": list(params), "lr": lr}]
        self.state = {}

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data -= group["lr"] * p.grad.data

    def zero_grad(self, set_to_none=True):
        for p in self.param_groups[0]["params"]:
            p.grad = None if set_to_none else ad.zeros_like(p)

    def state_dict(self):
        return {"state": {}, "param_groups": [{"lr": g["lr"], "params": list(range(len(
            g["params"])))} for g in self.param_groups]}

    def load_state_dict(self, sd):
        for group, saved in zip(self.param_groups, sd["param_groups"]):
            group["lr"] = saved["lr"]


class ToyMomentum(ToySGD):
    """Momentum SGD with a planted bug: the velocities live outside state_dict()."""

    def __init__(self, params, lr=0.1, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = momentum
        self._velocity = {}

    def step(self):
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            v = self._velocity.get(id(p), 0.0) * self.momentum + p.grad.data
            self._velocity[id(p)] = v
            p.data -= self.param_groups[0]["lr"] * v


class ToyInPlaceGrad(ToySGD):
    """Planted bug: scales the gradient in place (a second step() would see it scaled)."""

    def step(self):
        for p in self.param_groups[0]["params"]:
            if p.grad is not None:
                p.grad.data *= self.param_groups[0]["lr"]
                p.data -= p.grad.data


class ToyDecayEverything(ToySGD):
    """Planted bug: weight decay applied to parameters that have no gradient."""

    def step(self):
        for p in self.param_groups[0]["params"]:
            grad = 0.0 if p.grad is None else p.grad.data
            p.data -= self.param_groups[0]["lr"] * (grad + 0.01 * p.data)


class ToyWrongLr(ToySGD):
    """Planted bug against the torch reference: uses lr / 2."""

    def step(self):
        for p in self.param_groups[0]["params"]:
            if p.grad is not None:
                p.data -= 0.5 * self.param_groups[0]["lr"] * p.grad.data


def _machine(optimizer_class, reference=None):
    class Machine(OptimizerMachine):
        def make_optimizer(self, params):
            return optimizer_class(params)

        if reference is not None:
            def make_reference(self, params):
                return reference(params)

    Machine.__name__ = f"{optimizer_class.__name__}Machine"
    return Machine


def test_a_correct_toy_optimizer_passes():
    run_state_machine_as_test(_machine(ToySGD), settings=SEARCH)


def test_state_outside_state_dict_is_found():
    text = _failure(_machine(ToyMomentum))
    assert "ToyMomentum: after state_dict() -> load_state_dict() into a fresh optimizer" in text
    assert "state kept outside state_dict()" in text


def test_writing_into_gradients_is_found():
    assert "ToyInPlaceGrad.step() wrote into the gradient of parameter" in _failure(
        _machine(ToyInPlaceGrad))


def test_updating_parameters_without_gradient_is_found():
    assert "which has no gradient (.grad is None)" in _failure(_machine(ToyDecayEverything))


def test_a_wrong_update_is_found_against_the_torch_reference():
    if torch is None:
        pytest.skip("torch is not installed (pip install torch==2.13.0)")
    machine = _machine(ToyWrongLr, lambda params: torch.optim.SGD(params, lr=0.1))
    assert "differs from the reference SGD" in _failure(machine)
    run_state_machine_as_test(_machine(ToySGD, lambda params: torch.optim.SGD(params, lr=0.1)),
                              settings=SEARCH)


def test_a_machine_without_make_optimizer_says_what_to_define():
    with pytest.raises(NotImplementedError, match="define make_optimizer"):
        run_state_machine_as_test(OptimizerMachine, settings=SEARCH)


# ----------------------------------------------------------------- the project's optimizers
OPTIMIZERS = {
    "SGD": dict(lr=0.1),
    "SGD-momentum-nesterov-decay": dict(lr=0.05, momentum=0.9, nesterov=True,
                                        weight_decay=0.01),
    "SGD-dampening-maximize": dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True),
    "Adam": dict(lr=0.01),
    "Adam-amsgrad-decay": dict(lr=0.01, amsgrad=True, weight_decay=0.1),
    "AdamW": dict(lr=0.01, weight_decay=0.1),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, weight_decay=0.05),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
}


def _project_settings():
    """The loaded profile, with ci's run count cut to 8 (x 20 steps) per machine: the
    dev and thorough profiles run the project's machines in full."""
    if settings.get_current_profile_name() == "ci":
        return settings(max_examples=8)
    return settings()


@pytest.mark.parametrize("label", OPTIMIZERS)
def test_project_optimizers_through_the_machine(label):
    name, kwargs = label.split("-")[0], OPTIMIZERS[label]
    ours, theirs = getattr(optim, name), getattr(torch.optim, name) if torch else None

    class Machine(OptimizerMachine):
        # 0-d (learnable scalars) and up
        param_shapes = st.lists(shapes(min_dims=0, max_dims=2, max_side=3), min_size=1,
                                max_size=3)

        def make_optimizer(self, params):
            return ours(params, **kwargs)

        def make_reference(self, params):
            return None if theirs is None else theirs(params, **kwargs)

    run_state_machine_as_test(Machine, settings=_project_settings())


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"])
def test_optimizers_on_a_0d_parameter(name):
    p = ad.tensor(1.0, dtype=ad.float64, requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.1)
    p.grad = ad.tensor(0.5, dtype=ad.float64)
    opt.step()
    assert p.item() < 1.0


# ----------------------------------------------------------------- modules
class LeakyRunningMean(nn.Module):
    """Planted bug: the running mean is a plain attribute, not a registered buffer."""

    def __init__(self, features=3):
        super().__init__()
        self.scale = nn.Parameter(ad.ones(features))
        self.running = np.zeros(features)

    def forward(self, x):
        if self.training:
            self.running = 0.9 * self.running + 0.1 * x.numpy().mean(axis=0)
        return (x - ad.tensor(self.running.astype(np.float32))) * self.scale


class ScaledRunningMean(LeakyRunningMean):
    """The same layer done right: the running mean is a buffer."""

    def __init__(self, features=3):
        nn.Module.__init__(self)
        self.scale = nn.Parameter(ad.ones(features))
        self.register_buffer("running", ad.zeros(features))

    def forward(self, x):
        if self.training:
            with ad.no_grad():
                self.running.data[...] = 0.9 * self.running.data + 0.1 * x.numpy().mean(axis=0)
        return (x - self.running) * self.scale


class WrongCubeAct(nn.Module):
    def forward(self, x):
        return WrongCube.apply(x)


def _module_machine(factory, shape):
    class Machine(ModuleMachine):
        input_shape = shape

        def make_module(self):
            return factory()

    return Machine


def test_module_state_outside_state_dict_is_found():
    text = _failure(_module_machine(LeakyRunningMean, (3,)))
    assert "LeakyRunningMean: after state_dict() -> load_state_dict() into a fresh module" in text
    assert "a plain attribute instead of a buffer?" in text
    run_state_machine_as_test(_module_machine(ScaledRunningMean, (3,)), settings=SEARCH)


def test_module_with_a_wrong_backward_is_found_and_the_op_named():
    text = _failure(_module_machine(lambda: nn.Sequential(nn.Linear(2, 3), WrongCubeAct()),
                                    (2,)))
    assert "assert_module_grads_close(Sequential)" in text and "WRONG: WrongCube" in text


@pytest.mark.parametrize("factory,shape", [
    (lambda: nn.Linear(3, 2), (3,)),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.3),
                           nn.Linear(4, 2)), (3,)),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(),
                           nn.MaxPool2d(2)), (2, 4, 4)),
    (lambda: nn.LayerNorm(5), (5,)),
], ids=["linear", "mlp-batchnorm-dropout", "conv-batchnorm-pool", "layernorm"])
def test_project_modules_through_the_machine(factory, shape):
    run_state_machine_as_test(_module_machine(factory, shape), settings=_project_settings())
