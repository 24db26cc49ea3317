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
- `row.differentiable`: False for rows whose gradient is not defined/tested.
- `row.kind`: "elementwise", "reduction", "matmul", "shape" or "index" (documentation;
  tests may pick tolerances by it).
- `row.multi_output`: fn returns a tuple of tensors (split).

Inputs are small (at most 4 per axis, 3 axes) so numerical gradients stay cheap.
"""
from __future__ import annotations

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
    random sign: away from 0), or "grid" (values (k + offset) * step with integer k in
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

    def __str__(self):
        return self.name

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
def _ew(name, fn, np_fn, torch_fn, domains, dtypes=FLOATS, notes=""):
    arity = len(domains)
    shapes = _one_shape() if arity == 1 else _broadcast(arity)
    return OpSpec(name, fn, np_fn, torch_fn, arity, tuple(domains), "elementwise", shapes,
                  dtypes=dtypes, notes=notes)


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

BY_NAME = {row.name: row for row in OPS}
assert len(BY_NAME) == len(OPS), "duplicate op names in the table"
DIFFERENTIABLE = [row for row in OPS if row.differentiable]
