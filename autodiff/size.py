"""`ad.Size`: the shape of a tensor, as torch.Size.

A tuple of ints (it compares equal to a plain tuple, unpacks, indexes and hashes like one)
with torch.Size's extras: `numel()`, and slicing or concatenating gives a Size again.
`t.size()` and `t.shape` return one; `t.size(d)` returns an int.
"""
from __future__ import annotations

import math

__all__ = ["Size"]


class Size(tuple):
    """The shape of a tensor: a tuple of ints (torch.Size)."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        return tuple.__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this shape: the product of the sizes."""
        return math.prod(self)

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __repr__(self):
        return f"Size({list(self)})"

    def __str__(self):
        # str() and f-strings read as a plain tuple, "(2, 3)": every error message and
        # printout of this library shows shapes that way (torch prints torch.Size([2, 3])).
        return tuple.__repr__(self)

    def __reduce__(self):
        return (Size, (tuple(self),))
