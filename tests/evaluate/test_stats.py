"""Seed statistics: the t interval by hand and the ANOVA variance split on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.evaluate.stats import summarize, variance_split


def test_summarize_by_hand() -> None:
    s = summarize([1.0, 2.0, 3.0])
    t975_df2 = 0.95 / np.sqrt(2 * 0.975 * 0.025)  # Student t quantile, 2 dof: (2p − 1) / √(2p(1 − p))
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3
    assert s["ci95_low"] == pytest.approx(2 - t975_df2 / np.sqrt(3), rel=1e-12)
    assert s["ci95_high"] == pytest.approx(2 + t975_df2 / np.sqrt(3), rel=1e-12)
    s = summarize(np.array([10.0, 14.0]))  # std √8; 1 dof is Cauchy: t(0.975) = tan(0.475 π)
    assert s["std"] == pytest.approx(np.sqrt(8)) and s["ci95_high"] == pytest.approx(12 + np.tan(0.475 * np.pi) * 2, rel=1e-12)


def test_summarize_edge_cases() -> None:
    one = summarize([5.0])
    assert one["mean"] == 5.0 and one["n"] == 1 and np.isnan(one["std"]) and np.isnan(one["ci95_low"])
    with pytest.raises(ValueError, match="at least one"):
        summarize([])
    with pytest.raises(ValueError, match="NaN"):
        summarize([1.0, float("nan")])


def test_variance_split_by_hand() -> None:
    v = np.array([[1.0, 3.0], [5.0, 7.0]])  # row means 2, 6; grand mean 4
    split = variance_split(v)
    assert split["unlearning_var"] == pytest.approx(2.0)  # (1 + 1 + 1 + 1) / (2 · 1)
    assert split["ms_between"] == pytest.approx(16.0)  # 2 · (4 + 4) / 1
    assert split["training_var"] == pytest.approx((16 - 2) / 2)
    assert split["total_var"] == pytest.approx(9.0)


def test_variance_split_recovers_known_components() -> None:
    rng = np.random.default_rng(9)
    a, k = 200, 10
    values = 3.0 + rng.normal(0, 2.0, (a, 1)) + rng.normal(0, 1.0, (a, k))  # σ²_train 4, σ²_unlearn 1
    split = variance_split(values)
    assert split["training_var"] == pytest.approx(4.0, rel=0.25)
    assert split["unlearning_var"] == pytest.approx(1.0, rel=0.1)
    assert split["total_var"] == pytest.approx(5.0, rel=0.25)
    assert split["n_originals"] == a and split["n_unlearning_seeds"] == k


def test_variance_split_clips_negative_training_variance() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1.0, (3, 50))  # no training effect: the raw estimate is often < 0
    values -= values.mean(axis=1, keepdims=True)  # force identical row means: MS_between = 0
    split = variance_split(values)
    assert split["training_var"] == 0.0 and split["unlearning_var"] > 0
    with pytest.raises(ValueError, match="n_originals >= 2"):
        variance_split(np.zeros((1, 5)))
