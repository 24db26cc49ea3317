"""Functional transforms built on `ad.grad`: grad, value_and_grad, vjp, jvp, jacobian,
hessian, hvp.

Two styles, as in PyTorch:

* transforms that take a function and return a function, with `argnums` (int or tuple)
  choosing the differentiated arguments (like `torch.func.grad` / `jax.grad`):
  `grad(f, argnums=0)`, `value_and_grad(f, argnums=0)`, `jacobian(f, argnums=0)`,
  `hessian(f, argnums=0)`;
* evaluations at a point with `inputs` a Tensor or a tuple of Tensors (like
  `torch.autograd.functional`): `vjp(f, inputs, v)`, `jvp(f, inputs, v)`,
  `hvp(f, inputs, v)`, each returning `(f(inputs), product)`.

Inputs need not require grad: each transform differentiates a fresh requires-grad view
of them. With `create_graph=True`, inputs that already require grad stay connected, so
results can be differentiated again (that is how `hessian` is built from `grad`).
Without it, results are detached.
"""
from __future__ import annotations

from . import backend
from .creation import zeros_like
from .autograd import grad as _autograd
from .mode import enable_grad
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]


# ---------------------------------------------------------------- helpers

def _as_tensor(x, what):
    if isinstance(x, Tensor):
        t = x
    else:
        try:
            t = Tensor(x)
        except Exception as exc:  # noqa: BLE001  (re-raised with the transform's name)
            raise TypeError(f"{what}: expected a Tensor (or array/number), got "
                            f"{type(x).__name__}") from exc
    if not backend.is_floating(t.dtype):
        raise TypeError(f"{what}: can only differentiate floating-point inputs, got dtype "
                        f"{t.dtype}; convert it with .to(dtype=ad.float64) (or float32)")
    return t


def _differentiable(x, create_graph, what):
    """A requires-grad stand-in for x: connected to x's graph only under create_graph."""
    x = _as_tensor(x, what)
    if create_graph and x.requires_grad:
        # A new node on top of x: gradients w.r.t. it are themselves functions of x.
        with enable_grad():
            return x.clone()
    return x.detach().requires_grad_(True)


def _normalize_argnums(argnums, nargs, what):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise ValueError(f"{what}: argnums is empty; give an int or a non-empty tuple")
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise ValueError(f"{what}: argnums {argnums!r} is out of range for a function "
                             f"called with {nargs} positional argument(s)")
    return single, tuple(a % nargs for a in nums)


def _finish(g, like, create_graph):
    """A gradient from ad.grad as the transform's result (zeros for None)."""
    if g is None:
        return zeros_like(like)
    return g if create_graph else g.detach()


def _outputs(out, what):
    single = isinstance(out, Tensor)
    outs = (out,) if single else tuple(out) if isinstance(out, (tuple, list)) else None
    if outs is None or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"{what}: the function must return a Tensor or a tuple of Tensors, "
                        f"got {type(out).__name__}")
    return single, outs


def _vjp_raw(outs, xs, vs, create_graph):
    """Gradients of sum_k <outs_k, vs_k> w.r.t. xs; None where xs_i is unused. Outputs that
    are None or do not require grad contribute nothing."""
    pairs = [(o, v) for o, v in zip(outs, vs) if o is not None and o.requires_grad]
    if not pairs:
        return [None] * len(xs)
    return list(_autograd([o for o, _ in pairs], list(xs), grad_outputs=[v for _, v in pairs],
                          retain_graph=True, create_graph=create_graph, allow_unused=True))


def _check_like(v, like, what, name):
    v = _as_tensor(v, what)
    if v.shape != like.shape:
        raise ValueError(f"{what}: {name} has shape {v.shape} but must match {like.shape}")
    return v if v.dtype == like.dtype else v.to(dtype=like.dtype)


def _as_tuple_inputs(inputs):
    single = not isinstance(inputs, (tuple, list))
    return single, ((inputs,) if single else tuple(inputs))


def _prepare_inputs(inputs, create_graph, what):
    """`inputs` (a Tensor or a tuple) as (single, differentiable stand-ins) for vjp/jvp/hvp."""
    single, inputs = _as_tuple_inputs(inputs)
    return single, [_differentiable(x, create_graph, what) for x in inputs]


def _prepare_argnums(args, argnums, create_graph, what):
    """(single, args with args[argnums] replaced by differentiable stand-ins, those
    stand-ins) for the transforms that take `argnums`."""
    single, nums = _normalize_argnums(argnums, len(args), what)
    args = list(args)
    xs = [_differentiable(args[i], create_graph, what) for i in nums]
    for i, x in zip(nums, xs):
        args[i] = x
    return single, args, xs


def _vectors_like(v, single, likes, what, of):
    """v (a Tensor, or a tuple when not `single`) checked against `likes`, one per entry."""
    vs = (v,) if single else tuple(v)
    if len(vs) != len(likes):
        raise ValueError(f"{what}: got {len(vs)} vectors v for {len(likes)} {of}")
    return [_check_like(vi, like, what, "v") for vi, like in zip(vs, likes)]


def _check_scalar_output(out, what, hint=""):
    if not isinstance(out, Tensor) or out.numel() != 1:
        shape = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{what}: the function must return a one-element Tensor, got "
                         f"{shape}{hint}")


# ---------------------------------------------------------------- grad, value_and_grad

def value_and_grad(f, argnums=0, create_graph=False):
    """A function returning `(f(*args), df/d args[argnums])` for a scalar-valued f.

    The gradient is one Tensor for an int `argnums`, a tuple for a tuple. f must return a
    one-element Tensor. With `create_graph=True` both results stay differentiable.
    """
    what = "functional.value_and_grad"

    def wrapper(*args, **kwargs):
        single, args, xs = _prepare_argnums(args, argnums, create_graph, what)
        with enable_grad():
            out = f(*args, **kwargs)
        _check_scalar_output(out, what, "; reduce it (e.g. .sum()) or use functional.jacobian")
        grads = _vjp_raw((out,), xs, (None,), create_graph)
        grads = tuple(_finish(g, x, create_graph) for g, x in zip(grads, xs))
        value = out if create_graph else out.detach()
        return value, (grads[0] if single else grads)

    return wrapper


def grad(f, argnums=0, create_graph=False):
    """A function returning df/d args[argnums] for a scalar-valued f (`jax.grad`-style).

        df = ad.functional.grad(lambda x: (x ** 3).sum())
        df(ad.tensor([1.0, 2.0]))      # tensor([ 3., 12.])
    """
    vg = value_and_grad(f, argnums, create_graph)

    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapper


# ---------------------------------------------------------------- vjp, jvp

def vjp(f, inputs, v=None, create_graph=False):
    """`(f(inputs), v^T J)`: the vector-Jacobian product at `inputs`.

    `inputs` is a Tensor or a tuple of Tensors (f is called as f(*inputs)); `v` matches
    f's output (a Tensor, or a tuple for tuple outputs) and may be omitted for a
    one-element output. The product has the structure of `inputs`. Same as
    torch.autograd.functional.vjp.
    """
    what = "functional.vjp"
    single_in, xs = _prepare_inputs(inputs, create_graph, what)
    with enable_grad():
        out = f(*xs)
    single_out, outs = _outputs(out, what)
    if v is None:
        if any(o.numel() != 1 for o in outs):
            raise ValueError(f"{what}: v may be omitted only for one-element outputs; the "
                             f"output shapes are {[o.shape for o in outs]}")
        vs = [None] * len(outs)
    else:
        vs = _vectors_like(v, single_out, outs, what, "outputs")
    grads = tuple(_finish(g, x, create_graph) for g, x in
                  zip(_vjp_raw(outs, xs, vs, create_graph), xs))
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return (outs[0] if single_out else outs), (grads[0] if single_in else grads)


def jvp(f, inputs, v=None, create_graph=False):
    """`(f(inputs), J v)`: the Jacobian-vector product (forward-mode derivative) at `inputs`.

    Computed with two reverse passes (the "double-vjp trick"): u -> J^T u is linear in u,
    and its vjp with v is J v. `v` has the structure of `inputs` (may be omitted for a
    single one-element input); the product has the structure of f's output. Same as
    torch.autograd.functional.jvp. Needs backward rules that support double backward.
    """
    what = "functional.jvp"
    single_in, xs = _prepare_inputs(inputs, create_graph, what)
    if v is None:
        if any(x.numel() != 1 for x in xs):
            raise ValueError(f"{what}: v may be omitted only for one-element inputs")
        vs = [Tensor._make(backend.array_module(x.data).ones(x.shape, dtype=x.dtype), None,
                           False) for x in xs]
    else:
        vs = _vectors_like(v, single_in, xs, what, "inputs")
    with enable_grad():
        out = f(*xs)
        single_out, outs = _outputs(out, what)
        # Dummy cotangents u (requiring grad) so that J^T u is a graph we can differentiate.
        us = [Tensor._make(backend.array_module(o.data).zeros(o.shape, dtype=o.dtype), None,
                           True) for o in outs]
        jt_u = _vjp_raw(outs, xs, us, create_graph=True)
        products = _vjp_raw(jt_u, us, vs, create_graph)
    result = tuple(_finish(p, o, create_graph) for p, o in zip(products, outs))
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return (outs[0] if single_out else outs), (result[0] if single_out else result)


# ---------------------------------------------------------------- jacobian, hessian, hvp

def _stack_rows(rows, out_shape, in_shape, create_graph):
    """Rows d out_k / d x (k over out's elements) as one Tensor of out_shape + in_shape."""
    from .ops import shape as _shape
    full = tuple(out_shape) + tuple(in_shape)
    if create_graph:
        return _shape.reshape(_shape.stack(rows, axis=0), full)
    xp = backend.array_module(rows[0].data)
    return Tensor._make(xp.stack([r.data for r in rows]).reshape(full), None, False)


def jacobian(f, argnums=0, create_graph=False):
    """A function returning the Jacobian of f w.r.t. args[argnums], of shape
    `out.shape + arg.shape` (`d out[i...] / d arg[j...]`).

    For a tuple `argnums` the result is a tuple over the arguments; for a function with
    tuple outputs, a tuple over the outputs (of those). Built from one vjp per output
    element (reverse mode), so it suits functions with few outputs.
    """
    what = "functional.jacobian"

    def wrapper(*args, **kwargs):
        single, args, xs = _prepare_argnums(args, argnums, create_graph, what)
        with enable_grad():
            out = f(*args, **kwargs)
            single_out, outs = _outputs(out, what)
            per_output = []
            for o in outs:
                rows = [[] for _ in xs]
                if o.requires_grad:
                    xp = backend.array_module(o.data)
                    for k in range(o.numel()):
                        # A fresh one-hot per row: a gradient may alias its seed.
                        flat = xp.zeros(o.numel(), dtype=o.dtype)
                        flat[k] = 1
                        e_k = Tensor._make(flat.reshape(o.shape), None, False)
                        gs = _autograd([o], xs, grad_outputs=[e_k], retain_graph=True,
                                       create_graph=create_graph, allow_unused=True)
                        for r, g, x in zip(rows, gs, xs):
                            r.append(_finish(g, x, create_graph))
                jac = []
                for r, x in zip(rows, xs):
                    if r:
                        jac.append(_stack_rows(r, o.shape, x.shape, create_graph))
                    else:
                        xp = backend.array_module(x.data)
                        jac.append(Tensor._make(xp.zeros(o.shape + x.shape, dtype=x.dtype),
                                                None, False))
                per_output.append(jac[0] if single else tuple(jac))
        return per_output[0] if single_out else tuple(per_output)

    return wrapper


def hessian(f, argnums=0, create_graph=False):
    """A function returning the Hessian of a scalar f w.r.t. args[argnums]: shape
    `arg.shape + arg.shape`; for a tuple `argnums`, a nested tuple H[i][j] of shape
    `arg_i.shape + arg_j.shape`. The Jacobian of the gradient (reverse over reverse)."""
    return jacobian(grad(f, argnums, create_graph=True), argnums, create_graph=create_graph)


def hvp(f, inputs, v, create_graph=False):
    """`(f(inputs), H v)`: the Hessian-vector product of a scalar f at `inputs`, without
    forming H (two reverse passes). `v` has the structure of `inputs`. Same as
    torch.autograd.functional.hvp."""
    what = "functional.hvp"
    single_in, xs = _prepare_inputs(inputs, create_graph, what)
    vs = _vectors_like(v, single_in, xs, what, "inputs")
    with enable_grad():
        out = f(*xs)
        _check_scalar_output(out, what)
        gs = _vjp_raw((out,), xs, (None,), create_graph=True)
        # d/dx <grad f(x), v> = H v (H is symmetric).
        products = _vjp_raw(gs, xs, vs, create_graph)
    result = tuple(_finish(p, x, create_graph) for p, x in zip(products, xs))
    out = out if create_graph else out.detach()
    return out, (result[0] if single_in else result)
