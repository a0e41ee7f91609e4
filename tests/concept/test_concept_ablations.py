"""The concept study's ablations as options, precision@M at M = the true concepts, held-out CBM accuracy, collateral damage."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import expunge.concept as C
from expunge.concept.attribution import margin_attribution, precision_at_true
from expunge.data import build_split, load_dataset
from expunge.errors import ConfigError
from expunge.hparams import validate_params
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn.base import UNLEARNERS

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("concept_shapes", num_train=1200, num_test=300, seed=1)


@pytest.fixture(scope="module")
def trained(shapes):
    torch.manual_seed(0)
    model = build_model("cnn", shapes.input_shape, 10, seed=0, channels=(8, 16), hidden=32)
    train(model, epoch_batches(shapes.train, np.arange(1000), 64, 0), Recipe(epochs=6, lr=0.05), CPU, progress=False)  # rows 1000+ never trained on
    return model.eval()


@pytest.fixture(scope="module")
def bank(shapes, trained):
    return C.analyse(trained, shapes.train, np.arange(1000), 0, 10, CPU, per_class=50, examples_per_concept=60, ranking="margin").bank


def _analyse(trained, shapes, **kw):
    return C.analyse(trained, shapes.train, np.arange(1000), 0, 10, CPU, per_class=50, examples_per_concept=60, **kw)


def test_precision_at_true_uses_the_number_of_true_concepts():
    true = ["a", "b", "c"]
    assert precision_at_true(["a", "x", "b", "c"], true) == pytest.approx(2 / 3)  # top 3 = a, x, b
    assert precision_at_true(["c", "b", "a", "x"], true) == 1.0
    assert C.precision_at_m(["a", "x", "b", "c"], true, 5) == pytest.approx(3 / 5)  # @5 against 3 true concepts can never be 1
    with pytest.raises(ConfigError):
        precision_at_true(["a"], [])


def test_the_margin_ablation_ranks_by_mean_margin_without_a_cbm():
    margins = torch.tensor([[1.0, -2.0, 3.0], [3.0, -2.0, 1.0]])
    a = margin_attribution(margins, 4)
    assert a.ranking(["p", "q", "r"], present_only=False) == ["p", "r", "q"]  # means 2, -2, 2: stable order for the tie
    assert np.isnan(a.completeness_error)


def test_rankings_are_options_and_precision_is_scored_at_m_true(shapes, trained, bank):
    method = _analyse(trained, shapes, heldout=np.arange(1000, 1200), bank=bank)
    true = C.class_concepts(0)
    assert method.true_concepts == true and method.precision_at_true() == precision_at_true(method.rankings[0], true)
    assert "held-out" in method.cbm.accuracy_on and method.summary()["cbm_accuracy_on"].startswith("200 held-out")  # pyright: ignore[reportOptionalMemberAccess]
    assert all(method.attributions[0].mean_margin[method.bank.names.index(n)] > 0 for n in method.rankings[0])  # the margin filter
    unfiltered = _analyse(trained, shapes, ranking="ig-all", bank=bank)
    assert len(unfiltered.rankings[0]) == len(unfiltered.bank) >= len(method.rankings[0])
    assert "training images" in unfiltered.cbm.accuracy_on  # pyright: ignore[reportOptionalMemberAccess]
    margin = _analyse(trained, shapes, ranking="margin", bank=bank)
    assert margin.cbm is None and margin.summary()["cbm_accuracy"] is None and margin.summary()["ranking"] == "margin"
    mean = margin.attributions[0].mean_margin
    assert margin.rankings[0] == [margin.bank.names[k] for k in np.argsort(-mean, kind="stable")]
    with pytest.raises(ConfigError, match="ranking 'pcbm' unknown"):
        _analyse(trained, shapes, ranking="pcbm", bank=bank)


def test_an_arbitrary_donor_is_drawn_from_the_seed_outside_the_forgotten_classes(shapes, trained, bank):
    donors = [_analyse(trained, shapes, donor="random", seed=s, exclude=[0, 3], ranking="margin", bank=bank).donor for s in (0, 1, 2, 0)]
    assert not set(donors) & {0, 3} and donors[0] == donors[3]


def test_ablations_run_as_unlearner_options(shapes, trained):
    params = validate_params(UNLEARNERS.get("concept_poison"), {"ranking": "margin", "donor": "random", "labelling": "targeted"}, "methods.0")
    assert params["ranking"] == "margin"
    with pytest.raises(ConfigError):
        validate_params(UNLEARNERS.get("concept_poison"), {"ranking": "random"}, "methods.0")
    split = build_split("class", shapes.train_targets(), len(shapes.test), seed=0, validation_fraction=0.1, classes=[2])
    from expunge.unlearn.base import UnlearningTask

    task = UnlearningTask(shapes.train, split, CPU, lambda s: None, Recipe(), seed=0, progress=False, forget_classes=[2])  # type: ignore[arg-type]
    out = UNLEARNERS.get("concept_poison")(ranking="margin", donor="random", scope="head", epochs=1, per_class=30, examples_per_concept=60).unlearn(copy.deepcopy(trained), task)
    note = task.notes["concept"][0]
    assert task.notes["ranking"] == "margin" and note["donor"] != 2 and note["precision_at_true"] is not None and out is not None


def test_collateral_damage_is_the_other_classes_drop_beside_the_oracles(shapes, trained):
    from expunge.evaluate.registry import METRIC_SETS, METRICS, EvalContext

    assert "concept_collateral" in METRIC_SETS["concept"]
    split = build_split("class", shapes.train_targets(), len(shapes.test), seed=0, validation_fraction=0.0, classes=[2])
    damaged = copy.deepcopy(trained)
    with torch.no_grad():
        damaged.fc.bias[5] += 1e4  # every image is now class 5
    ctx = EvalContext(CPU, train_set=shapes.train, test_set=shapes.test, split=split, original=trained, oracles=[trained], extras={"forget_classes": [2]})
    same = METRICS.get("concept_collateral")()(trained, ctx)
    assert same["other_drop_test"] == 0.0 and same["collateral_excess"] == 0.0
    out = METRICS.get("concept_collateral")()(damaged, ctx)
    y = shapes.test.targets.numpy()[split.test]
    other = y != 2
    expected_other = float((y[other] == 5).mean() * 100)
    assert out["collateral_other_acc_test"] == pytest.approx(expected_other, abs=1e-4) and out["collateral_target_acc_test"] == 0.0
    assert out["other_drop_test"] == pytest.approx(same["collateral_other_acc_test"] - expected_other, abs=1e-4)
    assert out["collateral_excess"] == pytest.approx(out["other_drop_test"]) and out["other_drop_test_oracle"] == 0.0


def test_separate_concept_images_are_apart_from_the_training_data_and_independent_of_the_classes(shapes):
    source = shapes.train.separate_concepts
    images, labels, names = source.draw(600, seed=5)
    assert images.shape == (600, 1, 24, 24) and names == C.CONCEPT_NAMES
    assert (labels.sum(1) == len(C.FAMILIES)).all()  # one value per family on every image
    again, labels_again, _ = source.draw(600, seed=5)
    assert torch.equal(images, again) and (labels == labels_again).all()  # drawn from the seed alone
    assert not torch.equal(source.draw(600, seed=6)[0], images)
    # no class ties the families together: triangles come with diagonal marks only in the class-composed training set
    triangle, diag = labels[:, names.index("shape:triangle")], labels[:, names.index("stroke:diag")]
    assert abs(triangle[diag].mean() - triangle[~diag].mean()) < 0.1
    train_labels = shapes.train.concept_labels.numpy()
    t_triangle, t_diag = train_labels[:, names.index("shape:triangle")], train_labels[:, names.index("stroke:diag")]
    assert t_triangle[t_diag].mean() - t_triangle[~t_diag].mean() > 0.3
    flat_train = shapes.train.inputs.reshape(len(shapes.train.inputs), -1)
    assert not any(torch.equal(images[0].reshape(-1), row) for row in flat_train)  # not a training image


def test_a_bank_from_separate_concept_images_finds_the_class_concepts(shapes, trained):
    analysis = _analyse(trained, shapes, bank_source="separate", separate_images=800, separate_seed=3, heldout=np.arange(1000, 1200))
    training = _analyse(trained, shapes, heldout=np.arange(1000, 1200))
    assert not torch.equal(analysis.bank.vectors, training.bank.vectors)  # another bank: fitted on other images
    assert analysis.precision_at_true() >= 0.6  # the true concepts of class 0 lead the ranking from the separate bank
    same = _analyse(trained, shapes, bank_source="separate", separate_images=800, separate_seed=3, heldout=np.arange(1000, 1200))
    assert torch.equal(same.bank.vectors, analysis.bank.vectors)
    with pytest.raises(ConfigError, match="bank_source 'clip' unknown"):
        _analyse(trained, shapes, bank_source="clip")


def test_separate_bank_source_on_data_without_one_is_a_clear_error(trained):
    plain = C.ConceptTensorDataset(torch.randn(40, 1, 24, 24), torch.arange(40) % 10, torch.zeros(40, len(C.CONCEPT_NAMES), dtype=torch.bool), C.CONCEPT_NAMES)
    with pytest.raises(ConfigError, match="bank_path"):
        C.analyse(trained, plain, np.arange(40), 0, 10, CPU, bank_source="separate")
    with pytest.raises(ConfigError, match="keep one"):
        C.ConceptPoison(bank_path="x", bank_source="separate").unlearn(trained, None)  # pyright: ignore[reportArgumentType]
