"""localizer_options.batch_size: validated, used by the runner's batches, and (for the gradient localizers) mask-neutral."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from expunge.data.base import IndexedTensorDataset
from expunge.errors import ConfigError
from expunge.experiments.config import MethodConfig, validate_method
from expunge.experiments.localization import localize
from expunge.seeds import Seeds
from expunge.train import cross_entropy_loss


def tiny_context() -> SimpleNamespace:
    """What ``localize`` reads of a Context: the split, the training set, the seeds and the family's loss."""
    g = torch.Generator().manual_seed(0)
    data = IndexedTensorDataset(torch.randn(203, 6, generator=g), torch.randint(0, 3, (203,), generator=g))
    split = SimpleNamespace(forget=np.arange(0, 61), retain=np.arange(61, 203))  # 61 and 203 examples: uneven last batches
    return SimpleNamespace(split=split, bundle=SimpleNamespace(train=data), seeds=Seeds(), family=SimpleNamespace(loss=cross_entropy_loss))


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).eval()


@pytest.mark.parametrize(("localizer", "options"), [("del", {}), ("salloc", {}), ("gradient", {"data_source": "train", "criterion": "grad"})])
def test_the_mask_is_the_same_for_any_batch_size(model, localizer, options):
    ctx = tiny_context()
    masks = []
    for batch_size in (1, 7, 64, 500):
        method = MethodConfig(name="finetune", localizer=localizer, localizer_options={**options, "batch_size": batch_size}, alpha=0.3)
        validate_method(method, "methods.0")
        masks.append(localize(ctx, method, model, 0))  # type: ignore[arg-type]
    assert 0 < masks[0].fraction() < 1
    for other in masks[1:]:
        assert all(torch.equal(masks[0][n], other[n]) for n in masks[0].names())


def test_the_runner_uses_the_option(model, monkeypatch):
    import expunge.experiments.localization as loc

    seen: list[int] = []
    original = loc.localizer_batches
    monkeypatch.setattr(loc, "localizer_batches", lambda ctx, source, seed, batch_size=128: seen.append(batch_size) or original(ctx, source, seed, batch_size))
    loc.localize(tiny_context(), MethodConfig(name="finetune", localizer="ssd_importance", localizer_options={"batch_size": 32}, alpha=0.2), model, 0)  # type: ignore[arg-type]
    loc.localize(tiny_context(), MethodConfig(name="finetune", localizer="del", alpha=0.2), model, 0)  # type: ignore[arg-type]
    assert seen == [32, 32, 128]  # ssd: forget and reference batches; del: the default


@pytest.mark.parametrize("bad", [0, -3, 2.5, "64", True])
def test_a_bad_batch_size_is_a_config_error_naming_the_key(bad):
    method = MethodConfig(name="finetune", localizer="del", localizer_options={"batch_size": bad}, alpha=0.3)
    with pytest.raises(ConfigError, match="localizer_options"):
        validate_method(method, "methods.0")
