"""One way for tests to train their tiny models: expunge's own training loop, constant learning rate."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from expunge.train import Recipe, epoch_batches, train


def fit(model: nn.Module, dataset: object, indices: np.ndarray | None = None, epochs: int = 12, lr: float = 0.05, batch_size: int = 32, seed: int = 0) -> nn.Module:
    """Train ``model`` on ``dataset[indices]`` (all rows when None) with expunge.train.train; returns it in eval mode."""
    rows = np.arange(len(dataset)) if indices is None else np.asarray(indices)  # type: ignore[arg-type]
    recipe = Recipe(epochs=epochs, lr=lr, batch_size=batch_size, schedule="constant", seed=seed)
    train(model, epoch_batches(dataset, rows, batch_size, seed), recipe, torch.device("cpu"), progress=False)
    return model.eval()
