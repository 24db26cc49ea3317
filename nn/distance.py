"""Normalising and comparing vectors: F.normalize, F.cosine_similarity,
F.pairwise_distance (torch's definitions, composed from autodiff ops, so differentiable to
any order)."""
from __future__ import annotations

import numpy as np

import autodiff as ad

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along dim (torch.nn.functional.normalize)."""
    norm = ad.linalg.vector_norm(input, p, dim, keepdim=True)
    return input / ad.clamp(norm, min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim, the inputs
    broadcast (torch.nn.functional.cosine_similarity)."""
    shape = np.broadcast_shapes(x1.shape, x2.shape)  # norms of the broadcast inputs
    x1, x2 = ad.broadcast_to(x1, shape), ad.broadcast_to(x2, shape)
    n1 = ad.clamp(ad.linalg.vector_norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = ad.clamp(ad.linalg.vector_norm(x2, 2, dim, keepdim=True), min=eps)
    return ad.sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim, the inputs broadcast
    (torch.nn.functional.pairwise_distance)."""
    return ad.linalg.vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)
