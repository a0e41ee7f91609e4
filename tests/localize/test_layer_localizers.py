"""Deepest / Shallowest layer masks and the random-mask control (issue 3)."""

from __future__ import annotations

import pytest
import torch

from expunge.localize import (
    LOCALIZERS,
    layers,  # noqa: F401  (register deepest/shallowest)
    random_like,
)
from expunge.localize.layers import layer_groups

from .localize_toy import batches, cross_entropy, trained


def budget_for(model: torch.nn.Module, count: int) -> float:
    """An alpha whose floor(alpha·N) is exactly ``count`` (robust to float rounding)."""
    total = sum(p.numel() for p in model.parameters())
    alpha = (count + 0.5) / total
    assert int(alpha * total) == count
    return alpha


def selected_names(mask) -> set[str]:
    return {n for n, t in mask.entries.items() if bool(t.any())}


@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_deepest_at_the_last_layers_size_selects_exactly_that_layer(arch):
    model, bundle, split = trained(arch)
    last = layer_groups(model)[-1]
    params = dict(model.named_parameters())
    size = sum(params[n].numel() for n in last)
    scores = LOCALIZERS.get("deepest")().fit(model, cross_entropy, batches(bundle, split.forget))
    mask = scores.mask(budget_for(model, size))
    assert selected_names(mask) == set(last)
    assert all(bool(mask[n].all()) for n in last)
    assert mask.num_selected() == size


@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_shallowest_at_the_first_layers_size_selects_exactly_that_layer(arch):
    model, bundle, split = trained(arch)
    first = layer_groups(model)[0]
    params = dict(model.named_parameters())
    size = sum(params[n].numel() for n in first)
    mask = LOCALIZERS.get("shallowest")().fit(model, cross_entropy, []).mask(budget_for(model, size))
    assert selected_names(mask) == set(first)
    assert mask.num_selected() == size


def test_deepest_fills_the_boundary_layer_by_whole_rows():
    model, bundle, split = trained("mlp")
    # MLP layers: hidden.0 (64->32), fc (32->4). Budget: all of fc plus 3.5 rows of hidden.0.weight.
    fc = 32 * 4 + 4
    mask = LOCALIZERS.get("deepest")().fit(model, cross_entropy, []).mask(budget_for(model, fc + 3 * 64 + 32))
    weight = mask["hidden.0.weight"]
    assert weight[:3].all() and weight[3, :32].all() and not weight[3, 32:].any() and not weight[4:].any()
    assert not mask["hidden.0.bias"].any()


def test_deepest_grows_monotonically_from_the_output():
    model, *_ = trained("resnet")
    scores = LOCALIZERS.get("deepest")().fit(model, cross_entropy, [])
    previous = None
    for alpha in (0.05, 0.2, 0.5, 0.9):
        mask = scores.mask(alpha)
        assert mask.num_selected() == int(alpha * mask.num_total())
        if previous is not None:
            assert all(bool((previous[n] <= mask[n]).all()) for n in mask.names())
        previous = mask
    assert bool(previous["fc.weight"].all()) and not bool(previous["conv1.weight"].all())


def test_layer_localizers_ignore_the_data():
    model, bundle, split = trained("mlp")
    a = LOCALIZERS.get("shallowest")().fit(model, cross_entropy, batches(bundle, split.forget)).mask(0.3)
    b = LOCALIZERS.get("shallowest")().fit(model, cross_entropy, batches(bundle, split.retain)).mask(0.3)
    assert all(torch.equal(a[n], b[n]) for n in a.names())


@pytest.mark.parametrize("seed", [0, 1])
def test_random_mask_control_keeps_per_layer_counts(seed):
    model, bundle, split = trained("resnet")
    real = LOCALIZERS.get("del")().fit(model, cross_entropy, batches(bundle, split.forget)).mask(0.3)
    control = random_like(real, seed)
    assert control.layer_counts() == real.layer_counts()
    assert any(not torch.equal(control[n], real[n]) for n in real.names())
    scrambled = LOCALIZERS.get("random")(seed=seed).fit(model, cross_entropy, batches(bundle, split.forget)).mask(0.3)
    assert scrambled.layer_counts() == real.layer_counts()
