"""Benchmark: class unlearning on Fashion-MNIST measured by what the output layer cannot fake.

For every (class, seed): train (cached) an original on a class-stratified pool and an oracle on
the pool without the class; carve 36 unseen test images of the class (and 36 of other classes)
out of the test split for the training-free methods; run ``output_mask``, the authors' recipe
(``lra_npp_paper``), expunge's default (``zero_shot``), the candidate variants of the default study
and the noise baselines; evaluate every model, the oracle and the original with the "class"
metric set (expunge.evaluate.class_forgetting): target / other accuracy, Fr, Fs, probes on two
layers, relearn at k = 1/5/10 (head and whole model), distance to the oracle and a verdict.

This script builds the task and the evaluation context with expunge's own objects (UnlearningTask,
EvalContext, METRICS), not through ``expunge run``: the shared runner had not landed when it was
written. One record file per (class, seed), written atomically, so an interrupted run resumes.

    nice -n 5 python benchmarks/zero_shot_fmnist.py --quick --seeds 2          # reduced: 10 classes x 2 seeds
    nice -n 5 python benchmarks/zero_shot_fmnist.py --seeds 5                  # every class x 5 seeds
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from expunge.cache import ModelCache
from expunge.data import load_dataset
from expunge.data.splits import ForgetSplit
from expunge.evaluate.class_summary import finite_mean as mean
from expunge.evaluate.class_summary import per_class_means, verdict_counts
from expunge.evaluate.registry import EvalContext, build_metrics, run_metrics
from expunge.experiments.prepare_data import carve_analysis
from expunge.models import build_model
from expunge.train import SCHEDULES, Recipe, epoch_batches
from expunge.unlearn import UNLEARNERS, UnlearningTask
from expunge.utils import atomic_write_json, atomic_write_text, environment_info, resolve_device, seed_everything, stable_hash

# name -> (unlearner, options). "zs-*" are the candidates of the default study (docs/methods/zero-shot-recipes.md).
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "output_mask": ("output_mask", {}),
    "lra_npp_paper": ("lra_npp_paper", {}),
    "zero_shot": ("zero_shot", {}),
    "zs-target-row": ("zero_shot", {"path": "custom", "out_scope": "target", "cut_in": False, "escalate": False}),
    "zs-in+out": ("zero_shot", {"path": "custom", "out_scope": "target", "cut_in": True, "escalate": False}),
    "zs-in+out-bias": ("zero_shot", {"path": "custom", "out_scope": "target", "cut_in": True, "cut_bias": True, "escalate": False}),
    "zs-all+in": ("zero_shot", {"path": "custom", "out_scope": "all", "cut_in": True, "escalate": False}),
    "zs-all-columns": ("zero_shot", {"path": "custom", "out_scope": "all", "cut_in": False, "escalate": False}),
    "noise_gn": ("noise_gn", {}),
    "noise_ln": ("noise_ln", {}),
}
ROW_ORDER = ("original", "retrain", *METHODS)
COLUMNS = (
    "target_acc_test",
    "other_drop_test",
    "mia_fr",
    "mia_fs",
    "probe_penultimate",
    "probe_earlier",
    "relearn_k1_head",
    "relearn_k5_head",
    "relearn_k10_head",
    "relearn_k1_full",
    "relearn_k5_full",
    "relearn_k10_full",
    "seconds",
    "speedup",
)


@dataclass
class Setup:
    dataset: str = "fashion_mnist"
    model: str = "resnet_small"
    model_options: dict[str, Any] = field(default_factory=dict)
    pool_size: int = 6000
    pool_seed: int = 0
    recipe: Recipe = field(default_factory=lambda: Recipe(epochs=15, lr=0.05, batch_size=128))
    n_analysis: int = 36
    n_other: int = 36
    device: str = "auto"


QUICK = Setup(pool_size=2000, recipe=Recipe(epochs=8, lr=0.05, batch_size=128))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1; each trains its own original and oracle")
    p.add_argument("--quick", action="store_true", help="2000-image pool, 8 epochs")
    p.add_argument("--methods", nargs="+", default=list(METHODS), help=f"subset of {list(METHODS)}")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10], help="relearn attack sizes (examples per class)")
    p.add_argument("--variants", nargs="+", default=["head", "full"], help="relearn variants")
    p.add_argument("--out", default="benchmarks/results/zero_shot_fmnist_class", help="output folder (records/, JSON, Markdown)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--summarize-only", action="store_true", help="tabulate the (class, seed) records already on disk; compute nothing")
    return p.parse_args(argv)


def pool_indices(targets: np.ndarray, num_classes: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per = size // num_classes
    return np.sort(np.concatenate([rng.choice(np.where(targets == c)[0], per, replace=False) for c in range(num_classes)]))


def sgd_train(model: torch.nn.Module, batches: Any, recipe: Recipe, device: torch.device) -> float:
    """Plain SGD with momentum and the recipe's per-epoch schedule (expunge.train.train's loop, without its cost meter); seconds."""
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    start = time.perf_counter()
    for epoch in range(recipe.epochs):
        for group in opt.param_groups:
            group["lr"] = SCHEDULES[recipe.schedule](recipe, epoch)
        model.train()
        for x, y, _ in batches(epoch):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device)).backward()
            opt.step()
    model.eval()
    return time.perf_counter() - start


def train_cached(cache: ModelCache, kind: str, setup: Setup, bundle: Any, indices: np.ndarray, seed: int, device: torch.device) -> tuple[torch.nn.Module, float]:
    recipe = Recipe(**{**asdict(setup.recipe), "seed": seed})
    spec = {
        "dataset": setup.dataset,
        "indices": stable_hash(np.sort(indices).tolist()),
        "n": int(len(indices)),
        "model": {"name": setup.model, "options": setup.model_options},
        "recipe": recipe.to_dict(),
    }

    def build() -> torch.nn.Module:
        return build_model(setup.model, bundle.input_shape, bundle.num_classes, seed=seed, **setup.model_options).to(device)

    def fit(model: torch.nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        return {"train_seconds": sgd_train(model, epoch_batches(bundle.train, indices, recipe.batch_size, seed), recipe, device)}

    model, info = cache.get_or_train(kind, spec, build, fit)
    return model.to(device).eval(), float(info["train_seconds"])


def run_one(setup: Setup, bundle: Any, c: int, seed: int, cache: ModelCache, methods: list[str], relearn_options: dict[str, Any]) -> list[dict[str, Any]]:
    device = resolve_device(setup.device)
    targets = bundle.train.targets.numpy()
    pool = pool_indices(targets, bundle.num_classes, setup.pool_size, setup.pool_seed)
    forget, retain = pool[targets[pool] == c], pool[targets[pool] != c]
    original, original_seconds = train_cached(cache, "cls-original", setup, bundle, pool, seed, device)
    oracle, oracle_seconds = train_cached(cache, "cls-oracle", setup, bundle, retain, seed, device)
    whole = ForgetSplit(forget, retain, np.array([], dtype=np.int64), np.arange(len(bundle.test)), len(bundle.train), len(bundle.test), f"class {c}")
    split, analysis, other = carve_analysis(whole, bundle, [c], setup.n_analysis, setup.n_other, seed)  # the runner's carving: same draws
    ctx = EvalContext(device=device, seed=seed, train_set=bundle.train, test_set=bundle.test, split=split, original=original, oracles=[oracle], extras={"forget_classes": [c]})
    metrics = build_metrics(["class_accuracy", "class_mia", "feature_probe", {"name": "relearn", **relearn_options}], "class")
    verdict = build_metrics(["class_verdict"], "class")[0]
    verdict.relearn_metric = metrics[-1]  # the verdict reuses the attack configured here
    metrics.append(verdict)
    base = {"class": c, "seed": seed}
    records = [{**base, "method": "original", **run_metrics(metrics, original, ctx), "seconds": 0.0}, {**base, "method": "retrain", **run_metrics(metrics, oracle, ctx), "seconds": oracle_seconds}]
    x_a = bundle.test.inputs[torch.as_tensor(analysis)]
    others = (bundle.test.inputs[torch.as_tensor(other)], bundle.test.targets[torch.as_tensor(other)])
    for name in methods:
        unlearner_name, options = METHODS[name]
        unlearner = UNLEARNERS.get(unlearner_name)(**options)
        task = UnlearningTask(
            bundle.train,
            split,
            device,
            lambda s: build_model(setup.model, bundle.input_shape, bundle.num_classes, seed=s),
            setup.recipe,
            seed=seed,
            progress=False,
            forget_classes=[c],
            analysis_images=x_a,
            other_images=others,
        )
        candidate = copy.deepcopy(original)
        gc.collect()
        start = time.perf_counter()
        model = unlearner.unlearn(candidate, task)
        seconds = time.perf_counter() - start
        notes = {k: v for k, v in task.notes.items() if isinstance(v, (int, float, str, bool)) or v is None}
        records.append({**base, "method": name, **run_metrics(metrics, model, ctx), "seconds": seconds, "notes": notes})
    for r in records:
        r["other_drop_test"] = records[0]["other_acc_test"] - r["other_acc_test"]
        r["speedup"] = oracle_seconds / r["seconds"] if r["seconds"] > 0 else None
    return records


def summarize(records: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Per method: mean over seeds per class, then over classes; verdict counts; the issue's targets for the default."""
    names = [m for m in ROW_ORDER if any(r["method"] == m for r in records)]
    classes = sorted({r["class"] for r in records})
    per_class, overall = per_class_means(records, names, COLUMNS)
    verdicts = verdict_counts(records, names)
    targets: dict[str, Any] = {}
    if "retrain" in names and "output_mask" in names:
        for m in [n for n in names if n not in ("original", "retrain", "output_mask")]:
            closer = {}
            for metric in ("relearn_k5_full", "probe_penultimate"):
                closer[metric] = [c for c in classes if abs(per_class[m][c][metric] - per_class["retrain"][c][metric]) < abs(per_class["output_mask"][c][metric] - per_class["retrain"][c][metric])]
            both = [c for c in classes if c in closer["relearn_k5_full"] and c in closer["probe_penultimate"]]
            o = overall[m]
            targets[m] = {
                "classes_closer_than_output_mask_on_both": len(both),
                "of": len(classes),
                "closer_relearn_k5_full": len(closer["relearn_k5_full"]),
                "closer_probe_penultimate": len(closer["probe_penultimate"]),
                "target_acc_test": o["target_acc_test"],
                "other_drop_test": o["other_drop_test"],
                "speedup": o["speedup"],
                "dist_relearn_k5_full": mean([abs(per_class[m][c]["relearn_k5_full"] - per_class["retrain"][c]["relearn_k5_full"]) for c in classes]),
                "dist_probe_penultimate": mean([abs(per_class[m][c]["probe_penultimate"] - per_class["retrain"][c]["probe_penultimate"]) for c in classes]),
                "met": len(both) >= 0.8 * len(classes) and o["target_acc_test"] <= 2 and o["other_drop_test"] <= 1 and (o["speedup"] or 0) >= 100,
            }
    return {"per_class": per_class, "overall": overall, "verdicts": verdicts, "targets": targets}


def markdown(summary: dict[str, Any], header: str) -> str:
    def fmt(k: str, v: float) -> str:
        if v != v:
            return "–"
        return f"{v:.3f}" if k == "seconds" else (f"{v:.0f}×" if k == "speedup" else f"{v:.1f}")

    lines = [header, "", "## Mean over classes (each class: mean over seeds)", "", "| method | " + " | ".join(COLUMNS) + " | verdicts |", "|---" * (len(COLUMNS) + 2) + "|"]
    for m, o in summary["overall"].items():
        lines.append(f"| {m} | " + " | ".join(fmt(k, o[k]) for k in COLUMNS) + f" | {summary['verdicts'][m]} |")
    lines += [
        "",
        "## Targets (vs the oracle; 'closer' = nearer the oracle than output_mask in that class)",
        "",
        "| method | classes closer on relearn k5 full AND probe | relearn | probe | mean dist relearn k5 full | mean dist probe | target acc | other drop | speed-up | all targets met |",
        "|---" * 10 + "|",
    ]
    for m, t in summary["targets"].items():
        lines.append(
            f"| {m} | {t['classes_closer_than_output_mask_on_both']}/{t['of']} | {t['closer_relearn_k5_full']} | {t['closer_probe_penultimate']} | "
            f"{t['dist_relearn_k5_full']:.1f} | {t['dist_probe_penultimate']:.1f} | {t['target_acc_test']:.2f} | {t['other_drop_test']:.2f} | {t['speedup']:.0f}× | {t['met']} |"
        )
    lines += ["", "## Per class: relearn k5 full / probe penultimate / target acc", "", "| class | " + " | ".join(summary["per_class"]) + " |", "|---" * (len(summary["per_class"]) + 1) + "|"]
    classes = sorted(next(iter(summary["per_class"].values())))
    for c in classes:
        cells = [f"{v[c]['relearn_k5_full']:.0f} / {v[c]['probe_penultimate']:.0f} / {v[c]['target_acc_test']:.1f}" for v in summary["per_class"].values()]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup = QUICK if args.quick else Setup()
    out = Path(args.out)
    cache = ModelCache(Path(args.cache_dir) if args.cache_dir else out / "model-cache")
    setup_hash = stable_hash({"setup": asdict(setup), "methods": {m: METHODS[m] for m in args.methods}, "ks": args.ks, "variants": args.variants})
    bundle = load_dataset(setup.dataset)
    started = time.time()
    records: list[dict[str, Any]] = []
    warnings.simplefilter("ignore", category=UserWarning)
    for s in range(args.seeds):
        for c in args.classes:
            path = out / "records" / f"class{c}-seed{s}.json"
            if path.exists() and (args.summarize_only or json.loads(path.read_text()).get("setup_hash") == setup_hash):
                records += json.loads(path.read_text())["records"]
                continue
            if args.summarize_only:
                continue
            t0 = time.time()
            result = run_one(setup, bundle, c, s, cache, args.methods, {"ks": args.ks, "variants": args.variants})
            atomic_write_json(path, {"setup_hash": setup_hash, "records": result})
            records += result
            print(f"class {c} seed {s}: {time.time() - t0:.0f} s", flush=True)
    done = sorted({(r["class"], r["seed"]) for r in records})
    summary = summarize(records, args.methods)
    provenance = {
        "setup": asdict(setup),
        "methods": {m: METHODS[m] for m in args.methods},
        "ks": args.ks,
        "variants": args.variants,
        "classes_requested": args.classes,
        "seeds_requested": list(range(args.seeds)),
        "class_seed_runs_done": done,
        "quick": args.quick,
        "environment": environment_info(resolve_device(setup.device)),
        "wall_seconds_this_invocation": time.time() - started,
        "runner": "benchmark's own loop (UnlearningTask + EvalContext + the 'class' metric set), not expunge run",
    }
    name = out.name
    atomic_write_json(out.parent / f"{name}.json", {"provenance": provenance, "summary": summary, "records": records})
    header = f"# Class unlearning on Fashion-MNIST ({setup.model}, pool {setup.pool_size}, {setup.recipe.epochs} epochs, {len(done)} (class, seed) runs: {done})"
    text = markdown(summary, header)
    atomic_write_text(out.parent / f"{name}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
