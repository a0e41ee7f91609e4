"""Tables of the class-leaderboard study for docs/benchmarks.md, from its stored study folder (nothing is run).

The class verdict's "moved toward the oracles" condition was chosen after reading the first 10 finished
tasks of this study (classes 0-2 x seeds 0-2 and class 3, seed 0). This script writes the leaderboard of
every task, and the verdict calibration on those 10 tasks apart from the tasks the choice never saw.

    python benchmarks/class_leaderboard_tables.py runs/class-leaderboard

Writes benchmarks/results/class_leaderboard.md (included by docs/benchmarks.md) and class_leaderboard.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from expunge.evaluate.class_summary import calibration_markdown
from expunge.experiments.study_summary import summarize_study, tables_markdown
from expunge.utils import atomic_write_json, atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
SEEN = [f"classes-{c}__seed-{s}" for c in range(3) for s in range(3)] + ["classes-3__seed-0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dir")
    args = parser.parse_args()
    cells = list(json.loads((Path(args.study_dir) / "study.json").read_text())["cells"])
    whole = summarize_study(args.study_dir)
    parts = {"seen when the rule was chosen": [c for c in cells if c in SEEN], "never seen": [c for c in cells if c not in SEEN]}
    lines = [tables_markdown(whole).rstrip(), "", "Verdict calibration, the tasks the rule was chosen on apart from the others:", ""]
    split = {}
    for label, subset in parts.items():
        calibration = summarize_study(args.study_dir, subset)["groups"][0].get("class_verdicts", {}).get("calibration")
        split[label] = calibration
        if calibration:
            lines += [f"*{label}* ({len(subset)} tasks):", "", *calibration_markdown(calibration), ""]
    atomic_write_text(RESULTS / "class_leaderboard.md", "\n".join(lines) + "\n")
    atomic_write_json(RESULTS / "class_leaderboard.json", {"summary": whole, "calibration_split": split, "seen_cells": SEEN})
    print(f"wrote {RESULTS / 'class_leaderboard.md'} and {RESULTS / 'class_leaderboard.json'}")


if __name__ == "__main__":
    main()
