"""Benchmark: LLM unlearning on the fictitious-authors corpus, every method against a true oracle.

A tiny GPT-2 is trained from scratch on the corpus (the original), and two oracles are retrained
without the forget authors for each forget fraction (oracle 1 against oracle 0 = noise floor).
Each method runs on a copy of the original for each seed (the unlearning seed; the forget
authors are fixed per fraction so the oracles are shared), and the ``lm`` metric set is measured
against oracle 0. Models are cached under ``--cache``.

    nice -n 5 python benchmarks/llm_authors.py --quick            # forget 10%, 1 seed
    nice -n 5 python benchmarks/llm_authors.py                    # forget 5% and 10%, 3 seeds (100 authors: 33 min)
    nice -n 5 python benchmarks/llm_authors.py --fractions 0.01 --seeds 1 --out benchmarks/results/llm_authors_forget01.json

The default corpus (``--corpus-seed 0``) is the benchmark corpus and is never used for tuning;
sweeps go to a development corpus (``--corpus-seed 1``, e.g. ``--authors 50``) with ``--variants``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

from expunge.cache import ModelCache
from expunge.cost import CostMeter
from expunge.data import build_split
from expunge.evaluate.registry import EvalContext, build_metrics, run_metrics
from expunge.family import FamilyData
from expunge.lm import load_authors
from expunge.lm.family import LMFamily
from expunge.lm.models import answer_nll, build_tiny_gpt2, train_lm
from expunge.localize.base import LOCALIZERS
from expunge.train import Recipe, epoch_batches
from expunge.unlearn.base import UNLEARNERS, UnlearningTask
from expunge.utils import atomic_write_json, atomic_write_text

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "methods" / "language-models.md"

# name -> (unlearner, hyperparameters, localizer or None, localizer alpha)
METHODS: dict[str, tuple[str, dict[str, Any], str | None, float | None]] = {
    "concept (IG, mask + concept NPO, LoRA)": ("lm_concept", {}, None, None),
    "concept (IG, NPO on every concept token, NLL retain: default before sweep 17)": ("lm_concept", {"concept_tokens": "all", "retain_objective": "nll"}, None, None),
    "concept (IG, mask only, λ 10: previous default)": ("lm_concept", {"concept_objective": "mask", "retain_weight": 10.0, "retain_objective": "nll"}, None, None),
    "concept (IG, k=5 as the paper)": ("lm_concept", {"top_k": 5}, None, None),
    "concept (random words)": ("lm_concept", {"locator": "random"}, None, None),
    "concept (random words, k=5)": ("lm_concept", {"locator": "random", "top_k": 5}, None, None),
    "concept (capitalised words)": ("lm_concept", {"locator": "capitalized"}, None, None),
    "retrain at equal cost": ("lm_retrain", {}, None, None),
    "grad ascent": ("lm_grad_ascent", {}, None, None),
    "grad diff": ("lm_grad_diff", {}, None, None),
    "NPO": ("lm_npo", {}, None, None),
    "IDK": ("lm_idk", {}, None, None),
    "grad diff + lm_del 10%": ("lm_grad_diff", {}, "lm_del", 0.1),
    "IDK + lm_del 10%": ("lm_idk", {}, "lm_del", 0.1),
}

KEYS = [
    "forget_quality",
    "utility",
    "utility_retain",
    "rouge_forget",
    "rouge_retain",
    "concept_occurrence",
    "concept_occurrence_high",
    "mia_loss_auc",
    "mia_mink_auc",
    "ppl_retain",
    "seconds",
    "passes",
    "seconds_per_step",
    "peak_memory_mb",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="forget 10%%, 1 seed")
    ap.add_argument("--authors", type=int, default=100)
    ap.add_argument(
        "--corpus-seed",
        type=int,
        default=0,
        help="corpus (authors) seed; 0 = the benchmark corpus, never used for tuning. Tune on another seed (the development corpus, e.g. 1)",
    )
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="unlearning seeds are first-seed .. first-seed + seeds - 1 (more seeds for a sweep without re-running the first ones)")
    ap.add_argument("--epochs", type=int, default=30, help="pretraining epochs (original and oracles)")
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "lm"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--override", default="{}", help="JSON {method name: {hyperparameter: value}} merged into METHODS (sweeps)")
    ap.add_argument("--variants", default="{}", help='JSON {new name: [unlearner, {hyperparameters}]}: extra methods for sweeps, e.g. {"c rw3": ["lm_concept", {"retain_weight": 3}]}')
    ap.add_argument("--report-only", default=None, help="recompute summary, targets and table from an existing JSON")
    ap.add_argument(
        "--merge",
        nargs="+",
        default=None,
        help="combine the rows of these result JSONs (e.g. runs of more seeds) into --out: a (method, fraction, seed) row found twice must agree in its metrics; summary, targets and the seed comparison are recomputed",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads; more than 1 is ~10x slower on a contended 2-core machine")
    args = ap.parse_args()
    if args.quick:
        args.fractions, args.seeds = [0.1], 1
    if args.report_only:
        path = Path(args.report_only)
        result = json.loads(path.read_text())
        result["summary"] = summarize(result["rows"])
        result["targets"] = check_targets(result["summary"])
        result["seed_comparison"] = seed_comparison(result["rows"])
        atomic_write_json(path, result)
        table = markdown(result)
        print(table)
        write_doc_table(table, path.name)
        return
    if args.merge:
        if not args.out:
            raise SystemExit("--merge needs --out (the merged JSON).")
        merged = merge_results([json.loads(Path(p).read_text()) for p in args.merge], [str(p) for p in args.merge])
        atomic_write_json(Path(args.out), merged)
        print(markdown(merged))
        return
    torch.set_num_threads(args.threads)
    overrides = json.loads(args.override)
    variants = {name: (u, dict(h), None, None) for name, (u, h) in json.loads(args.variants).items()}
    methods = {**METHODS, **variants}
    if args.variants != "{}":
        args.methods = list(args.methods) + [n for n in variants if n not in args.methods]
    t_start = time.perf_counter()
    bundle = load_authors(args.authors, seed=args.corpus_seed)
    family = LMFamily()
    data = FamilyData(bundle, None)
    extras = family.extras(None, data, CPU)
    models = BenchmarkModels(bundle, args.authors, args.corpus_seed, args.epochs, args.n_layer, args.n_embd, args.cache)
    recipe, arch, trained = models.recipe, models.arch, models.trained
    X, targets = bundle.train.inputs, bundle.train.targets.numpy()

    original, oinfo = models.original()
    print(f"original: {oinfo.get('train_seconds', 0):.0f}s (cache hit: {oinfo['cache_hit']})", flush=True)
    rows: list[dict[str, Any]] = []
    floors: dict[str, Any] = {}
    method_config: dict[str, Any] = {}
    for fraction in args.fractions:
        split = build_split("authors", targets, len(bundle.test), seed=0, validation_fraction=0.0, fraction=fraction)
        forget_ids = sorted(set(targets[split.forget].tolist()))
        oracles = []
        for k in range(2):
            oracle, info = trained("lm-oracle", split.retain, 1 + k, {"forget_authors": forget_ids})
            oracles.append(oracle)
            print(f"forget {fraction:.0%}: oracle {k} {info.get('train_seconds', 0):.0f}s (cache hit: {info['cache_hit']})", flush=True)
        ctx = EvalContext(CPU, seed=0, train_set=bundle.train, test_set=bundle.test, split=split, original=original, oracles=oracles, extras=extras)
        metrics = build_metrics("lm", "lm")
        ref_rows = dict(zip(REFERENCE_ROWS, (original, oracles[1])))
        for name, model in ref_rows.items():
            vals = run_metrics(metrics, model, ctx)
            rows.append({"method": name, "fraction": fraction, "seed": 0, **vals})
            print(f"  {name:28s} " + _line(vals), flush=True)
        floors[str(fraction)] = {"forget_authors": forget_ids, "sizes": split.sizes()}
        for name in args.methods:
            unl_name, hparams, localizer, alpha = methods[name]
            hparams = {**hparams, **overrides.get(name, {})}
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                model = copy.deepcopy(original)
                task = UnlearningTask(
                    train_set=bundle.train,
                    split=split,
                    device=CPU,
                    fresh_model=lambda s: build_tiny_gpt2(bundle.codec, s, **arch),
                    pretrain_recipe=recipe,
                    seed=seed,
                    loss_fn=answer_nll,
                    progress=False,
                    forget_classes=forget_ids,
                )
                unlearner = UNLEARNERS.get(unl_name)(**hparams)
                method_config[name] = {"unlearner": unl_name, "localizer": localizer, "alpha": alpha, "hyperparameters": _jsonable(dataclasses.asdict(unlearner))}
                with CostMeter(CPU) as meter:
                    mask = None
                    if localizer:
                        loc = LOCALIZERS.get(localizer)()
                        scores = loc.fit(model, answer_nll, epoch_batches(bundle.train, split.forget, 16, seed)(0))
                        mask = scores.mask(alpha)
                    out = unlearner.unlearn(model, task, mask)
                vals = run_metrics(metrics, out, ctx)
                notes = {k: v for k, v in task.notes.items() if isinstance(v, (int, float, str, dict, list))}
                row = {"method": name, "fraction": fraction, "seed": seed, **vals, "seconds": meter.cost.wall_seconds, "passes": meter.cost.passes, **notes}
                rows.append(row)
                print(f"  {name:28s} s{seed} " + _line(row), flush=True)
    total = time.perf_counter() - t_start
    result = {
        "benchmark": "llm_authors",
        "overrides": overrides,
        "variants": json.loads(args.variants),
        "corpus_role": "benchmark (untouched: never used to tune any method)" if args.corpus_seed == 0 else "development (tuning) corpus",
        "scale": {
            "authors": args.authors,
            "corpus_seed": args.corpus_seed,
            "fractions": args.fractions,
            "seeds": args.seeds,
            "first_seed": args.first_seed,
            "pretrain_epochs": args.epochs,
            "arch": arch,
            "train_examples": len(X),
            "oracles_per_fraction": 2,
            "threads": args.threads,
        },
        "tuning": TUNING,
        "method_config": method_config,
        "splits": floors,
        "rows": rows,
        "summary": summarize(rows),
        "total_seconds": total,
        "environment": _environment(),
    }
    result["targets"] = check_targets(result["summary"])
    result["seed_comparison"] = seed_comparison(result["rows"])
    out = Path(args.out) if args.out else RESULTS / ("llm_authors_quick.json" if args.quick else "llm_authors.json")
    atomic_write_json(out, result)
    table = markdown(result)
    print(table)
    print(f"total {total:.0f}s -> {out}")
    if out.resolve().parent == RESULTS.resolve():
        write_doc_table(table, out.name)


class BenchmarkModels:
    """The benchmark's original and oracles of one corpus, trained once and cached (``ModelCache``): the cache key is
    the corpus, architecture, recipe and seed, so other scripts (``llm_ig_words.py``) reuse the same models."""

    def __init__(self, bundle: Any, authors: int, corpus_seed: int, epochs: int = 30, n_layer: int = 2, n_embd: int = 128, cache: str | Path = ROOT / ".cache" / "lm") -> None:
        self.bundle = bundle
        self.recipe = Recipe(epochs=epochs, lr=3e-3, batch_size=32, seed=0)
        self.arch = {"n_layer": n_layer, "n_embd": n_embd, "n_head": 4}
        self.cache = ModelCache(cache)
        self.base_spec = {"corpus": {"authors": authors, "seed": corpus_seed, "tokenizer": "bpe", "vocab": 1024}, "arch": self.arch, "recipe": self.recipe.to_dict(), "v": 1}

    def trained(self, kind: str, indices: np.ndarray, seed: int, extra: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        """``kind`` ("lm-original" or "lm-oracle") trained on the rows ``indices`` from seed ``seed``, or its cached copy."""
        spec = {**self.base_spec, **extra, "seed": seed}
        X, r, arch, codec = self.bundle.train.inputs, self.recipe, self.arch, self.bundle.codec
        return self.cache.get_or_train(kind, spec, lambda: build_tiny_gpt2(codec, seed, **arch), lambda m: train_lm(m, X, indices, r.epochs, r.lr, r.batch_size, seed, CPU, desc=kind))

    def original(self) -> tuple[torch.nn.Module, dict[str, Any]]:
        return self.trained("lm-original", np.arange(len(self.bundle.train.inputs)), 0, {})


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool, list, type(None)))}


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg()}
    for pkg in ("torch", "transformers", "peft", "tokenizers", "captum", "numpy", "scipy"):
        try:
            env[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            env[pkg] = None
    try:
        env["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        env["git_dirty_benchmark_or_lm"] = bool(
            subprocess.run(["git", "status", "--porcelain", "benchmarks/llm_authors.py", "src/expunge/lm"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        env["git_commit"] = None
    return env


def _line(vals: dict[str, Any]) -> str:
    return " ".join(f"{k}={vals[k]:.3g}" for k in ("forget_quality", "utility", "rouge_forget", "rouge_retain", "concept_occurrence", "mia_loss_auc") if k in vals)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["fraction"]), []).append(r)
    order = {name: i for i, name in enumerate([*REFERENCE_ROWS, *METHODS])}
    out = []
    for (method, fraction), rs in sorted(groups.items(), key=lambda kv: (float(kv[0][1]), order.get(kv[0][0], len(order)), kv[0][0])):
        s: dict[str, Any] = {"method": method, "fraction": fraction, "n": len(rs)}
        for k in KEYS + ["oracle_concept_occurrence", "oracle_utility", "forget_quality_floor"]:
            v = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
            if v:
                s[k] = float(np.mean(v))
                s[k + "_std"] = float(np.std(v))
        out.append(s)
    return out


SEED = "concept (IG, mask + concept NPO, LoRA)"

# Which data tuned what (tuned vs untouched). The benchmark corpus (--corpus-seed 0) is never used for tuning.
TUNING: dict[str, Any] = {
    "benchmark_corpus": "corpus seed 0 (100 authors by default): never used to choose any hyperparameter",
    "development_corpus": "50 authors, corpus seed 1 (no author shared with the benchmark corpus); forget 5% and 10%, unlearning seeds 0-1",
    "tuned": "lm_concept only: retain_weight 1 -> 10 and epochs 30 -> 45 (LoRA, lr 1e-2, top_k 8 unchanged), the new defaults of the unlearner; then exclude_prompt_words off -> on (2026-12-01); then concept_objective mask -> npo (beta 0.1, concept_weight 1) with retain_weight 10 -> 20 (2026-12-01); then concept_tokens all -> first and retain_objective nll -> kl (2026-12-01, sweep 17)",
    "selection_rule": "retain utility within 2 points of the best baseline's (IDK) at both dev fractions, then the highest forget quality",
    "sweeps": "benchmarks/results/llm_authors_dev_sweep.json",
    "exclude_prompt_words": "chosen on development data only: 50 authors corpus seed 1 (seeds 0-3; occurrence 0 with and without, forget quality 0.466 -> 0.536 at 5%, 0.055 -> 0.020 at 10%, retain utility +1.4/+2.1) and 100 authors corpus seed 1 (seed 0; occurrence 0.133 -> 0.000 at 5% and 10%, forget quality 9.0e-4 -> 6.6e-3 and 2.8e-6 -> 1.9e-5, retain utility -0.3/+0.4); sweeps 4-6 of the dev sweep file",
    "concept_objective": "chosen on development data only: 100 authors corpus seed 1 (seeds 0-1; sweeps 8-10 of the dev sweep file): among the settings whose retain utility stays within 2 points of IDK's at both fractions, npo with beta 0.1 and retain weight 20 has the highest forget quality (0.594 / 0.521 at 5% / 10%; mask 9.1e-3 / 6.0e-5) at retain utility 0.592 / 0.621 (IDK 0.595 / 0.626); sweep 11 (seeds 2-3 added) kept it; sweep 12 tried the swap replacement (not adopted)",
    "passes": "a second round on the 100-author development corpus (corpus seed 1, seeds 0-3; sweeps 13-14 of the dev sweep file, 2026-12-01): 15 / 25 / 35 passes at beta 0.1 and 0.2, retain weight 40 with 15 passes, concept weight 0.5 at 45 passes; rule: retain utility within 2 points of IDK's at both fractions, then the highest forget quality at the worse fraction; none beat the default (the shorter runs miss the window at 5%; concept weight 0.5 is inside it but forgets less), so epochs 45, beta 0.1, retain weight 20 and concept weight 1 stay and the benchmark rows were not re-run",
    "parity_and_kl": "a third round on the 100-author development corpus (corpus seed 1, seeds 0-3; sweep 15 of the dev sweep file, 2026-12-01), after commit 63bbc7e seeded the LoRA init from the unlearning seed: concept_objective parity (margins 0 and 2), parity with retain_objective kl, npo at 15 passes with retain_objective kl; rule: inside the retain-utility window at both fractions and forget quality >= the re-run default's and >= NPO's at both; none qualified (all miss the window at 5%, as does the re-run default), so the defaults stay; sweep 16: parity_reference original (margins 0 and 2) stops short of the oracle (truth ratio ~1.0) and misses the window at 5% too",
    "first_token_and_kl": "a fourth round on the 100-author development corpus (corpus seed 1, seeds 0-9; sweep 17 of the dev sweep file, 2026-12-01): concept_tokens first, with and without retain_objective kl, against the re-run default and NPO; rule: retain utility >= the re-run default's - 1 point and forget quality above it at both fractions, then the higher worse-fraction forget quality; first + kl won (0.612 / 0.552 vs 0.460 / 0.328) and became the default; its loss-attack AUC is 0.80 vs 0.42 (oracles 0.55-0.60), reported as its cost",
    "untuned": "every baseline keeps its defaults (chosen earlier on the 20-author test corpus); no baseline was re-tuned on the development corpus",
}
BASELINES = ("retrain at equal cost", "grad ascent", "grad diff", "NPO", "IDK", "grad diff + lm_del 10%", "IDK + lm_del 10%")


def check_targets(summary: list[dict[str, Any]], tolerance: float = 0.02) -> dict[str, Any]:
    """The issue's targets per forget fraction, on seed means.

    (1) the seed method's forget quality >= each baseline's where the two retain utilities are
    within ``tolerance`` (2 points): "met" or "missed by"; a baseline more than 2 points above or
    below the seed's retain utility is "not comparable" (the verdict says which way, and which
    forget quality is higher; ``strict_verdict`` keeps the older one-sided reading, under which a
    baseline below the seed's utility is compared anyway); (2) concept occurrence <= the oracle's
    + 2 points.
    """
    out: dict[str, Any] = {}
    by = {(s["method"], s["fraction"]): s for s in summary}
    for fraction in sorted({s["fraction"] for s in summary}):
        seed = by.get((SEED, fraction))
        if seed is None:
            continue
        entry: dict[str, Any] = {"seed_forget_quality": seed.get("forget_quality"), "seed_utility_retain": seed.get("utility_retain"), "vs": {}}
        for b in BASELINES:
            base = by.get((b, fraction))
            if base is None:
                continue
            du = base.get("utility_retain", 0.0) - seed.get("utility_retain", 0.0)
            higher = seed["forget_quality"] >= base["forget_quality"]
            compared = "met" if higher else f"missed by {_fq(base['forget_quality'] - seed['forget_quality'])}"
            side = "higher" if du > 0 else "lower"
            verdict = f"not comparable: baseline retain utility {side} by more than 2 points (seed FQ {'not lower' if higher else 'lower'})" if abs(du) > tolerance else compared
            strict = verdict if du > tolerance else compared
            entry["vs"][b] = {"forget_quality": base.get("forget_quality"), "utility_retain": base.get("utility_retain"), "utility_gap": du, "verdict": verdict, "strict_verdict": strict}
        occ, occ0 = seed.get("concept_occurrence"), seed.get("oracle_concept_occurrence")
        if occ is not None and occ0 is not None:
            entry["occurrence"] = {"seed": occ, "oracle": occ0, "met": occ <= occ0 + tolerance, "margin": occ0 + tolerance - occ}
        floor = by.get(("oracle 1 (noise floor)", fraction), {})
        entry["noise_floor_forget_quality"] = floor.get("forget_quality")
        out[str(fraction)] = entry
    return out


# Metrics a re-run of the same (method, fraction, seed) must reproduce (timings and notes may differ).
REPRODUCED = ("forget_quality", "truth_ratio_forget", "utility_retain", "utility", "rouge_forget", "concept_occurrence", "mia_loss_auc")


def merge_results(results: list[dict[str, Any]], sources: list[str]) -> dict[str, Any]:
    """One result from several runs of this script on the same corpus and scale (e.g. seeds 0-2 and 3-9).

    Rows are keyed by (method, fraction, seed); a key present in two inputs must agree on ``REPRODUCED``
    (the runs are deterministic per seed), which checks that the inputs really are the same setting.
    """
    if not results:
        raise ValueError("nothing to merge")

    def setting(res: dict[str, Any]) -> dict[str, Any]:  # the scale without what a merge may differ in
        return {k: v for k, v in res["scale"].items() if k not in ("seeds", "first_seed", "fractions")}

    scale = setting(results[0])
    rows: dict[tuple[str, float, int], dict[str, Any]] = {}
    for res, src in zip(results, sources):
        other = setting(res)
        if other != scale:
            raise ValueError(f"{src}: scale {other} differs from {scale}; only runs of one corpus and model scale can be merged.")
        for r in res["rows"]:
            key = (r["method"], float(r["fraction"]), int(r["seed"]))
            if key in rows:
                diff = [k for k in REPRODUCED if k in r and k in rows[key] and not np.isclose(r[k], rows[key][k], rtol=1e-5, atol=1e-8)]
                if diff:
                    raise ValueError(f"{src}: row {key} disagrees with an earlier input on {diff}; the runs are not the same setting.")
                continue
            rows[key] = r
    merged_rows = sorted(rows.values(), key=lambda r: (float(r["fraction"]), r["method"], int(r["seed"])))
    seeds = sorted({int(r["seed"]) for r in merged_rows if r["method"] not in REFERENCE_ROWS})
    out = dict(results[0])
    out.update(
        rows=merged_rows,
        scale={**results[0]["scale"], "seeds": len(seeds), "first_seed": min(seeds) if seeds else 0, "fractions": sorted({float(r["fraction"]) for r in merged_rows})},
        merged_from=sources,
        method_config={k: v for res in results for k, v in res.get("method_config", {}).items()},
        total_seconds=float(sum(res.get("total_seconds", 0.0) for res in results)),
        environment=[res.get("environment") for res in results],
    )
    out["summary"] = summarize(merged_rows)
    out["targets"] = check_targets(out["summary"])
    out["seed_comparison"] = seed_comparison(merged_rows)
    return out


REFERENCE_ROWS = ("original", "oracle 1 (noise floor)")


def seed_comparison(rows: list[dict[str, Any]], metric: str = "forget_quality", n_boot: int = 10000, rng_seed: int = 0) -> dict[str, Any]:
    """Seed-level uncertainty of the seed method's lead over each baseline, per fraction.

    Forget quality is a KS p-value of 30-60 forget questions, so it varies a lot between unlearning seeds;
    a difference of seed means says little without its spread. For each baseline run with at least two
    seeds: the difference of means (seed method - baseline), its 95% bootstrap interval (seeds resampled
    within each method) and the two-sided Mann-Whitney U p-value of the per-seed values.
    """
    from scipy.stats import mannwhitneyu

    out: dict[str, Any] = {}
    rng = np.random.default_rng(rng_seed)
    for fraction in sorted({float(r["fraction"]) for r in rows}):
        collected: dict[str, list[float]] = {}
        for r in rows:
            if float(r["fraction"]) == fraction and isinstance(r.get(metric), (int, float)):
                collected.setdefault(r["method"], []).append(float(r[metric]))
        values = {m: np.array(v) for m, v in collected.items()}
        seed = values.get(SEED)
        if seed is None or len(seed) < 2:
            continue
        entry: dict[str, Any] = {"seed_method": SEED, "metric": metric, "n_seed": len(seed), "vs": {}}
        for b in BASELINES:
            base = values.get(b)
            if base is None or len(base) < 2:
                continue
            boot = rng.choice(seed, (n_boot, len(seed))).mean(1) - rng.choice(base, (n_boot, len(base))).mean(1)
            lo, hi = np.quantile(boot, [0.025, 0.975])
            diff = float(seed.mean() - base.mean())
            p = float(mannwhitneyu(seed, base, alternative="two-sided").pvalue)  # pyright: ignore[reportAttributeAccessIssue]
            resolved = "seed method higher" if lo > 0 else "baseline higher" if hi < 0 else "not resolved by these seeds"
            entry["vs"][b] = {"n": len(base), "difference": diff, "ci95": [float(lo), float(hi)], "mann_whitney_p": p, "reading": resolved}
        out[str(fraction)] = entry
    return out


def _fq(x: float | None) -> str:
    """Forget quality (a p-value): 3 decimals, or 2 significant digits below 0.01."""
    if x is None:
        return "–"
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.1e}"


def markdown(result: dict[str, Any]) -> str:
    sc = result["scale"]
    lines = [
        f"Scale: {sc['authors']} authors, corpus seed {sc.get('corpus_seed', 0)} ({result.get('corpus_role', 'benchmark')}; {sc['train_examples']} QA pairs incl. world facts), GPT-2 {sc['arch']['n_layer']} layers x {sc['arch']['n_embd']}, "
        f"{sc['pretrain_epochs']} pretraining epochs, {sc['seeds']} seed(s), {sc['threads']} CPU threads; total {result['total_seconds'] / 60:.1f} min. "
        "Mean (± std over seeds). FQ = forget quality (KS p-value vs oracle 0; higher = closer to the oracle); utility = TOFU model utility "
        "(retain + world facts); occurrence = share of greedy answers to forget questions containing the fact word [oracle 0's value]; MIA loss AUC: forget answers vs held-out authors (oracle ≈ 0.5).",
        "",
        "| forget | method | FQ | utility | retain utility | ROUGE forget | ROUGE retain | occurrence [oracle] | MIA loss AUC | s/run | passes/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["summary"]:

        def f(k: str, d: int = 3, s: dict[str, Any] = s) -> str:
            if k not in s:
                return "–"
            sd = s.get(k + "_std", 0.0)
            if k == "forget_quality":
                return _fq(s[k]) + (f" ± {_fq(sd)}" if s["n"] > 1 else "")
            return f"{s[k]:.{d}f}" + (f" ± {sd:.{d}f}" if s["n"] > 1 else "")

        occ = f"{f('concept_occurrence', 2)} [{s.get('oracle_concept_occurrence', float('nan')):.2f}]"
        lines.append(
            f"| {s['fraction']:.0%} | {s['method']} | {f('forget_quality')} | {f('utility')} | {f('utility_retain')} | {f('rouge_forget', 2)} | {f('rouge_retain', 2)} | {occ} | {f('mia_loss_auc', 2)} | {f('seconds', 0)} | {f('passes', 0)} |"
        )
    for fraction, t in (result.get("targets") or {}).items():
        lines.append("")
        occ = t.get("occurrence", {})
        lines.append(
            f"Targets at forget {float(fraction):.0%}: seed FQ {_fq(t['seed_forget_quality'])} at retain utility {t['seed_utility_retain']:.3f} "
            f"(noise floor FQ {_fq(t['noise_floor_forget_quality'])}); occurrence {occ.get('seed', float('nan')):.3f} vs oracle "
            f"{occ.get('oracle', float('nan')):.3f} + 0.02: {'met' if occ.get('met') else 'missed'} (margin {occ.get('margin', float('nan')):+.3f})."
        )
        for b, v in t["vs"].items():
            strict = f" [one-sided reading: {v['strict_verdict']}]" if v.get("strict_verdict", v["verdict"]) != v["verdict"] else ""
            lines.append(f"- vs {b}: FQ {_fq(v['forget_quality'])}, retain utility {v['utility_retain']:.3f} ({v['utility_gap']:+.3f}): {v['verdict']}{strict}")
        comp = (result.get("seed_comparison") or {}).get(fraction)
        if comp and comp["vs"]:
            parts = [
                f"{b} {v['difference']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}] (Mann-Whitney p {v['mann_whitney_p']:.2f}, {comp['n_seed']} vs {v['n']} seeds): {v['reading']}"
                for b, v in comp["vs"].items()
            ]
            lines.append(f"- seed-level spread (seed method minus baseline, FQ, 95% bootstrap interval): {'; '.join(parts)}")
    return "\n".join(lines) + "\n"


def write_doc_table(table: str, source: str) -> None:
    begin, end = f"<!-- {source} begin -->", f"<!-- {source} end -->"
    text = DOC.read_text() if DOC.exists() else ""
    block = f"{begin}\n{table}{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n### Results ({source})\n\n{block}\n"
    atomic_write_text(DOC, text)


if __name__ == "__main__":
    sys.exit(main())
