"""Model registry and helpers that do not assume a particular architecture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from . import resnet, simple  # noqa: F401  (register the built-in models)
from .registry import MODELS


def build_model(name: str, input_shape: Sequence[int], num_classes: int, seed: int | None = None, **options: Any) -> nn.Module:
    """Build a registered model; ``seed`` makes its random initialization reproducible."""
    builder = MODELS.get(name)
    if seed is None:
        return builder(tuple(input_shape), num_classes, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(tuple(input_shape), num_classes, **options)


def classifier_parameter_names(model: nn.Module) -> list[str]:
    """Parameters of the output layer: the last ``nn.Linear`` in module order (DEL keeps it fully trainable)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return []
    prefix = f"{last}." if last else ""
    return [n for n, _ in model.named_parameters() if n.startswith(prefix) and "." not in n[len(prefix) :]]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["MODELS", "build_model", "classifier_parameter_names", "count_parameters"]
