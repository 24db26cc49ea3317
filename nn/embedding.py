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


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """out[..., :] = weight[input[...], :] for integer ids `input` of any shape (torch's
    slots and meaning):

    padding_idx         that row receives no gradient (negative counts from the end)
    max_norm            before the lookup, each looked-up row whose norm_type-norm exceeds
                        max_norm is rescaled IN PLACE (no gradient) to max_norm:
                        row *= max_norm / (norm + 1e-7)
    scale_grad_by_freq  the gradient reaching each row is divided by the number of times
                        its id occurs in `input`
    sparse              True (sparse gradients) is not supported: NotImplementedError
    """
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a 2-D (num_embeddings, embedding_dim) "
                         f"table, got shape {tuple(weight.shape)}")
    _check_sparse(sparse, "embedding")
    padding_idx = _padding_index(padding_idx, weight.shape[0], "embedding")
    ids = _ids(input, weight.shape[0], "embedding")
    if max_norm is not None:
        _renorm_rows_(weight, ids, max_norm, norm_type)
    return _lookup(ids, weight, padding_idx, scale_grad_by_freq)


def _check_sparse(sparse, where):
    if sparse:
        raise NotImplementedError(f"{where}: sparse=True asks for sparse gradient tensors, "
                                  "which autodiff does not have; use sparse=False (dense "
                                  "gradients of the same values; optimizers then update "
                                  "every row, as torch's dense path does)")


def _padding_index(padding_idx, num_embeddings, where):
    """padding_idx as a row number in [0, num_embeddings) (negative counts from the end),
    or None; ValueError outside [-num_embeddings, num_embeddings)."""
    if padding_idx is None:
        return None
    if (not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool)
            or not -num_embeddings <= padding_idx < num_embeddings):
        raise ValueError(f"{where}: padding_idx must be an integer in [{-num_embeddings}, "
                         f"{num_embeddings}) for a table of {num_embeddings} rows, got "
                         f"{padding_idx!r}")
    return int(padding_idx) % num_embeddings


def _renorm_rows_(weight, ids, max_norm, norm_type):
    """torch's embedding_renorm_: rescale, in place and outside the graph, each row named in
    `ids` whose norm_type-norm exceeds max_norm, by max_norm / (norm + 1e-7)."""
    xp = ad.array_module(weight.data)
    rows = xp.unique(ids.reshape(-1))
    if rows.size == 0:
        return
    table = weight.data
    picked = table[rows]
    if picked.dtype.itemsize < 4:  # half precision: take the norm in float32 (torch's opmath)
        picked = picked.astype(ad.float32)
    norms = xp.linalg.norm(picked, ord=float(norm_type), axis=1)
    over = norms > max_norm
    if bool(over.any()):
        scale = max_norm / (norms[over].astype(xp.float64) + 1e-7)
        table[rows[over]] = (table[rows[over]] * scale[:, None]).astype(table.dtype)
        ad.mark_modified(weight)


class _ScaleGradByFreq(ad.Function):
    """Identity on the looked-up rows; their gradient is divided by the count of each id"""
    op_name = "scale_grad_by_freq"
    derivative = "d out/d rows = 1 / count(id) (gradient only; the values pass unchanged)"

    @staticmethod
    def forward(ctx, rows, inverse_count=None):
        ctx.inverse_count = inverse_count
        return rows.copy()

    @staticmethod
    def backward(ctx, g):
        return g * ctx.inverse_count


def _lookup(ids, weight, padding_idx, scale_grad_by_freq=False):
    """weight[ids] for checked ids; positions reading padding_idx pass no gradient; with
    scale_grad_by_freq the gradient of each position is divided by its id's count."""
    out = weight[ids]
    if not (weight.requires_grad and ad.is_grad_enabled()):
        return out
    if scale_grad_by_freq and ids.size:
        xp = ad.array_module(ids)
        _, inverse, counts = xp.unique(ids.reshape(-1), return_inverse=True,
                                       return_counts=True)
        inverse_count = (1.0 / counts[inverse.reshape(-1)]).reshape(ids.shape + (1,))
        out = _ScaleGradByFreq.apply(out, inverse_count=inverse_count.astype(out.dtype))
    if padding_idx is not None:
        # Same values, but the positions that read the padding row come from a detached
        # copy, so their gradients never reach weight[padding_idx].
        out = ad.where((ids == padding_idx)[..., None], out.detach(), out)
    return out


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table initialised from N(0, 1); forward(ids) returns
    the rows for integer ids of any shape, shape ids.shape + (embedding_dim,).

    torch's parameters in torch's slots: padding_idx (row zeroed at init, never gets a
    gradient), max_norm/norm_type (looked-up rows renormalised in place at every forward,
    see `embedding`), scale_grad_by_freq (a row's gradient divided by its id's count in the
    batch), sparse (only False: no sparse tensors here), _weight (the initial table) and
    _freeze (weight.requires_grad = not _freeze), then device, dtype."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        _check_features("Embedding", num_embeddings=num_embeddings,
                        embedding_dim=embedding_dim)
        _check_sparse(sparse, "Embedding")
        if max_norm is not None and not (isinstance(max_norm, numbers.Real) and max_norm >= 0):
            raise ValueError(f"Embedding: max_norm must be a number >= 0 or None, got "
                             f"{max_norm!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Embedding")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({num_embeddings}, "
                                 f"{embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight.detach() if isinstance(_weight, ad.Tensor)
                                    else ad.tensor(_weight, dtype=dtype, device=device))
        else:
            self.weight = Parameter(ad.empty(num_embeddings, embedding_dim,
                                             dtype=dtype or ad.float32, device=device))
            self.reset_parameters()
        self.weight.requires_grad_(not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), with the padding row set to zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with ad.no_grad():
                self.weight.data[self.padding_idx] = 0
            ad.mark_modified(self.weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of `embeddings` (2-D); frozen unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        table = embeddings.detach() if isinstance(embeddings, ad.Tensor) else ad.tensor(embeddings)
        return cls(table.shape[0], table.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=ad.tensor(table.data.copy()),
                   _freeze=freeze)

    def forward(self, input):
        ids = _ids(input, self.num_embeddings, f"Embedding({self.num_embeddings}, "
                                               f"{self.embedding_dim})")
        if self.max_norm is not None:
            _renorm_rows_(self.weight, ids, self.max_norm, self.norm_type)
        # ids checked once, just above
        return _lookup(ids, self.weight, self.padding_idx, self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
