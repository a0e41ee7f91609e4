"""The LLM benchmark scripts on synthetic rows: llm_authors.py (merge of runs, seed-level comparison) and llm_ig_words.py (IG word coverage)."""

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


@pytest.fixture(scope="module")
def ig_words():
    with benchmark_script("llm_ig_words") as module:
        yield module


def test_ig_word_coverage_counts_the_questions_the_chosen_words_reach(ig_words):
    # author 0: two high-scoring words in the same answer (row 0), one low-scoring word in another (row 1)
    words = [
        {"author": 0, "row": 0, "word": "a", "tokens": 3, "score": 10.0},
        {"author": 0, "row": 0, "word": "b", "tokens": 2, "score": 9.0},
        {"author": 0, "row": 1, "word": "c", "tokens": 1, "score": 1.0},
    ]
    cov = ig_words.coverage(words, k=2, draws=3000)
    assert cov["ig_top_k"] == 1.0  # a and b: one question
    assert cov["all_eligible"] == 2.0
    assert cov["random_k"] == pytest.approx(5 / 3, abs=0.05)  # {a,b} -> 1, {a,c} and {b,c} -> 2
    diag = ig_words.diagnose(words)
    assert diag["spearman_score_vs_tokens"] == pytest.approx(1.0)
    assert diag["words_by_tokens"] == {1: 1, 2: 1, 3: 1}
