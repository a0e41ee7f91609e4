"""Registers the built-in example-unlearning metrics and the ``example`` set (one module per metric family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .accuracy import PartAccuracy
from .mia import LossAucMetric, MiaEfficacyMetric
from .registry import METRICS, EvalContext, register_set

METRICS.register("accuracy", "forget / retain / test accuracy (FA, RA, TA), percent")(PartAccuracy)
METRICS.register("mia_efficacy", "SalUn's SVC MIA-efficacy on the forget set (percent called non-member)")(MiaEfficacyMetric)
METRICS.register("mia_auc", "loss-threshold membership AUC, forget vs test (50 = indistinguishable)")(LossAucMetric)


@METRICS.register("corruption", "the corruption's own metrics (clean test accuracy, backdoor success) when split.corruption is set")
@dataclass
class CorruptionMetrics:
    needs: ClassVar[frozenset[str]] = frozenset({"corruption_metrics"})

    def __call__(self, model: Any, ctx: EvalContext) -> dict[str, float]:
        return dict(ctx.extras["corruption_metrics"](model, ctx.device))


register_set("example", ["accuracy", "mia_efficacy", "mia_auc"])
