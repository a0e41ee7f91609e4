"""expunge.experiments.published_tables: merged frontier runs, table cells and generated headline lines."""

from __future__ import annotations

import json
from pathlib import Path

from expunge.experiments import published_tables as pt


def point(method: str, budget: float, cost: float, gap: float, note: str = "", n: int = 3) -> dict:
    return {
        "method": f"{method}@{budget:g}" if method != "retrain" else method,
        "base_method": method,
        "budget": budget,
        "relative_passes": cost,
        "avg_gap": gap,
        "avg_gap_std": 0.1,
        "avg_gap_auc": gap / 2,
        "avg_gap_auc_std": 0.05,
        "note": note,
        "n": n,
        "pareto": {},
    }


def write(folder: Path, stem: str, split: str, points: list[dict]) -> None:
    floor = {"avg_gap": {"mean": 0.5, "std": 0.1}, "avg_gap_auc": {"mean": 0.3, "std": 0.1}}
    (folder / f"{stem}_{split}.json").write_text(json.dumps({"modes": {split: {"points": points, "noise_floor": floor, "pools": {}, "oracle_passes": 1000}}}))


def test_merge_recomputes_fronts_over_every_budget(tmp_path: Path) -> None:
    low = [point("a", 0.1, 0.1, 5.0), point("b", 0.1, 0.2, 6.0, "over budget: the one-epoch minimum costs 0.2 × retrain"), point("retrain", 1.0, 1.0, 0.5)]
    high = [point("a", 1.0, 1.0, 0.4), point("b", 1.0, 1.0, 3.0), point("retrain", 1.0, 1.0, 0.5)]
    write(tmp_path, "frontier_fmnist", "iid", low)
    write(tmp_path, "frontier_fmnist_high", "iid", high)
    data = pt.load_frontier("iid", tmp_path)
    assert data is not None
    assert sorted(p["method"] for p in data["points"]) == ["a@0.1", "a@1", "b@0.1", "b@1", "retrain"]  # retrain once, both runs' points
    assert {p["method"] for p in data["points"] if p["pareto"]["avg_gap"]} == {"a@0.1", "a@1"}  # b@0.1 is dominated by the cheaper a@0.1
    table = pt.gap_table({"iid": data}, [0.1, 1.0])
    assert "| a | 5.00 ± 0.10★ | 0.40 ± 0.10★ |" in table
    assert "| b | 6.00 ± 0.10† | 3.00 ± 0.10 |" in table
    assert table.splitlines()[-1] == "| retrain (oracle noise floor, at 1.0) | 0.50 ± 0.10 | 0.50 ± 0.10 |"


def test_missing_split_cells_and_single_seed(tmp_path: Path) -> None:
    assert pt.load_frontier("iid", tmp_path) is None
    write(tmp_path, "frontier_fmnist", "iid", [point("a", 0.1, 0.1, 5.0, n=1), point("retrain", 1.0, 1.0, 0.5)])
    data = pt.load_frontier("iid", tmp_path)
    assert "| a | 5.00★ | – |" in pt.gap_table({"iid": data}, [0.1, 0.5])  # one seed: no spread shown
    assert pt.pool_table(data) == "(no pool ran on this split)"


def test_frontier_targets_name_the_missing_budget(tmp_path: Path) -> None:
    pts = [point("DEL", 0.1, 0.1, 1.5), point("finetune", 0.25, 0.25, 1.0), point("DEL", 0.25, 0.25, 2.5), point("retrain", 1.0, 1.0, 0.5)]
    write(tmp_path, "frontier_fmnist", "iid", pts)
    text = pt.frontier_targets({"iid": pt.load_frontier("iid", tmp_path)}, [0.1, 0.25])
    assert "Avg.Gap: **not met** at 0.25 (0.1: DEL@0.1; 0.25: –)" in text  # DEL@0.25 is dominated by the cheaper DEL@0.1
    assert "*iid, Avg.Gap ≤ 2 at 0.25:* **not met**: best DEL@0.25 2.50 ± 0.10" in text
    assert "*iid, stretch: Avg.Gap ≤ 1 at 0.1:* **not met**: best DEL@0.1 1.50 ± 0.10" in text


def test_numbers_use_a_typographic_minus_and_never_negative_zero() -> None:
    assert [pt.num(-1.234), pt.num(1.234, signed=True), pt.num(-1e-15, signed=True), pt.num(None)] == ["−1.23", "+1.23", "0.00", "–"]


def test_del_fmnist_headline_names_each_delta_over_the_target() -> None:
    summary = {k: 0.5 for k in ["delta_forget", "delta_test", "delta_mia_auc", "avg_gap", "avg_gap_auc", "relative_time", "seconds"]} | {"delta_retain": 8.7, "delta_mia": -4.0}
    mode = {
        "config": {"split": {"classes": None}, "methods": [{"name": "DEL", "alpha": 0.3, "hyperparams": {"epochs": 4}}], "model": {"name": "m"}, "recipe": {"epochs": 15}, "oracles": 3, "seeds": [0]},
        "split_sizes": {"retain": 90, "forget": 10, "validation": 5, "test": 20},
        "original": {"retain_acc": 100.0},
        "summary": {"DEL": summary},
        "targets_DEL": {"abs_deltas_within_2_points": {"delta_forget": True, "delta_retain": False, "delta_test": True, "delta_mia": False}, "met": False},
        "recovery_DEL_long": [{"epoch": 0, **dict.fromkeys(pt.DELTAS, 9.0)}, {"epoch": 1, **dict.fromkeys(pt.DELTAS, 1.0)}],
        "records": [{"method": "retrain", "seconds": 10.0}, {"method": "retrain", "seconds": 12.0}],
    }
    text = pt.del_fmnist({"modes": {"iid": mode}})
    assert "| IID | **DEL** (α=0.3), 4 epochs | +0.50 | +8.70 | +0.50 | −4.00 | +0.50 | 0.50 | 0.50 | 0.50 |" in text
    assert "**not met** (|ΔRA| 8.70, |ΔMIA-eff| 4.00 above 2)" in text
    assert "every |Δ| under 2 from epoch 1 of 1 on" in text


def test_stored_tables_match_their_results() -> None:
    """A generated file edited by hand, or left stale after its JSON changed, fails here (regenerate with benchmarks/pipeline_tables.py)."""
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    for stem, text in pt.render_all(results).items():
        assert (results / f"{stem}.md").read_text() == text, f"benchmarks/results/{stem}.md is stale or edited: run python benchmarks/pipeline_tables.py"


def test_lm_tuning_table_shows_the_chosen_trials_beside_the_defaults() -> None:
    per = {"forget_quality": 0.5, "utility": 0.6}
    trial = {"trial": 3, "hyperparams": {"epochs": 62, "lr": 0.00123456}, "per_fraction": {"0.05": {**per, "forget_quality": 0.004}, "0.1": per}, "in_idk_window": True}
    data = {
        "references": {f: [{"label": "IDK (default)", "hyperparams": {}, "forget_quality": 0.25, "utility": 0.61}] for f in ("0.05", "0.1")},
        "methods": {"lm_npo": {"best": trial, "trials": [trial, {**trial, "trial": 4, "in_idk_window": False}], "space": {"hyperparams.lr": ["loguniform", 0.0003, 0.01]}}},
        "corpus": {"num_authors": 50, "corpus_seed": 1, "evaluation_corpus_seed": 0},
        "seeds": {"unlearning": [0]},
        "passes": {"epochs": 62},
        "rule": "the stated rule",
    }
    text = pt.lm_tuning_equal_trials(data)
    assert "| IDK (default) | defaults | 0.250 | 0.250 | 0.610 | 0.610 | – |" in text
    assert "| **NPO (tuned, 2 trials)**: trial 3 | epochs 62, lr 0.001235 | 4.0e-3 | 0.500 | 0.600 | 0.600 | 1 of 2 |" in text
    assert "lr 0.0003..0.01 (loguniform)" in text and text.endswith("Rule: the stated rule")


def test_lm_dev_sweeps_keep_each_sweeps_rule_decision_and_pooled_means() -> None:
    row = {"forget_quality": 0.5, "utility_retain": 0.6, "mia_loss_auc": 0.8}
    sweep = {
        "scale": {"authors": 100, "corpus_seed": 1, "seeds": 2, "first_seed": 2},
        "variants": {"c b0.2": ["lm_concept", {"beta": 0.2}]},
        "selection_rule": "fixed before the run",
        "decision": "default kept",
        "summary": [{"method": "c b0.2", "fraction": f, "n": 2, **row} for f in (0.05, 0.1)],
        "pooled": [{"method": "c b0.2", "fraction": 0.05, "seeds": [0, 1, 2, 3], **row, "forget_quality": 1e-5}],
    }
    text = pt.lm_dev_sweeps({"purpose": "why", "note": "earlier", "sweeps": [{**sweep, "pooled": None, "selection_rule": None}, sweep]})
    assert "#### Sweep 1" in text and "#### Sweep 2" in text and "unlearning seeds 2–3 of this run" in text
    assert text.count("*Rule:* fixed before the run") == 1 and "*Decision:* default kept" in text
    assert '`c b0.2` = `lm_concept` {"beta": 0.2}' in text
    assert "| c b0.2 | 2 | 0.500 | 0.600 | 0.800 | 0.500 | 0.600 | 0.800 |" in text
    assert "| c b0.2 | 4 | 1.0e-5 | 0.600 | 0.800 |" in text  # pooled: one fraction, four seeds
