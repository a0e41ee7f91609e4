"""Post-hoc concept bottleneck (Yuksekgonul et al., arXiv 2205.15480) on an example-based bank.

Embeddings are projected onto the bank (concept margins) and a sparse linear head is fit on
the margins with the official code's estimator: ``SGDClassifier(loss="log_loss",
penalty="elasticnet", alpha=1e-5, l1_ratio=0.99, max_iter=10000, random_state=42)``, copied
into an ``nn.Linear``. Its accuracy is reported next to the end-to-end model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from .bank import ConceptBank


class PosthocCBM(nn.Module):
    """``head(margins(embedding))``: a fixed projection onto the bank, then a linear head."""

    def __init__(self, bank: ConceptBank, num_classes: int) -> None:
        super().__init__()
        self.bank = bank
        self.register_buffer("vectors", bank.vectors.clone().float())
        self.register_buffer("biases", bank.biases.clone().float())
        self.head = nn.Linear(len(bank), num_classes)

    def margins(self, embeddings: torch.Tensor) -> torch.Tensor:
        return (embeddings @ self.vectors.T + self.biases) / self.vectors.norm(dim=1).clamp_min(1e-12)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head(self.margins(embeddings))


@dataclass
class CBMFit:
    cbm: PosthocCBM
    accuracy: float  # on the held-out part, percent
    model_accuracy: float | None = None  # the end-to-end model on the same examples, percent
    nonzero_fraction: float = 0.0  # share of non-zero head weights (sparsity of the elastic net)
    accuracy_on: str = ""  # which images the accuracies were measured on


def fit_cbm(
    bank: ConceptBank,
    embeddings: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    num_classes: int,
    alpha: float = 1e-5,
    l1_ratio: float = 0.99,
    max_iter: int = 10000,
    seed: int = 42,
    holdout: float = 0.2,
    model_predictions: torch.Tensor | np.ndarray | None = None,
    test: tuple[torch.Tensor, np.ndarray | torch.Tensor, np.ndarray | torch.Tensor | None] | None = None,
) -> CBMFit:
    """Fit the sparse head on ``bank.margins(embeddings)``; accuracy on ``test`` = (embeddings, labels, model
    predictions) of images the model never trained on when given (the head then fits on every example), else on a
    ``holdout`` share of ``embeddings`` (images the model may have trained on: ``CBMFit.accuracy_on`` says which)."""
    from sklearn.linear_model import SGDClassifier

    y = np.asarray(labels).astype(np.int64)
    if len(y) != len(embeddings):
        raise DataError(f"{len(embeddings)} embeddings but {len(y)} labels.")
    m = bank.margins(embeddings.float()).numpy()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = 0 if test is not None else int(round(holdout * len(y)))
    test_idx, train = order[:n_test], order[n_test:]
    present = np.unique(y[train])
    if len(present) < 2:
        raise DataError("the concept bottleneck needs examples of at least two classes.")
    clf = SGDClassifier(loss="log_loss", penalty="elasticnet", alpha=alpha, l1_ratio=l1_ratio, max_iter=max_iter, random_state=seed, tol=1e-4)
    clf.fit(m[train], y[train])
    cbm = PosthocCBM(bank, num_classes)
    with torch.no_grad():
        cbm.head.weight.zero_()
        cbm.head.bias.fill_(-1e4)  # classes the head never saw are never predicted
        cls = torch.as_tensor(clf.classes_, dtype=torch.long)
        coef = torch.as_tensor(clf.coef_, dtype=torch.float32)
        icpt = torch.as_tensor(clf.intercept_, dtype=torch.float32)
        if len(cls) == 2 and coef.shape[0] == 1:  # sklearn's binary form: one row for the positive class
            coef, icpt = torch.cat([-coef / 2, coef / 2]), torch.cat([-icpt / 2, icpt / 2])
        cbm.head.weight[cls] = coef
        cbm.head.bias[cls] = icpt
    model_acc = None
    if test is not None:
        t_emb, t_y, t_pred = test
        t_y = np.asarray(t_y).astype(np.int64)
        acc = float((clf.predict(bank.margins(t_emb.float()).numpy()) == t_y).mean() * 100) if len(t_y) else float("nan")
        if t_pred is not None and len(t_y):
            model_acc = float((np.asarray(t_pred) == t_y).mean() * 100)
        accuracy_on = f"{len(t_y)} held-out images (not trained on)"
    else:
        acc = float((clf.predict(m[test_idx]) == y[test_idx]).mean() * 100) if n_test else float("nan")
        if model_predictions is not None and n_test:
            model_acc = float((np.asarray(model_predictions)[test_idx] == y[test_idx]).mean() * 100)
        accuracy_on = f"{n_test} training images left out of the CBM fit (the model trained on them)"
    nonzero = float((cbm.head.weight[cls] != 0).float().mean())
    return CBMFit(cbm.eval(), acc, model_acc, nonzero, accuracy_on)
