"""Benchmark: how much does DEL's old batch weighting (Σ_b ∇ mean-loss(b)) move the mask?

The old gradient summed per-batch *mean* gradients, so the r examples of a final partial batch
weighed batch/r times more than the others and the mask depended on the shuffle. The fix sums
per-example gradients (every example weighs the same). For forget sets of 130 / 285 / 570
examples (remainders 2 / 29 / 58 at batch 128) this measures, at α = 0.1 and 0.3 (channel
granularity, global budget):

- Jaccard(old mask with shuffle s, new mask), for several shuffle seeds s;
- Jaccard(old mask, seed 0 vs seed s): how much the old mask depended on the shuffle;
- Jaccard(official-code mask, new mask): the official code drops the partial batch
  (``drop_last=True``) and sums the full batches' mean gradients;
- whether the new mask is the same for every shuffle (it must be, up to float rounding).

Fashion-MNIST is used when ``expunge.data.load_dataset("fashion_mnist")`` finds it, else a
synthetic dataset. Runs in well under 2 minutes on 2 CPU cores.

    python benchmarks/del_mask_remainder.py [--out benchmarks/results/del_mask_remainder.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from expunge.data import load_dataset
from expunge.errors import ExpungeError
from expunge.localize import summed_gradient
from expunge.localize.scores import Scores
from expunge.masks import Mask
from expunge.models import build_model
from expunge.train import Recipe, cross_entropy_loss, epoch_batches, train
from expunge.utils import atomic_write_json, environment_info, eval_mode

FORGET_SIZES = (130, 285, 570)
ALPHAS = (0.1, 0.3)
BATCH = 128
SHUFFLES = (0, 1, 2, 3)


def load_bundle(pool_size: int):
    """Fashion-MNIST if installed, else synthetic; returns (bundle, dataset name)."""
    try:
        return load_dataset("fashion_mnist"), "fashion_mnist"
    except ExpungeError:
        return load_dataset("synthetic", num_train=pool_size, num_test=200, num_classes=10, image_size=16, noise=2.0, seed=0), "synthetic"


def old_batch_weighted_gradient(model: nn.Module, batches: Iterable, drop_partial: bool = False) -> dict[str, torch.Tensor]:
    """The pre-fix rule, reimplemented here: Σ_b ∇ mean-loss(b) (optionally full batches only, as DEL's code)."""
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    with eval_mode(model):
        for batch in batches:
            if drop_partial and len(batch[0]) < BATCH:
                continue
            model.zero_grad(set_to_none=True)
            cross_entropy_loss(model, batch).backward()
            for n, p in model.named_parameters():
                if p.grad is not None:
                    total[n] += p.grad.detach()
    model.zero_grad(set_to_none=True)
    return total


def masks_from(model: nn.Module, gradient: dict[str, torch.Tensor]) -> dict[float, Mask]:
    params = dict(model.named_parameters())
    scores = Scores({n: (params[n].detach() * g).abs() for n, g in gradient.items()}, "channel")
    return {alpha: scores.mask(alpha) for alpha in ALPHAS}


def jaccard(a: Mask, b: Mask) -> float:
    inter = sum(int((a[n] & b[n]).sum()) for n in a.names())
    union = sum(int((a[n] | b[n]).sum()) for n in a.names())
    return inter / union if union else 1.0


def one_forget_set(model: nn.Module, bundle, forget: np.ndarray) -> dict:
    loader = lambda seed: epoch_batches(bundle.train, forget, BATCH, seed)(0)
    new = {s: masks_from(model, summed_gradient(model, cross_entropy_loss, loader(s))) for s in SHUFFLES}
    old = {s: masks_from(model, old_batch_weighted_gradient(model, loader(s))) for s in SHUFFLES}
    official = {s: masks_from(model, old_batch_weighted_gradient(model, loader(s), drop_partial=True)) for s in SHUFFLES}
    row: dict = {"forget_size": len(forget), "remainder": len(forget) % BATCH, "per_alpha": {}}
    for alpha in ALPHAS:
        ref = new[SHUFFLES[0]][alpha]
        row["per_alpha"][str(alpha)] = {
            "jaccard_old_vs_new": [round(jaccard(old[s][alpha], ref), 4) for s in SHUFFLES],
            "jaccard_old_seed0_vs_old_seed_s": [round(jaccard(old[SHUFFLES[0]][alpha], old[s][alpha]), 4) for s in SHUFFLES[1:]],
            "jaccard_official_drop_last_vs_new": [round(jaccard(official[s][alpha], ref), 4) for s in SHUFFLES],
            "new_identical_across_shuffles": all(jaccard(new[s][alpha], ref) == 1.0 for s in SHUFFLES),
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/del_mask_remainder.json")
    parser.add_argument("--pool", type=int, default=4000, help="training examples for the original model")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(0)
    bundle, name = load_bundle(args.pool)
    rng = np.random.default_rng(0)
    pool = np.sort(rng.choice(len(bundle.train), min(args.pool, len(bundle.train)), replace=False))
    shape = tuple(bundle.train.inputs.shape[1:])
    model = build_model("resnet_small", shape, 10, seed=0, width=8)
    train(model, epoch_batches(bundle.train, pool, 64, 0), Recipe(epochs=args.epochs, lr=0.05, batch_size=64), torch.device("cpu"), progress=False)
    rows = [one_forget_set(model, bundle, rng.choice(pool, size, replace=False)) for size in FORGET_SIZES]
    result = {
        "dataset": name,
        "model": "resnet_small(width=8)",
        "pool": len(pool),
        "epochs": args.epochs,
        "batch_size": BATCH,
        "shuffle_seeds": list(SHUFFLES),
        "alphas": list(ALPHAS),
        "granularity": "channel",
        "budget": "global",
        "parameters": sum(p.numel() for p in model.parameters()),
        "results": rows,
        "seconds": round(time.perf_counter() - start, 1),
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)
    for row in rows:
        for alpha, r in row["per_alpha"].items():
            print(
                f"n={row['forget_size']} (rem {row['remainder']}) α={alpha}: old vs new {r['jaccard_old_vs_new']}, "
                f"old seed0 vs s {r['jaccard_old_seed0_vs_old_seed_s']}, official vs new {r['jaccard_official_drop_last_vs_new']}, "
                f"new stable {r['new_identical_across_shuffles']}"
            )
    print(f"wrote {args.out} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
