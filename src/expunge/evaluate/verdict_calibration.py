"""The class verdict's calibration on live models: the adversarial cases every class run checks.

Why: a rule is only trusted if it names the obvious cases correctly in the same run, on the same
data and attacks: each oracle scored against the others must come out ``removed`` (>= 90%), a model
whose features are re-drawn at random and whose target logit is masked must be ``broke the model``,
the logit mask alone (``output_mask``) ``output-only``, and the untouched original ``not removed``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .class_forgetting import ClassVerdict, classifier_layer, forget_classes
from .registry import EvalContext
from .verdicts import calibration_block


@torch.no_grad()
def logit_masked(model: nn.Module, classes: list[int], suppression: float = 1e4) -> nn.Module:
    """A copy of ``model`` whose rows of ``classes`` are zeroed and biased to ``-suppression`` (what ``output_mask`` does)."""
    from ..unlearn.output_mask import mask_logit

    masked = copy.deepcopy(model)
    for c in classes:
        mask_logit(masked, c, suppression)
    return masked


@torch.no_grad()
def destroyed_model(model: nn.Module, classes: list[int], seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer but the classifier re-drawn at random (seeded), then the target logit masked."""
    wrecked = copy.deepcopy(model)
    head = classifier_layer(wrecked)[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in wrecked.modules():
            if module is not head and hasattr(module, "reset_parameters"):
                module.reset_parameters()  # pyright: ignore[reportCallIssue]
    return logit_masked(wrecked, classes)


def class_calibration(verdict: ClassVerdict, ctx: EvalContext) -> dict[str, Any]:
    """``verdict_calibration`` for one class task: ``verdicts.calibration_block`` on the oracles and the three adversarial models."""
    if ctx.original is None:
        raise ValueError("the verdict calibration needs the original model (ctx.original).")
    classes = forget_classes(ctx)
    models = {"destroyed": destroyed_model(ctx.original, classes, ctx.seed), "output_mask": logit_masked(ctx.original, classes), "original": ctx.original}
    checks = {name: verdict.values(model, ctx) for name, model in models.items()}
    return calibration_block(verdict.oracle_rows(ctx), checks, verdict.rule(), checks["original"])


__all__ = ["class_calibration", "destroyed_model", "logit_masked"]
