"""Dimension arguments as PyTorch takes them: one place that checks and normalises them.

- `normalize_dim(dim, ndim, op)`: one dim -> a non-negative int. Out of range raises an
  IndexError naming the op, the dim and the rank (a 0-d tensor accepts dim 0 and -1, as in
  torch).
- `normalize_dims(dims, ndim, op)`: an int or a sequence of dims -> a tuple of distinct
  non-negative ints, in the order given.
- `pick(op, dim, axis)` / `pick_keepdim(op, keepdim, keepdims)`: PyTorch's `dim`/`keepdim`
  with NumPy's `axis`/`keepdims` accepted as aliases; both spellings at once is an error.
"""
from __future__ import annotations

import numbers

from ..errors import op_error


def normalize_dim(dim, ndim: int, op: str, name: str = "dim") -> int:
    """`dim` as a non-negative int for a tensor of rank `ndim`."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise op_error(TypeError, op, f"{name} must be an int, got {dim!r} "
                                      f"({type(dim).__name__})")
    rank = ndim if ndim > 0 else 1  # torch treats a 0-d tensor as having one dim here
    if not -rank <= dim < rank:
        raise op_error(IndexError, op, f"{name} {dim} is out of range for a tensor of rank "
                                       f"{ndim} (expected a dim in [{-rank}, {rank - 1}])")
    return int(dim) % rank


def normalize_dims(dims, ndim: int, op: str, name: str = "dim", shape=None) -> tuple:
    """An int or a sequence of dims as a tuple of distinct non-negative ints (order kept);
    `shape`, when given, is named in the error for a repeated dim."""
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        dims = (dims,)
    try:
        dims = tuple(dims)
    except TypeError:
        raise op_error(TypeError, op, f"{name} must be an int or a sequence of ints, got "
                                      f"{dims!r}") from None
    out = tuple(normalize_dim(d, ndim, op, name) for d in dims)
    if len(set(out)) != len(out):
        where = "" if shape is None else f" of shape {tuple(shape)}"
        raise op_error(ValueError, op, f"{name} {dims} names a dim{where} more than once")
    return out


def pick(op: str, dim, axis, name: str = "dim", alias: str = "axis"):
    """`dim`, or NumPy's `axis` when only that one was given."""
    if axis is None:
        return dim
    if dim is not None:
        raise op_error(TypeError, op, f"got both {name}={dim!r} and its NumPy alias "
                                      f"{alias}={axis!r}; pass one of them")
    return axis


def pick_keepdim(op: str, keepdim, keepdims) -> bool:
    """`keepdim`, or NumPy's `keepdims` when only that one was given."""
    if keepdims is None:
        return bool(keepdim)
    if keepdim:
        raise op_error(TypeError, op, f"got both keepdim={keepdim!r} and its NumPy alias "
                                      f"keepdims={keepdims!r}; pass one of them")
    return bool(keepdims)


def pick_default(op: str, dim, axis, default, name: str = "dim", alias: str = "axis"):
    """pick() for a dim whose torch default is not None (cat's 0, softmax's -1): `dim` left
    at its default counts as not given."""
    dim = pick(op, None if dim == default else dim, axis, name, alias)
    return default if dim is None else dim
