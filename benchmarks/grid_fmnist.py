"""Benchmark: the DEL paper's localization x algorithm grid on Fashion-MNIST (issue 3).

Localizers x masked algorithms at alpha in {0.1, 0.3}, the DEL variants (per-layer budget,
layer-normalised scores, reset to the original's own init, distillation recovery), and the
full-parameter methods, on IID and non-IID forget sets with 3 seeds. Every entry gets the
same finetuning budget as DEL in the quick demo (3 of the 12 pretraining epochs, ~25% of a
retrain). To fit a grid of ~90 entries x 3 seeds x 2 forget sets on 2 CPU cores it runs at
the quick demo's scale (a 3,000-example pool); ``--preset demo`` runs it at full demo size.
Writes one JSON with every record and a table of Avg.Gap (both definitions) and relative time.

    python benchmarks/grid_fmnist.py [--seeds 0 1 2] [--alphas 0.1 0.3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from expunge.cli import preset_path
from expunge.experiments import load_config, run_experiment
from expunge.utils import atomic_write_json, environment_info, resolve_device

MODES = {"iid": ["split.kind=iid"], "non_iid": ["split.kind=non_iid", "split.classes=[2, 5]"]}
FT = {"epochs": 3, "lr": 0.05}
LOCALIZERS = {
    "DEL": ("del", {}),
    "SalLoc": ("salloc", {}),
    "Random": ("random", {}),
    "Deepest": ("deepest", {}),
    "Shallowest": ("shallowest", {}),
    "SSD-imp": ("ssd_importance", {}),
    "CritMem": ("critmem", {"max_examples": 64}),  # mask = the union of critical channels, capped at alpha
    "WGrad-param": ("gradient", {"criterion": "weighted_grad", "granularity": "param"}),
    "DEL-train": ("gradient", {"criterion": "weighted_grad", "granularity": "channel", "data_source": "train"}),
}
MASKED_ALGORITHMS = {
    "reset_finetune": dict(FT),
    "finetune": dict(FT),
    "neggrad_plus": {"epochs": 3, "lr": 0.02},
    "random_label": {"epochs": 3, "lr": 0.02},
}
FULL_PARAMETER = {
    "finetune": ("finetune", dict(FT)),
    "GA": ("ga", {}),
    "NegGrad+": ("neggrad_plus", {"epochs": 3, "lr": 0.02}),
    "RandomLabel": ("random_label", {"epochs": 3, "lr": 0.02}),
    "l1-sparse": ("l1_sparse", {"epochs": 3, "lr": 0.02}),
    "SCRUB": ("scrub", {}),
    "SSD": ("ssd", {}),
    "BadTeacher": ("bad_teacher", {}),
}


def methods(alphas: list[float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for alpha in alphas:
        for loc_name, (localizer, options) in LOCALIZERS.items():
            for algorithm, hyper in MASKED_ALGORITHMS.items():
                out.append({"name": f"{loc_name}+{algorithm}@{alpha}", "localizer": localizer, "localizer_options": options, "alpha": alpha, "unlearner": algorithm, "hyperparams": hyper})
        out.append({"name": f"SalUn@{alpha}", "localizer": "salloc", "alpha": alpha, "unlearner": "salun", "hyperparams": {"epochs": 3, "lr": 0.02}})
        variants = {
            "per_layer": {"budget": "per_layer"},
            "own_init": {"hyperparams": {**FT, "reset": "original_init"}},
            "distill": {"hyperparams": {**FT, "distill_weight": 0.5}},
        }
        for tag, change in variants.items():
            out.append({"name": f"DEL[{tag}]@{alpha}", "localizer": "del", "alpha": alpha, "unlearner": "reset_finetune", "hyperparams": dict(FT), **change})
    for name, (algorithm, hyper) in FULL_PARAMETER.items():
        out.append({"name": f"{name} (full)", "unlearner": algorithm, "hyperparams": hyper})
    return out


def table(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name in dict.fromkeys(r["method"] for r in records):
        ok = [r for r in records if r["method"] == name and r["status"] == "ok"]
        failed = sum(1 for r in records if r["method"] == name and r["status"] != "ok")
        row: dict[str, Any] = {"method": name, "n": len(ok), "failed": failed}
        for k in ("avg_gap", "avg_gap_auc", "relative_time", "delta_forget", "delta_retain", "delta_test", "delta_mia", "delta_mia_auc"):
            vals = np.array([r[k] for r in ok], dtype=float)
            row[k] = float(vals.mean()) if len(vals) else None
            row[f"{k}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else None
        rows.append(row)
    return sorted(rows, key=lambda r: (r["avg_gap"] is None, r["avg_gap"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/grid_fmnist.json")
    parser.add_argument("--runs", default="runs/bench-grid")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--preset", default="demo-quick", choices=["demo-quick", "demo"])
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "grid_fmnist", "modes": {}}
    for mode in args.modes:
        config = load_config(preset_path(args.preset), [f"out={args.runs}/{mode}", f"seeds={args.seeds}", "quiet=true", f"name=grid-{mode}", *MODES[mode]])
        data = config.to_dict()
        data["methods"] = methods(args.alphas)
        config = load_config(data)
        records = run_experiment(config)
        rows = table(records)
        result["modes"][mode] = {
            "table": rows,
            "records": [{k: v for k, v in r.items() if k not in ("config", "environment", "mask_layers")} for r in records],
            "config": {k: v for k, v in data.items() if k != "methods"},
        }
        atomic_write_json(args.out, {**result, "environment": environment_info(resolve_device("auto"))})
        print(f"[{mode}] best 10 by Avg.Gap:")
        for r in rows[:10]:
            print(f"  {r['method']:34s} avg_gap {r['avg_gap']:.2f}  avg_gap_auc {r['avg_gap_auc']:.2f}  x retrain {r['relative_time']:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
