"""Random Label (RL) and SalUn: train on the retain set plus the forget set with wrong labels.

Label rules (``LABEL_RULES``), and the fraction of forget labels that change:
  - ``exclude_true`` (default): uniform over the C−1 *other* classes, so 100% change. This is
    SalUn's rule for CIFAR-100/TinyImageNet and the intent of "random labels".
  - ``uniform``: ``randint(0, C)`` as DEL's code and SalUn's CIFAR-10 branch do; the draw may
    repeat the true label, so only (C−1)/C of the labels change in expectation.
Labels are drawn once per run from the task seed (DEL), or every epoch with ``redraw=True``
(SalUn rebuilds its relabelled set each epoch). The schedule is cosine to 0.5·lr (DEL's code).
SalUn is RL restricted to a SalLoc mask (Fan et al., ICLR 2024); no reset, classifier not forced open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.base import IndexedTensorDataset
from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from ..train import Batch, epoch_batches, train
from .base import UNLEARNERS, SGDSettings, UnlearningTask
from .common import output_classes

LabelRule = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]

LABEL_RULES: dict[str, LabelRule] = {
    # true + U{1..C-1} (mod C) is uniform over the classes other than the true one
    "exclude_true": lambda y, c, gen: (y + torch.randint(1, c, y.shape, generator=gen)) % c,
    "uniform": lambda y, c, gen: torch.randint(0, c, y.shape, generator=gen),
}

# Expected fraction of forget labels that differ from the true label, per rule, for C classes.
CHANGE_RATES: dict[str, Callable[[int], float]] = {
    "exclude_true": lambda c: 1.0,
    "uniform": lambda c: (c - 1) / c,
}

PAPER_SCALE_DEFAULTS: dict[str, dict[str, Any]] = {
    # CIFAR-10 / ResNet-18: SalUn's README (10 epochs, lr 0.013, mask with_0.5); DEL's code: cosine to 0.5·lr.
    "random_label": {"epochs": 10, "lr": 0.013, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 128, "min_lr_factor": 0.5},
    "salun": {"epochs": 10, "lr": 0.013, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 128, "min_lr_factor": 0.5},
}


def random_labels(true: torch.Tensor, num_classes: int, rule: str = "exclude_true", generator: torch.Generator | None = None) -> torch.Tensor:
    """New labels for ``true`` under ``rule`` (see ``LABEL_RULES``)."""
    if rule not in LABEL_RULES:
        raise ConfigError(f"label rule {rule!r} unknown; choose one of {sorted(LABEL_RULES)}.")
    if num_classes < 2:
        raise ConfigError(f"random labels need at least 2 classes, the model has {num_classes}.")
    return LABEL_RULES[rule](true.long().cpu(), num_classes, generator or torch.Generator().manual_seed(0))


def relabelled_dataset(dataset: IndexedTensorDataset, forget: np.ndarray, num_classes: int, rule: str, seed: int) -> IndexedTensorDataset:
    """The same inputs (shared, not copied) with the forget examples' targets replaced."""
    targets = dataset.targets.clone()
    index = torch.as_tensor(forget, dtype=torch.long)
    targets[index] = random_labels(targets[index], num_classes, rule, torch.Generator().manual_seed(seed))
    return IndexedTensorDataset(dataset.inputs, targets)


@UNLEARNERS.register("random_label", "Random Label: train on retain ∪ forget-with-random-labels, cosine to 0.5·lr (Golatkar et al. 2020; DEL/SalUn code)")
@dataclass
class RandomLabel(SGDSettings):
    """Cross-entropy on the union of the retain set and the relabelled forget set.

    Defaults (Fashion-MNIST preset): 3 epochs, lr 0.02 (the preset's finetune budget), cosine
    to 0.5·lr, labels that always differ from the true label, drawn once. Quick demo pool, one
    seed, no mask: forget 69.5 / retain 99.3 / test 82.7 (oracle 85 / 98 / 83): RL over-forgets.
    """

    epochs: int = 3
    min_lr_factor: float = 0.5
    label_rule: str = hp("exclude_true", choices=("exclude_true", "uniform"))  # exclude_true | uniform (DEL's randint, may keep the true label)
    redraw: bool = False  # new random labels every epoch (SalUn) instead of once (DEL)
    name: str = "random_label"

    def passes_per_epoch(self, sizes: dict[str, int]) -> int:
        """One epoch is one pass over retain ∪ relabelled forget."""
        return int(sizes["retain"] + sizes["forget"])

    def batches(self, task: UnlearningTask, num_classes: int) -> Callable[[int], Iterable[Batch]]:
        indices = np.concatenate([task.split.forget, task.split.retain])
        seed = task.stream(3)

        def make(epoch: int) -> Iterable[Batch]:
            label_seed = seed * 1_000 + (epoch if self.redraw else 0)
            data = relabelled_dataset(task.train_set, task.split.forget, num_classes, self.label_rule, label_seed)
            return epoch_batches(data, indices, self.batch_size, seed)(epoch)

        return make

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if self.label_rule not in LABEL_RULES:
            raise ConfigError(f"label_rule {self.label_rule!r} unknown; choose one of {sorted(LABEL_RULES)}.")
        model.to(task.device)
        num_classes = output_classes(model, task)
        recipe = self.recipe(task.seed)
        log = train(model, self.batches(task, num_classes), recipe, task.device, mask, task.loss_fn, task.progress, self.name, task.epoch_callback)
        task.notes.update(epochs=self.epochs, label_rule=self.label_rule, expected_change_rate=CHANGE_RATES[self.label_rule](num_classes), epoch_losses=log.epoch_losses)
        return model


@UNLEARNERS.register("salun", "SalUn: Random Label on a SalLoc saliency mask, α=0.5 (Fan et al., ICLR 2024)")
@dataclass
class SalUn(RandomLabel):
    """Random Label whose updates are confined to a SalLoc mask supplied by the runner."""

    name: str = "salun"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if mask is None:
            raise ConfigError(
                "salun needs a saliency mask: set localizer=salloc and alpha=0.5 in the method (SalUn = SalLoc + random label); for random labels on all parameters use unlearner=random_label."
            )
        return super().unlearn(model, task, mask)
