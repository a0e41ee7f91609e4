"""A study summary re-judges stored class verdicts by the current rule, from the stored numbers alone."""

from __future__ import annotations

from expunge.evaluate.class_summary import rejudge_cell
from expunge.evaluate.verdicts import VERDICTS, verdict_name


def _row(relearn: float, probe: float, target: float = 0.0, other: float = 80.0, **extra) -> dict:
    return {"target_acc_test": target, "other_acc_test": other, "relearn_k5_head": relearn, "probe_penultimate": probe, **extra}


ORACLES = [_row(55.0, 74.0), _row(63.0, 76.0), _row(71.0, 78.0)]
ORIGINAL = _row(70.0, 77.5, target=85.0)
REMOVED = float(VERDICTS.index("removed"))


def test_stale_verdicts_are_judged_again_and_the_calibration_follows() -> None:
    records = [{"method": "retrain", "seed": k, "status": "ok", "verdict": REMOVED, **o} for k, o in enumerate(ORACLES)] + [
        {"method": "output_mask", "seed": 0, "status": "ok", "verdict": REMOVED, **_row(70.0, 77.5)},  # an older rule said removed
        {"method": "moved", "seed": 0, "status": "ok", "verdict": REMOVED, **_row(62.0, 76.0)},
        {"method": "failed", "seed": 0, "status": "failed", "verdict": None},
    ]
    stale = {"checks": {"output_mask": {"expected": "output-only", "verdict": "removed", "passed": False}, "destroyed": {"expected": "broke the model", "verdict": "broke the model", "passed": True}}}
    judged, block = rejudge_cell(records, ORIGINAL, ORACLES, stale)
    by_method = {r["method"]: r for r in judged if r["method"] != "retrain"}
    assert verdict_name(by_method["output_mask"]["verdict"]) == "output-only"
    assert verdict_name(by_method["moved"]["verdict"]) == "removed"
    assert by_method["failed"]["verdict"] is None
    assert verdict_name(judged[1]["verdict"]) == "removed"  # the middle oracle against the other two
    assert block is not None and block["checks"]["output_mask"]["passed"] is True
    assert block["checks"]["destroyed"]["verdict"] == "broke the model"  # kept: the rule's extra condition cannot change it
    assert block["oracles_against_others"]["oracles"] == 3 and "closer to that mean than the original" in block["rule"]


def test_records_without_class_verdicts_pass_through() -> None:
    records = [{"method": "finetune", "seed": 0, "status": "ok", "avg_gap": 3.0}]
    judged, block = rejudge_cell(records, {"avg_gap": 0.0}, [{"avg_gap": 1.0}], None)
    assert judged == records and block is None
