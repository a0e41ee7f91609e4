"""Comparisons with the oracle pool: Δ = mean over oracles − method, and SalUn's Avg.Gap."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# metric key -> Δ key
DELTA_KEYS = {
    "forget_acc": "delta_forget",
    "retain_acc": "delta_retain",
    "test_acc": "delta_test",
    "mia_efficacy": "delta_mia",
    "mia_auc": "delta_mia_auc",
}
AVG_GAP_TERMS = ("delta_forget", "delta_retain", "delta_test", "delta_mia")  # SalUn's definition
AVG_GAP_AUC_TERMS = ("delta_forget", "delta_retain", "delta_test", "delta_mia_auc")


def deltas(metrics: Mapping[str, float], oracle_metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Δ_m = mean_k m(oracle_k) − m(method), plus both Avg.Gap variants."""
    if not oracle_metrics:
        raise ValueError("Δ needs at least one oracle.")
    out = {}
    for key, delta_key in DELTA_KEYS.items():
        oracle_mean = float(np.mean([o[key] for o in oracle_metrics]))
        out[delta_key] = oracle_mean - float(metrics[key])
    out["avg_gap"] = float(np.mean([abs(out[k]) for k in AVG_GAP_TERMS]))
    out["avg_gap_auc"] = float(np.mean([abs(out[k]) for k in AVG_GAP_AUC_TERMS]))
    out["max_gap"] = float(max(abs(out[k]) for k in AVG_GAP_TERMS))  # the worst of the four: "every |Δ| <= x" targets
    return out


def oracle_spread(oracle_metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Std (ddof=1) of each metric across oracles, and the mean leave-one-out Avg.Gap: the noise floor."""
    out: dict[str, float] = {}
    for key in DELTA_KEYS:
        values = [o[key] for o in oracle_metrics]
        out[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    if len(oracle_metrics) > 1:
        loo = [deltas(o, [p for j, p in enumerate(oracle_metrics) if j != i]) for i, o in enumerate(oracle_metrics)]
        out["loo_avg_gap"] = float(np.mean([d["avg_gap"] for d in loo]))
        out["loo_avg_gap_auc"] = float(np.mean([d["avg_gap_auc"] for d in loo]))
    return out
