"""docs/byom.md's example runs as written (so it cannot rot), and its hash check passes."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "byom.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def block(text: str) -> str:
    """The page's python block containing ``text``."""
    return next(b for b in python_blocks() if text in b)


def test_the_byom_example_runs_and_leaves_verifiable_deletion_records(tmp_path, monkeypatch, capsys) -> None:
    from expunge.evaluate.verdicts import VERDICTS

    example, verify, removal = python_blocks()[0], block("hashlib"), block("ForgetClass")
    assert len(example.strip().splitlines()) <= 30
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "DEL-" in out and "finetune@0.25" in out and "avg_gap" in out
    for method in ("del", "finetune"):
        record = json.loads((tmp_path / f"deletion-{method}" / "deletion_record.json").read_text())
        assert record["forget_count"] == 20 and record["metrics"]["forget_acc"] >= 0
    exec(compile(verify, str(DOC), "exec"), namespace)  # the page's own check of both hashes
    # the class-removal example continues the same script
    assert len(removal.strip().splitlines()) <= 10
    exec(compile(removal, str(DOC), "exec"), namespace)
    evaluation = namespace["evaluation"]
    assert evaluation.verdict in VERDICTS and evaluation.calibration is not None
    assert evaluation.metrics["target_acc_test"] < evaluation.original["target_acc_test"]
    assert all(o["target_acc_test"] == 0 for o in evaluation.oracles)  # retrained without class 2
    record = json.loads((tmp_path / "deletion-class-2" / "deletion_record.json").read_text())
    assert record["forget_classes"] == [2] and record["verdict"] == evaluation.verdict
    assert "Calibration of the verdict" in capsys.readouterr().out
