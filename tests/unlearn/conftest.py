"""Tiny synthetic unlearning problems shared by the algorithm tests (trained once per session)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from expunge.data import build_split, load_dataset
from expunge.data.base import DatasetBundle
from expunge.data.splits import ForgetSplit
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn.base import UnlearningTask

CPU = torch.device("cpu")
ARCHS: dict[str, Callable[[int], nn.Module]] = {
    "mlp": lambda seed: build_model("mlp", (1, 8, 8), 4, seed=seed, hidden=(32,)),
    "resnet": lambda seed: build_model("resnet_small", (1, 8, 8), 4, seed=seed, width=4),
}


class Problem:
    """A dataset, a split, a trained original and a task factory."""

    def __init__(self, bundle: DatasetBundle, split: ForgetSplit, arch: str, epochs: int) -> None:
        torch.set_num_threads(1)
        self.bundle, self.split, self.arch = bundle, split, arch
        self.recipe = Recipe(epochs=epochs, lr=0.05, batch_size=32)
        self.original = ARCHS[arch](0)
        pool = np.union1d(split.forget, split.retain)
        train(self.original, epoch_batches(bundle.train, pool, 32, 0), self.recipe, CPU, progress=False)

    def model(self) -> nn.Module:
        return copy.deepcopy(self.original)

    def task(self, seed: int = 0) -> UnlearningTask:
        return UnlearningTask(self.bundle.train, self.split, CPU, ARCHS[self.arch], self.recipe, seed, progress=False)

    def accuracy(self, model: nn.Module, part: str) -> float:
        idx = torch.as_tensor(getattr(self.split, part))
        with torch.no_grad():
            model.eval()
            return float((model(self.bundle.train.inputs[idx]).argmax(1) == self.bundle.train.targets[idx]).float().mean())

    def loss(self, model: nn.Module, part: str) -> float:
        idx = torch.as_tensor(getattr(self.split, part))
        with torch.no_grad():
            model.eval()
            return float(nn.functional.cross_entropy(model(self.bundle.train.inputs[idx]), self.bundle.train.targets[idx]))


@pytest.fixture(scope="session")
def bundle() -> DatasetBundle:
    # noise 4: the MLP memorises its training set (100%) but generalises to only about 60%
    return load_dataset("synthetic", num_train=400, num_test=200, num_classes=4, image_size=8, noise=4.0, seed=0)


@pytest.fixture(scope="session")
def iid(bundle: DatasetBundle) -> Problem:
    split = build_split("iid", bundle.train_targets(), len(bundle.test), seed=0, fraction=0.1, validation_fraction=0.0)
    return Problem(bundle, split, "mlp", epochs=10)


@pytest.fixture(scope="session")
def iid_resnet(bundle: DatasetBundle) -> Problem:
    split = build_split("iid", bundle.train_targets(), len(bundle.test), seed=0, fraction=0.1, validation_fraction=0.0)
    return Problem(bundle, split, "resnet", epochs=4)


@pytest.fixture(scope="session")
def forget_class() -> Problem:
    easy = load_dataset("synthetic", num_train=400, num_test=200, num_classes=4, image_size=8, noise=2.0, seed=0)
    split = build_split("class", easy.train_targets(), len(easy.test), seed=0, validation_fraction=0.0, classes=[0])
    return Problem(easy, split, "mlp", epochs=30)
