"""Training utilities (torch.nn.utils names): gradient clipping, BatchNorm folding, and data
loading in `nn.utils.data` (Dataset, DataLoader, splits, the shipped digits)."""
from .clip_grad import clip_grad_norm_, clip_grad_value_
from ..fuse import fuse_batchnorm
from . import data

__all__ = ["clip_grad_norm_", "clip_grad_value_", "fuse_batchnorm", "data"]
