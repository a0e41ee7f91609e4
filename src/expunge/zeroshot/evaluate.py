"""Class-removal metrics as in the LRA-NPP paper (spec A §4), in percent.

- target / other accuracy on the training pool and on the test split;
- ``mia_fr`` (SVM transfer): a StandardScaler + linear SVC is fit on the *original* model's
  softmax vectors, target-class train images (members, <= 1500) vs target-class test images
  (non-members), balanced; Fr = share of the unlearned model's target-class train images it
  calls non-member (100 = looks unseen, the retrained model's value is the reference);
- ``mia_fs`` (loss-based): per-example cross-entropy of target-class train vs test images,
  balanced, logistic regression scored by 10-split StratifiedShuffleSplit; Fs = |acc − 50|
  (0 = no membership signal).
- ``probe_target_acc`` (what the edit leaves behind, not in the paper): a linear probe (logistic
  regression) is fit on the features entering the last linear layer, for a class-balanced sample
  of the training pool with its true labels, and scored on the target class's test images. A
  class that is only hidden from the output is still decodable from the features; the retrained
  model (which never learned the class) gives the reference.
Test images used for the analysis are excluded from every test metric by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.base import IndexedTensorDataset
from ..evaluate.accuracy import Outputs, model_outputs
from ..utils import eval_mode


@dataclass
class TransferAttack:
    """The Fr attack, fit once per original model and applied to every candidate."""

    scaler: Any
    classifier: Any
    n_per_side: int

    def nonmember_rate(self, probabilities: np.ndarray) -> float:
        if len(probabilities) == 0:
            return float("nan")
        return float((self.classifier.predict(self.scaler.transform(probabilities)) == 0).mean()) * 100.0


def fit_transfer_attack(member_probs: np.ndarray, nonmember_probs: np.ndarray, seed: int = 0, max_per_side: int = 1500) -> TransferAttack:
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(seed)
    n = min(len(member_probs), len(nonmember_probs), max_per_side)
    if n < 2:
        raise ValueError("the Fr attack needs at least 2 target-class train and 2 target-class test images.")
    x = np.concatenate([rng.permutation(member_probs)[:n], rng.permutation(nonmember_probs)[:n]])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    scaler = StandardScaler().fit(x)
    return TransferAttack(scaler, SVC(kernel="linear").fit(scaler.transform(x), y), n)


def loss_attack_advantage(member_loss: np.ndarray, nonmember_loss: np.ndarray, seed: int = 0) -> float:
    """Fs: |accuracy − 50| of a logistic-regression loss attack, 10 stratified shuffle splits."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

    rng = np.random.default_rng(seed)
    n = min(len(member_loss), len(nonmember_loss))
    if n < 5:
        return float("nan")
    x = np.concatenate([rng.permutation(nonmember_loss)[:n], rng.permutation(member_loss)[:n]]).reshape(-1, 1)
    x = np.clip(x, 0, 1e4)
    y = np.concatenate([np.zeros(n), np.ones(n)])
    cv = StratifiedShuffleSplit(n_splits=10, random_state=seed)
    acc = cross_val_score(LogisticRegression(max_iter=1000), x, y, cv=cv, scoring="accuracy").mean()
    return abs(float(acc) - 0.5) * 100.0


def classifier_features(model: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """The input of the model's last ``nn.Linear`` for every row of ``inputs`` (flattened)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the feature probe needs a model whose last layer is nn.Linear.")
    captured: list[torch.Tensor] = []
    hook = linears[-1].register_forward_hook(lambda module, args, output: captured.append(args[0].detach().flatten(1).cpu()))
    try:
        with eval_mode(model), torch.no_grad():
            for start in range(0, len(inputs), batch_size):
                model(inputs[start : start + batch_size].to(device))
    finally:
        hook.remove()
    return torch.cat(captured).numpy() if captured else np.zeros((0, 0), dtype=np.float32)


def feature_probe_accuracy(train_features: np.ndarray, train_labels: np.ndarray, target_features: np.ndarray, target_class: int) -> float:
    """Share (%) of the target class's images a linear probe on the features still calls the target class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(target_features) == 0:
        return float("nan")
    scaler = StandardScaler().fit(train_features)
    probe = LogisticRegression(max_iter=300).fit(scaler.transform(train_features), train_labels)
    return float((probe.predict(scaler.transform(target_features)) == target_class).mean()) * 100.0


@dataclass
class RemovalEvaluator:
    """Everything fixed across candidates: the data parts, the class and the original's Fr attack."""

    train: IndexedTensorDataset
    train_indices: np.ndarray
    test: IndexedTensorDataset
    test_indices: np.ndarray
    target_class: int
    device: torch.device
    seed: int = 0
    attack: TransferAttack | None = None
    probe_per_class: int = 200  # training-pool images per class for the feature probe; 0 = no probe

    def probe_indices(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        labels = self.train.targets.numpy()[self.train_indices]
        picks = [rng.permutation(self.train_indices[labels == c])[: self.probe_per_class] for c in np.unique(labels)]
        return np.sort(np.concatenate(picks))

    def outputs(self, model: nn.Module) -> tuple[Outputs, Outputs]:
        return model_outputs(model, self.train, self.train_indices, self.device), model_outputs(model, self.test, self.test_indices, self.device)

    def fit_attack(self, original: nn.Module) -> None:
        tr, te = self.outputs(original)
        self.attack = fit_transfer_attack(tr.probabilities()[tr.labels == self.target_class], te.probabilities()[te.labels == self.target_class], self.seed)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        if self.attack is None:
            raise RuntimeError("call fit_attack(original_model) before evaluating candidates (Fr is fit on the original).")
        tr, te = self.outputs(model)
        out: dict[str, float] = {}
        for split, o in (("train", tr), ("test", te)):
            t = o.labels == self.target_class
            out[f"target_acc_{split}"] = Outputs(o.logits[t], o.labels[t]).accuracy()
            out[f"other_acc_{split}"] = Outputs(o.logits[~t], o.labels[~t]).accuracy()
        t_tr, t_te = tr.labels == self.target_class, te.labels == self.target_class
        out["mia_fr"] = self.attack.nonmember_rate(tr.probabilities()[t_tr])
        out["mia_fs"] = loss_attack_advantage(tr.losses()[t_tr.numpy()], te.losses()[t_te.numpy()], self.seed)
        if self.probe_per_class > 0:
            idx = self.probe_indices()
            target_test = self.test_indices[self.test.targets.numpy()[self.test_indices] == self.target_class]
            out["probe_target_acc"] = feature_probe_accuracy(
                classifier_features(model, self.train.inputs[torch.as_tensor(idx)], self.device), self.train.targets.numpy()[idx],
                classifier_features(model, self.test.inputs[torch.as_tensor(target_test)], self.device), self.target_class)
        return out
