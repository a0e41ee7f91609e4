"""Retrain at equal cost: a fresh model trained on the retain set within a budget of example passes.

The honest reference for any method sold on cost: what does retraining from scratch buy with the
same number of example passes? ``budget`` is a fraction of the original recipe's passes (the
recipe's epochs over the retain set, as a full retrain costs); the run uses the recipe's optimizer
(lr, momentum, weight decay, batch size, schedule) with its schedule compressed to the budget's
epochs, and stops exactly at ``round(budget * epochs * |retain|)`` passes (the last epoch may be
cut short). The input model is ignored: only its architecture, through ``task.fresh_model``; its
initialization comes from the train seed and the run seed (``Seeds.equal_cost_retrain``), so each
original of a study gets its own equal-cost retrain, as each gets its own oracles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from torch import nn

from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from ..train import Batch, train
from .base import UNLEARNERS, UnlearningTask


def budget_passes(budget: float, epochs: int, retain: int) -> int:
    """Example passes a budget allows: the fraction ``budget`` of ``epochs`` passes over ``retain`` examples."""
    return int(round(budget * epochs * retain))


def capped(batches: Callable[[int], Iterable[Batch]], limit: int) -> Callable[[int], Iterable[Batch]]:
    """``batches`` that stop, across epochs, once ``limit`` examples have been served (the last batch cut to fit)."""
    served = [0]

    def make(epoch: int) -> Iterator[Batch]:
        for batch in batches(epoch):
            left = limit - served[0]
            if left <= 0:
                return
            if len(batch[1]) > left:
                x, y, index = batch
                batch = (x[:left], y[:left], index[:left])
            served[0] += len(batch[1])
            yield batch

    return make


@UNLEARNERS.register("retrain_budget", "retrain from scratch on the retain set with a budget of passes (fraction of the recipe's): the equal-cost reference", families=("classifier",))
@dataclass
class RetrainBudget:
    """A fresh initialization trained on the retain set with the pretraining recipe, cut to ``budget``."""

    budget: float = hp(0.1, low=0.0, high=1.0, low_open=True, doc="fraction of a full retrain's example passes (the recipe's epochs over the retain set)")
    name: str = "retrain_budget"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if not 0.0 < self.budget <= 1.0:
            raise ConfigError(f"retrain_budget: budget must be in (0, 1] (a fraction of a full retrain's passes), got {self.budget}.")
        if mask is not None:
            raise ConfigError("retrain_budget trains a fresh model, every parameter; remove the localizer / alpha from this method.")
        full = task.pretrain_recipe
        limit = budget_passes(self.budget, full.epochs, len(task.split.retain))
        if limit < 1:
            raise ConfigError(f"retrain_budget: budget {self.budget} of {full.epochs} epochs over {len(task.split.retain)} retain examples is under one pass; raise budget.")
        recipe = replace(full, epochs=math.ceil(limit / len(task.split.retain)), seed=task.seed)
        fresh = task.fresh_model(task.seeds.equal_cost_retrain(task.seed)).to(task.device)
        batches = capped(task.batches("retain", recipe.batch_size, seed_offset=5), limit)
        log = train(fresh, batches, recipe, task.device, None, task.loss_fn, task.progress, self.name, task.epoch_callback)
        task.notes.update(epochs=recipe.epochs, budget_passes=limit, steps=log.steps, train_seconds=log.seconds, epoch_losses=log.epoch_losses)
        return fresh
