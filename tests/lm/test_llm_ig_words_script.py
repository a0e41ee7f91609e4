"""benchmarks/llm_ig_words.py on synthetic rows: the IG word coverage (the benchmark loop itself is the lm-authors study)."""

from __future__ import annotations

import pytest

from tests.benchmark_scripts import benchmark_script


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
