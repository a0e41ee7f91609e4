"""Write the markdown files docs/benchmarks.md includes, from the stored study results (never typed by hand).

One file per study (the frontier's tables are named sections), built by
``expunge.experiments.published_tables``; each starts with a "generated ... do not edit" line, and a test
fails when a file differs from what its stored results give. ``--plots`` also redraws the frontier's
whole-range plots (``frontier_fmnist_all_<split>.png``, the low- and high-budget runs merged).

    python benchmarks/pipeline_tables.py [--results benchmarks/results] [--plots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from expunge.experiments import published_tables as pt
from expunge.utils import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", default="benchmarks/results")
    parser.add_argument("--plots", action="store_true", help="also redraw frontier_fmnist_all_<split>.png")
    args = parser.parse_args(argv)
    results = Path(args.results)
    for stem, text in pt.render_all(results).items():
        atomic_write_text(results / f"{stem}.md", text)
        print(f"wrote {results / stem}.md")
    if args.plots:
        from expunge.experiments.plots import plot_frontier

        for split in ("iid", "non_iid_2_5", "heldout_non_iid_4_6", "heldout_non_iid_1_8"):
            if (data := pt.load_frontier(split, results)) and plot_frontier(data["points"], data["noise_floor"], results / f"frontier_fmnist_all_{split}.png", pools=data["pools"]):
                print(f"drew {results}/frontier_fmnist_all_{split}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
