"""Names for the tensors of a drawing: the ones the code uses.

A tensor's label is, in this order: an explicit `names={...}` entry, its own `t.name`, the
variable that holds it in the caller's frame (`names="auto"`), its module parameter name,
a short expression of its op and operands (`W1@x`, `t-y`, `sum(W2*h)`), else `t<i>` with
i its topological position. An explicit `t.name` beats the variable name: it is the
deliberate choice (micrograd's `label=`), as for `x1w1 = x1 * w1; x1w1.name = "x1*w1"`.
"""
from __future__ import annotations

import re
import sys

import autodiff as ad

__all__ = ["caller_variables", "locals_on_return", "Variables", "ExpressionNamer", "is_simple",
           "wrap", "operand", "OP_SYMBOLS", "FUNCTION_SYMBOLS", "NON_COMMUTATIVE"]

# Infix symbols of the binary arithmetic ops, and how unary ones are written.
OP_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "matmul": "@"}
FUNCTION_SYMBOLS = {"sigmoid": "σ", "neg": "-"}
#: Operand roles of the ops whose operand order matters, in input order.
NON_COMMUTATIVE = {"sub": ("minuend", "subtrahend"), "div": ("numerator", "denominator"),
                   "pow": ("base", "exponent"), "matmul": ("left", "right")}
#: Longest generated expression name; longer ones fall back to t<i>.
MAX_EXPRESSION = 14

_SIMPLE = re.compile(r"^(?:[^\W\d]\w*(?:\.\w+)*|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$")


def is_simple(name: str) -> bool:
    """An identifier, dotted name, number or single call like sum(x): needs no parentheses
    inside an expression."""
    return bool(_SIMPLE.match(name)) or bool(re.match(r"^[^\W\d]\w*\(.*\)$", name)
                                             and name.count("(") == 1)


def wrap(name: str) -> str:
    """The name as an operand of an expression: parenthesised unless simple."""
    return name if is_simple(name) else f"({name})"


#: Binding strength of the infix symbols (higher binds tighter).
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "^": 3}


def _loosest(name: str) -> int:
    """The precedence of the loosest infix operator outside parentheses (9: none)."""
    depth, loosest = 0, 9
    for k, ch in enumerate(name):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in PRECEDENCE and k > 0 and name[k - 1] not in "e(":
            loosest = min(loosest, PRECEDENCE[ch])
    return loosest


def operand(name: str, symbol: str, right: bool = False) -> str:
    """`name` as the left (or right) operand of infix `symbol`, parenthesised only where
    precedence needs it: (t-y)^2, t-(a+b), (t-y)^2/2."""
    p = PRECEDENCE[symbol]
    inner = _loosest(name)
    if symbol == "^":   # right-associative: a^b^c = a^(b^c)
        need = inner <= p if not right else inner < p
    else:
        need = inner < p or (right and inner == p and symbol in "-/@")
    return f"({name})" if need else name


def _is_viz_frame(frame) -> bool:
    module = frame.f_globals.get("__name__", "")
    return module == "viz" or module.startswith("viz.")


def caller_variables(names_from=None) -> dict:
    """{id(tensor): variable name} from the first frame outside the viz package (the
    user's code): its locals, then its module's globals. Names starting with "_" (IPython's
    output history, private helpers) are skipped; the first variable holding a tensor wins."""
    frame = sys._getframe(1) if names_from is None else names_from
    while frame is not None and _is_viz_frame(frame):
        frame = frame.f_back
    if frame is None:
        return {}
    found = {}
    scopes = [frame.f_locals]
    if frame.f_globals is not frame.f_locals:
        scopes.append(frame.f_globals)
    for scope in scopes:
        for name, value in list(scope.items()):
            if isinstance(value, ad.Tensor) and not name.startswith("_"):
                found.setdefault(id(value), name)
    return found


class Variables(dict):
    """{id(tensor): variable name} to pass as draw_graph's `names=`: ranked like the
    caller's variables (below an explicit t.name), e.g. a function's locals captured by
    locals_on_return."""


def locals_on_return(fn, *args, **kwargs):
    """(fn(*args, **kwargs), the tensors among fn's local variables when it returned as
    {id: name}): names for drawing what a function builds and returns (the CLI's
    `render FILE.py:FUNC`)."""
    code = fn.__code__
    captured = {}

    def profiler(frame, event, arg):
        if event == "return" and frame.f_code is code and not captured:
            captured.update({id(v): k for k, v in frame.f_locals.items()
                             if isinstance(v, ad.Tensor) and not k.startswith("_")})

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return result, Variables(captured)


class ExpressionNamer:
    """Short expression names for unnamed intermediates from their op and operands'
    names (`W1@x`, `(t-y)^2`, `σ(s)`, `sum(W2*h)`), or None when longer than
    MAX_EXPRESSION characters or when an operand has no name."""

    def __init__(self, constant_text):
        self.constant_text = constant_text

    def __call__(self, node, operand_names) -> str | None:
        if any(n is None for n in operand_names):
            return None
        op = node.name
        if op in OP_SYMBOLS and len(operand_names) == 2:
            a, b = operand_names
            sym = OP_SYMBOLS[op]
            text = f"{operand(a, sym)}{sym}{operand(b, sym, right=True)}"
        elif len(operand_names) == 1:
            fn = FUNCTION_SYMBOLS.get(op, op)
            text = f"-{wrap(operand_names[0])}" if op == "neg" else f"{fn}({operand_names[0]})"
        else:
            return None
        return text if len(text) <= MAX_EXPRESSION else None
