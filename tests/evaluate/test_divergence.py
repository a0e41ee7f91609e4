"""Jensen–Shannon divergence: bounds, hand values, logits vs probabilities, pool averaging."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.evaluate.divergence import js_divergence, js_to_pool


def test_identical_distributions_have_zero_divergence() -> None:
    p = np.random.default_rng(0).dirichlet(np.ones(10), size=20)
    assert np.allclose(js_divergence(p, p), 0, atol=1e-15)


def test_disjoint_supports_reach_ln2() -> None:
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.log(2))
    eye = np.eye(4)
    assert np.allclose(js_divergence(eye, eye[[1, 2, 3, 0]]), np.log(2))


def test_hand_value_and_symmetry() -> None:
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    m = np.array([0.75, 0.25])
    expected = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.log(1 / 0.75)
    assert js_divergence(p, q) == pytest.approx(expected)
    assert js_divergence(q, p) == pytest.approx(expected)


def test_random_pairs_are_bounded_and_logits_agree_with_probabilities() -> None:
    rng = np.random.default_rng(1)
    logits_p, logits_q = rng.normal(0, 4, (200, 10)), rng.normal(0, 4, (200, 10))
    softmax = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
    from_probs = js_divergence(softmax(logits_p), softmax(logits_q))
    from_logits = js_divergence(logits_p, logits_q, logits=True)
    assert from_probs.shape == (200,)
    assert np.all((from_probs >= 0) & (from_probs <= np.log(2)))
    assert np.allclose(from_probs, from_logits, atol=1e-12)
    # extreme logits stay finite and bounded
    extreme = js_divergence(np.array([[1e4, -1e4]]), np.array([[-1e4, 1e4]]), logits=True)
    assert extreme[0] == pytest.approx(np.log(2))


def test_js_to_pool_is_the_mean_over_members_of_the_mean_over_examples() -> None:
    rng = np.random.default_rng(2)
    model = rng.dirichlet(np.ones(5), size=30)
    pool = rng.dirichlet(np.ones(5), size=(4, 30))
    expected = np.mean([js_divergence(model, member).mean() for member in pool])
    assert js_to_pool(model, pool) == pytest.approx(expected)
    assert js_to_pool(pool[0], pool[:1]) == pytest.approx(0.0, abs=1e-15)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        js_divergence(np.array([0.2, 0.2]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="negative"):
        js_divergence(np.array([-0.5, 1.5]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="pool_probs must be"):
        js_to_pool(np.full((3, 2), 0.5), np.full((2, 4, 2), 0.5))
