"""The entry points of backward: `t.backward(...)` and `ad.grad(...)`, as in torch.autograd.

They check their arguments, make the initial gradient, and start the walk (graph._run).
"""
from __future__ import annotations

from . import backend, graph
from .errors import op_error

__all__ = ["backward", "grad"]


def backward(root, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(root)/d(leaf) into every reachable leaf's `.grad` (with `inputs`: into
    those tensors' `.grad` only). retain_graph defaults to create_graph (torch): a graph
    differentiated with create_graph=True stays usable for the next differentiation."""
    if retain_graph is None:
        retain_graph = create_graph
    if not isinstance(root, Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise op_error(RuntimeError, "backward", "the tensor does not require grad and has "
                       "no grad_fn (no input of the computation had requires_grad=True, or "
                       "it was computed under no_grad)")
    if retain_graph is None:  # torch: a create_graph backward keeps the graph by default
        retain_graph = create_graph
    start = [(root, _initial_grad(root, gradient, create_graph))]
    if inputs is None:
        graph._run(start, retain_graph, create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for t, g in zip(inputs, graph._run(start, retain_graph, create_graph, targets=inputs)):
        if g is not None:
            graph._accumulate(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned (not accumulated into .grad)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise op_error(RuntimeError, "grad", f"input {i} does not require grad")
    for out in outputs:
        if not out.requires_grad:
            raise op_error(RuntimeError, "grad", "an output does not require grad (it does "
                           "not depend on any input that requires grad)")
    # One pass from all outputs: a node they share is visited (and freed) once.
    unique = list({id(t): t for t in inputs}.values())  # the same input may repeat
    roots = [(out, _initial_grad(out, g0, create_graph))
             for out, g0 in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    found = graph._run(roots, retain_graph, create_graph, targets=unique)
    found = dict(zip(map(id, unique), found))
    result = []
    for i, t in enumerate(inputs):
        g = found[id(t)]
        if g is None and not allow_unused:
            raise op_error(RuntimeError, "grad", f"input {i} (shape {t.shape}) is not part of "
                           "the graph of the outputs; pass allow_unused=True to get None")
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._make(g, None, False))
    return tuple(result)


def _initial_grad(root, gradient, create_graph):
    """The gradient backward starts from: ones for a one-element root, else `gradient`."""
    data = root.data
    if gradient is None:
        if data.size != 1:
            raise op_error(RuntimeError, "backward", f"the output has shape {root.shape}; "
                           "gradients can be created implicitly only for one-element "
                           "outputs. Pass gradient= (a tensor of the output's shape, e.g. "
                           "ones_like(out)) or reduce the output first")
        g = backend.array_module(data).ones(data.shape, dtype=data.dtype)
    else:
        g = gradient.data if isinstance(gradient, Tensor) else gradient
        if not backend.is_array(g):
            g = backend.array_module(data).asarray(g, dtype=root.dtype)
        if g.shape != root.shape:
            raise op_error(ValueError, "backward", f"gradient has shape {tuple(g.shape)} but "
                           f"the output has shape {root.shape}; they must match")
        if create_graph and isinstance(gradient, Tensor):  # stays connected to its graph
            return gradient if gradient.dtype == root.dtype else gradient.to(dtype=root.dtype)
        if g.dtype != root.dtype:
            g = g.astype(root.dtype)
    return Tensor._make(g, None, False) if create_graph else g


from .tensor import Tensor  # noqa: E402  (circular)
