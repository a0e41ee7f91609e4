"""The concept benchmark's summary (benchmarks/concept_images.py): targets, oracle noise and the table, on synthetic records."""

from __future__ import annotations

import math

import pytest

from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("concept_images") as module:
        yield module


def record(method: str, c: int, seed: int, relearn: float, probe: float, target: float = 0.0, drop: float = 0.0, passes: float = 0.05, verdict: float = 1.0) -> dict:
    oracle_relearn, oracle_probe = 10.0 + seed, 50.0
    return {
        "dataset": "toy",
        "class": c,
        "seed": seed,
        "method": method,
        "target_acc_train": target,
        "target_acc_test": target,
        "other_drop_test": drop,
        "relearn_k5_full": relearn,
        "probe_penultimate": probe,
        "dist_relearn_k5_full": abs(relearn - oracle_relearn),
        "dist_probe_penultimate": abs(probe - oracle_probe),
        "relative_passes": passes,
        "seconds": 1.0,
        "verdict": verdict,
    }


def test_summary_targets_and_noise(bench):
    records = []
    for c in (0, 1):
        for seed in (0, 1):
            records += [
                record("original", c, seed, 90.0, 80.0, target=90.0, passes=0.0, verdict=0.0),
                record("retrain", c, seed, 10.0 + seed, 50.0, passes=1.0, verdict=2.0),
                record("output_mask", c, seed, 90.0, 80.0, passes=0.0),
                record("concept_poison/full", c, seed, 12.0 + seed, 55.0, drop=0.5, verdict=2.0),
                record("finetune", c, seed, 95.0, 85.0, target=5.0, drop=2.0, passes=0.4),
            ]
    records.append({"dataset": "toy", "class": 0, "seed": 0, "method": "concept_patch/full", "error": "boom"})
    s = bench.summarize(records)
    assert s["runs"] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert "concept_patch/full" not in s["overall"]  # failed runs are left out of the means
    t = s["targets"]["concept_poison/full"]
    assert t["closer_than_output_mask_on_both"] == 4 and t["runs"] == 4
    assert t["met_target_acc"] and t["met_other"] and t["met_closer_mean"] and t["met_cost"]
    f = s["targets"]["finetune"]
    assert f["closer_than_output_mask_on_both"] == 0 and not f["met_target_acc"] and not f["met_other"] and not f["met_cost"]
    noise = s["oracle_noise"]["relearn_k5_full"]
    assert noise["oracle_std_over_seeds"] == pytest.approx(0.5)  # 10 and 11 over two seeds
    assert noise["oracle_to_oracle_distance"] == pytest.approx(2 * 0.5 / math.sqrt(math.pi))
    assert noise["original_minus_oracle"] == pytest.approx(79.5)
    assert s["verdicts"]["concept_poison/full"] == {"removed from features": 4}
    text = bench.markdown({"toy": s}, [], "# toy")
    assert "| concept_poison/full |" in text and "4/4" in text and "missed" in text
