"""Tables of the class-leaderboard study for docs/benchmarks.md, from its stored study folder (nothing is run).

The class verdict's "moved toward the oracles" condition was chosen after reading the first 10 finished
tasks of this study (classes 0-2 x seeds 0-2 and class 3, seed 0). The report
(``expunge.experiments.published_tables.class_leaderboard_report``) holds the leaderboard of every task,
every row's verdict counts (trivial baselines beside the methods), the reading of the goal (met, or which
row comes closest and with which numbers), the verdict calibration on those 10 tasks apart from the tasks
the choice never saw, and how many distinct oracle models stand behind the oracle rows.

    python benchmarks/class_leaderboard_tables.py runs/class-leaderboard

Writes benchmarks/results/class_leaderboard.md (included by docs/benchmarks.md) and class_leaderboard.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from expunge.experiments.published_tables import class_leaderboard_report
from expunge.utils import atomic_write_json, atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("study_dir")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    text, data = class_leaderboard_report(Path(args.study_dir))
    atomic_write_text(args.results / "class_leaderboard.md", text)
    atomic_write_json(args.results / "class_leaderboard.json", data)
    print(f"wrote {args.results / 'class_leaderboard.md'} and {args.results / 'class_leaderboard.json'}")


if __name__ == "__main__":
    main()
