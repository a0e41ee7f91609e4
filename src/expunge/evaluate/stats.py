"""Statistics done once: mean ± std with a Student-t interval, training vs unlearning variance, pooled cost
ratios with medians, and a bootstrap that draws each comparison from its own stream.

Why: unlearning results move with both the seed of the original training and the seed of
the unlearning run; specs/evaluation.md ("Statistics") asks for mean ± std over unlearning
seeds and, with several originals, a split of the variance into the two sources. The split
is the classical one-way random-effects ANOVA (method-of-moments) estimator, e.g. Searle,
Casella & McCulloch, "Variance Components" (1992), ch. 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def pooled_ratio(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> dict[str, float | int]:
    """A cost ratio over many runs: Σ numerators / Σ denominators (pooled), with the median per-run ratio beside it.

    Why not the mean of per-run ratios: it is dominated by runs with a small denominator (a GAN
    run whose retrain stopped early read 37× as a mean of ratios and 22× pooled). Pairs with a
    missing value or a zero denominator are left out of both, and ``n`` says how many were used.
    """
    pairs = [(float(a), float(b)) for a, b in zip(numerators, denominators, strict=True) if a is not None and b is not None and a == a and b == b and b != 0]
    if not pairs:
        return {"pooled": float("nan"), "median": float("nan"), "n": 0}
    num, den = np.array(pairs).T
    return {"pooled": float(num.sum() / den.sum()), "median": float(np.median(num / den)), "n": len(pairs)}


def comparison_seed(names: Sequence[str], base_seed: int = 0) -> int:
    """A seed of its own for the comparison of ``names`` (order matters): a stable hash of the names and ``base_seed``.

    Every comparison draws from its own stream, so adding a row (another comparison) never moves
    another row's interval, and the same comparison gives the same interval in every table.
    """
    from ..utils import stable_hash

    return int(stable_hash({"compare": [str(n) for n in names], "base_seed": int(base_seed)}), 16) % (2**63)


def comparison_rng(names: Sequence[str], base_seed: int = 0) -> np.random.Generator:
    """The random stream of one comparison (``comparison_seed``)."""
    return np.random.default_rng(comparison_seed(names, base_seed))


def bootstrap_difference(a: ArrayLike, b: ArrayLike, names: Sequence[str], base_seed: int = 0, draws: int = 10_000, level: float = 0.95) -> dict[str, float | int]:
    """Percentile bootstrap interval of mean(a) − mean(b) over seeds, resampling each side independently.

    Draws come from the comparison's own stream (``comparison_rng(names, base_seed)``). ``resolved``
    is 1.0 when the interval excludes 0, else 0.0 (records hold floats).
    """
    x, y = _to_numpy(a).reshape(-1), _to_numpy(b).reshape(-1)
    if x.size == 0 or y.size == 0:
        raise ValueError("bootstrap_difference needs at least one value on each side.")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("bootstrap_difference got NaN values; drop failed runs first and report how many.")
    rng = comparison_rng(names, base_seed)
    diffs = x[rng.integers(0, x.size, (draws, x.size))].mean(axis=1) - y[rng.integers(0, y.size, (draws, y.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return {"difference": float(x.mean() - y.mean()), "low": float(low), "high": float(high), "level": level, "n_a": int(x.size), "n_b": int(y.size), "resolved": float(low > 0 or high < 0)}


def compare_to_reference(rows: Mapping[str, ArrayLike], reference: str, base_seed: int = 0, draws: int = 10_000, level: float = 0.95) -> dict[str, dict[str, float | int]]:
    """Each row's ``bootstrap_difference`` against the ``reference`` row (row − reference), every pair on its own stream."""
    if reference not in rows:
        raise ValueError(f"reference row {reference!r} is not among the rows {sorted(rows)}.")
    return {name: bootstrap_difference(values, rows[reference], (name, reference), base_seed, draws, level) for name, values in rows.items() if name != reference}


RATIO_SOURCES = {"relative_passes": ("passes", "passes"), "relative_time": ("seconds", "wall_seconds"), "relative_cpu": ("cpu_seconds", "cpu_seconds")}
"""cost ratio column -> (the run's own amount in the record, the same amount in the record's ``oracle_cost``)."""


def pooled_cost_ratio(records: Sequence[Mapping[str, Any]], key: str = "relative_passes") -> dict[str, float | int]:
    """``pooled_ratio`` of a cost column over run records (e.g. every seed and class of a method in a study).

    The amounts come from each record (``passes``) and its ``oracle_cost``; a record without
    ``oracle_cost`` falls back on amount / ratio. ``n`` below ``len(records)`` means some records
    lacked the amounts and were left out.
    """
    if key not in RATIO_SOURCES:
        raise ValueError(f"{key!r} is not a cost ratio; choose from {sorted(RATIO_SOURCES)}.")
    amount, reference = RATIO_SOURCES[key]
    nums: list[float | None] = []
    dens: list[float | None] = []
    for r in records:
        num, ratio, ref = r.get(amount), r.get(key), (r.get("oracle_cost") or {}).get(reference)
        nums.append(num)
        dens.append(ref if ref else (num / ratio if isinstance(num, (int, float)) and isinstance(ratio, (int, float)) and ratio else None))
    return pooled_ratio(nums, dens)
