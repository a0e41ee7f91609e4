"""docs/byom.md's example runs as written (so it cannot rot), and its hash check passes."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "byom.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_byom_example_runs_and_leaves_verifiable_deletion_records(tmp_path, monkeypatch, capsys) -> None:
    example, verify = python_blocks()[:2]
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
