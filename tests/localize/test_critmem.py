"""CritMem: per-example channel removal until the prediction flips (issue 3)."""

from __future__ import annotations

import copy

import pytest
import torch

from expunge.errors import ConfigError
from expunge.localize import (
    LOCALIZERS,
    critmem,  # noqa: F401  (register)
)

from .localize_toy import batches, cross_entropy, trained


def fit(arch: str = "mlp", **options):
    model, bundle, split = trained(arch)
    localizer = LOCALIZERS.get("critmem")(**{"max_steps_per_example": 30, "max_examples": 20, **options})
    return model, bundle, split, localizer.fit(model, cross_entropy, batches(bundle, split.forget))


@pytest.mark.parametrize("arch, per_step", [("mlp", 1), ("resnet", 2)])
def test_critmem_flips_the_predictions_it_claims_to(arch, per_step):
    model, bundle, split, scores = fit(arch, channels_per_step=per_step)
    claimed = [r for r in scores.records if r.flipped]
    assert len(claimed) >= len(scores.records) // 2
    for record in scores.records:
        assert len(record.channels) == record.steps * per_step
        ablated = copy.deepcopy(model)
        params = dict(ablated.named_parameters())
        with torch.no_grad():
            for name, row in record.channels:
                params[name][row] = 0.0
            prediction = int(ablated(bundle.train.inputs[record.index : record.index + 1]).argmax(1))
        assert (prediction != record.prediction) == record.flipped, record


def test_critmem_restores_the_weights():
    model, bundle, split = trained("resnet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    LOCALIZERS.get("critmem")(max_steps_per_example=5, max_examples=5).fit(model, cross_entropy, batches(bundle, split.forget))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_the_union_of_zeroed_rows_is_the_natural_mask_and_caps_alpha():
    model, bundle, split, scores = fit()
    union = {n: torch.zeros_like(t) for n, t in scores.union.entries.items()}
    for record in scores.records:
        for name, row in record.channels:
            union[name][row] = True
    assert all(torch.equal(union[n], scores.union[n]) for n in union)
    natural = scores.union.num_selected()
    assert scores.natural_fraction == pytest.approx(natural / scores.union.num_total())
    small = scores.mask(scores.natural_fraction / 2)
    assert small.num_selected() == int(scores.natural_fraction / 2 * small.num_total())
    assert all(bool((small[n] <= scores.union[n]).all()) for n in small.names())
    large = scores.mask(min(1.0, 3 * scores.natural_fraction))
    assert large.num_selected() == natural  # never more than the union with fill="none"


def test_weighted_grad_fill_gives_the_exact_budget_and_keeps_the_union_first():
    model, bundle, split, scores = fit(fill="weighted_grad")
    alpha = min(1.0, 2 * scores.natural_fraction)
    mask = scores.mask(alpha)
    assert mask.num_selected() == int(alpha * mask.num_total())
    assert all(bool((scores.union[n] <= mask[n]).all()) for n in mask.names())


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="channel_score"):
        LOCALIZERS.get("critmem")(channel_score="max")
    with pytest.raises(ConfigError, match="fill"):
        LOCALIZERS.get("critmem")(fill="random")
