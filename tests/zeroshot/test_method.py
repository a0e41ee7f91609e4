"""The zero-shot method: never reads the training set, and removes a separable class while others hold."""

from __future__ import annotations

import pytest
import torch

import expunge.data as data_module
from expunge.data.base import IndexedTensorDataset, TensorBatches
from expunge.errors import DataError
from expunge.zeroshot import ZeroShotConfig, zero_shot_unlearn

from .conftest import accuracy, class_images


class PoisonedDataset(IndexedTensorDataset):
    """A training set that fails the test the moment anything reads it."""

    def __init__(self) -> None:  # noqa: D107 - no tensors at all
        pass

    def __getattribute__(self, name: str):
        if name in ("__class__", "__dict__"):
            return object.__getattribute__(self, name)
        raise AssertionError(f"the zero-shot method read the training set ({name})")

    def __len__(self) -> int:
        raise AssertionError("the zero-shot method read the training set (len)")


def test_method_never_reads_the_training_set(trained_resnet, separable_bundle, monkeypatch) -> None:
    separable_bundle_copy = data_module.DatasetBundle("synthetic", PoisonedDataset(), separable_bundle.test, 4)
    monkeypatch.setattr(data_module, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(AssertionError("load_dataset called")))
    read = []
    original_getitem = IndexedTensorDataset.__getitem__
    monkeypatch.setattr(IndexedTensorDataset, "__getitem__", lambda self, i: read.append(i) or original_getitem(self, i))
    x, _ = class_images(separable_bundle_copy.test, 1, 16)
    result = zero_shot_unlearn(trained_resnet, 1, x, config=ZeroShotConfig(k_p=2))
    assert result.selection.k_p == 2 and not read
    # it also refuses a dataset, and a loader whose labels show it is not the analysis set
    with pytest.raises(DataError, match="not a dataset"):
        zero_shot_unlearn(trained_resnet, 1, separable_bundle.train)
    with pytest.raises(DataError, match="labels other than class 1"):
        zero_shot_unlearn(trained_resnet, 1, TensorBatches(separable_bundle.train, torch.arange(40), 16))


def test_accepts_an_analysis_loader_of_the_class(trained_resnet, separable_bundle) -> None:
    idx = torch.where(separable_bundle.test.targets == 2)[0][:20]
    result = zero_shot_unlearn(trained_resnet, 2, TensorBatches(separable_bundle.test, idx, 8), config=ZeroShotConfig(k_p=1))
    assert result.ranking.num_images == 20


@pytest.mark.parametrize("fixture", ["trained_resnet", "trained_mlp"])
@pytest.mark.parametrize("cls", [0, 2])
def test_class_accuracy_drops_while_others_hold(fixture: str, cls: int, separable_bundle, request) -> None:
    model = request.getfixturevalue(fixture)
    train, test = separable_bundle.train, separable_bundle.test
    x_a, _ = class_images(test, cls, 16)
    other = class_images(test, cls, 16, other=True)
    t_x, t_y = class_images(train, cls)
    o_x, o_y = class_images(train, cls, other=True)
    assert accuracy(model, t_x, t_y) > 0.9 and accuracy(model, o_x, o_y) > 0.9
    result = zero_shot_unlearn(model, cls, x_a, other, ZeroShotConfig(max_other_drop=0.0))
    assert result.selection.met
    assert accuracy(result.model, t_x, t_y) <= 0.05
    assert accuracy(result.model, o_x, o_y) >= accuracy(model, o_x, o_y) - 0.03
    assert accuracy(model, t_x, t_y) > 0.9  # the input model was not modified (inplace=False)


def test_escalation_moves_to_a_more_invasive_path_only_when_needed(trained_resnet, separable_bundle) -> None:
    """Here the class is recognised by negative evidence: cutting its row alone cannot remove it."""
    x_a, _ = class_images(separable_bundle.test, 0, 16)
    other = class_images(separable_bundle.test, 0, 16, other=True)
    t_x, t_y = class_images(separable_bundle.train, 0)
    stuck = zero_shot_unlearn(trained_resnet, 0, x_a, other, ZeroShotConfig(escalate=False))
    assert stuck.path == "target-row" and not stuck.selection.met and accuracy(stuck.model, t_x, t_y) > 0.5
    escalated = zero_shot_unlearn(trained_resnet, 0, x_a, other, ZeroShotConfig())
    assert escalated.path != "target-row" and escalated.selection.met and "after trying target-row" in escalated.selection.reason
    assert accuracy(escalated.model, t_x, t_y) <= 0.05
    # the mask records the edit of the chosen path: columns of every class for all-columns, rows for in+out
    assert escalated.summary()["path"] == escalated.path


def test_no_escalation_when_the_first_path_suffices(trained_mlp, separable_bundle) -> None:
    x_a, _ = class_images(separable_bundle.test, 1, 16)
    result = zero_shot_unlearn(trained_mlp, 1, x_a, class_images(separable_bundle.test, 1, 16, other=True), ZeroShotConfig())
    assert result.path == "target-row" and result.selection.met and "after trying" not in result.selection.reason
    changed = {name for name in result.mask.names() if result.mask[name].any()}
    assert changed == {result.ranking.path.out_weight}  # only the classifier's target row was touched


def test_fractional_k_p_is_a_share_of_the_analysed_neurons(trained_resnet, separable_bundle) -> None:
    x_a, _ = class_images(separable_bundle.test, 2, 8)
    result = zero_shot_unlearn(trained_resnet, 2, x_a, config=ZeroShotConfig(k_p=0.25))
    assert result.selection.k_p == round(0.25 * result.ranking.path.num_neurons)
    with pytest.raises(Exception, match="fraction"):
        ZeroShotConfig(k_p=1.5)


def test_a_hidden_layer_is_cut_on_every_class_by_default(separable_bundle) -> None:
    """Analysing a layer before the classifier: there is no 'target row', so the default edits all its columns."""
    from .conftest import _trained

    model = _trained("cnn", separable_bundle, channels=(8, 16), hidden=32)
    x_a, _ = class_images(separable_bundle.test, 1, 16)
    result = zero_shot_unlearn(model, 1, x_a, class_images(separable_bundle.test, 1, 16, other=True), ZeroShotConfig(layer="fc1"))
    assert result.path == "all-columns" and result.config["out_scope"] == "all"
    touched = {name for name in result.mask.names() if result.mask[name].any()}
    assert touched == {"fc1.weight"}
    t_x, t_y = class_images(separable_bundle.train, 1)
    assert accuracy(result.model, t_x, t_y) <= 0.05
    with pytest.raises(Exception, match="out_scope"):
        ZeroShotConfig(out_scope="rows")


def test_too_few_analysis_images_warn(trained_mlp, separable_bundle) -> None:
    x_a, _ = class_images(separable_bundle.test, 1, 4)
    with pytest.warns(UserWarning, match="only 4 analysis images"):
        zero_shot_unlearn(trained_mlp, 1, x_a, config=ZeroShotConfig(k_p=1))


def test_the_too_few_images_warning_quotes_the_stored_study() -> None:
    """The warning's numbers are the analysis-size table's (mean ± std of the class left), rounded as printed."""
    import json
    from pathlib import Path

    from expunge.zeroshot.method import MEASURED_CLASS_LEFT

    stored = json.loads((Path(__file__).resolve().parents[2] / "benchmarks/results/zero_shot_analysis_size_study.json").read_text())
    rows = {int(g["key"]["analysis"]): g["rows"]["zero_shot-kp-auto"]["target_acc_train"] for g in stored["groups"]}
    for images, (mean, std) in MEASURED_CLASS_LEFT.items():
        assert float(f"{rows[images]['mean']:.2g}") == mean and float(f"{rows[images]['std']:.2g}") == std, (images, rows[images])
