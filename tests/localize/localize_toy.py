"""A trained tiny model and its forget data, shared by the localizer tests of issue 3."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from expunge.data import build_split, load_dataset
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train

BUILDERS = {
    "mlp": lambda: build_model("mlp", (1, 8, 8), 4, seed=0, hidden=(32,)),
    "resnet": lambda: build_model("resnet_small", (1, 8, 8), 4, seed=0, width=4),
}


@functools.cache
def _trained(arch: str) -> tuple[dict[str, torch.Tensor], object, object]:
    torch.set_num_threads(1)
    bundle = load_dataset("synthetic", num_train=400, num_test=100, num_classes=4, image_size=8, noise=4.0, seed=0)
    split = build_split("iid", bundle.train_targets(), len(bundle.test), seed=0, fraction=0.1, validation_fraction=0.0)
    model = BUILDERS[arch]()
    pool = np.union1d(split.forget, split.retain)
    train(model, epoch_batches(bundle.train, pool, 32, 0), Recipe(epochs=8, lr=0.05, batch_size=32), torch.device("cpu"), progress=False)
    return {k: v.clone() for k, v in model.state_dict().items()}, bundle, split


def trained(arch: str = "mlp") -> tuple[nn.Module, object, object]:
    """(a fresh copy of the trained model, the dataset bundle, the split)."""
    state, bundle, split = _trained(arch)
    model = BUILDERS[arch]()
    model.load_state_dict(state)
    return model.eval(), bundle, split


def batches(bundle, indices, batch_size: int = 64):
    return epoch_batches(bundle.train, indices, batch_size, 0)(0)


def cross_entropy(model: nn.Module, batch) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0]), batch[1])
