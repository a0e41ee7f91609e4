"""Automatic K_p: the smallest K meeting the rule, found without changing the model."""

from __future__ import annotations

import copy

import pytest
import torch

from expunge.zeroshot import KpRule, auto_kp, fixed_kp, neuron_path, perturb, rank_neurons
from expunge.zeroshot.select import closed_form_logits

from .conftest import class_images


def _rule_holds(model, path, order, k, cls, x_a, other, rule, cut_in=True) -> bool:
    edited = perturb(copy.deepcopy(model), path.mask(model, order[:k], cls, "target", include_in=cut_in), "cut")
    with torch.no_grad():
        logits = edited(torch.cat([x_a, other[0]]))
        base = model(other[0]).argmax(1)
    n = len(x_a)
    rate = float((logits[:n].argmax(1) == cls).float().mean())
    probs = torch.softmax(logits[:n].double(), 1)[:, cls]
    confidence = float(probs.max() if rule.confidence == "max" else probs.mean())
    other_acc = float((logits[n:].argmax(1) == other[1]).float().mean())
    base_acc = float((base == other[1]).float().mean())
    max_conf = rule.max_target_confidence if rule.max_target_confidence is not None else 1 / logits.shape[1]
    return rate <= rule.max_target_rate and confidence <= max_conf and other_acc >= base_acc - rule.max_other_drop


RULES = [KpRule(), KpRule(confidence="mean"), KpRule(max_target_rate=0.25, max_target_confidence=0.5), KpRule(max_other_drop=1.0)]


@pytest.mark.parametrize("cut_in", [True, False], ids=["scan", "closed-form"])
@pytest.mark.parametrize("cls", [1, 3])
@pytest.mark.parametrize("rule", RULES)
def test_auto_kp_returns_the_smallest_k_meeting_its_rule(trained_resnet, separable_bundle, cls: int, rule: KpRule, cut_in: bool) -> None:
    x_a, _ = class_images(separable_bundle.test, cls, 16)
    other = class_images(separable_bundle.test, cls, 16, other=True)
    ranking = rank_neurons(trained_resnet, x_a)
    path = ranking.path
    state = copy.deepcopy(trained_resnet.state_dict())
    selection = auto_kp(trained_resnet, path, ranking.order, cls, x_a, other, rule, cut_in=cut_in)
    assert all(torch.equal(v, trained_resnet.state_dict()[k]) for k, v in state.items())  # the scan restores the model
    holds = [k for k in range(1, path.num_neurons + 1) if _rule_holds(trained_resnet, path, ranking.order, k, cls, x_a, other, rule, cut_in)]
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
    assert not selection.met and 1 <= selection.k_p <= 3 and "even K=3" in selection.reason
    lowest = min(selection.trace, key=lambda r: (r["target_confidence"], r["k"]))
    assert selection.k_p == lowest["k"]  # the fallback is the K that got the class furthest down


def test_closed_form_logits_equal_the_edited_model(trained_resnet, separable_bundle) -> None:
    """The cumulative-sum shortcut must predict exactly what cutting the classifier columns does."""
    x_a, _ = class_images(separable_bundle.test, 2, 16)
    ranking = rank_neurons(trained_resnet, x_a)
    path = ranking.path
    for scope in ("target", "all"):
        _, stream = closed_form_logits(trained_resnet, path, ranking.order, 2, x_a, scope, 12, chunk_elements=100)
        for k, logits in stream:
            edited = perturb(copy.deepcopy(trained_resnet), path.mask(trained_resnet, ranking.order[:k], 2, scope, include_in=False), "cut")
            with torch.no_grad():
                torch.testing.assert_close(logits, edited(x_a), rtol=1e-4, atol=1e-4)


def test_fixed_kp_caps_at_the_ranking_length() -> None:
    assert fixed_kp([3, 1, 2], 2).k_p == 2
    assert fixed_kp([3, 1, 2], 10).k_p == 3
    with pytest.raises(Exception, match="K_p"):
        fixed_kp([1], -1)
