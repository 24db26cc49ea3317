"""Random programs run side by side in autodiff and in torch (the oracle).

A program is a random DAG built step by step from hypothesis draws:

- op steps apply a row of the op table (tests/op_table.py) — every row with a torch
  reference and float64 support takes part, so new rows join automatically. Each input
  slot is either a fresh leaf (drawn by the row, inside its domain) or an earlier value
  reused: reshaped, sliced, reduced or broadcast to the shape the row drew, then brought
  into the row's input domain (see `_into_domain`) so values stay finite and away from
  kinks and ties;
- in-place steps (`+= -= *= /=`, `t[i] = v`, and the in-place methods `add_`, `tanh_`, ...
  that the engine has) on an intermediate, or on a fresh `clone()` of one;
- hooks (observing, or scaling the gradient) and `retain_grad()` on intermediates;
- then backward of a weighted sum of values, optionally with `create_graph=True` and a
  second differentiation of the leaves' gradients.

torch runs each step first. When torch refuses a step, the step is skipped (the program
stays valid); when torch refuses the backward, the program is invalid. Every value,
first-order gradient (leaves, retained intermediates, what the hooks saw) and second-order
gradient is compared with torch. The outcome of each program is one of
    ok               the engine agrees with torch everywhere
    refused          torch computes it, the engine raises (the target is 0)
    wrong            a value, dtype or gradient differs from torch's
    torch_refused    torch refuses the backward (the engine's answer is not checked)
and `Stats` counts them by category (phase, op, exception type). Where the engine differs
from torch on purpose (ON_PURPOSE: pow's second derivative at exponent 0), the step is
compared with torch's autograd of the op's closed form instead, and Stats.on_purpose counts
the programs that met it.
"""
from __future__ import annotations

import collections
import json
import operator
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import autodiff as ad
import op_table
from op_table import F64, Domain

# Rows the fuzzer draws from: everything with a torch reference that runs in float64.
ROWS = [row for row in op_table.OPS if row.torch_fn is not None and F64 in row.dtypes]
# torch 2.13's median/nanmedian along a dim read uninitialised memory for an expanded
# (stride-0) input: median(tensor([1.]).broadcast_to(3), dim=0) gave 6.9e-310. The
# reference gets a contiguous copy of its inputs for these ops (the gradient is the same).
TORCH_MISREADS_EXPANDED = {"median", "nanmedian"}


def _pow_true_derivatives(torch):
    """x ** y as exp(y log x) (the pow row's base is > 0): torch's autograd of exp and log
    gives the true derivatives of every order. torch.pow's own first-order rule is masked
    to 0 where y == 0, which drops the mixed second derivative x ** -1 there; the engine
    keeps it on purpose (README, "The remaining differences")."""
    return lambda x, y: torch.exp(y * torch.log(x))


# Differences kept on purpose: row -> (when it applies to the torch inputs, the reference
# to use instead of the row's torch_fn). Programs that use one are counted by row in
# Stats.on_purpose, so a run's report says how often each was met.
ON_PURPOSE = {"pow": (lambda x, y: bool((y == 0).any()), _pow_true_derivatives)}

RTOL, ATOL = 1e-7, 1e-9

# In-place methods: name -> (operand domain or None, the values the target must have or
# None, extra arguments). Only those the engine's Tensor has are drawn, so new ones join
# when they land.
_INPLACE_METHODS = {
    "add_": (op_table.REAL, None, ()), "sub_": (op_table.REAL, None, ()),
    "mul_": (op_table.REAL, None, ()), "div_": (op_table.NONZERO, None, ()),
    "neg_": (None, None, ()), "tanh_": (None, None, ()), "sigmoid_": (None, None, ()),
    "exp_": (None, op_table.SMALL, ()), "relu_": (None, op_table.NONZERO, ()),
    "abs_": (None, op_table.NONZERO, ()), "sqrt_": (None, op_table.POSITIVE, ()),
    "clamp_": (None, op_table.NONZERO, (-0.25, 0.25)),  # |x| >= 0.5: never at a bound
}
_INPLACE_OPERATORS = [("+=", op_table.REAL), ("-=", op_table.REAL), ("*=", op_table.REAL),
                      ("/=", op_table.NONZERO)]


class Invalid(Exception):
    """torch refused the program's backward: nothing to compare."""


class Refused(Exception):
    """torch computed something the engine refused. The category is phase:op:exception
    type, with "+inplace" when the program writes in place (the op comes from the error's
    `.op`, never from its message)."""

    def __init__(self, phase, op, exc, text, inplace=False):
        self.category = f"{phase}:{op}:{type(exc).__name__}" + ("+inplace" if inplace else "")
        self.exc = exc
        super().__init__(f"{self.category}: {exc}\n{text}")


class Wrong(AssertionError):
    """A value or gradient differs from torch's."""

    def __init__(self, category, detail, text):
        self.category = category
        super().__init__(f"{category}: {detail}\n{text}")


@dataclass
class Value:
    """One value of the program, in both engines."""
    ours: object
    theirs: object
    name: str
    leaf: bool = False
    pinned: bool = False   # has a hook or retains its grad: never written in place after


@dataclass
class Stats:
    """Outcome counts of the programs run, by category."""
    programs: int = 0
    ok: int = 0
    second_order: int = 0
    with_inplace: int = 0
    torch_refused: int = 0
    refused: collections.Counter = field(default_factory=collections.Counter)
    wrong: collections.Counter = field(default_factory=collections.Counter)
    on_purpose: collections.Counter = field(default_factory=collections.Counter)
    examples: dict = field(default_factory=dict)  # category -> up to EXAMPLES messages
    EXAMPLES = 3

    def record(self, outcome, category=None, message=None):
        self.programs += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome == "torch_refused":
            self.torch_refused += 1
        else:
            getattr(self, outcome)[category] += 1
            kept = self.examples.setdefault(category, [])
            if len(kept) < self.EXAMPLES:
                kept.append(message)

    def as_dict(self):
        return {"programs": self.programs, "ok": self.ok, "second_order": self.second_order,
                "with_inplace": self.with_inplace, "torch_refused": self.torch_refused,
                "refused": dict(self.refused.most_common()),
                "wrong": dict(self.wrong.most_common()),
                "on_purpose": dict(self.on_purpose.most_common()),
                "examples": self.examples}

    def summary(self):
        lines = [f"{self.programs} programs: {self.ok} agree with torch, "
                 f"{sum(self.refused.values())} refused by the engine (torch computes them), "
                 f"{sum(self.wrong.values())} wrong, {self.torch_refused} refused by torch; "
                 f"{self.second_order} differentiated twice, {self.with_inplace} with "
                 "in-place steps"]
        for row, n in self.on_purpose.most_common():
            lines.append(f"  {n} programs met the difference from torch kept on purpose in "
                         f"{row} (compared with its true derivatives)")
        for kind in ("refused", "wrong"):
            for category, n in getattr(self, kind).most_common():
                first = self.examples[category][0].splitlines()[0][:160]
                lines.append(f"  {kind:8s} {n:6d}  {category}   e.g. {first}")
        return "\n".join(lines)

    def dump(self, path):
        with open(path, "w") as f:
            json.dump(self.as_dict(), f, indent=1)


def _op_of(exc, fallback):
    """The op an engine error names: its `.op` attribute (errors carry it as data)."""
    op = getattr(exc, "op", None)
    return op if isinstance(op, str) else fallback


def _host(x):
    """An engine or torch tensor (or an array) as a NumPy array."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    if isinstance(x, ad.Tensor):
        return np.asarray(x.numpy())
    return np.asarray(x.detach().numpy(force=True))  # force: torch's lazy zero tensors too


class Program:
    """Builds and runs one random program from hypothesis draws (see the module docstring)."""

    def __init__(self, draw, torch, max_steps=12):
        self.draw = draw
        self.torch = torch
        self.max_steps = max_steps
        self.pool: list[Value] = []
        self.leaves: list[Value] = []
        self.lines: list[str] = []
        self.seen = {"ours": [], "theirs": []}  # gradients observed by hooks
        self.inplace = False
        self.on_purpose = set()  # rows met where a difference is kept on purpose

    # ------------------------------------------------------------------ helpers
    @property
    def text(self):
        return "program:\n  " + "\n  ".join(self.lines)

    def _both(self, line, ours_fn, theirs_fn, op, inplace=False):
        """Run a step in torch, then in the engine; None if torch refuses it."""
        self.inplace |= inplace
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = theirs_fn()
        except Exception:
            return None
        self.lines.append(line)
        try:
            ours = ours_fn()
        except Exception as exc:
            raise Refused("forward", _op_of(exc, op), exc, self.text, self.inplace) from exc
        return ours, theirs

    def _check(self, ours, theirs, what, category):
        o, t = _host(ours), _host(theirs)
        if o.shape != t.shape or o.dtype != t.dtype:
            raise Wrong(f"{category}:shape_or_dtype",
                        f"{what}: ours {o.dtype} {o.shape}, torch {t.dtype} {t.shape}",
                        self.text)
        if o.dtype.kind in "fc":
            close = np.isclose(o, t, rtol=RTOL, atol=ATOL, equal_nan=True)
            if category.startswith("grad"):
                # an undefined derivative (log|det| at a singular matrix...): both must be
                # non-finite; which inf or NaN is the kernel's order of operations
                close |= ~np.isfinite(o) & ~np.isfinite(t)
        else:
            close = o == t
        if not np.all(close):
            i = tuple(np.argwhere(~close)[0]) if o.ndim else ()
            raise Wrong(category, f"{what}: at {i} ours {o[i]!r}, torch {t[i]!r}", self.text)

    def _new(self, ours, theirs, name, leaf=False):
        value = Value(ours, theirs, name, leaf)
        self.pool.append(value)
        if leaf:
            self.leaves.append(value)
        return value

    def _leaf(self, array):
        requires_grad = self.draw(st.integers(0, 4)) > 0  # mostly, not always
        name = f"x{len(self.leaves)}"
        ours = ad.tensor(array, dtype=ad.float64, requires_grad=requires_grad)
        theirs = self.torch.tensor(array, dtype=self.torch.float64,
                                   requires_grad=requires_grad)
        self.lines.append(f"{name} = leaf{array.shape}{'' if requires_grad else ' (constant)'}")
        return self._new(ours, theirs, name, leaf=True)

    def _constant(self, array):
        return ad.tensor(array, dtype=ad.float64), self.torch.tensor(array,
                                                                     dtype=self.torch.float64)

    # ------------------------------------------------------------------ reuse
    def _pick(self, values):
        """One of `values` (drawn by name, so failing examples print short)."""
        names = {v.name: v for v in values}
        return names[self.draw(st.sampled_from(list(names)))]

    def _reshaped(self, value, shape):
        """(label, fn): fn brings `value` to `shape` with ops both engines have (drawn among
        as-is, reshape, slice, broadcast, and sum-then-broadcast, which always fits)."""
        size = int(np.prod(shape))
        src = tuple(value.ours.shape)
        options = []
        if src == tuple(shape):
            options.append(("as is", lambda t: t))
        if int(np.prod(src)) == size:
            options.append((f".reshape{tuple(shape)}", lambda t: t.reshape(tuple(shape))))
        if len(src) == len(shape) and all(a >= b for a, b in zip(src, shape)) and src:
            index = tuple(slice(0, b) for b in shape)
            options.append((f"[{', '.join(f':{b}' for b in shape)}]", lambda t: t[index]))
        try:
            if np.broadcast_shapes(src, tuple(shape)) == tuple(shape):
                options.append((f".broadcast_to{tuple(shape)}",
                                lambda t: t.broadcast_to(tuple(shape))))
        except ValueError:
            pass
        options.append((f".sum().broadcast_to{tuple(shape)}",
                        lambda t: t.sum().broadcast_to(tuple(shape))))
        labels = dict(options)
        label = self.draw(st.sampled_from(list(labels)))
        return label, labels[label]

    def _into_domain(self, ours, theirs, domain: Domain, shape):
        """Values in `domain` (so no overflow, no kink, no tie): unchanged when they already
        are (intervals), else squashed with tanh around constants drawn from the domain."""
        if domain.kind != "grid" and _inside(_host(theirs), domain):
            return ours, theirs, ""
        mid, half = (domain.hi + domain.lo) / 2, (domain.hi - domain.lo) / 2 * 0.99
        if domain.kind == "interval":
            return (ours.tanh() * half + mid, theirs.tanh() * half + mid,
                    f".tanh() * {half:g} + {mid:g}")
        if domain.kind == "apart":
            sign = 1.0 if self.draw(st.booleans()) else -1.0
            return ((ours.tanh() * half + mid) * sign, (theirs.tanh() * half + mid) * sign,
                    f"(.tanh() * {half:g} + {mid:g}) * {sign:g}")
        # a grid domain: distinct grid points (from the domain itself) nudged by the value
        grid = domain.draw(self.draw, tuple(shape))
        c_ours, c_theirs = self._constant(grid)
        nudge = domain.step / 10
        return (ours.tanh() * nudge + c_ours, theirs.tanh() * nudge + c_theirs,
                f".tanh() * {nudge:g} + grid{tuple(shape)}")

    def _input(self, array, domain):
        """A fresh leaf holding `array`, or an earlier value brought to its shape and domain.

        Values holding NaN or inf (the special-value rows' leaves) are not reused: how NaN
        propagates through later gradients is not part of either library's contract. A
        structural row (domain None) states its domain through its maker only, so a reused
        value is nudged around the maker's own `array` (distinct, non-zero... as drawn)."""
        candidates = [v for v in self.pool if v.ours.dtype == ad.float64
                      and np.isfinite(_host(v.theirs)).all()]
        if not candidates or self.draw(st.integers(0, 9)) < 3:
            value = self._leaf(array)
            return value.ours, value.theirs, value.name
        value = self._pick(candidates)
        label, fn = self._reshaped(value, array.shape)
        ours, theirs = fn(value.ours), fn(value.theirs)
        if domain is None:
            c_ours, c_theirs = self._constant(array)
            ours, theirs = ours.tanh() * 0.01 + c_ours, theirs.tanh() * 0.01 + c_theirs
            squash = f".tanh() * 0.01 + drawn{tuple(array.shape)}"
        else:
            ours, theirs, squash = self._into_domain(ours, theirs, domain, array.shape)
        return ours, theirs, f"{value.name}{'' if label == 'as is' else label}{squash}"

    # ------------------------------------------------------------------ steps
    def op_step(self):
        row = op_table.BY_NAME[self.draw(st.sampled_from([r.name for r in ROWS]))]
        case = row.make_inputs(self.draw, np.float64)
        domains = row.domains or (None,) * len(case.arrays)  # structural rows: see _input
        ins = [self._input(a, d) for a, d in zip(case.arrays, domains)]
        name = f"v{len(self.pool)}"
        args = ", ".join(n for _, _, n in ins)
        kwargs = "".join(f", {k}={_short(v)}" for k, v in case.kwargs.items())
        theirs = [t for _, t, _ in ins]
        if row.name in TORCH_MISREADS_EXPANDED:
            theirs = [t.contiguous() if isinstance(t, self.torch.Tensor) else t for t in theirs]
        torch_fn = row.torch_fn
        if row.name in ON_PURPOSE and ON_PURPOSE[row.name][0](*theirs):
            torch_fn = ON_PURPOSE[row.name][1](self.torch)
            self.on_purpose.add(row.name)
        result = self._both(
            f"{name} = {row.name}({args}{kwargs})",
            lambda: row.fn(*(o for o, _, _ in ins), **case.kwargs),
            lambda: torch_fn(*theirs, **case.kwargs), row.name)
        if result is None:
            return
        ours, theirs = result
        outs = zip(ours, theirs) if row.multi_output else [(ours, theirs)]
        for k, (o, t) in enumerate(outs):
            self._check(o, t, f"{name}[{k}]" if row.multi_output else name,
                        f"value:{row.name}")
            if o.requires_grad != t.requires_grad:
                raise Wrong(f"requires_grad:{row.name}",
                            f"ours {o.requires_grad}, torch {t.requires_grad}", self.text)
            self._new(o, t, f"{name}_{k}" if row.multi_output else name)

    def _target(self):
        """A value that may be written in place: an intermediate (a leaf that requires grad
        cannot be), or a fresh clone of any value."""
        writable = [v for v in self.pool if not v.leaf and not v.pinned
                    and v.ours.dtype == ad.float64]
        if writable and self.draw(st.booleans()):
            return self._pick(writable)
        source = self._pick(self.pool)
        result = self._both(f"c{len(self.pool)} = {source.name}.clone()",
                            lambda: source.ours.clone(), lambda: source.theirs.clone(), "clone")
        if result is None:
            return None
        return self._new(*result, f"c{len(self.pool)}")

    def inplace_step(self):
        target = self._target()
        if (target is None or target.ours.dtype != ad.float64 or not target.ours.numel()
                or not self._same_aliasing(target)):
            # (into integers, float values near an integer truncate either way; an empty
            # tensor's aliasing cannot be seen, and a write into it changes nothing)
            return
        shape = tuple(target.ours.shape)
        methods = sorted(m for m in _INPLACE_METHODS if hasattr(ad.Tensor, m))
        kind = self.draw(st.sampled_from(["operator", "setitem"] + (["method"] if methods else [])))
        if kind == "operator":
            symbol, domain = self.draw(st.sampled_from(_INPLACE_OPERATORS))
            operand_shape = self._operand_shape(shape)
            o, t, label = self._input(domain.draw(self.draw, operand_shape), domain)
            if _overlap(target, o, t):
                return
            fn = _IOPS[symbol]
            line = f"{target.name} {symbol} {label}"
            result = self._both(line, lambda: fn(target.ours, o), lambda: fn(target.theirs, t),
                                _IOP_NAMES[symbol], inplace=True)
        elif kind == "setitem":
            if not shape or 0 in shape:
                return
            index = self.draw(st.sampled_from(
                [0, -1, slice(0, 1), (Ellipsis, 0), slice(None, None, 2)]))
            value_shape = np.empty(shape)[index].shape
            o, t, label = self._input(op_table.REAL.draw(self.draw, value_shape), op_table.REAL)
            if _overlap(target, o, t):
                return
            line = f"{target.name}[{_short(index)}] = {label}"
            result = self._both(line, lambda: _setitem(target.ours, index, o),
                                lambda: _setitem(target.theirs, index, t), "setitem", inplace=True)
        else:
            method = self.draw(st.sampled_from(methods))
            operand_domain, self_domain, extra = _INPLACE_METHODS[method]
            if self_domain is not None and not _inside(_host(target.theirs), self_domain):
                return
            args_o, args_t, label = extra, extra, ", ".join(map(str, extra))
            if operand_domain is not None:
                operand_shape = self._operand_shape(shape)
                o, t, label = self._input(operand_domain.draw(self.draw, operand_shape),
                                          operand_domain)
                if _overlap(target, o, t):
                    return
                args_o, args_t = (o,), (t,)
            line = f"{target.name}.{method}({label})"
            result = self._both(line, lambda: getattr(target.ours, method)(*args_o),
                                lambda: getattr(target.theirs, method)(*args_t), method,
                                inplace=True)
        if result is not None:
            self._check(target.ours, target.theirs, target.name, "value:inplace")

    def _same_aliasing(self, target):
        """Whether `target` shares memory with the same values in both engines: a write into
        it must change the same values. (Some op-table torch references gather a copy where
        the engine returns a view, e.g. getitem_basic; such targets are skipped.)"""
        for v in self.pool:
            if v is not target and (np.may_share_memory(v.ours.data, target.ours.data) !=
                                    (v.theirs.untyped_storage().data_ptr() ==
                                     target.theirs.untyped_storage().data_ptr())):
                return False
        return True

    def _operand_shape(self, shape):
        """A shape that broadcasts to `shape` (in-place results keep the target's shape)."""
        drop = self.draw(st.integers(0, len(shape)))
        return tuple(1 if self.draw(st.integers(0, 3)) == 0 else s for s in shape[drop:])

    def hook_step(self):
        grads = [v for v in self.pool if v.ours.requires_grad and v.theirs.requires_grad]
        if not grads:
            return
        value = self._pick(grads)
        kind = self.draw(st.sampled_from(["observe", "scale", "retain_grad"]))
        value.pinned = True
        for other in self.pool:  # an op that returned its input where torch makes a new tensor
            if other is not value and other.ours is value.ours and other.theirs is not value.theirs:
                self.lines.append(f"{value.name}.{kind}")
                raise Wrong(f"alias:{kind}", f"{value.name} is the engine tensor {other.name} "
                            "itself (torch: a new tensor), so its hook or retained gradient "
                            f"also sees {other.name}'s other uses", self.text)
        # torch 2.13 segfaults registering a hook on a view whose history a write through
        # an alias made stale (pytorch#196459); reading grad_fn first refreshes it
        _ = value.theirs.grad_fn
        if kind == "retain_grad":
            self.lines.append(f"{value.name}.retain_grad()")
            value.ours.retain_grad()
            value.theirs.retain_grad()
            return
        self.lines.append(f"{value.name}.register_hook({kind})")
        for side, tensor in (("ours", value.ours), ("theirs", value.theirs)):
            tensor.register_hook(_observe(self.seen[side], value.name) if kind == "observe"
                                 else _scale)

    # ------------------------------------------------------------------ run
    def run(self, stats: Stats):
        n_steps = self.draw(st.integers(1, self.max_steps))
        for _ in range(n_steps):
            kinds = ["op"] * 6 + ["inplace"] * 3 + ["hook"] if self.pool else ["op"]
            kind = self.draw(st.sampled_from(kinds))
            getattr(self, f"{kind}_step")()
        self.backward(stats)

    def backward(self, stats: Stats):
        graded = [v for v in self.pool if v.theirs.requires_grad and v.ours.dtype == ad.float64]
        if not graded:
            return
        chosen = self.draw(st.lists(st.sampled_from(range(len(graded))), min_size=1,
                                    max_size=4, unique=True))
        weights = [self._constant(np.linspace(-1, 1, graded[i].ours.numel()).reshape(
            graded[i].ours.shape) + 0.5 * (k + 1)) for k, i in enumerate(chosen)]
        second = self.draw(st.booleans())
        self.lines.append(f"loss = sum of weighted {', '.join(graded[i].name for i in chosen)}"
                          f"; backward(create_graph={second})")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tloss = sum((graded[i].theirs * w).sum() for i, (_, w) in zip(chosen, weights))
                tloss.backward(create_graph=second)
        except RuntimeError as exc:
            raise Invalid(str(exc)) from exc
        try:
            loss = sum((graded[i].ours * w).sum() for i, (w, _) in zip(chosen, weights))
            loss.backward(create_graph=second)
        except Exception as exc:
            raise Refused("backward", _op_of(exc, "?"), exc, self.text, self.inplace) from exc
        self._check(loss, tloss, "loss", "value:loss")
        for v in self.pool:
            # (is_leaf now: a write through a view can give a constant leaf a grad_fn)
            if v.theirs.is_leaf or v.theirs.retains_grad:
                og, tg = v.ours.grad, v.theirs.grad
                if (og is None) != (tg is None):
                    if og is not None and not np.any(_host(og)):
                        continue  # zeros where torch leaves None: same gradient
                    raise Wrong("grad:none", f"{v.name}.grad: ours {og is not None}, torch "
                                f"{tg is not None}", self.text)
                if og is not None:
                    self._check(og, tg, f"{v.name}.grad", "grad")
        if len(self.seen["ours"]) != len(self.seen["theirs"]):
            raise Wrong("hooks:calls", f"ours {len(self.seen['ours'])} calls, torch "
                        f"{len(self.seen['theirs'])}", self.text)
        # Per tensor, in call order: the order among different tensors' hooks is the
        # walk's own business (torch's differs for leaves of one node, e.g.)
        ours, theirs = (sorted(self.seen[s], key=lambda call: call[0]) for s in ("ours", "theirs"))
        for k, ((name, o), (_, t)) in enumerate(zip(ours, theirs)):
            self._check(o, t, f"hook call {k} ({name})", "grad:hook")
        if second:
            self.second_order(stats)

    def second_order(self, stats: Stats):
        torch = self.torch
        pairs = [(v, self._constant(np.cos(np.arange(v.ours.numel())).reshape(v.ours.shape)))
                 for v in self.leaves if v.theirs.is_leaf and v.theirs.grad is not None
                 and v.theirs.grad.requires_grad]
        if not pairs:
            return
        stats.second_order += 1
        leaves = [v for v in self.leaves if v.theirs.is_leaf and v.theirs.requires_grad]
        self.lines.append("second = sum of leaf.grad * weights; grad(second, leaves)")
        try:
            tsecond = sum((v.theirs.grad * w).sum() for v, (_, w) in pairs)
            tgrads = torch.autograd.grad(tsecond, [v.theirs for v in leaves], allow_unused=True)
        except RuntimeError as exc:
            raise Invalid(str(exc)) from exc
        osecond = sum((v.ours.grad * w).sum() for v, (w, _) in pairs)
        if not osecond.requires_grad:
            # the engine's first-order gradients are constants where torch's are graphs
            if any(g is not None and np.any(_host(g)) for g in tgrads):
                raise Wrong("grad2:not-differentiable", "the gradients do not require grad, "
                            "but torch's second derivatives are not 0", self.text)
            why = RuntimeError("the gradients do not require grad where torch's do (their "
                               "derivatives are 0)")
            raise Refused("second_order", "not-differentiable", why, self.text, self.inplace)
        try:
            ograds = ad.grad(osecond, [v.ours for v in leaves], allow_unused=True)
        except Exception as exc:
            raise Refused("second_order", _op_of(exc, "?"), exc, self.text, self.inplace) from exc
        for v, og, tg in zip(leaves, ograds, tgrads):
            og = np.zeros(v.ours.shape) if og is None else _host(og)
            tg = np.zeros(v.ours.shape) if tg is None else _host(tg)
            self._check(og, tg, f"d2/d{v.name}", "grad2")


def run_one(draw, torch, stats: Stats, max_steps=12):
    """Build and run one program; record its outcome in `stats`; return the outcome and the
    exception (for Refused/Wrong)."""
    program = Program(draw, torch, max_steps)
    try:
        program.run(stats)
        outcome, exc = "ok", None
    except Invalid:
        outcome, exc = "torch_refused", None
    except Refused as refused:
        outcome, exc = "refused", refused
    except Wrong as wrong:
        outcome, exc = "wrong", wrong
    # (counted here, not in a `finally`: hypothesis aborts a program whose draws ran out
    # by raising through run_one, and such a program is not one of the programs run)
    stats.with_inplace += program.inplace
    stats.on_purpose.update(program.on_purpose)
    stats.record(outcome, getattr(exc, "category", None), None if exc is None else str(exc))
    return outcome, exc


# ---------------------------------------------------------------- small helpers
_IOPS = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv}
_IOP_NAMES = {"+=": "iadd", "-=": "isub", "*=": "imul", "/=": "idiv"}


def _setitem(target, index, value):
    target[index] = value
    return target


def _scale(grad):
    return None if grad is None else grad * 2.0


def _observe(log, name):
    def hook(grad):
        # torch calls a hook with None for an output of a node that got no gradient (a
        # multi-output op's unused output); the engine does not call it: not a call here
        if grad is not None:
            log.append((name, grad.detach() if hasattr(grad, "detach") else grad))
    return hook


def _overlap(target: Value, ours, theirs) -> bool:
    """Whether an operand shares memory with the target of an in-place write (in either
    engine): torch then reads values it has already overwritten (its result depends on the
    loop order), NumPy as if from a copy, so the step is not comparable."""
    return bool(np.may_share_memory(ours.data, target.ours.data) or
                theirs.untyped_storage().data_ptr() == target.theirs.untyped_storage().data_ptr())


def _inside(values, domain: Domain) -> bool:
    """Whether every value lies in an interval or apart domain (grid domains: never)."""
    if domain.kind == "apart":
        values = np.abs(values)
    elif domain.kind != "interval":
        return False
    return bool(np.all((values >= domain.lo) & (values <= domain.hi)))


def _short(value):
    """A readable, bounded rendering of a kwarg (no long arrays in program listings)."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=8, separator=",")
        return re.sub(r"\s+", "", text)
    return repr(value)
