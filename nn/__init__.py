"""nn: a PyTorch-shaped neural-network library built on autodiff's public API."""
