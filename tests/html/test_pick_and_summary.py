"""The "what to pick" rule, roles, the data collection and the page's structure (no browser)."""

from __future__ import annotations

import json
import re

import pytest

from expunge.cli import main
from expunge.errors import DataError
from expunge.html_report.collect import clean, collect
from expunge.html_report.pick import what_to_pick
from expunge.html_report.summary import BASELINE, METHOD, ORACLE, MethodSummary, Stat, role_of, summarize


def summary(method, role=METHOD, gap=None, std=None, passes=None, verdicts=(), failed=0):
    stats = {"avg_gap": Stat(gap, std, 2), "relative_passes": Stat(passes, None, 2)}
    return MethodSummary(method, role, "", 2, failed, stats, list(verdicts))


ORACLES = summary("retrain", ORACLE, gap=1.0, std=0.5, passes=1.0)


def test_pick_is_the_cheapest_method_within_the_noise_floor():
    pick = what_to_pick([ORACLES, summary("slow", gap=0.8, passes=0.5), summary("cheap", gap=1.4, passes=0.1), summary("bad", gap=9.0, passes=0.01)])
    assert pick.method == "cheap"
    assert "within the oracles' noise floor (1.50)" in pick.text and "cheapest of 2" in pick.text


def test_pick_falls_back_to_the_best_quality_and_says_how_far_it_is():
    pick = what_to_pick([ORACLES, summary("a", gap=4.0, passes=0.1), summary("b", gap=2.5, passes=0.9)])
    assert pick.method == "b" and "1.00 outside" in pick.text


def test_pick_rules_out_bad_verdicts_and_failed_seeds_and_names_trivial_baselines():
    rows = [
        ORACLES,
        summary("output-only", gap=0.1, passes=0.0, verdicts=["output-only"]),
        summary("crashy", gap=0.2, passes=0.0, failed=1),
        summary("good", gap=1.2, passes=0.3, verdicts=["removed from features"]),
        summary("output_mask", BASELINE, gap=0.5, passes=0.0),
    ]
    pick = what_to_pick(rows)
    assert pick.method == "good"
    assert "Ruled out by their verdicts: output-only (output-only)" in pick.text
    assert "trivial baseline(s) output_mask" in pick.text
    assert what_to_pick([ORACLES, rows[1]]).method is None  # nothing acceptable: no pick, and it says why
    assert what_to_pick([ORACLES]).method is None


def test_roles_come_from_the_rule_table():
    assert role_of({"method": "retrain", "unlearner": "retrain"})[0] == ORACLE
    assert role_of({"method": "x", "unlearner": "output_mask"})[0] == BASELINE
    assert role_of({"method": "x", "localizer": "random", "unlearner": "reset_finetune"})[0] == BASELINE
    assert role_of({"method": "DEL", "localizer": "del", "unlearner": "reset_finetune"})[0] == METHOD


def test_summaries_average_ok_seeds_and_count_failures():
    records = [
        {"method": "m", "avg_gap": 1.0, "forget_acc": 1, "retain_acc": 2, "test_acc": 3, "passes": 10, "status": "ok"},
        {"method": "m", "avg_gap": 3.0, "forget_acc": 1, "retain_acc": 2, "test_acc": 3, "passes": 30, "status": "ok"},
        {"method": "m", "status": "failed", "error": "boom"},
    ]
    columns, rows = summarize(records, {"metrics": {"forget_acc": 99.0}})
    assert [k for k, _ in columns][-1] == "passes" and "avg_gap" in dict(columns)
    original, m = rows
    assert original.method == "original" and original.role == BASELINE and original.stats["forget_acc"].mean == 99.0
    assert m.n == 2 and m.failed == 1 and m.errors == ["boom"] and m.stats["avg_gap"].mean == 2.0 and m.stats["avg_gap"].std == pytest.approx(2**0.5)


def test_clean_turns_nan_into_null():
    assert clean({"a": [float("nan"), 1.0, float("inf")], "b": {"c": float("nan")}}) == {"a": [None, 1.0, None], "b": {"c": None}}


def test_an_empty_folder_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(DataError, match="no results.json"):
        collect([tmp_path])
    assert main(["report", "--html", str(tmp_path / "x.html"), str(tmp_path)]) == 2
    assert "expunge run" in capsys.readouterr().err


def test_page_is_self_contained_and_holds_every_panel_the_data_allow(tiny_runs, tmp_path):
    out = tmp_path / "page.html"
    assert main(["report", "--html", str(out), str(tiny_runs)]) == 0
    html = out.read_text()
    assert not re.search(r"""<script[^>]+src=|<link[^>]+href=["']?https?:""", html)  # nothing fetched: opens offline
    data = json.loads(re.search(r'<script type="application/json" id="expunge-data">(.*?)</script>', html, re.S).group(1))
    runs = {r["label"].split("/")[-1]: r for r in data["runs"]}
    assert set(runs) == {"frontier", "plain"}
    assert set(runs["frontier"]["methods"]) == {"original", "retrain", "finetune@0.25", "finetune@0.5", "DEL@0.25", "DEL@0.5"}
    assert runs["frontier"]["frontier_points"] == 5 and runs["plain"]["frontier_points"] == 4
    assert runs["plain"]["pick"].startswith(("Pick ", "No pick"))
    for div in ("frontier-r0", "masks-r0", "frontier-r1", "masks-r1", "compare-0", "eps-0", "epsrank-0"):
        assert f'id="{div}' in html, div
    assert 'class="role-oracle"' in html and 'class="role-baseline"' in html  # retrain rows and random-mask / original highlighted
    assert "relearn-" not in html  # no class records: the class panels are skipped


def test_study_summary_becomes_tables_picks_and_target_badges(tmp_path):
    from expunge.html_report.page import write_html_report

    row = lambda gap, passes: {"avg_gap": {"mean": gap, "std": None, "n": 2}, "relative_passes": {"mean": passes, "std": None, "n": 2, "pooled": True}, "runs": {"ok": 2, "failed": 0}}  # noqa: E731
    summary = {
        "study": "tiny",
        "description": "two lrs",
        "columns": ["avg_gap", "relative_passes"],
        "baselines": ["output_mask"],
        "cells": {"total": 2, "ok": 2, "failed": 0},
        "groups": [
            {
                "label": "lr=0.05",
                "rows": {"retrain": row(2.0, 1.0), "finetune": row(1.5, 0.5), "DEL": row(9.0, 0.1), "output_mask": row(1.0, 0.0)},
                "targets": [
                    {"rule": "at_most", "statement": "finetune: avg_gap ≤ 2", "met": True, "distance": -0.5, "row": "finetune", "value": 1.5, "reference": None},
                    {"rule": "versus", "statement": "DEL beats finetune", "met": False, "distance": 7.5, "row": "DEL", "value": 9.0, "reference": 1.5},
                ],
            }
        ],
    }
    (tmp_path / "study.json").write_text(json.dumps({"study": {"name": "tiny"}, "scale": "smoke", "cells": {}}))
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    html = write_html_report(tmp_path / "page.html", [tmp_path]).read_text()
    section = html[html.index('id="study-0"') :]
    assert "Study tiny (smoke)" in section and "Pick finetune:" in section and "the trivial baseline(s) output_mask" in section
    assert '<span class="badge good">met</span> finetune: avg_gap ≤ 2' in section and '<span class="badge bad">missed</span> DEL beats finetune' in section
    assert 'class="role-oracle"' in section and 'class="role-baseline"' in section


def test_verdicts_show_as_badges_and_the_column_only_when_recorded():
    from expunge.html_report.table import table_html

    judged = [summary("retrain", ORACLE, gap=1.0), summary("good", gap=1.0, verdicts=["removed"]), summary("bad", gap=1.0, verdicts=["output-only"])]
    html = table_html("t", [("avg_gap", "Avg.Gap")], judged)
    assert '<span class="badge good">removed</span>' in html and '<span class="badge bad">output-only</span>' in html and ">verdict</th>" in html
    assert ">verdict</th>" not in table_html("t", [("avg_gap", "Avg.Gap")], [summary("plain", gap=1.0)])


def test_class_run_gets_relearn_and_probe_panels_and_verdict_badges(tiny_class_run, tmp_path):
    from expunge.html_report.page import write_html_report

    html = write_html_report(tmp_path / "page.html", [tiny_class_run]).read_text()
    for div in ("relearn-r0", "probe-r0", "frontier-r0"):
        assert f'id="{div}' in html, div
    assert ">verdict</th>" in html and html.count('<span class="badge') >= 3  # one verdict per row: oracles, finetune, output_mask
    assert ">target acc (test)</th>" in html  # the class columns, not 50 numbers
    assert "masks-r0" not in html  # no localized method: no mask panel
