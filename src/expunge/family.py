"""Model families: what differs between unlearning image classifiers, GANs and language models.

A family brings its model builder, its training loop, the loss localizers and unlearners
use, and its default metric set. Everything else (config, split, cache, runner, store,
executors, report, tune) is shared, so a new family is one module plus registry entries,
never a second pipeline. ``config.family`` picks it (default ``classifier``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from .models import build_model
from .registry import Registry
from .train import epoch_batches, train

FAMILIES: Registry = Registry("family", entry_point_group="expunge.families")


@dataclass
class FamilyData:
    """The dataset (train / test parts with ``(x, y, index)`` items), the forget split and extra inputs for metrics."""

    bundle: Any  # expunge.data.DatasetBundle
    split: Any  # expunge.data.ForgetSplit
    extras: dict[str, Any] = field(default_factory=dict)


class Family(Protocol):
    name: str

    def metric_set(self, config: Any) -> str:
        """The METRIC_SETS entry used when the config names none (may depend on the split kind)."""
        ...

    def build(self, config: Any, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        """A freshly initialised model (same seed, same weights)."""
        ...

    def fit(self, model: nn.Module, config: Any, data: FamilyData, indices: np.ndarray, recipe: Any, device: torch.device, progress: bool, desc: str) -> dict[str, Any]:
        """Train ``model`` in place on ``data.bundle.train[indices]``; return info (``train_seconds``, losses...)."""
        ...

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The training loss on one batch: what localizers score parameters by."""
        ...


def family_of(config: Any) -> Family:
    return FAMILIES.get(getattr(config, "family", "classifier"))()


def metric_set_of(family: Any, config: Any) -> str:
    """A family's default metric set: an attribute, or a method of the config (e.g. by split kind)."""
    value = family.metric_set
    return str(value(config) if callable(value) else value)


LossFn = Callable[[nn.Module, Any], torch.Tensor]


@FAMILIES.register("classifier", "image (or any tensor) classifiers trained with cross-entropy: example and class unlearning")
class ClassifierFamily:
    """The built-in family: ``models.MODELS`` architectures, the SGD ``Recipe`` loop, cross-entropy."""

    name = "classifier"

    def metric_set(self, config: Any) -> str:
        return "class" if config.split.kind == "class" else "example"

    def build(self, config: Any, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        bundle = data.bundle
        return build_model(config.model.name, bundle.input_shape, bundle.num_classes, seed=seed, **config.model.options).to(device)

    def fit(self, model: nn.Module, config: Any, data: FamilyData, indices: np.ndarray, recipe: Any, device: torch.device, progress: bool, desc: str) -> dict[str, Any]:
        log = train(model, epoch_batches(data.bundle.train, indices, recipe.batch_size, recipe.seed), recipe, device, progress=progress, desc=desc)
        return {"train_seconds": log.seconds, "epoch_losses": log.epoch_losses}

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])
