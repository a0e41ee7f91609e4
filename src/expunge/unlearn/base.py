"""Unlearner contract and registry.

An unlearner is configured by its hyperparameters and called as
``unlearner.unlearn(model, task, mask=None) -> model``. The ``task`` carries everything it
may read (retain / forget batches, a fresh-initialization factory, device, seed); the
mask restricts updates through the shared ``MaskedUpdate`` mechanism.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..data.base import IndexedTensorDataset
from ..data.splits import ForgetSplit
from ..hparams import hp
from ..masks import Mask
from ..registry import Registry
from ..seeds import Seeds
from ..train import LATER_FIELDS, Batch, LossFn, Recipe, cross_entropy_loss, epoch_batches

UNLEARNERS: Registry = Registry("unlearner", entry_point_group="expunge.unlearners")


@dataclass
class UnlearningTask:
    """What an unlearner is allowed to see and use."""

    train_set: IndexedTensorDataset
    split: ForgetSplit
    device: torch.device
    fresh_model: Callable[[int], nn.Module]  # seed -> a newly initialised model of the same architecture
    pretrain_recipe: Recipe
    seed: int = 0
    loss_fn: LossFn = cross_entropy_loss
    progress: bool = True
    original_init: dict[str, torch.Tensor] | None = None  # the original's own initialization, when known
    epoch_callback: Callable[[int, nn.Module], None] | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # what the unlearner reports back (e.g. epochs run)
    # Class unlearning (split.kind=class): the classes to forget, and data a training-free method may read
    # instead of the training set: a few *unseen* images of the class (carved from the test split and
    # excluded from every test metric) and, optionally, unseen (images, labels) of the other classes.
    forget_classes: list[int] | None = None
    analysis_images: torch.Tensor | None = None
    other_images: tuple[torch.Tensor, torch.Tensor] | None = None
    seeds: Seeds = field(default_factory=Seeds)
    analysis_store: Any = None  # experiments.analysis.AnalysisStore: per-original analyses computed once and reused (None: compute)

    def stream(self, offset: int = 0) -> int:
        """Seed of one of this run's random streams (data order, labels, subsets): all derived by ``Seeds``."""
        return self.seeds.unlearn_data(self.seed, offset)

    def batches(self, part: str, batch_size: int, seed_offset: int = 0) -> Callable[[int], Iterable[Batch]]:
        indices: np.ndarray = getattr(self.split, part)
        return epoch_batches(self.train_set, indices, batch_size, self.stream(seed_offset))


@dataclass
class SGDSettings:
    """Optimisation settings shared by the training-based unlearners; subclasses override defaults."""

    epochs: int = hp(4, low=0, doc="passes over the unlearner's data")
    lr: float = hp(0.02, low=0.0, low_open=True, doc="peak learning rate (SGD with momentum)")
    momentum: float = hp(0.9, low=0.0, high=1.0, high_open=True)
    weight_decay: float = hp(0.0, low=0.0, doc="applied only to entries inside the mask")
    batch_size: int = hp(128, low=1)
    schedule: str = hp("cosine", choices=("cosine", "constant"), doc="cosine: per epoch down to min_lr_factor * lr")
    min_lr_factor: float = hp(0.01, low=0.0, high=1.0)

    def passes_per_epoch(self, sizes: dict[str, int]) -> int:
        """Example passes one epoch costs (budget rule of ``expunge frontier``); default: one pass over the retain set."""
        return int(sizes["retain"])

    def recipe(self, seed: int) -> Recipe:
        """The training Recipe with these settings: fields are matched by name, so the two cannot drift apart silently.

        Fields added to Recipe later (``LATER_FIELDS``: the optimizer) keep their default: the unlearners run SGD as published.
        """
        return Recipe(**{f.name: getattr(self, f.name) for f in fields(Recipe) if f.name != "seed" and f.name not in LATER_FIELDS}, seed=seed)


class Unlearner(Protocol):
    name: str

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module: ...
