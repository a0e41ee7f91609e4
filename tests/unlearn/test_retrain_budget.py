"""retrain_budget: a fresh model on the retain set, exactly within its budget of passes, blind to the input weights."""

from __future__ import annotations

import pytest
import torch

from expunge.cost import CostMeter
from expunge.errors import ConfigError
from expunge.unlearn import UNLEARNERS
from expunge.unlearn.retrain_budget import RetrainBudget, budget_passes, capped


def test_registered_for_classifiers_only():
    assert isinstance(UNLEARNERS.get("retrain_budget")(), RetrainBudget)
    assert UNLEARNERS.families("retrain_budget") == ("classifier",)


@pytest.mark.parametrize("budget", [0.1, 0.25])
def test_passes_equal_the_budget(iid, budget):
    task = iid.task()
    with CostMeter() as meter:
        RetrainBudget(budget=budget).unlearn(iid.model(), task)
    expected = budget_passes(budget, iid.recipe.epochs, len(iid.split.retain))
    assert meter.cost.passes == expected == task.notes["budget_passes"]
    assert task.notes["epochs"] == -(-expected // len(iid.split.retain))


def test_output_does_not_depend_on_the_input_model(iid):
    trained, untrained = iid.model(), iid.model()
    with torch.no_grad():
        for p in untrained.parameters():
            p.normal_()
    a = RetrainBudget(budget=0.3).unlearn(trained, iid.task(seed=3))
    b = RetrainBudget(budget=0.3).unlearn(untrained, iid.task(seed=3))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    c = RetrainBudget(budget=0.3).unlearn(iid.model(), iid.task(seed=4))
    assert any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))  # the seed does matter


def test_full_budget_learns_the_retain_set(iid):
    model = RetrainBudget(budget=1.0).unlearn(iid.model(), iid.task())
    assert iid.accuracy(model, "retain") > 0.9


def test_capped_cuts_the_last_batch_and_spans_epochs():
    batch = (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    make = capped(lambda epoch: [batch, batch], 10)
    sizes = [len(b[1]) for e in range(3) for b in make(e)]
    assert sizes == [4, 4, 2]


@pytest.mark.parametrize("budget", [0.0, 1.5])
def test_budget_out_of_range_is_a_config_error(iid, budget):
    with pytest.raises(ConfigError, match="budget"):
        RetrainBudget(budget=budget).unlearn(iid.model(), iid.task())


def test_each_original_gets_its_own_equal_cost_retrain(iid):
    from dataclasses import replace

    from expunge.seeds import Seeds

    task0, task1 = iid.task(seed=3), iid.task(seed=3)
    task1 = replace(task1, seeds=Seeds(train=1))
    a = RetrainBudget(budget=0.3).unlearn(iid.model(), task0)
    b = RetrainBudget(budget=0.3).unlearn(iid.model(), task1)
    assert any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))  # train seed 1 vs 0
    seeds = [Seeds(train=t).equal_cost_retrain(r) for t in range(5) for r in range(3)]
    assert len(set(seeds)) == 15 and not set(seeds) & ({Seeds(train=t).oracle(i) for t in range(5) for i in range(3)} | set(range(5)))
