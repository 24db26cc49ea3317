"""A recorded step as straight-line Python: one line per NumPy call, no Tensors, no nodes.

`Program(recorder, ...)` turns the recorder's instructions into the source of a function

    def replay(_args, _ext):
        s0, s1 = _args                  # the step's input arrays
        s2, s3, s4 = _ext               # state arrays (parameters, buffers, ...) read live
        s5 = c0(s0, s2)                 # e.g. numpy.matmul
        del s0                          # each array is dropped after its last use
        ...
        return (s9,)

and compiles it once. Constants (ufuncs, dtypes, arrays that never change) are closure
variables `c<i>`. A constant array the step writes into is copied at the start of every
replay, so each replay starts from the value the capture saw. `source` is kept for reading
(`step.explain()` shows it) and for comparing two captures of the same step.
"""
from __future__ import annotations

import math

import numpy as np

from ._tracer import Slot

__all__ = ["Program", "GuardFailed"]


class GuardFailed(Exception):
    """A value the capture read into Python differs in this replay."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index


def same_value(a, b) -> bool:
    """Python values equal as the capture needs them: NaN equals NaN, types must match."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. nested lists of arrays: compare by identity
        return a is b


_LITERAL_TYPES = (int, bool, str, type(None))


class _Constants:
    """Closure variables of the generated function, deduplicated by identity."""

    def __init__(self):
        self.values = []
        self.index = {}

    def name(self, value) -> str:
        key = id(value)
        i = self.index.get(key)
        if i is None or self.values[i] is not value:
            i = self.index[key] = len(self.values)
            self.values.append(value)
        return f"c{i}"


class Program:
    """The replay function of one capture, with what the caller needs to run it."""

    def __init__(self, rec, arg_slots, ext_slots, out_slots):
        self.rec = rec
        self.arg_slots = list(arg_slots)
        self.ext_slots = list(ext_slots)
        self.out_slots = list(out_slots)
        self.instructions = _live_instructions(rec, rec.instructions, self.out_slots)
        used = {i for ins in self.instructions for i in ins.reads + ins.writes}
        used.update(self.out_slots)
        used = {rec.root[i] for i in used} | used
        #: positions (in the capture's list of state arrays) of those the program reads
        self.ext_used = [k for k, slot in enumerate(self.ext_slots) if slot in used]
        self.ext_slots = [self.ext_slots[k] for k in self.ext_used]
        self.constants = _Constants()
        self.guard_sites = {}  # constant name of a guard's expected value -> where it was read
        self.source = self._generate()
        self.fn = self._compile()
        self.guards = [i for i, ins in enumerate(self.instructions) if ins.kind == "guard"]
        self.first_write = rec.first_write
        # The recorder holds every array of the captured step: keep only what messages use.
        self.origin = rec.origin
        self.rec = None

    # ------------------------------------------------------------ code generation
    def _generate(self) -> str:
        rec, c = self.rec, self.constants
        self._names = {}  # slot -> its name in the code, numbered in order of appearance
        name = self._name
        head = []
        if self.arg_slots:
            head.append(", ".join(name(i) for i in self.arg_slots) + ", = _args")
        if self.ext_slots:
            head.append(", ".join(name(i) for i in self.ext_slots) + ", = _ext")
        body = []
        last_use = self._last_uses()
        for k, ins in enumerate(self.instructions):
            body.append(self._line(k, ins))
            dead = last_use.get(k)
            if dead:
                body.append("del " + ", ".join(name(i) for i in dead))
        body.append("return (" + "".join(name(i) + ", " for i in self.out_slots) + ")")
        escaping = self._escaping_roots()
        self.scratch = set()  # ids of constant arrays whose value the program never reads
        for slot, origin in enumerate(rec.origin):
            if origin is None or origin[0] != "const" or slot not in self._names:
                continue
            source = c.name(origin[1])
            if rec.const_use.get(slot) == "scratch":
                # overwritten whole before any read: a buffer, kept from replay to replay
                # unless the step hands it out (then a fresh one each time)
                self.scratch.add(id(origin[1]))
                head.append(f"{name(slot)} = _empty_like({source})" if slot in escaping
                            else f"{name(slot)} = {source}")
            elif slot in rec.written_roots or slot in escaping:
                head.append(f"{name(slot)} = {source}.copy()")
            else:
                head.append(f"{name(slot)} = {source}")
        code = "\n".join("        " + line for line in head + body)
        params = ", ".join(f"c{i}" for i in range(len(c.values)))
        return (f"def _make({params}{', ' if params else ''}_Fail, _same, _asarray, "
                f"_make_tensor, _empty_like):\n"
                f"    def replay(_args, _ext, _objs):\n{code}\n"
                f"    return replay\n")

    def _name(self, slot) -> str:
        name = self._names.get(slot)
        if name is None:
            name = self._names[slot] = f"s{len(self._names)}"
        return name

    def _escaping_roots(self):
        """Roots of the arrays the step hands out (returned, or bound to a tensor)."""
        slots = list(self.out_slots)
        for ins in self.instructions:
            if ins.kind == "bind":
                slots.extend(ins.reads)
        return {self.rec.root[i] for i in slots}

    def _last_uses(self):
        """{instruction index: slots whose last use it is} (outputs are never dropped)."""
        keep = set(self.out_slots)
        last = {}
        for k, ins in enumerate(self.instructions):
            for i in ins.reads:
                last[i] = k
            for i in ins.writes:
                last[i] = k
            for i in _out_indices(ins.outs):
                last.setdefault(i, k)
                last[i] = max(last[i], k)
        dead = {}
        for slot, k in last.items():
            if slot not in keep:
                dead.setdefault(k, []).append(slot)
        return dead

    def _line(self, k, ins) -> str:
        c = self.constants
        render = self._render
        kind = ins.kind
        if kind == "guard":
            value = render(ins.args[0])
            if ins.fn is not None:
                value = f"{c.name(ins.fn)}({value})"
            expected = c.name(ins.expected)
            self.guard_sites[expected] = ins.site
            return f"if not _same({value}, {expected}): raise _Fail({k})"
        if kind == "island":
            return f"{c.name(ins.fn)}({', '.join(render(a) for a in ins.args)})"
        if kind == "bind":
            target, attr, value = ins.args
            who = f"_objs[{target.index}]" if isinstance(target, ArgObject) else c.name(target)
            return f"{who}.{attr} = {self._render_bound(value)}"
        if kind == "call":
            expr = f"{c.name(ins.fn)}({self._call_args(ins.args, ins.kwargs)})"
        elif kind == "draw":  # generator._stream.<method>(...): the stream as it is now
            expr = (f"{render(ins.args[0])}._stream.{ins.fn}"
                    f"({self._call_args(ins.args[1:], ins.kwargs)})")
        elif kind == "getattr":
            expr = f"{render(ins.args[0])}.{ins.fn}"
        elif ins.fn == "__getitem__":
            expr = f"{render(ins.args[0])}[{render(ins.args[1])}]"
        elif ins.fn == "__setitem__":
            return f"{render(ins.args[0])}[{render(ins.args[1])}] = {render(ins.args[2])}"
        else:
            expr = f"{render(ins.args[0])}.{ins.fn}({self._call_args(ins.args[1:], ins.kwargs)})"
        if ins.scalar_out is True:
            expr = f"_asarray({expr})"
        outs = ins.outs
        if outs is None:
            return expr
        if isinstance(outs, Slot):
            return f"{self._name(outs.index)} = {expr}"
        line = ", ".join(self._name(o.index) for o in outs) + f", = {expr}"
        if ins.scalar_out:
            line += "".join(f"; {self._name(o.index)} = _asarray({self._name(o.index)})"
                            for o, scalar in zip(outs, ins.scalar_out) if scalar)
        return line

    def _call_args(self, args, kwargs) -> str:
        parts = [self._render(a) for a in args]
        parts += [f"{k}={self._render(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def _render(self, v) -> str:
        if isinstance(v, Slot):
            return self._name(v.index)
        kind = type(v)
        if kind in _LITERAL_TYPES:
            return repr(v)
        if kind is float and math.isfinite(v):
            return repr(v)
        if kind is tuple:
            return "(" + "".join(self._render(x) + ", " for x in v) + ")"
        if kind is list:
            return "[" + ", ".join(self._render(x) for x in v) + "]"
        if kind is dict and all(type(k) is str for k in v):
            return "{" + ", ".join(f"{k!r}: {self._render(x)}" for k, x in v.items()) + "}"
        if v is Ellipsis:
            return "..."
        return self.constants.name(v)

    def _render_bound(self, value) -> str:
        """A bound attribute's value: a new Tensor around a slot, or a structure/constant."""
        if isinstance(value, TensorOf):
            return f"_make_tensor({self._name(value.slot.index)}, None, False)"
        return self._render(value)

    def _compile(self):
        from ..tensor import Tensor
        namespace = {}
        exec(compile(self.source, "<autodiff captured step>", "exec"), namespace)  # noqa: S102
        return namespace["_make"](*self.constants.values, GuardFailed, same_value,
                                  np.asarray, Tensor._make, np.empty_like)

    # ------------------------------------------------------------ comparing captures
    def difference(self, other):
        """None when `other` (a capture of the same step) is the same program with the
        same constants, else a sentence saying where the two first differ."""
        a_lines, b_lines = self.source.splitlines()[2:], other.source.splitlines()[2:]
        for k, (la, lb) in enumerate(zip(a_lines, b_lines)):
            if la != lb:
                return (f"the recorded calls differ at line {k + 1}: {la.strip()!r} vs "
                        f"{lb.strip()!r}")
        if len(a_lines) != len(b_lines):
            return (f"one capture recorded {len(a_lines)} lines and the other "
                    f"{len(b_lines)}")
        for i, (x, y) in enumerate(zip(self.constants.values, other.constants.values)):
            if id(x) in self.scratch and id(y) in other.scratch:
                continue  # buffers: their values are never read
            if not _same_constant(x, y):
                site = self.guard_sites.get(f"c{i}")
                if site is not None:
                    return (f"a value the step computes is read into Python at {site} "
                            f"(bool(), float(), int() or .item()) and differs from step to "
                            f"step ({_describe(x)} vs {_describe(y)}); keep such reads (e.g. "
                            "loss.item()) outside the step and return the tensor instead")
                return f"constant c{i} differs: {_describe(x)} vs {_describe(y)}" + \
                    self._constant_site(i)
        return None

    def _constant_site(self, i) -> str:
        value = self.constants.values[i]
        for origin in self.origin:
            if origin is not None and origin[0] == "const" and origin[1] is value:
                return f" (an array made outside the recorder's view, first used at {origin[2]})"
        name = f"c{i}"
        for line in self.source.splitlines()[2:]:
            if name in line.replace("(", " ").replace(",", " ").replace(")", " ").split():
                return f" (used in: {line.strip()})"
        return ""


_EFFECTS = ("guard", "island", "bind", "draw")


def _live_instructions(rec, instructions, out_slots):
    """The instructions whose results matter: those with effects (guards, islands, binds,
    draws, writes into an argument or state) and, backwards, whatever they and the outputs
    read. A value the step computed and dropped (the loss of a step that returns nothing)
    is not computed again."""
    root = rec.root
    needed = {root[i] for i in out_slots}
    for slot, origin in enumerate(rec.origin):
        if origin is not None and origin[0] in ("arg", "ext"):
            needed.add(slot)  # writes into them are effects
    keep = []
    for ins in reversed(instructions):
        outs = _out_indices(ins.outs)
        if (ins.kind in _EFFECTS or any(root[i] in needed for i in outs)
                or any(root[i] in needed for i in ins.writes)):
            keep.append(ins)
            needed.update(root[i] for i in ins.reads)
            needed.update(root[i] for i in ins.writes)
    keep.reverse()
    return keep


class ArgObject:
    """A bind target: the i-th Tensor argument of the call being replayed."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class TensorOf:
    """A bind value: a fresh Tensor around the slot's array (as eager makes p.grad)."""

    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


def _out_indices(outs):
    if outs is None:
        return ()
    if isinstance(outs, Slot):
        return (outs.index,)
    return tuple(o.index for o in outs)


def _same_constant(x, y) -> bool:
    if x is y:
        return True
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return (x.shape == y.shape and x.dtype == y.dtype
                and x.tobytes() == y.tobytes())
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return False
    return same_value(x, y)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        flat = x.reshape(-1)[:4]
        return f"an array of shape {x.shape} starting {flat.tolist()}"
    return repr(x)[:80]
