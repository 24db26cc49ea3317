"""The two ops an in-place write through a view records (torch's CopySlices and
AsStridedBackward): how a base tensor's history and its views' histories are rebuilt after
one of them is written in place (autodiff/_inplace.py decides when).

A view is described by `index`: for each of its entries, the position (in C order) of the
base entry it shares memory with; an integer array of the view's shape, computed from the
two arrays' memory layout by `_inplace.view_index`, so every view op (slicing, reshape,
transpose, diagonal, broadcast...) is covered by one rule.
"""
from __future__ import annotations

import math

from .. import backend
from ..function import Function
from .indexing import IndexAdd


class CopySlices(Function):
    """base with the entries the view covers replaced by `values` (a write through a view)"""
    op_name = "copy_slices"
    derivative = "d/dbase = 1 outside the view, 0 on it; d/dvalues = 1 (read back at the view)"

    @staticmethod
    def forward(ctx, base, values, index):
        ctx.index = index
        out = base.copy()  # C order: reshape(-1) below is a view, so the write lands in out
        out.reshape(-1)[index] = values
        return out

    @staticmethod
    def backward(ctx, g):
        need_base, need_values = ctx.needs_input_grad
        g_base = g_values = None
        if need_base:  # a mask product (not a write into g): differentiable under create_graph
            keep = backend.array_module(ctx.index).ones(tuple(g.shape), dtype=bool)
            keep.reshape(-1)[ctx.index] = False
            g_base = g * keep
        if need_values:
            g_values = g.reshape(-1)[ctx.index]
        return g_base, g_values


class AsStrided(Function):
    """the view of base at `index` (a view regenerated from its base after a write)"""
    op_name = "as_strided"
    derivative = "d view(base)/dbase = 1 at the viewed entries (scatter-add)"

    @staticmethod
    def forward(ctx, base, index):
        ctx.index, ctx.base_shape = index, base.shape
        return base.reshape(-1)[index]

    @staticmethod
    def backward(ctx, g):
        flat = ctx.call(IndexAdd, g, shape=(math.prod(ctx.base_shape),), index=ctx.index)
        return flat.reshape(ctx.base_shape)

