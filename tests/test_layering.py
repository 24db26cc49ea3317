"""The dependency rule, checked by reading imports (ast):

- nn/ and viz/ use autodiff only through its public package surface (`import autodiff`,
  `from autodiff import <public name>`, `ad.<public name>`), never its internal modules
  (autodiff.ops, autodiff.graph, autodiff.function, ...);
- viz/ uses nn only through its public packages (API.md: nn, nn.functional, nn.init,
  nn.optim, nn.utils, nn.utils.data, nn.transforms, nn.training, nn.ensemble, nn.tuning)
  and their public names, never nn's internal modules (nn.linear, nn._rng, ...);
- nothing in autodiff/ imports nn or viz;
- autodiff/backend.py is the only module that imports cupy.

Walks whatever files exist, so modules added later are covered automatically.
"""
import ast
import importlib
import types
from pathlib import Path

import pytest

import autodiff

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_SUBMODULES = {"functional", "testing", "linalg", "return_types"}  # ad.functional.grad, ad.linalg.norm, ...


def _files(package):
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path, root=ROOT):
    return path.relative_to(root).as_posix()


def _is_public(name):
    """A name users may reach as autodiff.<name>."""
    if name.startswith("_"):
        return False
    if name in getattr(autodiff, "__all__", ()):
        return True
    try:
        value = getattr(autodiff, name)
    except AttributeError:
        return False
    return not isinstance(value, types.ModuleType) or name in PUBLIC_SUBMODULES


def _absolute(path, node, root):
    """The absolute module name of an ImportFrom (resolving relative imports)."""
    if node.level == 0:
        return node.module or ""
    parts = list(path.relative_to(root).with_suffix("").parts)
    base = parts[:-1]           # the package the module lives in (also for __init__)
    up = node.level - 1
    if up >= len(base):
        return "<beyond-top-level>"
    base = base[:len(base) - up] if up else base
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path, root=ROOT):
    """(lineno, imported module, names or None, alias) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append((node.lineno, alias.name, None, alias.asname))
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            out.append((node.lineno, _absolute(path, node, root), names, None))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("__import__", "import_module"))):
            out.append((node.lineno, node.args[0].value, None, None))
    return tree, out


def _autodiff_aliases(tree):
    """Names bound to the autodiff package by `import autodiff [as ad]`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "autodiff":
                    names.add(alias.asname or "autodiff")
    return names


def _layering_violations(path, root=ROOT):
    tree, imports = _imports(path, root)
    bad = []
    for lineno, module, names, asname in imports:
        where = f"{_rel(path, root)}:{lineno}"
        top, _, rest = module.partition(".")
        if top != "autodiff":
            continue
        if rest:
            if rest.split(".")[0] not in PUBLIC_SUBMODULES:
                bad.append(f"{where}: imports internal module '{module}'")
        elif names is not None:
            for name in names:
                if name == "*" or not _is_public(name):
                    bad.append(f"{where}: 'from autodiff import {name}' is not a public name")
    aliases = _autodiff_aliases(tree)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and not _is_public(node.attr)):
            bad.append(f"{_rel(path, root)}:{node.lineno}: uses internal "
                       f"'{node.value.id}.{node.attr}'")
    return bad


CLIENT_FILES = _files("nn") + _files("viz")


@pytest.mark.parametrize("path", CLIENT_FILES, ids=_rel)
def test_nn_and_viz_use_only_public_autodiff(path):
    assert _layering_violations(path) == []


#: The nn packages API.md names: viz may import these and use their public names.
NN_PUBLIC_PACKAGES = {"nn", "nn.functional", "nn.init", "nn.optim", "nn.optim.lr_scheduler",
                      "nn.utils", "nn.utils.data", "nn.transforms", "nn.training",
                      "nn.ensemble", "nn.tuning"}


def _nn_public(package, name):
    """Whether `from <package> import <name>` / `<package>.<name>` stays on the public
    surface: a public package, or a public non-module attribute of one."""
    full = f"{package}.{name}"
    if full in NN_PUBLIC_PACKAGES:
        return True
    if name.startswith("_") or name == "*":
        return False
    value = getattr(importlib.import_module(package), name, None)
    return not isinstance(value, types.ModuleType)


def _nn_violations(path, root=ROOT):
    """Uses of nn's internals in a viz file: imports of its internal modules or private
    names, and attribute chains such as nn.linear.Linear or nn._rng on an imported nn."""
    tree, imports = _imports(path, root)
    bad, bound = [], {}
    for lineno, module, names, asname in imports:
        where = f"{_rel(path, root)}:{lineno}"
        if module.split(".")[0] != "nn":
            continue
        if module not in NN_PUBLIC_PACKAGES:
            bad.append(f"{where}: imports internal module '{module}'")
            continue
        if names is None:
            bound[asname or module.split(".")[0]] = module if asname else "nn"
        for name in names or ():
            if not _nn_public(module, name):
                bad.append(f"{where}: 'from {module} import {name}' is not public")
            elif f"{module}.{name}" in NN_PUBLIC_PACKAGES:
                bound[name] = f"{module}.{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            package = bound.get(node.value.id)
            if package is not None and not _nn_public(package, node.attr):
                bad.append(f"{_rel(path, root)}:{node.lineno}: uses internal "
                           f"'{node.value.id}.{node.attr}'")
    return bad


@pytest.mark.parametrize("path", _files("viz"), ids=_rel)
def test_viz_uses_only_public_nn(path):
    assert _nn_violations(path) == []


def test_nn_checker_flags_internal_uses(tmp_path):
    (tmp_path / "viz").mkdir()
    probe = tmp_path / "viz" / "probe.py"
    probe.write_text("import nn\n"
                     "import nn.linear\n"
                     "from nn import training, functional as F, Linear, linear, _rng\n"
                     "from nn.training.layer_stats import activation_summary\n"
                     "from nn.training import activation_summary, _kind\n"
                     "from nn import optim\n"
                     "a = nn.Linear(2, 3), nn.training.fit, nn.conv.Conv2d, nn._grads\n"
                     "b = training.History, training.loop, optim.SGD, optim.adam\n")
    text = "\n".join(_nn_violations(probe, root=tmp_path))
    assert "viz/probe.py:2: imports internal module 'nn.linear'" in text
    assert "'from nn import linear' is not public" in text
    assert "'from nn import _rng' is not public" in text
    assert "imports internal module 'nn.training.layer_stats'" in text
    assert "'from nn.training import _kind' is not public" in text
    assert "'nn.conv'" in text and "'nn._grads'" in text
    assert "'training.loop'" in text and "'optim.adam'" in text
    for fine in ("import training", "import functional", "import Linear", "'nn.Linear'",
                 "'nn.training'", "activation_summary'", "History", "SGD"):
        assert fine not in text, fine
    assert len(text.splitlines()) == 9, text


#: ad.testing.modules() builds nn layers for users' tests: that one file may import nn,
#: inside a function only, so neither `import autodiff` nor `import autodiff.testing` loads nn.
LAZY_NN_IMPORT_ALLOWED = {"autodiff/testing/modules.py"}


def _function_body_import_lines(tree):
    """Line numbers of the imports made inside function bodies (run on call, not import)."""
    return {node.lineno for fn in ast.walk(tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}


@pytest.mark.parametrize("path", _files("autodiff"), ids=_rel)
def test_autodiff_does_not_import_nn_or_viz(path):
    tree, imports = _imports(path)
    lazy = _function_body_import_lines(tree) if _rel(path) in LAZY_NN_IMPORT_ALLOWED else ()
    bad = [f"{_rel(path)}:{line}: imports {module}" for line, module, _, _ in imports
           if (module.split(".")[0] in ("nn", "viz") and not (module == "nn" and line in lazy))
           or module == "<beyond-top-level>"]
    assert bad == []


def test_lazy_nn_import_allowance_is_inside_functions_only(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import nn\n\ndef build():\n    import nn\n    return nn\n")
    tree, _ = _imports(probe, tmp_path)
    assert _function_body_import_lines(tree) == {4}


@pytest.mark.parametrize("path", _files("autodiff") + CLIENT_FILES, ids=_rel)
def test_only_backend_imports_cupy(path):
    if _rel(path) == "autodiff/backend.py":
        pytest.skip("the one module allowed to import cupy")
    _, imports = _imports(path)
    bad = [f"{_rel(path)}:{line}: imports {module}" for line, module, _, _ in imports
           if module.split(".")[0] in ("cupy", "cupyx")]
    assert bad == []


def test_backend_is_where_cupy_is_imported():
    _, imports = _imports(ROOT / "autodiff" / "backend.py")
    assert any(m.split(".")[0] == "cupy" for _, m, _, _ in imports)


def test_checker_flags_internal_imports(tmp_path):
    """The checker itself must catch each kind of violation (a test that cannot fail is none)."""
    (tmp_path / "nn").mkdir()
    probe = tmp_path / "nn" / "probe.py"
    probe.write_text("import autodiff as ad\n"
                     "import autodiff.graph\n"
                     "from autodiff.ops import elementwise\n"
                     "from autodiff import graph, tensor, Function\n"
                     "from autodiff.functional import grad\n"
                     "from .. import autodiff as up\n"
                     "x = ad.ops.shape\n"
                     "y = ad._backend\n"
                     "z = ad.tensor([1.0]) + ad.no_grad\n")
    bad = _layering_violations(probe, root=tmp_path)
    text = "\n".join(bad)
    assert "nn/probe.py:2: imports internal module 'autodiff.graph'" in text
    assert "nn/probe.py:3: imports internal module 'autodiff.ops'" in text
    assert "'from autodiff import graph' is not a public name" in text
    assert "import tensor" not in text and "import Function" not in text
    assert "autodiff.functional" not in text
    assert "'ad.ops'" in text and "'ad._backend'" in text
    assert "ad.tensor" not in text and "ad.no_grad" not in text
    assert len(bad) == 5, bad


def test_relative_imports_resolved(tmp_path):
    (tmp_path / "autodiff" / "ops").mkdir(parents=True)
    probe = tmp_path / "autodiff" / "ops" / "probe.py"
    probe.write_text("from .. import backend\nfrom ..graph import x\nfrom ... import nn\n"
                     "from . import shape\n")
    _, imports = _imports(probe, tmp_path)
    assert [m for _, m, _, _ in imports] == ["autodiff", "autodiff.graph", "<beyond-top-level>",
                                             "autodiff.ops"]
