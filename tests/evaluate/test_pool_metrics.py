import numpy as np
import pytest

from expunge.evaluate.divergence import js_divergence, js_to_pool
from expunge.evaluate.epsilon import bucket_points, epsilon_score, example_epsilons, forgetting_quality, logit_confidence, oracle_ceiling
from expunge.evaluate.lira import lira_attack, lira_scores
from expunge.evaluate.stats import summarize, variance_split

N = 16


def test_identical_samples_get_the_top_score():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (30, N))
    eps = example_epsilons(x, x.copy())
    assert np.all(eps == 0)
    assert forgetting_quality(eps, N) == 1.0


def test_perfectly_separated_samples_score_zero():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (20, N))
    assert forgetting_quality(example_epsilons(a, a + 100), N) == 0.0


def test_growing_shift_lowers_the_score_monotonically():
    rng = np.random.default_rng(2)
    oracle = rng.normal(0, 1, (40, N))
    unlearned = rng.normal(0, 1, (40, N))
    scores = [forgetting_quality(example_epsilons(unlearned + s, oracle), N) for s in (0, 0.5, 1, 2, 4, 8)]
    assert all(a >= b for a, b in zip(scores, scores[1:])) and scores[-1] < scores[0]


def test_same_distribution_scores_far_below_one_at_small_n():
    rng = np.random.default_rng(3)
    f = forgetting_quality(example_epsilons(rng.normal(0, 1, (60, N)), rng.normal(0, 1, (60, N))), N)
    assert 0.05 < f < 0.5  # the spec measured about 0.17: report the ceiling beside every score


def test_hand_computed_bucket_points_and_example():
    assert [p for _, p in bucket_points(16)] == [1, 0.5, 0.25, 0.125, 0.0625, 0.03125]  # ceil(log 15) = 3
    assert forgetting_quality(np.array([0.2, 0.7, 2.9, 3.0]), 16) == (1 + 0.5 + 0.03125 + 0) / 4
    # 3 models per side, one model of each side crosses over: the best single threshold has
    # FPR = FNR = 1/3, so ε = log(1 - 1e-5 - 1/3) - log(1/3) = log 2 (minus a hair)
    unlearned = np.array([[0.0, 1.0, 2.5]])
    oracle = np.array([[2.0, 3.0, 4.0]])
    eps = example_epsilons(unlearned, oracle)
    assert eps[0] == pytest.approx(np.log((1 - 1e-5 - 1 / 3) / (1 / 3)), abs=1e-6)


def test_peaky_side_is_capped_and_inputs_are_checked():
    rng = np.random.default_rng(4)
    peaky = np.full((5, N), 0.3) + rng.normal(0, 1e-6, (5, N))
    assert np.all(example_epsilons(peaky, rng.normal(0, 1, (5, N))) == 50)
    with pytest.raises(ValueError, match="same shape"):
        example_epsilons(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        example_epsilons(np.full((2, 4), np.nan), np.zeros((2, 4)))


def test_epsilon_score_multiplies_utility_ratios():
    x = np.random.default_rng(5).normal(0, 1, (10, N))
    s = epsilon_score(x, x, [90.0], [100.0], [80.0], [80.0])
    assert s.forgetting_quality == 1.0 and s.score == pytest.approx(0.9)


def test_oracle_ceiling_of_one_distribution():
    pool = np.random.default_rng(6).normal(0, 1, (50, 2 * N))
    assert 0.05 < oracle_ceiling(pool) < 0.5


def test_logit_confidence_matches_naive_and_stays_finite():
    rng = np.random.default_rng(7)
    logits, y = rng.normal(0, 3, (50, 5)), rng.integers(0, 5, 50)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    naive = np.log(p[np.arange(50), y]) - np.log(1 - p[np.arange(50), y])
    assert np.allclose(logit_confidence(logits, y), naive)
    extreme = logit_confidence(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), np.array([0, 0]))
    assert np.all(np.isfinite(extreme)) and extreme[0] > 1000 and extreme[1] < -1000


def test_lira_separates_in_from_out_and_not_out_from_out():
    rng = np.random.default_rng(8)
    n = 300
    mu_in, mu_out = rng.normal(3, 1, n), rng.normal(0, 1, n)
    in_ref = mu_in[:, None] + rng.normal(0, 0.5, (n, 8))
    out_ref = mu_out[:, None] + rng.normal(0, 0.5, (n, 8))
    members = lira_scores(mu_in + rng.normal(0, 0.5, n), in_ref, out_ref)
    nonmembers = lira_scores(mu_out + rng.normal(0, 0.5, n), in_ref, out_ref)
    more_out = lira_scores(mu_out + rng.normal(0, 0.5, n), in_ref, out_ref)
    assert lira_attack(members, nonmembers)["auc"] > 90
    assert abs(lira_attack(more_out, nonmembers)["auc"] - 50) < 8
    hand = lira_attack(np.array([3.0, 2.0, 1.0]), np.array([0.0] * 99 + [2.5]))
    assert hand["tpr_at_1pct_fpr"] == pytest.approx(100.0)  # the rule ">= 1" has FPR exactly 1% and catches every member


def test_js_divergence_bounds():
    p = np.array([[0.2, 0.8], [1.0, 0.0]])
    assert np.allclose(js_divergence(p, p), 0)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.log(2))
    assert js_to_pool(p, np.stack([p, p])) == pytest.approx(0.0)


def test_summarize_and_variance_split():
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2 and s["std"] == 1 and s["ci95_low"] == pytest.approx(2 - 4.302652729 / np.sqrt(3), rel=1e-6)
    rng = np.random.default_rng(9)
    values = rng.normal(0, 2.0, (40, 1)) + rng.normal(0, 1.0, (40, 30))  # training sd 2, unlearning sd 1
    split = variance_split(values)
    assert split["training_var"] == pytest.approx(4.0, rel=0.35)
    assert split["unlearning_var"] == pytest.approx(1.0, rel=0.15)
