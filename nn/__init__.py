"""nn: a PyTorch-shaped neural-network library built on autodiff's public API."""
from .module import Module, Parameter
from . import init
from .containers import ModuleDict, ModuleList, Sequential
from .linear import Dropout, Flatten, Identity, Linear, Maxout, set_mc_dropout
from .serialization import load, save
