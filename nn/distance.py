"""Normalising and comparing vectors: F.normalize, F.cosine_similarity,
F.pairwise_distance (torch's definitions, composed from autodiff ops, so differentiable to
any order)."""
from __future__ import annotations

import autodiff as ad

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along dim (torch.nn.functional.normalize)."""
    norm = ad.linalg.vector_norm(input, p, dim, keepdim=True)
    return input / ad.clamp(norm, min=eps)


# torch has these two in its namespace as well: one implementation, autodiff's.
cosine_similarity = ad.cosine_similarity
pairwise_distance = ad.pairwise_distance
