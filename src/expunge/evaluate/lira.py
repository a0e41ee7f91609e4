"""LiRA-style per-example membership attack against an unlearned model (U-LiRA).

Why: average-case attacks (a loss threshold, SalUn's SVC) judge every forget example by one
global rule; per-example attacks calibrate each example against reference models and are
far stronger, so they are the honest test of "looks retrained".

References: Carlini et al., "Membership Inference Attacks From First Principles" (IEEE S&P
2022) — the likelihood-ratio attack (LiRA): for each example fit a Gaussian to its
logit-scaled confidence under reference models that trained on it (IN) and under models
that did not (OUT); the statistic of a target model is log N(c; μ_in, σ_in²) −
log N(c; μ_out, σ_out²). Hayes et al., "Inexact Unlearning Needs More Careful Evaluations
to Avoid a False Sense of Privacy" (2024) — U-LiRA, the same test with unlearned models as
targets and retrained (oracle) models as OUT.

Here the statistic is computed per example from confidence matrices; :func:`lira_attack`
turns member and non-member statistics into ROC AUC and TPR at 1% FPR (both in percent,
like the other attacks in this package) and records how many reference models were used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

if TYPE_CHECKING:
    import torch

    ArrayLike = Union[np.ndarray, torch.Tensor]
else:
    ArrayLike = Any

MIN_STD = 1e-3  # floor on a fitted std: near-identical reference models must not give infinite ratios


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()  # pyright: ignore[reportAttributeAccessIssue].cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _fit(conf: np.ndarray, fix_variance: bool, min_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and std (ddof=1) over reference models; fixed variance pools over examples."""
    mean = conf.mean(axis=1, keepdims=True)
    var = conf.var(axis=1, ddof=1, keepdims=True)
    if fix_variance:
        var = np.full_like(var, var.mean())
    return mean, np.maximum(np.sqrt(var), min_std)


def lira_scores(
    target_conf: ArrayLike,
    in_conf: ArrayLike | None,
    out_conf: ArrayLike,
    *,
    fix_variance: bool = False,
    min_std: float = MIN_STD,
) -> np.ndarray:
    """Per-example LiRA statistic of target model(s); higher means "looks like a member".

    Args:
        target_conf: logit-scaled confidences of the model(s) under attack, [n_examples]
            or [n_examples, n_targets].
        in_conf: [n_examples, K_in] confidences of reference models trained on each example
            (the originals), or None / K_in = 0 for the offline variant.
        out_conf: [n_examples, K_out] confidences of reference models not trained on them
            (the oracles), K_out >= 2.
        fix_variance: use one variance per side, pooled over examples (Carlini et al.
            recommend it when there are few reference models).
        min_std: floor on every fitted standard deviation.

    Returns:
        Same shape as ``target_conf``. Online (K_in >= 2): the Gaussian log likelihood
        ratio log N(c; μ_in, σ_in) − log N(c; μ_out, σ_out) with per-example means and
        stds (ddof=1). Offline (no IN models): the one-sided statistic −log Pr[Z > c],
        Z ~ N(μ_out, σ_out): large when c is improbably high for a non-member.
    """
    target = _to_numpy(target_conf)
    out = _to_numpy(out_conf)
    if target.ndim not in (1, 2):
        raise ValueError(f"target_conf must be [n_examples] or [n_examples, n_targets], got shape {target.shape}.")
    n = target.shape[0]
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"out_conf must be [n_examples={n}, K_out], got shape {out.shape}.")
    if out.shape[1] < 2:
        raise ValueError(f"LiRA needs K_out >= 2 OUT reference models to fit a Gaussian, got {out.shape[1]}.")
    inn = None if in_conf is None else _to_numpy(in_conf)
    if inn is not None and inn.size == 0:
        inn = None
    if inn is not None:
        if inn.ndim != 2 or inn.shape[0] != n:
            raise ValueError(f"in_conf must be [n_examples={n}, K_in], got shape {inn.shape}.")
        if inn.shape[1] < 2:
            raise ValueError(f"LiRA needs K_in >= 2 IN reference models (or none, offline), got {inn.shape[1]}.")
    for name, arr in (("target_conf", target), ("out_conf", out), ("in_conf", inn)):
        if arr is not None and not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values.")

    x = target[:, None] if target.ndim == 1 else target
    mu_out, sd_out = _fit(out, fix_variance, min_std)
    if inn is None:
        score = -stats.norm.logsf(x, loc=mu_out, scale=sd_out)
    else:
        mu_in, sd_in = _fit(inn, fix_variance, min_std)
        score = stats.norm.logpdf(x, loc=mu_in, scale=sd_in) - stats.norm.logpdf(x, loc=mu_out, scale=sd_out)
    return score[:, 0] if target.ndim == 1 else score


def tpr_at_fpr(member_stats: ArrayLike, nonmember_stats: ArrayLike, fpr: float = 0.01) -> float:
    """TPR (fraction) of "statistic >= t ⇒ member" at the given FPR, on the interpolated ROC.

    The empirical ROC is the path through the points of every threshold (tied statistics
    give diagonal segments); between two points it is linear, which a randomised rule
    achieves. At an FPR shared by several points the highest TPR is taken, i.e. the best
    TPR with FPR <= the target. (Carlini et al.'s code takes the last point with FPR
    strictly below the target, which is lower whenever the target falls on a point.)
    """
    pos = _to_numpy(member_stats).reshape(-1)
    neg = _to_numpy(nonmember_stats).reshape(-1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("tpr_at_fpr needs member and non-member statistics.")
    if not 0 <= fpr <= 1:
        raise ValueError(f"fpr must lie in [0, 1], got {fpr}.")
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    fprs, tprs, _ = roc_curve(y, np.concatenate([pos, neg]), drop_intermediate=False)
    i = int(np.searchsorted(fprs, fpr, side="right")) - 1  # last point with FPR <= target (highest TPR)
    if fprs[i] == fpr or i == len(fprs) - 1:
        return float(tprs[i])
    frac = (fpr - fprs[i]) / (fprs[i + 1] - fprs[i])
    return float(tprs[i] + frac * (tprs[i + 1] - tprs[i]))


def lira_attack(
    member_stats: ArrayLike,
    nonmember_stats: ArrayLike,
    *,
    n_reference_in: int | None = None,
    n_reference_out: int | None = None,
) -> dict[str, float | int | None]:
    """ROC AUC and TPR at 1% FPR (both percent) of "higher statistic ⇒ member".

    ``member_stats``: statistics of (model, example) pairs to be flagged (e.g. an unlearned
    model on its forget set); ``nonmember_stats``: the same for held-out oracles. AUC 50 =
    indistinguishable from retraining. The returned dict states the sample sizes and the
    number of IN / OUT reference models the statistics were fitted on (pass them; None
    means not stated), plus ``fpr_resolution`` (percent): 100 / n_nonmembers, the smallest
    FPR step the non-member sample resolves (coarser than 1% => TPR@1% is interpolated).
    """
    pos = _to_numpy(member_stats).reshape(-1)
    neg = _to_numpy(nonmember_stats).reshape(-1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("the LiRA attack needs member and non-member statistics.")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("LiRA statistics contain NaN or infinite values.")
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    auc = float(roc_auc_score(y, np.concatenate([pos, neg])))
    return {
        "auc": auc * 100.0,
        "tpr_at_1pct_fpr": tpr_at_fpr(pos, neg, 0.01) * 100.0,
        "n_members": int(pos.size),
        "n_nonmembers": int(neg.size),
        "fpr_resolution": 100.0 / neg.size,
        "n_reference_in": n_reference_in,
        "n_reference_out": n_reference_out,
    }
