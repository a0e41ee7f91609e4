"""Benchmark: concept inference + poisoning (arXiv 2405.15662) against retraining, output_mask, zero-shot and the grid.

For each dataset (``concept_shapes``: ground-truth concepts; Fashion-MNIST with its attribute
table), each class and each seed: train (cached) the original on the pool and an oracle on the
pool without the class, run every method on a copy of the original, and evaluate every model, the
oracle and the original with the shared "class" metric set (expunge.evaluate.class_forgetting:
target / other accuracy on train and test, Fr, Fs, feature probes on two layers, the relearn
attack at k=5 examples per class, head only and whole model, distance to the oracle and the
verdict) plus ``concept_presence`` (CAV score of the class's top concepts on its test images).
Cost: example passes (forward + backward, counted by expunge.cost) relative to the oracle's
training, and wall seconds. On ``concept_shapes`` it also scores concept identification:
precision@M of each class's top-M concepts (IG on the post-hoc CBM of the original) against the
generating table.

The loop builds its tasks with expunge's own objects (UnlearningTask, ForgetSplit, EvalContext,
METRICS, ModelCache, CostMeter), not through ``expunge run``: the runner's config has no way to
hold the Fashion-MNIST attribute pool, the carved zero-shot images and the concept identification
of one shared original. One record file per (dataset, class, seed), written atomically, so an
interrupted run resumes; one original per (dataset, seed), shared by all classes (same pool).

    nice -n 5 python benchmarks/concept_images.py --seeds 3                 # every class of both datasets x 3 seeds
    nice -n 5 python benchmarks/concept_images.py --seeds 1 --classes 0 --datasets fashion_mnist   # one timing run
    python benchmarks/concept_images.py --summarize-only                    # tabulate the records on disk
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import expunge.concept as C
from expunge.cache import ModelCache
from expunge.concept.fmnist_attributes import with_attributes
from expunge.cost import CostMeter
from expunge.data import load_dataset
from expunge.data.base import DatasetBundle, IndexedTensorDataset
from expunge.data.splits import ForgetSplit
from expunge.evaluate.class_summary import finite_mean as mean
from expunge.evaluate.class_summary import per_class_means, verdict_counts
from expunge.evaluate.registry import METRICS, EvalContext, build_metrics, run_metrics
from expunge.experiments.prepare_data import carve_analysis
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn import UNLEARNERS, UnlearningTask
from expunge.utils import atomic_write_json, atomic_write_text, environment_info, seed_everything, stable_hash

CPU = torch.device("cpu")
RESULTS = Path(__file__).parent / "results"

# name -> (unlearner, options). Grid algorithms at the grid's settings (benchmarks/grid_fmnist.py: FT = 3 epochs, lr 0.05).
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "output_mask": ("output_mask", {}),
    "zero_shot": ("zero_shot", {}),
    "finetune": ("finetune", {"epochs": 3, "lr": 0.05}),
    "neggrad_plus": ("neggrad_plus", {"epochs": 3, "lr": 0.02}),
    "concept_poison/head": ("concept_poison", {"scope": "head"}),  # as published: last layer only, labels -> the donor
    "concept_poison/full": ("concept_poison", {}),  # expunge's default: whole network, labels -> the donor
    "concept_patch/full": ("concept_patch", {}),  # the revision's localized variant (donor patch at the concept's peak), whole network
    "concept_poison/full-random": ("concept_poison", {"scope": "full", "labelling": "random"}),  # not in the default run (time)
}
DEFAULT_METHODS = [m for m in METHODS if m != "concept_poison/full-random"]
ROW_ORDER = ("original", "retrain", *METHODS)
COLUMNS = (
    "target_acc_train",
    "target_acc_test",
    "other_drop_test",
    "mia_fr",
    "mia_fs",
    "relearn_k5_head",
    "relearn_k5_full",
    "probe_penultimate",
    "probe_earlier",
    "concept_presence",
    "dist_relearn_k5_full",
    "dist_probe_penultimate",
    "relative_passes",
    "seconds",
)


@dataclass
class Scale:
    """One dataset's size and training recipe (the same for the original and the oracle)."""

    train_size: int
    test_size: int
    model_options: dict[str, Any]
    recipe: Recipe
    n_analysis: int = 24  # unseen target test images the zero-shot method may read (excluded from every metric)
    n_other: int = 24
    probe_per_class: int = 100
    presence_examples: int = 100


SCALES: dict[str, Scale] = {
    "concept_shapes": Scale(2000, 1000, {"channels": (16, 32), "hidden": 64}, Recipe(epochs=8, lr=0.05, batch_size=64)),
    "fashion_mnist": Scale(2000, 1000, {"channels": (16, 32), "hidden": 64}, Recipe(epochs=8, lr=0.05, batch_size=64)),
}


@dataclass
class Data:
    name: str
    bundle: DatasetBundle
    scale: Scale
    spec: dict[str, Any] = field(default_factory=dict)  # what identifies the data in the model cache


def load(name: str, scale: Scale) -> Data:
    if name == "concept_shapes":
        bundle = load_dataset("concept_shapes", num_train=scale.train_size, num_test=scale.test_size, seed=0)
        return Data(name, bundle, scale, {"dataset": name, "num_train": scale.train_size, "num_test": scale.test_size, "data_seed": 0})
    fm = load_dataset("fashion_mnist")
    pool = stratified(fm.train.targets.numpy(), fm.num_classes, scale.train_size, 0)
    test = stratified(fm.test.targets.numpy(), fm.num_classes, scale.test_size, 1)
    train_sub = with_attributes(IndexedTensorDataset(fm.train.inputs[torch.as_tensor(pool)], fm.train.targets[torch.as_tensor(pool)]))
    test_sub = IndexedTensorDataset(fm.test.inputs[torch.as_tensor(test)], fm.test.targets[torch.as_tensor(test)])
    bundle = DatasetBundle("fashion_mnist_concepts", train_sub, test_sub, fm.num_classes, fm.class_names, fm.source)
    return Data(name, bundle, scale, {"dataset": name, "pool": stable_hash(pool.tolist()), "test": stable_hash(test.tolist())})


def stratified(targets: np.ndarray, num_classes: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.where(targets == c)[0], size // num_classes, replace=False) for c in range(num_classes)]))


def fresh(data: Data, seed: int) -> torch.nn.Module:
    return build_model("cnn", data.bundle.input_shape, data.bundle.num_classes, seed=seed, **data.scale.model_options)


def train_cached(cache: ModelCache, kind: str, data: Data, indices: np.ndarray, seed: int) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train (or load) a model on ``indices``; info: train_seconds and passes (forward+backward examples)."""
    recipe = Recipe(**{**asdict(data.scale.recipe), "seed": seed})
    spec = {"data": data.spec, "indices": stable_hash(np.sort(indices).tolist()), "n": int(len(indices)), "model": {"name": "cnn", "options": data.scale.model_options}, "recipe": recipe.to_dict()}

    def fit(model: torch.nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        with CostMeter() as meter:
            train(model, epoch_batches(data.bundle.train, indices, recipe.batch_size, seed), recipe, CPU, progress=False)
        return {"train_seconds": meter.cost.wall_seconds, "passes": meter.cost.passes}

    model, info = cache.get_or_train(kind, spec, lambda: fresh(data, seed), fit)
    return model.eval(), info


def identification(data: Data, original: torch.nn.Module, seed: int, top_m: int) -> dict[str, Any]:
    """Concept identification on the original (bank -> CBM -> IG), precision@M against the generating table."""
    b = data.bundle
    t0 = time.perf_counter()
    a = C.analyse(original, b.train, np.arange(len(b.train)), 0, b.num_classes, CPU, top_m=top_m, seed=seed)
    prec = {c: C.precision_at_m(a.tops[c], C.class_concepts(c), top_m) for c in range(b.num_classes)}
    return {
        "dataset": data.name,
        "seed": seed,
        "top_m": top_m,
        "precision_at_m": float(np.mean(list(prec.values()))),
        "per_class": prec,
        "tops": a.tops,
        "cbm_accuracy": a.cbm.accuracy,
        "model_accuracy": a.cbm.model_accuracy,
        "dropped": a.bank.dropped,
        "donors": {c: C.choose_donor(c, a.tops, a.attributions, a.bank.names, "shared") for c in range(b.num_classes)},
        "seconds": time.perf_counter() - t0,
    }


def run_one(data: Data, c: int, seed: int, original: torch.nn.Module, original_info: dict[str, Any], cache: ModelCache, methods: list[str], ks: list[int]) -> list[dict[str, Any]]:
    b, scale = data.bundle, data.scale
    targets = b.train.targets.numpy()
    pool = np.arange(len(b.train))
    forget, retain = pool[targets == c], pool[targets != c]
    oracle, oracle_info = train_cached(cache, "oracle", data, retain, seed)
    whole = ForgetSplit(forget, retain, np.array([], dtype=np.int64), np.arange(len(b.test)), len(b.train), len(b.test), f"class {c}")
    split, analysis, other = carve_analysis(whole, b, [c], scale.n_analysis, scale.n_other, seed)  # the runner's carving: same draws
    ctx = EvalContext(device=CPU, seed=seed, train_set=b.train, test_set=b.test, split=split, original=original, oracles=[oracle], extras={"forget_classes": [c]})
    metrics = build_metrics(["class_accuracy", "class_mia", {"name": "feature_probe", "per_class": scale.probe_per_class}, {"name": "relearn", "ks": ks}], "class")
    verdict = build_metrics(["class_verdict"], "class")[0]
    verdict.relearn_metric = metrics[3]  # the verdict reuses the attack and the probe configured here
    verdict.probe_metric = metrics[2]
    metrics += [verdict, METRICS.get("concept_presence")(examples_per_concept=scale.presence_examples)]
    base = {"dataset": data.name, "class": c, "seed": seed}
    retrain_passes = oracle_info["passes"]

    def evaluate(model: torch.nn.Module) -> dict[str, Any]:
        t0 = time.perf_counter()
        values = run_metrics(metrics, model.eval(), ctx)
        return {**values, "eval_seconds": time.perf_counter() - t0}

    records = [
        {**base, "method": "original", **evaluate(original), "seconds": 0.0, "passes": 0, "relative_passes": 0.0},
        {**base, "method": "retrain", **evaluate(oracle), "seconds": oracle_info["train_seconds"], "passes": retrain_passes, "relative_passes": 1.0},
    ]
    x_a = b.test.inputs[torch.as_tensor(analysis)]
    others = (b.test.inputs[torch.as_tensor(other)], b.test.targets[torch.as_tensor(other)])
    for name in methods:
        unlearner_name, options = METHODS[name]
        unlearner = UNLEARNERS.get(unlearner_name)(**options)
        task = UnlearningTask(b.train, split, CPU, lambda s: fresh(data, s), scale.recipe, seed=seed, progress=False, forget_classes=[c], analysis_images=x_a, other_images=others)
        candidate = copy.deepcopy(original)
        gc.collect()
        try:
            with CostMeter() as meter:
                model = unlearner.unlearn(candidate, task)
        except Exception as exc:  # recorded, the sweep goes on
            records.append({**base, "method": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        notes = {k: v for k, v in task.notes.items() if isinstance(v, (int, float, str, bool)) or v is None}
        if task.notes.get("concept"):
            notes["concept"] = [{k: v for k, v in s.items() if k in ("target", "donor", "top_concepts", "donor_top_concepts", "cbm_accuracy", "model_accuracy")} for s in task.notes["concept"]]
        if task.notes.get("patch"):
            notes["patch"] = task.notes["patch"]
        cost = meter.cost
        records.append(
            {
                **base,
                "method": name,
                **evaluate(model),
                "seconds": cost.wall_seconds,
                "passes": cost.passes,
                "forward_passes": cost.forward_passes,
                "relative_passes": cost.passes / retrain_passes,
                "notes": notes,
            }
        )
    for r in records:
        if "error" not in r:
            r["other_drop_test"] = records[0]["other_acc_test"] - r["other_acc_test"]
            r["relative_time"] = r["seconds"] / oracle_info["train_seconds"] if oracle_info["train_seconds"] else None
    return records


# ---- summary -------------------------------------------------------------------------------
def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: mean over seeds per class, then over classes; verdict counts; the issue's targets."""
    records = [r for r in records if "error" not in r]
    names = [m for m in ROW_ORDER if any(r["method"] == m for r in records)]
    classes = sorted({r["class"] for r in records})
    runs = sorted({(r["class"], r["seed"]) for r in records})
    per_class, overall = per_class_means(records, names, COLUMNS)
    verdicts = verdict_counts(records, names)
    # the oracle's own noise: spread over seeds of the retrained model (per class), and the original-to-oracle gap
    noise: dict[str, Any] = {}
    for k in ("relearn_k5_full", "relearn_k5_head", "probe_penultimate", "concept_presence", "target_acc_test"):
        stds = [statistics.pstdev(v) for c in classes if len(v := [r[k] for r in records if r["method"] == "retrain" and r["class"] == c and isinstance(r.get(k), (int, float)) and r[k] == r[k]]) > 1]
        gap = [abs(per_class["original"][c][k] - per_class["retrain"][c][k]) for c in classes] if "original" in per_class and "retrain" in per_class else []
        noise[k] = {
            "oracle_mean": overall.get("retrain", {}).get(k, float("nan")),
            "oracle_std_over_seeds": mean(stds),
            # a second oracle would sit this far from the first on average (E|X - Y| = 2 sigma / sqrt(pi) for two draws)
            "oracle_to_oracle_distance": 2 * mean(stds) / np.sqrt(np.pi),
            "original_minus_oracle": mean(gap),
        }
    targets: dict[str, Any] = {}
    if "retrain" in names and "output_mask" in names:
        by_run = {(r["method"], r["class"], r["seed"]): r for r in records}
        for m in [n for n in names if n not in ("original", "retrain", "output_mask")]:
            closer = {}
            for metric in ("relearn_k5_full", "probe_penultimate"):
                closer[metric] = [
                    run for run in runs if (m, *run) in by_run and ("output_mask", *run) in by_run and by_run[(m, *run)][f"dist_{metric}"] < by_run[("output_mask", *run)][f"dist_{metric}"]
                ]
            both = [run for run in closer["relearn_k5_full"] if run in closer["probe_penultimate"]]
            o = overall[m]
            n_runs = sum((m, *run) in by_run for run in runs)
            targets[m] = {
                "runs": n_runs,
                "closer_than_output_mask_on_both": len(both),
                "closer_relearn_k5_full": len(closer["relearn_k5_full"]),
                "closer_probe_penultimate": len(closer["probe_penultimate"]),
                "dist_relearn_k5_full": o["dist_relearn_k5_full"],
                "dist_probe_penultimate": o["dist_probe_penultimate"],
                "output_mask_dist_relearn_k5_full": overall["output_mask"]["dist_relearn_k5_full"],
                "output_mask_dist_probe_penultimate": overall["output_mask"]["dist_probe_penultimate"],
                "target_acc_test": o["target_acc_test"],
                "runs_target_acc_le_2": sum(by_run[(m, *run)]["target_acc_test"] <= 2 for run in runs if (m, *run) in by_run),
                "other_drop_test": o["other_drop_test"],
                "runs_other_drop_le_1": sum(by_run[(m, *run)]["other_drop_test"] <= 1 for run in runs if (m, *run) in by_run),
                "relative_passes": o["relative_passes"],
                "met_target_acc": o["target_acc_test"] <= 2,
                "met_other": o["other_drop_test"] <= 1,
                "met_closer_mean": o["dist_relearn_k5_full"] < overall["output_mask"]["dist_relearn_k5_full"] and o["dist_probe_penultimate"] < overall["output_mask"]["dist_probe_penultimate"],
                "met_cost": o["relative_passes"] <= 0.1,
            }
    return {"runs": runs, "per_class": per_class, "overall": overall, "verdicts": verdicts, "oracle_noise": noise, "targets": targets}


def fmt(k: str, v: float) -> str:
    if v != v:
        return "–"
    if k == "relative_passes":
        return f"{v:.3f}"
    return f"{v:.1f}"


def markdown(summaries: dict[str, dict[str, Any]], idents: list[dict[str, Any]], header: str) -> str:
    lines = [header, ""]
    if idents:
        p = [i["precision_at_m"] for i in idents]
        lines += [
            f"**Concept identification (concept_shapes, ground truth)**: precision@{idents[0]['top_m']} = {statistics.fmean(p):.3f} "
            f"(per seed {', '.join(f'{x:.2f}' for x in p)}); post-hoc CBM accuracy {statistics.fmean(i['cbm_accuracy'] for i in idents):.1f}% "
            f"vs end-to-end {statistics.fmean(i['model_accuracy'] for i in idents):.1f}% on the same images.",
            "",
        ]
    for dataset, s in summaries.items():
        lines += [
            f"## {dataset} ({len(s['runs'])} (class, seed) runs; mean over seeds per class, then over classes)",
            "",
            "| method | " + " | ".join(COLUMNS) + " | verdicts |",
            "|---" * (len(COLUMNS) + 2) + "|",
        ]
        for m, o in s["overall"].items():
            v = ", ".join(f"{k}: {n}" for k, n in s["verdicts"][m].items())
            lines.append(f"| {m} | " + " | ".join(fmt(k, o[k]) for k in COLUMNS) + f" | {v} |")
        lines += ["", "Oracle noise floor (std over seeds of the retrained model, mean over classes) and the original-to-oracle gap:", ""]
        lines += ["| metric | oracle mean | oracle std over seeds | expected oracle-to-oracle distance | original − oracle |", "|---|---|---|---|---|"]
        for k, n in s["oracle_noise"].items():
            lines.append(
                f"| {k} | {fmt(k, n['oracle_mean'])} | {fmt(k, n['oracle_std_over_seeds'])} | {fmt(k, n.get('oracle_to_oracle_distance', float('nan')))} | {fmt(k, n['original_minus_oracle'])} |"
            )
        lines += [
            "",
            "Targets per method (runs = (class, seed) pairs; 'closer' = nearer the oracle than output_mask in that run):",
            "",
            "| method | target acc ≤ 2 (mean; runs) | other drop ≤ 1 (mean; runs) | closer on relearn k5 full AND probe (runs) | mean dist relearn / probe (output_mask) | passes/retrain ≤ 0.1 |",
            "|---|---|---|---|---|---|",
        ]
        for m, t in s["targets"].items():
            mark = lambda ok: "met" if ok else "missed"  # noqa: E731
            lines.append(
                f"| {m} | {t['target_acc_test']:.2f} ({mark(t['met_target_acc'])}; {t['runs_target_acc_le_2']}/{t['runs']}) | "
                f"{t['other_drop_test']:.2f} ({mark(t['met_other'])}; {t['runs_other_drop_le_1']}/{t['runs']}) | "
                f"{t['closer_than_output_mask_on_both']}/{t['runs']} (relearn {t['closer_relearn_k5_full']}, probe {t['closer_probe_penultimate']}) | "
                f"{t['dist_relearn_k5_full']:.1f} / {t['dist_probe_penultimate']:.1f} ({t['output_mask_dist_relearn_k5_full']:.1f} / {t['output_mask_dist_probe_penultimate']:.1f}); {mark(t['met_closer_mean'])} | "
                f"{t['relative_passes']:.3f} ({mark(t['met_cost'])}) |"
            )
        lines += ["", "Per class: relearn k5 full / probe penultimate / target test acc", ""]
        names = list(s["per_class"])
        lines += ["| class | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for c in sorted(next(iter(s["per_class"].values()))):
            cells = [f"{s['per_class'][m][c]['relearn_k5_full']:.0f} / {s['per_class'][m][c]['probe_penultimate']:.0f} / {s['per_class'][m][c]['target_acc_test']:.1f}" for m in names]
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


# ---- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["concept_shapes", "fashion_mnist"], choices=list(SCALES))
    p.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1; each trains its own original (shared by the classes) and oracles")
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, help=f"subset of {list(METHODS)}")
    p.add_argument("--ks", type=int, nargs="+", default=[5], help="relearn attack sizes (examples per class)")
    p.add_argument("--top-m", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS / "concept_images"), help="output stem: <out>/records/, <out>.json, <out>.md")
    p.add_argument("--summarize-only", action="store_true", help="tabulate the records already on disk; compute nothing")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    out = Path(args.out)
    cache = ModelCache(out / "model-cache")
    started = time.time()
    records: list[dict[str, Any]] = []
    idents: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    hashes = {d: stable_hash({"scale": asdict(SCALES[d]), "methods": {m: METHODS[m] for m in args.methods}, "ks": args.ks, "top_m": args.top_m}) for d in args.datasets}
    datasets: dict[str, Data] = {}
    originals: list[dict[str, Any]] = []

    def write_outputs() -> str:
        summaries = {d: summarize([r for r in records if r["dataset"] == d]) for d in args.datasets if any(r["dataset"] == d for r in records)}
        provenance = {
            "scales": {d: asdict(SCALES[d]) for d in args.datasets},
            "model": "cnn (ClassicCNN)",
            "methods": {m: METHODS[m] for m in args.methods},
            "relearn_ks": args.ks,
            "top_m": args.top_m,
            "metrics": "class set (class_accuracy, class_mia, feature_probe, relearn, class_verdict) + concept_presence",
            "classes_requested": args.classes,
            "seeds_requested": list(range(args.seeds)),
            "runs_done": {d: s["runs"] for d, s in summaries.items()},
            "timings": timings,
            "originals": originals,
            "wall_seconds_this_invocation": time.time() - started,
            "threads": torch.get_num_threads(),
            "environment": environment_info(CPU),
            "runner": "benchmark's own loop (UnlearningTask + ForgetSplit + EvalContext + METRICS + ModelCache + CostMeter), not expunge run",
        }
        previous = out.parent / f"{out.name}.json"
        if args.summarize_only and previous.exists():  # keep what only the computing run knew
            before = json.loads(previous.read_text()).get("provenance", {})
            provenance["originals"] = before.get("originals", [])
            provenance["wall_seconds_of_run"] = before.get("wall_seconds_of_run", before.get("wall_seconds_this_invocation"))
        atomic_write_json(out.parent / f"{out.name}.json", {"provenance": provenance, "identification": idents, "summary": summaries, "records": records})
        scale_line = "; ".join(f"{d}: {s.train_size} train / {s.test_size} test images, cnn {s.model_options}, {s.recipe.epochs} epochs" for d, s in ((d, SCALES[d]) for d in args.datasets))
        text = markdown(summaries, idents, f"# Concept-level class unlearning ({scale_line})")
        atomic_write_text(out.parent / f"{out.name}.md", text)
        return text

    for seed in range(args.seeds):  # seeds outermost: an interrupted run has whole seeds of both datasets
        for name in args.datasets:
            original: torch.nn.Module | None = None
            original_info: dict[str, Any] = {}

            def get_data(name: str = name) -> Data:
                if name not in datasets:
                    datasets[name] = load(name, SCALES[name])
                return datasets[name]

            def get_original(seed: int = seed, name: str = name) -> tuple[torch.nn.Module, dict[str, Any]]:
                data = get_data(name)
                model, info = train_cached(cache, "original", data, np.arange(len(data.bundle.train)), seed)
                originals.append({"dataset": name, "seed": seed, **{k: info.get(k) for k in ("train_seconds", "passes", "cache_hit")}})
                return model, info

            if name == "concept_shapes":
                path = out / "records" / f"{name}-identification-seed{seed}.json"
                if path.exists():
                    idents.append(json.loads(path.read_text()))
                elif not args.summarize_only:
                    original, original_info = get_original()
                    idents.append(identification(get_data(), original, seed, args.top_m))
                    atomic_write_json(path, idents[-1])
            for c in args.classes:
                path = out / "records" / f"{name}-class{c}-seed{seed}.json"
                if path.exists() and (args.summarize_only or json.loads(path.read_text()).get("setup_hash") == hashes[name]):
                    stored = json.loads(path.read_text())
                    records += stored["records"]
                    timings.append(stored.get("timing", {}))
                    continue
                if args.summarize_only:
                    continue
                t0 = time.time()
                if original is None:
                    original, original_info = get_original()
                result = run_one(get_data(), c, seed, original, original_info, cache, args.methods, args.ks)
                timing = {"dataset": name, "class": c, "seed": seed, "seconds": time.time() - t0}
                atomic_write_json(path, {"setup_hash": hashes[name], "records": result, "timing": timing})
                records += result
                timings.append(timing)
                print(f"{name} class {c} seed {seed}: {timing['seconds']:.0f} s", flush=True)
        if not args.summarize_only:
            write_outputs()
    text = write_outputs()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
