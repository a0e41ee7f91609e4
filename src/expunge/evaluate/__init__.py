"""Evaluation: one module per metric family; all are pure functions of outputs or models."""

from . import (
    builtin_metrics,  # noqa: F401  (registers the example-unlearning metrics)
    class_forgetting,  # noqa: F401  (registers the class-forgetting metrics and the "class" set)
)
from .accuracy import Outputs, accuracy, model_outputs, per_example_loss, true_class_probability
from .changes import changed_by_layer, changed_fraction
from .gaps import AVG_GAP_AUC_TERMS, AVG_GAP_TERMS, DELTA_KEYS, deltas, oracle_spread
from .metrics import Evaluation, evaluate_model
from .mia import fit_svc_attack, heldout_nonmember_rate, loss_auc, mia_efficacy
from .registry import METRIC_SETS, METRICS, EvalContext, build_metrics, register_set, run_metrics

__all__ = [
    "METRICS",
    "METRIC_SETS",
    "EvalContext",
    "build_metrics",
    "register_set",
    "run_metrics",
    "AVG_GAP_AUC_TERMS",
    "AVG_GAP_TERMS",
    "DELTA_KEYS",
    "Evaluation",
    "Outputs",
    "accuracy",
    "changed_by_layer",
    "changed_fraction",
    "deltas",
    "evaluate_model",
    "fit_svc_attack",
    "heldout_nonmember_rate",
    "loss_auc",
    "mia_efficacy",
    "model_outputs",
    "oracle_spread",
    "per_example_loss",
    "true_class_probability",
]
