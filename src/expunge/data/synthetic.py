"""Synthetic image classification data for tests and smoke runs.

Each class is a random prototype image; examples are the prototype plus Gaussian noise,
so a small network can both generalise (shared prototype) and memorise (per-example
noise), which is what unlearning needs to be measurable.
"""

from __future__ import annotations

import torch

from .base import DatasetBundle, IndexedTensorDataset
from .registry import DATASETS


@DATASETS.register("synthetic", "Gaussian-noise copies of per-class prototype images (for tests)")
def make_synthetic(
    num_train: int = 600,
    num_test: int = 200,
    num_classes: int = 4,
    image_size: int = 12,
    channels: int = 1,
    noise: float = 1.0,
    separation: float = 1.0,
    seed: int = 0,
) -> DatasetBundle:
    gen = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(num_classes, channels, image_size, image_size, generator=gen) * separation

    def sample(n: int) -> IndexedTensorDataset:
        labels = torch.arange(n) % num_classes
        labels = labels[torch.randperm(n, generator=gen)]
        x = prototypes[labels] + noise * torch.randn(n, channels, image_size, image_size, generator=gen)
        return IndexedTensorDataset(x.float(), labels.long())

    return DatasetBundle("synthetic", sample(num_train), sample(num_test), num_classes, [f"class {c}" for c in range(num_classes)], source="generated")
