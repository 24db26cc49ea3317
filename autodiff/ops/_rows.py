"""What a row of an op table (ops/tables.py) gives: its public function."""
from __future__ import annotations


def public(op):
    """A row's public function: an op class's apply, or the function itself."""
    return op.apply if isinstance(op, type) else op


def public_names(table):
    """{name: public function} for a module's globals: `exp = Exp.apply`, ..."""
    return {name: public(op) for name, op in table.items()}
