"""Random numbers as in torch: `Generator` objects, the default generator, and the samplers.

A Generator owns one bit stream behind a lock: NumPy's PCG64 on the CPU, CuPy's Philox on a
GPU. Same seed + same calls = same numbers; a generator shared by threads hands each call a
whole, uninterrupted piece of its stream, and a thread that owns its own generator gets a
stream no other thread can disturb. The bit streams differ from torch's (a different
algorithm), the laws do not.

Sampled outputs get zero gradient with respect to their parameters, as in torch (normal's
mean/std, bernoulli's p, a tensor overwritten by `normal_`): these are draws, not
reparameterised samples; write `mean + std * ad.randn(...)` for a pathwise gradient.
"""
from __future__ import annotations

import contextlib
import operator
import os
import struct
import threading

import numpy as np

from . import backend
from .tensor import Tensor  # first: importing tensor loads function and graph in order
from .function import Function  # noqa: I001
from ._inplace import apply_inplace
from .errors import op_error

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng", "normal", "bernoulli", "multinomial"]

#: torch.Generator()'s initial seed; a new Generator starts from it, as in torch.
DEFAULT_SEED = 67280421310721
_SEED_MIN, _SEED_MAX = -(1 << 63), (1 << 64) - 1
# Significand bits (with the implicit one) of each float type: a uniform draw on that grid
# is exact in the type, so rand() of a half type stays in [0, 1).
_DIGITS = {backend.float16: 11, backend.bfloat16: 8, backend.float32: 24, backend.float64: 53}


def _check_seed(seed, op):
    """torch's seed range [-2^63, 2^64 - 1]; negative seeds wrap to seed + 2^64."""
    try:
        value = operator.index(seed)
    except TypeError:
        raise op_error(TypeError, op, f"the seed must be an integer, got {seed!r} of type "
                                      f"{type(seed).__name__}") from None
    if not _SEED_MIN <= value <= _SEED_MAX:
        raise op_error(ValueError, op, f"the seed {value} is outside [-2**63, 2**64 - 1]")
    return value % (1 << 64)


def _entropy_seed() -> int:
    return int.from_bytes(os.urandom(8), "little")


# ---------------------------------------------------------------- bit streams

class _CudaStream:
    """A GPU stream kept as (seed, offset), like torch's Philox generator: every call draws
    from a fresh CuPy Philox generator keyed by (seed, offset) and moves the offset on, so
    the whole state is two integers and round-trips exactly."""

    def __init__(self, device, seed, offset=0):
        self.device, self.seed, self.offset = device, seed, offset
        self.cupy = backend.module_for_device(device)

    def _next(self, n):  # pragma: no cover - needs a GPU
        key = np.random.SeedSequence(self.seed, spawn_key=(self.offset,))
        self.offset += 1
        with self.cupy.cuda.Device(int(self.device[5:])):
            bits = self.cupy.random.Philox4x3210(key, size=max(1, min(int(n), 1 << 16)))
            return self.cupy.random.Generator(bits)

    # The names and arguments of numpy.random.Generator, so samplers need not know the device.
    def random(self, size, dtype):  # pragma: no cover - needs a GPU
        return self._next(np.prod(size)).random(size, dtype=dtype)

    def standard_normal(self, size, dtype):  # pragma: no cover - needs a GPU
        return self._next(np.prod(size)).standard_normal(size, dtype=dtype)

    def standard_exponential(self, size, dtype):  # pragma: no cover - needs a GPU
        return self._next(np.prod(size)).standard_exponential(size, dtype=dtype)

    def integers(self, low, high, size, dtype):  # pragma: no cover - needs a GPU
        return self._next(np.prod(size)).integers(low, high, size, dtype=dtype)

    def permutation(self, n):  # pragma: no cover - needs a GPU
        # Sorting 53-bit uniform keys: a tie (probability ~ n^2 / 2^54) only swaps two ranks.
        return self.cupy.argsort(self.random((n,), np.float64))


# ---------------------------------------------------------------- Generator

_STATE_HEADER = struct.Struct("<4sBBxxQ")  # magic, format version, kind, (pad), initial seed
_STATE_MAGIC, _STATE_VERSION = b"ADRG", 1
_KIND_CPU, _KIND_CUDA = 0, 1
_CPU_STATE_BYTES = _STATE_HEADER.size + 16 + 16 + 4 + 4  # PCG64 state, inc, cached uint32
_CUDA_STATE_BYTES = _STATE_HEADER.size + 8  # Philox offset


class Generator:
    """A random number generator for one device, as torch.Generator: seed it with
    `manual_seed(s)` (returns self), pass it as `generator=` to any random function."""

    def __init__(self, device="cpu"):
        self._device = backend.parse_device(device)
        self._lock = threading.Lock()
        self._seed = None
        self._stream = None
        self.manual_seed(DEFAULT_SEED)

    @property
    def device(self) -> str:
        """The device whose tensors this generator fills ('cpu' or 'cuda:N')."""
        return self._device

    def manual_seed(self, seed) -> "Generator":
        """Restart the stream from `seed` (an integer in [-2^63, 2^64 - 1]); returns self."""
        seed = _check_seed(seed, "Generator.manual_seed")
        if self._device == "cpu":
            stream = np.random.Generator(np.random.PCG64(seed))
        else:
            stream = _CudaStream(self._device, seed)
        with self._lock:
            self._seed, self._stream = seed, stream
        return self

    def seed(self) -> int:
        """Reseed from OS entropy (non-deterministic); returns the new seed."""
        value = _entropy_seed()
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The full state as a uint8 tensor (torch's ByteTensor); `set_state` restores it."""
        with self._lock:
            if self._device == "cpu":
                pcg = self._stream.bit_generator.state
                data = (_STATE_HEADER.pack(_STATE_MAGIC, _STATE_VERSION, _KIND_CPU, self._seed)
                        + pcg["state"]["state"].to_bytes(16, "little")
                        + pcg["state"]["inc"].to_bytes(16, "little")
                        + struct.pack("<II", pcg["has_uint32"], pcg["uinteger"]))
            else:
                data = (_STATE_HEADER.pack(_STATE_MAGIC, _STATE_VERSION, _KIND_CUDA, self._seed)
                        + struct.pack("<Q", self._stream.offset))
        return Tensor._make(np.frombuffer(data, dtype=np.uint8).copy(), None, False)

    def set_state(self, state) -> "Generator":
        """Restore a state from `get_state()` (of a generator of the same kind of device)."""
        op = "Generator.set_state"
        if not isinstance(state, Tensor) or state.dtype != np.uint8 or state.ndim != 1:
            described = (f"a {state.dtype} tensor of shape {tuple(state.shape)}"
                         if isinstance(state, Tensor) else type(state).__name__)
            raise op_error(TypeError, op, f"the state must be the 1-D uint8 tensor that "
                                          f"get_state() returns, got {described}")
        data = backend.to_device(state.data, "cpu").tobytes()
        cpu = self._device == "cpu"
        expected = _CPU_STATE_BYTES if cpu else _CUDA_STATE_BYTES
        header = (_STATE_HEADER.unpack_from(data) if len(data) >= _STATE_HEADER.size
                  else (None, None, None, None))
        magic, version, kind, seed = header
        if magic != _STATE_MAGIC or version != _STATE_VERSION:
            raise op_error(ValueError, op, f"these {len(data)} bytes are not a generator state "
                                           "from get_state()")
        if kind != (_KIND_CPU if cpu else _KIND_CUDA) or len(data) != expected:
            source = "cpu" if kind == _KIND_CPU else "cuda"
            raise op_error(ValueError, op, f"the state is a {source} generator's ({len(data)} "
                                           f"bytes) but this generator is on {self._device} "
                                           f"(its states are {expected} bytes)")
        body = data[_STATE_HEADER.size:]
        if cpu:
            inc = int.from_bytes(body[16:32], "little")
            if not inc & 1:  # PCG64's increment is always odd: these bytes were altered
                raise op_error(ValueError, op, "the state is corrupt (PCG64 increment is even)")
            has_uint32, uinteger = struct.unpack("<II", body[32:40])
            bits = np.random.PCG64()
            bits.state = {"bit_generator": "PCG64",
                          "state": {"state": int.from_bytes(body[:16], "little"), "inc": inc},
                          "has_uint32": has_uint32, "uinteger": uinteger}
            stream = np.random.Generator(bits)
        else:
            stream = _CudaStream(self._device, seed, struct.unpack("<Q", body)[0])
        with self._lock:
            self._seed, self._stream = seed, stream
        return self

    def __repr__(self):
        return f"<ad.Generator device={self._device!r} initial_seed={self._seed}>"

    def __reduce__(self):
        # copy.deepcopy / pickle (e.g. of a model holding a Dropout(generator=g)): the lock
        # cannot be copied, the state can; the copy continues the same stream independently.
        return _restore, (self._device, self.get_state().data.tobytes())


def _restore(device, state_bytes):
    return Generator(device).set_state(Tensor._make(np.frombuffer(state_bytes, np.uint8).copy(),
                                                    None, False))


# ---------------------------------------------------------------- default generators

default_generator = Generator("cpu")
default_generator.seed()  # as in torch, a process starts from a non-deterministic seed
_defaults = {"cpu": default_generator}  # 'cuda:N' -> its default, made on first use
_defaults_lock = threading.Lock()
_seed_for_new_devices = [default_generator.initial_seed()]


def default_generator_for(device: str) -> Generator:
    """The default generator of a canonical device string (torch.cuda.default_generators)."""
    gen = _defaults.get(device)
    if gen is None:
        with _defaults_lock:
            gen = _defaults.get(device)
            if gen is None:
                gen = _defaults[device] = Generator(device).manual_seed(_seed_for_new_devices[0])
    return gen


def manual_seed(seed) -> Generator:
    """Seed the default generator of every device (CPU and GPUs); returns
    `ad.default_generator`. Threads that need their own reproducible stream should own an
    `ad.Generator` each instead of sharing this global one."""
    seed = _check_seed(seed, "manual_seed")
    with _defaults_lock:
        _seed_for_new_devices[0] = seed
        for gen in _defaults.values():
            gen.manual_seed(seed)
    return default_generator


def seed() -> int:
    """Seed every default generator from OS entropy; returns the seed."""
    value = _entropy_seed()
    manual_seed(value)
    return value


def initial_seed() -> int:
    """The default CPU generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default CPU generator's state (a uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default CPU generator's state from `get_rng_state()`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True):
    """torch.random.fork_rng: the default generators' states (the CPU's, plus those of
    `devices`, by default every GPU default generator made so far) are restored on exit, so
    the draws inside leave the streams outside where they were."""
    if not enabled:
        yield
        return
    if devices is None:
        generators = list(_defaults.values())
    else:
        generators = [default_generator] + [default_generator_for(backend.parse_device(d))
                                            for d in devices]
    states = [(g, g.get_state()) for g in generators]
    try:
        yield
    finally:
        for g, state in states:
            g.set_state(state)


def resolve(generator, device: str, op: str) -> Generator:
    """The generator an op draws from: `generator` (checked) or the device's default."""
    if generator is None:
        return default_generator_for(device)
    if not isinstance(generator, Generator):
        raise op_error(TypeError, op, f"generator must be an ad.Generator (e.g. "
                                      f"ad.Generator().manual_seed(0)), got "
                                      f"{type(generator).__name__}")
    if generator.device != device:
        raise op_error(RuntimeError, op, f"the generator is on {generator.device} but the "
                                         f"result is on {device}; use "
                                         f"ad.Generator({device!r}) for tensors on {device}")
    return generator


# ---------------------------------------------------------------- array samplers
# Each takes the generator and draws under its lock, so one call is one piece of its stream.

def _draw_dtype(dtype):
    """Half types are drawn in float32 and rounded; float32 and float64 at their precision."""
    return backend.float64 if dtype == backend.float64 else backend.float32


def uniform_array(gen: Generator, shape, dtype):
    """U[0, 1) in `dtype`, on the dtype's grid of 2^-digits, so never 1 after rounding."""
    with gen._lock:
        if dtype in (backend.float32, backend.float64):
            return gen._stream.random(shape, dtype=dtype)
        digits = _DIGITS[dtype]
        ints = gen._stream.integers(0, 1 << digits, shape, dtype=np.int32)
    return (ints.astype(backend.float32) * (2.0 ** -digits)).astype(dtype)


def normal_array(gen: Generator, shape, dtype):
    """N(0, 1) in `dtype`."""
    with gen._lock:
        out = gen._stream.standard_normal(shape, dtype=_draw_dtype(dtype))
    return out if out.dtype == dtype else out.astype(dtype)


def exponential_array(gen: Generator, shape, dtype):
    """Exp(1) in `dtype`."""
    with gen._lock:
        out = gen._stream.standard_exponential(shape, dtype=_draw_dtype(dtype))
    return out if out.dtype == dtype else out.astype(dtype)


def integer_array(gen: Generator, low: int, high: int, shape, dtype):
    """Integers uniform on [low, high), stored in `dtype` (bounds checked by the caller)."""
    draw = dtype if dtype.kind in "iu" else np.dtype(np.int64)
    with gen._lock:
        out = gen._stream.integers(low, high, shape, dtype=draw)
    return out if out.dtype == dtype else out.astype(dtype)


def permutation_array(gen: Generator, n: int, dtype):
    """A uniformly random permutation of 0..n-1 in `dtype`."""
    with gen._lock:
        out = gen._stream.permutation(n)
    return out if out.dtype == dtype else out.astype(dtype)


def check_integer_range(op, low, high, dtype):
    """Raise unless every integer in [low, high) is exact in `dtype` (torch's bounds)."""
    if dtype == backend.bool_:
        lo, hi = 0, 1
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = int(info.min), int(info.max)
    else:
        hi = 1 << _DIGITS[dtype]
        lo = -hi
    if low < lo or high - 1 > hi:
        raise op_error(ValueError, op, f"[{low}, {high}) does not fit in {dtype} (whose exact "
                                       f"integers span [{lo}, {hi}])")


# ---------------------------------------------------------------- sampling ops
# Draws are not reparameterised: torch gives them zero gradient w.r.t. their parameters.

class RandomSample(Function):
    """out = a fresh random sample (passed as the parameter `sample`); the law depends on the
    inputs (mean, std, p) or they are being overwritten, but the draw is not a
    differentiable function of them: every input gets a zero gradient, as in torch."""
    derivative = "d sample/d input = 0 (a draw, not reparameterised)"

    @staticmethod
    def forward(ctx, *inputs, sample):
        return sample

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return tuple(zero if need else None for need in ctx.needs_input_grad)


class Normal(RandomSample):
    op_name = "normal"


class Uniform(RandomSample):
    op_name = "uniform"


class Bernoulli(RandomSample):
    op_name = "bernoulli"


class Exponential(RandomSample):
    op_name = "exponential"


class RandomInt(RandomSample):
    op_name = "random"


def _is_tensor(x):
    return isinstance(x, Tensor)


def _real(value, op, name):
    """A Python/NumPy real number argument as a float (bools and strings refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise op_error(TypeError, op, f"{name} must be a number or a Tensor, got {value!r}")
    return float(value)


def _float_result(op, dtype):
    if not backend.is_floating(dtype):
        raise op_error(TypeError, op, f"needs a floating dtype, got {dtype}; convert with "
                                      ".float() first")
    return dtype


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples of N(mean, std^2), torch's overloads: `normal(mean: Tensor, std: Tensor)`
    (broadcast), `normal(mean: Tensor, std=1.0)`, `normal(mean: float, std: Tensor)`, and
    `normal(mean: float, std: float, size)`. Zero gradient w.r.t. mean and std (as torch)."""
    op = "normal"
    tensors = [t for t in (mean, std) if _is_tensor(t)]
    if not tensors:
        if size is None:
            raise op_error(TypeError, op, "with a number for both mean and std, give size "
                                          "(e.g. ad.normal(0.0, 1.0, (2, 3)))")
        from .creation import _shape
        shape = _shape((size,), op)
        mean, std = _real(mean, op, "mean"), _real(std, op, "std")
        if not std >= 0:
            raise op_error(ValueError, op, f"std must be >= 0, got {std}")
        device = backend.parse_device(device)
        dtype = _float_result(op, backend.as_dtype(dtype) or backend.float32)
        gen = resolve(generator, device, op)
        z = normal_array(gen, shape, _draw_dtype(dtype))
        out = Tensor._make((z * std + mean).astype(dtype, copy=False), None, False)
        return out.requires_grad_(True) if requires_grad else out
    if size is not None:
        raise op_error(TypeError, op, "size is only for the (mean: float, std: float, size) "
                                      "form; with a Tensor mean or std the shape is theirs")
    device = tensors[0].device
    if any(t.device != device for t in tensors):
        raise op_error(RuntimeError, op, f"mean is on {mean.device} but std is on {std.device}")
    arrays = [t.data if _is_tensor(t) else _real(t, op, name)
              for t, name in ((mean, "mean"), (std, "std"))]
    xp = backend.array_module(*[a for a in arrays if backend.is_array(a)])
    result_dtype = _float_result(op, np.result_type(*[a.dtype for a in arrays
                                                      if backend.is_array(a)]))
    std_arr = arrays[1]
    if not bool(xp.all(xp.asarray(std_arr) >= 0)):
        raise op_error(ValueError, op, "every element of std must be >= 0 (and not NaN)")
    try:
        shape = np.broadcast_shapes(np.shape(arrays[0]), np.shape(std_arr))
    except ValueError:
        raise op_error(ValueError, op, f"mean of shape {np.shape(arrays[0])} and std of shape "
                                       f"{np.shape(std_arr)} do not broadcast") from None
    gen = resolve(generator, device, op)
    work = _draw_dtype(result_dtype)
    z = normal_array(gen, shape, work)
    sample = (z * xp.asarray(std_arr, dtype=work) + xp.asarray(arrays[0], dtype=work))
    return Normal.apply(*tensors, sample=sample.astype(result_dtype, copy=False))


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 draws in input's dtype: 1 with probability input[i] (torch.bernoulli(input)), or
    with probability p for every element when p is a number. Zero gradient w.r.t. input."""
    op = "bernoulli"
    if not _is_tensor(input):
        raise op_error(TypeError, op, f"input must be an ad.Tensor, got {type(input).__name__}")
    if p is None:
        _float_result(op, input.dtype)
        probs = input.data
    else:
        probs = _check_probability(op, _real(p, op, "p"))
    sample = _bernoulli_array(op, resolve(generator, input.device, op), probs, input.shape,
                              input.dtype)
    return Bernoulli.apply(input, sample=sample)


def _check_probability(op, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise op_error(ValueError, op, f"p must be in [0, 1], got p={p}")
    return p


def _bernoulli_array(op, gen, probs, shape, dtype):
    """1 where U < p for U ~ U[0, 1), else 0, in `dtype` (p an array broadcast to shape)."""
    if backend.is_array(probs):
        work = _draw_dtype(probs.dtype) if backend.is_floating(probs.dtype) else backend.float64
        probs = probs.astype(work, copy=False)
        if probs.size and not bool(((probs >= 0) & (probs <= 1)).all()):
            raise op_error(ValueError, op, "every probability must be in [0, 1] (and not NaN)")
    else:
        work = backend.float64
    u = uniform_array(gen, shape, work)
    return (u < probs).astype(dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Category indices (int64) drawn from each row of non-negative weights (1-D: one row),
    shape (num_samples,) or (rows, num_samples). Without replacement, each draw removes its
    category and renormalises (so num_samples <= the non-zero weights in every row)."""
    op = "multinomial"
    if not _is_tensor(input):
        raise op_error(TypeError, op, f"input must be an ad.Tensor, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise op_error(ValueError, op, f"input must be 1-D or 2-D (rows of weights), got shape "
                                       f"{tuple(input.shape)}")
    if not backend.is_floating(input.dtype):
        raise op_error(TypeError, op, f"the weights must be floating point, got {input.dtype}; "
                                      "convert with .float()")
    try:
        n = operator.index(num_samples)
    except TypeError:
        raise op_error(TypeError, op, f"num_samples must be an integer, got "
                                      f"{num_samples!r}") from None
    if n <= 0:
        raise op_error(ValueError, op, f"num_samples must be > 0, got {n}")
    weights = input.data if input.ndim == 2 else input.data[None]
    rows, k = weights.shape
    if not replacement and n > k:
        raise op_error(ValueError, op, f"cannot draw {n} samples without replacement from {k} "
                                       "categories; pass replacement=True")
    xp = backend.array_module(weights)
    w = weights.astype(backend.float64)
    if w.size:
        low, high = float(w.min()), float(w.max())  # NaN propagates into both
        if not (low >= 0 and high < np.inf):
            raise op_error(ValueError, op, "the weights contain inf, nan or a negative value")
        if not bool((w > 0).any(axis=1).all()):
            raise op_error(ValueError, op, "a row of weights sums to 0 (no category can be "
                                           "drawn)")
    gen = resolve(generator, input.device, op)
    if rows == 0:
        idx = xp.zeros((0, n), dtype=np.int64)
    elif replacement:
        idx = _draw_with_replacement(gen, w, n, xp)
    else:
        fewest = int((w > 0).sum(axis=1).min())
        if n > fewest:
            raise op_error(ValueError, op, f"cannot draw {n} samples without replacement: a "
                                           f"row has only {fewest} categories of non-zero "
                                           "weight")
        idx = _draw_without_replacement(gen, w, n, xp)
    idx = idx.astype(np.int64, copy=False)
    return Tensor._make(idx if input.ndim == 2 else idx[0], None, False)


def _draw_with_replacement(gen, w, n, xp):
    """Inverse CDF: the first category whose cumulative weight exceeds U ~ U[0, 1)."""
    rows, k = w.shape
    cdf = xp.cumsum(w, axis=1)
    # Dividing by the cumsum's own last entry (not w.sum, which rounds differently) makes
    # each row non-decreasing up to exactly 1, so the shifted rows below stay sorted.
    cdf /= cdf[:, -1:]
    u = uniform_array(gen, (rows, n), backend.float64)
    if rows == 1:
        return xp.searchsorted(cdf[0], u[0], side="right")[None]
    # One search for all rows: row r's cdf is shifted to [r, r + 1] (exact for the row
    # offsets; a rounding there moves a boundary by <= rows * 2^-53).
    offsets = xp.arange(rows, dtype=backend.float64)[:, None]
    cdf += offsets
    u += offsets
    idx = xp.searchsorted(cdf.ravel(), u.ravel(), side="right").reshape(rows, n)
    idx -= xp.arange(rows)[:, None] * k
    # u + r rounding up to r + 1 lands past the row: that draw is the row's last category
    # of non-zero weight (probability ~ rows * 2^-53 per draw, so fixed up afterwards).
    over = idx >= k
    if bool(over.any()):
        last = k - 1 - xp.argmax(w[:, ::-1] > 0, axis=1)
        idx = xp.where(over, last[:, None], idx)
    return idx


def _draw_without_replacement(gen, w, n, xp):
    """Exponential race: with E_i ~ Exp(1), the categories in increasing E_i / w_i are
    successive draws without replacement (the smallest of independent Exp(w_i) clocks is i
    with probability w_i / sum(w), and the rest race on, memoryless)."""
    rows, k = w.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = exponential_array(gen, (rows, k), backend.float64) / w
    keys[w == 0] = np.inf  # zero weights never win (0/0 would be nan)
    if n < k:
        part = xp.argpartition(keys, n - 1, axis=1)[:, :n]
        order = xp.argsort(xp.take_along_axis(keys, part, axis=1), axis=1)
        return xp.take_along_axis(part, order, axis=1)
    return xp.argsort(keys, axis=1)


# ---------------------------------------------------------------- in-place fills

def _fill(tensor, op_class, sample):
    """Overwrite `tensor` in place with `sample` as one recorded op: the version counter is
    bumped, a leaf requiring grad is refused outside no_grad, and the old values get a
    zero gradient (torch's NormalBackward etc.)."""
    return apply_inplace(tensor, op_class, sample=sample)


def _check_target(op, tensor, floating=True):
    if not _is_tensor(tensor):
        raise op_error(TypeError, op, f"expected an ad.Tensor, got {type(tensor).__name__}")
    if floating and not backend.is_floating(tensor.dtype):
        raise op_error(TypeError, op, f"fills floating tensors only, got {tensor.dtype}")


def normal_(tensor, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill in place with samples of N(mean, std^2)."""
    op = "normal_"
    _check_target(op, tensor)
    mean, std = _real(mean, op, "mean"), _real(std, op, "std")
    if not std >= 0:
        raise op_error(ValueError, op, f"std must be >= 0, got {std}")
    gen = resolve(generator, tensor.device, op)
    z = normal_array(gen, tensor.shape, _draw_dtype(tensor.dtype))
    return _fill(tensor, Normal, (z * std + mean).astype(tensor.dtype, copy=False))


def _from_to(op, args, kwargs, default_to):
    """torch's (from, to) arguments: `from` is a Python keyword, so they come positionally
    or as **{'from': ..., 'to': ...}."""
    unknown = set(kwargs) - {"from", "to"}
    if unknown or len(args) > 2:
        raise op_error(TypeError, op, f"takes (from, to) and generator=, got {len(args)} "
                                      f"positional and {sorted(kwargs)} keyword arguments")
    names = ("from", "to")[:len(args)]
    if set(names) & set(kwargs):
        raise op_error(TypeError, op, f"got {sorted(set(names) & set(kwargs))} twice")
    values = dict(zip(names, args), **kwargs)
    return values.get("from", 0), values.get("to", default_to)


def uniform_(tensor, *args, generator=None, **kwargs) -> Tensor:
    """Fill in place with samples of U[from, to) (`uniform_(from=0, to=1)`)."""
    op = "uniform_"
    _check_target(op, tensor)
    low, high = _from_to(op, args, kwargs, 1.0)
    low, high = _real(low, op, "from"), _real(high, op, "to")
    if not low <= high or not np.isfinite(high - low):
        raise op_error(ValueError, op, f"needs finite from <= to, got from={low}, to={high}")
    work = _draw_dtype(tensor.dtype)
    u = uniform_array(resolve(generator, tensor.device, op), tensor.shape, work)
    values = (u * (high - low) + low).astype(tensor.dtype, copy=False)
    # Rounding to a coarse dtype can reach `to` or pass below `from`: keep [from, to).
    first, last = -_largest_below(-low, tensor.dtype), _largest_below(high, tensor.dtype)
    if low < high and first <= last:
        xp = backend.array_module(values)
        exact = values.astype(work)
        values = xp.where(exact < low, first, xp.where(exact >= high, last, values))
    return _fill(tensor, Uniform, values.astype(tensor.dtype, copy=False))


def _largest_below(x: float, dtype):
    """The largest value of `dtype` strictly below x (stepping the bit pattern for ml_dtypes'
    bfloat16, which np.nextafter does not support)."""
    v = np.asarray(x, dtype=dtype)
    if float(v) < x:
        return v[()]
    unsigned = np.dtype(f"u{dtype.itemsize}")
    bits = int(v.reshape(1).view(unsigned)[0])
    if float(v) > 0:
        bits -= 1
    elif float(v) < 0:
        bits += 1
    else:  # the negative number closest to zero
        bits = (1 << (8 * dtype.itemsize - 1)) | 1
    return np.array([bits], dtype=unsigned).view(dtype)[0]


def bernoulli_(tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill in place with 1 (probability p) or 0; p a number or a tensor broadcast to
    tensor's shape. Any numeric dtype."""
    op = "bernoulli_"
    _check_target(op, tensor, floating=False)
    if _is_tensor(p):
        try:
            np.broadcast_shapes(p.shape, tensor.shape)
        except ValueError:
            raise op_error(ValueError, op, f"p of shape {tuple(p.shape)} does not broadcast to "
                                           f"the tensor's shape {tuple(tensor.shape)}") from None
        if np.broadcast_shapes(p.shape, tensor.shape) != tuple(tensor.shape):
            raise op_error(ValueError, op, f"p of shape {tuple(p.shape)} would enlarge the "
                                           f"tensor of shape {tuple(tensor.shape)}")
        if p.device != tensor.device:
            raise op_error(RuntimeError, op, f"p is on {p.device} but the tensor is on "
                                             f"{tensor.device}")
        probs = p.data
    else:
        probs = _check_probability(op, _real(p, op, "p"))
    gen = resolve(generator, tensor.device, op)
    return _fill(tensor, Bernoulli, _bernoulli_array(op, gen, probs, tensor.shape,
                                                     tensor.dtype))


def exponential_(tensor, lambd=1.0, *, generator=None) -> Tensor:
    """Fill in place with samples of Exp(lambd): density lambd * exp(-lambd * x), x >= 0."""
    op = "exponential_"
    _check_target(op, tensor)
    lambd = _real(lambd, op, "lambd")
    if not lambd > 0:
        raise op_error(ValueError, op, f"lambd must be > 0, got {lambd}")
    e = exponential_array(resolve(generator, tensor.device, op), tensor.shape,
                          _draw_dtype(tensor.dtype))
    return _fill(tensor, Exponential, (e / lambd).astype(tensor.dtype, copy=False))


def random_(tensor, *args, generator=None, **kwargs) -> Tensor:
    """Fill in place with integers uniform on [from, to): `random_(to)`, `random_(from, to)`;
    `random_()` covers [0, dtype max] for integer dtypes and [0, 2^digits] for floating ones
    (every integer there is exact), as in torch."""
    op = "random_"
    _check_target(op, tensor, floating=False)
    if len(args) == 1 and not kwargs:
        args = (0, args[0])
    dtype = tensor.dtype
    if dtype == backend.bool_:
        full = 2
    elif dtype.kind in "iu":
        full = int(np.iinfo(dtype).max) + 1
    else:
        full = (1 << _DIGITS[dtype]) + 1
    low, high = _from_to(op, args, kwargs, None)
    high = full if high is None else high
    try:
        low, high = operator.index(low), operator.index(high)
    except TypeError:
        raise op_error(TypeError, op, f"from and to must be integers, got from={low!r}, "
                                      f"to={high!r}") from None
    if not low < high:
        raise op_error(ValueError, op, f"needs from < to, got from={low}, to={high}")
    check_integer_range(op, low, high, dtype)
    values = integer_array(resolve(generator, tensor.device, op), low, high, tensor.shape,
                           dtype)
    return _fill(tensor, RandomInt, values)
