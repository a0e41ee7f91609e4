"""GAN data helpers: a toy multi-mode dataset (for tests) and the ``items`` forget-set builder."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data.base import DatasetBundle, IndexedTensorDataset
from ..data.registry import DATASETS
from ..data.splits import SPLIT_BUILDERS
from ..errors import DataError


@DATASETS.register("gan_modes", "Gaussian modes on a circle in 2-D, one class per mode (GAN tests)")
def make_modes(num_train: int = 512, num_test: int = 256, num_modes: int = 2, radius: float = 2.0, spread: float = 0.2, seed: int = 0) -> DatasetBundle:
    """``num_modes`` well separated 2-D Gaussians; the label is the mode."""
    gen = torch.Generator().manual_seed(seed)
    angles = torch.arange(num_modes, dtype=torch.float32) * (2 * math.pi / num_modes)
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)

    def sample(n: int) -> IndexedTensorDataset:
        labels = torch.arange(n) % num_modes
        labels = labels[torch.randperm(n, generator=gen)]
        return IndexedTensorDataset(centres[labels] + spread * torch.randn(n, 2, generator=gen), labels)

    return DatasetBundle("gan_modes", sample(num_train), sample(num_test), num_modes, [f"mode {k}" for k in range(num_modes)], source="generated")


@SPLIT_BUILDERS.register("items", "a given number of random training items (GAN item unlearning: count=64..512)")
def items_split(targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, count: int | None = None, **_: object) -> np.ndarray:
    if count is None:
        raise DataError("the items forget set needs `count`, e.g. split.options.count=64.")
    count = int(count)
    if count < 1:
        raise DataError(f"items: count={count} selects nothing; forget at least one item.")
    if count >= len(pool):
        raise DataError(f"items: count={count} covers the whole training pool of {len(pool)}; nothing would be retained.")
    return rng.choice(pool, count, replace=False)
