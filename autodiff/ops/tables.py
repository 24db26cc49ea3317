"""The op tables, gathered. Each ops module names its public ops in one `OPS` table,
name -> the op class (whose `apply` is the public function) or, where the arguments need
checking first, the public function itself (ops/_rows.py). What is generated from names
reads the tables here: the Tensor methods (tensor.py: every row is `t.<name>(...)`, the
public function with the tensor first).

Adding an op to its module's table is all it takes to give it its method.
"""
from __future__ import annotations

from . import construct, elementwise, gather, norms, products, rearrange, reduce_extra, scan
from . import solve, sort
from ._rows import public  # noqa: F401  (re-exported for tensor.py)

#: The elementwise tables.
ELEMENTWISE = (elementwise.OPS,)
#: Torch's Tensor methods among the structural ops (gathering, ordering, scans, ...).
STRUCTURAL = (gather.OPS, sort.OPS, scan.OPS, rearrange.OPS, construct.OPS,
              reduce_extra.OPS, products.OPS, norms.OPS, solve.OPS)


def merged(tables):
    """{name: op} over the tables; a later table's row replaces an earlier one's."""
    out = {}
    for table in tables:
        out.update(table)
    return out
