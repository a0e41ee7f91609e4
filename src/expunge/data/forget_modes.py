"""Forget sets beyond IID / non-IID / class: a sub-class cluster and high-memorization examples.

* ``sub_class``: k-means (on the raw inputs) splits one class into clusters; the forget set
  is one cluster, e.g. "rock" inside "music". The rest of the class stays in the retain set.
* ``memorization``: the examples a model can only fit by memorising them. Exact
  memorization scores (Feldman & Zhang 2020) need thousands of models, so we rank by a
  documented proxy: the *held-out loss* of each pool example under 2-fold cross-fitting of a
  multinomial logistic regression on the inputs (an example that a model trained without
  it finds hard is atypical, mislabeled or rare: the long tail that gets memorised; cf. the
  loss-based proxies of Jiang et al. 2021). The top ``fraction`` of the pool is forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from .splits import SPLIT_BUILDERS, _check_classes, _check_fraction


def _flat(inputs: Any, indices: np.ndarray) -> np.ndarray:
    if inputs is None:
        raise DataError("this forget-set builder needs the training inputs; call build_split(..., inputs=bundle.train.inputs).")
    x = inputs[indices]
    x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
    return x.reshape(len(indices), -1).astype(np.float32)


@SPLIT_BUILDERS.register("sub_class", "one k-means cluster of a class (sub-class forgetting)")
def sub_class_split(
    targets: np.ndarray,
    pool: np.ndarray,
    rng: np.random.Generator,
    classes: Sequence[int] | None = None,
    clusters: int = 3,
    cluster: int = 0,
    inputs: Any = None,
    **_: object,
) -> np.ndarray:
    from sklearn.cluster import KMeans

    (label,) = _check_classes(classes, targets[pool], "sub_class")[:1] or [None]
    members = pool[targets[pool] == label]
    if clusters < 2 or not 0 <= cluster < clusters:
        raise DataError(f"sub_class needs clusters >= 2 and 0 <= cluster < clusters, got clusters={clusters}, cluster={cluster}.")
    km = KMeans(n_clusters=clusters, n_init=4, random_state=int(rng.integers(2**31))).fit(_flat(inputs, members))
    # order clusters by size (largest first) so `cluster` means the same thing across seeds
    order = np.argsort(-np.bincount(km.labels_, minlength=clusters), kind="stable")
    chosen = members[km.labels_ == order[cluster]]
    if len(chosen) == 0:
        raise DataError("the chosen sub-class cluster is empty; pick another cluster index.")
    return chosen


def heldout_loss(targets: np.ndarray, pool: np.ndarray, inputs: Any, seed: int) -> np.ndarray:
    """Per-example cross-entropy under a logistic regression trained on the *other* half of the pool."""
    from sklearn.linear_model import LogisticRegression

    x = _flat(inputs, pool)
    y = targets[pool]
    fold = np.random.default_rng(seed).permutation(len(pool)) % 2
    losses = np.empty(len(pool))
    for k in (0, 1):
        fit, held = fold != k, fold == k
        clf = LogisticRegression(max_iter=200, C=0.1).fit(x[fit], y[fit])
        proba = clf.predict_proba(x[held])
        cols = np.searchsorted(clf.classes_, y[held])
        losses[held] = -np.log(np.clip(proba[np.arange(held.sum()), cols], 1e-12, None))
    return losses


@SPLIT_BUILDERS.register("memorization", "the pool's highest held-out-loss examples (a memorization proxy; see forget_modes.py)")
def memorization_split(targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, fraction: float = 0.1, inputs: Any = None, **_: object) -> np.ndarray:
    _check_fraction(fraction)
    scores = heldout_loss(targets, pool, inputs, int(rng.integers(2**31)))
    count = int(fraction * len(pool))
    if count == 0:
        raise DataError(f"fraction={fraction} of a pool of {len(pool)} is zero examples; raise the fraction.")
    return pool[np.argsort(-scores, kind="stable")[:count]]
