"""The NeurIPS-2023 Machine Unlearning challenge's forgetting score (the "ε-score").

Reference: google-deepmind/unlearning_evaluation, metric.py (Triantafillou et al. 2024).
For every forget example, N unlearned and N retrained models each give one logit-scaled
confidence; a family of single- and double-threshold tests tries to tell the two samples
apart, every test's (FPR, FNR) becomes an (ε, δ=1e-5) estimate, and the example's ε is
the strongest. ε is binned in 0.5-wide buckets worth 1, 1/2, 1/4, ... up to ceil(log(N−1)).

Written here from the definition: the rule family is evaluated with sorted samples and
``searchsorted`` instead of materialising every (model, threshold) pair, which runs on the
CPU in milliseconds per example (the reference needs a GPU and ~0.15 s per example). One
deliberate difference: when no rule survives (identical samples), ε = 0 instead of the
reference's assertion error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0
BUCKET = 0.5


def logit_confidence(logits: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """log p_y − log Σ_{k≠y} p_k in float64, via log-softmax (finite even for extreme logits)."""
    z = torch.as_tensor(np.asarray(logits) if not torch.is_tensor(logits) else logits).double()
    y = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels).long()
    log_p = torch.log_softmax(z, dim=1)
    correct = log_p.gather(1, y[:, None]).squeeze(1)
    others = log_p.scatter(1, y[:, None], float("-inf"))
    return (correct - torch.logsumexp(others, dim=1)).numpy()


def _count_le(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, thresholds, side="right")


def _count_lt(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, thresholds, side="left")


def _single_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, ...]:
    """Predict 'positive' at or above t, t on a grid over the pooled range."""
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    count = int(np.ceil((hi - lo) * THRESHOLDS_PER_UNIT))
    # The reference builds this grid with torch's default float32 dtype; keep that for identical rates.
    t = torch.linspace(float(lo), float(hi), count).double().numpy()
    ps, ns = np.sort(pos), np.sort(neg)
    tp = len(pos) - _count_lt(ps, t)
    fp = len(neg) - _count_lt(ns, t)
    return _rates(tp, fp, len(pos), len(neg))


def _double_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, ...]:
    """Predict the peakier distribution inside [l, r]; the window width is the smaller spread."""
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos  # 'positive' is the peakier one
    width = np.ptp(pos)
    lo, hi = pos.min() + width - BUFFER, pos.max() + BUFFER
    right = np.linspace(lo, hi, int(np.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    n_left = int(np.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT))
    left = np.linspace(right - width - BUFFER, right - width + BUFFER, n_left, axis=1).reshape(-1)
    right = np.repeat(right, n_left)
    ps, ns = np.sort(pos), np.sort(neg)
    tp = np.clip(_count_le(ps, right) - _count_lt(ps, left), 0, None)
    fp = np.clip(_count_le(ns, right) - _count_lt(ns, left), 0, None)
    return _rates(tp, fp, len(pos), len(neg))


def _rates(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int) -> tuple[np.ndarray, ...]:
    tpr, fpr = tp / n_pos, fp / n_neg
    return tpr, 1.0 - tpr, fpr, 1.0 - fpr  # tpr, fnr, fpr, tnr


def _example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float) -> float:
    spreads = sorted((np.ptp(pos), np.ptp(neg)))
    if spreads[1] > 0 and spreads[0] / spreads[1] < 0.01:
        return EPSILON_CAP  # one side is far peakier than the other: treat as fully distinguishable
    rates = [np.concatenate(parts) for parts in zip(_double_threshold_rates(pos, neg), _single_threshold_rates(pos, neg))]
    tpr, fnr, fpr, tnr = rates
    if np.any((fpr + fnr == 0) & (tpr + tnr == 2)):
        return EPSILON_CAP  # perfect separation: ε = ∞, capped
    keep = fpr * fnr != 0  # rules with exactly one zero error rate say too little with N samples
    if not keep.any():
        return 0.0
    fpr, fnr = fpr[keep], fnr[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    eps = eps[~np.isnan(eps)]
    if eps.size == 0:
        return 0.0
    return float(np.clip(np.clip(eps, 0, None).max(), 0, EPSILON_CAP))


def example_epsilons(unlearned: np.ndarray, oracle: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Per-example ε from samples of shape [n_examples, N] on each side."""
    unlearned, oracle = _check(unlearned, oracle)
    oracle_positive = np.median(oracle, axis=1) > np.median(unlearned, axis=1)
    pos = np.where(oracle_positive[:, None], oracle, unlearned)
    neg = np.where(oracle_positive[:, None], unlearned, oracle)
    return np.array([_example_epsilon(pos[i], neg[i], delta) for i in range(len(pos))])


def bucket_points(n_models: int) -> list[tuple[float, float]]:
    """(bucket start, points) pairs: 0.5-wide buckets worth 1, 1/2, 1/4, ... up to ceil(log(N−1))."""
    top = np.ceil(np.log(n_models - 1))
    out, start, points = [], 0.0, 1.0
    while start + BUCKET <= top:
        out.append((start, points))
        start += BUCKET
        points /= 2
    return out


def forgetting_quality(epsilons: np.ndarray, n_models: int) -> float:
    """F: mean bucket points over the forget set (1 = indistinguishable from retraining everywhere)."""
    buckets = bucket_points(n_models)
    total = 0.0
    for e in np.asarray(epsilons, dtype=float):
        for start, points in buckets:
            if e < start + BUCKET:
                total += points
                break
    return total / len(epsilons)


@dataclass
class EpsilonScore:
    score: float
    forgetting_quality: float
    epsilons: np.ndarray
    n_models: int
    utility_ratio: float


def epsilon_score(
    unlearned_conf: np.ndarray,
    oracle_conf: np.ndarray,
    retain_acc_unlearned: float | Sequence[float],
    retain_acc_oracle: float | Sequence[float],
    test_acc_unlearned: float | Sequence[float],
    test_acc_oracle: float | Sequence[float],
) -> EpsilonScore:
    """Final score = F × (RA_u / RA_r) × (TA_u / TA_r), accuracies averaged over each side's models."""
    eps = example_epsilons(unlearned_conf, oracle_conf)
    n = unlearned_conf.shape[1]
    f = forgetting_quality(eps, n)
    ratio = (float(np.mean(retain_acc_unlearned)) / float(np.mean(retain_acc_oracle))) * (float(np.mean(test_acc_unlearned)) / float(np.mean(test_acc_oracle)))
    return EpsilonScore(f * ratio, f, eps, n, ratio)


def oracle_ceiling(oracle_pool_conf: np.ndarray, seed: int = 0) -> float:
    """F of N oracles against N other oracles (random halves of a 2N pool): the best a method can expect at this N."""
    pool = np.asarray(oracle_pool_conf, dtype=np.float64)
    if pool.ndim != 2 or pool.shape[1] < 6:
        raise ValueError("oracle_ceiling needs [n_examples, 2N] confidences with N >= 3.")
    order = np.random.default_rng(seed).permutation(pool.shape[1])
    half = pool.shape[1] // 2
    return forgetting_quality(example_epsilons(pool[:, order[:half]], pool[:, order[half : 2 * half]]), half)


def _check(unlearned: np.ndarray, oracle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, o = np.asarray(unlearned, dtype=np.float64), np.asarray(oracle, dtype=np.float64)
    if u.ndim != 2 or o.ndim != 2 or u.shape != o.shape:
        raise ValueError(f"ε-score needs two [n_examples, N] arrays of the same shape, got {u.shape} and {o.shape}.")
    if u.shape[1] < 3:
        raise ValueError(f"ε-score needs N >= 3 models per side (its buckets run to ceil(log(N-1))), got N={u.shape[1]}.")
    if np.isnan(u).any() or np.isnan(o).any():
        raise ValueError("ε-score inputs contain NaN; a model diverged (check its status before scoring).")
    return u, o
