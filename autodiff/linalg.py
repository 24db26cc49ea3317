"""`ad.linalg`, as torch.linalg: norms, inverse, determinants, solving, cross products.

    ad.linalg.norm(A)                   # 2-norm of every entry (or ord=, dim=)
    ad.linalg.vector_norm(x, ord=1, dim=-1)
    ad.linalg.matrix_norm(A, ord="nuc")
    ad.linalg.solve(A, b), ad.linalg.inv(A), ad.linalg.det(A), ad.linalg.slogdet(A)
"""
from .ops.construct import diagonal as _diagonal
from .ops.linalg import matmul
from .ops.norms import linalg_norm as norm
from .ops.norms import matrix_norm, vector_norm
from .ops.products import linalg_cross as cross
from .ops.solve import det, inv, slogdet, solve

__all__ = ["norm", "vector_norm", "matrix_norm", "det", "inv", "slogdet", "solve", "cross",
           "matmul", "diagonal"]


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal `offset` of the last two dims (torch.linalg.diagonal)."""
    return _diagonal(A, offset, dim1, dim2)
