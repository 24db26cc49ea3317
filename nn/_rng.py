"""Random draws for the training workflow (data order, splits, augmentation), through
autodiff's generator API (INTERFACES §3: `ad.Generator`, `generator=` on the random
functions, `ad.get_rng_state()`/`ad.set_rng_state()`).

Every function takes `generator` (an `ad.Generator`, or None for the default generator) and
returns NumPy/CuPy arrays, so callers work on raw arrays without graph nodes.

ADAPTER (delete the `_HAS_GENERATORS` fallback once `ad.Generator` is on main): until the
randomness API lands, `Generator` is a minimal stand-in on NumPy's PCG64 with the same
methods, draws with `generator=None` use autodiff's seeded default stream, and the
default stream's state cannot be saved (`default_state()` returns None).
"""
from __future__ import annotations

import numpy as np

import autodiff as ad

_HAS_GENERATORS = hasattr(ad, "Generator") and hasattr(ad, "randperm")


def _api(name):
    # ADAPTER: names of §3 looked up at run time, since they are not on main yet; write
    # ad.<name> directly once they are.
    return getattr(ad, name)


if _HAS_GENERATORS:
    Generator = _api("Generator")
else:
    class Generator:
        """Stand-in for ad.Generator (see the module docstring)."""

        def __init__(self, device="cpu"):
            self.device = device
            self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
            self._np = np.random.default_rng(self._seed)

        def manual_seed(self, seed):
            self._seed = int(seed)
            self._np = np.random.default_rng(self._seed)
            return self

        def seed(self):
            return self.manual_seed(np.random.SeedSequence().entropy % (2 ** 63)).initial_seed()

        def initial_seed(self):
            return self._seed

        def get_state(self):
            import json
            blob = json.dumps(self._np.bit_generator.state).encode()
            return ad.tensor(np.frombuffer(blob, dtype=np.uint8).copy())

        def set_state(self, state):
            import json
            data = state.data if isinstance(state, ad.Tensor) else np.asarray(state)
            self._np.bit_generator.state = json.loads(bytes(np.asarray(data, np.uint8)))


def _numpy(generator):
    return generator._np if not _HAS_GENERATORS and generator is not None else None


def randperm(n: int, generator=None) -> np.ndarray:
    """A random permutation of 0..n-1 (int64, on the CPU)."""
    if _HAS_GENERATORS:
        return _api("randperm")(n, generator=generator).numpy()
    rng = _numpy(generator)
    if rng is not None:
        return rng.permutation(n).astype(np.int64)
    return np.argsort(ad.rand(n, dtype=ad.float64).numpy(), kind="stable")


def uniform(shape, generator=None, low=0.0, high=1.0) -> np.ndarray:
    """Uniform float64 samples in [low, high) on the CPU (per-sample parameters)."""
    if _HAS_GENERATORS:
        u = ad.rand(*shape, dtype=ad.float64, generator=generator).numpy()
    else:
        rng = _numpy(generator)
        u = rng.random(shape) if rng is not None else ad.rand(*shape, dtype=ad.float64).numpy()
    return low + (high - low) * u


def randint(low: int, high: int, shape, generator=None) -> np.ndarray:
    """Integers in [low, high) (int64, CPU)."""
    if _HAS_GENERATORS:
        return ad.randint(low, high, tuple(shape), generator=generator).numpy()
    rng = _numpy(generator)
    if rng is not None:
        return rng.integers(low, high, size=shape, dtype=np.int64)
    return ad.randint(low, high, tuple(shape)).numpy()


def normal(shape, dtype, device, generator=None):
    """Standard normal samples of `dtype` on `device` (an array of that device's module)."""
    if _HAS_GENERATORS:
        gen_device = generator.device if generator is not None else device
        out = ad.randn(*shape, dtype=dtype, device=gen_device, generator=generator)
        return out.to(device=device).data
    rng = _numpy(generator)
    if rng is None:
        return ad.randn(*shape, dtype=dtype, device=device).data
    return ad.tensor(rng.standard_normal(shape), dtype=dtype, device=device).data


def seed_from(generator=None) -> int:
    """A fresh 63-bit seed drawn from `generator` (how torch's samplers seed themselves)."""
    return int(randint(0, 2 ** 62, (), generator))


def default_state():
    """The default generator's state (None while the adapter is in use)."""
    return _api("get_rng_state")() if _HAS_GENERATORS else None


def set_default_state(state) -> None:
    if state is not None and _HAS_GENERATORS:
        _api("set_rng_state")(state)
