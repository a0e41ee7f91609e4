"""Stage 5, evaluate: the configured metrics on an unlearned model, the oracles' own spread and the verdict's calibration."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..evaluate import oracle_spread
from ..evaluate.class_forgetting import ClassVerdict
from ..evaluate.verdicts import ClassRule
from .context import Context


def evaluate_model(ctx: Context, model: nn.Module) -> dict[str, float]:
    """Every metric chosen in ``evaluation.metrics`` (or the family's default set)."""
    return ctx.evaluate(model)


def class_verdict_metric(ctx: Context) -> ClassVerdict | None:
    """The run's class verdict metric, if its metric set has one."""
    return next((m for m in ctx.metrics if isinstance(m, ClassVerdict)), None)


def class_rule(ctx: Context) -> ClassRule | None:
    """The class verdict's rule as configured in this run (None: the run has no class verdict)."""
    metric = class_verdict_metric(ctx)
    return metric.rule() if metric else None


def verdict_calibration(ctx: Context) -> dict[str, Any] | None:
    """The class verdict's ``verdict_calibration`` block (oracles against each other, destroyed model, output_mask, original)."""
    from ..evaluate.verdict_calibration import class_calibration

    metric = class_verdict_metric(ctx)
    return class_calibration(metric, ctx.eval_context) if metric else None


def pool_summary(ctx: Context) -> dict[str, Any]:
    """The original's and the oracles' metrics, the oracles' spread (the noise floor of every Δ) and, for class runs, the verdict's calibration."""
    summary: dict[str, Any] = {
        "original": {"metrics": ctx.original.metrics},
        "oracles": [{"metrics": o.metrics} for o in ctx.oracles],
        "oracle_spread": oracle_spread(ctx.oracle_metrics),
    }
    calibration = verdict_calibration(ctx)
    if calibration is not None:
        summary["verdict_calibration"] = calibration
    return summary
