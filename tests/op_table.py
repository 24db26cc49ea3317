"""The op spec table: one row per op, driving the op tests (and gradgradcheck).

How to use a row (`OpSpec`):

    from hypothesis import given, strategies as st
    from op_table import OPS, DIFFERENTIABLE   # tests/ is on sys.path under pytest

    @pytest.mark.parametrize("row", DIFFERENTIABLE, ids=str)
    @given(data=st.data())
    def test_something(row, data):
        case = data.draw(row.inputs(np.float64))      # a Case: .arrays and .kwargs
        xs = [ad.tensor(a, requires_grad=True) for a in case.arrays]
        out = row.fn(*xs, **case.kwargs)              # an ad.Tensor (a tuple for split)
        ref = row.np_fn(*case.arrays, **case.kwargs)  # NumPy reference (same structure)
        if row.torch_fn is not None:                  # torch reference on torch tensors
            t_out = row.torch_fn(*torch_tensors, **case.kwargs)

- `case.arrays` are NumPy arrays of the requested dtype, drawn inside each input's domain
  (e.g. log's input > 0, a divisor away from 0, max/min inputs without ties, clip inputs
  away from the clip bounds); every one of them is a differentiable input of `row.fn`
  (for a `differentiable` row). Things that are not differentiated (axes, shapes, an
  index, `where`'s condition) live in `case.kwargs`, as plain Python/NumPy values:
  `row.fn`/`row.torch_fn` move any array in them to the device of their first input.
- `row.make_inputs(draw, dtype)` is the same as `draw(row.inputs(dtype))`, for use inside
  an `@st.composite`.
- `row.dtypes`: the dtypes the op supports (the forward test draws from them; all rows
  support the four float types, some also int64).
- `row.differentiable`: False for rows whose gradient is not defined/tested (bool or
  integer results: isnan, the bitwise ops); such a row says why in `row.notes`.
- `row.result_dtype(dtype)`: the result's dtype for inputs of `dtype` (the input's own
  dtype unless the row sets `out_dtype`: float32 for an integer input of a float function,
  bool for a test such as isnan).
- `row.kind`: "elementwise", "reduction", "matmul", "shape" or "index" (documentation;
  tests may pick tolerances by it).
- `row.multi_output`: fn returns a tuple of tensors (split).

Inputs are small (at most 4 per axis, 3 axes) so numerical gradients stay cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff import testing as adt
from autodiff.ops import reduce as _reduce

F16, BF16, F32, F64, I64 = ad.float16, ad.bfloat16, ad.float32, ad.float64, ad.int64
FLOATS = (F16, BF16, F32, F64)
FLOATS_AND_INT = FLOATS + (I64,)

MAX_DIMS, MAX_SIDE = 3, 4


# ------------------------------------------------------------------------- domains
@dataclass(frozen=True)
class Domain:
    """Where an input's values are drawn (float64, before casting to the test dtype).

    kind: "interval" (uniform-ish floats in [lo, hi]), "apart" (|x| in [lo, hi] with a
    random sign: away from 0), "special" (lo, hi, their midpoint, +-0, +-inf and NaN), or
    "grid" (values (k + offset) * step with integer k in
    [lo, hi]: two grid domains with different offsets never tie, and `unique=True` makes all
    elements of one array distinct, which keeps max/min away from ties).
    """
    kind: str
    lo: float
    hi: float
    offset: float = 0.0
    step: float = 0.2
    unique: bool = False

    def draw(self, draw, shape):
        if self.kind == "interval":
            return draw(adt.tensors(shape=shape, dtype=F64, elements=(self.lo, self.hi))).numpy()
        if self.kind == "apart":
            mag = draw(adt.tensors(shape=shape, dtype=F64, elements=(self.lo, self.hi))).numpy()
            sign = draw(adt.tensors(shape=shape, dtype=ad.bool_)).numpy()
            return np.where(sign, mag, -mag)
        if self.kind == "special":  # finite values mixed with NaN, +-inf and -0.0
            values = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, self.lo,
                                      self.hi, 0.5 * (self.lo + self.hi)])
            n = int(np.prod(shape))
            return np.asarray(draw(st.lists(values, min_size=n, max_size=n)),
                              dtype=np.float64).reshape(shape)
        if self.kind == "grid":
            n = int(np.prod(shape))
            ks = draw(st.lists(st.integers(int(self.lo), int(self.hi)), min_size=n,
                               max_size=n, unique=self.unique))
            return ((np.asarray(ks, dtype=np.float64) + self.offset) * self.step).reshape(shape)
        raise ValueError(f"unknown domain kind {self.kind!r}")


REAL = Domain("interval", -3.0, 3.0)
SMALL = Domain("interval", -2.0, 2.0)
POSITIVE = Domain("interval", 0.5, 3.0)
NONZERO = Domain("apart", 0.5, 3.0)           # divisors, abs/relu away from their kink
EVEN = Domain("grid", -15, 15, offset=0.0)    # maximum(a, b): a on even tenths ...
ODD = Domain("grid", -15, 15, offset=0.5)     # ... b on odd ones: never tied
DISTINCT = Domain("grid", -40, 40, step=0.1, unique=True)  # max/min/std: no ties


# ------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Case:
    """One drawn example: differentiable input arrays and non-differentiated kwargs."""
    arrays: tuple
    kwargs: dict

    def __repr__(self):
        shapes = [a.shape for a in self.arrays]
        return f"Case(shapes={shapes}, dtype={self.arrays[0].dtype}, kwargs={self.kwargs})"


@dataclass(frozen=True)
class OpSpec:
    """One op of the table; see the module docstring."""
    name: str
    fn: Callable
    np_fn: Callable
    torch_fn: Callable | None
    arity: int
    domains: tuple
    kind: str
    shapes: Callable            # shapes(draw) -> tuple of `arity` shapes
    kwargs: Callable = None     # kwargs(draw, shapes) -> dict (None: no kwargs)
    differentiable: bool = True
    dtypes: tuple = FLOATS
    multi_output: bool = False
    notes: str = ""
    maker: Callable = field(default=None, repr=False)  # overrides the generic maker
    out_dtype: Callable = None  # dtype -> the result's dtype (None: the input's dtype)

    def __str__(self):
        return self.name

    def result_dtype(self, dtype):
        """The dtype of the result for inputs of `dtype`."""
        return np.dtype(dtype) if self.out_dtype is None else np.dtype(self.out_dtype(dtype))

    def make_inputs(self, draw, dtype=F64) -> Case:
        """Draw a Case whose arrays have `dtype`."""
        dtype = np.dtype(dtype)
        if self.maker is not None:
            arrays, kwargs = self.maker(draw)
        else:
            shapes = self.shapes(draw)
            kwargs = self.kwargs(draw, shapes) if self.kwargs else {}
            arrays = [d.draw(draw, s) for d, s in zip(self.domains, shapes)]
        return Case(tuple(np.asarray(a).astype(dtype) for a in arrays), kwargs)

    def inputs(self, dtype=F64):
        """A hypothesis strategy of Cases with arrays of `dtype`."""
        return st.composite(lambda draw: self.make_inputs(draw, dtype))()


# ------------------------------------------------------------------------- shape strategies
def _one_shape(min_dims=0, min_side=1):
    shape = hnp.array_shapes(min_dims=min_dims, max_dims=MAX_DIMS, min_side=min_side,
                             max_side=MAX_SIDE)
    return lambda draw: (draw(shape),)


def _broadcast(n):
    strategy = adt.broadcastable_shapes(n, max_dims=MAX_DIMS, max_side=MAX_SIDE)
    return lambda draw: draw(strategy)


def _axis_kwargs(draw, shapes, allow_none=True):
    """axis: None, an int (maybe negative) or a tuple of distinct axes; keepdims: bool."""
    ndim = len(shapes[0])
    options = ["none"] if allow_none or ndim == 0 else []
    if ndim:
        options += ["int", "negative", "tuple"]
    choice = draw(st.sampled_from(options))
    if choice == "none":
        axis = None
    elif choice == "int":
        axis = draw(st.integers(0, ndim - 1))
    elif choice == "negative":
        axis = draw(st.integers(-ndim, -1))
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    return {"axis": axis, "keepdims": draw(st.booleans())}


def _reduced_count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _var_kwargs(draw, shapes):
    kw = _axis_kwargs(draw, shapes)
    count = _reduced_count(shapes[0], kw["axis"])
    kw["correction"] = draw(st.sampled_from([0, 1])) if count > 1 else 0
    return kw


def _softmax_kwargs(draw, shapes):
    ndim = len(shapes[0])
    return {"axis": draw(st.integers(-ndim, ndim - 1))}


# ------------------------------------------------------------------------- torch helpers
def _torch():
    import torch
    return torch


def _tdims(x, axis):
    """NumPy axis -> torch dim (a tuple covering every axis for None)."""
    if axis is None:
        return tuple(range(x.ndim))
    return axis


def _t_reduce(method):
    def fn(x, axis=None, keepdims=False, **kw):
        dim = 0 if x.ndim == 0 else _tdims(x, axis)  # torch reduces a 0-d tensor over dim 0
        return getattr(x, method)(dim=dim, keepdim=keepdims, **kw)
    return fn


def _t_var(method):
    def fn(x, axis=None, keepdims=False, correction=0):
        if x.ndim == 0:
            return getattr(x, method)(correction=correction)
        return getattr(x, method)(dim=_tdims(x, axis), keepdim=keepdims, correction=correction)
    return fn


def _to_torch_index(index):
    torch = _torch()
    if isinstance(index, tuple):
        return tuple(_to_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.as_tensor(index)
    return index


# ------------------------------------------------------------------------- ad helpers
def _on_device(value, like):
    """NumPy arrays inside kwargs (index arrays, where's condition) -> Tensors on `like`'s
    device; anything else unchanged."""
    if isinstance(value, tuple):
        return tuple(_on_device(v, like) for v in value)
    if isinstance(value, np.ndarray):
        return ad.tensor(value, device=like.device)
    return value


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_erf(x):
    from scipy import special
    return special.erf(x)


# ------------------------------------------------------------------------- shape-op makers
def _reshape_maker(draw):
    (shape,) = _one_shape()(draw)
    size = int(np.prod(shape))
    factors = []
    n, p = size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    factors = draw(st.permutations(factors)) if factors else []
    ngroups = draw(st.integers(0 if not factors else 1, max(1, len(factors))))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(factors) - 1)), max_size=ngroups - 1,
                                unique=True))) if len(factors) > 1 and ngroups > 1 else []
    bounds = [0] + cuts + [len(factors)]
    target = [int(np.prod(factors[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
    if not factors:
        target = [] if ngroups == 0 else [1]
    for _ in range(draw(st.integers(0, 1))):  # a unit axis somewhere
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):  # let reshape infer one length
        target[draw(st.integers(0, len(target) - 1))] = -1
    return [REAL.draw(draw, shape)], {"shape": tuple(target)}


def _transpose_maker(draw):
    (shape,) = _one_shape()(draw)
    axes = list(draw(st.permutations(range(len(shape)))))
    axes = tuple(a - len(shape) if draw(st.booleans()) else a for a in axes)
    return [REAL.draw(draw, shape)], {"axes": axes}


def _squeeze_maker(draw):
    shape = list(_one_shape()(draw)[0])
    for _ in range(draw(st.integers(0, 2))):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    shape = tuple(shape)
    units = [i for i, s in enumerate(shape) if s == 1]
    axis = None
    if units and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(units), min_size=1, unique=True))
        axis = chosen[0] if len(chosen) == 1 else tuple(chosen)
    return [REAL.draw(draw, shape)], {"axis": axis}


def _unsqueeze_maker(draw):
    (shape,) = _one_shape()(draw)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return [REAL.draw(draw, shape)], {"axis": axis}


def _flatten_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    nd = len(shape)
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    start = start - nd if draw(st.booleans()) else start
    end = end - nd if draw(st.booleans()) else end
    return [REAL.draw(draw, shape)], {"start_axis": start, "end_axis": end}


def _broadcast_to_maker(draw):
    shape, other = _broadcast(2)(draw)
    target = np.broadcast_shapes(shape, other)
    return [REAL.draw(draw, shape)], {"shape": tuple(target)}


def _concat_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    nd = len(shape)
    axis = draw(st.integers(-nd, nd - 1))
    arrays = []
    for _ in range(3):
        s = list(shape)
        s[axis] = draw(st.integers(1, 3))
        arrays.append(REAL.draw(draw, tuple(s)))
    return arrays, {"axis": axis}


def _stack_maker(draw):
    (shape,) = _one_shape()(draw)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return [REAL.draw(draw, shape) for _ in range(3)], {"axis": axis}


def _split_maker(draw):
    """torch.split's argument: a piece size (the last piece may be smaller) or a list of
    piece sizes summing to the dim's size (zeros allowed)."""
    (shape,) = _one_shape(min_dims=1)(draw)
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    n = shape[dim]
    if draw(st.booleans()):
        sizes = draw(st.integers(1, n))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return [REAL.draw(draw, shape)], {"split_size_or_sections": sizes, "dim": dim}


def _np_split(x, split_size_or_sections, dim):
    """torch.split's pieces, by NumPy: cut at the running sums of the piece sizes."""
    n = x.shape[dim]
    sizes = split_size_or_sections
    if isinstance(sizes, int):
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def _transpose_pair_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    nd = len(shape)
    return [REAL.draw(draw, shape)], {"dim0": draw(st.integers(-nd, nd - 1)),
                                      "dim1": draw(st.integers(-nd, nd - 1))}


def _np_transpose_pair(x, dim0, dim1):
    return np.swapaxes(x, dim0, dim1)


def _dim_kwargs(draw, shapes):
    """torch's max(dim)/min(dim): one dim, keepdim."""
    ndim = len(shapes[0])
    return {"dim": draw(st.integers(-ndim, ndim - 1)), "keepdim": draw(st.booleans())}


def _np_extremum_dim(fn):
    def ref(x, dim, keepdim):
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _pad_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    value = draw(st.sampled_from([0.0, 1.5]))
    return [REAL.draw(draw, shape)], {"pad_width": widths, "value": value}


def _basic_getitem_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                   allow_ellipsis=True))
    return [REAL.draw(draw, shape)], {"index": index}


def _int_index(draw, n, min_size=1, max_size=6):
    """An integer index array into an axis of length n; repeats and negatives likely."""
    size = draw(st.integers(min_size, max_size))
    return np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size)),
                      dtype=np.int64)


def _advanced_getitem_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    form = draw(st.sampled_from(["first", "later", "pair", "mask", "2d"]
                                if len(shape) > 1 else ["first", "mask", "2d"]))
    if form == "first":
        index = _int_index(draw, shape[0])
    elif form == "2d":
        index = _int_index(draw, shape[0], 4, 4).reshape(2, 2)
    elif form == "later":
        index = (slice(None), _int_index(draw, shape[1]))
    elif form == "pair":
        k = draw(st.integers(1, 5))
        index = (_int_index(draw, shape[0], k, k), _int_index(draw, shape[1], k, k))
    else:
        lead = draw(st.integers(1, len(shape)))
        index = draw(adt.tensors(shape=shape[:lead], dtype=ad.bool_)).numpy()
    return [REAL.draw(draw, shape)], {"index": index}


def _setitem_maker(draw):
    (shape,) = _one_shape(min_dims=1)(draw)
    if draw(st.booleans()):
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=False,
                                       allow_ellipsis=True))
    else:  # advanced, without repeats: assignment order would be unspecified
        k = draw(st.integers(1, shape[0]))
        index = np.asarray(draw(st.lists(st.integers(0, shape[0] - 1), min_size=k,
                                         max_size=k, unique=True)), dtype=np.int64)
    target = np.empty(shape)[index].shape
    # the value may itself broadcast: drop leading axes and/or shrink axes to 1
    drop = draw(st.integers(0, len(target)))
    vshape = tuple(1 if draw(st.booleans()) else s for s in target[drop:])
    return [REAL.draw(draw, shape), REAL.draw(draw, vshape)], {"index": index}


def _matmul_maker(draw):
    batch_a, batch_b = draw(adt.broadcastable_shapes(2, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a_vec, b_vec = draw(st.booleans()), draw(st.booleans())
    a_shape = (k,) if a_vec else batch_a + (n, k)
    b_shape = (k,) if b_vec else batch_b + (k, m)
    return [REAL.draw(draw, a_shape), REAL.draw(draw, b_shape)], {}


def _linear_maker(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    x_shape = draw(st.sampled_from([(k,), (n, k), (2, n, k)]))  # 1-D, (N, in), (N, L, in)
    return [REAL.draw(draw, x_shape), REAL.draw(draw, (m, k)), REAL.draw(draw, (m,))], {}


def _where_maker(draw):
    sa, sb, sc = _broadcast(3)(draw)
    cond = draw(adt.tensors(shape=sc, dtype=ad.bool_)).numpy()
    return [REAL.draw(draw, sa), REAL.draw(draw, sb)], {"cond": cond}


def _clip_maker(draw):
    (shape,) = _one_shape()(draw)
    # x on odd twentieths, bounds on even ones: never at a bound
    x = ODD.draw(draw, shape)
    lo = draw(st.sampled_from([None, -1.0, -0.2, 0.4]))
    hi = draw(st.sampled_from([None, 0.6, 1.0, 2.0] if lo is not None else [0.6, 1.0, 2.0]))
    return [x], {"lo": lo, "hi": hi}


def _setitem_ad(x, v, index):
    y = x.clone()
    y[_on_device(index, x)] = v
    return y


def _setitem_np(x, v, index):
    y = x.copy()
    y[index] = v
    return y


def _flat_positions(shape, index):
    """The flat positions NumPy's `index` selects from an array of `shape` (as a torch
    LongTensor of the result's shape): torch has no negative-step slices, but it can
    gather/scatter at explicit positions with the same meaning."""
    return _torch().as_tensor(np.arange(int(np.prod(shape))).reshape(shape)[index].copy())


def _getitem_torch(x, index):
    return x.reshape(-1)[_flat_positions(tuple(x.shape), index)]


def _setitem_torch(x, v, index):
    pos = _flat_positions(tuple(x.shape), index)
    y = x.clone().reshape(-1)
    y[pos.reshape(-1)] = v.broadcast_to(pos.shape).reshape(-1)
    return y.reshape(x.shape)


def _t_pad(x, pad_width, value):
    import torch.nn.functional as TF
    flat = [w for pair in reversed(pad_width) for w in pair]
    return TF.pad(x, flat, value=value)


def _t_split(x, split_size_or_sections, dim):
    return _torch().split(x, split_size_or_sections, dim)


def _t_reshape(x, shape):
    return x.reshape(shape)


def _t_unsqueeze(x, axis):
    return x.unsqueeze(axis)


def _t_squeeze(x, axis=None):
    if axis is None:
        return x.squeeze()
    return x.squeeze(axis)


# ------------------------------------------------------------------------- the table
def _ew(name, fn, np_fn, torch_fn, domains, dtypes=FLOATS, notes="", **extra):
    arity = len(domains)
    shapes = _one_shape() if arity == 1 else _broadcast(arity)
    return OpSpec(name, fn, np_fn, torch_fn, arity, tuple(domains), "elementwise", shapes,
                  dtypes=dtypes, notes=notes, **extra)


def _red(name, fn, np_fn, torch_fn, domain=REAL, kwargs=_axis_kwargs, dtypes=FLOATS,
         min_dims=0, min_side=1, notes=""):
    return OpSpec(name, fn, np_fn, torch_fn, 1, (domain,), "reduction",
                  _one_shape(min_dims, min_side), kwargs, dtypes=dtypes, notes=notes)


def _custom(name, fn, np_fn, torch_fn, arity, maker, kind="shape", dtypes=FLOATS_AND_INT,
            multi_output=False, notes=""):
    return OpSpec(name, fn, np_fn, torch_fn, arity, (), kind, None, dtypes=dtypes,
                  multi_output=multi_output, notes=notes, maker=maker)


def _t(name):
    """A torch function by name, looked up only when called (torch is optional)."""
    return lambda *args, **kw: getattr(_torch(), name)(*args, **kw)


OPS = [
    # --- elementwise binary (full broadcasting) and scalar/reflected operands
    _ew("add", lambda a, b: a + b, np.add, _t("add"), (REAL, REAL), FLOATS_AND_INT),
    _ew("sub", lambda a, b: a - b, np.subtract, _t("sub"), (REAL, REAL), FLOATS_AND_INT),
    _ew("mul", lambda a, b: a * b, np.multiply, _t("mul"), (REAL, REAL), FLOATS_AND_INT),
    _ew("div", lambda a, b: a / b, np.divide, _t("div"), (REAL, NONZERO)),
    _ew("pow", lambda a, b: a ** b, np.power, _t("pow"), (POSITIVE, SMALL),
        notes="base > 0 so a^b and its derivative in b (a^b ln a) are real"),
    _ew("maximum", ad.maximum, np.maximum, _t("maximum"), (EVEN, ODD), FLOATS_AND_INT,
        notes="inputs never tie (ties split the gradient; tested separately)"),
    _ew("minimum", ad.minimum, np.minimum, _t("minimum"), (EVEN, ODD), FLOATS_AND_INT),
    _ew("radd_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, lambda a: 2.5 + a, (REAL,)),
    _ew("rsub_scalar", lambda a: 1.5 - a, lambda a: 1.5 - a, lambda a: 1.5 - a, (REAL,)),
    _ew("mul_scalar", lambda a: a * -3.0, lambda a: a * -3.0, lambda a: a * -3.0, (REAL,)),
    _ew("rdiv_scalar", lambda a: 2.0 / a, lambda a: 2.0 / a, lambda a: 2.0 / a, (NONZERO,)),
    _ew("div_scalar", lambda a: a / 4.0, lambda a: a / 4.0, lambda a: a / 4.0, (REAL,)),
    _ew("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, lambda a: a ** 3, (SMALL,)),
    _ew("rpow_scalar", lambda a: 2.0 ** a, lambda a: 2.0 ** a, lambda a: 2.0 ** a, (SMALL,)),
    # --- elementwise unary
    _ew("neg", lambda a: -a, np.negative, _t("neg"), (REAL,), FLOATS_AND_INT),
    _ew("exp", ad.exp, np.exp, _t("exp"), (REAL,)),
    _ew("log", ad.log, np.log, _t("log"), (POSITIVE,)),
    _ew("sqrt", ad.sqrt, np.sqrt, _t("sqrt"), (POSITIVE,)),
    _ew("abs", ad.abs, np.abs, _t("abs"), (NONZERO,), FLOATS_AND_INT),
    _ew("tanh", ad.tanh, np.tanh, _t("tanh"), (REAL,)),
    _ew("sigmoid", ad.sigmoid, lambda a: 1 / (1 + np.exp(-a)), _t("sigmoid"),
        (Domain("interval", -6.0, 6.0),)),
    _ew("relu", ad.relu, lambda a: np.maximum(a, 0), _t("relu"), (NONZERO,)),
    _ew("erf", ad.erf, _np_erf, _t("erf"), (SMALL,)),
    _ew("atan", ad.atan, np.arctan, _t("atan"), (REAL,)),
    OpSpec("clip", lambda x, lo, hi: ad.clip(x, lo, hi), lambda x, lo, hi: np.clip(x, lo, hi),
           lambda x, lo, hi: _torch().clamp(x, lo, hi), 1, (ODD,), "elementwise", None,
           maker=_clip_maker, notes="x never equals a bound"),
    OpSpec("where", lambda a, b, cond: ad.where(_on_device(cond, a), a, b),
           lambda a, b, cond: np.where(cond, a, b),
           lambda a, b, cond: _torch().where(_torch().as_tensor(cond), a, b), 2,
           (REAL, REAL), "elementwise", None, maker=_where_maker, dtypes=FLOATS_AND_INT),
    # --- reductions over axis None / int / negative / tuple, keepdims
    _red("sum", ad.sum, np.sum, _t_reduce("sum"), dtypes=FLOATS_AND_INT),
    _red("mean", ad.mean, np.mean, _t_reduce("mean")),
    _red("var", ad.var, lambda x, axis, keepdims, correction:
         np.var(x, axis=axis, keepdims=keepdims, ddof=correction), _t_var("var"),
         kwargs=_var_kwargs),
    _red("std", ad.std, lambda x, axis, keepdims, correction:
         np.std(x, axis=axis, keepdims=keepdims, ddof=correction), _t_var("std"),
         domain=DISTINCT, kwargs=_var_kwargs, min_dims=1, min_side=2,
         notes="every axis has >= 2 distinct values so std > 0 (sqrt is not "
               "differentiable at 0)"),
    _red("max", _reduce.Max.apply, np.max, _t_reduce("amax"), domain=DISTINCT,
         dtypes=FLOATS_AND_INT, notes="the Max op over axes, as torch.amax (ad.max(x) when "
         "axis is None); distinct values: no ties (ties are tested separately)"),
    _red("min", _reduce.Min.apply, np.min, _t_reduce("amin"), domain=DISTINCT,
         dtypes=FLOATS_AND_INT),
    _red("max_dim", lambda x, dim, keepdim: ad.max(x, dim, keepdim).values,
         _np_extremum_dim(np.max), lambda x, dim, keepdim: x.max(dim, keepdim).values,
         domain=DISTINCT, kwargs=_dim_kwargs, dtypes=FLOATS_AND_INT, min_dims=1,
         notes="max(x, dim) -> (values, indices); the gradient goes to the index"),
    _red("min_dim", lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim).values,
         _np_extremum_dim(np.min), lambda x, dim, keepdim: x.min(dim, keepdim).values,
         domain=DISTINCT, kwargs=_dim_kwargs, dtypes=FLOATS_AND_INT, min_dims=1),
    _red("logsumexp", ad.logsumexp, _np_logsumexp, _t_reduce("logsumexp")),
    OpSpec("softmax", ad.softmax, _np_softmax, lambda x, axis: _torch().softmax(x, axis), 1,
           (REAL,), "reduction", _one_shape(min_dims=1), _softmax_kwargs),
    OpSpec("log_softmax", ad.log_softmax, _np_log_softmax,
           lambda x, axis: _torch().log_softmax(x, axis), 1, (REAL,), "reduction",
           _one_shape(min_dims=1), _softmax_kwargs),
    # --- linear algebra
    _custom("matmul", ad.matmul, np.matmul, _t("matmul"), 2, _matmul_maker, kind="matmul",
            notes="1-D operands on either side; batch dims broadcast"),
    _custom("linear", ad.linear, lambda x, w, b: x @ w.T + b,
            lambda x, w, b: _torch().nn.functional.linear(x, w, b), 3, _linear_maker,
            kind="matmul", dtypes=FLOATS,
            notes="x W^T + b with W (out, in); x 1-D, (N, in) or (N, L, in)"),
    # --- shape ops
    _custom("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
            _t_reshape, 1, _reshape_maker),
    _custom("transpose", lambda x, axes: x.permute(axes), lambda x, axes: x.transpose(axes),
            lambda x, axes: x.permute(axes), 1, _transpose_maker,
            notes="the Transpose op as torch's permute(dims)"),
    _custom("transpose_dims", lambda x, dim0, dim1: x.transpose(dim0, dim1),
            _np_transpose_pair, lambda x, dim0, dim1: x.transpose(dim0, dim1), 1,
            _transpose_pair_maker, notes="torch's transpose(dim0, dim1): swaps two dims"),
    _custom("squeeze", lambda x, axis: x.squeeze(axis), lambda x, axis: np.squeeze(x, axis),
            _t_squeeze, 1, _squeeze_maker),
    _custom("unsqueeze", lambda x, axis: x.unsqueeze(axis),
            lambda x, axis: np.expand_dims(x, axis), _t_unsqueeze, 1, _unsqueeze_maker),
    _custom("flatten", lambda x, start_axis, end_axis: x.flatten(start_axis, end_axis),
            lambda x, start_axis, end_axis: x.reshape(
                x.shape[:start_axis % x.ndim] + (-1,) + x.shape[end_axis % x.ndim + 1:]),
            lambda x, start_axis, end_axis: x.flatten(start_axis, end_axis), 1, _flatten_maker),
    _custom("broadcast_to", ad.broadcast_to, np.broadcast_to,
            lambda x, shape: x.broadcast_to(shape), 1, _broadcast_to_maker),
    _custom("concatenate", lambda *xs, axis: ad.concatenate(xs, axis=axis),
            lambda *xs, axis: np.concatenate(xs, axis=axis),
            lambda *xs, axis: _torch().cat(xs, dim=axis), 3, _concat_maker),
    _custom("stack", lambda *xs, axis: ad.stack(xs, axis=axis),
            lambda *xs, axis: np.stack(xs, axis=axis),
            lambda *xs, axis: _torch().stack(xs, dim=axis), 3, _stack_maker),
    _custom("split", lambda x, split_size_or_sections, dim: ad.split(x, split_size_or_sections,
                                                                    dim),
            _np_split, _t_split, 1, _split_maker, multi_output=True,
            notes="torch.split: pieces of a size, or of the listed sizes"),
    _custom("pad", lambda x, pad_width, value: ad.pad(x, pad_width, value),
            lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
            _t_pad, 1, _pad_maker),
    # --- indexing
    _custom("getitem_basic", lambda x, index: x[index], lambda x, index: x[index],
            _getitem_torch, 1, _basic_getitem_maker, kind="index",
            notes="ints, slices (negative steps too), None, Ellipsis; the torch reference "
                  "gathers the same flat positions (torch has no negative-step slices)"),
    _custom("getitem_advanced", lambda x, index: x[_on_device(index, x)],
            lambda x, index: x[index], lambda x, index: x[_to_torch_index(index)], 1,
            _advanced_getitem_maker, kind="index",
            notes="integer arrays with repeats and negatives, pairs, 2-D, boolean masks"),
    _custom("setitem", _setitem_ad, _setitem_np, _setitem_torch, 2, _setitem_maker,
            kind="index", notes="y = x.clone(); y[index] = v (basic, or advanced without "
                                "repeats); v may broadcast"),
]

# ------------------------------------------------------------------------- issue 13: elementwise
# Domains keep each input away from its op's kinks and jumps: ROUNDABLE (0.2 k + 0.05) is
# never an integer or a half; DIVISOR (0.6 (j + 1/2)) never divides a ROUNDABLE value
# exactly (4k + 1 is odd, 6 m (2j + 1) even), so floor(a / b) never jumps under a nudge.
ROUNDABLE = Domain("grid", -15, 15, offset=0.25)
DIVISOR = Domain("grid", -4, 3, offset=0.5, step=0.6)
DECIMALS = Domain("grid", -150, 150, offset=0.3, step=0.02)  # x * 10, x * 100: never a half
UNIT = Domain("interval", -0.9, 0.9)
PROBABILITY = Domain("interval", 0.1, 0.9)
CLAMPED_PROBABILITY = Domain("grid", 1, 8, offset=0.3, step=0.1)  # 0.13 ... 0.83: never at 0.25/0.75
HARD = Domain("grid", -20, 20, offset=0.5)       # +-0.1, ..., +-3.9: never at +-3 or +-1
RELU6 = Domain("grid", -10, 35, offset=0.5)      # -1.9 ... 6.9: never at 0 or 6
SPECIAL = Domain("special", -2.5, 1.5)
INTS = Domain("grid", -8, 8, step=1.0)
SHIFTS = Domain("grid", 0, 5, step=1.0)
OFFSET_QUARTER = Domain("grid", -15, 15, offset=0.25)  # never equal to EVEN or ODD values
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
BOOL = ad.bool_
INTEGERS = (I64, BOOL)


def _float_result(dtype):
    """The dtype of a float function's result: float32 for integer/bool inputs (torch)."""
    return dtype if np.dtype(dtype) in FLOATS else F32


def _bool_result(dtype):
    return BOOL


def _np_special(name):
    def fn(*args):
        from scipy import special
        return getattr(special, name)(*args)
    return fn


def _tF(name, **fixed):
    """A torch.nn.functional function by name, looked up only when called."""
    return lambda *args, **kw: getattr(_torch().nn.functional, name)(*args, **fixed, **kw)


def _clamp_maker(draw):
    """x, lo, hi with lo and hi broadcasting to x's shape (torch's clamp keeps x's shape)."""
    sx, slo, shi = _broadcast(3)(draw)
    sx = np.broadcast_shapes(sx, slo, shi)
    return [EVEN.draw(draw, sx), ODD.draw(draw, slo), OFFSET_QUARTER.draw(draw, shi)], {}


def _decimals_maker(draw):
    (shape,) = _one_shape()(draw)
    return [DECIMALS.draw(draw, shape)], {"decimals": draw(st.sampled_from([1, 2, -1]))}


_NO_GRAD = "bool or integer result: no gradient (forward, dtype and torch are tested)"

OPS += [
    # --- trigonometric and hyperbolic (integer inputs give float32)
    _ew("sin", ad.sin, np.sin, _t("sin"), (REAL,), FLOATS_AND_INT, out_dtype=_float_result),
    _ew("cos", ad.cos, np.cos, _t("cos"), (REAL,), FLOATS_AND_INT, out_dtype=_float_result),
    _ew("tan", ad.tan, np.tan, _t("tan"), (Domain("interval", -1.2, 1.2),)),
    _ew("asin", ad.asin, np.arcsin, _t("asin"), (UNIT,)),
    _ew("acos", ad.acos, np.arccos, _t("acos"), (UNIT,)),
    _ew("sinh", ad.sinh, np.sinh, _t("sinh"), (REAL,)),
    _ew("cosh", ad.cosh, np.cosh, _t("cosh"), (REAL,), FLOATS_AND_INT, out_dtype=_float_result),
    _ew("asinh", ad.asinh, np.arcsinh, _t("asinh"), (REAL,)),
    _ew("acosh", ad.acosh, np.arccosh, _t("acosh"), (Domain("interval", 1.2, 3.0),)),
    _ew("atanh", ad.atanh, np.arctanh, _t("atanh"), (UNIT,)),
    # --- logs, exponentials, powers, error functions
    _ew("log2", ad.log2, np.log2, _t("log2"), (POSITIVE,)),
    _ew("log10", ad.log10, np.log10, _t("log10"), (POSITIVE,)),
    _ew("log1p", ad.log1p, np.log1p, _t("log1p"), (POSITIVE,), FLOATS_AND_INT,
        out_dtype=_float_result),
    _ew("expm1", ad.expm1, np.expm1, _t("expm1"), (REAL,), FLOATS_AND_INT,
        out_dtype=_float_result),
    _ew("exp2", ad.exp2, np.exp2, _t("exp2"), (REAL,), FLOATS_AND_INT, out_dtype=_float_result),
    _ew("rsqrt", ad.rsqrt, lambda a: 1 / np.sqrt(a), _t("rsqrt"), (POSITIVE,)),
    _ew("square", ad.square, np.square, _t("square"), (REAL,), FLOATS_AND_INT),
    _ew("reciprocal", ad.reciprocal, np.reciprocal, _t("reciprocal"), (NONZERO,)),
    _ew("erfc", ad.erfc, _np_special("erfc"), _t("erfc"), (SMALL,)),
    _ew("erfinv", ad.erfinv, _np_special("erfinv"), _t("erfinv"), (UNIT,)),
    _ew("logit", ad.logit, _np_special("logit"), _t("logit"), (PROBABILITY,)),
    _ew("logit_eps", lambda x: ad.logit(x, eps=0.25),
        lambda x: _np_special("logit")(np.clip(x, 0.25, 0.75)),
        lambda x: _torch().logit(x, eps=0.25), (CLAMPED_PROBABILITY,),
        notes="clamped to [eps, 1 - eps]: zero gradient outside"),
    _ew("nan_to_num", ad.nan_to_num, np.nan_to_num, _t("nan_to_num"), (REAL,),
        notes="finite inputs (special values: tests/test_parity_elementwise.py)"),
    # --- activations
    _ew("softsign", ad.softsign, lambda x: x / (1 + np.abs(x)), _tF("softsign"), (NONZERO,),
        FLOATS_AND_INT, out_dtype=_float_result),
    _ew("hardtanh", ad.hardtanh, lambda x: np.clip(x, -1, 1), _tF("hardtanh"), (HARD,),
        FLOATS_AND_INT),
    _ew("relu6", ad.relu6, lambda x: np.clip(x, 0, 6), _tF("relu6"), (RELU6,), FLOATS_AND_INT),
    _ew("logsigmoid", ad.logsigmoid, lambda x: -np.logaddexp(0, -x), _tF("logsigmoid"),
        (REAL,)),
    _ew("mish", ad.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), _tF("mish"), (REAL,)),
    _ew("selu", ad.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        _tF("selu"), (NONZERO,)),
    _ew("celu", lambda x: ad.celu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5)),
        _tF("celu", alpha=0.5), (NONZERO,),
        notes="alpha 0.5: torch rounds 1/alpha to float32 (for 0.7: 2e-8 off in float64)"),
    _ew("hardswish", ad.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, _tF("hardswish"),
        (HARD,)),
    _ew("hardsigmoid", ad.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: _torch().nn.functional.relu6(x + 3) / 6, (HARD,),
        notes="torch reference relu6(x + 3) / 6: torch's own kernel uses 1/6 rounded to "
              "float32 in float64 (3e-8 off); F.hardsigmoid itself is compared in "
              "tests/test_parity_elementwise.py"),
    # --- rounding (zero gradient, as torch; integers keep their dtype)
    _ew("floor", ad.floor, np.floor, _t("floor"), (ROUNDABLE,), FLOATS_AND_INT),
    _ew("ceil", ad.ceil, np.ceil, _t("ceil"), (ROUNDABLE,), FLOATS_AND_INT),
    _ew("round", ad.round, np.round, _t("round"), (ROUNDABLE,), FLOATS_AND_INT),
    OpSpec("round_decimals", ad.round, np.round, lambda x, decimals: _torch().round(
        x, decimals=decimals), 1, (DECIMALS,), "elementwise", None, maker=_decimals_maker),
    _ew("trunc", ad.trunc, np.trunc, _t("trunc"), (ROUNDABLE,), FLOATS_AND_INT),
    _ew("frac", ad.frac, lambda x: x - np.trunc(x), _t("frac"), (ROUNDABLE,)),
    _ew("sign", ad.sign, np.sign, _t("sign"), (NONZERO,), FLOATS_AND_INT),
    _ew("remainder", ad.remainder, np.remainder, _t("remainder"), (ROUNDABLE, DIVISOR)),
    _ew("fmod", ad.fmod, np.fmod, _t("fmod"), (ROUNDABLE, DIVISOR)),
    _ew("floor_divide", ad.floor_divide, np.floor_divide,
        lambda a, b: _torch().div(a, b, rounding_mode="floor"), (ROUNDABLE, DIVISOR),
        notes="zero gradient as torch's div(rounding_mode='floor') (torch.floor_divide "
              "has the same values but raises in backward)"),
    _ew("div_trunc", lambda a, b: ad.div(a, b, rounding_mode="trunc"),
        lambda a, b: np.trunc(a / b), lambda a, b: _torch().div(a, b, rounding_mode="trunc"),
        (ROUNDABLE, DIVISOR)),
    # --- functions of two or three tensors
    _ew("atan2", ad.atan2, np.arctan2, _t("atan2"), (NONZERO, NONZERO), FLOATS_AND_INT,
        out_dtype=_float_result, notes="never (0, 0) nor on the branch cut"),
    _ew("hypot", ad.hypot, np.hypot, _t("hypot"), (REAL, NONZERO)),
    _ew("logaddexp", ad.logaddexp, np.logaddexp, _t("logaddexp"), (REAL, REAL)),
    _ew("logaddexp2", ad.logaddexp2, np.logaddexp2, _t("logaddexp2"), (REAL, REAL)),
    _ew("xlogy", ad.xlogy, _np_special("xlogy"), _t("xlogy"), (REAL, POSITIVE)),
    _ew("lerp", ad.lerp, lambda a, b, w: a + w * (b - a), _t("lerp"), (REAL, REAL, SMALL),
        FLOATS_AND_INT, out_dtype=_float_result),
    _ew("fmax", ad.fmax, np.fmax, _t("fmax"), (EVEN, ODD), FLOATS_AND_INT),
    _ew("fmin", ad.fmin, np.fmin, _t("fmin"), (EVEN, ODD), FLOATS_AND_INT),
    OpSpec("clamp_tensor", ad.clamp, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           _t("clamp"), 3, (EVEN, ODD, OFFSET_QUARTER), "elementwise", None,
           maker=_clamp_maker, notes="tensor bounds (differentiable), lo > hi included"),
    # --- tests of values and bitwise ops (bool/integer results, no gradient)
    _ew("isnan", ad.isnan, np.isnan, _t("isnan"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("isinf", ad.isinf, np.isinf, _t("isinf"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("isfinite", ad.isfinite, np.isfinite, _t("isfinite"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("isposinf", ad.isposinf, np.isposinf, _t("isposinf"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("isneginf", ad.isneginf, np.isneginf, _t("isneginf"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("signbit", ad.signbit, np.signbit, _t("signbit"), (SPECIAL,), differentiable=False,
        out_dtype=_bool_result, notes=_NO_GRAD),
    _ew("bitwise_and", ad.bitwise_and, np.bitwise_and, _t("bitwise_and"), (INTS, INTS),
        INTEGERS, differentiable=False, notes=_NO_GRAD),
    _ew("bitwise_or", ad.bitwise_or, np.bitwise_or, _t("bitwise_or"), (INTS, INTS),
        INTEGERS, differentiable=False, notes=_NO_GRAD),
    _ew("bitwise_xor", ad.bitwise_xor, np.bitwise_xor, _t("bitwise_xor"), (INTS, INTS),
        INTEGERS, differentiable=False, notes=_NO_GRAD),
    _ew("bitwise_not", ad.bitwise_not, np.invert, _t("bitwise_not"), (INTS,), INTEGERS,
        differentiable=False, notes=_NO_GRAD),
    _ew("left_shift", ad.bitwise_left_shift, np.left_shift, _t("bitwise_left_shift"),
        (INTS, SHIFTS), (I64,), differentiable=False, notes=_NO_GRAD),
    _ew("right_shift", ad.bitwise_right_shift, np.right_shift, _t("bitwise_right_shift"),
        (INTS, SHIFTS), (I64,), differentiable=False, notes=_NO_GRAD),
]

BY_NAME = {row.name: row for row in OPS}
assert len(BY_NAME) == len(OPS), "duplicate op names in the table"
DIFFERENTIABLE = [row for row in OPS if row.differentiable]


# ========================================================================================
# Structural ops of issue 13 (gathering/scattering, ordering, scans, rearranging, matrices
# from parts, torch's reductions, products, norms, solves, F.pad & co). Kwargs use torch's
# names (dim, keepdim); array kwargs (indices, masks, `other` tensors) are NumPy arrays
# that `_on_device` / `_tt` move to the tensor library under test.
# ========================================================================================
def _tt(value):
    """NumPy arrays inside kwargs -> torch tensors (for the torch references)."""
    if isinstance(value, tuple):
        return tuple(_tt(v) for v in value)
    if isinstance(value, np.ndarray):
        return _torch().as_tensor(value)
    return value


def _kw_ad(fn):
    """fn(*tensors, **kwargs) with array kwargs moved to the first tensor's device."""
    return lambda *xs, **kw: fn(*xs, **{k: _on_device(v, xs[0]) for k, v in kw.items()})


def _kw_torch(fn):
    return lambda *xs, **kw: fn(*xs, **{k: _tt(v) for k, v in kw.items()})


def _struct(name, fn, np_fn, torch_fn, arity, maker, kind="shape", dtypes=FLOATS,
            multi_output=False, notes="", **extra):
    return OpSpec(name, _kw_ad(fn), np_fn, None if torch_fn is None else _kw_torch(torch_fn),
                  arity, (), kind, None, dtypes=dtypes, multi_output=multi_output, notes=notes,
                  maker=maker, **extra)


SMALL_SHAPE = 3  # side of the structural rows' inputs (their Hessians are what costs)
NO_TIES = Domain("grid", -40, 40, step=0.1, unique=True)          # distinct, may be 0
NO_TIES_B = Domain("grid", -40, 40, offset=0.5, step=0.1, unique=True)  # never 0, never = NO_TIES
NO_ZERO = Domain("grid", -40, 40, offset=0.25, step=0.1, unique=True)   # distinct, never 0


def _shape_of(draw, min_dims=1, max_dims=MAX_DIMS, min_side=1, max_side=SMALL_SHAPE):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                 max_side=max_side))


def _a_dim(draw, ndim):
    """A dim of a tensor of rank ndim, negative half of the time."""
    d = draw(st.integers(0, max(ndim, 1) - 1))
    return d - max(ndim, 1) if draw(st.booleans()) else d


def _line(domain=REAL, min_dims=1, min_side=1, extra=None):
    """A maker: one input and a dim (plus extra(draw, shape, dim) kwargs)."""
    def maker(draw):
        shape = _shape_of(draw, min_dims=min_dims, min_side=min_side)
        dim = _a_dim(draw, len(shape))
        kw = {"dim": dim}
        if extra is not None:
            kw.update(extra(draw, shape, dim))
        return [domain.draw(draw, shape)], kw
    return maker


def _dims_kwargs(draw, shape, allow_none=True):
    """torch-style dim (None, an int, or a tuple) and keepdim."""
    kw = _axis_kwargs(draw, (shape,), allow_none)
    return {"dim": kw["axis"], "keepdim": kw["keepdims"]}


def _reducer(domain=REAL, min_side=1, extra=None, min_dims=0):
    def maker(draw):
        shape = _shape_of(draw, min_dims=min_dims, min_side=min_side)
        kw = _dims_kwargs(draw, shape)
        if extra is not None:
            kw.update(extra(draw, shape, kw))
        return [domain.draw(draw, shape)], kw
    return maker


def _np_axis(dim):
    return dim if dim is None or isinstance(dim, int) else tuple(dim)


def _t_dim(x, dim):
    """torch's spelling of 'every dim' for the reductions that need an explicit one."""
    return tuple(range(x.ndim)) if dim is None else dim


def _k_of(draw, shape, dim, lo=0):
    return {"k": draw(st.integers(lo, shape[dim]))}


def _np_lower_median(x, dim=None, keepdim=False):
    if dim is None:
        return np.sort(x.reshape(-1))[(x.size - 1) // 2]
    s = np.sort(x, axis=dim)
    out = np.take(s, [(x.shape[dim] - 1) // 2], axis=dim)
    return out if keepdim else np.squeeze(out, axis=dim)


def _np_mode(x, dim, keepdim=False):
    def line(v):
        values, counts = np.unique(v, return_counts=True)
        return values[np.argmax(counts)]
    out = np.apply_along_axis(line, dim, x)
    return np.expand_dims(out, dim) if keepdim else out


def _np_topk(x, k, dim, largest):
    s = np.sort(x, axis=dim)
    if largest:
        s = np.flip(s, axis=dim)
    return np.take(s, np.arange(k), axis=dim)


def _np_kthvalue(x, k, dim, keepdim):
    out = np.take(np.sort(x, axis=dim), [k - 1], axis=dim)
    return out if keepdim else np.squeeze(out, axis=dim)


def _np_prod(x, dim=None, keepdim=False):
    return np.prod(x, axis=dim, keepdims=keepdim if dim is not None else False)


def _t_prod(x, dim=None, keepdim=False):
    return x.prod() if dim is None else x.prod(dim, keepdim=keepdim)


def _np_logcumsumexp(x, dim):
    return np.logaddexp.accumulate(x, axis=dim)


def _prod_kwargs(draw, shape, dim):
    return {"dim": None if draw(st.booleans()) else dim, "keepdim": draw(st.booleans())}


def _sort_kwargs(draw, shape, dim):
    return {"descending": draw(st.booleans())}


def _topk_kwargs(draw, shape, dim):
    return {"k": draw(st.integers(0, shape[dim])), "largest": draw(st.booleans())}


def _kth_kwargs(draw, shape, dim):
    return {"k": draw(st.integers(1, shape[dim])), "keepdim": draw(st.booleans())}


def _keepdim_kwargs(draw, shape, dim):
    return {"keepdim": draw(st.booleans())}


def _correction_kwargs(draw, shape, kw):
    count = _reduced_count(shape, kw["dim"])
    return {"correction": draw(st.sampled_from([0, 1])) if count > 1 else 0}


def _np_moments(fn):
    def ref(x, dim=None, keepdim=False, correction=1):
        ax = _np_axis(dim)
        return (fn(x, axis=ax, keepdims=keepdim, ddof=correction),
                np.mean(x, axis=ax, keepdims=keepdim))
    return ref


def _t_moments(name):
    def ref(x, dim=None, keepdim=False, correction=1):
        return getattr(_torch(), name)(x, _t_dim(x, dim), correction=correction,
                                       keepdim=keepdim)
    return ref


# ---------------------------------------------------------------- rearranging makers
def _flip_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    return [REAL.draw(draw, shape)], {"dims": tuple(dims)}


def _roll_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    if draw(st.booleans()):
        return [REAL.draw(draw, shape)], {"shifts": draw(st.integers(-5, 5)), "dims": None}
    dims = tuple(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=2,
                               unique=True)))
    shifts = tuple(draw(st.integers(-4, 4)) for _ in dims)
    return [REAL.draw(draw, shape)], {"shifts": shifts, "dims": dims}


def _repeat_maker(draw):
    shape = _shape_of(draw, min_dims=0, max_dims=2)
    extra = draw(st.integers(0 if shape else 1, 1))  # torch's repeat() wants >= 1 size
    sizes = tuple(draw(st.integers(1, 2)) for _ in range(len(shape) + extra))
    return [REAL.draw(draw, shape)], {"sizes": sizes}


def _tile_maker(draw):
    shape = _shape_of(draw, min_dims=1, max_dims=2)
    dims = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(1, len(shape) + 1))))
    return [REAL.draw(draw, shape)], {"dims": dims}


def _repeat_interleave_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dim = None if draw(st.booleans()) else _a_dim(draw, len(shape))
    n = int(np.prod(shape)) if dim is None else shape[dim]
    if draw(st.booleans()):
        repeats = draw(st.integers(0, 2))
    else:
        repeats = np.asarray(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                             dtype=np.int64)
    return [REAL.draw(draw, shape)], {"repeats": repeats, "dim": dim}


def _np_repeat_interleave(x, repeats, dim):
    return np.repeat(x.reshape(-1) if dim is None else x, repeats,
                     axis=0 if dim is None else dim)


def _expand_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    sizes = [draw(st.integers(1, 3)) if s == 1 else (s if draw(st.booleans()) else -1)
             for s in shape]
    lead = [draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 1)))]
    return [REAL.draw(draw, shape)], {"sizes": tuple(lead + sizes)}


def _np_expand(x, sizes):
    lead = len(sizes) - x.ndim
    target = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return np.broadcast_to(x, target)


def _as_other_maker(draw):
    (x,), kw = _reshape_maker(draw)
    target = kw["shape"]
    if -1 in target:
        known = int(np.prod([s for s in target if s != -1]))
        target = tuple(x.size // known if s == -1 else s for s in target)
    return [x], {"other": np.zeros(target)}


def _expand_as_maker(draw):
    shape, other = _broadcast(2)(draw)
    target = np.broadcast_shapes(shape, other)
    return [REAL.draw(draw, shape)], {"other": np.zeros(target)}


def _narrow_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dim = _a_dim(draw, len(shape))
    n = shape[dim]
    start = draw(st.integers(0, n))
    length = draw(st.integers(0, n - start))
    if start < n and draw(st.booleans()):
        start -= n  # negative start counts from the end
    return [REAL.draw(draw, shape)], {"dim": dim, "start": start, "length": length}


def _select_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dim = _a_dim(draw, len(shape))
    return [REAL.draw(draw, shape)], {"dim": dim,
                                      "index": draw(st.integers(-shape[dim], shape[dim] - 1))}


def _chunk_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    return [REAL.draw(draw, shape)], {"chunks": draw(st.integers(1, 4)),
                                      "dim": _a_dim(draw, len(shape))}


def _np_chunk(x, chunks, dim):
    n = x.shape[dim]
    step = -(-n // chunks)
    return tuple(np.take(x, np.arange(s, min(s + step, n)), axis=dim) for s in range(0, n, step))


def _unflatten_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dim = _a_dim(draw, len(shape))
    n = shape[dim]
    a = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    sizes = [a, n // a]
    if draw(st.booleans()):
        sizes[draw(st.integers(0, 1))] = -1
    return [REAL.draw(draw, shape)], {"dim": dim, "sizes": tuple(sizes)}


def _np_unflatten(x, dim, sizes):
    dim %= x.ndim
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def _movedim_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    k = draw(st.integers(1, len(shape)))
    source = tuple(draw(st.permutations(range(len(shape))))[:k])
    destination = tuple(draw(st.permutations(range(len(shape))))[:k])
    return [REAL.draw(draw, shape)], {"source": source, "destination": destination}


def _swapdims_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    return [REAL.draw(draw, shape)], {"dim0": _a_dim(draw, len(shape)),
                                      "dim1": _a_dim(draw, len(shape))}


# ---------------------------------------------------------------- construction makers
def _diagonal_maker(draw):
    shape = _shape_of(draw, min_dims=2)
    d1, d2 = draw(st.permutations(range(len(shape))))[:2]
    return [REAL.draw(draw, shape)], {"offset": draw(st.integers(-3, 3)), "dim1": d1, "dim2": d2}


def _diag_embed_maker(draw):
    shape = _shape_of(draw, min_dims=1, max_dims=2)
    d1, d2 = draw(st.permutations(range(len(shape) + 1)))[:2]
    return [REAL.draw(draw, shape)], {"offset": draw(st.integers(-2, 2)), "dim1": d1, "dim2": d2}


def _np_diag_embed(x, offset, dim1, dim2):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
    k = np.arange(x.shape[-1])
    out[..., k + max(-offset, 0), k + max(offset, 0)] = x
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def _diag_maker(draw):
    shape = _shape_of(draw, min_dims=1, max_dims=2)
    return [REAL.draw(draw, shape)], {"diagonal": draw(st.integers(-3, 3))}


def _np_diag(x, diagonal):
    return np.diag(x, diagonal)


def _matrix_maker(draw):
    return [REAL.draw(draw, _shape_of(draw, min_dims=2, max_dims=2))], {}


def _tri_maker(draw):
    return [REAL.draw(draw, _shape_of(draw, min_dims=2))], {"diagonal": draw(st.integers(-3, 3))}


def _block_diag_maker(draw):
    shapes = [_shape_of(draw, min_dims=0, max_dims=2) for _ in range(3)]
    return [REAL.draw(draw, s) for s in shapes], {}


def _np_block_diag(*xs):
    mats = [x.reshape((1, 1) if x.ndim == 0 else (1, -1) if x.ndim == 1 else x.shape) for x in xs]
    out = np.zeros((sum(m.shape[0] for m in mats), sum(m.shape[1] for m in mats)))
    r = c = 0
    for m in mats:
        out[r:r + m.shape[0], c:c + m.shape[1]] = m
        r, c = r + m.shape[0], c + m.shape[1]
    return out


def _vectors_maker(n, indexing=False):
    def maker(draw):
        arrays = [REAL.draw(draw, (draw(st.integers(1, 3)),)) for _ in range(n)]
        return arrays, ({"indexing": draw(st.sampled_from(["ij", "xy"]))} if indexing else {})
    return maker


def _np_cartesian_prod(*xs):
    return np.stack([g.reshape(-1) for g in np.meshgrid(*xs, indexing="ij")], axis=1)


def _any_rank_maker(draw):
    return [REAL.draw(draw, _shape_of(draw, min_dims=0))], {}


# ---------------------------------------------------------------- index makers
def _index_along(draw, shape, dim, size, unique=False):
    """An index of positions in [0, size) with `shape` (unique along dim if asked)."""
    if not unique:
        flat = draw(st.lists(st.integers(0, size - 1), min_size=int(np.prod(shape)),
                             max_size=int(np.prod(shape))))
        return np.asarray(flat, dtype=np.int64).reshape(shape)
    lines = []
    moved = np.moveaxis(np.zeros(shape), dim, -1).shape
    for _ in range(int(np.prod(moved[:-1]))):
        lines.append(draw(st.permutations(range(size)))[:moved[-1]])
    return np.moveaxis(np.asarray(lines, dtype=np.int64).reshape(moved), -1, dim)


def _gather_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    dim = _a_dim(draw, len(shape))
    ishape = tuple(draw(st.integers(1, 3)) if d == dim % len(shape) else
                   draw(st.integers(1, s)) for d, s in enumerate(shape))
    return [REAL.draw(draw, shape)], {"dim": dim,
                                      "index": _index_along(draw, ishape, dim, shape[dim])}


def _np_gather(x, dim, index):
    return np.take_along_axis(_np_cut_other_dims(x, index.shape, dim), index, axis=dim)


def _np_cut_other_dims(x, shape, dim):
    dim %= x.ndim
    return x[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(shape))]


def _take_along_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    if draw(st.booleans()):
        return [REAL.draw(draw, shape)], {
            # (torch wraps negative indices along a dim but refuses them when flattened)
            "indices": np.asarray(draw(st.lists(st.integers(0, int(np.prod(shape)) - 1),
                                                min_size=1, max_size=5)), dtype=np.int64),
            "dim": None}
    dim = _a_dim(draw, len(shape))
    ishape = tuple(draw(st.integers(1, 3)) if d == dim % len(shape) else
                   draw(st.sampled_from([1, s])) for d, s in enumerate(shape))
    xshape = tuple(1 if d != dim % len(shape) and ishape[d] > 1 and draw(st.booleans()) else s
                   for d, s in enumerate(shape))
    index = _index_along(draw, ishape, dim, xshape[dim])
    return [REAL.draw(draw, xshape)], {"indices": index, "dim": dim}


def _np_take_along_dim(x, indices, dim):
    if dim is None:
        return x.reshape(-1)[indices]
    dim %= x.ndim
    outer = np.broadcast_shapes(*[s[:dim] + (1,) + s[dim + 1:]
                                  for s in (x.shape, indices.shape)])
    xb = np.broadcast_to(x, outer[:dim] + (x.shape[dim],) + outer[dim + 1:])
    ib = np.broadcast_to(indices, outer[:dim] + (indices.shape[dim],) + outer[dim + 1:])
    return np.take_along_axis(xb, ib, axis=dim)


def _scatter_maker(more_kwargs=None, unique=True, x_domain=REAL, src_domain=REAL):
    """x, src (of the index's shape: torch's backward refuses a larger src) and an index
    along dim (unique along dim when the scatter order would matter)."""
    def maker(draw):
        shape = _shape_of(draw, min_dims=1)
        dim = _a_dim(draw, len(shape))
        d = dim % len(shape)
        ishape = tuple(draw(st.integers(1, s)) for s in shape)
        kw = {"dim": dim, "index": _index_along(draw, ishape, d, shape[d], unique=unique)}
        if more_kwargs is not None:
            kw.update(more_kwargs(draw))
        return [x_domain.draw(draw, shape), src_domain.draw(draw, ishape)], kw
    return maker


def _np_scatter_positions(index, dim):
    dim %= index.ndim
    return tuple(index if d == dim else
                 np.arange(n).reshape([n if e == d else 1 for e in range(index.ndim)])
                 for d, n in enumerate(index.shape))


def _np_scatter(x, src, dim, index, reduce=None):
    out = x.copy()
    where = _np_scatter_positions(index, dim)
    part = src[tuple(slice(0, n) for n in index.shape)]
    if reduce == "add":
        np.add.at(out, where, part)
    else:
        out[where] = part
    return out


def _np_scatter_add(x, src, dim, index):
    return _np_scatter(x, src, dim, index, "add")


def _np_scatter_reduce(x, src, dim, index, reduce, include_self):
    where = _np_scatter_positions(index, dim)
    out = x.copy()
    hit = np.zeros(x.shape, bool)
    hit[where] = True
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
             "amin": np.minimum}[reduce]
    if not include_self:
        out[hit] = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
    ufunc.at(out, where, src)
    if reduce == "mean":
        count = np.zeros(x.shape)
        np.add.at(count, where, 1)
        out = out / (count + (1 if include_self else np.where(hit, 0, 1)))
    return out


def _reduce_kwargs(draw):
    return {"reduce": draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"])),
            "include_self": draw(st.booleans())}


def _scatter_kind_kwargs(draw):
    return {"reduce": draw(st.sampled_from([None, "add"]))}


def _rows_maker(kind):
    def maker(draw):
        shape = _shape_of(draw, min_dims=1)
        dim = _a_dim(draw, len(shape))
        n = shape[dim]
        if kind == "copy":  # unique rows: the copy order would be unspecified
            k = draw(st.integers(1, n))
            index = np.asarray(draw(st.permutations(range(n)))[:k], dtype=np.int64)
        else:
            index = np.asarray(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4)),
                               dtype=np.int64)
        kw = {"dim": dim, "index": index}
        arrays = [REAL.draw(draw, shape)]
        if kind in ("add", "copy"):
            arrays.append(REAL.draw(draw, shape[:dim % len(shape)] + (len(index),)
                                    + shape[dim % len(shape) + 1:]))
        if kind == "add":
            kw["alpha"] = draw(st.sampled_from([1, -0.5]))
        if kind == "fill":
            arrays.append(REAL.draw(draw, ()))
        return arrays, kw
    return maker


def _np_index_add(x, src, dim, index, alpha):
    out = x.copy()
    np.add.at(out, (slice(None),) * (dim % x.ndim) + (index,), alpha * src)
    return out


def _np_index_copy(x, src, dim, index):
    out = x.copy()
    out[(slice(None),) * (dim % x.ndim) + (index,)] = src
    return out


def _np_index_fill(x, value, dim, index):
    out = x.copy()
    out[(slice(None),) * (dim % x.ndim) + (index,)] = value
    return out


def _mask_maker(kind):
    def maker(draw):
        shape, mshape = _broadcast(2)(draw)
        if kind == "scatter":
            mshape = mshape[-len(shape):] if len(mshape) > len(shape) else mshape
        mask = draw(adt.tensors(shape=mshape, dtype=ad.bool_)).numpy()
        arrays = [REAL.draw(draw, shape)]
        if kind == "fill":
            arrays.append(REAL.draw(draw, ()))
        if kind == "scatter":
            n = int(np.broadcast_to(mask, np.broadcast_shapes(shape, mshape)).sum())
            arrays.append(REAL.draw(draw, (n + draw(st.integers(0, 2)),)))
        return arrays, {"mask": mask}
    return maker


def _np_masked_fill(x, value, mask):
    return np.where(mask, value, x)


def _np_masked_select(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)]


def _np_masked_scatter(x, src, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    out = np.broadcast_to(x, shape).copy()
    m = np.broadcast_to(mask, shape)
    out[m] = src[:int(m.sum())]
    return out


def _take_maker(draw):
    shape = _shape_of(draw, min_dims=0)
    n = int(np.prod(shape))
    ishape = _shape_of(draw, min_dims=0, max_dims=2)
    index = np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(ishape)),
                                     max_size=int(np.prod(ishape)))), dtype=np.int64)
    return [REAL.draw(draw, shape)], {"index": index.reshape(ishape)}


# ---------------------------------------------------------------- product makers
EINSUM_FORMS = [("ij,jk->ik", ((2, 3), (3, 2))), ("ij,jk", ((2, 3), (3, 2))),
                ("i,i->", ((3,), (3,))), ("i,j->ij", ((2,), (3,))),
                ("...ij,...jk->...ik", ((2, 1, 2, 3), (2, 3, 2))), ("bij,bkj->bik", ((2, 2, 3), (2, 1, 3))),
                ("ii,i->i", ((3, 3), (3,))), ("ij,ij->i", ((2, 3), (1, 3))),
                ("i j , j -> i", ((2, 3), (3,))), ("...,...->...", ((2, 3), ()))]


def _einsum_maker(draw):
    eq, shapes = draw(st.sampled_from(EINSUM_FORMS))
    return [REAL.draw(draw, s) for s in shapes], {"equation": eq}


def _fixed_shapes_maker(*shapes, domain=REAL):
    def maker(draw):
        n = draw(st.integers(1, 3))
        return [domain.draw(draw, tuple(n if s == "n" else s for s in shape))
                for shape in shapes], {}
    return maker


def _mm_maker(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    return [REAL.draw(draw, (n, k)), REAL.draw(draw, (k, m))], {}


def _bmm_maker(draw):
    b, n, k, m = (draw(st.integers(1, 3)) for _ in range(4))
    return [REAL.draw(draw, (b, n, k)), REAL.draw(draw, (b, k, m))], {}


def _mv_maker(draw):
    n, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return [REAL.draw(draw, (n, k)), REAL.draw(draw, (k,))], {}


def _dot_maker(draw):
    n = draw(st.integers(1, 4))
    return [REAL.draw(draw, (n,)), REAL.draw(draw, (n,))], {}


def _outer_maker(draw):
    return [REAL.draw(draw, (draw(st.integers(1, 3)),)), REAL.draw(draw, (draw(st.integers(1, 3)),))], {}


def _inner_maker(draw):
    k = draw(st.integers(1, 3))
    a = _shape_of(draw, min_dims=0, max_dims=2)
    b = _shape_of(draw, min_dims=0, max_dims=2)
    a = a[:-1] + (k,) if a else a
    b = b[:-1] + (k,) if b and a else b
    return [REAL.draw(draw, a), REAL.draw(draw, b)], {}


def _kron_maker(draw):
    return [REAL.draw(draw, _shape_of(draw, min_dims=1, max_dims=2, max_side=2)),
            REAL.draw(draw, _shape_of(draw, min_dims=1, max_dims=2, max_side=2))], {}


def _tensordot_maker(draw):
    k = draw(st.integers(0, 2))
    shared = _shape_of(draw, min_dims=k, max_dims=k) if k else ()
    a = _shape_of(draw, min_dims=0, max_dims=1) + shared
    b = shared + _shape_of(draw, min_dims=0, max_dims=1)
    if k and draw(st.booleans()):  # the (dims_a, dims_b) form
        dims = (list(range(len(a) - k, len(a))), list(range(k)))
    else:
        dims = k
    return [REAL.draw(draw, a), REAL.draw(draw, b)], {"dims": dims}


def _np_tensordot(a, b, dims):
    return np.tensordot(a, b, dims if isinstance(dims, int) else tuple(dims))


def _cross_maker(draw):
    shape = list(_shape_of(draw, min_dims=1, max_dims=3))
    dim = draw(st.integers(0, len(shape) - 1))
    shape[dim] = 3
    other = [s if draw(st.booleans()) else 1 for s in shape]
    other[dim] = 3
    return [REAL.draw(draw, tuple(shape)), REAL.draw(draw, tuple(other))], {"dim": dim}


# ---------------------------------------------------------------- norm makers
def _vector_norm_maker(draw):
    ord = draw(st.sampled_from([2, 1, 3, 0.5, np.inf, -np.inf, 0]))
    domain = NO_ZERO if ord in (np.inf, -np.inf) else NONZERO
    shape = _shape_of(draw, min_dims=0)
    kw = _dims_kwargs(draw, shape)
    return [domain.draw(draw, shape)], {"ord": ord, **kw}


def _np_vector_norm(x, ord, dim, keepdim):
    ax = _np_axis(dim)
    a = np.abs(x)
    if ord == np.inf:
        out = np.max(a, axis=ax, keepdims=keepdim)
    elif ord == -np.inf:
        out = np.min(a, axis=ax, keepdims=keepdim)
    elif ord == 0:
        out = np.sum(a != 0, axis=ax, keepdims=keepdim).astype(float)
    else:
        out = np.sum(a ** ord, axis=ax, keepdims=keepdim) ** (1 / ord)
    return out


def _matrix_norm_maker(draw):
    """Positive entries (no kink of |a|) with offsets that keep every row sum and every
    column sum apart by >= 1.5, even in half precision (no ties between the maxima)."""
    shape = _shape_of(draw, min_dims=2)
    d0, d1 = draw(st.permutations(range(len(shape))))[:2]
    grid = np.indices(shape)
    a = POSITIVE.draw(draw, shape) + 4.0 * grid[d0] + 12.0 * grid[d1]
    return [a], {"ord": draw(st.sampled_from(["fro", 1, -1, np.inf, -np.inf])),
                 "dim": (d0, d1), "keepdim": draw(st.booleans())}


def _np_matrix_norm(x, ord, dim, keepdim):
    moved = np.moveaxis(x, dim, (-2, -1))
    out = np.linalg.norm(moved, ord, axis=(-2, -1))
    if keepdim:
        for d in sorted(a % x.ndim for a in dim):
            out = np.expand_dims(out, d)
    return out


def _norm_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    p = draw(st.sampled_from(["fro", 1, 2, 3]))
    dim = draw(st.sampled_from([None, _a_dim(draw, len(shape))]))
    return [NONZERO.draw(draw, shape)], {"p": p, "dim": dim, "keepdim": draw(st.booleans())}


def _np_norm(x, p, dim, keepdim):
    p = 2 if p == "fro" else p
    return np.sum(np.abs(x) ** p, axis=dim, keepdims=keepdim) ** (1 / p)


def _cdist_maker(draw):
    m = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,)]))
    # two grids that never share a value: no coordinate difference is 0 (|.| has a kink)
    return [NO_TIES.draw(draw, batch + (draw(st.integers(1, 3)), m)),
            NO_TIES_B.draw(draw, (draw(st.integers(1, 3)), m))], {
        "p": draw(st.sampled_from([1.0, 2.0, 3.0]))}


def _t_cdist(a, b, p):
    return _torch().linalg.vector_norm(a[..., :, None, :] - b[..., None, :, :], p, -1)


def _np_cdist(a, b, p):
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    return np.sum(d ** p, axis=-1) ** (1 / p)


WELL_CONDITIONED = Domain("interval", -0.3, 0.3)  # + 2 I: far from singular


def _square_maker(n_extra=0):
    def maker(draw):
        n = draw(st.integers(1, 3))
        batch = draw(st.sampled_from([(), (2,)]))
        a = WELL_CONDITIONED.draw(draw, batch + (n, n)) + 2 * np.eye(n)
        arrays = [a]
        if n_extra:
            arrays.append(REAL.draw(draw, batch + draw(st.sampled_from([(n,), (n, 2)]))))
        return arrays, {}
    return maker


def _normalize_maker(draw):
    shape = _shape_of(draw, min_dims=1)
    return [NONZERO.draw(draw, shape)], {"p": draw(st.sampled_from([1.0, 2.0, 3.0])),
                                         "dim": _a_dim(draw, len(shape))}


def _np_normalize(x, p, dim):
    return x / np.maximum(np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1 / p), 1e-12)


def _cosine_maker(draw):
    s1, s2 = _broadcast(2)(draw)
    nd = max(len(s1), len(s2), 1)
    s1, s2 = (1,) * (nd - len(s1)) + s1, (1,) * (nd - len(s2)) + s2
    return [NONZERO.draw(draw, s1), NONZERO.draw(draw, s2)], {"dim": _a_dim(draw, nd)}


def _np_cosine(a, b, dim):
    a, b = np.broadcast_arrays(a, b)
    n1 = np.maximum(np.linalg.norm(a, axis=dim), 1e-8)
    n2 = np.maximum(np.linalg.norm(b, axis=dim), 1e-8)
    return np.sum(a * b, axis=dim) / (n1 * n2)


def _pairwise_maker(draw):
    s1, s2 = _broadcast(2)(draw)
    if not s1 and not s2:
        s1 = (2,)
    # two grids that never share a value: x1 - x2 + eps stays away from 0 (|.| has a kink)
    return [NO_TIES.draw(draw, s1), NO_TIES_B.draw(draw, s2)], {
        "p": draw(st.sampled_from([1.0, 2.0])), "keepdim": draw(st.booleans())}


def _np_pairwise(a, b, p, keepdim):
    return np.sum(np.abs(a - b + 1e-6) ** p, axis=-1, keepdims=keepdim) ** (1 / p)


def _F_pad_maker(draw):
    shape = _shape_of(draw, min_dims=2, min_side=2)
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, min(2, len(shape) - 1)))  # torch's modes want a batch dim
    widths = []
    for d in range(k):
        n = shape[len(shape) - 1 - d]
        lo = -1 if n > 2 else 0
        hi = n - 1 if mode == "reflect" else 2  # reflect: torch wants widths below the size
        widths += [draw(st.integers(lo, max(lo, hi))), draw(st.integers(lo, max(lo, hi)))]
    kw = {"pad": tuple(widths), "mode": mode}
    if mode == "constant":
        kw["value"] = draw(st.sampled_from([0.0, 1.5]))
    return [REAL.draw(draw, shape)], kw


def _np_F_pad(x, pad, mode, value=0.0):
    if mode == "reflect":  # torch reflects the output positions -left .. n + right - 1
        for i in range(len(pad) // 2):   # about the ends of the uncropped input
            d, n = x.ndim - 1 - i, x.shape[x.ndim - 1 - i]
            index = np.abs(np.arange(-pad[2 * i], n + pad[2 * i + 1]))
            x = np.take(x, np.where(index > n - 1, 2 * (n - 1) - index, index), axis=d)
        return x
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for i in range(len(pad) // 2):
        d = x.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        crop[d] = slice(max(-left, 0), x.shape[d] - max(-right, 0))
        widths[d] = (max(left, 0), max(right, 0))
    x = x[tuple(crop)]
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    if mode == "constant":
        return np.pad(x, widths, constant_values=value)
    return np.pad(x, widths, mode=np_mode)


def _unfold_maker(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    return [REAL.draw(draw, (n, c, h, w))], {"kernel_size": (kh, kw),
                                             "stride": draw(st.sampled_from([1, 2])),
                                             "padding": draw(st.sampled_from([0, 1]))}


def _np_unfold(x, kernel_size, stride, padding):
    kh, kw = kernel_size
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, w = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride * (oh - 1) + 1:stride,
                                 j:j + stride * (ow - 1) + 1:stride]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _s(name):
    """A torch.<name> reference (looked up only when called)."""
    return _t(name)


STRUCTURAL_OPS = [
    # --- scans and prod
    _struct("cumsum", ad.cumsum, lambda x, dim: np.cumsum(x, axis=dim), _s("cumsum"), 1,
            _line(), kind="reduction", dtypes=FLOATS_AND_INT),
    _struct("cumprod", ad.cumprod, lambda x, dim: np.cumprod(x, axis=dim), _s("cumprod"), 1,
            _line(NONZERO), kind="reduction", dtypes=FLOATS_AND_INT,
            notes="|x| >= 0.5 (y / x with a tiny x underflows, in torch too); zeros in x: "
                  "tests/test_structural_ops.py (gradients to second order)"),
    _struct("cummax", lambda x, dim: ad.cummax(x, dim).values,
            lambda x, dim: np.maximum.accumulate(x, axis=dim),
            lambda x, dim: _torch().cummax(x, dim).values, 1, _line(NO_TIES),
            kind="reduction", dtypes=FLOATS_AND_INT, notes="values; indices in the parity suite"),
    _struct("cummin", lambda x, dim: ad.cummin(x, dim).values,
            lambda x, dim: np.minimum.accumulate(x, axis=dim),
            lambda x, dim: _torch().cummin(x, dim).values, 1, _line(NO_TIES),
            kind="reduction", dtypes=FLOATS_AND_INT),
    _struct("logcumsumexp", ad.logcumsumexp, _np_logcumsumexp, _s("logcumsumexp"), 1, _line(),
            kind="reduction"),
    _struct("prod", ad.prod, _np_prod, _t_prod, 1,
            _line(NONZERO, extra=_prod_kwargs),
            kind="reduction", dtypes=FLOATS_AND_INT),
    # --- ordering (values; the indices are checked in the parity suite)
    _struct("sort", lambda x, dim, descending: ad.sort(x, dim, descending).values,
            lambda x, dim, descending: (np.flip(np.sort(x, axis=dim), axis=dim) if descending
                                        else np.sort(x, axis=dim)),
            lambda x, dim, descending: _torch().sort(x, dim, descending).values, 1,
            _line(NO_TIES, extra=_sort_kwargs), kind="index", dtypes=FLOATS_AND_INT),
    _struct("topk", lambda x, dim, k, largest: ad.topk(x, k, dim, largest).values,
            lambda x, dim, k, largest: _np_topk(x, k, dim, largest),
            lambda x, dim, k, largest: _torch().topk(x, k, dim, largest).values, 1,
            _line(NO_TIES, extra=_topk_kwargs), kind="index", dtypes=FLOATS_AND_INT),
    _struct("kthvalue", lambda x, dim, k, keepdim: ad.kthvalue(x, k, dim, keepdim).values,
            lambda x, dim, k, keepdim: _np_kthvalue(x, k, dim, keepdim),
            lambda x, dim, k, keepdim: _torch().kthvalue(x, k, dim, keepdim).values, 1,
            _line(NO_TIES, extra=_kth_kwargs), kind="index", dtypes=FLOATS_AND_INT),
    _struct("median", lambda x, dim, keepdim: ad.median(x, dim, keepdim).values,
            _np_lower_median, lambda x, dim, keepdim: _torch().median(x, dim, keepdim).values, 1,
            _line(NO_TIES, extra=_keepdim_kwargs), kind="index", dtypes=FLOATS_AND_INT,
            notes="torch's lower median"),
    _struct("median_all", ad.median, _np_lower_median, _s("median"), 1,
            lambda draw: ([NO_TIES.draw(draw, _shape_of(draw, min_dims=0))], {}), kind="index",
            dtypes=FLOATS_AND_INT),
    _struct("nanmedian", lambda x, dim, keepdim: ad.nanmedian(x, dim, keepdim).values,
            _np_lower_median, lambda x, dim, keepdim: _torch().nanmedian(x, dim, keepdim).values,
            1, _line(NO_TIES, extra=_keepdim_kwargs), kind="index",
            notes="NaN entries: the parity suite"),
    _struct("mode", lambda x, dim, keepdim: ad.mode(x, dim, keepdim).values, _np_mode,
            lambda x, dim, keepdim: _torch().mode(x, dim, keepdim).values, 1,
            _line(NO_TIES, extra=_keepdim_kwargs), kind="index",
            notes="distinct values (the mode is the minimum); repeats: the parity suite"),
    # --- torch's reductions
    _struct("amax", ad.amax, lambda x, dim, keepdim: np.max(x, axis=_np_axis(dim),
                                                              keepdims=keepdim),
            lambda x, dim, keepdim: _torch().amax(x, () if dim is None else dim, keepdim), 1,
            _reducer(NO_TIES), kind="reduction", dtypes=FLOATS_AND_INT,
            notes="ties split the gradient evenly: tests/test_structural_ops.py"),
    _struct("amin", ad.amin, lambda x, dim, keepdim: np.min(x, axis=_np_axis(dim),
                                                              keepdims=keepdim),
            lambda x, dim, keepdim: _torch().amin(x, () if dim is None else dim, keepdim), 1,
            _reducer(NO_TIES), kind="reduction", dtypes=FLOATS_AND_INT),
    _struct("aminmax", lambda x, dim, keepdim: tuple(ad.aminmax(x, dim=dim, keepdim=keepdim)),
            lambda x, dim, keepdim: (np.min(x, axis=dim, keepdims=keepdim),
                                     np.max(x, axis=dim, keepdims=keepdim)),
            lambda x, dim, keepdim: tuple(_torch().aminmax(x, dim=dim, keepdim=keepdim)), 1,
            lambda draw: (lambda shape: ([NO_TIES.draw(draw, shape)], {
                "dim": draw(st.sampled_from([None] + list(range(len(shape))))),
                "keepdim": draw(st.booleans())}))(_shape_of(draw, min_dims=1)),
            kind="reduction", dtypes=FLOATS_AND_INT, multi_output=True),
    _struct("std_mean", lambda x, dim, keepdim, correction: ad.std_mean(
                x, dim, keepdim=keepdim, correction=correction),
            _np_moments(np.std), _t_moments("std_mean"), 1,
            _reducer(NO_TIES, min_side=2, extra=_correction_kwargs, min_dims=1),
            kind="reduction", multi_output=True),
    _struct("var_mean", lambda x, dim, keepdim, correction: ad.var_mean(
                x, dim, keepdim=keepdim, correction=correction),
            _np_moments(np.var), _t_moments("var_mean"), 1,
            _reducer(extra=_correction_kwargs), kind="reduction", multi_output=True),
    _struct("nansum", ad.nansum, lambda x, dim, keepdim: np.nansum(x, axis=_np_axis(dim),
                                                                    keepdims=keepdim),
            lambda x, dim, keepdim: _torch().nansum(x, _t_dim(x, dim), keepdim), 1, _reducer(),
            kind="reduction", dtypes=FLOATS_AND_INT, notes="NaN inputs: the parity suite"),
    _struct("nanmean", ad.nanmean, lambda x, dim, keepdim: np.nanmean(x, axis=_np_axis(dim),
                                                                      keepdims=keepdim),
            lambda x, dim, keepdim: _torch().nanmean(x, _t_dim(x, dim), keepdim), 1, _reducer(),
            kind="reduction"),
    # --- rearranging
    _struct("flip", ad.flip, lambda x, dims: np.flip(x, axis=dims), _s("flip"), 1, _flip_maker,
            dtypes=FLOATS_AND_INT),
    _struct("fliplr", ad.fliplr, np.fliplr, _s("fliplr"), 1,
            lambda draw: ([REAL.draw(draw, _shape_of(draw, min_dims=2))], {}),
            dtypes=FLOATS_AND_INT),
    _struct("flipud", ad.flipud, np.flipud, _s("flipud"), 1,
            lambda draw: ([REAL.draw(draw, _shape_of(draw, min_dims=1))], {}),
            dtypes=FLOATS_AND_INT),
    _struct("roll", ad.roll, lambda x, shifts, dims: np.roll(x, shifts, axis=dims), _s("roll"),
            1, _roll_maker, dtypes=FLOATS_AND_INT),
    _struct("repeat", lambda x, sizes: ad.repeat(x, *sizes),
            lambda x, sizes: np.tile(x.reshape((1,) * (len(sizes) - x.ndim) + x.shape), sizes),
            lambda x, sizes: x.repeat(*sizes), 1, _repeat_maker, dtypes=FLOATS_AND_INT,
            notes="torch's repeat (NumPy's tile), not NumPy's repeat"),
    _struct("tile", ad.tile, lambda x, dims: np.tile(x, dims), _s("tile"), 1, _tile_maker,
            dtypes=FLOATS_AND_INT),
    _struct("repeat_interleave", ad.repeat_interleave, _np_repeat_interleave,
            _s("repeat_interleave"), 1, _repeat_interleave_maker, dtypes=FLOATS_AND_INT),
    _struct("expand", lambda x, sizes: ad.expand(x, *sizes), _np_expand,
            lambda x, sizes: x.expand(*sizes), 1, _expand_maker, dtypes=FLOATS_AND_INT),
    _struct("expand_as", ad.expand_as, lambda x, other: np.broadcast_to(x, other.shape),
            lambda x, other: x.expand_as(other), 1, _expand_as_maker, dtypes=FLOATS_AND_INT),
    _struct("view", lambda x, shape: ad.view(x, shape), lambda x, shape: x.reshape(shape),
            lambda x, shape: x.view(shape), 1, _reshape_maker, dtypes=FLOATS_AND_INT),
    _struct("view_as", ad.view_as, lambda x, other: x.reshape(other.shape),
            lambda x, other: x.view_as(other), 1, _as_other_maker, dtypes=FLOATS_AND_INT),
    _struct("reshape_as", ad.reshape_as, lambda x, other: x.reshape(other.shape),
            lambda x, other: x.reshape_as(other), 1, _as_other_maker, dtypes=FLOATS_AND_INT),
    _struct("narrow", ad.narrow,
            lambda x, dim, start, length: np.take(
                x, np.arange(start % x.shape[dim] if start < 0 else start,
                             (start % x.shape[dim] if start < 0 else start) + length), axis=dim),
            _s("narrow"), 1, _narrow_maker, dtypes=FLOATS_AND_INT),
    _struct("select", ad.select, lambda x, dim, index: np.take(x, index, axis=dim),
            _s("select"), 1, _select_maker, dtypes=FLOATS_AND_INT),
    _struct("chunk", ad.chunk, _np_chunk, _s("chunk"), 1, _chunk_maker, dtypes=FLOATS_AND_INT,
            multi_output=True),
    _struct("unbind", lambda x, dim: ad.unbind(x, dim),
            lambda x, dim: tuple(np.moveaxis(x, dim, 0)), _s("unbind"), 1, _line(),
            dtypes=FLOATS_AND_INT, multi_output=True),
    _struct("unflatten", ad.unflatten, _np_unflatten, _s("unflatten"), 1, _unflatten_maker,
            dtypes=FLOATS_AND_INT),
    _struct("movedim", ad.movedim, lambda x, source, destination: np.moveaxis(x, source,
                                                                             destination),
            _s("movedim"), 1, _movedim_maker, dtypes=FLOATS_AND_INT),
    _struct("swapdims", ad.swapdims, lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
            _s("swapdims"), 1, _swapdims_maker, dtypes=FLOATS_AND_INT),
    # --- matrices from parts
    _struct("diagonal", ad.diagonal, lambda x, offset, dim1, dim2: np.diagonal(x, offset, dim1,
                                                                              dim2),
            _s("diagonal"), 1, _diagonal_maker, dtypes=FLOATS_AND_INT),
    _struct("diag_embed", ad.diag_embed, _np_diag_embed, _s("diag_embed"), 1,
            _diag_embed_maker, dtypes=FLOATS_AND_INT),
    _struct("diag", ad.diag, _np_diag, _s("diag"), 1, _diag_maker, dtypes=FLOATS_AND_INT),
    _struct("trace", ad.trace, np.trace, _s("trace"), 1, _matrix_maker, kind="reduction"),
    _struct("tril", ad.tril, lambda x, diagonal: np.tril(x, diagonal), _s("tril"), 1,
            _tri_maker, dtypes=FLOATS_AND_INT),
    _struct("triu", ad.triu, lambda x, diagonal: np.triu(x, diagonal), _s("triu"), 1,
            _tri_maker, dtypes=FLOATS_AND_INT),
    _struct("block_diag", ad.block_diag, _np_block_diag, _s("block_diag"), 3,
            _block_diag_maker, dtypes=FLOATS_AND_INT),
    _struct("meshgrid", lambda *xs, indexing: ad.meshgrid(*xs, indexing=indexing),
            lambda *xs, indexing: tuple(np.meshgrid(*xs, indexing=indexing)),
            lambda *xs, indexing: _torch().meshgrid(*xs, indexing=indexing), 3,
            _vectors_maker(3, indexing=True), dtypes=FLOATS_AND_INT, multi_output=True),
    _struct("cartesian_prod", ad.cartesian_prod, _np_cartesian_prod, _s("cartesian_prod"), 2,
            _vectors_maker(2), dtypes=FLOATS_AND_INT),
    _struct("atleast_1d", ad.atleast_1d, np.atleast_1d, _s("atleast_1d"), 1, _any_rank_maker,
            dtypes=FLOATS_AND_INT),
    _struct("atleast_2d", ad.atleast_2d, np.atleast_2d, _s("atleast_2d"), 1, _any_rank_maker,
            dtypes=FLOATS_AND_INT),
    _struct("atleast_3d", ad.atleast_3d, lambda x: (x.reshape(1, -1, 1) if x.ndim == 1 else
                                                    np.atleast_3d(x)),
            _s("atleast_3d"), 1, _any_rank_maker, dtypes=FLOATS_AND_INT,
            notes="torch and NumPy agree except for 1-D inputs: (n,) -> (1, n, 1) in both"),
    # --- gathering and scattering
    _struct("gather", ad.gather, _np_gather, _s("gather"), 1, _gather_maker, kind="index",
            dtypes=FLOATS_AND_INT),
    _struct("take_along_dim", ad.take_along_dim, _np_take_along_dim, _s("take_along_dim"), 1,
            _take_along_maker, kind="index", dtypes=FLOATS_AND_INT),
    _struct("scatter", lambda x, src, dim, index, reduce: ad.scatter(x, dim, index, src,
                                                                     reduce=reduce),
            lambda x, src, dim, index, reduce: _np_scatter(x, src, dim, index, reduce),
            lambda x, src, dim, index, reduce: _torch().scatter_add(x, dim, index, src)
            if reduce else _torch().scatter(x, dim, index, src), 2,
            _scatter_maker(_scatter_kind_kwargs), kind="index", dtypes=FLOATS_AND_INT),
    _struct("scatter_add", lambda x, src, dim, index: ad.scatter_add(x, dim, index, src),
            _np_scatter_add, lambda x, src, dim, index: _torch().scatter_add(x, dim, index, src),
            2, _scatter_maker(unique=False), kind="index", dtypes=FLOATS_AND_INT),
    _struct("scatter_reduce", lambda x, src, dim, index, reduce, include_self: ad.scatter_reduce(
                x, dim, index, src, reduce, include_self=include_self),
            lambda x, src, dim, index, reduce, include_self: _np_scatter_reduce(
                x, src, dim, index, reduce, include_self),
            lambda x, src, dim, index, reduce, include_self: _torch().scatter_reduce(
                x, dim, index, src, reduce, include_self=include_self), 2,
            _scatter_maker(_reduce_kwargs, unique=False, x_domain=NO_ZERO, src_domain=NO_TIES_B),
            kind="index", notes="no ties and no zeros (tests/test_structural_ops.py has both)"),
    _struct("index_select", ad.index_select, lambda x, dim, index: np.take(x, index, axis=dim),
            _s("index_select"), 1, _rows_maker("select"), kind="index", dtypes=FLOATS_AND_INT),
    _struct("index_add", lambda x, src, dim, index, alpha: ad.index_add(x, dim, index, src,
                                                                         alpha=alpha),
            _np_index_add, lambda x, src, dim, index, alpha: _torch().index_add(
                x, dim, index, src, alpha=alpha), 2, _rows_maker("add"), kind="index"),
    _struct("index_copy", lambda x, src, dim, index: ad.index_copy(x, dim, index, src),
            _np_index_copy, lambda x, src, dim, index: _torch().index_copy(x, dim, index, src),
            2, _rows_maker("copy"), kind="index", dtypes=FLOATS_AND_INT),
    _struct("index_fill", lambda x, v, dim, index: ad.index_fill(x, dim, index, v),
            _np_index_fill, lambda x, v, dim, index: _torch().index_fill(x, dim, index, v), 2,
            _rows_maker("fill"), kind="index", notes="the value is a 0-d tensor (differentiated)"),
    _struct("masked_fill", lambda x, v, mask: ad.masked_fill(x, mask, v), _np_masked_fill,
            lambda x, v, mask: _torch().masked_fill(x, mask, v), 2, _mask_maker("fill"),
            kind="index"),
    _struct("masked_select", lambda x, mask: ad.masked_select(x, mask), _np_masked_select,
            lambda x, mask: _torch().masked_select(x, mask), 1, _mask_maker("select"),
            kind="index", dtypes=FLOATS_AND_INT),
    _struct("masked_scatter", lambda x, src, mask: ad.masked_scatter(x, mask, src),
            _np_masked_scatter, lambda x, src, mask: x.masked_scatter(mask, src), 2,
            _mask_maker("scatter"), kind="index"),
    _struct("take", ad.take, lambda x, index: x.reshape(-1)[index], _s("take"), 1, _take_maker,
            kind="index", dtypes=FLOATS_AND_INT),
    # --- products
    _struct("einsum", lambda *xs, equation: ad.einsum(equation, *xs),
            lambda *xs, equation: np.einsum(equation.replace(" ", ""), *xs),
            lambda *xs, equation: _torch().einsum(equation, *xs), 2, _einsum_maker,
            kind="matmul"),
    _struct("outer", ad.outer, np.outer, _s("outer"), 2, _outer_maker, kind="matmul",
            dtypes=FLOATS_AND_INT),
    _struct("mm", ad.mm, np.matmul, _s("mm"), 2, _mm_maker, kind="matmul"),
    _struct("bmm", ad.bmm, np.matmul, _s("bmm"), 2, _bmm_maker, kind="matmul"),
    _struct("mv", ad.mv, np.matmul, _s("mv"), 2, _mv_maker, kind="matmul"),
    _struct("dot", ad.dot, np.dot, _s("dot"), 2, _dot_maker, kind="matmul"),
    _struct("vdot", ad.vdot, np.vdot, _s("vdot"), 2, _dot_maker, kind="matmul"),
    _struct("inner", ad.inner, np.inner, _s("inner"), 2, _inner_maker, kind="matmul"),
    _struct("kron", ad.kron, np.kron, _s("kron"), 2, _kron_maker, kind="matmul",
            dtypes=FLOATS_AND_INT),
    _struct("tensordot", ad.tensordot, _np_tensordot, _s("tensordot"), 2, _tensordot_maker,
            kind="matmul"),
    _struct("cross", ad.cross, lambda a, b, dim: np.cross(a, b, axis=dim), _s("cross"), 2,
            _cross_maker, kind="matmul"),
    # --- norms and distances
    _struct("vector_norm", lambda x, ord, dim, keepdim: ad.linalg.vector_norm(x, ord, dim,
                                                                              keepdim),
            _np_vector_norm, lambda x, ord, dim, keepdim: _torch().linalg.vector_norm(
                x, ord, dim, keepdim), 1, _vector_norm_maker, kind="reduction",
            notes="p = 2, 1, 3, 0.5, inf, -inf, 0; entries away from 0 and (for inf) from "
                  "ties; gradients at 0: tests/test_structural_ops.py"),
    _struct("matrix_norm", lambda x, ord, dim, keepdim: ad.linalg.matrix_norm(x, ord, dim,
                                                                              keepdim),
            _np_matrix_norm, lambda x, ord, dim, keepdim: _torch().linalg.matrix_norm(
                x, ord, dim, keepdim), 1, _matrix_norm_maker, kind="reduction",
            notes="'fro', 1, -1, inf, -inf ('nuc', 2, -2 are differentiable once: parity "
                  "suite)"),
    _struct("norm", ad.norm, _np_norm, _s("norm"), 1, _norm_maker, kind="reduction"),
    _struct("cdist", ad.cdist, _np_cdist, _t_cdist, 2, _cdist_maker, kind="reduction",
            notes="the direct form (<= 25 rows); the torch reference is cdist's definition "
                  "(torch.cdist is not twice differentiable); torch.cdist itself and the "
                  "matrix-product form: the parity suite"),
    _struct("det", ad.linalg.det, np.linalg.det, lambda a: _torch().linalg.det(a), 1,
            _square_maker(), kind="matmul", dtypes=(F32, F64)),
    _struct("inv", ad.linalg.inv, np.linalg.inv, lambda a: _torch().linalg.inv(a), 1,
            _square_maker(), kind="matmul", dtypes=(F32, F64)),
    _struct("solve", ad.linalg.solve,
            lambda a, b: (np.linalg.solve(a, b[..., None])[..., 0]
                          if b.ndim == a.ndim - 1 else np.linalg.solve(a, b)),
            lambda a, b: _torch().linalg.solve(a, b), 2, _square_maker(1), kind="matmul",
            dtypes=(F32, F64)),
    _struct("slogdet", lambda a: ad.linalg.slogdet(a).logabsdet,
            lambda a: np.linalg.slogdet(a)[1], lambda a: _torch().linalg.slogdet(a).logabsdet,
            1, _square_maker(), kind="matmul", dtypes=(F32, F64)),
    # --- nn.functional
    _struct("F.normalize", lambda x, p, dim: _nnF().normalize(x, p, dim), _np_normalize,
            lambda x, p, dim: _torch().nn.functional.normalize(x, p, dim), 1, _normalize_maker,
            kind="reduction"),
    _struct("F.cosine_similarity", lambda a, b, dim: _nnF().cosine_similarity(a, b, dim),
            _np_cosine, lambda a, b, dim: _torch().nn.functional.cosine_similarity(a, b, dim), 2,
            _cosine_maker, kind="reduction"),
    _struct("F.pairwise_distance", lambda a, b, p, keepdim: _nnF().pairwise_distance(
                a, b, p, keepdim=keepdim), _np_pairwise,
            lambda a, b, p, keepdim: _torch().nn.functional.pairwise_distance(
                a, b, p, keepdim=keepdim), 2, _pairwise_maker, kind="reduction"),
    _struct("F.pad", lambda x, **kw: _nnF().pad(x, **kw), _np_F_pad,
            lambda x, **kw: _torch().nn.functional.pad(x, **kw), 1, _F_pad_maker,
            notes="torch's width order (last dim first), negative widths, all four modes"),
    _struct("F.unfold", lambda x, **kw: _nnF().unfold(x, **kw), _np_unfold,
            lambda x, **kw: _torch().nn.functional.unfold(x, **kw), 1, _unfold_maker),
]


def _nnF():
    from nn import functional
    return functional


# ---------------------------------------------------------------- results without gradient
# (indices, booleans, counts) and linalg.norm: the rest of issue 13's list
def _int64_result(dtype):
    return I64


def _isclose_maker(draw):
    """a, and b = a scaled by 1 + r with r 0 or 1e-7 (close) or +-1e-2 (not close), per entry:
    far from the tolerance's edge in every dtype."""
    shape = _shape_of(draw, min_dims=0)
    a = NONZERO.draw(draw, shape)
    n = int(np.prod(shape))
    r = draw(st.lists(st.sampled_from([0.0, 1e-7, 1e-2, -1e-2]), min_size=n, max_size=n))
    return [a, a * (1 + np.asarray(r).reshape(shape))], {}


def _count_nonzero_maker(draw):
    shape = _shape_of(draw, min_dims=0)
    dim = None if not shape or draw(st.booleans()) else _a_dim(draw, len(shape))
    return [INTS.draw(draw, shape)], {"dim": dim}


def _one_hot_maker(draw):
    shape = _shape_of(draw, min_dims=0)
    return [Domain("grid", 0, 4, step=1.0).draw(draw, shape)], {
        "num_classes": draw(st.sampled_from([-1, 5, 7]))}


def _np_one_hot(labels, num_classes):
    n = int(labels.max()) + 1 if num_classes == -1 else num_classes
    return np.eye(n, dtype=np.int64)[labels.astype(np.int64)]


def _linalg_norm_maker(draw):
    """A matrix norm (None = fro, 'fro') over both dims, or a vector norm (None = 2, 1, 2,
    +-inf) of a vector or along one dim; entries distinct and never 0 (no kinks, no ties)."""
    shape = _shape_of(draw, min_dims=1, max_dims=2)
    if len(shape) == 2 and draw(st.booleans()):
        ord, dim = draw(st.sampled_from([None, "fro"])), None
    else:
        ord = draw(st.sampled_from([None, 1, 2, np.inf, -np.inf]))
        dim = _a_dim(draw, len(shape)) if len(shape) == 2 else draw(st.sampled_from([None, 0]))
    return [NO_ZERO.draw(draw, shape)], {"ord": ord, "dim": dim, "keepdim": draw(st.booleans())}


STRUCTURAL_OPS += [
    _struct("argsort", lambda x, dim, descending: ad.argsort(x, dim, descending),
            lambda x, dim, descending: np.argsort(-x if descending else x, axis=dim,
                                                  kind="stable"),
            lambda x, dim, descending: _torch().argsort(x, dim=dim, descending=descending), 1,
            _line(NO_TIES, extra=_sort_kwargs), kind="index", dtypes=FLOATS_AND_INT,
            differentiable=False, out_dtype=_int64_result, notes=_NO_GRAD),
    _struct("nonzero", ad.nonzero, np.argwhere, _s("nonzero"), 1,
            lambda draw: ([INTS.draw(draw, _shape_of(draw, min_dims=0))], {}), kind="index",
            dtypes=INTEGERS, differentiable=False, out_dtype=_int64_result,
            notes=_NO_GRAD + "; float inputs: the parity suite (its shape follows the values, "
                  "so ad.compile's test perturbing floats does not apply)"),
    _struct("any", ad.any, lambda x, dim, keepdim: np.any(x, axis=_np_axis(dim),
                                                          keepdims=keepdim),
            lambda x, dim, keepdim: _torch().any(x, _t_dim(x, dim), keepdim), 1,
            _reducer(INTS), kind="reduction", dtypes=FLOATS_AND_INT, differentiable=False,
            out_dtype=_bool_result, notes=_NO_GRAD),
    _struct("all", ad.all, lambda x, dim, keepdim: np.all(x, axis=_np_axis(dim),
                                                          keepdims=keepdim),
            lambda x, dim, keepdim: _torch().all(x, _t_dim(x, dim), keepdim), 1,
            _reducer(INTS), kind="reduction", dtypes=FLOATS_AND_INT, differentiable=False,
            out_dtype=_bool_result, notes=_NO_GRAD),
    _struct("count_nonzero", ad.count_nonzero,
            lambda x, dim: np.asarray(np.count_nonzero(x, axis=dim), dtype=np.int64),
            _s("count_nonzero"), 1, _count_nonzero_maker, kind="reduction",
            dtypes=FLOATS_AND_INT, differentiable=False, out_dtype=_int64_result,
            notes=_NO_GRAD),
    _struct("F.one_hot", lambda x, num_classes: _nnF().one_hot(x, num_classes), _np_one_hot,
            lambda x, num_classes: _torch().nn.functional.one_hot(x, num_classes), 1,
            _one_hot_maker, kind="index", dtypes=(I64,), differentiable=False,
            out_dtype=_int64_result, notes=_NO_GRAD),
    _struct("linalg_norm", lambda x, ord, dim, keepdim: ad.linalg.norm(x, ord, dim, keepdim),
            lambda x, ord, dim, keepdim: np.linalg.norm(x, ord, axis=dim, keepdims=keepdim),
            lambda x, ord, dim, keepdim: _torch().linalg.norm(x, ord, dim, keepdim), 1,
            _linalg_norm_maker, kind="reduction"),
    OpSpec("isclose", ad.isclose, lambda a, b: np.isclose(a, b, rtol=1e-5, atol=1e-8),
           _t("isclose"), 2, (NONZERO, NONZERO), "elementwise", None, maker=_isclose_maker,
           differentiable=False, out_dtype=_bool_result, notes=_NO_GRAD),
]

OPS += STRUCTURAL_OPS
BY_NAME = {row.name: row for row in OPS}
assert len(BY_NAME) == len(OPS), "duplicate op names in the table"
DIFFERENTIABLE = [row for row in OPS if row.differentiable]
