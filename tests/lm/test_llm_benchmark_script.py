"""The LLM benchmark's merge of runs and its seed-level comparison (benchmarks/llm_authors.py), on synthetic rows."""

from __future__ import annotations

import pytest

from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("llm_authors") as module:
        yield module


def row(method: str, seed: int, fq: float, fraction: float = 0.05, utility: float = 0.56) -> dict:
    return {
        "method": method,
        "fraction": fraction,
        "seed": seed,
        "forget_quality": fq,
        "truth_ratio_forget": 1.0 + fq,
        "utility_retain": utility,
        "utility": utility,
        "rouge_forget": 0.5,
        "concept_occurrence": 0.0,
        "oracle_concept_occurrence": 0.1,
        "mia_loss_auc": 0.5,
    }


def result(rows: list[dict], seeds: int, first_seed: int = 0, authors: int = 100) -> dict:
    scale = {
        "authors": authors,
        "corpus_seed": 0,
        "fractions": [0.05],
        "seeds": seeds,
        "first_seed": first_seed,
        "arch": {"n_layer": 2, "n_embd": 128},
        "threads": 1,
        "train_examples": 630,
        "pretrain_epochs": 30,
    }
    return {"benchmark": "llm_authors", "scale": scale, "rows": rows, "total_seconds": 10.0, "method_config": {}, "environment": {}}


def test_merge_combines_seeds_once_and_recomputes_the_summary(bench):
    seed = bench.SEED
    ref = row("original", 0, 1e-5)
    a = result([ref, row(seed, 0, 0.2), row(seed, 1, 0.4), row("NPO", 0, 0.5), row("NPO", 1, 0.5)], seeds=2)
    b = result([ref, row(seed, 2, 0.6), row("NPO", 2, 0.2)], seeds=1, first_seed=2)
    merged = bench.merge_results([a, b], ["a.json", "b.json"])
    assert len(merged["rows"]) == 7  # the reference row once
    assert merged["scale"]["seeds"] == 3 and merged["scale"]["first_seed"] == 0
    by = {s["method"]: s for s in merged["summary"]}
    assert by[seed]["n"] == 3 and by[seed]["forget_quality"] == pytest.approx(0.4)
    assert by["NPO"]["forget_quality"] == pytest.approx(0.4)
    assert merged["targets"]["0.05"]["vs"]["NPO"]["verdict"] == "met"
    assert merged["merged_from"] == ["a.json", "b.json"]


def test_merge_refuses_rows_that_disagree_or_another_scale(bench):
    a = result([row(bench.SEED, 0, 0.2)], seeds=1)
    with pytest.raises(ValueError, match="disagrees"):
        bench.merge_results([a, result([row(bench.SEED, 0, 0.3)], seeds=1)], ["a", "b"])
    with pytest.raises(ValueError, match="scale"):
        bench.merge_results([a, result([row(bench.SEED, 1, 0.3)], seeds=1, authors=50)], ["a", "b"])


def test_seed_comparison_separates_a_clear_lead_from_noise(bench):
    seed = bench.SEED
    rows = [row(seed, s, 0.8 + 0.01 * s) for s in range(8)]
    rows += [row("NPO", s, 0.1 + 0.01 * s) for s in range(8)]
    rows += [row("IDK", s, 0.75 + 0.02 * s) for s in range(8)]
    rows += [row("grad diff", 0, 0.9)]  # one seed: no spread, left out
    comp = bench.seed_comparison(rows)["0.05"]
    npo, idk = comp["vs"]["NPO"], comp["vs"]["IDK"]
    assert npo["difference"] == pytest.approx(0.7)
    assert npo["ci95"][0] > 0 and npo["reading"] == "seed method higher" and npo["mann_whitney_p"] < 0.01
    assert idk["ci95"][0] < 0 < idk["ci95"][1] and idk["reading"] == "not resolved by these seeds"
    assert "grad diff" not in comp["vs"]
    table = bench.markdown({**result(rows, seeds=8), "summary": bench.summarize(rows), "targets": bench.check_targets(bench.summarize(rows)), "seed_comparison": {"0.05": comp}})
    assert "seed-level spread" in table and "seed method higher" in table
