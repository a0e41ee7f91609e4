"""A 20-author corpus and a 2-layer GPT-2 trained on it once per session (about 15 s on one core)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


@pytest.fixture(scope="session")
def bundle():
    from expunge.lm import load_authors

    return load_authors(num_authors=20, seed=0, num_facts=10)


@pytest.fixture(scope="session")
def split(bundle):
    import expunge.lm  # noqa: F401
    from expunge.data import build_split

    return build_split("authors", bundle.train_targets(), len(bundle.test), seed=0, validation_fraction=0.0, authors=[3, 11])


@pytest.fixture(scope="session")
def trained_original(bundle):
    from expunge.lm.models import build_tiny_gpt2, train_lm

    torch.set_num_threads(1)
    model = build_tiny_gpt2(bundle.codec, seed=0, n_layer=2, n_embd=128, n_head=4)
    info = train_lm(model, bundle.train.inputs, np.arange(len(bundle.train)), epochs=30, lr=3e-3, batch_size=16, seed=0, device=torch.device("cpu"))
    return model, info


@pytest.fixture
def original(trained_original):
    import copy

    return copy.deepcopy(trained_original[0])


@pytest.fixture
def task_for(bundle, split):
    from expunge.lm.models import answer_nll, build_tiny_gpt2
    from expunge.train import Recipe
    from expunge.unlearn.base import UnlearningTask

    def make(seed: int = 0) -> UnlearningTask:
        return UnlearningTask(
            train_set=bundle.train,
            split=split,
            device=torch.device("cpu"),
            fresh_model=lambda s: build_tiny_gpt2(bundle.codec, s),
            pretrain_recipe=Recipe(),
            seed=seed,
            loss_fn=answer_nll,
            progress=False,
            forget_classes=[3, 11],
        )

    return make
