"""Parity with PyTorch for the elementwise ops: PyTorch one-liners run verbatim on torch and,
with the namespace swapped, on autodiff.

Each row is a line of PyTorch code over inputs `a`, `b`, `c`, evaluated with `torch`, `F`
and `nn` bound to torch, torch.nn.functional and torch.nn, and again bound to autodiff,
nn.functional and nn. Hypothesis draws the shapes (mutually broadcastable, including 0-d and
zero-size), the dtype and the values (from each row's domain, which includes the op's
special points: its kinks, bounds, ties, and for some rows NaN and infinities).

- test_row_matches_reference (always runs): the value, dtype and shape agree with the row's
  NumPy/closed-form reference; where the row gives the closed-form derivative, the
  gradients of sum(out * w) agree with it too (torch's conventions at kinks included).
- test_row_matches_torch (skips without torch): the same line on torch gives the same
  value, dtype and shape, and for float inputs the same gradients.

Fast in the ci profile (a few examples per row); HYPOTHESIS_PROFILE=thorough draws many.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
import nn
from nn import functional as nnF

F16, BF16, F32, F64 = ad.float16, ad.bfloat16, ad.float32, ad.float64
I64, I32, BOOL = ad.int64, ad.int32, ad.bool_
FLOAT = (F16, BF16, F32, F64)
INT = (I64, I32)
FLOAT_INT = FLOAT + INT
TOL = {F16: 1e-2, BF16: 4e-2, F32: 2e-5, F64: 1e-10}
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
INF, NAN = math.inf, math.nan

# A few examples per row in the ci profile (there are many rows), many more when thorough.
EXAMPLES = settings(max_examples=max(6, settings().max_examples // 4))


# ------------------------------------------------------------------------- value domains
def _floats(lo, hi, points=()):
    """Floats in [lo, hi], often exactly one of `points` (the op's special points)."""
    inner = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from(points), inner) if points else inner


DOMAINS = {
    "real": _floats(-3, 3, (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, -3.0)),
    "wide": _floats(-8, 8, (-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 7.5)),
    "pos": _floats(0.1, 4, (1.0, 2.0, 0.5)),
    "unit": _floats(-0.95, 0.95, (0.0, 0.5, -0.5)),
    "prob": _floats(0.05, 0.95, (0.5, 0.25)),
    "ge1": _floats(1.05, 4, (2.0,)),
    "nonzero": _floats(0.25, 3, (1.0, 2.0)).flatmap(lambda v: st.sampled_from([v, -v])),
    # quarters (halves round to even) and others, for rounding and the division family
    "steps": st.one_of(st.integers(-12, 12).map(lambda k: k / 4), _floats(-3, 3)),
    "divisor": st.sampled_from([1.5, -1.5, 0.75, -2.0, 2.5, 1.0, -0.5]),
    "special": st.sampled_from([NAN, INF, -INF, 0.0, -0.0, 1.5, -2.0, 0.5, 1e30, -1e-30]),
    "int": st.integers(-8, 8),
    "nonzero_int": st.integers(1, 8).flatmap(lambda v: st.sampled_from([v, -v])),
    "shift": st.integers(0, 12),
}


# ------------------------------------------------------------------------- the rows
SAME, FLOATOUT, BOOLOUT, PYBOOL = "same", "float", "bool", "python bool"


@dataclass(frozen=True)
class Row:
    code: str                       # PyTorch code over a, b, c
    ref: Callable                   # NumPy / closed form on the (rounded) inputs in float64
    inputs: tuple = ("real",)       # a value domain per input
    dtypes: tuple = FLOAT           # one dtype is drawn per example, for every input
    out: str = SAME                 # the result dtype: the inputs', their float, or bool
    d: Callable = None              # closed-form local derivatives (one per input), or None
    grad: bool = True               # compare gradients with torch (float inputs)
    broadcast: str = "mutual"       # "mutual", or "to_first": the others broadcast to a
    torch_grad_rtol: float = None   # a documented torch rounding (see the row)

    def __str__(self):
        return self.code


def R(code, ref, d=None, inputs=("real",), dtypes=FLOAT, out=SAME, grad=True,
      broadcast="mutual", torch_grad_rtol=None):
    return Row(code, ref, tuple(inputs), tuple(dtypes), out, d, grad, broadcast,
               torch_grad_rtol)


# torch's hardsigmoid backward multiplies by 1/6 rounded to float32, also in float64
# (2.98e-8 relative); ours is 1/6 in the input's dtype, as the closed form checks.
TORCH_SIXTH = 3e-8


def _where(c, x, y):
    return np.where(c, x, y).astype(np.float64)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))


def _np_round(x, decimals=0):
    return np.round(x, decimals)


def _special(name):
    def fn(*args):
        from scipy import special
        return getattr(special, name)(*args)
    return fn


ZERO = lambda *xs: tuple(np.zeros(np.broadcast_shapes(*[x.shape for x in xs])) for x in xs)  # noqa: E731
ONE = lambda x: (np.ones(x.shape),)  # noqa: E731

ROWS = [
    # --- trigonometric, hyperbolic and their inverses
    R("torch.sin(a)", np.sin, lambda x: (np.cos(x),), dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.cos(a)", np.cos, lambda x: (-np.sin(x),), dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.tan(a)", np.tan, lambda x: (1 / np.cos(x) ** 2,), inputs=("unit",)),
    R("torch.asin(a)", np.arcsin, lambda x: (1 / np.sqrt(1 - x * x),), inputs=("unit",)),
    R("torch.arcsin(a)", np.arcsin, lambda x: (1 / np.sqrt(1 - x * x),), inputs=("unit",)),
    R("torch.acos(a)", np.arccos, lambda x: (-1 / np.sqrt(1 - x * x),), inputs=("unit",)),
    R("torch.sinh(a)", np.sinh, lambda x: (np.cosh(x),)),
    R("torch.cosh(a)", np.cosh, lambda x: (np.sinh(x),), dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.asinh(a)", np.arcsinh, lambda x: (1 / np.sqrt(x * x + 1),)),
    R("torch.acosh(a)", np.arccosh, lambda x: (1 / np.sqrt(x * x - 1),), inputs=("ge1",)),
    R("torch.atanh(a)", np.arctanh, lambda x: (1 / (1 - x * x),), inputs=("unit",)),
    R("torch.arctanh(a)", np.arctanh, lambda x: (1 / (1 - x * x),), inputs=("unit",)),
    R("torch.atan2(a, b)", np.arctan2,
      lambda y, x: (x / (x * x + y * y), -y / (x * x + y * y)), inputs=("nonzero", "nonzero")),
    R("torch.arctan2(a, b)", np.arctan2, inputs=("int", "int"), dtypes=INT, out=FLOATOUT),
    R("torch.sin(a)", np.sin, inputs=("special",), grad=False),
    # --- logs, exponentials, powers
    R("torch.log2(a)", np.log2, lambda x: (1 / (x * math.log(2)),), inputs=("pos",)),
    R("torch.log10(a)", np.log10, lambda x: (1 / (x * math.log(10)),), inputs=("pos",)),
    R("torch.log1p(a)", np.log1p, lambda x: (1 / (1 + x),), inputs=("pos",), dtypes=FLOAT_INT,
      out=FLOATOUT),
    R("torch.expm1(a)", np.expm1, lambda x: (np.exp(x),)),
    R("torch.exp2(a)", np.exp2, lambda x: (np.exp2(x) * math.log(2),), dtypes=FLOAT_INT,
      out=FLOATOUT),
    R("torch.exp(a)", np.exp, lambda x: (np.exp(x),), dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.log(a)", np.log, lambda x: (1 / x,), inputs=("pos",), dtypes=FLOAT_INT,
      out=FLOATOUT),
    R("torch.sqrt(a)", np.sqrt, lambda x: (0.5 / np.sqrt(x),), inputs=("pos",),
      dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.tanh(a)", np.tanh, lambda x: (1 - np.tanh(x) ** 2,), dtypes=FLOAT_INT,
      out=FLOATOUT),
    R("torch.sigmoid(a)", _sigmoid, lambda x: (_sigmoid(x) * (1 - _sigmoid(x)),),
      dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.rsqrt(a)", lambda x: 1 / np.sqrt(x), lambda x: (-0.5 * x ** -1.5,),
      inputs=("pos",), dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.square(a)", np.square, lambda x: (2 * x,), dtypes=FLOAT_INT),
    R("torch.square(a)", lambda x: np.square(x.astype(np.int64)), inputs=("int",),
      dtypes=(BOOL,), out="int64"),
    R("torch.reciprocal(a)", np.reciprocal, lambda x: (-1 / (x * x),), inputs=("nonzero",)),
    R("torch.reciprocal(a)", lambda x: 1 / x, inputs=("nonzero_int",), dtypes=INT,
      out=FLOATOUT),
    R("torch.erf(a)", _special("erf"), lambda x: (2 / math.sqrt(math.pi) * np.exp(-x * x),),
      dtypes=FLOAT_INT, out=FLOATOUT),
    R("torch.erfc(a)", _special("erfc"), lambda x: (-2 / math.sqrt(math.pi) * np.exp(-x * x),)),
    R("torch.erfinv(a)", _special("erfinv"),
      lambda x: (math.sqrt(math.pi) / 2 * np.exp(_special("erfinv")(x) ** 2),),
      inputs=("unit",)),
    R("torch.logit(a)", _special("logit"), lambda x: (1 / (x * (1 - x)),), inputs=("prob",)),
    R("torch.logit(a, eps=0.2)", lambda x: _special("logit")(np.clip(x, 0.2, 0.8)),
      lambda x: (_where((x >= 0.2) & (x <= 0.8), 1 / (x * (1 - x)), 0),), inputs=("prob",)),
    R("torch.xlogy(a, b)", _special("xlogy"),
      lambda x, y: (np.log(y) + 0 * x, x / y), inputs=("real", "pos")),
    R("torch.xlogy(a, b)", _special("xlogy"), inputs=("int", "int"), dtypes=(I64,),
      out=FLOATOUT),
    R("torch.logaddexp(a, b)", np.logaddexp,
      lambda x, y: (_sigmoid(x - y), _sigmoid(y - x)), inputs=("wide", "wide")),
    R("torch.logaddexp2(a, b)", np.logaddexp2,
      lambda x, y: (_sigmoid((x - y) * math.log(2)), _sigmoid((y - x) * math.log(2))),
      inputs=("wide", "wide")),
    R("torch.hypot(a, b)", np.hypot,
      lambda x, y: (x / np.hypot(x, y), y / np.hypot(x, y)), inputs=("real", "nonzero")),
    R("torch.lerp(a, b, 0.3)", lambda s, e: s + 0.3 * (e - s),
      lambda s, e: (np.full(np.broadcast_shapes(s.shape, e.shape), 0.7),
                    np.full(np.broadcast_shapes(s.shape, e.shape), 0.3)), inputs=("real", "real")),
    R("torch.lerp(a, b, c)", lambda s, e, w: s + w * (e - s),
      lambda s, e, w: (1 - w + 0 * s + 0 * e, w + 0 * s + 0 * e, e - s + 0 * w),
      inputs=("real", "real", "unit")),
    R("torch.nan_to_num(a, nan=1.5, posinf=9.0, neginf=-9.0)",
      lambda x: np.nan_to_num(x, nan=1.5, posinf=9.0, neginf=-9.0),
      lambda x: (np.isfinite(x).astype(np.float64),), inputs=("special",)),
    R("torch.nan_to_num(a)", lambda x: x, inputs=("int",), dtypes=INT),
    # --- activations: F forms, nn modules and torch functions (gradients at the kinks)
    R("F.softsign(a)", lambda x: x / (1 + np.abs(x)), lambda x: (1 / (1 + np.abs(x)) ** 2,)),
    R("nn.Softsign()(a)", lambda x: x / (1 + np.abs(x)), inputs=("int",), dtypes=(I64,),
      out=FLOATOUT),
    R("F.hardtanh(a)", lambda x: np.clip(x, -1, 1),
      lambda x: (_where((x > -1) & (x < 1), 1, 0),), dtypes=FLOAT_INT),
    R("F.hardtanh(a, -0.5, 2.0)", lambda x: np.clip(x, -0.5, 2.0),
      lambda x: (_where((x > -0.5) & (x < 2.0), 1, 0),),
      inputs=(st.sampled_from([-0.5, 2.0, 0.3, -1.0, 2.5]),)),
    R("nn.Hardtanh(-2.0, 3.0)(a)", lambda x: np.clip(x, -2, 3),
      lambda x: (_where((x > -2) & (x < 3), 1, 0),), inputs=("wide",)),
    R("F.relu6(a)", lambda x: np.clip(x, 0, 6), lambda x: (_where((x > 0) & (x < 6), 1, 0),),
      inputs=("wide",), dtypes=FLOAT_INT),
    R("nn.ReLU6()(a)", lambda x: np.clip(x, 0, 6), lambda x: (_where((x > 0) & (x < 6), 1, 0),),
      inputs=("wide",)),
    R("F.logsigmoid(a)", lambda x: -np.logaddexp(0, -x), lambda x: (_sigmoid(-x),),
      inputs=("wide",)),
    R("nn.LogSigmoid()(a)", lambda x: -np.logaddexp(0, -x), lambda x: (_sigmoid(-x),),
      inputs=(st.sampled_from([-800.0, 800.0, 0.0, -30.0, 30.0]),), dtypes=(F32, F64)),
    R("F.mish(a)", lambda x: x * np.tanh(_softplus(x)),
      lambda x: (np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2),),
      inputs=("wide",)),
    R("nn.Mish()(a)", lambda x: x * np.tanh(_softplus(x)),
      inputs=(st.sampled_from([-800.0, 800.0, 0.0, -30.0, 30.0]),), dtypes=(F32, F64)),
    R("F.selu(a)", lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
      lambda x: (SELU_SCALE * _where(x > 0, 1, SELU_ALPHA * np.exp(np.minimum(x, 0))),)),
    R("torch.selu(a)", lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
      inputs=(st.sampled_from([-800.0, 800.0, 0.0, -30.0, 30.0]),), dtypes=(F32, F64)),
    R("nn.SELU()(a)", lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    R("F.celu(a)", lambda x: np.where(x > 0, x, np.expm1(x)),
      lambda x: (_where(x > 0, 1, np.exp(np.minimum(x, 0))),)),
    R("F.celu(a, alpha=2.0)", lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2)),
      lambda x: (_where(x > 0, 1, np.exp(np.minimum(x, 0) / 2)),)),
    R("nn.CELU(0.5)(a)", lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5))),
    R("torch.celu(a)", lambda x: np.where(x > 0, x, np.expm1(x))),
    R("F.hardswish(a)", lambda x: x * np.clip(x + 3, 0, 6) / 6,
      lambda x: (_where(x <= -3, 0, _where(x < 3, x / 3 + 0.5, 1)),), inputs=("wide",)),
    R("nn.Hardswish()(a)", lambda x: x * np.clip(x + 3, 0, 6) / 6, inputs=("wide",)),
    R("F.hardsigmoid(a)", lambda x: np.clip(x + 3, 0, 6) / 6,
      lambda x: (_where((x > -3) & (x < 3), 1 / 6, 0),), inputs=("wide",),
      torch_grad_rtol=TORCH_SIXTH),
    R("nn.Hardsigmoid()(a)", lambda x: np.clip(x + 3, 0, 6) / 6, inputs=("wide",),
      torch_grad_rtol=TORCH_SIXTH),
    # --- rounding: zero gradients, integers unchanged
    R("torch.floor(a)", np.floor, ZERO, inputs=("steps",)),
    R("torch.ceil(a)", np.ceil, ZERO, inputs=("steps",)),
    R("torch.round(a)", np.round, ZERO, inputs=("steps",)),
    R("torch.round(a, decimals=1)", lambda x: _np_round(x, 1), ZERO, inputs=("steps",)),
    R("torch.round(a, decimals=-1)", lambda x: _np_round(x, -1), ZERO,
      inputs=(st.integers(-40, 40).map(float),), dtypes=(F32, F64)),
    R("torch.trunc(a)", np.trunc, ZERO, inputs=("steps",)),
    R("torch.fix(a)", np.trunc, ZERO, inputs=("steps",)),
    R("torch.frac(a)", lambda x: x - np.trunc(x), ONE, inputs=("steps",)),
    R("torch.sign(a)", np.sign, ZERO, dtypes=FLOAT_INT),
    R("torch.sign(a)", lambda x: x.astype(bool), inputs=("int",), dtypes=(BOOL,)),
    R("torch.floor(a)", np.floor, inputs=("int",), dtypes=INT),
    R("torch.round(a)", np.round, inputs=("int",), dtypes=INT),
    # --- the division family: % (sign of the divisor), fmod (sign of the dividend), //
    R("a % b", np.remainder, lambda a, b: (np.ones_like(a + b), -np.floor(a / b)),
      inputs=("steps", "divisor")),
    R("torch.remainder(a, b)", np.remainder, inputs=("int", "nonzero_int"), dtypes=INT),
    R("a % 2.5", lambda a: np.remainder(a, 2.5), ONE, inputs=("steps",)),
    R("torch.remainder(a, 1.5)", lambda a: np.remainder(a, 1.5), inputs=("int",),
      dtypes=(I64,), out=FLOATOUT),
    R("torch.fmod(a, b)", np.fmod, lambda a, b: (np.ones_like(a + b), -np.trunc(a / b)),
      inputs=("steps", "divisor")),
    R("torch.fmod(a, b)", np.fmod, inputs=("int", "nonzero_int"), dtypes=INT),
    # torch's floor_divide (//) has the values but raises in backward; ours is zero, as
    # torch's div(rounding_mode="floor"), checked by the closed form
    R("a // b", np.floor_divide, ZERO, inputs=("steps", "divisor"), grad=False),
    R("a // b", np.floor_divide, inputs=("int", "nonzero_int"), dtypes=INT),
    R("torch.floor_divide(a, 2)", lambda a: np.floor_divide(a, 2), inputs=("int",),
      dtypes=INT),
    R("torch.div(a, b, rounding_mode='floor')", np.floor_divide, ZERO,
      inputs=("steps", "divisor")),
    R("torch.div(a, b, rounding_mode='trunc')", lambda a, b: np.trunc(a / b),
      ZERO, inputs=("steps", "divisor")),
    R("torch.div(a, b, rounding_mode='trunc')", lambda a, b: np.trunc(a / b).astype(np.int64),
      inputs=("int", "nonzero_int"), dtypes=(I64,)),
    R("torch.div(a, b)", np.divide, lambda a, b: (1 / b + 0 * a, -a / (b * b)),
      inputs=("real", "nonzero")),
    R("torch.true_divide(a, b)", np.divide, inputs=("real", "nonzero")),
    R("torch.divide(a, b, rounding_mode='floor')", np.floor_divide, inputs=("steps", "divisor")),
    # --- bitwise, on integers and bools (not logical on integers)
    R("a & b", np.bitwise_and, inputs=("int", "int"), dtypes=INT + (BOOL,)),
    R("a | b", np.bitwise_or, inputs=("int", "int"), dtypes=INT + (BOOL,)),
    R("a ^ b", np.bitwise_xor, inputs=("int", "int"), dtypes=INT + (BOOL,)),
    R("~a", np.invert, inputs=("int",), dtypes=INT + (BOOL,)),
    R("a & 3", lambda a: np.bitwise_and(a, 3), inputs=("int",), dtypes=INT),
    R("a << b", np.left_shift, inputs=("int", "shift"), dtypes=INT),
    R("a >> b", np.right_shift, inputs=("int", "shift"), dtypes=INT),
    R("torch.bitwise_and(a, b)", np.bitwise_and, inputs=("int", "int"), dtypes=INT + (BOOL,)),
    R("torch.bitwise_or(a, b)", np.bitwise_or, inputs=("int", "int"), dtypes=INT),
    R("torch.bitwise_xor(a, b)", np.bitwise_xor, inputs=("int", "int"), dtypes=(BOOL,)),
    R("torch.bitwise_not(a)", np.invert, inputs=("int",), dtypes=INT + (BOOL,)),
    R("torch.bitwise_left_shift(a, b)", np.left_shift, inputs=("int", "shift"), dtypes=(I64,)),
    R("torch.bitwise_right_shift(a, b)", np.right_shift, inputs=("int", "shift"),
      dtypes=(I64,)),
    # --- tests of values (bool results)
    R("torch.isnan(a)", np.isnan, inputs=("special",), out=BOOLOUT),
    R("torch.isinf(a)", np.isinf, inputs=("special",), out=BOOLOUT),
    R("torch.isfinite(a)", np.isfinite, inputs=("special",), out=BOOLOUT),
    R("torch.isposinf(a)", np.isposinf, inputs=("special",), out=BOOLOUT),
    R("torch.isneginf(a)", np.isneginf, inputs=("special",), out=BOOLOUT),
    R("torch.signbit(a)", np.signbit, inputs=("special",), out=BOOLOUT),
    R("torch.isnan(a)", np.isnan, inputs=("int",), dtypes=INT + (BOOL,), out=BOOLOUT),
    R("torch.isfinite(a)", np.isfinite, inputs=("int",), dtypes=INT, out=BOOLOUT),
    R("torch.signbit(a)", np.signbit, inputs=("int",), dtypes=INT, out=BOOLOUT),
    R("torch.isclose(a, b)", np.isclose, inputs=("special", "special"), out=BOOLOUT),
    R("torch.isclose(a, b, equal_nan=True)", lambda a, b: np.isclose(a, b, equal_nan=True),
      inputs=("special", "special"), out=BOOLOUT),
    R("torch.isclose(a, b, rtol=0.1, atol=0.5)",
      lambda a, b: np.isclose(a, b, rtol=0.1, atol=0.5), inputs=("real", "real"),
      dtypes=(F32, F64), out=BOOLOUT),
    R("torch.allclose(a, b)", lambda a, b: np.allclose(a, b), inputs=("real", "real"),
      out=PYBOOL),
    R("torch.allclose(a, b, rtol=0.5, atol=1.0, equal_nan=True)",
      lambda a, b: np.allclose(a, b, rtol=0.5, atol=1.0, equal_nan=True),
      inputs=("special", "special"), out=PYBOOL),
    R("torch.equal(a, b)", lambda a, b: a.shape == b.shape and bool((a == b).all()),
      inputs=(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), dtypes=FLOAT_INT,
      out=PYBOOL),
    R("torch.eq(a, b)", np.equal, inputs=("int", "int"), dtypes=FLOAT_INT, out=BOOLOUT),
    R("torch.ne(a, b)", np.not_equal, inputs=("int", "int"), dtypes=FLOAT_INT, out=BOOLOUT),
    R("torch.lt(a, b)", np.less, inputs=("int", "int"), dtypes=FLOAT_INT, out=BOOLOUT),
    R("torch.le(a, b)", np.less_equal, inputs=("int", "int"), out=BOOLOUT),
    R("torch.gt(a, b)", np.greater, inputs=("special", "special"), out=BOOLOUT),
    R("torch.ge(a, b)", np.greater_equal, inputs=("int", "int"), dtypes=INT, out=BOOLOUT),
    R("torch.greater_equal(a, b)", np.greater_equal, inputs=("int", "int"), out=BOOLOUT),
    R("torch.not_equal(a, b)", np.not_equal, inputs=("special", "special"), out=BOOLOUT),
    # --- clamp with scalar and tensor bounds, and torch's other names for the operators
    R("torch.clamp(a, min=-0.5, max=0.5)", lambda x: np.clip(x, -0.5, 0.5),
      lambda x: (_where((x >= -0.5) & (x <= 0.5), 1, 0),)),
    R("torch.clamp(a, min=b, max=c)", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
      lambda x, lo, hi: (_where((x >= lo) & (x <= hi), 1, 0),
                         _where((x < lo) & (lo < hi), 1, 0),
                         _where((x > hi) | (hi < lo), 1, 0)),
      inputs=("int", "int", "int"), broadcast="to_first"),
    R("torch.clamp(a, b)", lambda x, lo: np.maximum(x, lo),
      lambda x, lo: (_where(x >= lo, 1, 0), _where(x < lo, 1, 0)), inputs=("int", "int"),
      broadcast="to_first"),
    R("torch.clip(a, max=b)", lambda x, hi: np.minimum(x, hi),
      lambda x, hi: (_where(x <= hi, 1, 0), _where(x > hi, 1, 0)), inputs=("int", "int"),
      broadcast="to_first"),
    R("torch.clamp(a, min=0.5)", lambda x: np.maximum(x, 0.5), inputs=("int",), dtypes=INT,
      out=FLOATOUT),
    R("torch.clamp(a, min=1, max=3)", lambda x: np.clip(x, 1, 3), inputs=("int",), dtypes=INT),
    R("torch.clamp_min(a, 0.25)", lambda x: np.maximum(x, 0.25),
      lambda x: (_where(x >= 0.25, 1, 0),)),
    R("torch.clamp_max(a, 0.25)", lambda x: np.minimum(x, 0.25),
      lambda x: (_where(x <= 0.25, 1, 0),)),
    R("torch.add(a, b, alpha=2)", lambda a, b: a + 2 * b,
      lambda a, b: (np.ones_like(a + b), 2 * np.ones_like(a + b)), inputs=("real", "real")),
    R("torch.sub(a, b, alpha=0.5)", lambda a, b: a - 0.5 * b, inputs=("real", "real")),
    R("torch.subtract(a, b)", np.subtract, inputs=("int", "int"), dtypes=INT),
    R("torch.mul(a, b)", np.multiply, lambda a, b: (b + 0 * a, a + 0 * b),
      inputs=("real", "real")),
    R("torch.multiply(a, 3)", lambda a: a * 3, inputs=("int",), dtypes=INT),
    R("torch.pow(a, b)", np.power, lambda a, b: (b * a ** (b - 1), a ** b * np.log(a)),
      inputs=("pos", "real")),
    R("torch.neg(a)", np.negative, lambda a: (-np.ones_like(a),), dtypes=FLOAT_INT),
    R("torch.negative(a)", np.negative, inputs=("int",), dtypes=INT),
    R("torch.absolute(a)", np.abs, lambda a: (np.sign(a),), dtypes=FLOAT_INT),
    R("torch.maximum(a, b)", np.maximum,
      lambda a, b: (_where(a > b, 1, _where(a == b, 0.5, 0)),
                    _where(b > a, 1, _where(a == b, 0.5, 0))), inputs=("int", "int")),
    R("torch.minimum(a, b)", np.minimum, inputs=("int", "int"), dtypes=INT),
    R("torch.fmax(a, b)", np.fmax,
      lambda a, b: (_where((a >= b) | np.isnan(b), 1, 0), _where((a >= b) | np.isnan(b), 0, 1)),
      inputs=("special", "special"), dtypes=(F32, F64)),
    R("torch.fmin(a, b)", np.fmin,
      lambda a, b: (_where((a <= b) | np.isnan(b), 1, 0), _where((a <= b) | np.isnan(b), 0, 1)),
      inputs=("int", "int")),
    R("torch.fmax(a, b)", np.fmax, inputs=("int", "int"), dtypes=INT),
    # --- Tensor methods (the same ops, torch's method spellings)
    R("a.sin()", np.sin, lambda x: (np.cos(x),)),
    R("a.cos()", np.cos, dtypes=INT, inputs=("int",), out=FLOATOUT),
    R("a.tan()", np.tan, inputs=("unit",)),
    R("a.asin()", np.arcsin, inputs=("unit",)),
    R("a.arccos()", np.arccos, inputs=("unit",)),
    R("a.sinh()", np.sinh),
    R("a.cosh()", np.cosh),
    R("a.asinh()", np.arcsinh),
    R("a.acosh()", np.arccosh, inputs=("ge1",)),
    R("a.atanh()", np.arctanh, inputs=("unit",)),
    R("a.atan2(b)", np.arctan2, inputs=("nonzero", "real")),
    R("a.log2()", np.log2, inputs=("pos",)),
    R("a.log10()", np.log10, inputs=("pos",)),
    R("a.log1p()", np.log1p, inputs=("pos",)),
    R("a.expm1()", np.expm1),
    R("a.exp2()", np.exp2, dtypes=INT, inputs=("int",), out=FLOATOUT),
    R("a.exp()", lambda x: np.exp(x.astype(np.float64)), dtypes=(I64, BOOL), inputs=("int",),
      out=FLOATOUT),
    R("a.rsqrt()", lambda x: 1 / np.sqrt(x), inputs=("pos",)),
    R("a.square()", np.square, dtypes=FLOAT_INT),
    R("a.reciprocal()", np.reciprocal, inputs=("nonzero",)),
    R("a.sigmoid()", _sigmoid, inputs=("wide",)),
    R("a.logit(eps=0.1)", lambda x: _special("logit")(np.clip(x, 0.1, 0.9)), inputs=("prob",)),
    R("a.erf()", _special("erf")),
    R("a.erfc()", _special("erfc")),
    R("a.erfinv()", _special("erfinv"), inputs=("unit",)),
    R("a.nan_to_num(nan=2.0, posinf=1.0, neginf=-1.0)",
      lambda x: np.nan_to_num(x, nan=2.0, posinf=1.0, neginf=-1.0), inputs=("special",)),
    R("a.hypot(b)", np.hypot, inputs=("real", "nonzero")),
    R("a.logaddexp(b)", np.logaddexp, inputs=("real", "real")),
    R("a.logaddexp2(b)", np.logaddexp2, inputs=("real", "real")),
    R("a.xlogy(b)", _special("xlogy"), inputs=("real", "pos")),
    R("a.xlogy(2.0)", lambda x: x * math.log(2.0)),
    R("a.lerp(b, 0.75)", lambda s, e: s + 0.75 * (e - s), inputs=("real", "real")),
    R("a.lerp(b, c)", lambda s, e, w: s + w * (e - s), inputs=("real", "real", "unit")),
    R("a.maximum(b)", np.maximum, inputs=("int", "int")),
    R("a.minimum(b)", np.minimum, inputs=("int", "int")),
    R("a.fmax(b)", np.fmax, inputs=("special", "special"), dtypes=(F32, F64)),
    R("a.fmin(b)", np.fmin, inputs=("special", "special"), dtypes=(F32, F64)),
    R("a.floor()", np.floor, inputs=("steps",), dtypes=FLOAT_INT),
    R("a.ceil()", np.ceil, inputs=("steps",)),
    R("a.round()", np.round, inputs=("steps",)),
    R("a.round(decimals=2)", lambda x: _np_round(x, 2), inputs=("steps",), dtypes=(F32, F64)),
    R("a.trunc()", np.trunc, inputs=("steps",)),
    R("a.fix()", np.trunc, inputs=("steps",)),
    R("a.frac()", lambda x: x - np.trunc(x), inputs=("steps",)),
    R("a.sign()", np.sign, dtypes=FLOAT_INT),
    R("a.sgn()", np.sign),
    R("a.remainder(b)", np.remainder, inputs=("steps", "divisor")),
    R("a.fmod(b)", np.fmod, inputs=("steps", "divisor")),
    R("a.floor_divide(b)", np.floor_divide, inputs=("int", "nonzero_int"), dtypes=INT),
    # torch has no derivative for a number % tensor (it raises); ours is the closed form
    R("2 % a", lambda a: np.remainder(2, a), lambda a: (-np.floor(2 / a),),
      inputs=("divisor",), grad=False),
    R("7 // a", lambda a: np.floor_divide(7, a), inputs=("nonzero_int",), dtypes=INT),
    R("a.add(b, alpha=3)", lambda a, b: a + 3 * b, inputs=("real", "real")),
    R("a.sub(b)", np.subtract, inputs=("int", "int"), dtypes=INT),
    R("a.subtract(b, alpha=2)", lambda a, b: a - 2 * b, inputs=("real", "real")),
    R("a.mul(b)", np.multiply, inputs=("real", "real")),
    R("a.multiply(b)", np.multiply, inputs=("int", "int"), dtypes=INT),
    R("a.div(b)", np.divide, inputs=("real", "nonzero")),
    R("a.div(b, rounding_mode='trunc')", lambda a, b: np.trunc(a / b),
      inputs=("steps", "divisor")),
    R("a.div(b, rounding_mode='floor')", np.floor_divide, inputs=("int", "nonzero_int"),
      dtypes=INT),
    R("a.divide(b)", np.divide, inputs=("real", "nonzero")),
    R("a.true_divide(b)", np.divide, inputs=("real", "nonzero")),
    R("a.pow(b)", np.power, inputs=("pos", "real")),
    R("a.pow(2)", np.square, dtypes=FLOAT_INT),
    R("a.neg()", np.negative, dtypes=FLOAT_INT),
    R("a.negative()", np.negative),
    R("a.abs()", np.abs, dtypes=FLOAT_INT),
    R("a.absolute()", np.abs),
    R("a.clamp(min=-0.5, max=0.5)", lambda x: np.clip(x, -0.5, 0.5)),
    R("a.clamp(-0.5)", lambda x: np.maximum(x, -0.5)),
    R("a.clamp(max=b)", lambda x, hi: np.minimum(x, hi), inputs=("int", "int"),
      broadcast="to_first"),
    R("a.clamp(b, c)", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
      inputs=("int", "int", "int"), broadcast="to_first"),
    R("a.clip(min=0.0)", lambda x: np.maximum(x, 0.0)),
    R("a.clip(-1, 1)", lambda x: np.clip(x, -1, 1), inputs=("int",), dtypes=INT),
    R("a.clamp_min(0.5)", lambda x: np.maximum(x, 0.5)),
    R("a.clamp_max(b)", lambda x, hi: np.minimum(x, hi), inputs=("int", "int"),
      broadcast="to_first"),
    R("a.isnan()", np.isnan, inputs=("special",), out=BOOLOUT),
    R("a.isinf()", np.isinf, inputs=("special",), out=BOOLOUT),
    R("a.isfinite()", np.isfinite, inputs=("special",), out=BOOLOUT),
    R("a.isposinf()", np.isposinf, inputs=("special",), out=BOOLOUT),
    R("a.isneginf()", np.isneginf, inputs=("special",), out=BOOLOUT),
    R("a.signbit()", np.signbit, inputs=("special",), out=BOOLOUT),
    R("a.isclose(b, atol=0.5)", lambda a, b: np.isclose(a, b, atol=0.5),
      inputs=("real", "real"), out=BOOLOUT),
    R("a.allclose(b)", lambda a, b: np.allclose(a, b), inputs=("int", "int"), out=PYBOOL),
    R("a.equal(b)", lambda a, b: a.shape == b.shape and bool((a == b).all()),
      inputs=(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), out=PYBOOL),
    R("a.eq(b)", np.equal, inputs=("int", "int"), out=BOOLOUT),
    R("a.ne(2)", lambda a: np.not_equal(a, 2), inputs=("int",), dtypes=INT, out=BOOLOUT),
    R("a.lt(b)", np.less, inputs=("int", "int"), out=BOOLOUT),
    R("a.le(b)", np.less_equal, inputs=("special", "special"), out=BOOLOUT),
    R("a.gt(0.5)", lambda a: np.greater(a, 0.5), out=BOOLOUT),
    R("a.ge(b)", np.greater_equal, inputs=("int", "int"), dtypes=INT, out=BOOLOUT),
    R("a.greater(b)", np.greater, inputs=("int", "int"), out=BOOLOUT),
    R("a.less_equal(b)", np.less_equal, inputs=("int", "int"), out=BOOLOUT),
    R("a.bitwise_and(b)", np.bitwise_and, inputs=("int", "int"), dtypes=INT + (BOOL,)),
    R("a.bitwise_or(5)", lambda a: np.bitwise_or(a, 5), inputs=("int",), dtypes=INT),
    R("a.bitwise_xor(b)", np.bitwise_xor, inputs=("int", "int"), dtypes=INT),
    R("a.bitwise_not()", np.invert, inputs=("int",), dtypes=INT + (BOOL,)),
    R("a.bitwise_left_shift(b)", np.left_shift, inputs=("int", "shift"), dtypes=INT),
    R("a.bitwise_right_shift(b)", np.right_shift, inputs=("int", "shift"), dtypes=INT),
    R("3 & a", lambda a: np.bitwise_and(3, a), inputs=("int",), dtypes=INT),
    R("True | a", lambda a: np.bitwise_or(True, a), inputs=("int",), dtypes=(BOOL,)),
    R("1 << a", lambda a: np.left_shift(1, a), inputs=("shift",), dtypes=(I64,)),
    R("(a > 0) & (b < 1)", lambda a, b: (a > 0) & (b < 1), inputs=("real", "real"),
      out=BOOLOUT),
    R("~(a > 0)", lambda a: ~(a > 0), out=BOOLOUT),
    # --- pow at 0 (torch's conventions)
    R("a ** 0", lambda a: np.ones_like(a), ZERO),
    R("a ** b", np.power, inputs=(st.sampled_from([0.0, 1.0, 2.0]),
                                  st.sampled_from([0.0, -1.0, 2.0, 0.5, -0.5])),
      dtypes=(F32, F64)),
]


# ------------------------------------------------------------------------- helpers
def _shapes(row):
    """Shapes for the row's inputs: 0 to 3 axes of length 0 to 4, broadcasting together
    (all to the first input's shape for "to_first" rows)."""
    n = len(row.inputs)
    shapes = hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, min_side=0,
                                               max_side=4)
    if row.broadcast == "to_first":
        return shapes.map(lambda b: (b.result_shape,) + tuple(b.input_shapes[1:]))
    return shapes.map(lambda b: tuple(b.input_shapes))


@st.composite
def _case(draw, row):
    """(dtype, [arrays]) with values from the row's domains, rounded to the dtype."""
    dtype = draw(st.sampled_from(row.dtypes))
    arrays = []
    for domain, shape in zip(row.inputs, draw(_shapes(row))):
        values = DOMAINS[domain] if isinstance(domain, str) else domain
        n = int(np.prod(shape))
        flat = draw(st.lists(values, min_size=n, max_size=n))
        data = np.asarray(flat, dtype=np.float64 if dtype not in INT + (BOOL,) else np.int64)
        arrays.append(data.reshape(shape).astype(dtype))
    return dtype, arrays


def _f64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype == BF16 else a


def _expected_dtype(row, dtype):
    if row.out == SAME:
        return np.dtype(dtype)
    if row.out == FLOATOUT:
        return np.dtype(dtype) if dtype in FLOAT else F32
    if row.out == BOOLOUT:
        return BOOL
    return np.dtype(row.out)


def _assert_close(actual, expected, dtype, what, tol=None):
    """Equal NaN/inf positions, then values within the dtype's tolerance (relative to the
    finite magnitudes); integer and bool results exactly."""
    actual, expected = _f64(actual), _f64(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = max(tol or 0, TOL.get(np.dtype(dtype), 0)) or None
    if tol is None or expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN")
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)],
                                  err_msg=f"{what}: infinities")
    scale = max(1.0, float(np.max(np.abs(expected[finite])))) if finite.any() else 1.0
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=tol, atol=tol * scale,
                               err_msg=what)


def _run_ad(row, dtype, arrays):
    """(output, gradients or None) of the row on autodiff, gradients of sum(out * w)."""
    grads_wanted = dtype in FLOAT
    xs = [ad.tensor(a, requires_grad=grads_wanted) for a in arrays]
    out = eval(row.code, {"torch": ad, "F": nnF, "nn": nn}, dict(zip("abc", xs)))
    if isinstance(out, bool) or not (grads_wanted and out.requires_grad):
        return out, None
    w = _weights(out.shape)
    grads = ad.grad(out, xs, ad.tensor(w, dtype=out.dtype), allow_unused=True)
    return out, [np.zeros(x.shape) if g is None else g.numpy() for x, g in zip(xs, grads)]


def _weights(shape):
    return np.random.default_rng(7).standard_normal(shape).round(2) + 0.25


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _to_torch(torch, a):
    """The same bits as a torch tensor (converting through float64 may flip a NaN's sign
    bit in torch's vectorised bfloat16 conversion)."""
    if a.dtype == BF16:
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(a.copy())


# ------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("row", ROWS, ids=[f"{i}:{r.code}" for i, r in enumerate(ROWS)])
@EXAMPLES
@given(data=st.data())
def test_row_matches_reference(row, data):
    dtype, arrays = data.draw(_case(row), label="case")
    out, grads = _run_ad(row, dtype, arrays)
    ins = [_f64(a) for a in arrays]
    with np.errstate(all="ignore"):
        ref = np.asarray(row.ref(*ins))
    if row.out == PYBOOL:  # allclose, equal: a Python bool, as torch
        assert out is bool(ref), f"{row.code}: {out} for {ins}"
        return
    expected_dtype = _expected_dtype(row, dtype)
    assert out.dtype == expected_dtype, f"{row.code}: dtype {out.dtype} for {dtype} inputs"
    assert out.shape == np.broadcast_shapes(*[a.shape for a in arrays])
    assert not out.requires_grad or dtype in FLOAT
    _assert_close(out.numpy(), ref, expected_dtype, f"{row.code} in {dtype}")
    if row.d is not None and grads is not None:
        w = _weights(out.shape)
        with np.errstate(all="ignore"):
            local = row.d(*ins)
        for i, (x, g, dl) in enumerate(zip(ins, grads, local)):
            expected = _sum_to(w * np.broadcast_to(dl, out.shape), x.shape)
            _assert_close(g, expected, dtype, f"{row.code}: gradient of input {'abc'[i]}")


@pytest.mark.parametrize("row", ROWS, ids=[f"{i}:{r.code}" for i, r in enumerate(ROWS)])
@EXAMPLES
@given(data=st.data())
def test_row_matches_torch(row, data):
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    dtype, arrays = data.draw(_case(row), label="case")
    out, grads = _run_ad(row, dtype, arrays)
    txs = [_to_torch(torch, a).requires_grad_(dtype in FLOAT) for a in arrays]
    names = {"torch": torch, "F": torch.nn.functional, "nn": torch.nn}
    tout = eval(row.code, names, dict(zip("abc", txs)))
    if row.out == PYBOOL:
        assert out is tout, f"{row.code}: {out}, torch {tout}"
        return
    assert str(out.dtype) == str(tout.dtype).replace("torch.", ""), \
        f"{row.code}: dtype {out.dtype}, torch {tout.dtype}"
    assert out.shape == tuple(tout.shape)
    expected = tout.detach().to(torch.float64 if tout.dtype.is_floating_point else tout.dtype)
    _assert_close(out.numpy(), expected.numpy(), out.dtype, f"{row.code} vs torch in {dtype}")
    if grads is None or not row.grad or not tout.requires_grad:
        return
    w = torch.tensor(_weights(tuple(tout.shape))).to(tout.dtype)
    tgrads = torch.autograd.grad(tout, txs, w, allow_unused=True)
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        if tg is None or tg._is_zerotensor():  # torch's lazily-zero gradients (e.g. sgn)
            tg = np.zeros(g.shape)
        else:
            tg = tg.to(torch.float64).numpy()
        _assert_close(g, tg, dtype, f"{row.code}: gradient of {'abc'[i]} vs torch in {dtype}",
                      row.torch_grad_rtol)


# ------------------------------------------------------------------------- special points
def test_row_count():
    assert len(ROWS) >= 150
