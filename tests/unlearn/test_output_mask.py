"""output_mask: the target never wins, no other logit changes, and bad tasks fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from expunge.data.base import IndexedTensorDataset
from expunge.data.splits import ForgetSplit
from expunge.errors import ConfigError
from expunge.models import build_model
from expunge.train import Recipe
from expunge.unlearn import UNLEARNERS, UnlearningTask


def make_task(classes: list[int] | None, **extra) -> UnlearningTask:
    ds = IndexedTensorDataset(torch.randn(20, 1, 8, 8), torch.arange(20) % 4)
    split = ForgetSplit(np.arange(5), np.arange(5, 20), np.array([], dtype=np.int64), np.arange(4), 20, 4)
    return UnlearningTask(ds, split, torch.device("cpu"), lambda s: None, Recipe(), forget_classes=classes, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet_small"])
def test_target_never_wins_and_other_logits_unchanged(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, (1, 8, 8), 4, seed=0).eval()
    x = torch.randn(256, 1, 8, 8) * 5
    before = model(x).detach()
    before[:, 2] = before.max() + 100  # even where the target used to win by a mile
    out = UNLEARNERS.get("output_mask")().unlearn(model, make_task([2])).eval()
    after = out(x).detach()
    assert not bool((after.argmax(1) == 2).any())
    keep = [0, 1, 3]
    assert torch.equal(after[:, keep], model(x).detach()[:, keep])
    assert torch.allclose(after[:, keep], build_model(name, (1, 8, 8), 4, seed=0).eval()(x).detach()[:, keep])
    assert bool((after[:, 2] <= -1e4 + 1e-3).all())


def test_rejects_missing_multiple_and_absent_classes() -> None:
    model = build_model("mlp", (1, 8, 8), 4, seed=0)
    unlearner = UNLEARNERS.get("output_mask")()
    with pytest.raises(ConfigError, match="split.kind=class"):
        unlearner.unlearn(model, make_task(None))
    with pytest.raises(ConfigError, match="exactly one class"):
        unlearner.unlearn(model, make_task([1, 2]))
    with pytest.raises(ConfigError, match="not an output of the model"):
        unlearner.unlearn(model, make_task([7]))
