"""Forgetting quality of the NeurIPS 2023 Machine Unlearning challenge (the "ε-score").

Why: a single unlearned model cannot show that it "looks retrained"; the challenge's scorer
compares, for every forget example, the spread of N unlearned models' outputs with the
spread of N oracles' (models retrained without the forget set) and turns the best
distinguishing test into a privacy-style ε. This module reproduces that scorer's numbers.

Reference: google-deepmind/unlearning_evaluation, ``metric.py`` (the NeurIPS 2023 Machine
Unlearning challenge scorer; Triantafillou et al., "Are we making progress in unlearning?
Findings from the first NeurIPS unlearning competition", 2024). Written here from the
definition in specs/evaluation.md; it was cross-checked against the reference on random
inputs (identical per-example ε, see tests/evaluate/test_epsilon.py for the hand cases).

Per example i, with the two samples of N logit-scaled confidences:

1. the "positive" sample is the one with the larger median (ties: the unlearned one);
2. if (smaller spread ÷ larger spread) < 0.01, spread = max − min, then ε_i = 50 (cap);
3. otherwise two families of rules are scanned, 100 thresholds per unit of the value axis:
   single thresholds t over the pooled range (predict positive when value ≥ t, grid built
   in float32 exactly as ``torch.linspace`` builds it), and windows [l, r] that predict the
   peakier sample inside (the window width is tied to the smaller spread, 2 units of buffer
   each side: r on a grid over [min + width − 2, max + 2] of the peakier sample, and for
   every r, 400 values of l over [r − width − 2, r − width + 2]);
4. each rule's (FPR, FNR) (float32, as the reference) gives ε = ∞ when FPR = FNR = 0, is
   discarded when exactly one of them is 0, and otherwise gives
   max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR) floored at 0, δ = 1e-5;
   ε_i = the largest over the kept rules, clipped to [0, 50];
5. buckets of width 0.5 up to ceil(log(N − 1)) earn 1, 1/2, 1/4, … points; F = mean points.

How it is vectorised: a rule's ε depends only on its pair of counts (true positives, false
positives), so the (N + 1)² possible ε values are computed once and every example only
needs the *set* of count pairs its rules reach. Single thresholds are counted directly on
the float32 grid. For the windows, the 400 left edges of one right edge form an arithmetic
grid, so for every data point the number of left edges at or below it is found by
arithmetic plus an exact correction against the float64 grid values; the count pairs
then change only at those positions (2N + 1 candidates per right edge instead of 400).
On 40 examples × 16 models per side this takes milliseconds where the reference loop
takes seconds.

Deliberate differences from the reference code (never from its scores):

* examples with no surviving rule (e.g. both samples constant and equal) get ε = 0; the
  reference stops with an assertion there (its ``assert thr_eps`` on a numpy array also
  fails whenever more than one rule survives; it is read as a non-empty check);
* inputs are [n_examples, N] (the reference takes [N, n_examples]);
* :func:`logit_confidence` is exact in float64 for any logits by default, whereas the
  reference adds 1e-45 inside its logarithms and exponentiates in the logits' dtype, so it
  saturates at ±45·ln 10 ≈ ±103.616 (with float32 logits it loses precision from about ±87);
  the two agree elsewhere. ``confidence="official"`` reproduces the reference's value.

Zero-spread conventions (spread = max − min of one sample of N values):

* one sample constant, the other not: smaller ÷ larger spread = 0 < 0.01, so ε = 50 (0
  points), exactly the reference's rule 2;
* both constant: the ratio is 0/0 = NaN, which is not < 0.01 (in the reference too), so the
  rules are scanned. Equal values: every rule has FPR = 1 or FNR = 1 with the other rate 0,
  all are discarded, and ε = 0 (full points; the reference would stop at its assertion).
  Different values: a rule on the grid separates them perfectly, ε = ∞ → 50 (0 points);
  this always happens when they differ by more than 0.01 (one grid step); closer than that,
  whether a grid edge falls between them depends on where they lie (ε = 50 or 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:  # torch is optional: tensors are accepted without importing it
    import torch

    ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]
else:
    ArrayLike = Any

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0
BUCKET_WIDTH = 0.5
PEAKY_RATIO = 0.01  # smaller spread / larger spread below this => ε = cap
N_LEFT_THRESHOLDS = int(np.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT))  # 400 left edges per right edge

_EXAMPLE_CHUNK = 64  # at most this many examples per vectorised block
_BLOCK_ELEMENTS = 16_000_000  # and about this many window comparisons (401 × (2N + 1) × N per example)
_THRESHOLD_CHUNK = 2048  # single thresholds per block


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch.Tensor
        x = x.detach()  # pyright: ignore[reportAttributeAccessIssue].cpu().numpy()
    return np.asarray(x)


# ---------------------------------------------------------------------------------------
# Logit-scaled confidence
# ---------------------------------------------------------------------------------------


CONFIDENCE_TRANSFORMS = ("exact", "official")
REFERENCE_LOG_FLOOR = 1e-45  # the reference adds this to both probabilities before the log
# |confidence| the reference can reach: log(1 + 1e-45) − log(0 + 1e-45) = 45 · ln 10 ≈ 103.616
REFERENCE_SATURATION = -math.log(REFERENCE_LOG_FLOOR)


def _check_logits(logits: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated copies: logits [n, C] in their own float dtype, labels as int64 [n]."""
    if hasattr(logits, "dtype") and str(getattr(logits, "dtype", "")) == "torch.bfloat16":
        raise ValueError("logits are bfloat16, which numpy (and the reference scorer) cannot take; cast them to float32 first.")
    z = np.array(_to_numpy(logits), copy=True)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    y = _to_numpy(labels)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logit_confidence needs logits of shape [n_examples, n_classes >= 2], got {z.shape}.")
    if y.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},) to match the logits, got {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), got values in [{y.min()}, {y.max()}].")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values.")
    return z, y


def _exact_confidence(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z_y − logsumexp_{k≠y} z_k in float64 (the softmax normaliser cancels): finite for any logits."""
    z = z.astype(np.float64)  # a copy
    rows = np.arange(len(y))
    correct = z[rows, y].copy()
    z[rows, y] = -np.inf
    top = z.max(axis=1)
    log_wrong = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return correct - log_wrong


def _official_confidence(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The reference scorer's value, operation for operation (written from its description).

    In the logits' own dtype: subtract the row maximum and exponentiate (float32 logits, as
    the reference's models give, underflow to subnormals below −87.3 and to 0 below about
    −103.97). Then in float64: normalise, p_y and Σ_{k≠y} p_k, and
    log(p_y + 1e-45) − log(Σ_{k≠y} p_k + 1e-45). So the value saturates at ±45·ln 10 ≈
    ±103.616 (``REFERENCE_SATURATION``) and is coarse from a margin of about 87 (float32).
    """
    rows = np.arange(len(y))
    shifted = z - z.max(axis=1, keepdims=True)  # in the logits' dtype
    probs = np.exp(shifted).astype(np.float64)  # exp in the logits' dtype, then widened
    probs /= probs.sum(axis=1, keepdims=True)
    correct = probs[rows, y].copy()
    probs[rows, y] = 0.0
    wrong = probs.sum(axis=1)
    return np.log(correct + REFERENCE_LOG_FLOOR) - np.log(wrong + REFERENCE_LOG_FLOOR)


def logit_confidence(logits: ArrayLike, labels: ArrayLike, confidence: str = "exact") -> np.ndarray:
    """log p_y − log Σ_{k≠y} p_k per example, as float64, for logits of shape [n, C].

    ``confidence="exact"`` (default) evaluates z_y − logsumexp_{k≠y} z_k with a max-shifted
    logsumexp: exact to float64 rounding and finite for any finite logits.
    ``confidence="official"`` reproduces the NeurIPS-2023 reference scorer bit for bit on the
    logits' dtype (see :func:`_official_confidence`): it agrees with "exact" to float32
    rounding while |margin| < about 87 and saturates at ±103.616 beyond about 104. Use it
    only to compare with numbers produced by the reference.
    """
    transforms = {"exact": _exact_confidence, "official": _official_confidence}
    if confidence not in transforms:
        raise ConfigError(f"confidence transform {confidence!r} unknown; choose 'exact' (float64, never saturates) or 'official' (the reference scorer's saturating float computation).")
    z, y = _check_logits(logits, labels)
    return transforms[confidence](z, y)


# ---------------------------------------------------------------------------------------
# Per-example ε
# ---------------------------------------------------------------------------------------


def _check_samples(unlearned: ArrayLike, oracle: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    u = _to_numpy(unlearned).astype(np.float64)
    o = _to_numpy(oracle).astype(np.float64)
    if u.ndim != 2 or o.ndim != 2:
        raise ValueError(f"the ε-score needs two [n_examples, N] arrays, got shapes {u.shape} and {o.shape}.")
    if u.shape != o.shape:
        raise ValueError(f"unlearned and oracle confidences must have the same shape [n_examples, N], got {u.shape} and {o.shape}.")
    if u.shape[1] < 2:
        raise ValueError(f"the ε-score needs N >= 2 models per side, got N={u.shape[1]}.")
    if u.shape[0] == 0:
        raise ValueError("the ε-score needs at least one example.")
    if np.isnan(u).any() or np.isnan(o).any():
        raise ValueError("ε-score inputs contain NaN (did a model diverge? check it before scoring).")
    if not (np.isfinite(u).all() and np.isfinite(o).all()):
        raise ValueError("ε-score inputs contain infinite values.")
    return u, o


def _epsilon_table(n_models: int, delta: float) -> np.ndarray:
    """ε of a rule as a function of its counts: entry [tp * (N + 1) + fp].

    Rates are float32 count / N (the reference averages float32 indicators); NaN marks a
    discarded rule, EPSILON_CAP a perfect one (FPR = FNR = 0, ε = ∞ before the cap).
    """
    k = np.arange(n_models + 1, dtype=np.float32)
    n = np.float32(n_models)
    hit_rate, miss_rate = k / n, (n - k) / n
    tpr, fnr = hit_rate[:, None], miss_rate[:, None]  # indexed by true positives
    fpr, tnr = hit_rate[None, :], miss_rate[None, :]  # indexed by false positives
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    one_zero = (fpr * fnr == 0) & ~perfect
    one = np.float32(1 - delta)  # the reference's `1 - delta - fpr` runs in float32
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.log(one - fpr) - np.log(fnr)
        second = np.log(one - fnr) - np.log(fpr)
        eps = np.clip(np.fmax(first, second), 0, None)  # fmax: NaN-ignoring, like nanmax
    table = np.where(perfect, EPSILON_CAP, np.where(one_zero, np.nan, eps.astype(np.float64)))
    return table.reshape(-1)


def _fma_float32(a: np.ndarray, k: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32(a * k + c) with a single rounding (a, c float32; k integers below 2**29).

    a * k is exact in float64; the sum is formed with TwoSum so that the one case where
    rounding float64 then float32 differs from rounding once (a float64 result exactly
    halfway between two float32 values) is corrected with the sign of the lost error.
    """
    p = a.astype(np.float64) * k.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bp = s - p
    err = (p - (s - bp)) + (c64 - bp)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    other = np.nextafter(r, np.where(s > r64, np.float32(np.inf), np.float32(-np.inf)))
    other64 = other.astype(np.float64)
    tie = (s != r64) & (s == (r64 + other64) / 2) & (err != 0)
    fix = tie & (np.sign(err) == np.sign(other64 - r64))
    return np.where(fix, other, r)


def _float32_linspace(start: np.ndarray, stop: np.ndarray, count: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Entries ``index`` of ``torch.linspace(start, stop, count)`` in the default float32 dtype.

    torch's kernel computes step = (stop − start) / (count − 1) in float32, then
    start + step·i for the first half and stop − step·(count − 1 − i) for the second, each
    as one fused multiply-add (checked bit for bit against torch's AVX2/AVX-512 CPU build;
    CUDA's compiler fuses by default too, not checked here). start, stop, count: [E];
    index: [E, B] or [1, B]. Returned as float64 (exact); entries with index >= count are
    meaningless.
    """
    s = start.astype(np.float32)[:, None]
    e = stop.astype(np.float32)[:, None]
    cnt = count[:, None]
    step = (e - s) / np.maximum(cnt - 1, 1).astype(np.float32)
    first = _fma_float32(step, index, s)
    second = _fma_float32(-step, cnt - index - 1, e)
    grid = np.where(index < cnt // 2, first, second)
    grid = np.where(cnt == 1, s, grid)  # torch fills a single step with start
    return grid.astype(np.float64)


def _mark(mask: np.ndarray, tp: np.ndarray, fp: np.ndarray, valid: np.ndarray, n_models: int) -> None:
    """Record the reached (tp, fp) count pairs; tp, fp, valid: [E, ...]."""
    rows = np.broadcast_to(np.arange(mask.shape[0]).reshape((-1,) + (1,) * (tp.ndim - 1)), tp.shape)
    mask[rows[valid], (tp * (n_models + 1) + fp)[valid]] = True


def _mark_single_thresholds(pos: np.ndarray, neg: np.ndarray, mask: np.ndarray) -> None:
    """Rules 'positive iff value >= t', t on the reference's float32 grid over the pooled range."""
    n_models = pos.shape[1]
    lo = np.minimum(pos.min(1), neg.min(1))
    hi = np.maximum(pos.max(1), neg.max(1))
    count = np.ceil((hi - lo) * THRESHOLDS_PER_UNIT).astype(np.int64)
    if count.max(initial=0) >= 2**24:
        raise ValueError("confidences span more than 167,772 units; the reference's float32 grid is not defined there.")
    for begin in range(0, int(count.max(initial=0)), _THRESHOLD_CHUNK):
        index = np.arange(begin, min(begin + _THRESHOLD_CHUNK, int(count.max())))[None, :]
        grid = _float32_linspace(lo, hi, count, index)[:, :, None]  # [E, B, 1]
        tp = (pos[:, None, :] >= grid).sum(-1)
        fp = (neg[:, None, :] >= grid).sum(-1)
        _mark(mask, tp, fp, np.broadcast_to(index < count[:, None], tp.shape), n_models)


def _mark_windows(pos: np.ndarray, neg: np.ndarray, mask: np.ndarray) -> None:
    """Rules 'peakier sample iff l <= value <= r' on the reference's float64 grids."""
    n_models = pos.shape[1]
    pos_spread = pos.max(1) - pos.min(1)
    neg_spread = neg.max(1) - neg.min(1)
    width = np.where(pos_spread > neg_spread, neg_spread, pos_spread)
    swap = pos_spread >= neg_spread  # the reference calls the peakier sample 'positive' here
    peaky = np.where(swap[:, None], neg, pos)
    wide = np.where(swap[:, None], pos, neg)

    # right edges: np.linspace(peaky.min + width - 2, peaky.max + 2, ceil(range * 100))
    lo = (peaky.min(1) + width) - BUFFER
    hi = peaky.max(1) + BUFFER
    n_right = np.ceil((hi - lo) * THRESHOLDS_PER_UNIT).astype(np.int64)
    j = np.arange(int(n_right.max(initial=0)))[None, :]
    step = (hi - lo) / np.maximum(n_right - 1, 1)
    right = j * step[:, None] + lo[:, None]
    right = np.where((j == n_right[:, None] - 1) & (n_right[:, None] > 1), hi[:, None], right)  # [E, R]
    right_ok = j < n_right[:, None]

    # left edges of row (e, r): np.linspace(r - width - 2, r - width + 2, 400)
    a = (right - width[:, None]) - BUFFER
    b = (right - width[:, None]) + BUFFER
    step_left = (b - a) / (N_LEFT_THRESHOLDS - 1)

    data = np.concatenate([peaky, wide], axis=1)[:, None, :]  # [E, 1, 2N]
    a3, b3, s3 = a[..., None], b[..., None], step_left[..., None]

    def left_edge(k: np.ndarray) -> np.ndarray:
        return np.where(k == N_LEFT_THRESHOLDS - 1, b3, k * s3 + a3)

    # below[e, r, x] = number of left edges <= x: arithmetic guess, then exact correction
    with np.errstate(invalid="ignore"):
        guess = np.floor((data - a3) / s3) + 1
    below = np.clip(np.nan_to_num(guess, nan=0.0), 0, N_LEFT_THRESHOLDS).astype(np.int64)
    for _ in range(8):
        up = (below < N_LEFT_THRESHOLDS) & (left_edge(np.minimum(below, N_LEFT_THRESHOLDS - 1)) <= data)
        down = (below > 0) & (left_edge(np.maximum(below - 1, 0)) > data)
        if not (up.any() or down.any()):
            break
        below += up.astype(np.int64) - down.astype(np.int64)
    else:  # pragma: no cover - the guess is off by at most one edge
        raise RuntimeError("window thresholds did not converge; please report the inputs.")

    # A data point x lies to the left of edge k iff k >= below(x): the window counts only
    # change at k = below(x), so k in {0} ∪ {below(x) < 400} reaches every count pair.
    candidates = np.concatenate([np.zeros(below.shape[:2] + (1,), np.int64), below], axis=2)  # [E, R, 2N+1]
    cand_ok = right_ok[..., None] & (candidates < N_LEFT_THRESHOLDS)
    below_peaky, below_wide = below[..., :n_models], below[..., n_models:]
    left_of_peaky = (below_peaky[:, :, None, :] <= candidates[..., None]).sum(-1)  # #peaky < l
    left_of_wide = (below_wide[:, :, None, :] <= candidates[..., None]).sum(-1)
    upto_peaky = (peaky[:, None, :] <= right[..., None]).sum(-1)[..., None]  # #peaky <= r
    upto_wide = (wide[:, None, :] <= right[..., None]).sum(-1)[..., None]
    tp = np.maximum(upto_peaky - left_of_peaky, 0)
    fp = np.maximum(upto_wide - left_of_wide, 0)
    _mark(mask, tp, fp, cand_ok, n_models)


def example_epsilons(unlearned: ArrayLike, oracle: ArrayLike, delta: float = DELTA) -> np.ndarray:
    """Per-example ε (float64, in [0, 50]) from confidences of shape [n_examples, N] per side.

    Identical to the reference scorer's per-example epsilons (see the module docstring),
    vectorised over examples. Zero spreads: one side constant → 50; both constant and equal
    → 0 (full points; the reference asserts); both constant and more than 0.01 apart → 50.
    """
    u, o = _check_samples(unlearned, oracle)
    n_examples, n_models = u.shape
    oracle_positive = np.median(o, axis=1) > np.median(u, axis=1)
    pos = np.where(oracle_positive[:, None], o, u)
    neg = np.where(oracle_positive[:, None], u, o)

    pos_spread = pos.max(1) - pos.min(1)
    neg_spread = neg.max(1) - neg.min(1)
    largest = np.where(pos_spread > neg_spread, pos_spread, neg_spread)
    smallest = np.where(pos_spread > neg_spread, neg_spread, pos_spread)
    with np.errstate(divide="ignore", invalid="ignore"):
        # one side constant: 0 / spread = 0 < 0.01 -> capped below (rule 2). Both constant:
        # 0/0 = NaN is not < 0.01 (as in the reference), so the rules decide: equal values
        # leave no surviving rule (ε = 0 below), values more than 0.01 apart separate (ε = 50).
        peaky = smallest / largest < PEAKY_RATIO

    table = _epsilon_table(n_models, delta)
    scored = np.where(np.isnan(table), -1.0, table)  # -1: discarded rule
    eps = np.full(n_examples, EPSILON_CAP)
    todo = np.flatnonzero(~peaky)
    chunk = max(1, min(_EXAMPLE_CHUNK, _BLOCK_ELEMENTS // (401 * (2 * n_models + 1) * n_models)))
    for begin in range(0, len(todo), chunk):
        rows = todo[begin : begin + chunk]
        reached = np.zeros((len(rows), (n_models + 1) ** 2), dtype=bool)
        _mark_windows(pos[rows], neg[rows], reached)
        _mark_single_thresholds(pos[rows], neg[rows], reached)
        best = np.where(reached, scored[None, :], -1.0).max(axis=1)
        # no surviving rule (e.g. both samples constant and equal): nothing tells them apart,
        # ε = 0 (full points); the reference stops with an assertion instead
        eps[rows] = np.where(best < 0, 0.0, best)
    return np.clip(eps, 0.0, EPSILON_CAP)


# ---------------------------------------------------------------------------------------
# Score
# ---------------------------------------------------------------------------------------


def _n_buckets(n_models: int) -> int:
    if int(n_models) != n_models or n_models < 2:
        raise ValueError(f"n_models must be an integer >= 2, got {n_models}.")
    top = math.ceil(math.log(n_models - 1))
    return int(top / BUCKET_WIDTH) if top > 0 else 0


def bucket_points(n_models: int) -> list[tuple[float, float]]:
    """(bucket start, points): 0.5-wide buckets worth 1, 1/2, 1/4, … up to ceil(log(N − 1))."""
    return [(i * BUCKET_WIDTH, 0.5**i) for i in range(_n_buckets(n_models))]


def forgetting_quality(epsilons: ArrayLike, n_models: int) -> float:
    """F = total bucket points ÷ n_examples (1: every example indistinguishable at this N).

    With N = 2 there are no buckets (ceil(log 1) = 0) and F is 0 whatever the ε, as in the
    reference; a warning says so.
    """
    eps = _to_numpy(epsilons).astype(np.float64).reshape(-1)
    n_buckets = _n_buckets(n_models)
    if eps.size == 0:
        raise ValueError("forgetting_quality needs at least one epsilon.")
    if np.isnan(eps).any():
        raise ValueError("epsilons contain NaN.")
    if n_buckets == 0:
        warnings.warn("with N = 2 models per side the ε-score has no buckets: F is 0 by construction.", stacklevel=2)
    bucket = np.floor(np.maximum(eps, 0.0) / BUCKET_WIDTH)  # first bucket with ε < start + 0.5
    points = np.where(bucket < n_buckets, 0.5 ** np.minimum(bucket, 1075), 0.0)
    return float(points.sum() / eps.size)


@dataclass
class EpsilonScore:
    """The challenge's final score and its parts.

    score = forgetting_quality × utility_ratio; epsilons are per forget example;
    utility_ratio = (RA_u / RA_r) × (TA_u / TA_r) with accuracies averaged over each side.
    """

    score: float
    forgetting_quality: float
    epsilons: np.ndarray
    n_models: int
    utility_ratio: float


def _mean_accuracy(value: float | ArrayLike, name: str) -> float:
    v = _to_numpy(value).astype(np.float64).reshape(-1)
    if v.size == 0 or np.isnan(v).any():
        raise ValueError(f"{name} must be a number or a non-empty array without NaN.")
    return float(v.mean())


def epsilon_score(
    unlearned_conf: ArrayLike,
    oracle_conf: ArrayLike,
    retain_acc_unlearned: float | ArrayLike,
    retain_acc_oracle: float | ArrayLike,
    test_acc_unlearned: float | ArrayLike,
    test_acc_oracle: float | ArrayLike,
) -> EpsilonScore:
    """Final score = F × (RA_u / RA_r) × (TA_u / TA_r).

    Confidences: [n_examples, N] per side (from :func:`logit_confidence`). Accuracies: a
    scalar or one value per model (averaged); any consistent unit (fraction or percent).
    """
    eps = example_epsilons(unlearned_conf, oracle_conf)
    n_models = int(_to_numpy(unlearned_conf).shape[1])
    f = forgetting_quality(eps, n_models)
    ra_u = _mean_accuracy(retain_acc_unlearned, "retain_acc_unlearned")
    ra_r = _mean_accuracy(retain_acc_oracle, "retain_acc_oracle")
    ta_u = _mean_accuracy(test_acc_unlearned, "test_acc_unlearned")
    ta_r = _mean_accuracy(test_acc_oracle, "test_acc_oracle")
    if ra_r <= 0 or ta_r <= 0:
        raise ValueError(f"oracle accuracies must be positive to form the utility ratio, got RA={ra_r}, TA={ta_r}.")
    ratio = (ra_u / ra_r) * (ta_u / ta_r)
    return EpsilonScore(score=f * ratio, forgetting_quality=f, epsilons=eps, n_models=n_models, utility_ratio=ratio)


def oracle_ceiling(oracle_pool_conf: ArrayLike, seed: int = 0, n_models: int | None = None) -> float:
    """F of N oracles against N *other* oracles: what retraining itself scores at this N.

    ``oracle_pool_conf`` is [n_examples, M] confidences of M >= 4 oracles; the columns are
    shuffled with ``seed`` and split into two disjoint halves of N = ``n_models`` (default
    M // 2) models each. Report it beside every method scored with the same N: with N = 16
    even two samples of one distribution score far below 1.
    """
    pool = _to_numpy(oracle_pool_conf).astype(np.float64)
    if pool.ndim != 2:
        raise ValueError(f"oracle_ceiling needs [n_examples, 2N] confidences, got shape {pool.shape}.")
    n = pool.shape[1] // 2 if n_models is None else int(n_models)
    if n < 2 or 2 * n > pool.shape[1]:
        raise ValueError(f"oracle_ceiling needs 2N >= 4 oracles with N <= M // 2; got M={pool.shape[1]}, N={n}.")
    order = np.random.default_rng(seed).permutation(pool.shape[1])
    first, second = pool[:, order[:n]], pool[:, order[n : 2 * n]]
    return forgetting_quality(example_epsilons(first, second), n)
