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
