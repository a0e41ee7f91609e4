"""Retrain (the oracle) and Finetune (continue training on the retain set)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..masks import Mask
from ..train import LossFn, Recipe, train
from .base import UNLEARNERS, UnlearningTask


@UNLEARNERS.register("retrain", "retrain from scratch on the retain set: the gold-standard oracle")
@dataclass
class Retrain:
    """Ignores the given model: trains a fresh one on the retain set with the pretraining recipe."""

    name: str = "retrain"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        fresh = task.fresh_model(task.seed).to(task.device)
        recipe = task.pretrain_recipe
        log = train(fresh, task.batches("retain", recipe.batch_size), recipe, task.device, None, task.loss_fn, task.progress, "retrain", task.epoch_callback)
        task.notes.update(epochs=recipe.epochs, train_seconds=log.seconds)
        return fresh


@UNLEARNERS.register("finetune", "finetune on the retain set only (catastrophic forgetting baseline; Warnecke et al. 2023)")
@dataclass
class Finetune:
    """Cross-entropy on the retain set, cosine schedule; a mask restricts which entries move."""

    epochs: int = 4
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    min_lr_factor: float = 0.01
    name: str = "finetune"

    def recipe(self, seed: int) -> Recipe:
        return Recipe(self.epochs, self.lr, self.momentum, self.weight_decay, self.batch_size, "cosine", self.min_lr_factor, seed)

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        return self.finetune(model, task, mask, task.loss_fn)

    def finetune(self, model: nn.Module, task: UnlearningTask, mask: Mask | None, loss_fn: LossFn) -> nn.Module:
        """The retain-set finetune shared by subclasses that change the loss or reset entries first."""
        model.to(task.device)
        recipe = self.recipe(task.seed)
        batches = task.batches("retain", recipe.batch_size, seed_offset=1)
        log = train(model, batches, recipe, task.device, mask, loss_fn, task.progress, self.name, task.epoch_callback)
        task.notes.update(epochs=self.epochs, epoch_losses=log.epoch_losses)
        return model
