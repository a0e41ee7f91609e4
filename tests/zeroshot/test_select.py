"""Automatic K_p: the smallest K meeting the rule, found without changing the model."""

from __future__ import annotations

import copy

import pytest
import torch

from expunge.zeroshot import KpRule, auto_kp, fixed_kp, neuron_path, perturb, rank_neurons

from .conftest import class_images


def _rule_holds(model, path, order, k, cls, x_a, other, rule) -> bool:
    edited = perturb(copy.deepcopy(model), path.mask(model, order[:k], cls, "target"), "cut")
    with torch.no_grad():
        logits = edited(torch.cat([x_a, other[0]]))
        base = model(other[0]).argmax(1)
    n = len(x_a)
    rate = float((logits[:n].argmax(1) == cls).float().mean())
    confidence = float(torch.softmax(logits[:n].double(), 1)[:, cls].mean())
    other_acc = float((logits[n:].argmax(1) == other[1]).float().mean())
    base_acc = float((base == other[1]).float().mean())
    max_conf = rule.max_target_confidence if rule.max_target_confidence is not None else 1 / logits.shape[1]
    return rate <= rule.max_target_rate and confidence <= max_conf and other_acc >= base_acc - rule.max_other_drop


@pytest.mark.parametrize("cls", [1, 3])
@pytest.mark.parametrize("rule", [KpRule(), KpRule(max_target_rate=0.25, max_target_confidence=0.5), KpRule(max_other_drop=1.0)])
def test_auto_kp_returns_the_smallest_k_meeting_its_rule(trained_resnet, separable_bundle, cls: int, rule: KpRule) -> None:
    x_a, _ = class_images(separable_bundle.test, cls, 16)
    other = class_images(separable_bundle.test, cls, 16, other=True)
    ranking = rank_neurons(trained_resnet, x_a)
    path = ranking.path
    state = copy.deepcopy(trained_resnet.state_dict())
    selection = auto_kp(trained_resnet, path, ranking.order, cls, x_a, other, rule)
    assert all(torch.equal(v, trained_resnet.state_dict()[k]) for k, v in state.items())  # the scan restores the model
    holds = [k for k in range(1, path.num_neurons + 1) if _rule_holds(trained_resnet, path, ranking.order, k, cls, x_a, other, rule)]
    brute_force = holds[0] if holds else None  # exhaustive check over every K
    assert (selection.k_p if selection.met else None) == brute_force
    if selection.met:
        assert [t["k"] for t in selection.trace] == list(range(1, selection.k_p + 1))


def test_loose_rule_is_met_here(trained_resnet, separable_bundle) -> None:
    """Guards the exhaustive test above against passing only through 'never met'."""
    x_a, _ = class_images(separable_bundle.test, 3, 16)
    ranking = rank_neurons(trained_resnet, x_a)
    assert auto_kp(trained_resnet, ranking.path, ranking.order, 3, x_a, rule=KpRule(max_target_rate=0.25, max_target_confidence=0.5)).met


def test_a_looser_rule_never_needs_more_neurons(trained_resnet, separable_bundle) -> None:
    x_a, _ = class_images(separable_bundle.test, 0, 16)
    ranking = rank_neurons(trained_resnet, x_a)
    strict = auto_kp(trained_resnet, ranking.path, ranking.order, 0, x_a, rule=KpRule())
    loose = auto_kp(trained_resnet, ranking.path, ranking.order, 0, x_a, rule=KpRule(max_target_rate=0.5, max_target_confidence=0.9))
    assert loose.k_p <= strict.k_p


def test_unreachable_rule_reports_failure(trained_mlp, separable_bundle) -> None:
    x_a, _ = class_images(separable_bundle.test, 0, 8)
    path = neuron_path(trained_mlp)
    selection = auto_kp(trained_mlp, path, list(range(path.num_neurons)), 0, x_a, rule=KpRule(max_target_confidence=0.0, max_k=3))
    assert not selection.met and selection.k_p == 3 and "even K=3" in selection.reason


def test_fixed_kp_caps_at_the_ranking_length() -> None:
    assert fixed_kp([3, 1, 2], 2).k_p == 2
    assert fixed_kp([3, 1, 2], 10).k_p == 3
    with pytest.raises(Exception, match="K_p"):
        fixed_kp([1], -1)
