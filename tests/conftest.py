"""Shared fixtures: tiny synthetic data and models; no network, one thread."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def synthetic_bundle():
    from expunge.data import load_dataset

    return load_dataset("synthetic", num_train=400, num_test=200, num_classes=4, image_size=8, seed=0)


@pytest.fixture
def tiny_resnet():
    from expunge.models import build_model

    return build_model("resnet_small", (1, 8, 8), 4, seed=0, width=4)
