"""expunge.lm.equal_tuning on synthetic and stored rows: the pass accounting, the search draws and the selection rule.

The trial runs themselves are the lm-authors study's pipeline (covered by its own tests); nothing is run here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expunge.lm import equal_tuning as et

STORED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "lm_tuning_equal_trials.json"


def test_passes_match_the_stored_lm_authors_rows_and_the_trials_are_not_cheaper():
    # stored lm-authors rows (30 / 60 forget questions): lm_concept 3750 / 7500, NPO and grad diff at 30 epochs 1860 / 3720
    assert [et.concept_passes(n) for n in (30, 60)] == [3750, 7500]
    assert [et.paired_passes(n, 30) for n in (30, 60)] == [1860, 3720]
    for n in (12, 30, 60):  # development 5% / 10%, evaluation 5% / 10%
        assert et.paired_passes(n, et.EPOCHS) >= et.concept_passes(n)


def _rows(unlearner, default, trials):
    """IDK (utility 0.60: window 0.58), the method's default (utility 0.50) and one row per (forget quality, utility) trial."""
    rows = [{"label": "IDK (default)", "unlearner": "lm_idk", "trial": None, "utility": 0.60, "forget_quality": 0.1}]
    rows.append({"label": default, "unlearner": unlearner, "trial": None, "utility": 0.50, "forget_quality": 0.1})
    for i, (fq, util) in enumerate(trials):
        rows.append({"label": f"t{i}", "unlearner": unlearner, "trial": i, "hyperparams": {"lr": float(i)}, **dict.fromkeys(et.KEYS, 0.0), "forget_quality": fq, "utility": util})
    return rows


def test_rule_window_then_worse_fraction_forget_quality_then_ties():
    # per trial: (forget quality, utility) at 5% and at 10%; IDK's utility 0.60 -> window 0.58
    at05 = [(0.9, 0.50), (0.5, 0.59), (0.5, 0.62), (0.2, 0.65)]  # trial 0 forgets most but is outside the window
    at10 = [(0.9, 0.60), (0.8, 0.59), (0.8, 0.60), (0.9, 0.60)]
    fractions = {0.05: _rows("lm_npo", "NPO (default)", at05), 0.1: _rows("lm_npo", "NPO (default)", at10)}
    out = et.select(fractions, "lm_npo", "NPO (default)", trials=4)
    assert out["chosen_by"] == "IDK window"
    assert [t["in_idk_window"] for t in out["trials"]] == [False, True, True, True]
    assert out["best"]["trial"] == 2  # 1 and 2 tie at 0.5 / 0.8; 2 has the higher mean utility


def test_rule_falls_back_when_no_trial_is_inside_the_window():
    # both outside the window (0.58); trial 0 within 0.01 of the default's utility (0.50), trial 1 not
    fractions = {f: _rows("lm_grad_diff", "grad diff (default)", [(0.3, 0.495), (0.9, 0.40)]) for f in (0.05, 0.1)}
    out = et.select(fractions, "lm_grad_diff", "grad diff (default)", trials=2)
    assert out["chosen_by"] == "own default - 0.01" and out["best"]["trial"] == 0
    far = {f: _rows("lm_grad_diff", "grad diff (default)", [(0.3, 0.45), (0.9, 0.40)]) for f in (0.05, 0.1)}
    out = et.select(far, "lm_grad_diff", "grad diff (default)", trials=2)
    assert out["chosen_by"] == "closest to the IDK window" and out["best"]["trial"] == 0  # shortfall 0.13 against 0.18


@pytest.mark.skipif(not STORED.exists(), reason="no stored tuning result")
def test_the_stored_trials_are_the_seeded_draws_and_the_rule_gives_the_stored_choice():
    stored = json.loads(STORED.read_text())
    for name, entry in stored["methods"].items():
        draws = [et.trial_method("t", name, p, et.EPOCHS).hyperparams for p in et.trial_params(name)]
        assert [t["hyperparams"] for t in entry["trials"]] == draws
        # the rows the parts held, rebuilt from the stored trial table and references
        fractions = {
            float(f): refs + [{"unlearner": name, "trial": t["trial"], "hyperparams": t["hyperparams"], "label": "", **t["per_fraction"][f]} for t in entry["trials"]]
            for f, refs in stored["references"].items()
        }
        again = et.select(fractions, name, et.DEFAULT_LABELS[name])
        assert again["chosen_by"] == entry["chosen_by"] and again["best"] == entry["best"] and again["trials"] == entry["trials"]
