"""Metrics chosen in config: a registry of metric families and named sets of them.

A metric is a callable ``metric(model, ctx) -> {name: value}``. It declares what it needs
(``needs``: e.g. ``{"oracles"}``, ``{"analysis"}``, ``{"reference_classifier"}``), and the
runner provides those through ``EvalContext``; a metric never reaches into the runner.
A new model family adds its metrics here (``@METRICS.register(...)``) and a named set in
``METRIC_SETS``, without touching the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..registry import Registry
from .accuracy import Outputs, model_outputs

METRICS: Registry = Registry("metric", entry_point_group="expunge.metrics")

# Named sets, chosen with ``evaluate.metrics: [example]`` (a set name) or a list of metric names.
METRIC_SETS: dict[str, list[str]] = {}


@dataclass
class EvalContext:
    """Everything a metric may read. ``extras`` carries family-specific inputs by name."""

    device: torch.device
    seed: int = 0
    train_set: Any = None
    test_set: Any = None
    split: Any = None  # ForgetSplit (forget / retain / validation / test indices)
    original: nn.Module | None = None
    oracles: list[nn.Module] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # per-context cache (e.g. an attack fit once on the original)
    scratch: dict[Any, Any] = field(default_factory=dict)  # per-evaluation cache (one model's outputs), cleared by run_metrics

    def outputs(self, model: nn.Module, part: str) -> Outputs:
        """The model's logits and labels on ``forget`` / ``retain`` / ``validation`` (train set) or ``test``, computed once per evaluation."""
        key = (id(model), part)
        if key not in self.scratch:
            dataset = self.test_set if part == "test" else self.train_set
            self.scratch[key] = model_outputs(model, dataset, getattr(self.split, part), self.device)
        return self.scratch[key]

    def provides(self) -> set[str]:
        have = {k for k in ("train_set", "test_set", "split", "original") if getattr(self, k) is not None}
        if self.oracles:
            have.add("oracles")
        return have | set(self.extras)

    def memoized(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]


class Metric(Protocol):
    needs: frozenset[str]

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]: ...


def register_set(name: str, metrics: list[str]) -> None:
    """Add (or replace) a named metric set."""
    METRIC_SETS[name] = list(metrics)


def resolve_metrics(spec: list[Any] | str | None, default_set: str) -> list[tuple[str, dict[str, Any]]]:
    """Expand set names; each entry becomes (metric name, options). Unknown names are errors."""
    if spec is None or spec == []:
        spec = [default_set]
    if isinstance(spec, str):
        spec = [spec]
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(spec):
        if isinstance(item, dict):
            options = {k: v for k, v in item.items() if k != "name"}
            name = item.get("name")
            if not isinstance(name, str):
                raise ConfigError(f"evaluation.metrics.{i} must name a metric: {{name: relearn, ...}}.")
            out.append((name, options))
        elif isinstance(item, str) and item in METRIC_SETS:
            out.extend(resolve_metrics(METRIC_SETS[item], default_set))
        elif isinstance(item, str):
            out.append((item, {}))
        else:
            raise ConfigError(f"evaluation.metrics.{i}: expected a metric or set name, got {item!r}.")
    known = set(METRICS.names())
    for name, _ in out:
        if name not in known:
            raise ConfigError(f"evaluation.metrics: unknown metric {name!r}; choose from {sorted(known)} or a set {sorted(METRIC_SETS)}.")
    return out


def build_metrics(spec: list[Any] | str | None, default_set: str) -> list[Metric]:
    """Instantiate the chosen metrics (options are validated by each metric's dataclass)."""
    from ..hparams import validate_params

    metrics: list[Metric] = []
    for name, options in resolve_metrics(spec, default_set):
        factory = METRICS.get(name)
        kwargs = validate_params(factory, options, f"evaluation.metrics[{name}]") if hasattr(factory, "__dataclass_fields__") else options
        metrics.append(factory(**kwargs))
    return metrics


def check_needs(metrics: list[Metric], ctx: EvalContext) -> None:
    missing = {type(m).__name__: sorted(set(m.needs) - ctx.provides()) for m in metrics}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        raise ConfigError(f"these metrics need inputs this task does not provide: {missing}; choose another metric set or a task that has them.")


def run_metrics(metrics: list[Metric], model: nn.Module, ctx: EvalContext) -> dict[str, float]:
    """Every chosen metric on one model (outputs shared between metrics, dropped afterwards)."""
    out: dict[str, float] = {}
    ctx.scratch.clear()
    try:
        for metric in metrics:
            values = metric(model, ctx)
            out.update({k: (float(v) if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) else v) for k, v in values.items()})
    finally:
        ctx.scratch.clear()
    return out
