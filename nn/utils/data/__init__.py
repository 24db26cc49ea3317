"""Data loading with torch.utils.data's names: datasets, samplers, splits, DataLoader,
plus `load_arrays` (.npy/.npz/.csv) and the shipped digits (`load_digits`).

    from nn.utils.data import DataLoader, TensorDataset, random_split
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2], generator=g)
    for xb, yb in DataLoader(train, batch_size=32, shuffle=True, generator=g): ...
"""
from .dataloader import DataLoader, default_collate
from .dataset import (ConcatDataset, Dataset, Subset, TensorDataset, random_split,
                      stratified_split)
from .loading import load_arrays, load_digits
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler)

__all__ = ["DataLoader", "default_collate", "Dataset", "TensorDataset", "Subset",
           "ConcatDataset", "random_split", "stratified_split", "load_arrays", "load_digits",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler"]
