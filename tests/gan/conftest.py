"""Tiny MLP GANs trained once per test session (a few seconds each): two 2-D Gaussian modes for class
unlearning, 8x8 synthetic images (prototype + noise, so single items can be memorised) for items."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import expunge.gan  # noqa: F401  (registrations)
from expunge.data import build_split, load_dataset
from expunge.family import FAMILIES, FamilyData
from expunge.train import Recipe
from expunge.unlearn.base import UnlearningTask

OPTIONS = {"arch": "mlp", "latent_dim": 2, "width": 64, "beta1": 0.0, "reference_epochs": 3}
RECIPE = Recipe(epochs=40, lr=1e-3, batch_size=64, seed=0)
CPU = torch.device("cpu")


def config(kind: str = "class", classes: list[int] | None = None, **model_options: object) -> SimpleNamespace:
    options = {**OPTIONS, **model_options}
    return SimpleNamespace(model=SimpleNamespace(options=options), split=SimpleNamespace(kind=kind, classes=classes), cache_dir=None, quiet=True)


class Setting:
    def __init__(self, kind: str, images: bool = False, **options: object) -> None:
        if images:
            self.bundle = load_dataset("synthetic", num_train=400, num_test=200, num_classes=4, image_size=8, seed=0)
        else:
            self.bundle = load_dataset("gan_modes", num_train=512, num_test=256, seed=0)
        self.split = build_split(kind, self.bundle.train_targets(), len(self.bundle.test), seed=0, validation_fraction=0.1, **options)
        self.config = config(kind, options.get("classes"), **({"latent_dim": 8} if images else {}))  # type: ignore[arg-type]
        self.family = FAMILIES.get("gan")()
        self.data = FamilyData(self.bundle, self.split)

    def fresh(self, seed: int = 0):
        return self.family.build(self.config, self.data, seed, CPU)

    def train(self, indices: np.ndarray, seed: int = 0):
        gan = self.fresh(seed)
        self.family.fit(gan, self.config, self.data, indices, Recipe(**{**RECIPE.to_dict(), "seed": seed}), CPU, False, "test")
        return gan

    def task(self, seed: int = 0, train_set=None, split=None, forget_classes=None) -> UnlearningTask:
        classes = forget_classes if forget_classes is not None else self.config.split.classes
        return UnlearningTask(train_set or self.bundle.train, split or self.split, CPU, self.fresh, RECIPE, seed, progress=False, forget_classes=classes)


@pytest.fixture(scope="session")
def class_setting():
    s = Setting("class", classes=[1])
    s.original = s.train(np.union1d(s.split.forget, s.split.retain))
    return s


@pytest.fixture(scope="session")
def item_setting():
    s = Setting("items", images=True, count=32)
    s.original = s.train(np.union1d(s.split.forget, s.split.retain))
    return s


@pytest.fixture
def original(request):
    def get(setting):
        return copy.deepcopy(setting.original)

    return get
