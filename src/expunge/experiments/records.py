"""Stage 6, record: one JSON-ready record per run, with metrics, Δs to the oracles, cost and provenance."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..cache import state_to_cpu
from ..evaluate import changed_fraction, deltas
from ..evaluate.verdicts import leave_one_out
from ..models import count_parameters
from ..utils import environment_info, stable_hash
from .config import ExperimentConfig, MethodConfig
from .context import Context
from .evaluation import class_rule
from .unlearning import MethodRun


def cost_fields(cost: Any, ctx: Context) -> dict[str, Any]:
    """Wall and CPU seconds, example passes, and each as a multiple of one oracle's training."""
    return {
        "seconds": cost.wall_seconds,
        "cpu_seconds": cost.cpu_seconds,
        "passes": cost.passes,
        "forward_passes": cost.forward_passes,
        **cost.relative_to(ctx.oracle_cost),
    }


def method_record(ctx: Context, method: MethodConfig, run: int, result: MethodRun, metrics: dict[str, float]) -> dict[str, Any]:
    return {
        "method": method.name,
        "unlearner": method.unlearner,
        "localizer": method.localizer,
        "alpha": method.alpha,
        "seed": run,
        **(result.notes.get("columns") or {}),  # what the unlearner reports as record columns (concept_poison: precision_at_m)
        **metrics,
        **deltas(metrics, ctx.oracle_metrics),
        **cost_fields(result.cost, ctx),
        "localize_seconds": result.localize_cost.wall_seconds,
        "unlearn_seconds": result.cost.wall_seconds - result.localize_cost.wall_seconds,
        "changed_fraction": changed_fraction(result.before, result.model),
        "mask_fraction": result.mask.fraction() if result.mask else None,
        "mask_layers": result.mask.layer_fractions() if result.mask else None,
        "recovery": result.recovery or None,
        "notes": result.notes,
    }


def failed_record(method: MethodConfig, run: int, error: str | None, traceback: str | None) -> dict[str, Any]:
    return {"method": method.name, "unlearner": method.unlearner, "localizer": method.localizer, "alpha": method.alpha, "seed": run, "status": "failed", "error": error, "traceback": traceback}


def retrain_records(ctx: Context) -> list[dict[str, Any]]:
    """Each oracle scored against the others (leave-one-out) in every column: the noise floor of every Δ and verdict.

    The metrics' own oracle-relative columns (``*_oracle``, distances, the class verdict) were computed
    against every oracle, the row's own included; ``leave_one_out`` recomputes them against the others.
    """
    records = []
    original_state = state_to_cpu(ctx.original.model)
    rows = leave_one_out(ctx.oracle_metrics, class_rule(ctx), ctx.original.metrics) if len(ctx.oracles) > 1 else ctx.oracle_metrics
    for k, oracle in enumerate(ctx.oracles):
        others = [o.metrics for j, o in enumerate(ctx.oracles) if j != k] or [oracle.metrics]
        records.append(
            {
                "method": "retrain",
                "unlearner": "retrain",
                "localizer": None,
                "alpha": None,
                "seed": k,
                **rows[k],
                **deltas(oracle.metrics, others),
                **cost_fields(oracle.cost, ctx),
                "localize_seconds": 0.0,
                "unlearn_seconds": oracle.cost.wall_seconds,
                "changed_fraction": changed_fraction(original_state, oracle.model),
                "mask_fraction": None,
                "mask_layers": None,
                "recovery": None,
                "notes": {"compared_with": "the other oracles (leave-one-out)", "cache_hit": oracle.info.get("cache_hit")},
            }
        )
    return records


def provenance(config: ExperimentConfig, ctx: Context) -> dict[str, Any]:
    extras = ctx.data.extras
    prov: dict[str, Any] = {
        "config": config.to_dict(),
        "environment": environment_info(ctx.device),
        "split_sizes": ctx.split.sizes(),
        "split_description": ctx.split.description,
        "num_parameters": count_parameters(ctx.original.model),
        "seeds": ctx.seeds.record(oracles=config.oracles),
        "metrics": [type(m).__name__ for m in ctx.metrics],
    }
    if "analysis_indices" in extras:
        prov["analysis_test_indices"] = [int(i) for i in extras["analysis_indices"]]
        prov["other_test_indices"] = [int(i) for i in extras["other_indices"]]
    return prov


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k != "spec"} | {"spec_hash": stable_hash(info.get("spec", {}))}


def run_key(method: MethodConfig, run: int) -> str:
    return f"{method.name}-seed{run}".replace("/", "_").replace(" ", "_")


def run_hash(config: ExperimentConfig, method: MethodConfig, run: int) -> str:
    base = stable_hash({k: v for k, v in config.to_dict().items() if k not in ("methods", "seeds", "out", "quiet", "cache_dir", "device", "executor")})
    return stable_hash({"base": base, "method": asdict(method), "seed": run})
