"""nn: a PyTorch-shaped neural-network library built on autodiff's public API.

    import nn
    from nn import functional as F, init, optim
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
"""
from . import init, optim, utils
from .containers import ModuleDict, ModuleList, Sequential
from .linear import (Dropout, Flatten, FlattenConsecutive, Identity, Linear, Maxout,
                     set_mc_dropout)
from .module import Module, Parameter, functional_call
from .serialization import CheckpointError, load, save

# Layers from other files are imported below, one line per file.
from . import functional, regularization
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softmin, Softplus, Softsign, Tanh)
from .gates import Gated, Highway, Residual
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss)
from .regularization import l1_penalty, l2_penalty, penalized_parameters
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .conv1d import Conv1d
from .embedding import Embedding
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
# The training workflow (data loading is nn.utils.data).
from . import ensemble, training, transforms, tuning
