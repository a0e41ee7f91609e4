"""Retrain (the oracle) and Finetune (continue training on the retain set)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..masks import Mask
from ..train import LossFn, train
from .base import UNLEARNERS, SGDSettings, UnlearningTask


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
class Finetune(SGDSettings):
    """Cross-entropy on the retain set, cosine schedule; a mask restricts which entries move."""

    name: str = "finetune"

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
