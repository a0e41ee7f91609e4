"""What every method of one experiment shares: data, the trained pool, the metrics, the seeds."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..cache import ModelCache
from ..cost import Cost
from ..evaluate.registry import METRIC_SETS, EvalContext, Metric, build_metrics, check_needs, run_metrics
from ..family import Family, FamilyData, family_of, metric_set_of
from ..seeds import Seeds
from ..utils import resolve_device, stable_hash
from .config import ExperimentConfig
from .model_pool import TrainedModel, model_cache, model_factory, train_cached
from .prepare_data import load_task_data


@dataclass
class Context:
    config: ExperimentConfig
    family: Family
    data: FamilyData
    device: torch.device
    cache: ModelCache
    seeds: Seeds
    original: TrainedModel
    oracles: list[TrainedModel]
    fresh_model: Callable[[int], nn.Module]
    original_init: dict[str, torch.Tensor] | None
    metrics: list[Metric]
    eval_context: EvalContext

    @property
    def bundle(self) -> Any:
        return self.data.bundle

    @property
    def split(self) -> Any:
        return self.data.split

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return run_metrics(self.metrics, model, self.eval_context)

    @property
    def oracle_metrics(self) -> list[dict[str, float]]:
        return [o.metrics for o in self.oracles]

    @property
    def oracle_seconds(self) -> float:
        return statistics.median(o.info["train_seconds"] for o in self.oracles)

    @property
    def oracle_cost(self) -> Cost:
        """One oracle's training cost (median wall / CPU seconds and passes over the pool): the unit of relative cost."""
        costs = [o.cost for o in self.oracles]
        return Cost(
            statistics.median(c.wall_seconds for c in costs),
            statistics.median(c.cpu_seconds for c in costs),
            int(statistics.median(c.passes for c in costs)),
            int(statistics.median(c.forward_passes for c in costs)),
        )


def seeds_of(config: ExperimentConfig) -> Seeds:
    return Seeds(train=config.train_seed, evaluation=config.evaluation.seed, split=config.split.seed)


def metric_spec(config: ExperimentConfig, family: Family) -> list[Any]:
    """The configured metrics (or the family's default set), with the corruption's own metrics when there is one."""
    spec: list[Any] = list(config.evaluation.metrics) or [metric_set_of(family, config)]
    if config.split.corruption:
        spec.append("corruption")
    if config.evaluation.mia_max_per_side != 2000:
        spec = [{"name": "mia_efficacy", "max_per_side": config.evaluation.mia_max_per_side} if s == "mia_efficacy" else s for s in _expand(spec)]
    return spec


def _expand(spec: list[Any]) -> list[Any]:
    out: list[Any] = []
    for s in spec:
        out.extend(_expand(METRIC_SETS[s]) if isinstance(s, str) and s in METRIC_SETS else [s])
    return out


def prepare(config: ExperimentConfig, original_seed: int | None = None) -> Context:
    """Load data, train (or load) the original and the oracles, evaluate them.

    ``original_seed`` picks another independently trained original (model pools); the
    oracles are always those of ``config.train_seed``.
    """
    device = resolve_device(config.device)
    family = family_of(config)
    data = load_task_data(config)
    data.extras.update(family.extras(config, data, device))
    cache = model_cache(config)
    seeds = seeds_of(config)
    original = train_cached(cache, "original", config, family, data, seeds.original(original_seed), device)
    oracles = [train_cached(cache, "oracle", config, family, data, seeds.oracle(k), device) for k in range(config.oracles)]
    spec = original.info.get("spec")
    original_init = cache.init_state("original", spec) if spec else None
    metrics = build_metrics(metric_spec(config, family), metric_set_of(family, config))
    eval_ctx = EvalContext(device, seeds.evaluation, data.bundle.train, data.bundle.test, data.split, original.model, [o.model for o in oracles], data.extras)
    check_needs(metrics, eval_ctx)
    ctx = Context(config, family, data, device, cache, seeds, original, oracles, model_factory(config, family, data, device), original_init, metrics, eval_ctx)
    for trained in [original, *oracles]:
        trained.metrics = ctx.evaluate(trained.model)
    return ctx


_CONTEXTS: dict[str, Context] = {}


def context_for(config: ExperimentConfig, original_seed: int | None = None) -> Context:
    """``prepare`` memoised per process, so executor jobs in one worker share the loaded pool."""
    key = stable_hash({"config": {k: v for k, v in config.to_dict().items() if k not in ("methods", "seeds", "out", "quiet", "executor")}, "original": original_seed})
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = prepare(config, original_seed)
    return _CONTEXTS[key]
