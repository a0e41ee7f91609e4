"""Comparisons with the oracle pool: Δ = mean over oracles − method, and SalUn's Avg.Gap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    """Δ_m = mean_k m(oracle_k) − m(method) for every example metric present, plus both Avg.Gap variants when their terms are.

    A run evaluated with another metric set (class, GAN, LM) simply has fewer Δs; those sets
    report their own distances to the oracles.
    """
    if not oracle_metrics:
        raise ValueError("Δ needs at least one oracle.")
    out = {}
    for key, delta_key in DELTA_KEYS.items():
        if key in metrics and all(key in o for o in oracle_metrics):
            oracle_mean = float(np.mean([o[key] for o in oracle_metrics]))
            out[delta_key] = oracle_mean - float(metrics[key])
    if all(k in out for k in AVG_GAP_TERMS):
        out["avg_gap"] = float(np.mean([abs(out[k]) for k in AVG_GAP_TERMS]))
        out["max_gap"] = float(max(abs(out[k]) for k in AVG_GAP_TERMS))  # the worst of the four: "every |Δ| <= x" targets
    if all(k in out for k in AVG_GAP_AUC_TERMS):
        out["avg_gap_auc"] = float(np.mean([abs(out[k]) for k in AVG_GAP_AUC_TERMS]))
    return out


def oracle_spread(oracle_metrics: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Std (ddof=1) of each metric across oracles, and the mean leave-one-out Avg.Gap: the noise floor."""
    out: dict[str, float] = {}
    for key in (k for k in DELTA_KEYS if all(k in o for o in oracle_metrics)):
        values = [o[key] for o in oracle_metrics]
        out[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    if len(oracle_metrics) > 1:
        loo = [deltas(o, [p for j, p in enumerate(oracle_metrics) if j != i]) for i, o in enumerate(oracle_metrics)]
        for name in ("avg_gap", "avg_gap_auc"):
            if all(name in d for d in loo):
                out[f"loo_{name}"] = float(np.mean([d[name] for d in loo]))
    return out
