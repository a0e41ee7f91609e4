"""The oracles' training recipe takes an optimizer (sgd | adam | adamw); a default recipe keys exactly as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import expunge
from expunge.catalog import fast_check
from expunge.data.base import IndexedTensorDataset
from expunge.errors import ConfigError
from expunge.experiments.config import load_config
from expunge.experiments.records import run_hash
from expunge.experiments.store import experiment_hash
from expunge.masks import Mask
from expunge.train import OPTIMIZERS, SCHEDULES, Recipe, epoch_batches, train
from expunge.utils import stable_hash

from .helpers import random_data, user_mlp

# Hashes computed by the code before Recipe had an optimizer (commit 445df32): they must not move.
OLD_DEFAULT_RECIPE = "592968f3b969cef8"
OLD_RECIPE_EPOCHS3_SEED5 = "a2cea661c7af68ce"
OLD_EXPERIMENT = "20aa6bd0163c4d61"
OLD_RUN = "a9e7fdbf3bdf490f"


def test_a_default_recipe_keys_and_hashes_as_before_the_optimizer_existed() -> None:
    assert "optimizer" not in Recipe().to_dict()
    assert stable_hash(Recipe().to_dict()) == OLD_DEFAULT_RECIPE
    assert stable_hash(Recipe(epochs=3, seed=5).to_dict()) == OLD_RECIPE_EPOCHS3_SEED5
    config = load_config({"recipe": {"epochs": 3, "lr": 0.1}, "methods": [{"name": "finetune"}]})
    assert experiment_hash(config.to_dict()) == OLD_EXPERIMENT
    assert run_hash(config, config.methods[0], 0) == OLD_RUN
    adam = load_config({"recipe": {"epochs": 3, "lr": 0.1, "optimizer": "adam"}, "methods": [{"name": "finetune"}]})
    assert adam.to_dict()["recipe"]["optimizer"] == "adam" and experiment_hash(adam.to_dict()) != OLD_EXPERIMENT
    assert Recipe(**adam.recipe.to_dict()) == adam.recipe  # the stored form rebuilds the recipe


def test_an_unknown_optimizer_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"recipe\.optimizer.*'adam2'.*adam.*adamw.*sgd"):
        load_config({"recipe": {"optimizer": "adam2"}})
    with pytest.raises(ConfigError, match=r"recipe\.optimizer: 'adam2'.*choose one of \['sgd', 'adam', 'adamw'\]"):
        fast_check({"recipe": {"optimizer": "adam2"}})  # the torch-free catalog check the CLI runs first
    assert fast_check({"recipe": {"optimizer": "adam"}, "methods": [{"name": "finetune"}]})["recipe"]["optimizer"] == "adam"
    with pytest.raises(ConfigError, match="recipe.optimizer"):
        Recipe(optimizer="rmsprop")
    with pytest.raises(ConfigError, match="beta1"):
        Recipe(optimizer="adam", momentum=1.0)
    with pytest.raises(ConfigError, match="retrain.optimizer"):
        expunge.retrain(user_mlp(), [0, 1], dataset=random_data(), recipe={"optimizer": "lbfgs"})


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_each_optimizer_runs_the_schedule(name: str, schedule: str, monkeypatch) -> None:
    """The learning rate each real optimizer steps with is the schedule's value for that epoch."""
    seen: list[float] = []
    spec = OPTIMIZERS[name]

    def build(params, recipe):
        optimizer = spec.build(params, recipe)
        step = optimizer.step

        def recording_step(*args, **kwargs):
            seen.append(optimizer.param_groups[0]["lr"])
            return step(*args, **kwargs)

        optimizer.step = recording_step  # type: ignore[method-assign]
        return optimizer

    monkeypatch.setitem(OPTIMIZERS, name, type(spec)(build, spec.decoupled_decay, spec.doc))
    data = random_data(64)
    model = user_mlp()
    recipe = Recipe(epochs=3, lr=0.01, batch_size=32, schedule=schedule, optimizer=name)
    log = train(model, epoch_batches(IndexedTensorDataset(*data.tensors), np.arange(64), 32, 0), recipe, torch.device("cpu"), progress=False)
    expected = [SCHEDULES[schedule](recipe, e) for e in range(3) for _ in range(2)]
    assert seen == pytest.approx(expected) and log.steps == 6
    assert log.epoch_losses[-1] < log.epoch_losses[0]  # it trains


def test_optimizers_differ_and_adamw_decay_stays_inside_the_mask() -> None:
    data = random_data(64)
    batches = epoch_batches(IndexedTensorDataset(*data.tensors), np.arange(64), 32, 0)
    finals = {}
    for name in sorted(OPTIMIZERS):
        model = user_mlp()
        train(model, batches, Recipe(epochs=2, lr=0.01, batch_size=32, optimizer=name, weight_decay=0.1), torch.device("cpu"), progress=False)
        finals[name] = model[0].weight.detach().clone()
    assert not torch.equal(finals["sgd"], finals["adam"]) and not torch.equal(finals["adam"], finals["adamw"])
    model = user_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    entries = {n: torch.zeros_like(p, dtype=torch.bool) for n, p in model.named_parameters()}
    entries["0.weight"][:8] = True  # half of one tensor, nothing of the others
    train(model, batches, Recipe(epochs=2, lr=0.01, batch_size=32, optimizer="adamw", weight_decay=0.5), torch.device("cpu"), mask=Mask(entries), progress=False)
    after = model.state_dict()
    assert torch.equal(after["0.weight"][8:], before["0.weight"][8:]) and not torch.equal(after["0.weight"][:8], before["0.weight"][:8])
    assert all(torch.equal(after[k], before[k]) for k in ("0.bias", "2.weight", "2.bias"))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_oracles_retrain_with_each_optimizer_and_the_augmentation_hook(name: str) -> None:
    data = random_data(80)
    calls: list[int] = []

    def jitter(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        calls.append(len(inputs))
        return inputs + 0.01 * torch.randn(inputs.shape, generator=generator)

    model = user_mlp()
    forget = list(range(10))
    recipe = {"epochs": 2, "lr": 0.01, "batch_size": 16, "optimizer": name}
    oracles = expunge.retrain(model, forget, dataset=data, recipe=recipe, count=1, augment=jitter)
    assert sum(calls) == 2 * 70  # every training batch of the retain set passed through the hook
    assert isinstance(oracles[0], nn.Module) and not torch.equal(oracles[0][0].weight, model[0].weight)
    evaluation = expunge.evaluate(model, forget, test=random_data(30, seed=1), dataset=data, retrain=recipe, num_oracles=1, augment=jitter)
    assert sum(calls) == 4 * 70 and "forget_acc" in evaluation.metrics


def test_the_pipeline_trains_with_the_configured_optimizer_under_its_own_cache_key(tmp_path) -> None:
    from expunge.experiments.context import prepare

    from .test_pipeline import config, write_data

    write_data(tmp_path / "data.safetensors")
    sgd = prepare(load_config(config(tmp_path)))
    adam = prepare(load_config(config(tmp_path, recipe={"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 0.01})))
    assert not adam.original.info["cache_hit"] and not adam.oracles[0].info["cache_hit"]  # never the SGD models
    assert not torch.equal(sgd.original.model.state_dict()["1.weight"], adam.original.model.state_dict()["1.weight"])
    again = prepare(load_config(config(tmp_path, recipe={"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 0.01})))
    assert again.original.info["cache_hit"] and again.oracles[0].info["cache_hit"]
    default = prepare(load_config(config(tmp_path, recipe={"epochs": 1, "batch_size": 32, "optimizer": "sgd"})))
    assert default.original.info["cache_hit"]  # writing the default out is the same recipe as leaving it out
