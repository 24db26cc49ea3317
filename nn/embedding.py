"""Embedding: a lookup table of vectors indexed by integer ids.

The gradient of weight[ids] is a scatter-add: an id that appears k times in a batch gets
the sum of its k output gradients (autodiff's advanced indexing does this).
"""
from __future__ import annotations

import numbers

import autodiff as ad

from . import init
from .linear import _check_features
from .module import Module, Parameter

__all__ = ["Embedding", "embedding"]


def _ids(input, num_embeddings, where):
    """The index array of `input` (Tensor, array or list), checked to be integer and in range."""
    if isinstance(input, ad.Tensor):
        ids = input.data
    else:
        ids = ad.tensor(input, dtype=None).data if not hasattr(input, "dtype") else input
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got dtype {ids.dtype} (use "
                        "ad.tensor(ids, dtype=ad.int64))")
    if ids.size:
        # compared as arrays: a captured step (ad.compile) then checks the outcome, not
        # the exact minimum and maximum, in every replay
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= num_embeddings:
            raise IndexError(f"{where}: indices must lie in [0, {num_embeddings - 1}] for a "
                             f"table of {num_embeddings} rows, got values in "
                             f"[{int(lo)}, {int(hi)}]")
    return ids


def embedding(input, weight, padding_idx=None):
    """out[..., :] = weight[input[...], :] for integer ids `input` of any shape; the row at
    padding_idx receives no gradient."""
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a 2-D (num_embeddings, embedding_dim) "
                         f"table, got shape {tuple(weight.shape)}")
    return _lookup(_ids(input, weight.shape[0], "embedding"), weight, padding_idx)


def _lookup(ids, weight, padding_idx):
    """weight[ids] for checked ids; positions reading padding_idx pass no gradient."""
    out = weight[ids]
    if padding_idx is not None and weight.requires_grad and ad.is_grad_enabled():
        # Same values, but the positions that read the padding row come from a detached
        # copy, so their gradients never reach weight[padding_idx].
        out = ad.where((ids == padding_idx)[..., None], out.detach(), out)
    return out


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table initialised from N(0, 1); forward(ids) returns
    the rows for integer ids of any shape, shape ids.shape + (embedding_dim,)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None,
                 dtype=None, device=None):
        super().__init__()
        _check_features("Embedding", num_embeddings=num_embeddings,
                        embedding_dim=embedding_dim)
        if padding_idx is not None:
            if not isinstance(padding_idx, numbers.Integral) or not (
                    -num_embeddings <= padding_idx < num_embeddings):
                raise ValueError(f"Embedding: padding_idx must be an integer in "
                                 f"[{-num_embeddings}, {num_embeddings}), got {padding_idx!r}")
            padding_idx = int(padding_idx) % num_embeddings  # negative counts from the end
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_idx
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({num_embeddings}, "
                                 f"{embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight.detach() if isinstance(_weight, ad.Tensor)
                                    else ad.tensor(_weight))
        else:
            self.weight = Parameter(ad.empty(num_embeddings, embedding_dim,
                                             dtype=dtype or ad.float32, device=device))
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), with the padding row set to zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with ad.no_grad():
                self.weight.data[self.padding_idx] = 0
            ad.mark_modified(self.weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of `embeddings` (2-D); frozen unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        table = embeddings.detach() if isinstance(embeddings, ad.Tensor) else ad.tensor(embeddings)
        layer = cls(table.shape[0], table.shape[1], padding_idx=padding_idx,
                    _weight=ad.tensor(table.data.copy()))
        layer.weight.requires_grad_(not freeze)
        return layer

    def forward(self, input):
        ids = _ids(input, self.num_embeddings, f"Embedding({self.num_embeddings}, "
                                               f"{self.embedding_dim})")
        return _lookup(ids, self.weight, self.padding_idx)  # ids checked once, just above

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
