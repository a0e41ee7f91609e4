"""Output divergence to the oracle pool: how far a model's predictions are from retraining's."""

from __future__ import annotations

import numpy as np


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-row Jensen-Shannon divergence (natural log, in [0, ln 2]) between probability vectors."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * (np.log(a) - np.log(b)), 0.0)
        return terms.sum(axis=-1)

    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, np.log(2))


def js_to_pool(model_probs: np.ndarray, pool_probs: np.ndarray) -> float:
    """Mean over pool members of the mean per-example JS between the model and that member."""
    model_probs = np.asarray(model_probs)
    return float(np.mean([js_divergence(model_probs, member).mean() for member in np.asarray(pool_probs)]))
