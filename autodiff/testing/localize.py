"""Find which op's own backward is wrong, by checking a recorded graph node by node.

When the gradient of a composite function (a lambda, a layer, a model) disagrees with its
numerical derivative, the graph its failing evaluation recorded is walked with the public
node attributes (INTERFACES §6): each node's forward is re-run in float64 as
`type(node).apply(*node.inputs, **node.params)`, its backward (the op's own rule, through
`ad.grad` on the re-run) is compared with central differences, and the ops that disagree
are named with the module scope they were recorded in.

A node is skipped, and said so, when re-running it does not reproduce its recorded output
(a random op such as dropout, an op with hidden state) or raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..graph import topological_order
from ..mode import enable_grad
from ..tensor import Tensor
from .numerics import Mismatch, compare_gradients, float64_leaf, host64
from .repro import index_text, num

__all__ = ["NodeFinding", "Localization", "localize"]

#: Elements checked per node input (all of them up to this many, else a fixed sample).
MAX_ELEMENTS_PER_INPUT = 256


@dataclass
class NodeFinding:
    """One op whose backward disagrees with the numerical derivative of its forward."""
    op: type
    name: str
    scope: str
    mismatch: Mismatch
    input_position: int

    def describe(self) -> str:
        m = self.mismatch
        where = f", recorded in {self.scope}" if self.scope else ""
        return (f"{self.op.__qualname__} (op '{self.name}'{where}): the gradient its backward "
                f"returns for its input {self.input_position} (shape {m.shape}) is wrong at "
                f"element {index_text(m.index)}: backward {num(m.analytic)} vs numerical "
                f"{num(m.numerical)}")


@dataclass
class Localization:
    checked: int = 0
    findings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)   # (op name, reason)

    def describe(self) -> str:
        if not self.checked and not self.skipped:
            return ""
        lines = [f"Checked the recorded graph node by node ({self.checked} ops re-run in "
                 "float64, each op's own backward against its numerical derivative):"]
        if self.findings:
            for f in self.findings:
                lines.append("  WRONG: " + f.describe())
        else:
            lines.append(
                "  every op's own backward matches its numerical derivative, so the error is "
                "in how the function combines them: a value computed outside the graph "
                "(NumPy on .data or .numpy(), .item(), .detach()), an op whose result "
                "depends on something the graph does not record, or an in-place change of "
                "an input after it was used")
        if self.skipped:
            names = ", ".join(f"{name} ({reason})" for name, reason in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            lines.append(f"  not re-checked: {names}{more}")
        return "\n".join(lines)


def _scope_text(scope) -> str:
    if scope is None:
        return ""
    return " / ".join(s.label for s in scope.path())


def _reproduces(new: Tensor, recorded: Tensor) -> bool:
    if tuple(new.shape) != tuple(recorded.shape):
        return False
    a, b = host64(new), host64(recorded)
    scale = float(np.max(np.abs(b), initial=0.0))
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(a, b, rtol=1e-4, atol=1e-6 * (1.0 + scale), equal_nan=True))


def _check_node(t, node, eps, atol, rtol, kink_tolerant, report):
    cls = type(node)
    name = node.name
    params = dict(node.params)
    needs = tuple(node.needs_input_grad)
    inputs = []
    for i, a in enumerate(node.inputs):
        if isinstance(a, Tensor):
            wants = needs[i] and backend.is_floating(a.dtype)
            inputs.append(float64_leaf(a, wants))
        else:
            inputs.append(a)
    leaves = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not leaves:
        return
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def rerun():
        with enable_grad():
            return cls.apply(*inputs, **params)

    try:
        again = rerun()
    except Exception as exc:  # reported, not raised: the user's failure is the point
        report.skipped.append((name, f"re-running it raised {type(exc).__name__}: {exc}"))
        return
    if not isinstance(again, Tensor) or not _reproduces(again, t):
        report.skipped.append((name, "re-running it does not reproduce its recorded output: "
                                     "a random or stateful op"))
        return
    report.checked += 1
    try:
        mismatches, _ = compare_gradients(rerun, leaves, eps=eps, atol=atol, rtol=rtol,
                                          kink_tolerant=kink_tolerant,
                                          max_elements=MAX_ELEMENTS_PER_INPUT)
    except Exception as exc:
        report.skipped.append((name, f"its backward raised {type(exc).__name__}: {exc}"))
        return
    for m in mismatches:
        report.findings.append(NodeFinding(cls, name, _scope_text(node.scope), m,
                                           positions[m.position]))


def localize(outputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, kink_tolerant=True) -> Localization:
    """Check every node recorded under `outputs` (Tensors), inputs first."""
    report = Localization()
    roots = [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
    for t in topological_order(roots):
        node = t.grad_fn
        if node is not None:
            _check_node(t, node, eps, atol, rtol, kink_tolerant, report)
    return report
