"""Tiny trained models on synthetic data for the zero-shot tests (trained once per session)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from expunge.data import load_dataset
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train


@pytest.fixture(scope="session")
def separable_bundle():
    """4 well-separated classes of 8x8 images."""
    return load_dataset("synthetic", num_train=480, num_test=240, num_classes=4, image_size=8, noise=0.5, separation=1.5, seed=3)


def _trained(name: str, bundle, **options) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name, bundle.input_shape, bundle.num_classes, seed=0, **options)
    idx = np.arange(len(bundle.train))
    train(model, epoch_batches(bundle.train, idx, 32, 0), Recipe(epochs=6, lr=0.05, batch_size=32), torch.device("cpu"), progress=False)
    return model.eval()


@pytest.fixture(scope="session")
def _trained_resnet(separable_bundle):
    return _trained("resnet_small", separable_bundle, width=8, stem_stride=1)


@pytest.fixture(scope="session")
def _trained_mlp(separable_bundle):
    return _trained("mlp", separable_bundle, hidden=(32, 16))


@pytest.fixture
def trained_resnet(_trained_resnet):
    return copy.deepcopy(_trained_resnet)


@pytest.fixture
def trained_mlp(_trained_mlp):
    return copy.deepcopy(_trained_mlp)


def class_images(dataset, cls: int, n: int | None = None, other: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    keep = (dataset.targets != cls) if other else (dataset.targets == cls)
    idx = torch.where(keep)[0][:n]
    return dataset.inputs[idx], dataset.targets[idx]


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.eval()(x).argmax(1) == y).float().mean())
