"""Cost in example passes (robust to a busy machine) and the one Seeds object."""

from __future__ import annotations

import numpy as np
import torch

from expunge.cost import CostMeter, count
from expunge.models import build_model
from expunge.seeds import Seeds
from expunge.train import Recipe, epoch_batches, train


def test_training_counts_one_pass_per_example_and_epoch(synthetic_bundle) -> None:
    model = build_model("mlp", synthetic_bundle.input_shape, synthetic_bundle.num_classes, seed=0)
    indices = np.arange(150)
    with CostMeter() as meter:
        train(model, epoch_batches(synthetic_bundle.train, indices, 32, 0), Recipe(epochs=3, lr=0.01), torch.device("cpu"), progress=False)
    assert meter.cost.passes == 3 * 150
    assert meter.cost.forward_passes == 0
    assert meter.cost.wall_seconds > 0 and meter.cost.cpu_seconds >= 0


def test_nested_meters_and_excluded_work() -> None:
    with CostMeter() as outer:
        count(10)
        with CostMeter() as inner:
            count(5, backward=False)
        with outer.exclude():
            count(100)  # not part of the method: counted by no excluded meter
    assert (outer.cost.passes, outer.cost.forward_passes) == (10, 5)
    assert (inner.cost.passes, inner.cost.forward_passes) == (0, 5)


def test_relative_cost_uses_passes_and_wall_time() -> None:
    from expunge.cost import Cost

    ratios = Cost(wall_seconds=2.0, cpu_seconds=1.0, passes=250).relative_to(Cost(wall_seconds=8.0, cpu_seconds=4.0, passes=1000))
    assert ratios == {"relative_passes": 0.25, "relative_time": 0.25, "relative_cpu": 0.25}


def test_seeds_reproduce_the_historical_streams_and_are_recorded() -> None:
    seeds = Seeds(train=3, evaluation=1, split=2)
    assert [seeds.oracle(k) for k in range(3)] == [4, 5, 6]
    assert seeds.original() == 3 and seeds.original(7) == 7
    assert seeds.unlearn_data(2, 1) == 2 * 7919 + 1
    record = seeds.record(unlearn_run=5, oracles=2)
    assert record["oracle_seeds"] == [4, 5] and record["unlearn_seed"] == 5 and record["eval_seed"] == 1
