"""Write the markdown files docs/benchmarks.md includes, from the stored study results (never typed by hand).

One file per table (the frontier's tables are named sections of two files); each starts with a
"generated ... do not edit" line. ``--plots`` also redraws the frontier's whole-range plots
(``frontier_fmnist_all_<split>.png``, the low- and high-budget runs merged).

    python benchmarks/pipeline_tables.py [--results benchmarks/results] [--plots]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from expunge.experiments import published_tables as pt
from expunge.utils import atomic_write_text

TABLES = {  # output stem -> (stored result files, builder)
    "del_fmnist": (["del_fmnist.json"], pt.del_fmnist),
    "del_budget_fmnist": (["del_budget_fmnist.json"], pt.del_budget),
    "grid_fmnist": (["grid_fmnist.json"], pt.grid),
    "epsilon_fmnist": (["epsilon_fmnist.json"], pt.epsilon),
    "del_mask_remainder": (["del_mask_remainder.json"], pt.del_mask_remainder),
}
FRONTIER = {"frontier_fmnist": ("frontier_fmnist_{,high_}<split>.json", pt.frontier_full), "frontier_fmnist_small": ("frontier_fmnist_{reduced,quick,reduced_pool}_<split>.json", pt.frontier_small)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", default="benchmarks/results")
    parser.add_argument("--plots", action="store_true", help="also redraw frontier_fmnist_all_<split>.png")
    args = parser.parse_args(argv)
    results = Path(args.results)
    written = {}
    for stem, (sources, build) in TABLES.items():
        data = json.loads((results / sources[0]).read_text())
        written[stem] = (", ".join(sources), build(data))
    for stem, (sources, build) in FRONTIER.items():
        written[stem] = (sources, build(results))
    for stem, (sources, body) in written.items():
        atomic_write_text(results / f"{stem}.md", pt.MARKER.format(script="benchmarks/pipeline_tables.py", sources=sources) + "\n" + body + "\n")
        print(f"wrote {results / stem}.md")
    if args.plots:
        from expunge.experiments.plots import plot_frontier

        for split in ("iid", "non_iid_2_5", "heldout_non_iid_4_6", "heldout_non_iid_1_8"):
            if (data := pt.load_frontier(split, results)) and plot_frontier(data["points"], data["noise_floor"], results / f"frontier_fmnist_all_{split}.png", pools=data["pools"]):
                print(f"drew {results}/frontier_fmnist_all_{split}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
