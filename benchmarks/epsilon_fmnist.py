"""Benchmark: the NeurIPS-2023 ε-score of DEL, SalUn and finetune on Fashion-MNIST (issue 4),
and how long the model pool takes in-process versus through Ray on this machine.

    python benchmarks/epsilon_fmnist.py [--models 16] [--speed-jobs 4]

Part 1 builds a pool with N originals, 2N oracles (N for the pool, N for the ceiling) and
N replicates per method, and scores them. Part 2 trains the same ``--speed-jobs`` oracle
jobs twice with empty caches, once in-process and once on a local Ray instance, and
reports the speed-up and parallel efficiency (speed-up / CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from expunge.experiments import load_config
from expunge.experiments.executors import Job, make_executor
from expunge.experiments.pool import build_pool, oracle_job
from expunge.utils import atomic_write_json, environment_info, resolve_device

BASE = {
    "name": "epsilon-fmnist",
    "dataset": {"name": "fashion_mnist"},
    "split": {"kind": "iid", "fraction": 0.1, "train_size": 3000, "test_size": 1000, "validation_fraction": 0.05, "seed": 0},
    "model": {"name": "resnet_small"},
    "recipe": {"epochs": 12, "lr": 0.05, "batch_size": 128},
    "oracles": 1,
    "methods": [
        {"name": "finetune", "unlearner": "finetune", "hyperparams": {"epochs": 3, "lr": 0.05}},
        {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"epochs": 3, "lr": 0.05}},
        {"name": "SalUn", "localizer": "salloc", "alpha": 0.5, "unlearner": "salun", "hyperparams": {"epochs": 3, "lr": 0.02}},
    ],
    "quiet": True,
}


def pool_speed(runs: Path, jobs: int, cpus: int) -> dict[str, float]:
    timings = {}
    for name in ("local", "ray"):
        cache = runs / f"speed-cache-{name}"
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(runs / f"speed-{name}", ignore_errors=True)
        config = load_config({**BASE, "cache_dir": str(cache), "out": str(runs / f"speed-{name}")})
        data = config.to_dict()
        # warm the shared split/original once so both executors time only the oracle trainings
        executor = make_executor(name, num_cpus=cpus) if name == "ray" else make_executor(name)
        out = runs / f"speed-{name}" / "npz"
        out.mkdir(parents=True, exist_ok=True)
        warm = [Job("warm", oracle_job, (data, 1000, str(out / "warm.npz")))]
        executor.map(warm)
        start = time.perf_counter()
        results = executor.map([Job(f"oracle-{k}", oracle_job, (data, k, str(out / f"{k}.npz"))) for k in range(1, jobs + 1)])
        timings[name] = time.perf_counter() - start
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        if name == "ray":
            executor.shutdown()
    speedup = timings["local"] / timings["ray"]
    return {
        "jobs": jobs,
        "cpus": cpus,
        "local_seconds": timings["local"],
        "ray_seconds": timings["ray"],
        "speedup": speedup,
        "parallel_efficiency": speedup / cpus,
        "note": "local trains with torch's default threads (all cores) per job; Ray runs one single-threaded job per CPU",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--runs", default="runs/bench-epsilon")
    parser.add_argument("--out", default="benchmarks/results/epsilon_fmnist.json")
    parser.add_argument("--speed-jobs", type=int, default=4)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    config = load_config({**BASE, "cache_dir": str(runs / "cache"), "out": str(runs / "pool")})
    start = time.perf_counter()
    pool = json.loads(build_pool(config, args.models).read_text())
    result = {"benchmark": "epsilon_fmnist", "pool_seconds": time.perf_counter() - start, "pool": {k: v for k, v in pool.items() if k != "environment"}}
    for name, side in pool["sides"].items():
        if "error" not in side:
            print(f"{name:28s} eps-score {side['epsilon_score']:.3f}  F {side['forgetting_quality']:.3f}  LiRA AUC {side['lira_auc']:.1f}  JS(forget) {side['js_forget']:.4f}")
    if not args.skip_speed:
        result["pool_speed"] = pool_speed(runs, args.speed_jobs, os.cpu_count() or 2)
        print(json.dumps(result["pool_speed"], indent=1))
    result["environment"] = environment_info(resolve_device("auto"))
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
