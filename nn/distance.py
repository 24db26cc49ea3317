"""Normalising and comparing vectors: F.normalize, F.cosine_similarity,
F.pairwise_distance (torch's definitions, composed from autodiff ops, so differentiable to
any order)."""
from __future__ import annotations

import autodiff as ad

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along dim (torch.nn.functional.normalize); out= (a
    Tensor of the result's shape) receives the values, as torch's out=, and is returned."""
    norm = ad.linalg.vector_norm(input, p, dim, keepdim=True)
    result = input / ad.clamp(norm, min=eps)
    if out is None:
        return result
    if not isinstance(out, ad.Tensor):
        raise TypeError(f"normalize: out must be an ad.Tensor, got {type(out).__name__}")
    if result.requires_grad or out.requires_grad:
        raise RuntimeError("normalize: out= does not support automatic differentiation (as "
                           "in torch): call it under ad.no_grad() or without out=")
    if tuple(out.shape) != tuple(result.shape):
        raise ValueError(f"normalize: out has shape {tuple(out.shape)} but the result has "
                         f"shape {tuple(result.shape)}; pass an out of the input's shape")
    return out.copy_(result)


# torch has these two in its namespace as well: one implementation, autodiff's.
cosine_similarity = ad.cosine_similarity
pairwise_distance = ad.pairwise_distance
