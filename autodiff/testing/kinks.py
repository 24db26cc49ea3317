"""Where ops are not differentiable: the points `tensors(avoid_kinks_of=op)` keeps away from.

A numerical derivative across a kink (relu at 0, abs at 0, hardtanh at +-1) or a jump
(floor at the integers) is meaningless, and hypothesis shrinks inputs towards exactly
those simple values. Drawing elements at least `margin` (much larger than a gradient
check's eps) away from them means no example, shrunk or not, lands on one.

An op names its kinks in one of three ways, looked up in this order:
- a `kinks` attribute on the op (a Function subclass, a function or a module class):
  a sequence of floats, or a callable `(lo, hi) -> points in [lo, hi]` for infinitely many;
- `register_kinks(op_or_name, points)`;
- the built-in table below, by the op's name (`ad.relu`, `F.relu`, `nn.ReLU`, `"relu"`
  all mean the same; case and underscores do not matter).
Numbers (or a list of them) given instead of an op are the kink points themselves.
"""
from __future__ import annotations

import math
import numbers

from ..function import Function

__all__ = ["register_kinks", "kink_points", "near_kink"]


def _at(*points):
    """Fixed kink points."""
    return lambda lo, hi: [p for p in points if lo <= p <= hi]


def _every(step, offset=0.0):
    """Kinks at offset + k * step for every integer k."""
    def points(lo, hi):
        first = math.ceil((lo - offset) / step)
        last = math.floor((hi - offset) / step)
        if last - first > 100_000:
            raise ValueError(f"too many kinks between {lo} and {hi} (one every {step}); "
                             "draw from a narrower range")
        return [offset + k * step for k in range(first, last + 1)]
    return points


# name -> (lo, hi) -> kink points in [lo, hi]. Parametrised ops use their defaults (pass
# the points yourself when you change them, e.g. avoid_kinks_of=[lo, hi] for clip(lo, hi)).
_TABLE = {
    "relu": _at(0.0), "leakyrelu": _at(0.0), "prelu": _at(0.0), "rrelu": _at(0.0),
    "elu": _at(0.0), "celu": _at(0.0), "selu": _at(0.0), "abs": _at(0.0), "sign": _at(0.0),
    "relu6": _at(0.0, 6.0), "hardtanh": _at(-1.0, 1.0), "hardsigmoid": _at(-3.0, 3.0),
    "hardswish": _at(-3.0, 3.0), "hardshrink": _at(-0.5, 0.5), "softshrink": _at(-0.5, 0.5),
    # infinite derivatives at 0 (and outside the domain below it)
    "sqrt": _at(0.0), "log": _at(0.0), "rsqrt": _at(0.0), "reciprocal": _at(0.0),
    # jumps
    "floor": _every(1.0), "ceil": _every(1.0), "trunc": _every(1.0), "round": _every(1.0, 0.5),
}
_REGISTERED: dict = {}


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def _as_points(spec):
    """A kinks spec (callable, number or sequence of numbers) as a (lo, hi) -> points fn."""
    if callable(spec):
        return spec
    if isinstance(spec, numbers.Real):
        return _at(float(spec))
    values = [float(v) for v in spec]
    return _at(*values)


def register_kinks(op, points) -> None:
    """Declare where `op` (an op, function, module class or name) is not differentiable:
    `points` is a sequence of floats or a callable `(lo, hi) -> points in [lo, hi]`."""
    _REGISTERED[_lookup_key(op)] = _as_points(points)


def _lookup_key(op):
    if isinstance(op, str):
        return _key(op)
    if isinstance(op, type):
        if issubclass(op, Function):
            return _key(op.op_name or op.__name__)
        return _key(op.__name__)
    name = getattr(op, "__name__", None)
    if name is None:  # a module instance such as nn.ReLU()
        name = type(op).__name__
    return _key(name)


def _resolve(op):
    """The (lo, hi) -> points function for one op or numeric spec."""
    if isinstance(op, numbers.Real) and not isinstance(op, bool):
        return _at(float(op))
    owner = getattr(op, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function):
        op = owner  # MyOp.apply, and ad.relu (= Relu.apply): the op class
    own = getattr(op, "kinks", None) if not isinstance(op, str) else None
    if own is not None:
        return _as_points(own)
    target = getattr(op, "__func__", op)  # Tensor.relu as a bound method
    key = _lookup_key(target)
    if key in _REGISTERED:
        return _REGISTERED[key]
    if key in _TABLE:
        return _TABLE[key]
    raise ValueError(
        f"avoid_kinks_of: no kinks known for {op!r} (key {key!r}); give the op a `kinks` "
        "attribute, call ad.testing.register_kinks(op, points), or pass the points "
        "themselves (e.g. avoid_kinks_of=[0.0])")


def kink_points(ops):
    """One (lo, hi) -> sorted kink points function for an op, a number, or a list of them."""
    if isinstance(ops, (list, tuple)):
        fns = [_resolve(o) for o in ops]
    else:
        fns = [_resolve(ops)]

    def points(lo, hi):
        return sorted({float(p) for fn in fns for p in fn(lo, hi)})
    return points


def near_kink(points, value, margin) -> bool:
    """True when a kink lies within `margin` of `value`."""
    return bool(points(value - margin, value + margin))
