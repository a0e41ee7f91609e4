"""lm_concept's concept-word location is an analysis-stage artefact: rows with the same locator and k locate once."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from expunge.experiments.analysis import AnalysisStore  # noqa: E402
from expunge.train import Recipe  # noqa: E402
from expunge.unlearn.base import UNLEARNERS, UnlearningTask  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    import expunge.lm  # noqa: F401
    from expunge.data import build_split
    from expunge.lm import load_authors
    from expunge.lm.models import build_tiny_gpt2

    bundle = load_authors(num_authors=8, seed=0, num_facts=4)
    split = build_split("authors", bundle.train_targets(), len(bundle.test), seed=0, validation_fraction=0.0, authors=[2])
    model = build_tiny_gpt2(bundle.codec, seed=0, n_layer=1, n_embd=32, n_head=2)
    return bundle, split, model


def run(setup, store: AnalysisStore, seed: int = 0, **hyper) -> dict:
    from expunge.lm.models import answer_nll, build_tiny_gpt2

    bundle, split, model = setup
    task = UnlearningTask(bundle.train, split, torch.device("cpu"), lambda s: build_tiny_gpt2(bundle.codec, s), Recipe(), seed=seed, loss_fn=answer_nll, progress=False, analysis_store=store)
    UNLEARNERS.get("lm_concept")(**{"epochs": 1, "ig_steps": 4, **hyper}).unlearn(copy.deepcopy(model), task)
    return task.notes


def test_rows_with_the_same_locator_and_k_share_one_location(setup):
    store = AnalysisStore()
    first = run(setup, store)
    second = run(setup, store, concept_objective="mask", retain_weight=1.0)  # another objective: same location
    other_seed = run(setup, store, seed=1)  # IG ignores the seed: still shared
    assert store.computed == 1 and [n["analysis"][0]["cached"] for n in (first, second, other_seed)] == [False, True, True]
    assert first["concept_words"] == second["concept_words"] == other_seed["concept_words"]
    assert second["columns"]["analysis_passes"] == first["columns"]["analysis_passes"] > 0  # the IG passes, charged to both
    run(setup, store, top_k=3)
    run(setup, store, locator="random")
    run(setup, store, locator="random", seed=1)  # the random locator draws from the seed
    assert store.computed == 4


def test_the_located_words_equal_a_direct_location(setup):
    from expunge.lm.attribution import find_concepts, shared_words

    bundle, split, model = setup
    notes = run(setup, AnalysisStore())
    rows = bundle.train.inputs[torch.as_tensor(split.forget)]
    authors = bundle.train.targets[torch.as_tensor(split.forget)].tolist()
    pool = np.concatenate([split.forget, split.retain])
    excluded = shared_words(bundle.codec, bundle.train.inputs[torch.as_tensor(pool)], bundle.train.targets[torch.as_tensor(pool)].tolist(), 0.25)
    direct = find_concepts(copy.deepcopy(model), rows, authors, excluded, 8, "ig", 4, 8, 0, "pad", True)
    assert notes["concept_words"] == {str(a): w for a, w in direct.words.items()}
