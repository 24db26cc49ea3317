"""ctx.xp under create_graph (autodiff/ops/symbolic.py) is complete: every `ctx.xp.<name>` a
backward rule can reach when the rule runs on Tensors resolves to a differentiable op.

The rules are read, not run: the source of every `backward` in autodiff/ops (and of the
module-level helpers they pass `ctx` or `ctx.xp` to) is walked, skipping the branches that
never run under create_graph (`if not ctx.create_graph:`, `if ctx.grad_is_scratch:`, and
whatever follows an `if ctx.create_graph: ... return`).
"""
import ast
import inspect
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff.ops import symbolic

OPS_DIR = Path(ad.__file__).parent / "ops"


def _is_attr(node, *chain):
    """node is the attribute chain, e.g. ("ctx", "xp") for `ctx.xp`."""
    for name in reversed(chain[1:]):
        if not (isinstance(node, ast.Attribute) and node.attr == name):
            return False
        node = node.value
    return isinstance(node, ast.Name) and node.id == chain[0]


def _mentions(test, *chain):
    return any(_is_attr(n, *chain) for n in ast.walk(test))


def _never_under_create_graph(test):
    """`not ctx.create_graph` or `ctx.grad_is_scratch` (never set under create_graph)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_attr(test.operand, "ctx", "create_graph")
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_never_under_create_graph(v) for v in test.values)
    return _is_attr(test, "ctx", "grad_is_scratch")


class _Uses(ast.NodeVisitor):
    """xp names used by statements that can run under create_graph, and the helpers called
    with ctx (or xp) as an argument."""

    def __init__(self, ctx_name="ctx", xp_names=()):
        self.ctx, self.xp = ctx_name, set(xp_names)
        self.names, self.calls = set(), []

    def body(self, stmts):
        for st in stmts:
            if isinstance(st, ast.If):
                if _never_under_create_graph(st.test):
                    self.body(st.orelse)
                    continue
                if _is_attr(st.test, self.ctx, "create_graph"):
                    self.body(st.body)
                    if any(isinstance(s, ast.Return) for s in st.body):
                        return  # the rest runs only without create_graph
                    self.body(st.orelse)
                    continue
                self.visit(st.test)
                self.body(st.body)
                self.body(st.orelse)
            elif isinstance(st, (ast.For, ast.While, ast.With, ast.Try)):
                for field in ("iter", "test"):
                    if getattr(st, field, None) is not None:
                        self.visit(getattr(st, field))
                for block in ("body", "orelse", "finalbody"):
                    self.body(getattr(st, block, []))
                for h in getattr(st, "handlers", []):
                    self.body(h.body)
            else:
                self.visit(st)

    def visit_Assign(self, node):
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and \
                _is_attr(node.value, self.ctx, "xp"):
            self.xp.add(node.targets[0].id)
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if _is_attr(node.value, self.ctx, "xp"):
            self.names.add(node.attr)
        elif isinstance(node.value, ast.Name) and node.value.id in self.xp:
            self.names.add(node.attr)
        self.generic_visit(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name):
            args = [(i, a) for i, a in enumerate(node.args)]
            for i, a in args:
                if isinstance(a, ast.Name) and a.id == self.ctx:
                    self.calls.append((node.func.id, i, "ctx"))
                elif _is_attr(a, self.ctx, "xp") or (isinstance(a, ast.Name) and a.id in self.xp):
                    self.calls.append((node.func.id, i, "xp"))
        self.generic_visit(node)


def _functions(tree):
    return {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}


def _rule_uses(path):
    """{(where, name)}: the xp names each backward rule of the module can use."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    helpers = _functions(tree)
    found = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "backward"):
            todo, seen = [(f"{cls.name}.backward", fn, fn.args.args[0].arg, ())], set()
            while todo:
                where, f, ctx_name, xp_names = todo.pop()
                uses = _Uses(ctx_name, xp_names)
                uses.body(f.body)
                found |= {(where, n) for n in uses.names}
                for name, pos, kind in uses.calls:
                    helper = helpers.get(name)
                    if helper is None or (name, pos) in seen or pos >= len(helper.args.args):
                        continue
                    seen.add((name, pos))
                    param = helper.args.args[pos].arg
                    todo.append((f"{cls.name}.backward -> {name}", helper,
                                 param if kind == "ctx" else "<ctx>",
                                 (param,) if kind == "xp" else ()))
    return found


def test_every_xp_name_a_rule_uses_under_create_graph_is_a_differentiable_op():
    uses = set()
    for path in sorted(OPS_DIR.glob("*.py")):
        uses |= {(f"{path.name}: {where}", name) for where, name in _rule_uses(path)}
    assert len({n for _, n in uses}) >= 8  # the reader does find the rules' uses
    missing = sorted(f"{where} uses ctx.xp.{name}" for where, name in uses
                     if name not in vars(symbolic))
    assert not missing, "not in autodiff/ops/symbolic.py:\n" + "\n".join(missing)


def test_the_reader_sees_a_missing_name():
    src = textwrap.dedent('''
        class Cos(Function):
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved
                return -g * ctx.xp.sin(x)

        class Fine(Function):
            @staticmethod
            def backward(ctx, g):
                if not ctx.create_graph:
                    return ctx.xp.fast_thing(g)
                xp = ctx.xp
                return helper(xp, g)

        def helper(xp, g):
            return xp.cosh(g)
        ''')
    path = Path(__file__).parent / "_symbolic_probe.py"
    try:
        path.write_text(src, encoding="utf-8")
        assert _rule_uses(path) == {("Cos.backward", "sin"),
                                    ("Fine.backward -> helper", "cosh")}
    finally:
        path.unlink()


@pytest.mark.parametrize("name", sorted(symbolic.UFUNCS))
def test_ufunc_entries_mean_what_numpy_means(name):
    ufunc = getattr(np, name)
    rng = np.random.default_rng(0)
    if "dd->d" in ufunc.types or "d->d" in ufunc.types or "dd->?" in ufunc.types \
            or "d->?" in ufunc.types:
        args = [rng.uniform(0.5, 2.0, size=(3,)) for _ in range(ufunc.nin)]
    else:  # integer-only ufuncs (bitwise ops, shifts)
        args = [rng.integers(1, 5, size=(3,)) for _ in range(ufunc.nin)]
    with np.errstate(all="ignore"):  # arccosh/arctanh outside their domain: NaN in both
        got = getattr(symbolic, name)(*[ad.tensor(a) for a in args])
        np.testing.assert_allclose(got.data, ufunc(*args), rtol=1e-12)


def test_a_missing_name_is_named_in_the_error():
    with pytest.raises(AttributeError, match=r"ctx\.xp\.cosine: 'cosine' has no "
                                             "differentiable autodiff op"):
        symbolic.cosine  # noqa: B018


class _UsesMissing(ad.Function):
    """2 sin(x)-like rule written with a name ctx.xp lacks: first order works, a second
    derivative names the missing function."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * 2 * ctx.xp.positive(x)


def test_create_graph_through_a_missing_name_reports_it():
    x = ad.tensor([1.5, -2.0], dtype=ad.float64, requires_grad=True)
    (g,) = ad.grad(_UsesMissing.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, [3.0, -4.0])  # the values are right
    with pytest.raises(RuntimeError, match=r"ctx\.xp\.positive") as info:
        g.sum().backward()
    assert info.value.op == "_usesmissing"


def test_jvp_through_an_op_without_double_backward_raises():
    """jvp (the double-vjp trick) differentiates the vjp w.r.t. the incoming gradient: an
    opaque gradient must depend on it, else jvp silently returned zeros."""
    x = ad.tensor([1.5, -2.0], dtype=ad.float64)
    with pytest.raises(RuntimeError, match="cannot be differentiated again"):
        ad.functional.jvp(_UsesMissing.apply, x, ad.tensor([1.0, 1.0], dtype=ad.float64))
    out, tangent = ad.functional.jvp(lambda a: a * a, x, ad.tensor([1.0, 1.0], dtype=ad.float64))
    np.testing.assert_allclose(tangent.data, 2 * x.data)


def test_rule_source_is_readable_for_every_builtin_op():
    """Guard for the reader above: every Function subclass in autodiff.ops defines its
    backward in a file under autodiff/ops (none is generated at run time)."""
    import autodiff.ops  # noqa: F401
    classes = [c for c in _all_subclasses(ad.Function) if c.__module__.startswith("autodiff.ops")]
    assert classes
    for c in classes:
        if "backward" in vars(c):
            assert Path(inspect.getsourcefile(c)).parent == OPS_DIR, c


def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out
