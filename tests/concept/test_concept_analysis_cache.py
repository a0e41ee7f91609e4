"""concept_poison's analysis (bank -> CBM -> IG -> donor) is an analysis-stage artefact: computed once per original and options."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import expunge.concept as C
from expunge.concept.attribution import precision_at_true
from expunge.concept.unlearn import concept_analysis_kind, decode_analysis, encode_analysis
from expunge.data import build_split, load_dataset
from expunge.experiments.analysis import AnalysisStore
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn.base import UNLEARNERS, UnlearningTask

CPU = torch.device("cpu")
SMALL = {"per_class": 30, "examples_per_concept": 30, "retain_fraction": 0.2}


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("concept_shapes", num_train=600, num_test=100, seed=0)


@pytest.fixture(scope="module")
def trained(shapes):
    model = build_model("cnn", shapes.input_shape, 10, seed=0, channels=(8, 16), hidden=32)
    train(model, epoch_batches(shapes.train, np.arange(len(shapes.train)), 64, 0), Recipe(epochs=3, lr=0.05), CPU, progress=False)
    return model.eval()


def task(bundle, store: AnalysisStore) -> UnlearningTask:
    split = build_split("class", bundle.train_targets(), len(bundle.test), seed=0, validation_fraction=0.0, classes=[0])
    fresh = lambda s: build_model("cnn", bundle.input_shape, 10, seed=s, channels=(8, 16), hidden=32)  # noqa: E731
    return UnlearningTask(bundle.train, split, CPU, fresh, Recipe(epochs=1), seed=0, progress=False, forget_classes=[0], analysis_store=store)


def run(name: str, model, bundle, store, **hyper):
    t = task(bundle, store)
    unlearner = UNLEARNERS.get(name)(**{**SMALL, **hyper})
    unlearner.unlearn(copy.deepcopy(model), t)
    return {**t.notes, "rankings": unlearner.analyses[0].rankings}


def test_methods_sharing_an_analysis_compute_it_once_and_record_precision_at_m(shapes, trained):
    store = AnalysisStore()
    first = run("concept_poison", trained, shapes, store)
    second = run("concept_poison", trained, shapes, store, labelling="random", scope="head")  # labels / scope: same analysis
    patch = run("concept_patch", trained, shapes, store)
    assert store.computed == 1
    assert [n["analysis"][0]["cached"] for n in (first, second, patch)] == [False, True, True]
    assert first["concept"] == second["concept"] == patch["concept"]
    summary, true = first["concept"][0], C.class_concepts(0)
    assert first["rankings"] == second["rankings"] and summary["true_concepts"] == true
    assert first["columns"]["precision_at_m"] == summary["precision_at_true"] == precision_at_true(first["rankings"][0], true)  # M = 5 true concepts
    # the hit is charged the analysis's full cost: same forward passes reported as when it was computed
    assert second["columns"]["analysis_forward_passes"] == first["columns"]["analysis_forward_passes"] > 0
    assert second["columns"]["analysis_cached"] is True and first["columns"]["analysis_cached"] is False


def test_a_changed_ranking_or_model_gets_its_own_analysis(shapes, trained):
    store = AnalysisStore()
    run("concept_poison", trained, shapes, store)
    margin = run("concept_poison", trained, shapes, store, ranking="margin")
    assert store.computed == 2 and margin["concept"][0]["ranking"] == "margin" and margin["concept"][0]["cbm_accuracy"] is None
    other = copy.deepcopy(trained)
    with torch.no_grad():
        next(other.parameters()).mul_(1.001)
    run("concept_poison", other, shapes, store)
    assert store.computed == 3


def test_the_stored_analysis_equals_the_computed_one(shapes, trained, tmp_path):
    concept_analysis_kind()
    computed = C.analyse(trained, shapes.train, np.arange(len(shapes.train)), 0, 10, CPU, per_class=30, examples_per_concept=30)
    payload, tensors = encode_analysis(computed)
    loaded = decode_analysis(payload, tensors)
    assert loaded.summary() == computed.summary() and loaded.rankings == computed.rankings and loaded.tops == computed.tops
    assert np.array_equal(loaded.confusion, computed.confusion) and torch.equal(loaded.bank.vectors, computed.bank.vectors)
    for c, a in computed.attributions.items():
        assert np.array_equal(loaded.attributions[c].scores, a.scores) and np.array_equal(loaded.attributions[c].mean_margin, a.mean_margin)
    assert computed.cbm is not None and loaded.cbm is not None and torch.equal(loaded.cbm.cbm.head.weight, computed.cbm.cbm.head.weight)
    # and through the disk: a second store on the same folder (another process) reads what the first computed
    notes_a = run("concept_poison", trained, shapes, AnalysisStore(tmp_path))
    notes_b = run("concept_poison", trained, shapes, AnalysisStore(tmp_path))
    assert notes_b["analysis"][0]["cached"] and notes_a["concept"] == notes_b["concept"]
