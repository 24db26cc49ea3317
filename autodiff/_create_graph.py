"""create_graph=True: run a node's backward rule on Tensors, so that the gradients it
returns are themselves graph nodes (higher-order derivatives).

The same rule serves both passes: it is written against `ctx.xp` and operators, and here
`ctx.saved` holds Tensors (the op's inputs and output, still connected to the graph) and
`ctx.xp` is `ops.symbolic`, the namespace of differentiable ops. A rule that leaves the
graph (raw NumPy calls, or a name ops.symbolic lacks) runs again on arrays: its gradients
are correct values but opaque, and differentiating them again raises a clear error.
"""
from __future__ import annotations

from . import backend
from .errors import AnomalyError, op_error
from .function import Function
from .mode import state as _mode


def backward(node, out, g):
    """node's rule on the Tensor gradient g of its output `out`: a tuple of Tensors (or
    None), one per input."""
    from .ops import symbolic
    arrays, xp = node.saved, node.xp
    node.saved, node.xp, node.create_graph = _saved_as_tensors(node, out), symbolic, True
    outer, _mode.array_escape = _mode.array_escape, False
    failure = None
    try:
        in_grads = node.backward(node, g)
    except (TypeError, AttributeError) as exc:
        failure = exc
    except AnomalyError as exc:
        # An op recorded inside the rule tripped anomaly mode: report the rule's op.
        from ._anomaly import inside_rule
        raise inside_rule(node, exc) from exc
    finally:
        escaped = _mode.array_escape
        _mode.array_escape = outer
        node.saved, node.xp, node.create_graph = arrays, xp, False
    if failure is not None:
        reason = f"its backward fails on Tensors ({type(failure).__name__}: {failure})"
        in_grads = node.backward(node, g.data)
    elif escaped:
        reason = "its backward converts a Tensor to a NumPy array"
    else:
        reason = "its backward computed the gradient with raw arrays"
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
    if failure is None and not escaped:  # Tensors stay; an array a rule returned is opaque
        return tuple(gi if gi is None or isinstance(gi, Tensor)
                     else opaque(node, g, gi, reason) for gi in in_grads)
    return tuple(None if gi is None else opaque(node, g, gi.data if isinstance(gi, Tensor) else gi, reason)
                 for gi in in_grads)


def _saved_as_tensors(node, out):
    """node's saved values, each array that is an input's or the output's data replaced
    by that Tensor (so the gradient stays connected to them); other arrays as constants."""
    tensors = [i for i in node.inputs if isinstance(i, Tensor)] + [out]
    result = []
    for v in node.saved:
        if backend.is_array(v):
            same = [t for t in tensors if t.data is v]
            if same:
                v = same[0]
            else:
                v = Tensor._make(v, None, False)
        result.append(v)
    return tuple(result)



class OpaqueGradient(Function):
    """A gradient computed outside the graph: usable as a value, not differentiable.

    It depends on the incoming gradient and on the op's inputs that require grad, so any
    derivative through it (double backward, or jvp's differentiation w.r.t. the incoming
    gradient) reaches its backward, which raises, instead of silently being zero."""

    @staticmethod
    def forward(ctx, *anchors, value, of, reason):
        ctx.of, ctx.reason = of, reason
        return value

    @staticmethod
    def backward(ctx, gg):
        raise op_error(RuntimeError, ctx.of, f"{ctx.reason}, so its gradient cannot be "
                       "differentiated again (double backward). Write the backward with "
                       "autodiff operators and ctx.xp functions instead of numpy calls to "
                       "support create_graph")

    @property
    def name(self):
        return f"{self.of}_backward"


def opaque(node, g, value, reason):
    """`value` (an array node's rule computed from g) as an OpaqueGradient Tensor."""
    anchors = [a for a in (g, *node.inputs) if isinstance(a, Tensor) and a.requires_grad]
    if not anchors:
        return Tensor._make(backend.array_module(value).asarray(value), None, False)
    return OpaqueGradient.apply(*anchors, value=value, of=node.name, reason=reason)


from .tensor import Tensor  # noqa: E402  (circular)
