"""nn: a PyTorch-shaped neural-network library built on autodiff's public API."""
from .module import Module, Parameter
