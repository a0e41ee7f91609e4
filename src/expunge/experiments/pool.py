"""Model pools for strong evaluation: N originals, N (or 2N) oracles and N unlearning replicates.

``expunge pool CONFIG --models N`` trains independently seeded originals and oracles
(cached, reused), runs replicate ``i`` of every configured method on original ``i`` with
unlearning seed ``i``, stores each model's outputs (forget / test logits, retain / test
accuracy) as one ``.npz`` per model, and scores the methods against the oracle pool:
the NeurIPS-2023 ε-score beside its oracle-vs-oracle ceiling at the same N, a LiRA-style
per-example attack, Jensen-Shannon divergence to the oracles, and mean ± std statistics.
Jobs go through an executor, so the pool trains in parallel on Ray.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..evaluate.accuracy import model_outputs
from ..evaluate.divergence import js_to_pool
from ..evaluate.epsilon import epsilon_score, logit_confidence
from ..evaluate.lira import lira_attack, lira_scores
from ..evaluate.stats import summarize, variance_split
from ..utils import atomic_write_bytes, atomic_write_json, environment_info, resolve_device
from .config import ExperimentConfig, load_config
from .context import context_for, seeds_of
from .executors import Job, make_executor
from .method_runs import run_method
from .model_pool import train_cached
from .plots import plot_epsilon_histograms


def original_seed(config: ExperimentConfig, i: int) -> int:
    """Original ``i`` of the pool (derived by ``Seeds``: never an oracle's seed)."""
    return seeds_of(config).pool_original(i)


def _save_npz(path: Path, **arrays: Any) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _outputs_npz(path: Path, model: torch.nn.Module, ctx: Any, seconds: float, extra: dict[str, Any] | None = None) -> None:
    forget = model_outputs(model, ctx.bundle.train, ctx.split.forget, ctx.device)
    retain = model_outputs(model, ctx.bundle.train, ctx.split.retain, ctx.device)
    test = model_outputs(model, ctx.bundle.test, ctx.split.test, ctx.device)
    _save_npz(
        path,
        forget_logits=forget.logits.numpy(),
        forget_labels=forget.labels.numpy(),
        test_logits=test.logits.numpy(),
        test_labels=test.labels.numpy(),
        retain_acc=np.float64(retain.accuracy()),
        test_acc=np.float64(test.accuracy()),
        forget_acc=np.float64(forget.accuracy()),
        seconds=np.float64(seconds),
        info=np.array(json.dumps(extra or {})),
        forget_indices=np.asarray(ctx.split.forget, dtype=np.int64),  # rows of forget_logits: which train examples (for the report's images)
    )


def _pool_context(config_data: dict[str, Any], original_index: int) -> tuple[ExperimentConfig, Any]:
    config = load_config(config_data)
    return config, context_for(config, original_seed(config, original_index))


def original_job(config_data: dict[str, Any], i: int, path: str) -> str:
    config, ctx = _pool_context(config_data, i)
    _outputs_npz(Path(path), ctx.original.model, ctx, ctx.original.info["train_seconds"], {"train_seed": original_seed(config, i)})
    return path


def oracle_job(config_data: dict[str, Any], k: int, path: str) -> str:
    config, ctx = _pool_context(config_data, 0)  # bundle and split are shared by every pool member
    seed = ctx.seeds.oracle(k)
    trained = train_cached(ctx.cache, "oracle", config, ctx.family, ctx.data, seed, ctx.device)
    _outputs_npz(Path(path), trained.model, ctx, trained.info["train_seconds"], {"train_seed": seed})
    return path


def replicate_job(config_data: dict[str, Any], method_index: int, i: int, path: str, extra_seed: int = 0) -> str:
    config, ctx = _pool_context(config_data, i)
    holder: dict[str, torch.nn.Module] = {}
    seed = ctx.seeds.pool_unlearn(i, extra_seed)
    record = run_method(ctx, config.methods[method_index], seed=seed, keep_model=holder)
    _outputs_npz(Path(path), holder["model"], ctx, record["seconds"], {"unlearn_seed": seed, "original_seed": original_seed(config, i)})
    return path


def build_pool(config: ExperimentConfig, n_models: int, ceiling: bool = True, executor: Any | None = None, unlearn_seeds: int = 1) -> Path:
    """Train / run every pool member that is not stored yet, then score; returns pool.json's path.

    ``unlearn_seeds`` > 1 adds further unlearning runs of every original (under ``methods/NAME/extra``)
    so that the variance of each metric can be split into a training and an unlearning part.
    """
    if n_models < 4:
        raise ConfigError("a pool needs at least 4 models per side (LiRA fits Gaussians on halves; the ε-score buckets run to ceil(log(N-1))); 16 or more is sensible.")
    if not config.cache_dir:
        raise ConfigError("expunge pool needs cache_dir: pool members are trained as separate jobs that share the model cache.")
    folder = Path(config.out) / "pool"
    data = config.to_dict()
    runner = executor if executor is not None else make_executor(config.executor.name, **config.executor.options())
    n_oracles = 2 * n_models if ceiling else n_models
    jobs = []
    for i in range(n_models):
        path = folder / "original" / f"{i}.npz"
        if not path.exists():
            jobs.append(Job(f"original-{i}", original_job, (data, i, str(path))))
    for k in range(n_oracles):
        path = folder / "oracle" / f"{k}.npz"
        if not path.exists():
            jobs.append(Job(f"oracle-{k}", oracle_job, (data, k, str(path))))
    for index, method in enumerate(config.methods):
        for i in range(n_models):
            path = folder / "methods" / method.name / f"{i}.npz"
            if not path.exists():
                jobs.append(Job(f"{method.name}-{i}", replicate_job, (data, index, i, str(path))))
            for k in range(1, unlearn_seeds):
                path = folder / "methods" / method.name / "extra" / f"{i}-seed{k}.npz"
                if not path.exists():
                    jobs.append(Job(f"{method.name}-{i}-seed{k}", replicate_job, (data, index, i, str(path), k)))
    extra = [f"methods/{m.name}/extra" for m in config.methods] if unlearn_seeds > 1 else []
    for sub in ["original", "oracle", *[f"methods/{m.name}" for m in config.methods], *extra]:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = runner.map(jobs)
    failures = {r.key: r.error for r in results if not r.ok}
    scores = score_pool(folder, [m.name for m in config.methods], n_models, ceiling, unlearn_seeds, config.evaluation.confidence)
    scores.update(
        config=data,
        n_models=n_models,
        failures=failures,
        jobs_run=len(jobs),
        seconds=time.perf_counter() - started,
        executor=config.executor.name,
        environment=environment_info(resolve_device(config.device)),
        methods_config=[asdict(m) for m in config.methods],
        unlearn_seeds=unlearn_seeds,
        dataset={"name": config.dataset.name, "options": dict(config.dataset.options), "split": asdict(config.split)},  # what forget_indices index (the train set)
    )
    atomic_write_json(folder / "pool.json", scores)
    return folder / "pool.json"


def _load_side(folder: Path, n: int | None = None) -> list[dict[str, np.ndarray]]:
    files = sorted(folder.glob("*.npz"), key=lambda p: int(p.stem))
    if n is not None:
        files = [f for f in files if int(f.stem) < n] if n else files
    return [dict(np.load(f)) for f in files]


def _confidences(side: list[dict[str, np.ndarray]], part: str = "forget", confidence: str = "exact") -> np.ndarray:
    return np.stack([logit_confidence(m[f"{part}_logits"], m[f"{part}_labels"], confidence=confidence) for m in side], axis=1)  # [n_examples, n_models]


def _probs(side: list[dict[str, np.ndarray]], part: str) -> np.ndarray:
    return np.stack([torch.softmax(torch.from_numpy(m[f"{part}_logits"]).double(), 1).numpy() for m in side])  # [K, n, C]


def split_variance(folder: Path, n_models: int, unlearn_seeds: int) -> dict[str, Any]:
    """Training vs unlearning variance of each accuracy over [originals x unlearning seeds]."""
    grid: dict[str, list[list[float]]] = {"forget_acc": [], "retain_acc": [], "test_acc": []}
    for i in range(n_models):
        paths = [folder / f"{i}.npz"] + [folder / "extra" / f"{i}-seed{k}.npz" for k in range(1, unlearn_seeds)]
        if not all(p.exists() for p in paths):
            return {"error": f"replicates of original {i} are missing; re-run expunge pool"}
        members = [dict(np.load(p)) for p in paths]
        for key in grid:
            grid[key].append([float(m[key]) for m in members])
    return {key: variance_split(np.array(values)) for key, values in grid.items()}


def score_pool(folder: Path, methods: list[str], n_models: int, ceiling: bool = True, unlearn_seeds: int = 1, confidence: str = "exact") -> dict[str, Any]:
    """Score every method's replicates against the oracle pool (pure function of the stored outputs).

    ``confidence`` picks the ε-score's transform ("official" = the reference scorer's); LiRA always uses the exact one.
    """
    oracles_all = _load_side(folder / "oracle")
    originals = _load_side(folder / "original", n_models)
    if len(oracles_all) < n_models or len(originals) < n_models:
        raise ConfigError(f"the pool at {folder} holds {len(originals)} originals and {len(oracles_all)} oracles; {n_models} of each are needed. Re-run expunge pool.")
    oracles = oracles_all[:n_models]
    held_out = oracles_all[n_models : 2 * n_models] if len(oracles_all) >= 2 * n_models else None
    oracle_conf = _confidences(oracles)
    half = max(1, n_models // 2)
    in_ref, out_ref = _confidences(originals[:half]), oracle_conf[:, :half]
    negatives_side = held_out if held_out is not None else oracles[half:]
    negatives = lira_scores(_confidences(negatives_side), in_ref, out_ref).reshape(-1)
    oracle_pool_probs = {part: _probs(oracles, part) for part in ("forget", "test")}

    eps_oracle_conf = _confidences(oracles, confidence=confidence)

    def side_scores(side: list[dict[str, np.ndarray]], label: str) -> dict[str, Any]:
        conf = _confidences(side)
        ra = np.array([m["retain_acc"] for m in side])
        ta = np.array([m["test_acc"] for m in side])
        eps = epsilon_score(_confidences(side, confidence=confidence), eps_oracle_conf, ra, np.array([m["retain_acc"] for m in oracles]), ta, np.array([m["test_acc"] for m in oracles]))
        positives = lira_scores(conf, in_ref, out_ref).reshape(-1)
        attack = lira_attack(positives, negatives)
        return {
            "label": label,
            "epsilon_score": float(eps.score),
            "forgetting_quality": float(eps.forgetting_quality),
            "utility_ratio": float(eps.utility_ratio),
            "per_example_epsilon": np.asarray(eps.epsilons).tolist(),
            "lira_auc": attack["auc"],
            "lira_tpr_at_1pct_fpr": attack["tpr_at_1pct_fpr"],
            "js_forget": float(np.mean([js_to_pool(p, oracle_pool_probs["forget"]) for p in _probs(side, "forget")])),
            "js_test": float(np.mean([js_to_pool(p, oracle_pool_probs["test"]) for p in _probs(side, "test")])),
            "forget_acc": summarize([float(m["forget_acc"]) for m in side]),
            "retain_acc": summarize(ra.tolist()),
            "test_acc": summarize(ta.tolist()),
            "seconds": summarize([float(m["seconds"]) for m in side]),
        }

    out: dict[str, Any] = {"n_models": n_models, "lira_reference_models": {"in": half, "out": half}, "sides": {}}
    if "forget_indices" in originals[0]:  # per_example_epsilon[i] is train example forget_indices[i] (pools stored before this have none)
        out["forget_indices"] = np.asarray(originals[0]["forget_indices"]).astype(int).tolist()
    out["sides"]["original"] = side_scores(originals, "original (trained on the forget set)")
    if held_out is not None:
        out["sides"]["oracle-vs-oracle ceiling"] = side_scores(held_out, f"{n_models} further oracles vs the oracle pool")
    for name in methods:
        side = _load_side(folder / "methods" / name, n_models)
        if len(side) < n_models:
            out["sides"][name] = {"label": name, "error": f"only {len(side)} of {n_models} replicates finished"}
            continue
        out["sides"][name] = side_scores(side, name)
        if unlearn_seeds > 1:
            out["sides"][name]["variance_split"] = split_variance(folder / "methods" / name, n_models, unlearn_seeds)
    oracle_seconds = [float(m["seconds"]) for m in oracles]
    out["oracle_train_seconds_median"] = float(np.median(oracle_seconds))
    return out


def pool_report_section(pool: dict[str, Any], folder: Path, rel: str) -> list[str]:
    """Markdown lines (and a PNG) for one pool.json."""
    n = pool["n_models"]
    lines = [
        f"## ε-score pool ({rel or '.'}), N = {n} models per side",
        "",
        "| side | ε-score | F (forgetting quality) | RA·TA ratio | LiRA AUC | TPR@1%FPR | JS forget | JS test | FA | RA | TA | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    per_example = {}
    for name, side in pool["sides"].items():
        if "error" in side:
            lines.append(f"| {name} | {side['error']} |" + " |" * 10)
            continue
        per_example[name] = np.asarray(side["per_example_epsilon"])
        acc = lambda k: f"{side[k]['mean']:.2f}±{side[k]['std']:.2f}"  # noqa: E731
        lines.append(
            f"| {name} | {side['epsilon_score']:.3f} | {side['forgetting_quality']:.3f} | {side['utility_ratio']:.3f} | {side['lira_auc']:.1f} | "
            f"{side['lira_tpr_at_1pct_fpr']:.1f} | {side['js_forget']:.4f} | {side['js_test']:.4f} | {acc('forget_acc')} | {acc('retain_acc')} | {acc('test_acc')} | {acc('seconds')} |"
        )
    for name, side in pool["sides"].items():
        split = side.get("variance_split")
        if split and "error" not in split:
            parts = ", ".join(f"{k}: training {v['training_var']:.2f} / unlearning {v['unlearning_var']:.2f}" for k, v in split.items())
            lines.append(f"- variance of {name} (points²) over {n} originals × {pool.get('unlearn_seeds')} unlearning seeds: {parts}")
    lines += [
        "",
        f"The ceiling row scores {n} further oracles against the oracle pool: no method can be expected to beat it at this N. "
        f"LiRA: per-example Gaussians from {pool['lira_reference_models']['in']} originals (IN) and {pool['lira_reference_models']['out']} oracles (OUT); "
        "AUC of the method's forget-example statistics against held-out oracles' (50 = looks retrained).",
        "",
    ]
    if plot_epsilon_histograms(per_example, folder / "epsilon_hist.png", n):
        lines += [f"![per-example epsilon]({(rel + '/') if rel and rel != '.' else ''}epsilon_hist.png)", ""]
    return lines
