"""The analysis stage (experiments/analysis.py): computed once per key, reused, recomputed when anything it reads changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from expunge.cost import CostMeter, count
from expunge.errors import ConfigError
from expunge.experiments.analysis import ANALYSES, AnalysisKind, AnalysisStore, digest, register_analysis

CALLS: list[dict] = []


def _compute(model: nn.Module, data: torch.Tensor, scale: float) -> dict:
    """A toy analysis: the model's mean output on ``data``, times ``scale``; counts its calls and reports passes."""
    CALLS.append({"scale": scale})
    count(len(data), backward=False)
    with torch.no_grad():
        out = model(data).mean(0) * scale
    return {"mean": out, "n": len(data)}


def _encode(value: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    return {"n": value["n"]}, {"mean": value["mean"]}


def _decode(payload: dict, tensors: dict[str, torch.Tensor]) -> dict:
    return {"mean": tensors["mean"], "n": payload["n"]}


register_analysis("toy_test", "test-only analysis", AnalysisKind(_compute, ("model", "data", "scale"), _encode, _decode))


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


def test_computed_once_then_reused_with_the_cost_charged(model):
    CALLS.clear()
    store = AnalysisStore()
    data = torch.randn(10, 4)
    with CostMeter() as first:
        a = store.run("toy_test", {"model": model, "data": data, "scale": 2.0})
    with CostMeter() as second:
        b = store.run("toy_test", {"model": model, "data": data.clone(), "scale": 2.0})
    assert len(CALLS) == 1 and store.computed == 1 and not a.cached and b.cached
    assert torch.equal(a.value["mean"], b.value["mean"]) and a.key == b.key
    assert first.cost.forward_passes == second.cost.forward_passes == 10  # a hit is charged what computing cost
    assert second.cost.wall_seconds >= a.cost.wall_seconds and b.info()["cached"] is True and b.info()["analysis_forward_passes"] == 10


def test_a_changed_option_data_or_model_recomputes(model):
    CALLS.clear()
    store = AnalysisStore()
    data = torch.randn(10, 4)
    base = store.run("toy_test", {"model": model, "data": data, "scale": 2.0})
    other_scale = store.run("toy_test", {"model": model, "data": data, "scale": 3.0})
    changed = data.clone()
    changed[0, 0] += 1e-3
    other_data = store.run("toy_test", {"model": model, "data": changed, "scale": 2.0})
    with torch.no_grad():
        model.weight[0, 0] += 1e-3
    other_model = store.run("toy_test", {"model": model, "data": data, "scale": 2.0})
    assert len(CALLS) == 4 and not any(r.cached for r in (other_scale, other_data, other_model))
    assert len({base.key, other_scale.key, other_data.key, other_model.key}) == 4


def test_stored_on_disk_and_loaded_equal_to_the_computed_result(model, tmp_path):
    CALLS.clear()
    data = torch.randn(6, 4)
    computed = AnalysisStore(tmp_path).run("toy_test", {"model": model, "data": data, "scale": 1.5})
    loaded = AnalysisStore(tmp_path).run("toy_test", {"model": model, "data": data, "scale": 1.5})  # a new process: disk only
    assert len(CALLS) == 1 and loaded.cached
    assert torch.equal(loaded.value["mean"], computed.value["mean"]) and loaded.value["n"] == computed.value["n"] == 6
    folder = tmp_path / f"analysis-toy_test-{computed.key}"
    assert sorted(p.name for p in folder.iterdir()) == ["analysis.json", "tensors.safetensors"]


def test_arguments_must_match_the_kind_and_digests_tell_contents_apart():
    store = AnalysisStore()
    with pytest.raises(ConfigError, match="missing \\['scale'\\]"):
        store.run("toy_test", {"model": nn.Linear(1, 1), "data": torch.zeros(1, 1)})
    assert digest(np.arange(3)) != digest(np.arange(3).astype(np.float32)) and digest([1, 2]) != digest([2, 1])
    assert digest({1, 2}) == digest({2, 1}) and "toy_test" in ANALYSES.names()
