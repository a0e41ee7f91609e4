"""Output divergence to the oracle pool: how far a model's predictions are from retraining's.

Why: accuracies and attacks look at one number per example; the Jensen–Shannon divergence
compares whole predictive distributions. specs/evaluation.md ("Comparisons with the oracle
pool") reports the mean JS divergence between an unlearned model's softmax outputs and
each oracle's, on D_f and on D_t. The divergence is Lin's (IEEE Trans. Inf. Theory 1991,
"Divergence measures based on the Shannon entropy"); Chundawat et al. (AAAI 2023, "Can bad
teaching induce forgetting?") use the same quantity in their ZRF score, there against a
randomly initialised model rather than against retraining.

JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = ½ (p + q), natural log: 0 for identical
distributions, ln 2 for disjoint supports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import torch

    ArrayLike = Union[np.ndarray, torch.Tensor]
else:
    ArrayLike = Any

LN2 = float(np.log(2.0))
_SUM_TOLERANCE = 1e-3  # probability rows must sum to 1 within this (float32 softmax is well inside)


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()  # pyright: ignore[reportAttributeAccessIssue].cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _log_probs(x: np.ndarray, logits: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, log-probabilities) over the last axis; rows renormalised exactly."""
    if x.ndim == 0 or x.shape[-1] < 2:
        raise ValueError(f"{name} needs a last axis of >= 2 classes, got shape {x.shape}.")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN.")
    if logits:
        if not np.isfinite(x).all():
            raise ValueError(f"{name} logits contain infinite values.")
        z = x - x.max(axis=-1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return np.exp(log_p), log_p
    if (x < 0).any():
        raise ValueError(f"{name} has negative probabilities (pass logits=True for logits).")
    total = x.sum(axis=-1, keepdims=True)
    if np.any(np.abs(total - 1) > _SUM_TOLERANCE):
        raise ValueError(f"{name} rows must sum to 1 (within {_SUM_TOLERANCE}); pass logits=True for logits.")
    p = x / total
    with np.errstate(divide="ignore"):
        return p, np.log(p)


def js_divergence(p: ArrayLike, q: ArrayLike, *, logits: bool = False) -> np.ndarray:
    """Jensen–Shannon divergence (nats, in [0, ln 2]) between distributions over the last axis.

    ``p`` and ``q`` are probabilities (``logits=False``) or logits (``logits=True``,
    converted with a stable log-softmax), numpy arrays or tensors of broadcastable shapes
    [..., C]. Returns one value per distribution pair, shape [...] (float64).
    """
    p_prob, p_log = _log_probs(_to_numpy(p), logits, "p")
    q_prob, q_log = _log_probs(_to_numpy(q), logits, "q")
    try:
        np.broadcast_shapes(p_prob.shape, q_prob.shape)
    except ValueError as exc:
        raise ValueError(f"p and q shapes do not broadcast: {p_prob.shape} vs {q_prob.shape}.") from exc
    m_log = np.logaddexp(p_log, q_log) - LN2  # log ½(p + q), exact where one side is 0

    def kl_to_m(prob: np.ndarray, log: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            terms = np.where(prob > 0, prob * (log - m_log), 0.0)  # 0·log 0 = 0
        return terms.sum(axis=-1)

    js = 0.5 * kl_to_m(p_prob, p_log) + 0.5 * kl_to_m(q_prob, q_log)
    return np.clip(js, 0.0, LN2)


def js_to_pool(model_probs: ArrayLike, pool_probs: ArrayLike, *, logits: bool = False) -> float:
    """Mean JS divergence between one model and a pool of models (e.g. the oracles).

    ``model_probs``: [n, C]; ``pool_probs``: [K, n, C] on the same n examples. Returns the
    mean over pool members of the mean over examples of JS(model_i, member_i) — with the
    same n for every member, equal to the mean over all K × n pairs. (Not the JS to the
    pool's average prediction, which would be smaller.)
    """
    model = _to_numpy(model_probs)
    pool = _to_numpy(pool_probs)
    if model.ndim != 2:
        raise ValueError(f"model_probs must be [n_examples, n_classes], got shape {model.shape}.")
    if pool.ndim != 3 or pool.shape[1:] != model.shape:
        raise ValueError(f"pool_probs must be [K, {model.shape[0]}, {model.shape[1]}], got shape {pool.shape}.")
    if pool.shape[0] == 0 or model.shape[0] == 0:
        raise ValueError("js_to_pool needs at least one pool member and one example.")
    per_member = js_divergence(model[None], pool, logits=logits).mean(axis=1)  # [K]
    return float(per_member.mean())
