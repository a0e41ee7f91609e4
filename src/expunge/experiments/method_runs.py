"""One method at one unlearning seed, end to end: unlearn, evaluate, record (used by the runner, pools and tuning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import MethodConfig
from .context import Context
from .evaluation import evaluate_model
from .records import method_record
from .unlearning import unlearn


def run_method(ctx: Context, method: MethodConfig, seed: int, keep_model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Localize (optional), unlearn and evaluate ``method`` at unlearning seed ``seed``."""
    result = unlearn(ctx, method, seed)
    metrics = evaluate_model(ctx, result.model)
    if keep_model is not None:
        keep_model["model"] = result.model
    record = method_record(ctx, method, seed, result, metrics)
    artifacts = ctx.family.artifacts(ctx, f"{method.name}-seed{seed}", result.model, Path(ctx.config.out))  # e.g. a GAN's sample grid
    if artifacts:
        record["artifacts"] = artifacts
    return record
