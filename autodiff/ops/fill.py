"""The values the in-place fills write: `x.fill_(v)`, `x.zero_()`, `x.copy_(src)`.

Each op takes the tensor being overwritten as its first input, so the write gives it a
node: its old history gets a gradient of zeros (as in torch), and the new values' source
gets the gradient of what it wrote.
"""
from __future__ import annotations

from ..function import Function


class Fill(Function):
    """a tensor of x's shape and dtype with every entry `value` (a number or a 0-d tensor)"""
    derivative = "d fill(x, v)/dx = 0, d/dv = sum of g"

    @staticmethod
    def forward(ctx, x, value):
        return ctx.xp.full(x.shape, value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        gx = ctx.xp.zeros_like(g) if ctx.needs_input_grad[0] else None  # zeros, as torch
        return gx, (g.sum() if ctx.needs_input_grad[1] else None)


class CopyFrom(Function):
    """src broadcast to x's shape and converted to x's dtype"""
    op_name = "copy"
    derivative = "d copy(x, src)/dx = 0, d/dsrc = 1 (summed over broadcast dims)"

    @staticmethod
    def forward(ctx, x, src):
        try:
            out = ctx.xp.broadcast_to(src, x.shape)
        except ValueError:
            raise ValueError(f"copy_: the source of shape {tuple(ctx.xp.shape(src))} cannot "
                             f"be broadcast to the tensor's shape {x.shape}") from None
        return out.astype(x.dtype, copy=True)

    @staticmethod
    def backward(ctx, g):
        gx = ctx.xp.zeros_like(g) if ctx.needs_input_grad[0] else None
        return gx, (g if ctx.needs_input_grad[1] else None)
