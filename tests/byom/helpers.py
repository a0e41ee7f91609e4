"""Tiny user data and a user-trained model: random labels, so only a model that saw an example knows it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from expunge.data.base import IndexedTensorDataset
from expunge.train import Recipe, epoch_batches, train


def random_data(n: int = 200, dim: int = 10, classes: int = 3, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, dim, generator=gen), torch.randint(0, classes, (n,), generator=gen))


def user_mlp(dim: int = 10, classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, classes))


def fit(model: nn.Module, data: TensorDataset, indices: np.ndarray, epochs: int = 40, seed: int = 0) -> nn.Module:
    """The user's own training (plain SGD on the given rows)."""
    x, y = data.tensors
    train(model, epoch_batches(IndexedTensorDataset(x, y), indices, 32, seed), Recipe(epochs=epochs, lr=0.1, batch_size=32), torch.device("cpu"), progress=False)
    return model
