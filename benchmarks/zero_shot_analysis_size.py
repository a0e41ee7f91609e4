"""Benchmark: how many unseen images of the class does zero-shot unlearning need?

Reuses the originals of ``zero_shot_fmnist.py`` (same setup and model cache, so run that first or
let this train them) and runs expunge's default LRA-NPP with 4, 8, 16 and 36 analysis images (and as
many other-class images) for every class and seed. Reports, per size, the class's remaining accuracy
and the other classes' change on the training pool, K_p, how often the K_p rule was met, and seconds.

    python benchmarks/zero_shot_analysis_size.py [--sizes 4 8 16 36] [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from expunge.cache import ModelCache
from expunge.data import load_dataset
from expunge.evaluate.accuracy import Outputs, model_outputs
from expunge.utils import atomic_write_json, environment_info, resolve_device
from expunge.zeroshot import ZeroShotConfig, zero_shot_unlearn
from expunge.zeroshot.experiment import RemovalSetup, analysis_split, train_cached, training_pool


def pool_accuracy(model: torch.nn.Module, bundle: Any, pool: Any, device: torch.device, target: int) -> tuple[float, float]:
    """(target-class accuracy, other-class accuracy) in % on the training pool."""
    out = model_outputs(model, bundle.train, pool, device)
    is_target = out.labels == target
    return Outputs(out.logits[is_target], out.labels[is_target]).accuracy(), Outputs(out.logits[~is_target], out.labels[~is_target]).accuracy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 36])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--cache-dir", default="benchmarks/results/zero_shot_fmnist/model-cache")
    parser.add_argument("--out", default="benchmarks/results/zero_shot_analysis_size.json")
    args = parser.parse_args(argv)
    setup = RemovalSetup()
    bundle = load_dataset(setup.dataset)
    device = resolve_device(setup.device)
    cache = ModelCache(Path(args.cache_dir))
    pool = training_pool(bundle, setup.pool_size, setup.pool_seed)
    records: list[dict[str, Any]] = []
    for seed in tqdm(range(args.seeds), desc="seed"):
        original, _ = train_cached(cache, "zs-original", setup, bundle, pool, seed, device, quiet=True)
        for c in args.classes:
            base_target, base_other = pool_accuracy(original, bundle, pool, device, c)
            for size in args.sizes:
                analysis, other, _ = analysis_split(bundle, c, size, size, seed)
                x_a = bundle.test.inputs[torch.as_tensor(analysis)]
                others = (bundle.test.inputs[torch.as_tensor(other)], bundle.test.targets[torch.as_tensor(other)])
                result = zero_shot_unlearn(original, c, x_a, others, ZeroShotConfig(seed=seed))
                target_acc, other_acc = pool_accuracy(result.model, bundle, pool, device, c)
                records.append({"class": c, "seed": seed, "analysis_images": size, "target_acc_train": target_acc, "other_drop_train": base_other - other_acc,
                                "original_target_acc_train": base_target, "k_p": result.selection.k_p, "rule_met": result.selection.met, "path": result.path,
                                "seconds": result.seconds})
    summary = {}
    for size in args.sizes:
        rows = [r for r in records if r["analysis_images"] == size]
        per_class = [statistics.fmean(r["target_acc_train"] for r in rows if r["class"] == c) for c in args.classes]
        summary[size] = {
            "target_acc_train": statistics.fmean(r["target_acc_train"] for r in rows), "worst_class_target_acc_train": max(per_class),
            "worst_run_target_acc_train": max(r["target_acc_train"] for r in rows), "other_drop_train": statistics.fmean(r["other_drop_train"] for r in rows),
            "k_p": statistics.fmean(r["k_p"] for r in rows), "rule_met": sum(r["rule_met"] for r in rows) / len(rows),
            "escalated": sum(r["path"] != "target-row" for r in rows), "seconds": statistics.fmean(r["seconds"] for r in rows), "runs": len(rows),
        }
    atomic_write_json(args.out, {"benchmark": "zero_shot_analysis_size", "setup": setup.to_dict(), "sizes": args.sizes, "summary": summary, "records": records,
                                 "environment": environment_info(device)})
    print("| analysis images | target acc train (mean / worst class / worst run) | other drop | K_p | rule met | escalated | seconds |")
    print("|---|---|---|---|---|---|---|")
    for size, s in summary.items():
        print(f"| {size} | {s['target_acc_train']:.2f} / {s['worst_class_target_acc_train']:.2f} / {s['worst_run_target_acc_train']:.2f} | {s['other_drop_train']:.2f} | "
              f"{s['k_p']:.1f} | {s['rule_met']:.0%} | {s['escalated']} | {s['seconds']:.3f} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
