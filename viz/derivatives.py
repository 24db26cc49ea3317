"""Local derivatives on edges: each op's formula, written with the drawing's names
(`d(x1*w1)/dx1 = w1 = -3`), and its value for one-element outputs."""
from __future__ import annotations

import functools
import re

import numpy as np

import autodiff as ad

from ._format import to_numpy
from .naming import wrap

_IDENTIFIER = re.compile(r"^[^\W\d]\w*(?:\.\w+)*$")


def d_name(name):
    """A name after "d" in d-notation: dx1, d(x1*w1), d(sum(W2*h))."""
    return name if _IDENTIFIER.match(name) else f"({name})"

__all__ = ["derivative_parts", "local_derivatives", "named_derivative", "d_name"]

_SPLIT = re.compile(r",\s+(?=d[\s(/|])")
# "d<numerator>/d<variable> = <right-hand side>"
_PART = re.compile(r"^\s*d\s*(?P<num>\S.*?)\s*/\s*d(?P<var>[^\W\d]\w*)\s*=\s*(?P<rhs>.+?)\s*$")


def derivative_parts(node) -> list[str | None]:
    """The local-derivative formula for each input of `node` (None where unknown).

    Op formulas read like "d(a*b)/da = b, d(a*b)/db = a": one part per input when the
    counts match (or match the floating-point tensor inputs); a single formula applies to
    every input."""
    formula = getattr(node, "derivative", "") or ""
    inputs = node.inputs
    if not formula:
        return [None] * len(inputs)
    parts = _SPLIT.split(formula)
    if len(parts) == len(inputs):
        return parts
    if len(parts) == 1:
        return [formula] * len(inputs)
    floats = [k for k, inp in enumerate(inputs)
              if isinstance(inp, ad.Tensor) and inp.dtype.kind == "f"]
    if len(parts) == len(floats):
        out = [None] * len(inputs)
        for k, p in zip(floats, parts):
            out[k] = p
        return out
    return [formula] * len(inputs)


def _split_var(var):
    """('x', '_i') from 'x_i'; ('a', '') from 'a'."""
    base, sep, rest = var.partition("_")
    return base, (sep + rest if sep else "")


@functools.lru_cache(maxsize=256)
def _token_pattern(tokens):
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(
        re.escape(k) for k in sorted(tokens, key=len, reverse=True)) + r")(?![A-Za-z0-9])")


def _substitute(text, mapping):
    """Replace whole-token variables (letters not touching other letters/digits)."""
    if not mapping:
        return text
    return _token_pattern(tuple(sorted(mapping))).sub(lambda m: wrap(mapping[m.group(1)]),
                                                      text)


def named_derivative(parts, k, out_name, operand_names) -> str | None:
    """Part k of an op's formula written with the drawing's names: "dn/db = 1",
    "d(x1*w1)/dx1 = w1", "do/dn = 1 - tanh(n)^2"; the op's own text where it does not
    follow the d<out>/d<var> = <rhs> pattern; None where there is no formula."""
    part = parts[k] if k < len(parts) else None
    if not part:
        return None
    m = _PART.match(part)
    if m is None:
        return part
    mapping = {}
    for j, other in enumerate(parts):
        mo = _PART.match(other) if other else None
        if mo is not None and j < len(operand_names) and operand_names[j] is not None:
            mapping.setdefault(_split_var(mo["var"])[0], operand_names[j])
    base, suffix = _split_var(m["var"])
    if operand_names[k] is None:
        return part
    num = m["num"]
    num_suffix = _split_var(num)[1] if re.fullmatch(r"[^\W\d]\w*", num) else ""
    rhs = _substitute(m["rhs"], mapping).replace("sigma(", "σ(")  # as the σ op is drawn
    return f"d{d_name(out_name)}{num_suffix}/d{d_name(operand_names[k])}{suffix} = {rhs}"


def local_derivatives(node, out_tensor, kept_step=None):
    """d out / d input_k as arrays, for a one-element output (None where not available).

    Runs the op's own backward rule with a unit seed while its saved values still exist;
    after backward freed them, uses (gradient passed) / (gradient received) from the
    backward step `kept_step(out_tensor)` returns (viz.record), when given."""
    k = len(node.inputs)
    if out_tensor.numel() != 1:
        return [None] * k
    if node.saved is not None:  # None once backward freed the saved values
        try:
            xp = ad.array_module(out_tensor.data)
            seed = xp.ones(out_tensor.shape, dtype=out_tensor.dtype)
            with ad.no_grad():
                got = type(node).backward(node, seed)
            if not isinstance(got, (tuple, list)):
                got = (got,)
            out = []
            for inp, g in zip(node.inputs, got):
                if g is None or not isinstance(inp, ad.Tensor):
                    out.append(None if g is None else to_numpy(g))
                else:
                    out.append(ad.sum_to_shape(to_numpy(g), inp.shape))
            return out + [None] * (k - len(out))
        except Exception:  # a rule that needs more than a unit seed: fall through
            pass
    step = kept_step(out_tensor) if kept_step is not None else None
    if step is not None and step.node is node:
        g = float(np.asarray(step.grad).reshape(()))
        if g != 0:
            return [None if p is None else p / g for p in step.input_grads]
    return [None] * k
