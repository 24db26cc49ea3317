"""Random draws for the training workflow (data order, splits, augmentation) through
autodiff's generator API (`ad.Generator`, `generator=` on the random functions), returned
as raw arrays so that data code builds no graph nodes. `generator=None` draws from the
default generator of the device, as in torch."""
from __future__ import annotations

import numpy as np

import autodiff as ad


def randperm(n: int, generator=None) -> np.ndarray:
    """A random permutation of 0..n-1 (int64, on the CPU)."""
    return ad.randperm(n, generator=generator).numpy()


def uniform(shape, generator=None, low=0.0, high=1.0) -> np.ndarray:
    """Uniform float64 samples in [low, high) on the CPU (per-sample parameters)."""
    u = ad.rand(*shape, dtype=ad.float64, generator=generator).numpy()
    return u if low == 0.0 and high == 1.0 else low + (high - low) * u


def randint(low: int, high: int, shape, generator=None) -> np.ndarray:
    """Integers in [low, high) (int64, CPU)."""
    return ad.randint(low, high, tuple(shape), generator=generator).numpy()


def normal(shape, dtype, device, generator=None):
    """Standard normal samples of `dtype` on `device`, drawn on the generator's device."""
    source = generator.device if generator is not None else device
    out = ad.randn(*shape, dtype=dtype, device=source, generator=generator)
    return out.to(device=device).data


def seed_from(generator=None) -> int:
    """A fresh seed drawn from `generator` (how torch's samplers seed themselves)."""
    return int(randint(0, 2 ** 62, (), generator))
