"""Class removal through the one-call API: expunge.unlearn / evaluate with expunge.ForgetClass on a user's own module."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import expunge
from expunge.cache import state_to_cpu
from expunge.errors import ConfigError
from expunge.evaluate.verdicts import VERDICTS

TARGET = 1
RECIPE = {"epochs": 20, "lr": 0.05, "batch_size": 32}


class TinyNet(nn.Module):
    """A user's architecture, unknown to expunge."""

    def __init__(self, dim: int = 12, classes: int = 4) -> None:
        super().__init__()
        self.body = nn.Linear(dim, 32)
        self.hidden = nn.Linear(32, 32)
        self.head = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(torch.relu(self.body(x)))))


class SeqNet(nn.Sequential):
    """A user's nn.Sequential subclass: the layout zero-shot's relevance propagation can walk."""

    def __init__(self, dim: int = 12, classes: int = 4) -> None:
        super().__init__(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, classes))


def clusters(seed: int = 0) -> tuple[TensorDataset, TensorDataset, torch.Tensor]:
    """4 Gaussian classes: 240 train, 120 test, and 16 unseen inputs of the target class."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 12, generator=gen) * 2

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % 4
        return centers[y] + torch.randn(n, 12, generator=gen), y

    (x, y), (xt, yt), (xa, ya) = draw(240), draw(120), draw(64)
    return TensorDataset(x, y), TensorDataset(xt, yt), xa[ya == TARGET]


def user_training(model: nn.Module, data: TensorDataset) -> nn.Module:
    x, y = data.tensors
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(20):
        for i in range(0, len(y), 32):
            loss = nn.functional.cross_entropy(model(x[i : i + 32]), y[i : i + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def class_accuracy(model: nn.Module, data: TensorDataset, target: bool) -> float:
    x, y = data.tensors
    with torch.no_grad():
        rows = (y == TARGET) if target else (y != TARGET)
        return float((model(x[rows]).argmax(1) == y[rows]).float().mean()) * 100


@pytest.fixture(scope="module")
def task():
    train, test, unseen = clusters()
    torch.manual_seed(0)
    model = user_training(TinyNet(), train)
    assert class_accuracy(model, test, target=True) > 90
    return model, train, test, unseen


def test_output_mask_removes_the_class_and_evaluate_gives_the_calibrated_verdict(task, tmp_path) -> None:
    model, train, test, _ = task
    before = state_to_cpu(model)
    request = expunge.ForgetClass(TARGET)
    result = expunge.unlearn(model, request, dataset=train, method="output_mask")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the input model is unchanged
    assert result.classes == [TARGET] and result.forget.tolist() == np.where(train.tensors[1].numpy() == TARGET)[0].tolist()
    evaluation = expunge.evaluate(result, request, test=test, dataset=train, retrain=RECIPE, num_oracles=3)
    m = evaluation.metrics
    assert m["target_acc_test"] == 0.0 and m["target_acc_train"] == 0.0  # the class is gone from the output
    assert m["other_acc_test"] > 90 and evaluation.original is not None and evaluation.original["target_acc_test"] > 90
    assert evaluation.verdict in VERDICTS and evaluation.verdict != "not removed"
    assert len(evaluation.oracles) == 3 and all(o["target_acc_test"] == 0.0 for o in evaluation.oracles)  # retrained without the class
    calibration = evaluation.calibration
    assert calibration is not None and calibration["checks"]["output_mask"]["expected"] == "output-only"
    assert calibration["checks"]["original"]["verdict"] == "not removed"
    assert "verdict:" in evaluation.table() and "Calibration" in evaluation.table()
    record = json.loads(result.save(tmp_path / "class", evaluation).read_text())
    assert record["forget_classes"] == [TARGET] and record["forget_count"] == 60 and record["verdict"] == evaluation.verdict


def test_salun_lowers_the_target_class_accuracy_against_given_oracles(task) -> None:
    model, train, test, _ = task
    oracles = expunge.retrain(model, expunge.ForgetClass(TARGET), dataset=train, recipe={**RECIPE, "optimizer": "adam", "lr": 0.01}, count=2)
    assert all(class_accuracy(o, test, target=True) == 0 for o in oracles)
    result = expunge.unlearn(model, expunge.ForgetClass(TARGET), dataset=train, method="salun", budget=0.5, retrain_epochs=20)
    assert result.config["method_config"]["localizer"] == "salloc" and result.mask is not None
    assert class_accuracy(result.model, test, target=True) < class_accuracy(model, test, target=True) - 50
    evaluation = expunge.evaluate(result, expunge.ForgetClass(TARGET), test=test, dataset=train, oracles=oracles, metrics="class_accuracy")
    assert evaluation.metrics["target_acc_train"] < 50 and evaluation.verdict is None and evaluation.calibration is None


def test_zero_shot_reads_only_the_unseen_analysis_inputs(task) -> None:
    _, train, test, unseen = task
    torch.manual_seed(0)
    model = user_training(SeqNet(), train)
    before = state_to_cpu(model)
    with pytest.raises(ConfigError, match=r"ForgetClass\(1, analysis="):
        expunge.unlearn(model, expunge.ForgetClass(TARGET), dataset=train, method="zero_shot", recipe="mnist-cnn")
    with pytest.raises(ConfigError, match="recipe"):  # an architecture with no documented recipe: named, never guessed
        expunge.unlearn(model, expunge.ForgetClass(TARGET, analysis=unseen), dataset=train, method="zero_shot")
    result = expunge.unlearn(model, expunge.ForgetClass(TARGET, analysis=unseen), dataset=train, method="zero_shot", recipe="mnist-cnn")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    after = result.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the copy was edited
    assert result.cost.passes == len(unseen) == 16  # training-free: one relevance pass over the unseen inputs, nothing else


def test_bad_class_requests_are_clear_config_errors(task) -> None:
    model, train, test, unseen = task
    with pytest.raises(ConfigError, match=r"class \[7\] has no example in the dataset, whose classes are \[0, 1, 2, 3\]"):
        expunge.unlearn(model, expunge.ForgetClass(7), dataset=train, method="output_mask")
    with pytest.raises(ConfigError, match="class index"):
        expunge.unlearn(model, expunge.ForgetClass("cat"), dataset=train)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dataset="):
        expunge.unlearn(model, expunge.ForgetClass(TARGET))
    with pytest.raises(ConfigError, match="retain="):
        expunge.unlearn(model, expunge.ForgetClass(TARGET), [0, 1], dataset=train)
    with pytest.raises(ConfigError, match="outside the forgotten classes"):
        expunge.unlearn(model, expunge.ForgetClass(TARGET, analysis=test), dataset=train, method="output_mask")
    masked = expunge.unlearn(model, expunge.ForgetClass(TARGET), dataset=train, method="output_mask")
    with pytest.raises(ConfigError, match="same forget="):
        expunge.evaluate(masked, expunge.ForgetClass(0), test=test, dataset=train, oracles=[model])
    with pytest.raises(ConfigError, match="same forget="):
        expunge.evaluate(masked, [0, 1], test=test, dataset=train, oracles=[model])
    with pytest.raises(ConfigError, match="original="):
        expunge.evaluate(model, expunge.ForgetClass(TARGET), test=test, dataset=train, oracles=[model])
