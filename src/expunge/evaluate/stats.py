"""Statistics over seeds: mean ± std with a Student-t interval, and training vs unlearning variance.

Why: unlearning results move with both the seed of the original training and the seed of
the unlearning run; specs/evaluation.md ("Statistics") asks for mean ± std over unlearning
seeds and, with several originals, a split of the variance into the two sources. The split
is the classical one-way random-effects ANOVA (method-of-moments) estimator, e.g. Searle,
Casella & McCulloch, "Variance Components" (1992), ch. 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    import torch

    ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]
else:
    ArrayLike = Any


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()  # pyright: ignore[reportAttributeAccessIssue].cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def summarize(values: ArrayLike) -> dict[str, float]:
    """mean, std (ddof=1), n and the 95% Student-t confidence interval for the mean.

    ci95 = mean ± t_{0.975, n−1} · std / √n. With n = 1 the std and interval are NaN (not
    0: one run says nothing about spread).
    """
    v = _to_numpy(values).reshape(-1)
    n = int(v.size)
    if n == 0:
        raise ValueError("summarize needs at least one value.")
    if np.isnan(v).any():
        raise ValueError("summarize got NaN values; drop failed runs first and report how many.")
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "std": float("nan"), "n": n, "ci95_low": float("nan"), "ci95_high": float("nan")}
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / np.sqrt(n)
    return {"mean": mean, "std": std, "n": n, "ci95_low": mean - half, "ci95_high": mean + half}


def variance_split(values: ArrayLike) -> dict[str, float | int]:
    """Variance due to training (the original's seed) vs unlearning (the unlearning seed).

    ``values``: [n_originals a, n_unlearning_seeds k], one metric per (original, seed),
    balanced. Model: x_ij = μ + T_i + U_ij with T ~ (0, σ²_train), U ~ (0, σ²_unlearn).
    One-way random-effects ANOVA (method of moments):

        MS_within  = Σ_ij (x_ij − x̄_i)² / (a (k − 1))      E = σ²_unlearn
        MS_between = k Σ_i (x̄_i − x̄)² / (a − 1)           E = σ²_unlearn + k σ²_train

    so unlearning_var = MS_within and training_var = (MS_between − MS_within) / k, clipped
    at 0 (the unbiased estimate can be negative when training adds little variance).
    total_var = training_var + unlearning_var: the variance of one run with a fresh
    original and a fresh unlearning seed. Needs a >= 2 and k >= 2.
    """
    v = _to_numpy(values)
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 2:
        raise ValueError(f"variance_split needs [n_originals >= 2, n_unlearning_seeds >= 2], got shape {v.shape}.")
    if np.isnan(v).any():
        raise ValueError("variance_split got NaN values.")
    a, k = v.shape
    row_means = v.mean(axis=1)
    ms_within = float(((v - row_means[:, None]) ** 2).sum() / (a * (k - 1)))
    ms_between = float(k * ((row_means - v.mean()) ** 2).sum() / (a - 1))
    training = max(0.0, (ms_between - ms_within) / k)
    return {
        "training_var": training,
        "unlearning_var": ms_within,
        "total_var": training + ms_within,
        "ms_between": ms_between,
        "ms_within": ms_within,
        "n_originals": a,
        "n_unlearning_seeds": k,
    }
