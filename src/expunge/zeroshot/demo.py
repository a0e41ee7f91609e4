"""``expunge demo --zero-shot``: remove one Fashion-MNIST class without the training data, next to retraining."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..cache import ModelCache
from ..data import load_dataset
from ..utils import atomic_write_json, atomic_write_text, environment_info, resolve_device
from .experiment import QUICK_SETUP, RemovalSetup, format_table, run_class_removal

DESCRIPTIONS = {
    "original": "the trained model before unlearning",
    "retrain": "retrained from scratch without the class (oracle; its seconds are the training time)",
    "lra-npp": "zero-shot LRA-NPP, expunge's default: LRP ε-rule ranking, cut the target-class weights out of the top-K_p neurons, K_p = smallest count taking every analysis image below chance confidence",
    "lra-npp-paper": "zero-shot LRA-NPP as in the authors' MNIST code: cut the weights into (rows) and out of (target row) the neurons, fixed K_p = 80/512 of them",
    "noise-gn": "baseline: Gaussian noise N(0, σ²) on the same entries as lra-npp-paper",
    "noise-ln": "baseline: Laplace noise (scale b) on the same entries as lra-npp-paper",
}


def run_zero_shot_demo(out: str, forget_class: int, quick: bool, quiet: bool, cache_dir: str | None) -> list[dict[str, Any]]:
    """Train (or load) an original and an oracle, unlearn ``forget_class`` zero-shot, write results.json and report.md."""
    started = time.time()
    setup: RemovalSetup = QUICK_SETUP if quick else RemovalSetup()
    bundle = load_dataset(setup.dataset)
    cache = ModelCache(Path(cache_dir).expanduser() if cache_dir else None)
    seed = 0
    records = run_class_removal(setup, bundle, forget_class, seed, cache, quiet)
    table = format_table(records)
    if not quiet:
        print(f"\nzero-shot removal of class {forget_class} ({bundle.class_names[forget_class]}), accuracies and MIA in percent\n")
        print(table)
    out_dir = Path(out)
    provenance = {
        "setup": setup.to_dict(), "forget_class": forget_class, "quick": quick,
        "seeds": {"train_seed": seed, "oracle_seed": seed, "analysis_seed": seed, "pool_seed": setup.pool_seed},
        "environment": environment_info(resolve_device(setup.device)), "total_seconds": time.time() - started,
    }
    atomic_write_json(out_dir / "results.json", {"provenance": provenance, "records": records})
    atomic_write_text(out_dir / "report.md", removal_report(records, provenance))
    return records


def removal_report(records: list[dict[str, Any]], provenance: dict[str, Any]) -> str:
    """The Markdown report of one class removal (also rebuilt by ``expunge report`` from results.json)."""
    table = format_table(records)
    zs = next(r for r in records if r["method"] == "lra-npp")
    retrain = next(r for r in records if r["method"] == "retrain")
    env = provenance["environment"]
    lines = [
        f"# Zero-shot class removal: class {zs['class']} ({zs['class_name']})",
        "",
        "LRA-NPP (arXiv 2410.23693) sees only "
        f"{provenance['setup']['n_analysis']} unseen test images of the class (and {provenance['setup']['n_other']} of other classes "
        "for the automatic K_p rule); never the training set. Accuracies, Fr (SVM-transfer MIA, % of forgotten train images called "
        "non-member; retrain is the reference) and Fs (|loss-attack accuracy − 50|) are in percent; test metrics exclude the analysis images.",
        "",
        table,
        "",
        f"LRA-NPP cut K_p = {zs['k_p']} neurons of `{zs['layer']}`'s input on the {zs['path']} path ({zs['perturbed_entries']} weights) in {zs['seconds']:.3f} s; "
        f"retraining took {retrain['seconds']:.1f} s ({retrain['seconds'] / max(zs['seconds'], 1e-9):.0f}x). K_p rule: {zs['selection_reason']}"
        + ("" if zs["selection_met"] else " (**rule not met**)") + ".",
        "",
        "## Methods",
        "",
        *[f"- **{k}**: {v}" for k, v in DESCRIPTIONS.items()],
        "",
        "## What it leaves behind",
        "",
        "The edit removes the class from the predictions only: the earlier layers still compute the class's features. The `probe_target_acc` "
        f"column measures this: a linear probe on the features entering `{zs['layer']}` still recognises {zs.get('probe_target_acc', float('nan')):.1f}% "
        f"of the class's test images after LRA-NPP, against {retrain.get('probe_target_acc', float('nan')):.1f}% for the retrained model. "
        "Whoever can fine-tune the last layer on a few examples can bring the class back; Fr / Fs only look at the outputs.",
        "",
        "## Provenance",
        "",
        f"- seeds: {provenance['seeds']}",
        f"- setup: `{provenance['setup']}`",
        f"- versions: expunge {env.get('expunge')}, torch {env.get('torch')}, numpy {env.get('numpy')}, scikit-learn {env.get('scikit_learn')}, python {env.get('python')}",
        f"- platform: {env.get('platform')}, {env.get('torch_threads')} torch threads, device {env.get('device')}",
        f"- total wall time: {provenance['total_seconds']:.1f} s",
        "",
    ]
    return "\n".join(lines)
