"""Stage 5, evaluate: the configured metrics on an unlearned model, and the oracles' own spread."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..evaluate import oracle_spread
from .context import Context


def evaluate_model(ctx: Context, model: nn.Module) -> dict[str, float]:
    """Every metric chosen in ``evaluation.metrics`` (or the family's default set)."""
    return ctx.evaluate(model)


def pool_summary(ctx: Context) -> dict[str, Any]:
    """The original's and the oracles' metrics, and the oracles' spread: the noise floor of every Δ."""
    return {
        "original": {"metrics": ctx.original.metrics},
        "oracles": [{"metrics": o.metrics} for o in ctx.oracles],
        "oracle_spread": oracle_spread(ctx.oracle_metrics),
    }
