"""Stage 4, unlearn: one method at one unlearning seed, metered (wall, CPU, example passes)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..cache import state_to_cpu
from ..cost import Cost, CostMeter
from ..evaluate import deltas
from ..masks import Mask
from ..unlearn import UNLEARNERS, UnlearningTask
from ..utils import seed_everything
from .analysis import store_for
from .config import MethodConfig
from .context import Context
from .localization import localize


@dataclass
class MethodRun:
    """What one unlearning run produced, before evaluation."""

    model: nn.Module
    before: dict[str, Any]
    mask: Mask | None
    cost: Cost
    localize_cost: Cost
    notes: dict[str, Any]
    recovery: list[dict[str, float]] = field(default_factory=list)


def make_task(ctx: Context, run: int, progress: bool) -> UnlearningTask:
    extras = ctx.data.extras
    return UnlearningTask(
        ctx.bundle.train,
        ctx.split,
        ctx.device,
        ctx.fresh_model,
        ctx.config.recipe,
        ctx.seeds.unlearn(run),
        loss_fn=ctx.family.loss,
        progress=progress,
        original_init=ctx.original_init,
        seeds=ctx.seeds,
        forget_classes=extras.get("forget_classes"),
        analysis_images=extras.get("analysis_images"),
        other_images=extras.get("other_images"),
        analysis_store=store_for(ctx.cache.root),
    )


def unlearn(ctx: Context, method: MethodConfig, run: int) -> MethodRun:
    """Localize (optional) and unlearn; evaluation for a recovery curve is excluded from the cost."""
    seed_everything(ctx.seeds.unlearn(run))
    model = copy.deepcopy(ctx.original.model)
    before = state_to_cpu(model)
    mask = None
    with CostMeter(ctx.device) as loc_meter:
        if method.localizer:
            mask = localize(ctx, method, model, run)
    recovery: list[dict[str, float]] = []
    task = make_task(ctx, run, not ctx.config.quiet)
    unlearner = UNLEARNERS.get(str(method.unlearner))(**method.hyperparams)
    with CostMeter(ctx.device) as meter:

        def on_epoch(epoch: int, current: nn.Module) -> None:
            with meter.exclude():
                metrics = ctx.evaluate(current)
                recovery.append({"epoch": epoch + 1, **metrics, **deltas(metrics, ctx.oracle_metrics)})

        task.epoch_callback = on_epoch if method.recovery_curve else None
        model = unlearner.unlearn(model, task, mask)
    notes = {k: v for k, v in task.notes.items() if k != "epoch_losses"}
    return MethodRun(model, before, mask, meter.cost + loc_meter.cost, loc_meter.cost, notes, recovery)
