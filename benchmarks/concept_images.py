"""Benchmark: concept inference + poisoning (arXiv 2405.15662) against retraining, output_mask, zero-shot and the grid.

For each dataset (concept_shapes: ground truth; Fashion-MNIST with its attribute table), each
class and each seed: train the original and an oracle without the class, run every method, and
measure target-class train/test accuracy, accuracy on the other classes, Fr / Fs (the papers'
MIAs), a relearn attack (k labelled examples per class, head-only and whole-model, fixed steps),
the linear feature probe, concept presence (CAV score on target test images), cost in example
passes relative to the oracle's training, and wall time. On concept_shapes it also scores concept
identification (precision@M against the generating table).

    nice -n 5 python benchmarks/concept_images.py --quick          # reduced: 10 + 3 classes, 1 seed
    nice -n 5 python benchmarks/concept_images.py --seeds 3 --fmnist-classes all
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import expunge.concept as C
from expunge.concept.fmnist_attributes import with_attributes
from expunge.data import build_split, load_dataset
from expunge.data.base import IndexedTensorDataset
from expunge.evaluate.accuracy import model_outputs
from expunge.evaluate.registry import METRICS, EvalContext, build_metrics, run_metrics
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train
from expunge.unlearn.base import UNLEARNERS, UnlearningTask
from expunge.utils import atomic_write_json
from expunge.zeroshot.method import zero_shot_unlearn

CPU = torch.device("cpu")
RESULTS = Path(__file__).parent / "results"


def relearn(
    model: nn.Module, data: IndexedTensorDataset, support: np.ndarray, test: IndexedTensorDataset, test_idx: np.ndarray, target: int, scope: str, steps: int = 30, lr: float = 0.01, seed: int = 0
) -> float:
    """Target-class test accuracy after fine-tuning on ``support`` (k per class) for ``steps`` full-batch SGD steps."""
    m = copy.deepcopy(model)  # a masked output layer is re-learned like any other: the attack re-fits the head
    head_names = {n for n, _ in m.named_parameters() if n.startswith("fc.")}
    params = [p for n, p in m.named_parameters() if scope == "whole" or n in head_names]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    x, y = data.inputs[torch.as_tensor(support)], data.targets[torch.as_tensor(support)]
    torch.manual_seed(seed)
    for _ in range(steps):
        m.eval() if scope == "head" else m.train()
        loss = nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = test_idx[test.targets.numpy()[test_idx] == target]
    return model_outputs(m, test, t, CPU).accuracy()


def run_class(name: str, bundle: Any, cls: int, seed: int, args: argparse.Namespace, model_options: dict, recipe: Recipe, pool: np.ndarray) -> list[dict[str, Any]]:
    num_classes = bundle.num_classes
    split = build_split("class", bundle.train_targets(), len(bundle.test), seed=seed, train_size=len(pool) if len(pool) < len(bundle.train) else None, validation_fraction=0.05, classes=[cls])
    train_idx = np.concatenate([split.forget, split.retain])
    fresh = lambda s: build_model("cnn", bundle.input_shape, num_classes, seed=s, **model_options)  # noqa: E731

    def fit(indices: np.ndarray, s: int) -> tuple[nn.Module, float]:
        model = fresh(s)
        t0 = time.perf_counter()
        train(model, epoch_batches(bundle.train, indices, recipe.batch_size, s), recipe, CPU, progress=False)
        return model.eval(), time.perf_counter() - t0

    original, t_orig = fit(train_idx, seed)
    oracle, t_oracle = fit(split.retain, seed + 1000)
    retrain_passes = recipe.epochs * len(split.retain)
    rng = np.random.default_rng(seed + 5)
    support = np.concatenate([rng.choice(split.validation[bundle.train_targets()[split.validation] == c], args.relearn_k, replace=False) for c in range(num_classes)])
    ctx = EvalContext(CPU, seed=seed, train_set=bundle.train, test_set=bundle.test, split=split, original=original, oracles=[oracle], extras={"forget_classes": [cls]})
    class_metrics = build_metrics(["class_accuracy", "class_mia", {"name": "feature_probe", "per_class": 150}], "class")  # the shared class set (relearn is run below)
    presence = METRICS.get("concept_presence")(examples_per_concept=120)

    def task() -> UnlearningTask:
        return UnlearningTask(bundle.train, split, CPU, fresh, recipe, seed=seed, progress=False, forget_classes=[cls])

    def concept(kind: str, **kw: Any) -> Callable[[nn.Module], tuple[nn.Module, dict]]:
        def go(model: nn.Module) -> tuple[nn.Module, dict]:
            t = task()
            out = UNLEARNERS.get(kind)(**kw).unlearn(model, t)
            passes = t.notes["epochs"] * t.notes["examples_per_epoch"]
            return out, {"passes": passes, "notes": t.notes.get("concept"), "patch": t.notes.get("patch")}

        return go

    def random_label(model: nn.Module) -> tuple[nn.Module, dict]:
        ul = UNLEARNERS.get("random_label")(epochs=1, lr=0.01, batch_size=64)
        return ul.unlearn(model, task()), {"passes": len(train_idx)}

    def finetune(model: nn.Module) -> tuple[nn.Module, dict]:
        ul = UNLEARNERS.get("finetune")(epochs=1, lr=0.01, batch_size=64)
        return ul.unlearn(model, task()), {"passes": len(split.retain)}

    def zero_shot(model: nn.Module) -> tuple[nn.Module, dict]:
        idx = split.validation[bundle.train_targets()[split.validation] == cls][:16]
        res = zero_shot_unlearn(model, cls, bundle.train.inputs[torch.as_tensor(idx)])
        return res.model, {"passes": 0}

    methods: dict[str, Callable[[nn.Module], tuple[nn.Module, dict]]] = {
        "original": lambda m: (m, {"passes": 0}),
        "retrain": lambda m: (oracle, {"passes": retrain_passes, "seconds": t_oracle}),
        "output_mask": lambda m: (UNLEARNERS.get("output_mask")().unlearn(m, task()), {"passes": 0}),
        "zero_shot": zero_shot,
        "concept_poison/head": concept("concept_poison", scope="head", labelling="targeted", epochs=args.epochs),
        "concept_poison/full": concept("concept_poison", scope="full", labelling="targeted", epochs=args.epochs),
        "concept_poison/head-random": concept("concept_poison", scope="head", labelling="random", epochs=args.epochs),
        "concept_poison/full-random": concept("concept_poison", scope="full", labelling="random", epochs=args.epochs),
        "concept_patch/full": concept("concept_patch", scope="full", labelling="targeted", epochs=args.epochs),
        "random_label": random_label,
        "finetune": finetune,
    }
    records = []
    for method, run in methods.items():
        model = copy.deepcopy(original)
        t0 = time.perf_counter()
        try:
            out, info = run(model)
        except Exception as exc:  # recorded, the sweep goes on
            records.append({"dataset": name, "class": cls, "seed": seed, "method": method, "error": f"{type(exc).__name__}: {exc}"})
            continue
        seconds = info.pop("seconds", time.perf_counter() - t0)
        out.eval()
        rec: dict[str, Any] = {
            "dataset": name,
            "class": cls,
            "seed": seed,
            "method": method,
            "seconds": seconds,
            "relative_time": seconds / t_oracle,
            "relative_passes": info.pop("passes") / retrain_passes,
            **{k: v for k, v in info.items() if v is not None},
        }
        rec.update(run_metrics(class_metrics, out, ctx))
        for scope in ("head", "whole"):
            rec[f"relearn_{scope}"] = relearn(out, bundle.train, support, bundle.test, split.test, cls, scope, seed=seed)
        rec.update(presence(out, ctx))
        records.append(rec)
        print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in rec.items() if k not in ("notes", "patch")}), flush=True)
    return records


def identification(name: str, bundle: Any, args: argparse.Namespace, model_options: dict, recipe: Recipe, seed: int) -> dict[str, Any]:
    model = build_model("cnn", bundle.input_shape, bundle.num_classes, seed=seed, **model_options)
    train(model, epoch_batches(bundle.train, np.arange(len(bundle.train)), recipe.batch_size, seed), recipe, CPU, progress=False)
    a = C.analyse(model.eval(), bundle.train, np.arange(len(bundle.train)), 0, bundle.num_classes, CPU, top_m=args.top_m, seed=seed)
    prec = {c: C.precision_at_m(a.tops[c], C.class_concepts(c), args.top_m) for c in range(bundle.num_classes)}
    return {
        "dataset": name,
        "seed": seed,
        "precision_at_m": float(np.mean(list(prec.values()))),
        "per_class": prec,
        "tops": a.tops,
        "cbm_accuracy": a.cbm.accuracy,
        "model_accuracy": a.cbm.model_accuracy,
        "dropped": a.bank.dropped,
        "donors": {c: C.choose_donor(c, a.tops, a.attributions, a.bank.names, "shared") for c in range(bundle.num_classes)},
    }


COLUMNS = [
    ("target_acc_train", "A_train"),
    ("target_acc_test", "A_test"),
    ("other_acc_test", "other"),
    ("mia_fr", "Fr"),
    ("mia_fs", "Fs"),
    ("relearn_head", "relearn head"),
    ("relearn_whole", "relearn whole"),
    ("probe_target_acc", "probe"),
    ("concept_presence", "presence"),
    ("relative_passes", "passes/retrain"),
    ("seconds", "s"),
]


def table(data: dict[str, Any]) -> str:
    """Markdown: mean ± std over classes and seeds per dataset and method; |Δ to retrain| for relearn, probe and presence."""
    lines = []
    for ident in data.get("identification", []):
        lines.append(
            f"concept_shapes seed {ident['seed']}: precision@{data['args']['top_m']} = {ident['precision_at_m']:.2f}, "
            f"CBM accuracy {ident['cbm_accuracy']:.1f}% (end-to-end model {ident['model_accuracy']:.1f}% on the same images)"
        )
    records = [r for r in data["records"] if "error" not in r]
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        rows = [r for r in records if r["dataset"] == dataset]
        n_cls = len({(r["class"], r["seed"]) for r in rows})
        lines += [
            "",
            f"**{dataset}** ({n_cls} class x seed runs; mean ± std)",
            "",
            "| method | " + " | ".join(h for _, h in COLUMNS) + " | Δrelearn head | Δrelearn whole | Δprobe | Δpresence |",
            "|---" * (len(COLUMNS) + 5) + "|",
        ]
        oracle = {(r["class"], r["seed"]): r for r in rows if r["method"] == "retrain"}
        for method in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["method"] == method]
            cells = []
            for key, _ in COLUMNS:
                v = np.array([r.get(key, np.nan) for r in sel], dtype=float)
                cells.append(f"{np.nanmean(v):.2f}" if key == "relative_passes" else f"{np.nanmean(v):.1f} ± {np.nanstd(v):.1f}")
            for key in ("relearn_head", "relearn_whole", "probe_target_acc", "concept_presence"):
                d = [abs(r.get(key, np.nan) - oracle[(r["class"], r["seed"])].get(key, np.nan)) for r in sel if (r["class"], r["seed"]) in oracle]
                cells.append(f"{np.nanmean(d):.1f}" if d else "")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--fmnist-classes", default="0,6,9", help="comma list or 'all'")
    parser.add_argument("--shapes-classes", default="all")
    parser.add_argument("--fmnist-pool", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--top-m", type=int, default=5)
    parser.add_argument("--relearn-k", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS / "concept_images.json"))
    parser.add_argument("--quick", action="store_true", help="the reduced run: all concept_shapes classes, 3 Fashion-MNIST classes, 1 seed")
    parser.add_argument("--datasets", default="concept_shapes,fashion_mnist")
    parser.add_argument("--table", help="print the markdown table of a results JSON and exit")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return
    torch.set_num_threads(1)
    records: list[dict[str, Any]] = []
    ident: list[dict[str, Any]] = []
    started = time.time()
    out_path = Path(args.out)

    def save() -> None:
        atomic_write_json(
            out_path,
            {
                "args": vars(args),
                "identification": ident,
                "records": records,
                "seconds": time.time() - started,
                "python": sys.version.split()[0],
                "torch": torch.__version__,
                "machine": platform.machine(),
            },
        )

    shapes = load_dataset("concept_shapes", num_train=3000, num_test=1000, seed=0)
    shapes_opts, shapes_recipe = {"channels": (16, 32), "hidden": 64}, Recipe(epochs=8, lr=0.05, batch_size=64)
    sc = range(10) if args.shapes_classes == "all" else [int(c) for c in args.shapes_classes.split(",")]
    for seed in range(args.seeds if "concept_shapes" in args.datasets else 0):
        ident.append(identification("concept_shapes", shapes, args, shapes_opts, shapes_recipe, seed))
        print(json.dumps({k: ident[-1][k] for k in ("precision_at_m", "cbm_accuracy", "model_accuracy")}), flush=True)
        for cls in sc:
            records += run_class("concept_shapes", shapes, cls, seed, args, shapes_opts, shapes_recipe, np.arange(3000))
            save()
    if "fashion_mnist" not in args.datasets:
        save()
        return
    fm = load_dataset("fashion_mnist")
    rng = np.random.default_rng(0)
    pool = np.sort(rng.choice(len(fm.train), args.fmnist_pool, replace=False))
    test_pool = np.sort(rng.choice(len(fm.test), 2000, replace=False))
    train_sub = with_attributes(IndexedTensorDataset(fm.train.inputs[pool], fm.train.targets[pool]))
    test_sub = IndexedTensorDataset(fm.test.inputs[test_pool], fm.test.targets[test_pool])
    from expunge.data.base import DatasetBundle

    fm_small = DatasetBundle("fashion_mnist_concepts", train_sub, test_sub, 10, fm.class_names, fm.source)
    fm_opts, fm_recipe = {"channels": (16, 32), "hidden": 64}, Recipe(epochs=6, lr=0.05, batch_size=64)
    fc = range(10) if args.fmnist_classes == "all" else [int(c) for c in args.fmnist_classes.split(",")]
    for seed in range(args.seeds):
        for cls in fc:
            records += run_class("fashion_mnist", fm_small, cls, seed, args, fm_opts, fm_recipe, np.arange(len(train_sub)))
            save()
    save()


if __name__ == "__main__":
    main()
