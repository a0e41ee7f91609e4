"""A user's own architecture and plugin module, as the pipeline sees them (model.factory, --import)."""

from __future__ import annotations

import torch
from torch import nn


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: int = 16) -> nn.Module:
    """What a user writes: a plain nn.Module built from the data's shape."""
    features = 1
    for d in input_shape:
        features *= int(d)
    return nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


CALLS: list[int] = []


def jitter(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A user's augmentation hook (config ``augment``): small noise; records each batch size."""
    CALLS.append(len(inputs))
    return inputs + 0.01 * torch.randn(inputs.shape, generator=generator)
