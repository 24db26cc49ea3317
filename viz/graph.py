"""The drawable model of a computation graph: which tensors, ops, constants and module boxes
are drawn, their stable ids, names, kinds and clusters. DOT text is made from it in dot.py.

Ids come from each tensor's position in `ad.topological_order` (t0, t1, ...; the op that
produced tensor i is o{i}), never from id(), so the same graph always gives the same text.
"""
from __future__ import annotations

import numbers

import autodiff as ad

from .naming import ExpressionNamer

__all__ = ["GraphModel", "KINDS"]

#: Node kinds, in legend order.
KINDS = ("input", "parameter", "constant", "intermediate", "output", "op", "module")


def _is_constant_value(v) -> bool:
    """A non-tensor op argument worth drawing (a number or an array, e.g. class targets),
    not None/slices/tuples."""
    if isinstance(v, (bool, numbers.Number)):
        return True
    return hasattr(v, "dtype") and hasattr(v, "shape") and hasattr(v, "ndim")


def _constant_text(value):
    """How a one-element constant operand reads in an expression name (None for arrays)."""
    from ._format import number  # noqa: PLC0415  (small module, no cycle at import)
    if isinstance(value, (bool, numbers.Number)):
        return number(value, 4)
    if getattr(value, "size", 0) == 1:
        return number(value.reshape(()).item() if hasattr(value, "reshape") else value, 4)
    return None


def _normalise_collapse(collapse):
    """None, a depth (int), or a set of labels (a single string means one label)."""
    if collapse is None or collapse is False:
        return None
    if isinstance(collapse, bool):
        return 0
    if isinstance(collapse, int):
        if collapse < 0:
            raise ValueError(f"draw_graph: collapse={collapse} must be a depth >= 0 "
                             "(0 collapses the outermost modules), a set of labels, or None")
        return collapse
    if isinstance(collapse, str):
        return frozenset([collapse])
    try:
        return frozenset(str(c) for c in collapse)
    except TypeError:
        raise TypeError(f"draw_graph: collapse must be None, a depth (int) or a set of module "
                        f"labels, not {type(collapse).__name__}") from None


def _named_tensors(names) -> dict:
    """{id(tensor): name} from a {name: tensor} dict, (name, tensor) pairs, or anything with
    named_parameters() (an nn.Module)."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        pairs = list(names.named_parameters())
    elif hasattr(names, "items"):
        pairs = list(names.items())
    else:
        try:
            pairs = [(name, t) for name, t in names]
        except (TypeError, ValueError):
            raise TypeError("draw_graph: names must be a {name: tensor} dict, (name, tensor) "
                            "pairs or a module with named_parameters(), not "
                            f"{type(names).__name__}") from None
    out = {}
    for name, t in pairs:
        if isinstance(t, ad.Tensor):
            out[id(t)] = str(name)
    return out


class GraphModel:
    """Everything that decides what is drawn; built once, emitted to DOT many times."""

    def __init__(self, roots, names=None, cluster_modules=True, collapse=None,
                 variables=None):
        if isinstance(roots, ad.Tensor):
            roots = [roots]
        roots = list(roots)
        for r in roots:
            if not isinstance(r, ad.Tensor):
                raise TypeError(f"draw_graph: expected a Tensor (or a list of Tensors) to draw, "
                                f"got {type(r).__name__}")
        if not roots:
            raise ValueError("draw_graph: nothing to draw (no tensors given)")
        self.tensors = ad.topological_order(roots)
        self.index = {id(t): i for i, t in enumerate(self.tensors)}
        self.root_index = frozenset(self.index[id(r)] for r in roots)
        self.cluster_modules = bool(cluster_modules)
        self.collapse = _normalise_collapse(collapse)
        n = len(self.tensors)
        self.nodes = [t.grad_fn for t in self.tensors]
        # inputs[i]: for op i, a list of ("t", j) / ("c", value) / None per input position
        self.inputs = [None] * n
        consumers = [[] for _ in range(n)]
        index = self.index
        for i, node in enumerate(self.nodes):
            if node is None:
                continue
            entries = []
            for inp in node.inputs:
                if isinstance(inp, ad.Tensor):
                    j = index[id(inp)]
                    entries.append(("t", j))
                    consumers[j].append(i)
                elif _is_constant_value(inp):
                    entries.append(("c", inp))
                else:
                    entries.append(None)
            self.inputs[i] = entries
        self.consumers = consumers
        self._owner_params = {}
        self.scope = [self._scope_of(i) for i in range(n)]
        self.kind = [self._kind(i) for i in range(n)]
        self.name = self._names(_named_tensors(names), variables or {})
        self._layout_scopes()

    # ------------------------------------------------------------------ scopes
    def _params_of(self, owner):
        """ids of the parameters of a scope's owner (e.g. an nn.Module), or None."""
        key = id(owner)
        if key not in self._owner_params:
            ids = None
            fn = getattr(owner, "named_parameters", None)
            if callable(fn):
                try:
                    ids = {id(p): name for name, p in fn()}
                except Exception:  # an owner we cannot ask: treat as unknown
                    ids = None
            self._owner_params[key] = ids
        return self._owner_params[key]

    def _scope_of(self, i):
        node = self.nodes[i]
        if node is not None:
            return node.scope
        # A leaf joins the deepest scope that holds all its consumers, if that scope's
        # module owns it (a parameter); an input fed into a module stays outside it.
        scopes = [self.nodes[c].scope for c in self.consumers[i]]
        if not scopes or any(s is None for s in scopes):
            return None
        common = scopes[0].path()
        for s in scopes[1:]:
            path = s.path()
            k = 0
            while k < min(len(common), len(path)) and common[k] is path[k]:
                k += 1
            common = common[:k]
        if not common:
            return None
        t = self.tensors[i]
        any_owner = False
        for s in reversed(common):
            params = self._params_of(s.owner) if s.owner is not None else None
            if params is not None:
                any_owner = True
                if id(t) in params:
                    return s
        if any_owner:
            return None
        return common[-1] if t.requires_grad else None

    def _kind(self, i):
        t = self.tensors[i]
        if i in self.root_index:
            return "output"
        if self.nodes[i] is not None:
            return "intermediate"
        if t.requires_grad:
            return "parameter"
        return "input" if (t.name is not None or t.ndim > 0) else "constant"

    def _names(self, given, variables):
        """Labels by priority (see viz.naming); a label two tensors would share gets primes
        on the later ones (p, p'), so that different tensors never look the same."""
        namer = ExpressionNamer(_constant_text)
        names = []
        for i, t in enumerate(self.tensors):
            name = given.get(id(t)) or t.name or variables.get(id(t))
            if name is None and self.nodes[i] is None and self.scope[i] is not None:
                name = self._module_param_name(i)
            if name is None and self.nodes[i] is not None:
                operands = [names[e[1]] if e[0] == "t" else _constant_text(e[1])
                            for e in self.inputs[i] if e is not None]
                name = namer(self.nodes[i], operands) if len(operands) == len(
                    self.inputs[i]) else None
            names.append(str(name) if name is not None else None)
        # generated ids last, so they never collide with a given name
        taken = set(n for n in names if n is not None)
        for i, n in enumerate(names):
            if n is None:
                n = f"t{i}"
                while n in taken:
                    n += "'"
                names[i] = n
                taken.add(n)
        # the same name in two module clusters is told apart by its cluster (weight, weight)
        seen = set()
        for i, n in enumerate(names):
            where = self.cluster_key(self.scope[i]) if self.nodes[i] is None else None
            while (n, id(where)) in seen:
                n += "'"
            names[i] = n
            seen.add((n, id(where)))
        return names

    def _module_param_name(self, i):
        """'weight' inside its module's cluster; the dotted name ('0.weight') without."""
        path = self.scope[i].path()
        order = reversed(path) if self.cluster_modules else path
        for s in order:
            if s.owner is None:
                continue
            params = self._params_of(s.owner)
            if params is not None and id(self.tensors[i]) in params:
                return params[id(self.tensors[i])]
        return None

    def _is_collapsed(self, s):
        c = self.collapse
        if isinstance(c, int):
            return s.depth == c
        return s.label in c or (s.owner is not None and type(s.owner).__name__ in c)

    def _layout_scopes(self):
        """Decide the box each tensor is folded into, what is visible, and the clusters."""
        n = len(self.tensors)
        box_of_scope = {}

        def box(s):
            if s is None or self.collapse is None:
                return None
            key = id(s)
            if key not in box_of_scope:
                found = None
                for a in s.path():
                    if self._is_collapsed(a):
                        found = a
                        break
                box_of_scope[key] = found
            return box_of_scope[key]

        self.box = [box(self.scope[i]) for i in range(n)]
        roots = self.root_index
        visible = [True] * n
        for i in range(n):
            b = self.box[i]
            if b is not None and i not in roots:
                visible[i] = any(self.box[c] is not b for c in self.consumers[i])
        self.visible = visible
        # Where each drawn element sits: its scope, or the scope around its box.
        self.place = [None] * n
        for i in range(n):
            b = self.box[i]
            self.place[i] = self.scope[i] if b is None else b.parent
        # Scopes numbered by first appearance (stable).
        self.scope_id = {}
        for i in range(n):
            for s in (self.scope[i], self.box[i]):
                if s is None:
                    continue
                for a in s.path():
                    if id(a) not in self.scope_id:
                        self.scope_id[id(a)] = len(self.scope_id)
        # statistics shown in a box's label
        self.box_stats = {}
        for i in range(n):
            b = self.box[i]
            if b is None:
                continue
            ops, params = self.box_stats.get(id(b), (0, 0))
            if self.nodes[i] is not None:
                ops += 1
            elif self.tensors[i].requires_grad:
                params += self.tensors[i].numel()
            self.box_stats[id(b)] = (ops, params)

    def cluster_key(self, scope):
        """The cluster an element placed in `scope` is drawn in (None: top level)."""
        if scope is None or not self.cluster_modules:
            return None
        return scope
