"""Scale-out of a study, measured: the same study of 8 cells run sequentially (one thread) and on a 2-worker local Ray cluster.

Each cell is one method run of about 30 s at one thread (Fashion-MNIST, the quick demo's recipe, a
half-width ResNet) on models the study shares through the model cache. The original and the oracles
are trained (or loaded) once before either timing, so both runs read the same cached models; the
whole study is timed, planning, model loading, the Ray start, the dataset put into the object store
and the summary included. Parallel efficiency = sequential seconds / (2 x parallel seconds).

    python benchmarks/study_scaleout.py [--cells 8] [--epochs 3]

Writes benchmarks/results/study_scaleout.json, .png and .md (the table docs/benchmarks.md includes). The load average is sampled every 2 s during
each run: on a machine shared with other jobs the efficiency reads low, and the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import torch

from expunge.experiments.study import run_study
from expunge.experiments.study_plan import load_study, plan_cells
from expunge.utils import atomic_write_json, atomic_write_text, environment_info

RESULTS = Path(__file__).resolve().parent / "results"


def study(cells: int, epochs: int, cache: Path, executor: dict[str, Any]) -> dict[str, Any]:
    """``cells`` finetune runs (lr x unlearning seed), one per cell, on one shared original and its oracles."""
    lrs = [0.05, 0.03, 0.02, 0.01][: max(1, cells // 2)]
    return {
        "name": "scaleout",
        "description": "8 cells of ~30 s each on shared cached models",
        "base": "demo-quick",
        "overrides": {
            "split.train_size": 1500,
            "split.test_size": 500,
            "model.options.width": 8,
            "oracles": 2,
            "methods": [{"name": "finetune", "hyperparams": {"epochs": epochs, "lr": 0.05}}],
            "cache_dir": str(cache),
            "quiet": True,
            "executor": executor,
        },
        "axes": {"lr": {"key": "methods.0.hyperparams.lr", "values": lrs}, "seeds": list(range(cells // len(lrs)))},
        "aggregate": ["seeds"],
        "scales": {"smoke": [], "published": []},
    }


class LoadSampler:
    """The 1-minute load average every ``period`` seconds while the block runs."""

    def __init__(self, period: float = 2.0) -> None:
        self.period, self.samples, self._stop = period, [], threading.Event()

    def __enter__(self) -> LoadSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(os.getloadavg()[0])

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        s = self.samples or [os.getloadavg()[0]]
        return {"mean": sum(s) / len(s), "max": max(s), "samples": len(s)}


def timed(spec: dict[str, Any], out: Path, executor: Any = None) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    with LoadSampler() as load:
        start = time.perf_counter()
        path = run_study(spec, "published", out, executor=executor)
        seconds = time.perf_counter() - start
    cells = json.loads(path.read_text())["cells"]
    ok = sum(c["status"] == "ok" for c in cells.values())
    spans = sorted((c["finished"] - c["seconds"], c["finished"]) for c in cells.values() if c["status"] == "ok")
    t0 = min(s for s, _ in spans)
    return {"seconds": seconds, "cells_ok": ok, "cell_seconds": [c.get("seconds") for c in cells.values()], "spans": [(s - t0, f - t0) for s, f in spans], "load_average": load.summary()}


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 2]})
    seq, par = result["sequential"], result["ray"]
    axes[0].bar(["sequential\n1 thread", "Ray\n2 workers"], [seq["seconds"], par["seconds"]], color=["#777", "#1f77b4"])
    axes[0].set_ylabel("whole study, seconds")
    axes[0].set_title(f"efficiency {result['parallel_efficiency']:.2f}")
    for row, run in enumerate((seq, par)):
        for s, f in run["spans"]:
            axes[1].barh(row, f - s, left=s, height=0.6, color="#777" if row == 0 else "#1f77b4", edgecolor="white")
    axes[1].set_yticks([0, 1], ["sequential", "Ray (2 workers)"])
    axes[1].set_xlabel("seconds since the first cell started (cells as bars; Ray bars overlap two at a time)")
    fig.suptitle(f"{result['cells']} cells of ~{result['mean_cell_seconds_sequential']:.0f} s; load average {seq['load_average']['mean']:.1f} / {par['load_average']['mean']:.1f} (sequential / Ray)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def derived(result: dict[str, Any]) -> dict[str, Any]:
    """Numbers read off a stored run: the Ray workers' busy share tells the executor's overhead apart from CPU contention."""
    par, seq = result["ray"], result["sequential"]
    busy = sum(s for s in par["cell_seconds"] if s) / (2 * par["seconds"])
    slowdown = (sum(s for s in par["cell_seconds"] if s) / len(par["cell_seconds"])) / result["mean_cell_seconds_sequential"]
    return {**result, "ray_worker_busy_fraction": busy, "ray_cell_slowdown": slowdown, "sequential_load_average": seq["load_average"]["mean"]}


def why_slower(result: dict[str, Any]) -> str:
    """What the load average says about a cell's slowdown beside a second one."""
    load = result["sequential_load_average"]
    if load > 1.3:
        return f"the load average was {load:.1f} during the sequential run (1 of it ours), so other jobs held the second core."
    quiet = f"the machine was otherwise quiet (load average {load:.1f} during the sequential run, 1 of it ours), "
    if result["ray_cell_slowdown"] > 1.02:
        return quiet + "so what slows a cell beside a second one is the two workers sharing the memory bandwidth."
    return quiet + "and a cell ran no slower beside a second one: what is lost is the executor's own time."


def markdown(result: dict[str, Any]) -> str:
    """The docs table (included by docs/benchmarks.md; regenerated by every run, never edited)."""
    seq, par = result["sequential"], result["ray"]
    rows = [
        "<!-- generated by benchmarks/study_scaleout.py; do not edit -->",
        "| run | whole study, s | cells ok | load average (mean / max) |",
        "|---|---|---|---|",
        f"| sequential, 1 thread | {seq['seconds']:.0f} | {seq['cells_ok']} / {result['cells']} | {seq['load_average']['mean']:.1f} / {seq['load_average']['max']:.1f} |",
        f"| Ray, 2 single-threaded workers | {par['seconds']:.0f} (Ray start {par['ray_start_seconds']:.0f}) | {par['cells_ok']} / {result['cells']} | {par['load_average']['mean']:.1f} / {par['load_average']['max']:.1f} |",
        "",
        f"{result['cells']} cells of {result['mean_cell_seconds_sequential']:.0f} s on average (sequential); speed-up {result['speedup']:.2f}, "
        f"**parallel efficiency {result['parallel_efficiency']:.2f}** (sequential / (2 × Ray), whole study each) on {result['cpu_count']} cores. "
        f"The two Ray workers were busy with cells {100 * result['ray_worker_busy_fraction']:.0f}% of the Ray run's wall time (the executor's own overhead: "
        f"start, dataset put, shared-model jobs, summary), and each cell took {result['ray_cell_slowdown']:.2f} × its sequential time: " + why_slower(result),
    ]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=160, help="finetune epochs per cell (160: about 30-35 s at one thread; 40 took 8.5 s at load average 3)")
    parser.add_argument("--runs", default="runs/study-scaleout")
    parser.add_argument("--out", default=str(RESULTS / "study_scaleout.json"))
    parser.add_argument("--tables-only", action="store_true", help="recompute the derived numbers, the .md table and the .png from the stored --out JSON; run nothing")
    args = parser.parse_args(argv)
    if args.tables_only:
        result = derived(json.loads(Path(args.out).read_text()))
        atomic_write_json(args.out, result)
        plot(result, Path(args.out).with_suffix(".png"))
        atomic_write_text(Path(args.out).with_suffix(".md"), markdown(result))
        return 0
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    runs = Path(args.runs)
    cache = runs / "cache"
    local = study(args.cells, args.epochs, cache, {"name": "local"})
    # train (or load) the shared original and oracles once, outside both timings
    from expunge.experiments.context import _CONTEXTS, context_for

    context_for(plan_cells(load_study(local), "published", runs / "warm")[0].config)
    _CONTEXTS.clear()  # as a fresh `expunge study run` process: the sequential run loads the models itself, like each Ray worker
    sequential = timed(local, runs / "sequential")

    import ray

    from expunge.experiments.executors import make_executor

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    ray_start = time.perf_counter() - start
    try:
        parallel = timed(study(args.cells, args.epochs, cache, {"name": "ray", "num_cpus": 2}), runs / "ray", make_executor("ray", num_cpus=2))
    finally:
        ray.shutdown()
    parallel["seconds"] += ray_start  # the whole study: starting the cluster is part of it
    parallel["ray_start_seconds"] = ray_start
    cell_secs = [s for s in sequential["cell_seconds"] if s]
    result = {
        "benchmark": "study_scaleout",
        "cells": args.cells,
        "epochs_per_cell": args.epochs,
        "mean_cell_seconds_sequential": sum(cell_secs) / len(cell_secs),
        "sequential": sequential,
        "ray": parallel,
        "speedup": sequential["seconds"] / parallel["seconds"],
        "parallel_efficiency": sequential["seconds"] / (2 * parallel["seconds"]),
        "definition": "sequential seconds / (2 x Ray seconds), whole study each (Ray start, dataset put, shared-model jobs and summary included)",
        "cpu_count": os.cpu_count(),
        "note": "see load_average: above 1 in the sequential run or above 2 in the Ray run means other processes competed for the cores",
        "environment": environment_info(),
    }
    result = derived(result)
    atomic_write_json(args.out, result)
    plot(result, Path(args.out).with_suffix(".png"))
    atomic_write_text(Path(args.out).with_suffix(".md"), markdown(result))
    print(json.dumps({k: result[k] for k in ("cells", "mean_cell_seconds_sequential", "speedup", "parallel_efficiency")}, indent=1))
    print(f"load average sequential {sequential['load_average']}, Ray {parallel['load_average']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
