"""Hyperparameter search on the validation split (never the test set).

``expunge tune CONFIG --method DEL --trials 8`` draws settings from a search space
(random search, seeded), scores every trial by its Avg.Gap to the oracles where the role
of the test set is played by the *validation* split (held out from both forget and retain
sets, so its examples are genuine non-members), and stores every trial, the chosen values
and a ready-to-run config next to the results. Unreproducible hand-tuned settings are the
field's most common complaint; this makes the choice itself a stored result.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..data import ForgetSplit
from ..errors import ConfigError, RunsFailed
from ..evaluate import deltas
from ..family import FamilyData
from ..utils import atomic_write_json, atomic_write_text, environment_info
from .config import ExperimentConfig, MethodConfig, set_path, validate_method
from .context import Context, context_for
from .frontier import parse_budgets, plan_method, task_sizes
from .method_runs import run_method

# Default search spaces by unlearner; keys are MethodConfig paths. Kinds: loguniform, uniform, int.
DEFAULT_SPACES: dict[str, dict[str, list[Any]]] = {
    "finetune": {"hyperparams.lr": ["loguniform", 0.005, 0.2], "hyperparams.epochs": ["int", 1, 6]},
    "reset_finetune": {"hyperparams.lr": ["loguniform", 0.005, 0.2], "hyperparams.epochs": ["int", 1, 6], "alpha": ["uniform", 0.05, 0.5]},
}
GENERIC_SPACE = {"hyperparams.lr": ["loguniform", 0.001, 0.1], "hyperparams.epochs": ["int", 1, 5]}
SAMPLERS = {
    "loguniform": lambda rng, lo, hi: float(math.exp(rng.uniform(math.log(lo), math.log(hi)))),
    "uniform": lambda rng, lo, hi: float(rng.uniform(lo, hi)),
    "int": lambda rng, lo, hi: int(rng.integers(lo, hi + 1)),
    "choice": lambda rng, *options: options[int(rng.integers(len(options)))],
}
OBJECTIVES = ("avg_gap", "avg_gap_auc", "max_gap")


def parse_space(items: list[str]) -> dict[str, list[Any]]:
    """``["hyperparams.lr=loguniform:0.01:0.3", "hyperparams.reset=choice:fresh:original_init"]`` -> a search space."""
    space: dict[str, list[Any]] = {}
    for item in items:
        path, sep, spec = item.partition("=")
        kind, *values = spec.split(":")
        if not sep or kind not in SAMPLERS or not values:
            raise ConfigError(f"search-space entry {item!r} must look like PATH=KIND:ARG[:ARG...] with KIND one of {sorted(SAMPLERS)}, e.g. hyperparams.lr=loguniform:0.01:0.3.")
        space[path.strip()] = [kind, *(yaml.safe_load(v) for v in values)]
    return space


def check_space(space: dict[str, list[Any]], base: dict[str, Any]) -> None:
    """Every search-space path exists on the method and one drawn setting validates, before any model trains."""
    method_data = copy.deepcopy(base)
    fields = {f.name for f in dataclasses.fields(MethodConfig)}
    for path, value in sample(space, np.random.default_rng(0)).items():
        if path.split(".")[0] not in fields:
            raise ConfigError(f"--space {path}: {path.split('.')[0]!r} is not a method key; use one of {sorted(fields)}, e.g. hyperparams.lr.")
        set_path(method_data, path.split("."), value, f"--space {path}")
    validate_method(MethodConfig(**method_data), "--space")


def default_space(method: dict[str, Any]) -> dict[str, list[Any]]:
    """The unlearner's declared search space (``DEFAULT_SPACES``, else ``GENERIC_SPACE``); alpha only where a localizer uses it."""
    defaults = DEFAULT_SPACES.get(method.get("unlearner") or method.get("name", ""), GENERIC_SPACE)
    return {k: list(v) for k, v in defaults.items() if k != "alpha" or method.get("localizer")}


def validation_context(ctx: Context) -> Context:
    """The same context with the validation split in the test set's place (oracles re-scored on it)."""
    if len(ctx.split.validation) < 20:
        raise ConfigError("tuning needs a validation split; set split.validation_fraction (e.g. 0.05) so at least 20 examples are held out.")
    split = ForgetSplit(ctx.split.forget, ctx.split.retain, np.array([], dtype=np.int64), ctx.split.validation, ctx.split.num_train, ctx.split.num_train, "tuning view: validation as test")
    bundle = dataclasses.replace(ctx.bundle, test=ctx.bundle.train)
    extras = {k: v for k, v in ctx.data.extras.items() if k != "corruption_metrics"}
    data = FamilyData(bundle, split, extras)
    metrics = [m for m in ctx.metrics if "corruption_metrics" not in m.needs]
    eval_context = dataclasses.replace(ctx.eval_context, train_set=bundle.train, test_set=bundle.test, split=split, extras=extras, memo={}, scratch={})
    tuned = dataclasses.replace(ctx, data=data, metrics=metrics, eval_context=eval_context)
    tuned.original = dataclasses.replace(ctx.original, metrics=tuned.evaluate(ctx.original.model))
    tuned.oracles = [dataclasses.replace(o, metrics=tuned.evaluate(o.model)) for o in ctx.oracles]
    return tuned


def oracle_floor(ctx: Context, objective: str) -> float | None:
    """The objective's value for each oracle against the others (leave-one-out), averaged: the noise floor; None if it is not a Δ-based objective."""
    if len(ctx.oracles) < 2 or objective not in OBJECTIVES:
        return None
    return float(np.mean([deltas(o.metrics, [p.metrics for p in ctx.oracles if p is not o])[objective] for o in ctx.oracles]))


def sample(space: dict[str, list[Any]], rng: np.random.Generator) -> dict[str, Any]:
    out = {}
    for path, spec in space.items():
        kind, *bounds = spec
        if kind not in SAMPLERS:
            raise ConfigError(f"search space {path}: kind {kind!r} unknown; choose one of {sorted(SAMPLERS)}.")
        out[path] = SAMPLERS[kind](rng, *bounds)
    return out


def check_limits(limits: Any) -> dict[str, float] | None:
    """``{metric: maximum}`` with numeric maxima, or None (no limit)."""
    if not limits:
        return None
    if not isinstance(limits, dict) or not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in limits.items()):
        raise ConfigError(f"tuning limits must map record metrics to their most allowed value, e.g. {{relative_passes: 0.25}}; got {limits!r}.")
    return {k: float(v) for k, v in limits.items()}


def within_limits(record: dict[str, Any], limits: dict[str, float]) -> bool:
    """Every limited metric is in the record and at most its limit (a metric the run does not report is a config error)."""
    missing = [k for k in limits if not isinstance(record.get(k), (int, float))]
    if missing:
        raise ConfigError(f"tuning limits name {missing}, which this run does not report; limit a record metric such as relative_passes or max_gap.")
    return all(record[k] <= v for k, v in limits.items())


def tune(
    config: ExperimentConfig,
    method_name: str,
    trials: int = 8,
    seed: int = 0,
    objective: str = "avg_gap",
    space: dict[str, list[Any]] | None = None,
    budget: float | None = None,
    limits: dict[str, float] | None = None,
) -> Path:
    """Random search; returns the path of the stored ``tune-<method>.json``.

    With ``budget`` (a fraction of one oracle retraining, as in ``expunge frontier``) the epochs
    are fixed by the frontier's budget rule and taken out of the search space, so every trial
    costs what the budget allows; results go to ``tune-<method>@<budget>.json``.

    With ``limits`` ({record metric: most allowed}, e.g. ``{"relative_passes": 0.25}``) only a trial whose
    every named metric is at most its limit can be chosen: a cost budget for a search whose space still
    holds the epochs. Every trial is stored, marked ``within_limits``; none within them fails the search.
    """
    limits = check_limits(limits)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials must be a positive number of trials, got {trials!r}; e.g. --trials 8.")
    if not objective or not isinstance(objective, str):
        raise ConfigError(f"objective must name a record key to minimise, e.g. one of {OBJECTIVES}.")
    matches = [m for m in config.methods if m.name == method_name]
    if not matches:
        raise ConfigError(f"method {method_name!r} is not in the config; choose one of {[m.name for m in config.methods]}.")
    base = dataclasses.asdict(matches[0])
    if space is None:
        space = default_space(base)
    check_space(space, base)
    ctx = validation_context(context_for(config))
    budget_info = None
    if budget is not None:
        budget = parse_budgets([budget])[0]
        plan = plan_method(matches[0], budget, int(ctx.oracle_cost.passes), task_sizes(ctx))
        if plan.budget is None:
            raise ConfigError(f"method {method_name!r} trains nothing, so it cannot be tuned for a budget; tune it without --budget.")
        base["hyperparams"] = dict(plan.method.hyperparams)
        space = {k: v for k, v in space.items() if k != "hyperparams.epochs"}
        budget_info = plan.info(int(ctx.oracle_cost.passes))
    rng = np.random.default_rng(seed)
    results = []
    for trial in range(trials):
        params = sample(space, rng)
        method_data = copy.deepcopy(base)
        for path, value in params.items():
            set_path(method_data, path.split("."), value)
        method_data["recovery_curve"] = False
        method = MethodConfig(**method_data)
        try:
            record = run_method(ctx, method, seed=seed)
            if objective not in record:
                numeric = sorted(k for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
                raise ConfigError(f"objective {objective!r} is not a metric of this run (its metric set); choose one of {numeric}.")
            results.append(
                {
                    "trial": trial,
                    "params": params,
                    "objective": record[objective],
                    "status": "ok",
                    **{k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("delta_")},
                    **({"within_limits": within_limits(record, limits)} if limits else {}),
                }
            )
        except ConfigError:
            raise
        except Exception as exc:  # a diverging trial is recorded, the search goes on
            results.append({"trial": trial, "params": params, "objective": float("inf"), "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    ok = [r for r in results if r["status"] == "ok"]
    if not ok:
        raise RunsFailed(f"every tuning trial of {method_name} failed; first error: {results[0]['error']}")
    eligible = [r for r in ok if r.get("within_limits", True)]
    if not eligible:
        seen = "; ".join(f"{k}: " + ", ".join(f"{r[k]:.3g}" for r in ok) for k in limits or {})
        # seeded trials give the same costs again: a config error, which executors do not retry
        raise ConfigError(f"no tuning trial of {method_name} stayed within the limits {limits} ({len(ok)} ran; {seen}); widen them or narrow the space.")
    best = min(eligible, key=lambda r: r["objective"])
    best_method = copy.deepcopy(base)
    for path, value in best["params"].items():
        set_path(best_method, path.split("."), value)
    tuned_config = config.to_dict()
    tuned_config["methods"] = [best_method if m["name"] == method_name else m for m in tuned_config["methods"]]
    out = Path(config.out)
    suffix = f"{method_name}@{budget:g}" if budget is not None else method_name
    result = {
        "method": method_name,
        "budget": budget,
        "budget_plan": budget_info,
        "limits": limits,
        "objective": objective,
        "evaluated_on": "validation split (never the test set)",
        "validation_size": int(len(ctx.split.test)),
        "trials": results,
        "best": best,
        "space": space,
        "search": "random",
        "seed": seed,
        "oracle_metrics_on_validation": [o.metrics for o in ctx.oracles],
        "oracle_floor": oracle_floor(ctx, objective),
        "config": config.to_dict(),
        "environment": environment_info(ctx.device),
    }
    path = out / f"tune-{suffix}.json"
    atomic_write_json(path, result)
    atomic_write_text(out / f"tuned-{suffix}.yaml", yaml.safe_dump(tuned_config, sort_keys=False))
    return path
