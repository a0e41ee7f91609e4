"""LiRA-style per-example membership attack using the model pools.

Carlini et al., "Membership Inference Attacks From First Principles" (S&P 2022), as used
for unlearning by Hayes et al. 2024 (U-LiRA): for each forget example fit one Gaussian to
its logit-scaled confidence under reference models that trained on it (IN: originals)
and one under models that did not (OUT: oracles). A target model's statistic for that
example is the log-likelihood ratio log N(c; IN) − log N(c; OUT). An unlearned model whose
statistics cannot be told apart from held-out oracles' (AUC 50) looks retrained.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

MIN_STD = 1e-3  # per-example variance floor: a pool of near-identical models must not give infinite ratios


def _gaussian_logpdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def lira_scores(target_conf: np.ndarray, in_conf: np.ndarray | None, out_conf: np.ndarray) -> np.ndarray:
    """Per-example log-likelihood ratios; ``target_conf`` is [n_examples] or [n_examples, n_targets].

    With no IN models (``in_conf`` None or empty) the offline variant is used: the
    negative log-likelihood under OUT, one-sided (higher confidence than OUT => member).
    """
    target = np.asarray(target_conf, dtype=np.float64)
    squeeze = target.ndim == 1
    target = target[:, None] if squeeze else target
    out = np.asarray(out_conf, dtype=np.float64)
    mu_out, sd_out = out.mean(1, keepdims=True), np.maximum(out.std(1, keepdims=True), MIN_STD)
    if in_conf is None or np.asarray(in_conf).size == 0:
        score = (target - mu_out) / sd_out
    else:
        inn = np.asarray(in_conf, dtype=np.float64)
        mu_in, sd_in = inn.mean(1, keepdims=True), np.maximum(inn.std(1, keepdims=True), MIN_STD)
        score = _gaussian_logpdf(target, mu_in, sd_in) - _gaussian_logpdf(target, mu_out, sd_out)
    return score[:, 0] if squeeze else score


def lira_attack(member_stats: np.ndarray, nonmember_stats: np.ndarray) -> dict[str, float]:
    """ROC AUC and TPR at 1% FPR (percent) of 'higher statistic => member'."""
    pos = np.asarray(member_stats, dtype=np.float64).reshape(-1)
    neg = np.asarray(nonmember_stats, dtype=np.float64).reshape(-1)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("the LiRA attack needs member and non-member statistics.")
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    s = np.concatenate([pos, neg])
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {
        "auc": float(roc_auc_score(y, s)) * 100,
        # Carlini et al.'s convention: the best TPR among thresholds whose FPR is strictly below 1%
        "tpr_at_1pct_fpr": float(tpr[fpr < 0.01].max()) * 100,
        "n_members": int(len(pos)),
        "n_nonmembers": int(len(neg)),
    }
