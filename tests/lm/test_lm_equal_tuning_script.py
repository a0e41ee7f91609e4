"""benchmarks/lm_equal_tuning.py on synthetic rows: the pass accounting and the selection rule (the runs are the study's pipeline)."""

from __future__ import annotations

import pytest

from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def tuning():
    with benchmark_script("lm_equal_tuning") as module:
        yield module


def test_passes_match_the_stored_lm_authors_rows_and_the_trials_are_not_cheaper(tuning):
    # stored lm-authors rows (30 / 60 forget questions): lm_concept 3750 / 7500, NPO and grad diff at 30 epochs 1860 / 3720
    assert [tuning.concept_passes(n) for n in (30, 60)] == [3750, 7500]
    assert [tuning.paired_passes(n, 30) for n in (30, 60)] == [1860, 3720]
    for n in (12, 30, 60):  # development 5% / 10%, evaluation 5% / 10%
        assert tuning.paired_passes(n, tuning.EPOCHS) >= tuning.concept_passes(n)


def _rows(tuning, unlearner, default, trials):
    """IDK (utility 0.60: window 0.58), the method's default (utility 0.50) and one row per (forget quality, utility) trial."""
    rows = [{"label": "IDK (default)", "unlearner": "lm_idk", "trial": None, "utility": 0.60, "forget_quality": 0.1}]
    rows.append({"label": default, "unlearner": unlearner, "trial": None, "utility": 0.50, "forget_quality": 0.1})
    for i, (fq, util) in enumerate(trials):
        rows.append({"label": f"t{i}", "unlearner": unlearner, "trial": i, "hyperparams": {"lr": float(i)}, **dict.fromkeys(tuning.KEYS, 0.0), "forget_quality": fq, "utility": util})
    return rows


def test_rule_window_then_worse_fraction_forget_quality_then_ties(tuning, monkeypatch):
    monkeypatch.setattr(tuning, "TRIALS", 4)
    # per trial: (forget quality, utility) at 5% and at 10%; IDK's utility 0.60 -> window 0.58
    at05 = [(0.9, 0.50), (0.5, 0.59), (0.5, 0.62), (0.2, 0.65)]  # trial 0 forgets most but is outside the window
    at10 = [(0.9, 0.60), (0.8, 0.59), (0.8, 0.60), (0.9, 0.60)]
    fractions = {0.05: _rows(tuning, "lm_npo", "NPO (default)", at05), 0.1: _rows(tuning, "lm_npo", "NPO (default)", at10)}
    out = tuning.select(fractions, "lm_npo", "NPO (default)")
    assert out["chosen_by"] == "IDK window"
    assert [t["in_idk_window"] for t in out["trials"]] == [False, True, True, True]
    assert out["best"]["trial"] == 2  # 1 and 2 tie at 0.5 / 0.8; 2 has the higher mean utility


def test_rule_falls_back_when_no_trial_is_inside_the_window(tuning, monkeypatch):
    monkeypatch.setattr(tuning, "TRIALS", 2)
    # both outside the window (0.58); trial 0 within 0.01 of the default's utility (0.50), trial 1 not
    fractions = {f: _rows(tuning, "lm_grad_diff", "grad diff (default)", [(0.3, 0.495), (0.9, 0.40)]) for f in (0.05, 0.1)}
    out = tuning.select(fractions, "lm_grad_diff", "grad diff (default)")
    assert out["chosen_by"] == "own default - 0.01" and out["best"]["trial"] == 0
