"""Array backends, devices, dtypes and random generators.

This is the only module that imports CuPy. Everything else asks `array_module(...)`
for the namespace (numpy or cupy) that matches the data it holds.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

try:  # CuPy imports fine on machines without a GPU; only `is_available` tells.
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None

__all__ = [
    "array_module", "device_of", "parse_device", "to_device", "cuda_is_available",
    "float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8",
    "bool_",
    "as_dtype", "is_floating", "is_half", "accumulation_dtype", "manual_seed", "generator",
]

float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

#: dtype names as strings (torch itself takes no strings): each means what torch.<name>
#: means, so "int" is int32 (torch.int) and "long" int64.
_DTYPE_NAMES = {
    "float16": float16, "half": float16, "bfloat16": bfloat16, "float32": float32,
    "float": float32, "float64": float64, "double": float64, "int64": int64, "long": int64,
    "int32": int32, "int": int32, "int16": int16, "short": int16, "int8": int8,
    "uint8": uint8, "bool": bool_,
}
_HALF = (float16, bfloat16)


def as_dtype(dtype) -> np.dtype | None:
    """Normalise a dtype spec (numpy dtype, type, or name such as 'bfloat16') or None.
    Python's types mean what they mean to torch: float is float64, int int64."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return _DTYPE_NAMES[dtype]
        except KeyError:
            raise TypeError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPE_NAMES)}") from None
    if dtype is float:
        return float64
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


def is_floating(dtype) -> bool:
    """True for float16, bfloat16, float32, float64."""
    return dtype.kind == "f" or dtype == bfloat16


def is_half(dtype) -> bool:
    """True for the 16-bit float types that accumulate in float32."""
    return dtype in _HALF


def accumulation_dtype(dtype):
    """The dtype reductions and matmul accumulate in: float32 for half types, else None."""
    return float32 if dtype in _HALF else None


# ---------------------------------------------------------------- devices

def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return bool(_cupy.is_available())
    except Exception:  # pragma: no cover
        return False


def array_module(*arrays):
    """numpy, or cupy when any of `arrays` is a cupy array."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def array_types() -> tuple:
    """The array classes of the installed backends: numpy.ndarray (and cupy.ndarray)."""
    return (np.ndarray,) if _cupy is None else (np.ndarray, _cupy.ndarray)


def is_array(x) -> bool:
    """True for numpy or cupy arrays."""
    return isinstance(x, np.ndarray) or (_cupy is not None and isinstance(x, _cupy.ndarray))


def parse_device(device) -> str:
    """Canonical device string: 'cpu' or 'cuda:N'."""
    if device is None:
        return "cpu"
    device = str(device)
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        index = 0 if device == "cuda" else device[5:]
        try:
            index = int(index)
        except ValueError:
            raise ValueError(f"bad device {device!r}; expected 'cpu', 'cuda' or 'cuda:N'") from None
        if not cuda_is_available():
            raise RuntimeError(
                f"device {device!r} requested but CUDA is not available (CuPy "
                f"{'is not installed' if _cupy is None else 'sees no GPU'}); use device='cpu' "
                "or install the 'gpu' extra on a machine with a GPU")
        return f"cuda:{index}"
    raise ValueError(f"bad device {device!r}; expected 'cpu', 'cuda' or 'cuda:N'")


def device_of(array) -> str:
    """The device string of an array."""
    if isinstance(array, np.ndarray) or _cupy is None or not isinstance(array, _cupy.ndarray):
        return "cpu"
    return f"cuda:{array.device.id}"


def module_for_device(device: str):
    """numpy for 'cpu', cupy for 'cuda:N'."""
    return np if device == "cpu" else _cupy


def to_device(array, device: str):
    """Copy `array` to `device` ('cpu' or 'cuda:N'); returns it unchanged when already there."""
    current = device_of(array)
    if current == device:
        return array
    if device == "cpu":
        return _cupy.asnumpy(array)
    with _cupy.cuda.Device(int(device[5:])):
        return _cupy.asarray(array)


# ---------------------------------------------------------------- random numbers
# The generators live in autodiff/random.py (ad.Generator); these two names stay for callers
# written before it.

def manual_seed(seed: int):
    """Seed the default generator of every device (same as ad.manual_seed)."""
    from . import random
    return random.manual_seed(seed)


def generator(device: str = "cpu"):
    """The default ad.Generator of `device` (one per device, as torch's default generators)."""
    from . import random
    return random.default_generator_for(parse_device(device))


# ---------------------------------------------------------------- special functions

def special(name: str, x):
    """scipy.special's function `name` of the array x on either backend (cupyx.scipy.special
    for CuPy arrays); half types computed in float32 (scipy has no loops for them) and
    rounded once to x's dtype."""
    xp = array_module(x)
    work = x.astype(float32) if x.dtype in _HALF else x
    if xp is np:
        from scipy import special as functions
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy import special as functions
    out = getattr(functions, name)(work)
    return out.astype(x.dtype) if out.dtype != x.dtype else out


def erf(x):
    """The error function on either backend (half types computed in float32)."""
    return special("erf", x)
