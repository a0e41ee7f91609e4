"""The paper's two MIA variants behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.zeroshot.evaluate import fit_transfer_attack, loss_attack_advantage


def test_loss_attack_advantage_separates_only_different_losses() -> None:
    rng = np.random.default_rng(0)
    same = loss_attack_advantage(rng.exponential(1.0, 400), rng.exponential(1.0, 400))
    apart = loss_attack_advantage(rng.exponential(0.01, 400), rng.exponential(2.0, 400))
    assert same < 8 and apart > 35


def test_transfer_attack_calls_confident_vectors_members() -> None:
    rng = np.random.default_rng(0)
    members = np.tile([0.98, 0.01, 0.01], (200, 1)) + rng.normal(0, 0.005, (200, 3))
    nonmembers = np.tile([0.5, 0.3, 0.2], (200, 1)) + rng.normal(0, 0.05, (200, 3))
    attack = fit_transfer_attack(members, nonmembers)
    assert attack.nonmember_rate(members) < 5
    assert attack.nonmember_rate(np.tile([0.05, 0.9, 0.05], (50, 1))) == pytest.approx(100.0)  # forgotten: looks unseen


def test_feature_probe_sees_what_a_target_row_cut_leaves_behind(trained_mlp, separable_bundle) -> None:
    """Cutting only the class's output weights hides it from the predictions, not from the features."""
    import torch

    from expunge.zeroshot import ZeroShotConfig, zero_shot_unlearn
    from expunge.zeroshot.evaluate import RemovalEvaluator, classifier_features

    from .conftest import class_images

    bundle = separable_bundle
    rest = np.arange(len(bundle.test))
    evaluator = RemovalEvaluator(bundle.train, np.arange(len(bundle.train)), bundle.test, rest, 1, torch.device("cpu"), probe_per_class=60)
    evaluator.fit_attack(trained_mlp)
    before = evaluator(trained_mlp)
    x_a, _ = class_images(bundle.test, 1, 16)
    result = zero_shot_unlearn(trained_mlp, 1, x_a, class_images(bundle.test, 1, 16, other=True), ZeroShotConfig(escalate=False))
    after = evaluator(result.model)
    assert result.path == "target-row" and after["target_acc_test"] < 5 < 90 < before["target_acc_test"]
    x = bundle.test.inputs[:20]
    np.testing.assert_array_equal(classifier_features(result.model, x, torch.device("cpu")), classifier_features(trained_mlp, x, torch.device("cpu")))
    assert before["probe_target_acc"] > 90 and after["probe_target_acc"] == before["probe_target_acc"]


def test_feature_probe_is_at_chance_on_noise_features() -> None:
    from expunge.zeroshot.evaluate import feature_probe_accuracy

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 100)
    score = feature_probe_accuracy(rng.normal(size=(400, 16)), labels, rng.normal(size=(400, 16)), 2)
    assert 10 < score < 40  # chance is 25%
