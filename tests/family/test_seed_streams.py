"""Every seed comes from ``Seeds``; the streams that replaced ``seed * 7919 + k`` give the same numbers (cached models and stored results stay valid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from expunge.data.base import IndexedTensorDataset
from expunge.data.splits import ForgetSplit
from expunge.seeds import Seeds
from expunge.train import Recipe
from expunge.unlearn.base import UnlearningTask


def task(seed: int) -> UnlearningTask:
    data = IndexedTensorDataset(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
    split = ForgetSplit(forget=np.array([0]), retain=np.array([1, 2]), validation=np.array([3]), test=np.array([0]), num_train=4, num_test=1)
    return UnlearningTask(data, split, torch.device("cpu"), lambda s: torch.nn.Linear(1, 1), Recipe(), seed=seed, progress=False)


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("stream", [11, 12, 13, 17, 19])
def test_task_streams_equal_the_former_formula(seed: int, stream: int) -> None:
    # The concept and lm unlearners used ``task.seed * 7919 + stream`` for these streams.
    assert task(seed).stream(stream) == seed * 7919 + stream


def test_relearn_seeds_equal_the_former_formula_and_pinned_values() -> None:
    for evaluation in (0, 3):
        for k in (1, 5, 10):
            for draw in range(3):
                assert Seeds.relearn_draw(evaluation, k, draw) == evaluation + 1000 * k + 7919 * draw
                assert Seeds.relearn_attack(evaluation, draw) == evaluation + 7919 * draw
    assert (task(2).stream(12), Seeds.relearn_draw(0, 5, 2), Seeds.relearn_attack(1, 1)) == (15850, 20838, 7920)


def test_streams_of_one_run_do_not_collide() -> None:
    streams = [task(3).stream(k) for k in (0, 1, 2, 11, 12, 13, 17, 19)]
    assert len(set(streams)) == len(streams)
