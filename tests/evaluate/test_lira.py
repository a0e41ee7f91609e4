"""LiRA-style per-example attack: separation, no-signal calibration, hand-computed ROC points."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from expunge.evaluate.lira import lira_attack, lira_scores, tpr_at_fpr


def _pools(rng: np.random.Generator, n: int, k: int, gap: float) -> tuple[np.ndarray, ...]:
    """Per-example IN / OUT means `gap` apart, reference models scattered with sd 0.5."""
    mu_out = rng.normal(0, 1, n)
    mu_in = mu_out + gap
    in_ref = mu_in[:, None] + rng.normal(0, 0.5, (n, k))
    out_ref = mu_out[:, None] + rng.normal(0, 0.5, (n, k))
    return mu_in, mu_out, in_ref, out_ref


def test_members_from_in_gaussian_are_separated_from_out() -> None:
    rng = np.random.default_rng(0)
    n = 400
    mu_in, mu_out, in_ref, out_ref = _pools(rng, n, 8, gap=1.5)
    members = lira_scores(mu_in + rng.normal(0, 0.5, n), in_ref, out_ref)
    nonmembers = lira_scores(mu_out + rng.normal(0, 0.5, n), in_ref, out_ref)
    result = lira_attack(members, nonmembers, n_reference_in=8, n_reference_out=8)
    assert result["auc"] > 90  # percent
    assert result["tpr_at_1pct_fpr"] > 10
    assert result["n_reference_in"] == 8 and result["n_reference_out"] == 8
    assert result["n_members"] == n and result["n_nonmembers"] == n
    assert result["fpr_resolution"] == pytest.approx(100 / n)
    # the per-example calibration matters: one global threshold on raw confidence is weaker
    raw = lira_attack(mu_in + rng.normal(0, 0.5, n), mu_out + rng.normal(0, 0.5, n))
    assert result["auc"] > raw["auc"]


def test_identical_in_and_out_give_chance() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    _, mu_out, _, out_ref = _pools(rng, n, 8, gap=0.0)
    in_ref = mu_out[:, None] + rng.normal(0, 0.5, (n, 8))  # IN drawn from the OUT Gaussian
    a = lira_scores(mu_out + rng.normal(0, 0.5, n), in_ref, out_ref)
    b = lira_scores(mu_out + rng.normal(0, 0.5, n), in_ref, out_ref)
    assert abs(lira_attack(a, b)["auc"] - 50) < 4


def test_offline_variant_is_one_sided_against_out() -> None:
    rng = np.random.default_rng(2)
    n = 300
    mu_in, mu_out, _, out_ref = _pools(rng, n, 16, gap=1.5)
    members = lira_scores(mu_in + rng.normal(0, 0.5, n), None, out_ref)
    nonmembers = lira_scores(mu_out + rng.normal(0, 0.5, n), np.empty((n, 0)), out_ref)
    assert lira_attack(members, nonmembers)["auc"] > 90
    # the statistic is -log Pr[Z > c] under the fitted OUT Gaussian
    one = lira_scores(np.array([1.0]), None, np.array([[0.0, 2.0]]))
    assert one[0] == pytest.approx(-stats.norm.logsf(1.0, loc=1.0, scale=np.sqrt(2.0)))


def test_scores_are_the_gaussian_log_likelihood_ratio() -> None:
    in_ref = np.array([[2.0, 4.0]])  # mean 3, sd (ddof=1) √2
    out_ref = np.array([[-1.0, 1.0]])  # mean 0, sd √2
    x = np.array([[0.5, 3.0]])  # two target models
    expected = stats.norm.logpdf(x, 3, np.sqrt(2)) - stats.norm.logpdf(x, 0, np.sqrt(2))
    got = lira_scores(x, in_ref, out_ref)
    assert got.shape == (1, 2) and np.allclose(got, expected)
    assert got[0, 1] > 0 > got[0, 0]
    # equal variances: the ratio is linear in the confidence, so fixing the variance changes nothing here
    assert np.allclose(lira_scores(x, in_ref, out_ref, fix_variance=True), expected)


def test_tpr_at_one_percent_fpr_by_hand() -> None:
    # 50 non-members: FPR moves in steps of 2%. ROC points: (0, 1/3) [t=3], (2%, 1/3) [t=2.5],
    # (2%, 2/3), (2%, 1), (100%, 1). At 1% FPR the path runs from (0, 1/3) to (2%, 1/3).
    members, nonmembers = np.array([3.0, 2.0, 1.0]), np.array([0.0] * 49 + [2.5])
    assert lira_attack(members, nonmembers)["tpr_at_1pct_fpr"] == pytest.approx(100 / 3)
    # a tie between a member and a non-member is a diagonal segment: (0, 1/4) -> (2%, 1/2),
    # interpolated at 1% FPR: 3/8
    assert tpr_at_fpr(np.array([3.0, 2.0, 1.0, 0.5]), np.array([0.0] * 49 + [2.0]), 0.01) == pytest.approx(0.375)
    # FPR exactly on a point (100 non-members): the best TPR with FPR <= 1% is every member
    assert tpr_at_fpr(members, np.array([0.0] * 99 + [2.5]), 0.01) == pytest.approx(1.0)
    assert tpr_at_fpr(members, np.array([0.0] * 99 + [2.5]), 0.0) == pytest.approx(1 / 3)


def test_inputs_are_checked() -> None:
    conf = np.zeros(3)
    with pytest.raises(ValueError, match="K_out >= 2"):
        lira_scores(conf, None, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="K_in >= 2"):
        lira_scores(conf, np.zeros((3, 1)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_examples=3"):
        lira_scores(conf, None, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        lira_scores(np.array([np.nan, 0, 0]), None, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="member and non-member"):
        lira_attack(np.array([]), np.array([1.0]))
    # near-identical reference models: the std floor keeps the statistic finite
    assert np.all(np.isfinite(lira_scores(np.ones(3), np.ones((3, 4)), np.zeros((3, 4)))))
