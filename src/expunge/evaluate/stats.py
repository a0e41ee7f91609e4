"""Statistics over seeds: mean ± std with a t interval, and training vs unlearning variance."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats


def summarize(values: Sequence[float]) -> dict[str, float]:
    """mean, std (ddof=1), n and a 95% Student-t interval for the mean."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    mean = float(v.mean()) if n else float("nan")
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n, "ci95_low": mean - half, "ci95_high": mean + half}


def variance_split(values: np.ndarray) -> dict[str, float]:
    """Split variance into training and unlearning parts from [n_originals, n_unlearning_seeds].

    One-way random-effects ANOVA: unlearning variance = within-original mean square;
    training variance = (between mean square − within) / seeds, clipped at 0.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 2:
        raise ValueError("variance_split needs at least 2 originals x 2 unlearning seeds.")
    a, k = v.shape
    row_means = v.mean(1)
    within = float(((v - row_means[:, None]) ** 2).sum() / (a * (k - 1)))
    between = float(k * ((row_means - v.mean()) ** 2).sum() / (a - 1))
    training = max(0.0, (between - within) / k)
    return {"training_var": training, "unlearning_var": within, "total_var": training + within}
