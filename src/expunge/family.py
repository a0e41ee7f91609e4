"""Model families: what differs between unlearning image classifiers, GANs and language models.

A family brings its model builder, its training loop, the loss localizers and unlearners
use, and its default metric set. Everything else (config, split, cache, runner, store,
executors, report, tune) is shared, so a new family is one module plus registry entries,
never a second pipeline. ``config.family`` picks it (default ``classifier``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

from .registry import Registry

FAMILIES: Registry = Registry("family", entry_point_group="expunge.families")


@dataclass
class FamilyData:
    """The dataset (train / test parts with ``(x, y, index)`` items), the forget split and extra inputs for metrics."""

    bundle: Any  # expunge.data.DatasetBundle
    split: Any  # expunge.data.ForgetSplit
    extras: dict[str, Any] = field(default_factory=dict)


class Family(Protocol):
    name: str
    metric_set: str  # the METRIC_SETS entry used when the config names none

    def build(self, config: Any, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        """A freshly initialised model (same seed, same weights)."""

    def fit(self, model: nn.Module, config: Any, data: FamilyData, indices: np.ndarray, recipe: Any, device: torch.device, progress: bool, desc: str) -> dict[str, Any]:
        """Train ``model`` in place on ``data.bundle.train[indices]``; return info (``train_seconds``, losses...)."""

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The training loss on one batch: what localizers score parameters by."""


def family_of(config: Any) -> Family:
    return FAMILIES.get(getattr(config, "family", "classifier"))()


LossFn = Callable[[nn.Module, Any], torch.Tensor]
