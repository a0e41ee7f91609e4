"""Equal tuning for the LM baselines: NPO and grad diff get as many trials as lm_concept had, at its passes.

``lm_concept``'s defaults came out of 17 development sweeps (``benchmarks/results/llm_authors_dev_sweep.json``)
on the development corpus (corpus seed 1; the lm-authors study evaluates on corpus seed 0), while NPO and
grad diff kept their defaults at about half lm_concept's example passes. Each of them gets :data:`TRIALS`
random-search trials on the same development corpus, every trial at lm_concept's default cost in example
passes (``epochs`` fixed at :data:`EPOCHS` so every trial costs at least lm_concept's default passes: on the
evaluation corpus 3844 / 7688 against 3750 / 7500 at forget 5% / 10%, +2.5%), scored by the rule
lm_concept's sweeps used, fixed before the run (:data:`RULE`, applied by :func:`select`).

``expunge tune`` is not used: it minimises one record key on the validation split, while this rule maximises
forget quality under a retain-utility window at two forget fractions, and the lm family has no validation
split (a held-out QA pair would never be trained by the original or the oracles). Each trial is one
``run_method`` on the lm-authors study's pipeline (:func:`run_part`); the original and the oracles come from
the shared model cache. ``benchmarks/lm_equal_tuning.py`` is the command line; the stored result is
``benchmarks/results/lm_tuning_equal_trials.json`` (:func:`merge_parts`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..experiments.config import ExperimentConfig, MethodConfig
from ..experiments.context import context_for
from ..experiments.method_runs import run_method
from ..experiments.study_plan import load_study, plan_cells
from ..experiments.tune import sample
from ..utils import atomic_write_json, environment_info

TRIALS = 17  # lm_concept's development sweeps (llm_authors_dev_sweep.json, as counted in issue 22)
EPOCHS = 62  # passes over the forget set for every trial; see concept_passes and paired_passes
SPACES: dict[str, dict[str, list[Any]]] = {
    "lm_npo": {"hyperparams.lr": ["loguniform", 3e-4, 1e-2], "hyperparams.beta": ["loguniform", 0.03, 1.0], "hyperparams.retain_weight": ["loguniform", 0.3, 30.0]},
    "lm_grad_diff": {"hyperparams.lr": ["loguniform", 1e-4, 1e-2], "hyperparams.retain_weight": ["loguniform", 0.3, 30.0]},
}
SEARCH_SEED = {"lm_npo": 0, "lm_grad_diff": 1}
DEFAULT_LABELS = {"lm_npo": "NPO (default)", "lm_grad_diff": "grad diff (default)"}
REFERENCES = {"lm_npo": [("IDK (default)", "lm_idk"), ("NPO (default)", "lm_npo")], "lm_grad_diff": [("grad diff (default)", "lm_grad_diff")]}
"""The default-hyperparameter rows each method's part runs: the IDK window and the method's own default come from them."""
RULE = (
    "fixed before the run (the rule of lm_concept's development sweeps 7-16, with sweep 17's tie-break): a trial is eligible iff at both "
    "fractions its retain utility (`utility`) is at least IDK's (default, same corpus and seed) minus 0.02; among eligible trials the "
    "highest worse-fraction forget quality wins. If no trial is eligible: the highest worse-fraction forget quality among trials whose "
    "utility is at least the method's own default's minus 0.01 at both fractions (sweep 17's rule); if none, the trial with the smallest "
    "worst shortfall below the IDK window. Ties (forget quality on 12 questions takes few values) go to the higher "
    "better-fraction forget quality, then the higher mean utility (this tie-break was added while the trials ran, after 9 of 17 "
    "trials at 5% and 2-3 at 10% had been seen)."
)
KEYS = ("forget_quality", "utility", "utility_retain", "truth_ratio_forget", "rouge_forget", "rouge_retain", "mia_loss_auc", "mia_mink_auc", "passes", "unlearn_seconds")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/lm_equal_tuning.py --fraction F --part PART (one process per fraction), then --merge"


def paired_passes(forget: int, epochs: int, batch: int = 8) -> int:
    """Example passes of an LM unlearner's paired loop: each step a forget batch and a full retain batch."""
    return epochs * (forget + batch * -(-forget // batch))


def concept_passes(forget: int) -> int:
    """lm_concept's default cost: 45 paired passes plus IG (32 steps per forget example); 3750 / 7500 in the stored lm-authors rows."""
    return paired_passes(forget, 45) + 32 * forget


def trial_params(unlearner: str, trials: int = TRIALS) -> list[dict[str, Any]]:
    """The random-search draws of one method, seeded by :data:`SEARCH_SEED` so every part draws the same trials."""
    rng = np.random.default_rng(SEARCH_SEED[unlearner])
    return [sample(SPACES[unlearner], rng) for _ in range(trials)]


def trial_method(name: str, unlearner: str, params: dict[str, Any] | None = None, epochs: int | None = None) -> MethodConfig:
    """A method config from search-space paths (``hyperparams.lr`` ...); ``epochs`` fixed where given."""
    hyper: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    for path, value in (params or {}).items():
        hyper[path.split(".", 1)[1]] = value
    return MethodConfig(name=name, unlearner=unlearner, hyperparams=hyper)


def fraction_config(fraction: float, authors: int, corpus_seed: int, oracles: int) -> ExperimentConfig:
    """The lm-authors study's published cell at ``fraction``, moved to a development corpus (``corpus_seed``, ``authors``)."""
    spec = load_study("lm-authors")
    overrides = [f"dataset.options.seed={corpus_seed}", f"dataset.options.num_authors={authors}", f"oracles={oracles}", "quiet=true"]
    cells = [c.config for c in plan_cells(spec, "published", Path("runs/lm-equal-tuning"), overrides)]
    config = next((c for c in cells if abs(c.split.fraction - fraction) < 1e-12), None)
    if config is None:
        raise ConfigError(f"fraction {fraction}: the lm-authors study has the fractions {[c.split.fraction for c in cells]}; tune at one of them.")
    return config


def run_part(fraction: float, unlearners: list[str], trials: range, with_references: bool, authors: int, corpus_seed: int, seed: int, oracles: int, part: Path) -> None:
    """Run the given trials (and the reference rows) of ``unlearners`` at one forget fraction; ``part`` is rewritten after every row."""
    config = fraction_config(fraction, authors, corpus_seed, oracles)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ctx = context_for(config)
    runs: list[tuple[str, MethodConfig, int | None]] = []
    for unlearner in unlearners:
        runs += [(label, trial_method(label, name), None) for label, name in REFERENCES[unlearner] if with_references]
        runs += [(f"{unlearner} trial {i}", trial_method(f"{unlearner} trial {i}", unlearner, p, EPOCHS), i) for i, p in enumerate(trial_params(unlearner)) if i in trials]
    rows = []
    for label, m, trial in runs:
        t = time.perf_counter()
        record = run_method(ctx, m, seed=seed)
        row = {"label": label, "unlearner": m.unlearner, "trial": trial, "hyperparams": m.hyperparams, **{k: record.get(k) for k in KEYS}, "seconds": time.perf_counter() - t}
        rows.append(row)
        print(f"{fraction:.0%} {label}: FQ {row['forget_quality']:.3g} utility {row['utility']:.4f} passes {row['passes']} ({row['seconds']:.0f} s)", flush=True)
        atomic_write_json(
            part,
            {
                "fraction": fraction,
                "forget_examples": int(len(ctx.split.forget)),
                "config": config.to_dict(),
                "rows": rows,
                "seconds": time.perf_counter() - t0,
                "environment": environment_info(ctx.device),
            },
        )


def select(fractions: dict[float, list[dict[str, Any]]], unlearner: str, default_label: str, trials: int = TRIALS) -> dict[str, Any]:
    """Apply :data:`RULE` to the trials of one method (rows per forget fraction); returns the trial table and the choice."""
    window = {f: next(r["utility"] for r in rows if r["label"] == "IDK (default)") - 0.02 for f, rows in fractions.items()}
    own = {f: next(r["utility"] for r in rows if r["label"] == default_label) - 0.01 for f, rows in fractions.items()}
    table = []
    for i in range(trials):
        per = {f: next(r for r in rows if r["unlearner"] == unlearner and r["trial"] == i) for f, rows in fractions.items()}
        table.append(
            {
                "trial": i,
                "hyperparams": per[min(per)]["hyperparams"],
                "per_fraction": {f"{f:g}": {k: r[k] for k in KEYS} for f, r in per.items()},
                "worse_forget_quality": min(r["forget_quality"] for r in per.values()),
                "in_idk_window": all(r["utility"] >= window[f] for f, r in per.items()),
                "within_own_default": all(r["utility"] >= own[f] for f, r in per.items()),
                "worst_shortfall": max(window[f] - r["utility"] for f, r in per.items()),
            }
        )
    tiers = [("IDK window", [t for t in table if t["in_idk_window"]]), ("own default - 0.01", [t for t in table if t["within_own_default"]])]
    tier, pool = next(((name, pool) for name, pool in tiers if pool), ("", []))
    if pool:
        best = max(pool, key=lambda t: (t["worse_forget_quality"], max(v["forget_quality"] for v in t["per_fraction"].values()), np.mean([v["utility"] for v in t["per_fraction"].values()])))
    else:
        tier, best = "closest to the IDK window", min(table, key=lambda t: t["worst_shortfall"])
    return {
        "space": SPACES[unlearner],
        "search": "random",
        "search_seed": SEARCH_SEED[unlearner],
        "window": {f"{f:g}": w for f, w in window.items()},
        "trials": table,
        "chosen_by": tier,
        "best": best,
    }


def merge_parts(data: list[dict[str, Any]], authors: int, corpus_seed: int, seed: int, oracles: int) -> dict[str, Any]:
    """The stored result from the parts :func:`run_part` wrote: rows pooled per fraction, :func:`select` per method, provenance."""
    fractions: dict[float, list[dict[str, Any]]] = {}
    for d in data:
        fractions.setdefault(d["fraction"], []).extend(d["rows"])
    return {
        "purpose": "issue 22 item 5: NPO and grad diff tuned on the development corpus with as many trials as lm_concept had (17), every trial at lm_concept's default example passes",
        "rule": RULE,
        "corpus": {
            "name": "authors",
            "num_authors": authors,
            "corpus_seed": corpus_seed,
            "evaluation_corpus_seed": 0,
            "note": "the development corpus of lm_concept's sweeps 6-18; the lm-authors study (corpus seed 0) was not used",
        },
        "scale": f"the lm-authors model and pretraining recipe (tiny GPT-2, 2 layers, width 128, 30 epochs), {oracles} oracles, unlearning seed {seed} only, forget {sorted(fractions)}",
        "passes": {
            "epochs": EPOCHS,
            "rule": "every trial at the same epochs, so that its passes are at least lm_concept's default at both forget fractions of the development and the evaluation corpus",
            "trials_measured": {f"{f:g}": sorted({r["passes"] for r in rows if r["trial"] is not None}) for f, rows in fractions.items()},
            "lm_concept_default": {f"{d['fraction']:g}": concept_passes(d["forget_examples"]) for d in data},
            "evaluation_corpus": {"forget_examples": [30, 60], "trials": [paired_passes(30, EPOCHS), paired_passes(60, EPOCHS)], "lm_concept_default": [concept_passes(30), concept_passes(60)]},
        },
        "forget_examples": {f"{d['fraction']:g}": d["forget_examples"] for d in data},
        "parts": [{"fraction": d["fraction"], "methods": sorted({r["unlearner"] for r in d["rows"]}), "seconds": d["seconds"]} for d in data],
        "seeds": {"unlearning": [seed], "search": SEARCH_SEED},
        "command": COMMAND,
        "references": {f"{f:g}": [r for r in rows if r["trial"] is None] for f, rows in fractions.items()},
        "methods": {name: select(fractions, name, label) for name, label in DEFAULT_LABELS.items()},
        "config": {f"{d['fraction']:g}": d["config"] for d in data},  # the same per fraction for every part
        "environment": data[0]["environment"],
    }
