"""The GPU path of the one-call API; skipped without CUDA (CI here is CPU-only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import expunge
from expunge.api import place
from expunge.data.base import IndexedTensorDataset

from .helpers import fit, random_data, user_mlp

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
FORGET = np.arange(0, 200, 10)


def test_place_is_a_no_op_on_the_cpu() -> None:
    data = IndexedTensorDataset(torch.randn(4, 3), torch.arange(4))
    assert place(data, torch.device("cpu")) is data


@cuda
def test_inputs_go_to_the_gpu_once_and_targets_stay_on_the_host() -> None:
    placed = place(IndexedTensorDataset(torch.randn(4, 3), torch.arange(4)), torch.device("cuda"))
    assert placed.inputs.is_cuda and not placed.targets.is_cuda


@cuda
def test_unlearn_and_evaluate_on_the_gpu_leave_the_cpu_model_where_it_was() -> None:
    data = random_data()
    model = fit(user_mlp(), data, np.arange(200))
    result = expunge.unlearn(model, FORGET, dataset=data, device="auto")
    assert next(result.model.parameters()).is_cuda and not next(model.parameters()).is_cuda
    assert result.cost.passes > 0 and result.config["device"].startswith("cuda")
    evaluation = expunge.evaluate(result, FORGET, test=random_data(60, seed=1), dataset=data, retrain={"epochs": 20, "lr": 0.1, "batch_size": 32}, num_oracles=2, device="cuda")
    assert evaluation.original is not None and len(evaluation.oracles) == 2
    assert evaluation.original["forget_acc"] > 90 > max(o["forget_acc"] for o in evaluation.oracles)  # random labels: only a model that saw them knows them
    assert not next(model.parameters()).is_cuda
