"""Data transforms (torchvision's names where they exist): standardisation and PCA fitted on
training data, and random augmentation of image batches (N, C, H, W), samples (C, H, W) and
vectors. Every transform takes and returns a Tensor (or an array); random ones take
`generator=` (an ad.Generator) and draw once per sample; labels are never touched.

    from nn import transforms as T
    stats = T.Standardizer(per="channel").fit(x_train)
    augment = T.Compose([T.RandomCrop(8, padding=1, generator=g),
                         T.RandomRotation(10, generator=g), stats])
    loader = DataLoader(train, batch_size=64, shuffle=True, transform=augment)
"""
from ._base import RandomTransform, Transform
from .compose import Compose, Lambda, RandomApply
from .geometric import (CenterCrop, RandomAffine, RandomCrop, RandomHorizontalFlip,
                        RandomResizedCrop, RandomRotation, RandomVerticalFlip)
from .photometric import ColorJitter, GaussianNoise, RandomErasing, RandomMask
from .standardize import PCA, Normalize, Standardize, Standardizer

__all__ = ["Transform", "RandomTransform", "Compose", "Lambda", "RandomApply", "Standardize",
           "Normalize", "Standardizer", "PCA", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomCrop", "CenterCrop", "RandomRotation", "RandomAffine", "RandomResizedCrop",
           "ColorJitter", "GaussianNoise", "RandomErasing", "RandomMask"]
