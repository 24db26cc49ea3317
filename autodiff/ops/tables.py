"""The op tables, gathered. Each ops module names its public ops in one `OPS` table,
name -> the op class (whose `apply` is the public function) or, where the arguments need
checking first, the public function itself (ops/_rows.py). What is generated from names
reads the tables here: the Tensor methods (tensor.py: every row is `t.<name>(...)`, the
public function with the tensor first) and, for the elementwise rows named after NumPy
ufuncs, `ctx.xp` under create_graph (symbolic.py).

Adding an op to its module's table is all it takes to give it its method.
"""
from __future__ import annotations

from . import aliases, binary_math, bitwise, compare, elementwise, math, rounding
from . import construct, gather, norms, products, rearrange, reduce_extra, scan, solve, sort
from ._rows import public  # noqa: F401  (re-exported for tensor.py and symbolic.py)

#: The elementwise tables. aliases.py's rows come last: its add(alpha=), sub(alpha=) and
#: div(rounding_mode=) take the place of elementwise.py's operator rows of those names.
#: (The activations torch has only as nn.functional functions, hardtanh ... mish, have no
#: table: torch.Tensor has no such methods.)
ELEMENTWISE = (elementwise.OPS, math.OPS, binary_math.OPS, rounding.OPS, compare.OPS,
               bitwise.OPS, aliases.OPS)
#: Torch's Tensor methods among the structural ops (gathering, ordering, scans, ...).
STRUCTURAL = (gather.OPS, sort.OPS, scan.OPS, rearrange.OPS, construct.OPS,
              reduce_extra.OPS, products.OPS, norms.OPS, solve.OPS)


def merged(tables):
    """{name: op} over the tables; a later table's row replaces an earlier one's."""
    out = {}
    for table in tables:
        out.update(table)
    return out
