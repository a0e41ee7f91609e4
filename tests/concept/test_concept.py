"""Concept inference + poisoning (arXiv 2405.15662) on the ground-truth concept dataset; tiny models, CPU."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import expunge.concept as C
from expunge.concept.bank import ConceptDataError
from expunge.data import build_split, load_dataset
from expunge.errors import ConfigError, DataError
from expunge.evaluate.accuracy import model_outputs
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn.base import UNLEARNERS, UnlearningTask

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("concept_shapes", num_train=2000, num_test=500, seed=0)


@pytest.fixture(scope="module")
def trained(shapes):
    torch.manual_seed(0)
    model = build_model("cnn", shapes.input_shape, 10, seed=0, channels=(8, 16), hidden=32)
    train(model, epoch_batches(shapes.train, np.arange(len(shapes.train)), 64, 0), Recipe(epochs=6, lr=0.05), CPU, progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def analysis(shapes, trained):
    return C.analyse(trained, shapes.train, np.arange(len(shapes.train)), 0, 10, CPU, top_m=5, per_class=120)


def make_task(bundle, cls: int, seed: int = 0) -> UnlearningTask:
    split = build_split("class", bundle.train_targets(), len(bundle.test), seed=0, validation_fraction=0.0, classes=[cls])
    return UnlearningTask(
        bundle.train, split, CPU, lambda s: build_model("cnn", bundle.input_shape, 10, seed=s, channels=(8, 16), hidden=32), Recipe(epochs=6, lr=0.05), seed=seed, progress=False, forget_classes=[cls]
    )


def test_dataset_ground_truth(shapes):
    labels = shapes.train.concept_labels
    assert labels.shape == (2000, len(C.CONCEPT_NAMES))
    assert bool((labels.sum(1) == len(C.FAMILIES)).all())  # one value per family
    y = shapes.train.targets.numpy()
    for cls in range(10):
        rate = labels[y == cls][:, [C.CONCEPT_NAMES.index(n) for n in C.class_concepts(cls)]].float().mean()
        assert 0.85 < float(rate) < 0.95  # keep = 0.9
    assert len({tuple(c) for c in C.CLASS_CONCEPTS}) == 10


def test_attribution_ranks_true_concepts(analysis):
    precision = [C.precision_at_m(analysis.tops[c], C.class_concepts(c), 5) for c in range(10)]
    assert np.mean(precision) >= 0.9, precision
    assert analysis.donor == 1  # classes 0 and 1 differ in texture only
    assert analysis.attributions[0].completeness_error < 1e-3


def test_ig_equals_weight_times_margin(analysis):
    margins = torch.randn(7, len(analysis.bank))
    ig, delta = C.integrated_gradients(analysis.cbm.cbm, margins, 3)
    assert torch.allclose(ig, C.linear_attribution(analysis.cbm.cbm, margins, 3), atol=1e-5)
    assert float(delta.abs().max()) < 1e-4


def test_bank_roundtrip_and_text_adapter(tmp_path, analysis):
    bank = analysis.bank
    bank.save(tmp_path / "bank")
    loaded = C.ConceptBank.load(tmp_path / "bank")
    assert loaded.names == bank.names and torch.equal(loaded.vectors, bank.vectors) and torch.equal(loaded.biases, bank.biases)
    text = C.ConceptBank.from_text_embeddings(["a", "b"], np.array([[3.0, 4.0], [0.0, 2.0]]))
    assert torch.allclose(text.margins(torch.tensor([[1.0, 1.0]])), torch.tensor([[1.4, 1.0]]))


def test_chance_concept_dropped_and_too_few_examples(shapes, trained):
    rng = np.random.default_rng(0)
    labels = np.concatenate([shapes.train.concept_labels.numpy()[:, :1], rng.random((2000, 1)) < 0.5], 1)
    sets = C.concept_example_sets(labels, ["shape:square", "noise"], np.arange(2000), per_side=150)
    bank = C.fit_bank(trained, shapes.train.inputs, sets, None, CPU)
    assert bank.names == ["shape:square"] and "noise" in bank.dropped
    few = np.zeros((2000, 1), dtype=bool)
    few[:3] = True
    with pytest.raises(ConceptDataError, match="'rare' has 3 positive"):
        C.concept_example_sets(few, ["rare"], np.arange(2000))


def test_bad_donor_and_absent_class(shapes, trained):
    pool = np.arange(len(shapes.train))
    with pytest.raises(ConfigError, match="target class itself"):
        C.analyse(trained, shapes.train, pool, 2, 10, CPU, donor=2)
    with pytest.raises(ConfigError, match="absent from the data"):
        C.analyse(trained, shapes.train, pool[shapes.train.targets.numpy() != 4], 4, 10, CPU)
    from expunge.concept.unlearn import concept_labels

    with pytest.raises(ConfigError, match="no concept labels"):
        concept_labels(load_dataset("synthetic", num_train=40, num_test=20).train)


def test_targeted_poisoning_moves_target_to_donor(shapes, trained):
    model = copy.deepcopy(trained)
    task = make_task(shapes, 0)
    unlearner = UNLEARNERS.get("concept_poison")(labelling="targeted", scope="full", epochs=1, per_class=60, examples_per_concept=80)
    out = unlearner.unlearn(model, task)
    test = shapes.test
    y = test.targets.numpy()
    pred = model_outputs(out, test, np.flatnonzero(y == 0), CPU).logits.argmax(1).numpy()
    before = model_outputs(trained, test, np.flatnonzero(y != 0), CPU).accuracy()
    after = model_outputs(out, test, np.flatnonzero(y != 0), CPU).accuracy()
    assert task.notes["concept"][0]["donor"] == 1
    assert (pred == 0).mean() <= 0.05 and (pred == 1).mean() >= 0.6  # the rest: images whose drawn concepts match other classes
    assert after >= before - 5.0


def test_head_only_changes_nothing_outside_the_head(shapes, trained):
    model = copy.deepcopy(trained)
    task = make_task(shapes, 3)
    out = UNLEARNERS.get("concept_poison")(labelling="random", scope="head", epochs=1, per_class=40, examples_per_concept=60).unlearn(model, task)
    before, after = trained.state_dict(), out.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(k.startswith("fc.") for k in changed), changed
    assert all(p.requires_grad for p in out.parameters())


def test_patch_variant_and_mask_scope_errors(shapes, trained):
    task = make_task(shapes, 4)
    with pytest.raises(ConfigError, match="scope=mask needs a mask"):
        UNLEARNERS.get("concept_poison")(scope="mask").unlearn(copy.deepcopy(trained), task)
    unlearner = UNLEARNERS.get("concept_patch")(scope="head", epochs=1, per_class=40, examples_per_concept=60)
    analysis = C.analyse(trained, shapes.train, np.arange(2000), 4, 10, CPU, per_class=40, examples_per_concept=60)
    forget = task.split.forget
    x = unlearner.poisoned_inputs(trained, task, analysis, forget, np.arange(2000))
    assert x.shape == shapes.train.inputs[forget].shape
    differs = (x != shapes.train.inputs[forget]).flatten(1).any(1)
    assert float(differs.float().mean()) > 0.9
    assert unlearner.patch_info["target_concept"] in analysis.tops[4]


def test_concept_presence_metric(shapes, trained):
    from expunge.evaluate.registry import METRIC_SETS, METRICS, EvalContext

    assert "concept_presence" in METRIC_SETS["concept"]
    split = make_task(shapes, 2).split
    ctx = EvalContext(CPU, train_set=shapes.train, test_set=shapes.test, split=split, original=trained, oracles=[trained])
    out = METRICS.get("concept_presence")(examples_per_concept=60)(trained, ctx)
    assert 50.0 < out["concept_presence"] <= 100.0
    assert out["concept_presence_gap"] == 0.0


def test_fashion_mnist_sleeve_rule():
    try:
        bundle = load_dataset("fashion_mnist")
    except DataError:
        pytest.skip("Fashion-MNIST not installed")
    from expunge.concept.fmnist_attributes import ATTRIBUTE_NAMES, attribute_labels, long_sleeves_rule

    x, y = bundle.train.inputs[:6000], bundle.train.targets[:6000].numpy()
    rule = long_sleeves_rule(x)
    assert rule[y == 2].mean() > 0.9 and rule[y == 4].mean() > 0.9 and rule[y == 0].mean() < 0.3
    labels = attribute_labels(y, x).numpy()
    k = ATTRIBUTE_NAMES.index("upper_body")
    assert labels[y == 0, k].all() and labels[y == 6, k].all() and not labels[y == 7, k].any()
