"""expunge.unlearn / expunge.evaluate on a plain nn.Module and TensorDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

import expunge
from expunge.api import DEL_BY_BUDGET, default_del
from expunge.cache import state_to_cpu
from expunge.errors import ConfigError

from .helpers import fit, random_data, user_mlp

FORGET = np.arange(0, 200, 10)  # 20 of 200
RETAIN = np.setdiff1d(np.arange(200), FORGET)


@pytest.fixture(scope="module")
def trained():
    data = random_data()
    model = user_mlp()
    init = state_to_cpu(model)
    fit(model, data, np.arange(200))
    return model, data, init


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_api_names_are_functions_and_the_subpackages_still_import() -> None:
    from expunge.evaluate import METRICS
    from expunge.unlearn import UNLEARNERS

    assert callable(expunge.unlearn) and callable(expunge.evaluate)
    assert "reset_finetune" in UNLEARNERS.names() and "accuracy" in METRICS.names()


def test_unlearn_takes_plain_datasets_and_leaves_the_model_unchanged(trained) -> None:
    model, data, _ = trained
    before = state_to_cpu(model)
    result = expunge.unlearn(model, Subset(data, FORGET.tolist()), DataLoader(Subset(data, RETAIN.tolist()), batch_size=7))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the input is untouched
    assert not same(result.model, model) and result.original is model
    assert result.method.startswith("DEL-small-batch")  # no init_state: the fresh-reset variant at the default budget 0.25
    assert result.mask is not None and 0 < result.mask.fraction() < 1
    assert result.cost.passes > 0 and result.cost.wall_seconds > 0
    assert result.forget.tolist() == list(range(20))  # datasets are laid out forget first


def test_the_recorded_call_reproduces_the_run(trained) -> None:
    model, data, _ = trained
    first = expunge.unlearn(model, FORGET, dataset=data, method="finetune", budget=0.5, retrain_epochs=4, lr=0.01)
    again = expunge.unlearn(model, FORGET, dataset=data, **first.config["call"])
    assert same(first.model, again.model)
    # budget 0.5 of a 4-epoch retrain on the retain set -> 2 finetune epochs over the retain set
    assert first.config["method_config"]["hyperparams"]["epochs"] == 2
    assert first.cost.passes == 2 * len(RETAIN)


def test_default_del_follows_the_frontier_table(trained) -> None:
    assert default_del(0.05, True) == "DEL-combo" and default_del(0.05, False) == "DEL-shrink-perturb"
    assert default_del(0.25, True) == "DEL-own-init-small-batch" and default_del(0.3, False) == "DEL-small-batch"
    assert default_del(1.0, True) == default_del(1.0, False) == "DEL" == DEL_BY_BUDGET[-1][1]
    model, data, init = trained
    with_init = expunge.unlearn(model, FORGET, dataset=data, init_state=init, budget=0.25)
    assert with_init.method.startswith("DEL-own-init-small-batch")
    with pytest.raises(ConfigError, match="original_init"):
        expunge.unlearn(model, FORGET, dataset=data, method="DEL-combo")  # needs the original's init


def test_bad_input_names_the_fix(trained) -> None:
    model, data, _ = trained
    with pytest.raises(ConfigError, match="dataset="):
        expunge.unlearn(model, FORGET)
    with pytest.raises(ConfigError, match="not a registered unlearner"):
        expunge.unlearn(model, FORGET, dataset=data, method="no_such_method")
    with pytest.raises(ConfigError, match="retain="):
        expunge.unlearn(model, Subset(data, FORGET.tolist()))
    with pytest.raises(ConfigError, match="budget"):
        expunge.unlearn(model, FORGET, dataset=data, budget=2.0)
    with pytest.raises(ConfigError, match="exactly one"):
        expunge.evaluate(model, FORGET, test=random_data(50, seed=1), dataset=data)


def test_evaluate_against_retrained_models(trained) -> None:
    model, data, _ = trained
    test = random_data(60, seed=1)
    evaluation = expunge.evaluate(model, FORGET, test=test, dataset=data, retrain={"epochs": 40, "lr": 0.1, "batch_size": 32}, num_oracles=2)
    assert len(evaluation.oracles) == 2 and evaluation.oracle_cost is not None
    # random labels: the original memorised the forget set, models retrained without it cannot know it
    assert evaluation.metrics["forget_acc"] > 90 and evaluation.deltas["delta_forget"] < -40
    assert np.mean([o["retain_acc"] for o in evaluation.oracles]) > 90
    table = evaluation.table()
    assert "forget_acc" in table and "avg_gap" in table and "oracle floor" in table
    assert evaluation.verdict.startswith("outside the oracles' noise floor") and "delta_forget" in evaluation.verdict  # the untouched original
    # scored against itself as the only oracle, every Δ is zero; an empty pool is refused
    own = expunge.evaluate(model, FORGET, test=test, dataset=data, oracles=[model])
    assert own.deltas["avg_gap"] == 0.0 and own.verdict == "within the oracles' noise floor"
    with pytest.raises(ConfigError, match="empty"):
        expunge.evaluate(model, FORGET, test=test, dataset=data, oracles=[])
