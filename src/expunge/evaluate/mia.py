"""Membership inference: SalUn's SVC MIA-efficacy and the loss-threshold AUC.

MIA-efficacy (Fan et al., SalUn, ICLR 2024; Jia et al., l1-sparse, NeurIPS 2023): an RBF
``SVC(C=3, gamma="auto")`` is fit on the true-class confidence of retain examples (members,
label 1) against test examples (non-members, label 0), balanced; MIA-efficacy is the share
of forget examples it calls non-members, in percent. The loss-threshold AUC is the
ROC-AUC of -loss separating forget (positive) from test examples; 50 means
indistinguishable. See specs/evaluation.md for how both behave on small models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

from ..hparams import hp

if TYPE_CHECKING:
    from .registry import EvalContext

FEATURES = ("confidence",)


@dataclass
class SVCAttack:
    """The fitted attack plus the calibration numbers that make its output interpretable."""

    classifier: SVC
    n_per_side: int
    feature: str = "confidence"

    def nonmember_rate(self, features: np.ndarray) -> float:
        """Percent of examples predicted non-member (label 0)."""
        if len(features) == 0:
            return float("nan")
        return float(1.0 - self.classifier.predict(features.reshape(-1, 1)).mean()) * 100.0


def fit_svc_attack(member_features: np.ndarray, nonmember_features: np.ndarray, seed: int = 0, max_per_side: int | None = 2000) -> SVCAttack:
    """Balanced SVC fit: equal numbers of members and non-members (random subsets, seeded)."""
    rng = np.random.default_rng(seed)
    n = min(len(member_features), len(nonmember_features))
    if max_per_side:
        n = min(n, max_per_side)
    if n < 2:
        raise ValueError("the SVC attack needs at least 2 member and 2 non-member examples.")
    members = rng.choice(member_features, n, replace=False)
    nonmembers = rng.choice(nonmember_features, n, replace=False)
    x = np.concatenate([members, nonmembers]).reshape(-1, 1)
    y = np.concatenate([np.ones(n), np.zeros(n)])
    return SVCAttack(SVC(C=3, gamma="auto", kernel="rbf").fit(x, y), n)


def mia_efficacy(retain_conf: np.ndarray, test_conf: np.ndarray, forget_conf: np.ndarray, seed: int = 0, max_per_side: int | None = 2000) -> float:
    """SalUn's MIA-efficacy (percent of forget examples predicted non-member)."""
    return fit_svc_attack(retain_conf, test_conf, seed, max_per_side).nonmember_rate(forget_conf)


def heldout_nonmember_rate(retain_conf: np.ndarray, test_conf: np.ndarray, seed: int = 0, max_per_side: int | None = 2000) -> float:
    """Calibration: fit on one half of the test set, report the rate on the other half (2-fold, averaged).

    For a forget set the model never trained on, MIA-efficacy should match this number.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(test_conf))
    halves = np.array_split(order, 2)
    rates = []
    for fit_half, held_half in (halves, halves[::-1]):
        attack = fit_svc_attack(retain_conf, test_conf[fit_half], seed, max_per_side)
        rates.append(attack.nonmember_rate(test_conf[held_half]))
    return float(np.mean(rates))


def loss_auc(forget_loss: np.ndarray, test_loss: np.ndarray) -> float:
    """ROC-AUC (percent) of the loss-threshold attack: lower loss => 'member'. 50 = no signal."""
    if len(forget_loss) == 0 or len(test_loss) == 0:
        return float("nan")
    y = np.concatenate([np.ones(len(forget_loss)), np.zeros(len(test_loss))])
    score = -np.concatenate([forget_loss, test_loss])
    return float(roc_auc_score(y, score)) * 100.0


@dataclass
class MiaEfficacyMetric:
    """SalUn's MIA-efficacy on the forget set (percent called non-member): the ``mia_efficacy`` metric."""

    max_per_side: int | None = hp(2000, low=2, doc="members / non-members used to fit the SVC")
    needs: ClassVar[frozenset[str]] = frozenset({"train_set", "test_set", "split"})

    def __call__(self, model: Any, ctx: EvalContext) -> dict[str, float]:
        forget, retain, test = (ctx.outputs(model, p) for p in ("forget", "retain", "test"))
        return {"mia_efficacy": mia_efficacy(retain.confidences(), test.confidences(), forget.confidences(), ctx.seed, self.max_per_side)}


@dataclass
class LossAucMetric:
    """Loss-threshold membership AUC, forget vs test (50 = indistinguishable): the ``mia_auc`` metric."""

    needs: ClassVar[frozenset[str]] = frozenset({"train_set", "test_set", "split"})

    def __call__(self, model: Any, ctx: EvalContext) -> dict[str, float]:
        return {"mia_auc": loss_auc(ctx.outputs(model, "forget").losses(), ctx.outputs(model, "test").losses())}
