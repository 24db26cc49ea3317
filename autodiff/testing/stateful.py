"""Stateful property tests: drive an optimizer or a module through random sequences of
calls and check the invariants a training loop relies on.

    class MyOptimizerMachine(ad.testing.OptimizerMachine):
        def make_optimizer(self, params):
            return MyOptimizer(params, lr=0.1)

    TestMyOptimizer = MyOptimizerMachine.TestCase      # collected by pytest

Hypothesis picks the rules and their arguments, and shrinks a failing run to the shortest
sequence of calls that still fails, printed as code.

Both machines are written against the PyTorch protocols (an optimizer's step, zero_grad,
state_dict, load_state_dict and param_groups; a module's __call__, parameters,
named_parameters, buffers, train/eval, zero_grad, state_dict and load_state_dict), so
they work for any object that follows them.
"""
from __future__ import annotations

import copy

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from .. import backend
from ..mode import no_grad
from ..tensor import Tensor
from .checks import assert_module_grads_close
from .numerics import host64
from .repro import index_text, num
from .strategies import shapes

__all__ = ["OptimizerMachine", "ModuleMachine"]


# Strategies built once: a strategy made per draw costs more to validate than to draw.
_ARRAY_KINDS = st.sampled_from(("zeros", "constant", "uniform"))
_UNIT = st.floats(0.0, 1.0)
_SEEDS = st.integers(0, 2**32 - 1)
_BOOLEANS = st.booleans()


def _draw_values(data, shape, bounds, label):
    """A float64 array for a machine step: all zeros, one constant, or uniform in `bounds`
    from a drawn seed. A few cheap choices per array (not one per element) keep the
    hundreds of runs that shrinking a failing sequence takes fast; zeros come first, so
    a failure that does not need particular values shrinks to them."""
    lo, hi = bounds
    kind = data.draw(_ARRAY_KINDS, label=label)
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "constant":
        return np.full(shape, lo + (hi - lo) * data.draw(_UNIT))
    return np.random.default_rng(data.draw(_SEEDS)).uniform(lo, hi, shape)


def _first_difference(a, b, rtol, atol):
    """The element where float64 arrays a and b differ most beyond the tolerance, or None."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return "shape", a.shape, b.shape
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) - (atol + rtol * np.abs(b))
        bad = ~((err <= 0) | (np.isnan(a) & np.isnan(b)))
    if not bad.any():
        return None
    j = int(np.argmax(np.where(bad, np.where(np.isfinite(err), err, np.inf), -np.inf)))
    idx = np.unravel_index(j, a.shape) if a.ndim else ()
    return idx, float(a[idx]), float(b[idx])


def _assert_same(a, b, rtol, atol, what):
    found = _first_difference(a, b, rtol, atol)
    if found is None:
        return
    if found[0] == "shape":
        raise AssertionError(f"{what}: shape {found[1]} vs {found[2]}")
    idx, x, y = found
    raise AssertionError(f"{what}: at element {index_text(idx)}, {num(x)} vs {num(y)} "
                         f"(rtol={num(rtol)}, atol={num(atol)})")


def _flat_state(obj, prefix=""):
    """A nested state_dict (dicts/lists of Tensors, arrays, numbers) as {path: value}."""
    if isinstance(obj, dict):
        out = {}
        for k in obj:
            out.update(_flat_state(obj[k], f"{prefix}[{k!r}]"))
        return out
    if isinstance(obj, (list, tuple)):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flat_state(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def _assert_states_equal(saved, loaded, what):
    """Two state dicts hold the same keys and the same values."""
    a, b = _flat_state(saved), _flat_state(loaded)
    if set(a) != set(b):
        missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise AssertionError(f"{what}: keys differ; missing after loading {missing[:5]}, "
                             f"unexpected {extra[:5]}")
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, Tensor) or isinstance(y, Tensor) or isinstance(x, np.ndarray):
            _assert_same(host64(x), host64(y), 0.0, 0.0, f"{what}: entry {key}")
        elif x != y and not (x != x and y != y):  # NaN hyperparameters compare equal
            raise AssertionError(f"{what}: entry {key} is {x!r} after loading, saved {y!r}")


# ---------------------------------------------------------------- optimizers

class _AdWorld:
    """Parameters (autodiff leaves) and the optimizer updating them."""

    def __init__(self, values, make_optimizer):
        self.params = [Tensor(np.array(v, order="C"), requires_grad=True) for v in values]
        self.optimizer = make_optimizer(self.params)

    def values(self):
        """Copies of the parameters' values (steps write into the arrays in place)."""
        return [host64(p).copy() for p in self.params]

    def set_grads(self, grads):
        for p, g in zip(self.params, grads):
            p.grad = None if g is None else Tensor(np.array(g, dtype=p.dtype))

    def backward(self, coefficients):
        loss = sum(((p * p) * Tensor(c2) + p * Tensor(c1)).sum()
                   for p, (c2, c1) in zip(self.params, coefficients))
        loss.backward()

    def step(self):
        self.optimizer.step()

    def zero_grad(self, set_to_none):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def scale_lr(self, factor):
        for group in self.optimizer.param_groups:
            group["lr"] = group["lr"] * factor


class _TorchWorld(_AdWorld):
    """The same calls on torch tensors with a reference torch optimizer."""

    def __init__(self, values, make_reference):
        import torch
        self.torch = torch
        self.params = [torch.tensor(np.array(v), dtype=torch.float64, requires_grad=True)
                       for v in values]
        self.optimizer = make_reference(self.params)

    def values(self):
        return [p.detach().numpy().astype(np.float64) for p in self.params]

    def set_grads(self, grads):
        for p, g in zip(self.params, grads):
            p.grad = None if g is None else self.torch.tensor(np.array(g), dtype=p.dtype)

    def backward(self, coefficients):
        t = self.torch
        loss = sum(((p * p) * t.from_numpy(c2) + p * t.from_numpy(c1)).sum()
                   for p, (c2, c1) in zip(self.params, coefficients))
        loss.backward()


class OptimizerMachine(RuleBasedStateMachine):
    """Drives an optimizer through random set-gradient / backward / step / zero_grad /
    state_dict round-trip / learning-rate change sequences and checks, after every call:

    - step() changes no parameter whose .grad is None and never writes into a gradient;
      parameters keep their identity, shape and dtype and stay finite;
    - zero_grad() leaves every gradient None (set_to_none=True) or zero;
    - state_dict() -> load_state_dict() into a fresh optimizer (on copies of the
      parameters) restores the same state_dict, and from then on both take exactly the
      same steps (so no state hides outside state_dict()); reloading into itself too;
    - if `make_reference` returns a reference optimizer (e.g. torch's), every step
      matches it within `reference_rtol`/`reference_atol`.

    Subclass it, define `make_optimizer(self, params)`, and expose `Machine.TestCase` to
    pytest. Class attributes tune it: `param_shapes` (a strategy of lists of shapes),
    `value_bounds`, `grad_bounds`, `reference_rtol`, `reference_atol`.
    """

    param_shapes = st.lists(shapes(min_dims=0, max_dims=2, max_side=3), min_size=1, max_size=3)
    value_bounds = (-2.0, 2.0)
    grad_bounds = (-2.0, 2.0)
    reference_rtol = 1e-9
    reference_atol = 1e-12

    def make_optimizer(self, params):
        """Return the optimizer under test for the list of parameter Tensors."""
        raise NotImplementedError(f"{type(self).__name__}: define make_optimizer(self, "
                                  "params) returning your optimizer")

    def make_reference(self, params):
        """Optionally return a reference optimizer over torch float64 tensors `params`
        (e.g. `torch.optim.SGD(params, lr=0.1)`); None (the default) for no reference."""
        return None

    # ------------------------------------------------------------ set-up
    @initialize(data=st.data())
    def create(self, data):
        shape_list = data.draw(self.param_shapes, label="parameter shapes")
        values = [_draw_values(data, tuple(s), self.value_bounds, f"param {i}")
                  for i, s in enumerate(shape_list)]
        self.main = _AdWorld(values, self.make_optimizer)
        self.name = type(self.main.optimizer).__name__
        self.twin = None
        self.reference = None
        if type(self).make_reference is not OptimizerMachine.make_reference:
            try:
                self.reference = _TorchWorld(values, self.make_reference)
            except ImportError:
                pass  # torch is optional: no reference without it
            if self.reference is not None and self.reference.optimizer is None:
                self.reference = None
        self.ids = [id(p) for p in self.main.params]
        self._give_grads(data, optional=False)  # so that the very first step() moves

    def _worlds(self):
        return [w for w in (self.main, self.twin, self.reference) if w is not None]

    # ------------------------------------------------------------ rules
    def _give_grads(self, data, optional):
        grads = []
        for i, p in enumerate(self.main.params):
            has = not optional or data.draw(_BOOLEANS, label=f"param {i} has a gradient")
            grads.append(_draw_values(data, p.shape, self.grad_bounds, f"grad {i}")
                         if has else None)
        for w in self._worlds():
            w.set_grads(grads)

    @rule(data=st.data())
    def set_grads(self, data):
        self._give_grads(data, optional=True)

    @rule(data=st.data())
    def backward(self, data):
        """Accumulate the gradient of sum(c2 * p^2 + c1 * p) into .grad."""
        coefficients = [(_draw_values(data, p.shape, (0.0, 1.0), f"c2 {i}"),
                         _draw_values(data, p.shape, (-1.0, 1.0), f"c1 {i}"))
                        for i, p in enumerate(self.main.params)]
        for w in self._worlds():
            w.backward(coefficients)

    @rule(data=st.data(), drop_some=st.booleans())
    def step(self, data, drop_some=False):
        """step(); with drop_some, first set some gradients to None (they must be skipped)."""
        if drop_some:
            dropped = [i for i in range(len(self.main.params))
                       if data.draw(_BOOLEANS, label=f"drop gradient {i}")]
            for w in self._worlds():
                for i in dropped:
                    w.params[i].grad = None
        before = self.main.values()
        grads = [None if p.grad is None else host64(p.grad).copy() for p in self.main.params]
        dtypes = [p.dtype for p in self.main.params]
        for w in self._worlds():
            w.step()
        after = self.main.values()
        for i, p in enumerate(self.main.params):
            if grads[i] is None:
                _assert_same(after[i], before[i], 0.0, 0.0,
                             f"{self.name}.step() changed parameter {i}, which has no "
                             "gradient (.grad is None); it must be skipped")
            else:
                _assert_same(host64(p.grad), grads[i], 0.0, 0.0,
                             f"{self.name}.step() wrote into the gradient of parameter {i}; "
                             "a step must leave .grad unchanged")
            assert p.dtype == dtypes[i], (f"{self.name}.step() changed parameter {i}'s dtype "
                                          f"from {dtypes[i]} to {p.dtype}")
        self._compare_worlds("step()")

    @rule(set_to_none=st.booleans())
    def zero_grad(self, set_to_none):
        for w in self._worlds():
            w.zero_grad(set_to_none)
        for i, p in enumerate(self.main.params):
            if set_to_none:
                assert p.grad is None, (f"{self.name}.zero_grad(set_to_none=True) left "
                                        f"parameter {i}'s .grad set")
            elif p.grad is not None:
                _assert_same(host64(p.grad), np.zeros(p.shape), 0.0, 0.0,
                             f"{self.name}.zero_grad(set_to_none=False): gradient of "
                             f"parameter {i}")

    @rule(data=st.data(), into_itself=st.booleans())
    def state_dict_round_trip(self, data, into_itself):
        """Reload the state (into a fresh optimizer, or the same one), then take a step
        with new gradients right away: lost state shows at once."""
        saved = copy.deepcopy(self.main.optimizer.state_dict())  # as if written to disk
        if into_itself:
            self.main.optimizer.load_state_dict(copy.deepcopy(saved))
            _assert_states_equal(self.main.optimizer.state_dict(), saved,
                                 f"{self.name}: state_dict() after load_state_dict() of its "
                                 "own state_dict()")
        else:
            twin = _AdWorld(self.main.values(), self.make_optimizer)
            twin.optimizer.load_state_dict(copy.deepcopy(saved))
            _assert_states_equal(twin.optimizer.state_dict(), saved,
                                 f"{self.name}: a fresh optimizer's state_dict() after "
                                 "load_state_dict(saved)")
            self.twin = twin
        self._give_grads(data, optional=False)
        self.step(data)

    @rule(factor=st.sampled_from([0.5, 2.0]))
    def scale_lr(self, factor):
        if not all("lr" in g for g in self.main.optimizer.param_groups):
            return
        for w in self._worlds():
            w.scale_lr(factor)

    # ------------------------------------------------------------ invariants
    @invariant()
    def parameters_are_intact(self):
        if not hasattr(self, "main"):
            return
        assert [id(p) for p in self.main.params] == self.ids
        for i, v in enumerate(self.main.values()):
            assert np.all(np.isfinite(v)), f"{self.name}: parameter {i} is not finite: {v}"

    def _compare_worlds(self, after):
        mine = self.main.values()
        if self.twin is not None:
            for i, (a, b) in enumerate(zip(self.twin.values(), mine)):
                _assert_same(a, b, 0.0, 0.0,
                             f"{self.name}: after state_dict() -> load_state_dict() into a "
                             f"fresh optimizer, {after} moved parameter {i} differently "
                             "(fresh vs original): state kept outside state_dict(), or "
                             "restored wrongly")
        if self.reference is not None:
            for i, (a, b) in enumerate(zip(mine, self.reference.values())):
                _assert_same(a, b, self.reference_rtol, self.reference_atol,
                             f"{self.name}: after {after}, parameter {i} differs from the "
                             f"reference {type(self.reference.optimizer).__name__} (ours vs "
                             "reference)")


# ---------------------------------------------------------------- modules

class ModuleMachine(RuleBasedStateMachine):
    """Drives a module through random forward (train/eval) / backward / zero_grad /
    parameter update / state_dict round-trip / gradient-check sequences and checks:

    - forward never changes a parameter; in eval mode it changes no buffer and is
      deterministic (the same input twice gives the same output); outputs are finite;
    - backward gives every parameter that requires grad a finite gradient of its shape
      (or None when the output does not depend on it);
    - zero_grad() leaves every gradient None (set_to_none=True) or zero;
    - state_dict() -> load_state_dict() into a fresh `make_module()` reproduces the
      state_dict and the eval-mode outputs exactly (no state outside state_dict());
    - (at most `max_gradient_checks` times per run) the gradients match central
      differences, through `assert_module_grads_close` in eval mode (on up to
      `gradient_check_elements` elements of each input and parameter);
    - the parameters stay the same objects, under the same names, and finite.

    Subclass it, define `make_module(self)` and `input_shape` (one example's shape, e.g.
    (4,) or (3, 8, 8)) or override `make_input(self, data)`; expose `Machine.TestCase`.
    """

    input_shape = None
    batch_sizes = st.integers(2, 4)
    input_bounds = (-3.0, 3.0)
    max_gradient_checks = 1
    gradient_check_elements = 16  # per input/parameter (a fixed sample beyond that)

    def make_module(self):
        """Return a new module under test (called again for state_dict round trips)."""
        raise NotImplementedError(f"{type(self).__name__}: define make_module(self)")

    def make_input(self, data):
        """Draw one input batch (override for several inputs or integer ids)."""
        if self.input_shape is None:
            raise NotImplementedError(f"{type(self).__name__}: set input_shape (one "
                                      "example's shape) or define make_input(self, data)")
        batch = data.draw(self.batch_sizes, label="batch size")
        dtype = next((p.dtype for p in self.module.parameters()), backend.float32)
        values = _draw_values(data, (batch,) + tuple(self.input_shape), self.input_bounds,
                              "input")
        return Tensor(values.astype(dtype))

    # ------------------------------------------------------------ set-up
    @initialize()
    def create(self):
        self.module = self.make_module()
        self.name = type(self.module).__name__
        self.names = [n for n, _ in self.module.named_parameters()]
        self.ids = [id(p) for p in self.module.parameters()]
        self.gradient_checks = 0

    def _call(self, x, module=None):
        module = self.module if module is None else module
        out = module(*x) if isinstance(x, tuple) else module(x)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    # ------------------------------------------------------------ rules
    @rule(data=st.data(), training=st.booleans())
    def forward(self, data, training):
        x = self.make_input(data)
        self.module.train(training)
        params = [host64(p).copy() for p in self.module.parameters()]
        buffers = [host64(b).copy() for b in self.module.buffers()]
        outs = self._call(x)
        for o in outs:
            assert np.all(np.isfinite(host64(o))), f"{self.name}: the output is not finite"
        for (n, p), before in zip(self.module.named_parameters(), params):
            _assert_same(host64(p), before, 0.0, 0.0,
                         f"{self.name}: forward changed parameter '{n}'")
        if training:
            return
        for (n, b), before in zip(self.module.named_buffers(), buffers):
            _assert_same(host64(b), before, 0.0, 0.0,
                         f"{self.name}: forward in eval mode changed buffer '{n}'")
        for k, (o1, o2) in enumerate(zip(outs, self._call(x))):
            _assert_same(host64(o2), host64(o1), 0.0, 0.0,
                         f"{self.name}: in eval mode, two calls with the same input give "
                         f"different output {k}")

    @rule(data=st.data())
    def backward(self, data):
        x = self.make_input(data)
        outs = [o for o in self._call(x) if isinstance(o, Tensor) and o.requires_grad]
        if not outs:
            return
        rng = np.random.default_rng(data.draw(_SEEDS, label="direction seed"))
        loss = sum((o * Tensor(rng.standard_normal(o.shape).astype(o.dtype))).sum()
                   for o in outs)
        loss.backward()
        for n, p in self.module.named_parameters():
            if p.requires_grad and p.grad is not None:
                assert tuple(p.grad.shape) == tuple(p.shape), (
                    f"{self.name}: the gradient of parameter '{n}' has shape "
                    f"{tuple(p.grad.shape)}, the parameter {tuple(p.shape)}")
                assert np.all(np.isfinite(host64(p.grad))), (
                    f"{self.name}: the gradient of parameter '{n}' is not finite")

    @rule(set_to_none=st.booleans())
    def zero_grad(self, set_to_none):
        self.module.zero_grad(set_to_none=set_to_none)
        for n, p in self.module.named_parameters():
            if set_to_none:
                assert p.grad is None, (f"{self.name}.zero_grad(set_to_none=True) left "
                                        f"parameter '{n}''s .grad set")
            elif p.grad is not None:
                _assert_same(host64(p.grad), np.zeros(p.shape), 0.0, 0.0,
                             f"{self.name}.zero_grad(set_to_none=False): gradient of '{n}'")

    @rule(data=st.data())
    def update_parameters(self, data):
        """Move every parameter a little, as an optimizer step would."""
        seed = data.draw(_SEEDS, label="update seed")
        rng = np.random.default_rng(seed)
        with no_grad():
            for p in self.module.parameters():
                p.data[...] = (host64(p) + 0.1 * rng.standard_normal(p.shape)).astype(p.dtype)

    @rule(data=st.data())
    def state_dict_round_trip(self, data):
        saved = copy.deepcopy(self.module.state_dict())
        fresh = self.make_module()
        fresh.load_state_dict(copy.deepcopy(saved))
        _assert_states_equal(fresh.state_dict(), saved,
                             f"{self.name}: a fresh module's state_dict() after "
                             "load_state_dict(saved)")
        mode = self.module.training
        self.module.eval()
        fresh.eval()
        try:
            x = self.make_input(data)
            for k, (mine, theirs) in enumerate(zip(self._call(x), self._call(x, fresh))):
                _assert_same(host64(theirs), host64(mine), 0.0, 0.0,
                             f"{self.name}: after state_dict() -> load_state_dict() into a "
                             f"fresh module, eval-mode output {k} differs (fresh vs "
                             "original): state kept outside state_dict() (a plain attribute "
                             "instead of a buffer?), or restored wrongly")
        finally:
            self.module.train(mode)

    @precondition(lambda self: self.gradient_checks < self.max_gradient_checks)
    @rule(data=st.data())
    def check_gradients(self, data):
        self.gradient_checks += 1
        x = self.make_input(data)
        mode = self.module.training
        self.module.eval()
        try:
            args = x if isinstance(x, tuple) else (x,)
            assert_module_grads_close(self.module, *args,
                                      max_elements=self.gradient_check_elements)
        finally:
            self.module.train(mode)

    # ------------------------------------------------------------ invariants
    @invariant()
    def parameters_are_intact(self):
        if not hasattr(self, "module"):
            return
        names = [n for n, _ in self.module.named_parameters()]
        assert names == self.names, (f"{self.name}: the parameters changed from {self.names} "
                                     f"to {names}")
        assert [id(p) for p in self.module.parameters()] == self.ids, (
            f"{self.name}: a parameter was replaced by a new object (an optimizer holding the "
            "old one would stop training it)")
        for n, p in self.module.named_parameters():
            assert np.all(np.isfinite(host64(p))), f"{self.name}: parameter '{n}' is not finite"
