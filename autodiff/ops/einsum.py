"""einsum with torch's equation forms ("ij,jk->ik", implicit outputs "ij,jk", ellipsis
"...ij,...jk->...ik", spaces), differentiable in every operand and to any order.

The gradient of an einsum with respect to one operand is another einsum: the incoming
gradient contracted with all the other operands, written with that operand's subscripts
as the output. Two details make that exact: a label only this operand has (summed away in
the forward) comes back through a vector of ones, and a repeated label (a diagonal, as in
"ii->i") through an identity matrix.
"""
from __future__ import annotations

import string

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ..errors import op_error

_LETTERS = string.ascii_letters


class EinSum(Function):
    """sum over the repeated labels of the product of the operands (an explicit equation
    of letters, operands broadcast to `shapes` first)"""
    derivative = ("d einsum(A, B, ...)/dA = einsum of the gradient with the other operands, "
                  "back to A's labels")

    @staticmethod
    def forward(ctx, *operands, equation, shapes):
        xp = ctx.xp
        ctx.equation, ctx.shapes = equation, shapes
        ctx.save(*operands)
        ops = [o if o.shape == s else xp.broadcast_to(o, s) for o, s in zip(operands, shapes)]
        dtype = operands[0].dtype
        acc = backend.accumulation_dtype(dtype)
        if acc is not None:
            ops = [o.astype(acc) for o in ops]
        out = xp.einsum(equation, *ops, optimize=len(ops) > 2)
        return xp.asarray(out).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        inputs, output = ctx.equation.split("->")
        subs = inputs.split(",")
        ops = [o if o.shape == s else xp.broadcast_to(o, s)
               for o, s in zip(ctx.saved, ctx.shapes)]
        sizes = {c: n for sub, s in zip(subs, ctx.shapes) for c, n in zip(sub, s)}
        grads = []
        for i, needed in enumerate(ctx.needs_input_grad):
            if not needed:
                grads.append(None)
                continue
            terms, args = [output], [g]
            for j, (sub, op) in enumerate(zip(subs, ops)):
                if j != i:
                    terms.append(sub)
                    args.append(op)
            target, extra = _gradient_labels(subs[i], "".join(terms), sizes, ctx.equation,
                                             backend.array_module(_data(g)), g.dtype)
            terms += [t for t, _ in extra]
            args += [a for _, a in extra]
            equation = ",".join(terms) + "->" + target
            grads.append(ctx.call(EinSum, *args, equation=equation,
                                  shapes=tuple(tuple(a.shape) for a in args)))
        return tuple(grads)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _gradient_labels(sub, present, sizes, equation, am, dtype):
    """The output labels of an operand's gradient einsum, and the constant operands it
    needs: an identity matrix per repeated label (which gets a fresh label), a vector of
    ones per label that no other term has."""
    used = set(equation)
    fresh = iter(c for c in _LETTERS if c not in used)
    target, extra, seen = "", [], set()
    for c in sub:
        if c in seen:  # repeated label: the gradient lives on the diagonal
            new = next(fresh)
            extra.append((c + new, am.eye(sizes[c], dtype=dtype)))
            target += new
        else:
            seen.add(c)
            target += c
            if c not in present:  # summed only over this operand: broadcast back
                extra.append((c, am.ones(sizes[c], dtype=dtype)))
    return target, extra


# ---------------------------------------------------------------- parsing torch's equations
def _parse(equation, operands):
    """torch's equation -> (explicit letters-only equation, the shape each operand is
    broadcast to)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise op_error(ValueError, "einsum", f"the equation {equation!r} has {len(terms)} "
                                             f"operand(s) but {len(operands)} were given")
    for t in terms + ([rhs] if rhs is not None else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1 or t.replace("...", "").count(".") > 0:
            raise op_error(ValueError, "einsum", f"invalid subscripts {t!r} in {equation!r}: "
                                                 "use letters and at most one '...' per term")
    # the ellipsis covers the dims the explicit labels leave; they broadcast, right-aligned
    ell = 0
    for t, op in zip(terms, operands):
        n_explicit = len(t.replace("...", ""))
        if ("..." in t and op.ndim < n_explicit) or ("..." not in t and op.ndim != n_explicit):
            raise op_error(ValueError, "einsum", f"subscripts {t!r} do not fit an operand of "
                                                 f"shape {op.shape}")
        if "..." in t:
            ell = max(ell, op.ndim - n_explicit)
    used = set(eq)
    ell_labels = "".join([c for c in _LETTERS if c not in used][:ell])
    explicit = []
    for t, op in zip(terms, operands):
        if "..." in t:
            k = op.ndim - len(t.replace("...", ""))
            t = t.replace("...", ell_labels[ell - k:])
        explicit.append(t)
    if rhs is None:  # implicit output: the labels used once, in alphabetical order
        counts = {}
        for t in explicit:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell_labels + "".join(sorted(c for c, n in counts.items()
                                          if n == 1 and c not in ell_labels))
    else:
        rhs = rhs.replace("...", ell_labels)
        for c in rhs:
            if c not in "".join(explicit) or rhs.count(c) > 1:
                raise op_error(ValueError, "einsum", f"output label {c!r} in {equation!r} "
                                                     "must appear once and in an operand")
    # every label takes one size; size 1 broadcasts
    sizes = {}
    for t, op in zip(explicit, operands):
        for c, n in zip(t, op.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise op_error(ValueError, "einsum", f"label {c!r} has sizes {sizes[c]} and "
                               f"{n} in {equation!r} (operand shapes "
                               f"{', '.join(str(o.shape) for o in operands)})")
            sizes[c] = max(sizes.get(c, 1), n) if n != 1 else sizes.get(c, 1)
    shapes = tuple(tuple(sizes[c] for c in t) for t in explicit)
    return ",".join(explicit) + "->" + rhs, shapes


def einsum(equation, *operands):
    """Sum of products over labelled dims, as torch.einsum: "ij,jk->ik" is a matrix
    product, "ii" a trace, "...ij->...ji" a batched transpose; operands may also be given
    as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise op_error(TypeError, "einsum", "the first argument must be the equation string "
                                            "(torch's sublist form is not supported)")
    if not operands:
        raise op_error(ValueError, "einsum", "needs at least one operand")
    operands = tuple(o if isinstance(o, Tensor) else Tensor(o) for o in operands)
    dtypes = {o.dtype for o in operands}
    if len(dtypes) > 1:
        raise op_error(TypeError, "einsum", f"operands have different dtypes "
                       f"({', '.join(str(d) for d in sorted(dtypes, key=str))}); convert them "
                       "to one with .to(dtype)")
    explicit, shapes = _parse(equation, operands)
    return EinSum.apply(*operands, equation=explicit, shapes=shapes)

