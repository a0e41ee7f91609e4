"""SSD-style importance localizer: I_F / (I_D + eps) from two datasets (issue 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from expunge.errors import ConfigError
from expunge.localize import (
    LOCALIZERS,
    ssd_importance,  # noqa: F401  (register)
)
from expunge.localize.ssd_importance import diagonal_fisher

from .localize_toy import batches, cross_entropy, trained


def test_scores_are_the_fisher_ratio_of_forget_to_train():
    model, bundle, split = trained("mlp")
    pool = np.union1d(split.forget, split.retain)
    localizer = LOCALIZERS.get("ssd_importance")(eps=1e-12)
    assert localizer.data_source == "forget" and localizer.reference_source == "train"
    scores = localizer.fit(model, cross_entropy, batches(bundle, split.forget), reference=batches(bundle, pool))
    i_f = diagonal_fisher(model, cross_entropy, batches(bundle, split.forget))
    i_d = diagonal_fisher(model, cross_entropy, batches(bundle, pool))
    for name, value in scores.values.items():
        assert torch.allclose(value, i_f[name] / (i_d[name] + 1e-12), rtol=1e-5)


def test_a_cut_at_the_ssd_threshold_is_what_ssd_would_dampen():
    model, bundle, split = trained("resnet")
    pool = np.union1d(split.forget, split.retain)
    scores = LOCALIZERS.get("ssd_importance")(eps=0.0).fit(model, cross_entropy, batches(bundle, split.forget), reference=batches(bundle, pool))
    threshold = 5.0
    count = sum(int((v > threshold).sum()) for v in scores.values.values())
    total = sum(v.numel() for v in scores.values.values())
    mask = scores.mask((count + 0.5) / total)
    for name, value in scores.values.items():
        assert torch.equal(mask[name], value > threshold), name


def test_fisher_leaves_the_weights_and_mode_alone():
    model, bundle, split = trained("resnet")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diagonal_fisher(model, cross_entropy, batches(bundle, split.forget))
    assert model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_missing_reference_data_is_a_clear_error():
    model, bundle, split = trained("mlp")
    with pytest.raises(ConfigError, match="reference"):
        LOCALIZERS.get("ssd_importance")().fit(model, cross_entropy, batches(bundle, split.forget))
