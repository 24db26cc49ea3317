"""Turning arrays into short label text: exact numbers when small, a summary when large."""
from __future__ import annotations

import math

import numpy as np

import autodiff as ad


def to_numpy(value):
    """A host NumPy array (bfloat16 as float32) from a Tensor, NumPy/CuPy array or number."""
    if isinstance(value, ad.Tensor):
        value = value.data
    if hasattr(value, "get") and not isinstance(value, np.ndarray):  # a CuPy array
        value = value.get()
    arr = np.asarray(value)
    if arr.dtype.kind == "V":  # ml_dtypes' bfloat16: format through float32
        arr = arr.astype(np.float32)
    return arr


def number(v, precision: int) -> str:
    """One number with `precision` significant digits, trailing zeros dropped (3, 0.7426,
    -0.02580 -> -0.0258, 4.404); scientific notation for 0 < |v| < 1e-3 and |v| >= 1e7
    (-1.47e-04, 3.4e+09). Integer digits are never rounded away (12345.6 -> 12346)."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    digits = max(int(precision), 1)
    a = abs(v)
    if a == 0:
        return "0"
    if a < 1e-3 or a >= 1e7:
        mantissa, exp = f"{v:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exp}"
    # decimals so that `digits` significant digits show (none when the integer part has more)
    decimals = max(digits - 1 - math.floor(math.log10(a)), 0)
    s = f"{v:.{decimals}f}"
    if float(s) != 0 and abs(float(s)) >= 10 ** (digits - decimals):  # rounding carried a digit
        s = f"{v:.{max(decimals - 1, 0)}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def array_lines(arr, precision: int, max_exact: int) -> list[str]:
    """Lines of text for an array: all elements when it has at most `max_exact`, one line per
    matrix row; otherwise 'min a  mean b  max c' (for floats) over all elements."""
    arr = to_numpy(arr)
    if arr.size == 1:
        return [number(arr.reshape(()).item(), precision)]
    if arr.size == 0:
        return ["(empty)"]
    if arr.size <= max_exact:
        if arr.ndim == 1:
            return ["[" + ", ".join(number(v, precision) for v in arr.tolist()) + "]"]
        rows = arr.reshape(-1, arr.shape[-1]).tolist()
        inner = ["[" + ", ".join(number(v, precision) for v in r) + "]" for r in rows]
        depth = arr.ndim - 1
        lines = []
        for i, text in enumerate(inner):
            prefix = "[" * depth if i == 0 else " " * depth
            suffix = "]" * depth if i == len(inner) - 1 else ","
            lines.append(prefix + text + suffix)
        return lines
    if arr.dtype.kind in "biu":
        return [f"min {arr.min()}  max {arr.max()}"]
    finite = arr[np.isfinite(arr)] if not np.isfinite(arr).all() else arr
    if finite.size == 0:
        return ["all non-finite"]
    lo, mean, hi = finite.min(), finite.mean(dtype=np.float64), finite.max()
    text = f"min {number(lo, precision)}  mean {number(mean, precision)}  max {number(hi, precision)}"
    if finite.size != arr.size:
        text += f"  ({arr.size - finite.size} non-finite)"
    return [text]


def shape_text(shape) -> str:
    """'scalar' for (), else the tuple: '(2,)', '(2, 3)'."""
    if len(shape) == 0:
        return "scalar"
    return str(tuple(int(s) for s in shape))


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def html(text: str) -> str:
    """Escape text for a graphviz HTML-like label (and for HTML pages)."""
    return str(text).translate(_HTML_ESCAPES)


def quoted(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
