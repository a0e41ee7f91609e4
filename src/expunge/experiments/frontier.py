"""Cost/quality frontier: every configured method at every compute budget, through the shared runner.

``expunge frontier CONFIG --budgets 0.05,0.1,0.25,0.5,1.0`` turns each budget into a method
config and runs them all with ``run_experiment`` (same records, store, resume, Ray executor
and report), then adds a Pareto table and a plot of quality against measured cost.

**Budget.** A budget ``b`` is a fraction of one oracle retraining's cost, counted in example
passes (forward + backward of one example = 1): ``P = b × P_oracle``, where ``P_oracle`` is the
measured pass count of one oracle's training (median over the pool).

**Budget rule** (one rule, each unlearner declares its own epoch cost)::

    epochs = max(1, round((b × P_oracle − P_localize) / passes_per_epoch))

- ``passes_per_epoch(sizes)`` is declared by the unlearner (``expunge.unlearn``): finetune,
  DEL's reset_finetune, ℓ1-sparse and SCRUB's min pass iterate the retain set (SCRUB adds one
  forget pass, an upper bound since only the first ``msteps`` epochs have it); Random Label and
  SalUn iterate retain ∪ forget; NegGrad+ pairs every retain batch with a forget batch (2 ×
  retain); GA reads len(retain) forget examples per DEL-style epoch; Bad Teacher reads the
  forget set plus its retain subset. An unlearner with ``epochs`` but no declaration is charged
  one retain pass per epoch.
- ``P_localize`` is the localizer's one forward+backward pass over its data (the forget set for
  DEL and SalLoc; forget ∪ retain for ``data_source=train``).
- The one-epoch minimum means a budget below one epoch's cost is exceeded; the table shows the
  requested budget next to the *measured* relative passes and marks such rows "over budget".
- A method that trains nothing (no ``epochs`` hyperparameter: SSD, zero-shot, output_mask ...)
  cannot honour a budget: it runs once and is placed at its measured cost ("training-free").
- ``retrain`` is the reference point at budget 1.0: the oracles themselves, scored
  leave-one-out; their spread is the noise floor drawn as a band.

A diverging run is recorded as failed by the runner; the frontier is drawn from the rest.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..localize import LOCALIZERS
from ..unlearn import UNLEARNERS
from ..utils import atomic_write_json, atomic_write_text
from .config import ExperimentConfig, MethodConfig, load_config, set_path
from .context import context_for
from .executors import make_executor
from .plots import plot_frontier
from .pool import build_pool
from .runner import run_experiment, train_pool

log = logging.getLogger("expunge.frontier")

DEFAULT_BUDGETS = (0.05, 0.1, 0.25, 0.5, 1.0)
# Quality measures: (record key, label, higher is better)
QUALITIES: list[tuple[str, str, bool]] = [("avg_gap", "Avg.Gap", False), ("avg_gap_auc", "Avg.Gap(AUC)", False), ("max_gap", "max |Δ|", False)]
POOL_QUALITIES: list[tuple[str, str, bool]] = [("epsilon_score", "ε-score", True), ("lira_auc_distance", "|LiRA AUC − 50|", False)]
OVER_BUDGET_TOLERANCE = 1.25  # measured passes above 1.25 × the budget: "over budget" (the one-epoch minimum)


# The per-record numbers a frontier point averages over seeds (mean and std of each).
POINT_METRICS = (
    "relative_passes", "relative_time", "avg_gap", "avg_gap_auc", "max_gap",
    "delta_forget", "delta_retain", "delta_test", "delta_mia", "delta_mia_auc",
    "forget_acc", "retain_acc", "test_acc", "mia_efficacy", "mia_auc",
)  # fmt: skip


def parse_budgets(text: str | Sequence[float] | None) -> list[float]:
    """``"0.05,0.1,0.25"`` (or a list) -> sorted unique budgets in (0, 1]; anything else is a ConfigError."""
    if text is None:
        raise ConfigError("no budgets given; pass e.g. --budgets 0.05,0.1,0.25,0.5,1.0 (fractions of one oracle retraining).")
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    items = [t for t in items if not (isinstance(t, str) and t == "")]
    if not items:
        raise ConfigError("the budget list is empty; pass e.g. --budgets 0.05,0.1,0.25,0.5,1.0 (fractions of one oracle retraining).")
    budgets = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"budget {item!r} is not a number; budgets are fractions of one oracle retraining, e.g. 0.25.") from None
        if not math.isfinite(value) or value <= 0 or value > 1:
            raise ConfigError(f"budget {item!r} must lie in (0, 1]: a fraction of one oracle retraining's example passes (1.0 = a full retrain).")
        budgets.append(value)
    return sorted(set(budgets))


def task_sizes(ctx: Any) -> dict[str, int]:
    return {"retain": int(len(ctx.split.retain)), "forget": int(len(ctx.split.forget))}


def passes_per_epoch(unlearner: Any, sizes: dict[str, int]) -> int:
    """Example passes of one epoch of ``unlearner``; 0 for a training-free method (no ``epochs``)."""
    if "epochs" not in getattr(unlearner, "__dataclass_fields__", {}):
        return 0
    declared = getattr(unlearner, "passes_per_epoch", None)
    return int(declared(sizes)) if callable(declared) else int(sizes["retain"])  # pyright: ignore[reportArgumentType]


def localize_passes(method: MethodConfig, sizes: dict[str, int]) -> int:
    """One forward+backward over the localizer's data (0 without a localizer)."""
    if not method.localizer:
        return 0
    source = getattr(LOCALIZERS.get(method.localizer)(**method.localizer_options), "data_source", "forget")
    return sizes["forget"] + (sizes["retain"] if source == "train" else 0)


def budget_epochs(budget: float, oracle_passes: int, per_epoch: int, fixed: int = 0) -> int:
    """The budget rule: ``max(1, round((budget × oracle_passes − fixed) / per_epoch))``."""
    if per_epoch <= 0:
        raise ConfigError("a method without training cannot be given a budget in epochs.")
    return max(1, int(round((budget * oracle_passes - fixed) / per_epoch)))


def budget_label(budget: float | None) -> str:
    return "measured" if budget is None else f"{budget:g}"


@dataclass
class BudgetPlan:
    """One derived method: the configured method at one budget."""

    method: MethodConfig
    base: str
    budget: float | None  # None: training-free, placed at its measured cost
    epochs: int | None
    passes_per_epoch: int
    localize_passes: int
    planned_passes: int
    tuned: bool = False

    def info(self, oracle_passes: int) -> dict[str, Any]:
        return {
            "base_method": self.base,
            "budget": self.budget,
            "epochs": self.epochs,
            "passes_per_epoch": self.passes_per_epoch,
            "localize_passes": self.localize_passes,
            "planned_passes": self.planned_passes,
            "planned_relative_passes": self.planned_passes / oracle_passes if oracle_passes else None,
            "training_free": self.budget is None,
            "tuned": self.tuned,
        }


def plan_method(method: MethodConfig, budget: float, oracle_passes: int, sizes: dict[str, int], suffix: str = "") -> BudgetPlan:
    """``method`` at ``budget``: its epochs set by the budget rule, named ``NAME@budget``."""
    unlearner = UNLEARNERS.get(str(method.unlearner))(**method.hyperparams)
    per_epoch = passes_per_epoch(unlearner, sizes)
    fixed = localize_passes(method, sizes)
    data = asdict(method)
    if per_epoch == 0:
        data["name"] = f"{method.name}{suffix}@measured"
        return BudgetPlan(MethodConfig(**data), method.name + suffix, None, None, 0, fixed, fixed)
    epochs = budget_epochs(budget, oracle_passes, per_epoch, fixed)
    data["hyperparams"] = {**method.hyperparams, "epochs": epochs}
    data["name"] = f"{method.name}{suffix}@{budget:g}"
    return BudgetPlan(MethodConfig(**data), method.name + suffix, budget, epochs, per_epoch, fixed, fixed + epochs * per_epoch, tuned=bool(suffix))


def load_tuned(path: str | Path | None) -> list[dict[str, Any]]:
    """Tuned settings from ``expunge tune`` output: one ``tune-*.json`` file or a folder of them."""
    if path is None:
        return []
    path = Path(path)
    files = sorted(path.glob("tune-*.json")) if path.is_dir() else [path]
    if not files or not all(f.exists() for f in files):
        raise ConfigError(f"--tuned {path}: no tune-*.json found; run `expunge tune CONFIG --method NAME --budget B` first.")
    out = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--tuned {f} is not valid JSON ({exc}).") from exc
        if "best" not in data or "method" not in data:
            raise ConfigError(f"--tuned {f} is not the output of `expunge tune` (no 'method' / 'best').")
        out.append({"method": data["method"], "budget": data.get("budget"), "params": data["best"]["params"], "file": str(f), "evaluated_on": data.get("evaluated_on")})
    return out


def apply_params(method: MethodConfig, params: dict[str, Any]) -> MethodConfig:
    data = asdict(method)
    for key, value in params.items():
        if key == "hyperparams.epochs":
            continue  # the budget rule sets the epochs
        set_path(data, key.split("."), value)
    return MethodConfig(**data)


def plan_frontier(config: ExperimentConfig, budgets: Sequence[float], oracle_passes: int, sizes: dict[str, int], tuned: Sequence[dict[str, Any]] = ()) -> list[BudgetPlan]:
    """Every configured method at every budget (training-free ones once), plus tuned copies."""
    plans: list[BudgetPlan] = []
    for method in config.methods:
        if method.unlearner == "retrain":
            continue  # the oracles are the reference point at budget 1.0
        for budget in budgets:
            plan = plan_method(method, budget, oracle_passes, sizes)
            if plan.budget is None:
                plans.append(plan)
                break
            plans.append(plan)
            for entry in tuned:
                if entry["method"] != method.name or (entry["budget"] is not None and abs(entry["budget"] - budget) > 1e-9):
                    continue
                tuned_plan = plan_method(apply_params(method, entry["params"]), budget, oracle_passes, sizes, suffix="-tuned")
                plans.append(tuned_plan)
                break
    return plans


def frontier_config(config: ExperimentConfig, plans: Sequence[BudgetPlan]) -> ExperimentConfig:
    data = config.to_dict()
    data["methods"] = [asdict(p.method) for p in plans]
    return load_config(data)


# ---------------------------------------------------------------- aggregation and the Pareto table


def _mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return None, None
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def frontier_points(records: Sequence[dict[str, Any]], plans: Sequence[BudgetPlan], oracle_passes: int) -> list[dict[str, Any]]:
    """One point per derived method (and one for retrain): means and stds over seeds of cost and quality."""
    by_name = {p.method.name: p for p in plans}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["method"], []).append(r)
    points = []
    for name, rows in groups.items():
        ok = [r for r in rows if r.get("status", "ok") == "ok"]
        plan = by_name.get(name)
        info = (
            plan.info(oracle_passes)
            if plan
            else {"base_method": name, "budget": 1.0 if name == "retrain" else None, "epochs": None, "training_free": False, "tuned": False, "planned_relative_passes": 1.0}
        )
        point: dict[str, Any] = {"method": name, **info, "n": len(ok), "failed": len(rows) - len(ok), "errors": sorted({str(r.get("error"))[:200] for r in rows if r.get("status") == "failed"})}
        for key in POINT_METRICS:
            point[key], point[f"{key}_std"] = _mean_std(r.get(key) for r in ok)
        notes = []
        if point["training_free"]:
            notes.append("training-free: cannot honour a budget, placed at its measured cost")
        elif name == "retrain":
            notes.append("reference: the oracles, leave-one-out (noise floor)")
        elif point["budget"] is not None and point["relative_passes"] is not None and point["relative_passes"] > OVER_BUDGET_TOLERANCE * point["budget"]:
            notes.append(f"over budget: the one-epoch minimum costs {point['relative_passes']:.3g} × retrain")
        if point["failed"]:
            notes.append(f"{point['failed']} run(s) failed")
        point["note"] = "; ".join(notes)
        points.append(point)
    return points


def pareto_front(points: Sequence[dict[str, Any]], quality: str, higher_better: bool = False, cost: str = "relative_passes") -> set[str]:
    """Names of the points no other point dominates (cost no higher, quality no worse, one strictly better)."""
    usable = [p for p in points if p.get(cost) is not None and p.get(quality) is not None]

    def better_or_equal(a: dict[str, Any], b: dict[str, Any]) -> tuple[bool, bool]:
        qa, qb = (-a[quality], -b[quality]) if higher_better else (a[quality], b[quality])
        ge = a[cost] <= b[cost] and qa <= qb
        strict = a[cost] < b[cost] or qa < qb
        return ge, strict

    front = set()
    for p in usable:
        dominated = any(better_or_equal(q, p) == (True, True) for q in usable if q is not p)
        if not dominated:
            front.add(p["method"])
    return front


def mark_fronts(points: list[dict[str, Any]], qualities: Sequence[tuple[str, str, bool]]) -> None:
    for key, _, higher in qualities:
        front = pareto_front(points, key, higher)
        for p in points:
            p.setdefault("pareto", {})[key] = p["method"] in front if p.get(key) is not None else None


def _fmt(mean: float | None, std: float | None = None, digits: int = 2) -> str:
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + (f"±{std:.{digits}f}" if std else "")


def pareto_table(points: Sequence[dict[str, Any]], qualities: Sequence[tuple[str, str, bool]] = QUALITIES) -> str:
    """Markdown: one row per (method, budget), cost as requested and as measured, quality, frontier flags (★)."""
    keys = [q for q in qualities if any(p.get(q[0]) is not None for p in points)]
    header = ["method", "budget", "epochs", "passes ×retrain (measured)", "time ×retrain", "n"] + [label for _, label, _ in keys] + ["ΔFA", "ΔRA", "ΔTA", "ΔMIA", "on frontier", "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def order(p: dict[str, Any]) -> tuple[Any, ...]:
        return (p["method"] == "retrain", p.get("base_method") or "", p.get("budget") if p.get("budget") is not None else -1)

    for p in sorted(points, key=order):
        flags = [label for key, label, _ in keys if (p.get("pareto") or {}).get(key)]
        cells = [
            p["method"],
            budget_label(p.get("budget")) if p["method"] != "retrain" else "1 (reference)",
            str(p.get("epochs") or "–"),
            _fmt(p.get("relative_passes"), p.get("relative_passes_std"), 3),
            _fmt(p.get("relative_time"), None, 3),
            f"{p['n']}" + (f" ({p['failed']} failed)" if p.get("failed") else ""),
        ]
        cells += [_fmt(p.get(key), p.get(f"{key}_std"), 3 if key == "epsilon_score" else 2) for key, _, _ in keys]
        cells += [_fmt(p.get(k)) for k in ("delta_forget", "delta_retain", "delta_test", "delta_mia")]
        cells += ["★ " + ", ".join(flags) if flags else "", p.get("note", "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- pools (ε-score, LiRA, ceiling)


def pool_scores(config: ExperimentConfig, plans: Sequence[BudgetPlan], budget: float, n_models: int, out: Path, executor: Any | None = None, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """``expunge pool`` over the methods derived for one budget: ε-score, LiRA AUC and the oracle-vs-oracle ceiling.

    ``methods`` (base names) limits the pool to some methods: each pooled method costs N unlearning
    runs per budget on top of the shared originals and oracles.
    """

    chosen = [p for p in plans if p.budget is not None and abs(p.budget - budget) < 1e-9 and (methods is None or p.base in methods)]
    if not chosen:
        return {}
    data = config.to_dict()
    data["methods"] = [asdict(p.method) for p in chosen]
    data["out"] = str(out / f"pool-b{budget:g}")
    path = build_pool(load_config(data), n_models, ceiling=True, executor=executor)
    return json.loads(path.read_text())


def attach_pool(points: list[dict[str, Any]], pool: dict[str, Any]) -> dict[str, Any] | None:
    """Copy each method's ε-score / LiRA AUC onto its point; returns the ceiling side."""
    sides = pool.get("sides", {})
    for p in points:
        side = sides.get(p["method"])
        if side and "error" not in side:
            p["epsilon_score"] = side["epsilon_score"]
            p["lira_auc"] = side["lira_auc"]
            p["lira_auc_distance"] = abs(side["lira_auc"] - 50.0)
            p["pool_n"] = pool["n_models"]
    ceiling = sides.get("oracle-vs-oracle ceiling")
    original = sides.get("original")
    return {
        "n_models": pool.get("n_models"),
        "ceiling": {k: ceiling[k] for k in ("epsilon_score", "lira_auc")} if ceiling and "error" not in ceiling else None,
        "original": {k: original[k] for k in ("epsilon_score", "lira_auc")} if original and "error" not in original else None,
    }


# ---------------------------------------------------------------- the command


def noise_floor(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    retrain = next((p for p in points if p["method"] == "retrain"), None)
    if retrain is None:
        return {}
    return {key: {"mean": retrain.get(key), "std": retrain.get(f"{key}_std")} for key, _, _ in QUALITIES}


def run_frontier(
    config: ExperimentConfig,
    budgets: Sequence[float],
    pool: int = 0,
    pool_budgets: Sequence[float] | None = None,
    tuned: str | Path | None = None,
    executor: Any | None = None,
    pool_methods: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Run every configured method at every budget through ``run_experiment``; write frontier.json/.md and the plot.

    ``overwrite``: finished records of another config in the out folder are moved aside (as ``expunge run --overwrite``).

    ``pool_methods`` (base method names, tuned copies are ``NAME-tuned``) limits the ε-score pool to
    those methods; by default every method is pooled.
    """

    budgets = parse_budgets(list(budgets))
    if not config.methods:
        raise ConfigError("the config lists no methods; add e.g. {name: finetune} under methods.")
    if pool and pool < 4:
        raise ConfigError("--pool needs at least 4 models per side (8 or more is sensible).")
    if pool_methods is not None:
        known = {m.name for m in config.methods} | {f"{m.name}-tuned" for m in config.methods}
        unknown = sorted(set(pool_methods) - known)
        if unknown:
            raise ConfigError(f"--pool-methods {unknown} are not methods of this config; choose among {sorted(m.name for m in config.methods)} (tuned copies: NAME-tuned).")
    tuned_entries = load_tuned(tuned)
    if executor is None:
        executor = make_executor(config.executor.name, **config.executor.options())
    train_pool(config, executor)  # on Ray: the original and the oracles as parallel jobs (a no-op in-process)
    ctx = context_for(config)  # loads (or trains) the pool once; run_experiment reuses it
    oracle_passes = int(ctx.oracle_cost.passes)
    if oracle_passes <= 0:
        raise ConfigError("the oracles' training cost in example passes is unknown (an old cache entry?); clear the cache entry or retrain.")
    sizes = task_sizes(ctx)
    plans = plan_frontier(config, budgets, oracle_passes, sizes, tuned_entries)
    derived = frontier_config(config, plans)
    records = run_experiment(derived, executor, overwrite=overwrite)
    by_name = {p.method.name: p for p in plans}
    for r in records:
        plan = by_name.get(r["method"])
        r["frontier"] = plan.info(oracle_passes) if plan else {"base_method": r["method"], "budget": 1.0, "reference": True}
    points = frontier_points(records, plans, oracle_passes)
    qualities = list(QUALITIES)
    pools: dict[str, Any] = {}
    if pool:
        out = Path(config.out)
        for b in pool_budgets if pool_budgets is not None else budgets:
            scores = pool_scores(config, plans, b, pool, out, executor, pool_methods)
            if scores:
                pools[f"{b:g}"] = attach_pool(points, scores)
        qualities += POOL_QUALITIES
    mark_fronts(points, qualities)
    out = Path(config.out)
    floor = noise_floor(points)
    plot_path = out / "frontier.png"
    plotted = plot_frontier(points, floor, plot_path, pools=pools)
    result = {
        "budgets": budgets,
        "oracle_passes": oracle_passes,
        "task_sizes": sizes,
        "budget_rule": "epochs = max(1, round((budget × oracle_passes − localize_passes) / passes_per_epoch))",
        "points": points,
        "noise_floor": floor,
        "pools": pools,
        "plans": [{"method": p.method.name, **p.info(oracle_passes)} for p in plans],
        "tuned": tuned_entries,
        "records": [{k: v for k, v in r.items() if k not in ("config", "environment")} for r in records],
        "config": config.to_dict(),
        "environment": records[0]["environment"] if records else None,
    }
    atomic_write_json(out / "frontier.json", result)
    md = [
        f"# Frontier: {config.name}",
        "",
        f"Budgets {', '.join(f'{b:g}' for b in budgets)} × one oracle's {oracle_passes:,} example passes. "
        f"Rule: {result['budget_rule']}. ★ marks the Pareto frontier (lower measured cost, better quality).",
        "",
        pareto_table(points, qualities),
        "",
    ]
    if floor:
        md += [
            f"Oracle noise floor (leave-one-out): Avg.Gap {_fmt(floor['avg_gap']['mean'], floor['avg_gap']['std'])}, Avg.Gap(AUC) {_fmt(floor['avg_gap_auc']['mean'], floor['avg_gap_auc']['std'])}.",
            "",
        ]
    for b, entry in pools.items():
        if entry and entry.get("ceiling"):
            md += [
                f"Pool at budget {b} (N = {entry['n_models']}): ceiling ε-score {entry['ceiling']['epsilon_score']:.3f}, LiRA AUC {entry['ceiling']['lira_auc']:.1f}; "
                f"original ε-score {entry['original']['epsilon_score']:.3f}, LiRA AUC {entry['original']['lira_auc']:.1f}.",
                "",
            ]
    if plotted:
        md += ["![frontier](frontier.png)", ""]
    atomic_write_text(out / "frontier.md", "\n".join(md))
    return out / "frontier.json"
