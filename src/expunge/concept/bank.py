"""Concept bank: one concept activation vector (CAV) per concept in a chosen layer's embedding.

The paper's bank holds CLIP text embeddings of ConceptNet words; neither loads offline, so
expunge learns each concept from examples (Kim et al.'s CAVs, as Post-hoc CBM does for its
example-based banks): a linear classifier (logistic regression or linear SVM) separates the
embeddings of images that show the concept from images that do not, and its held-out accuracy
is stored. A concept whose CAV is not better than chance (held-out accuracy below
0.5 + 2 standard errors of a coin) is reported in ``dropped`` and left out.

Concept margins follow Post-hoc CBM: ``m_k(e) = (v_k . e + b_k) / ||v_k||``.
``ConceptBank.from_text_embeddings`` wraps vectors from a user's joint image-text model
(L2-normalised, b = 0), the paper's multimodal bank, in the same format.
Banks save as ``<path>.safetensors`` (tensors) + ``<path>.json`` (names, layer, accuracies):
nothing is unpickled on load.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..cost import count
from ..errors import ConfigError, DataError
from ..utils import atomic_write_bytes, atomic_write_json, eval_mode

CAV_METHODS = ("logistic", "svm")


class ConceptDataError(DataError):
    """A concept's example sets are unusable (too few examples, empty)."""


def last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ConfigError("the concept tools need a model whose classifier is an nn.Linear (or name an embedding layer).")
    return found[-1]


@torch.no_grad()
def embed(model: nn.Module, inputs: torch.Tensor, layer: str | None, device: torch.device, batch_size: int = 512, spatial: bool = False) -> torch.Tensor:
    """Embeddings of ``inputs``: the *input* of the last linear layer (``layer=None``) or the *output* of module ``layer``.

    Flattened to ``(n, d)``; with ``spatial=True`` a 4-D output is kept as ``(n, c, h, w)``.
    """
    modules = dict(model.named_modules())
    if layer is None:
        module, use_input = last_linear(model)[1], True
    else:
        if layer not in modules:
            raise ConfigError(f"layer {layer!r} is not a module of the model; choose one of {[n for n in modules if n][:20]}.")
        module, use_input = modules[layer], False
    captured: list[torch.Tensor] = []

    def hook(mod: nn.Module, args: tuple, output: torch.Tensor) -> None:
        t = args[0] if use_input else output
        captured.append(t.detach().float().cpu() if spatial else t.detach().flatten(1).float().cpu())

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model):
            for start in range(0, len(inputs), batch_size):
                chunk = inputs[start : start + batch_size]
                model(chunk.to(device))
                count(len(chunk), backward=False)
    finally:
        handle.remove()
    return torch.cat(captured) if captured else torch.empty(0)


@dataclass
class ConceptBank:
    """CAVs ``vectors`` (K, d) and offsets ``biases`` (K) in the embedding of ``layer``."""

    names: list[str]
    vectors: torch.Tensor
    biases: torch.Tensor
    accuracies: torch.Tensor  # held-out accuracy of each CAV (NaN for text-embedding banks)
    layer: str | None = None
    method: str = "logistic"
    dropped: dict[str, float] = field(default_factory=dict)  # concepts no better than chance -> their accuracy

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != k or self.biases.shape != (k,) or self.accuracies.shape != (k,):
            raise DataError(f"bank shapes disagree: {k} names, vectors {tuple(self.vectors.shape)}, biases {tuple(self.biases.shape)}.")
        if len(set(self.names)) != k:
            raise DataError("concept names in a bank must be unique.")

    def __len__(self) -> int:
        return len(self.names)

    def margins(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(v_k . e + b_k) / ||v_k||`` for every row of ``embeddings``: (n, K)."""
        v = self.vectors.to(embeddings.device, embeddings.dtype)
        if embeddings.shape[1] != v.shape[1]:
            raise DataError(f"embeddings have {embeddings.shape[1]} dimensions, the bank's CAVs {v.shape[1]} (layer {self.layer!r}).")
        return (embeddings @ v.T + self.biases.to(embeddings)) / v.norm(dim=1).clamp_min(1e-12)

    def index(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"concept {name!r} is not in the bank (dropped: {sorted(self.dropped)}).")
        return self.names.index(name)

    # ---- persistence ------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from safetensors.torch import save

        path = Path(path).with_suffix("")
        tensors = {"vectors": self.vectors.float().contiguous(), "biases": self.biases.float().contiguous(), "accuracies": self.accuracies.float().contiguous()}
        atomic_write_bytes(path.with_suffix(".safetensors"), save(tensors))
        atomic_write_json(path.with_suffix(".json"), {"names": self.names, "layer": self.layer, "method": self.method, "dropped": self.dropped, "format": "expunge-concept-bank/1"})

    @classmethod
    def load(cls, path: str | Path) -> ConceptBank:
        from safetensors.torch import load_file

        path = Path(path).with_suffix("")
        if not path.with_suffix(".json").exists() or not path.with_suffix(".safetensors").exists():
            raise DataError(f"no concept bank at {path} (expected {path}.json and {path}.safetensors).")
        meta = json.loads(path.with_suffix(".json").read_text())
        t = load_file(str(path.with_suffix(".safetensors")))
        return cls(list(meta["names"]), t["vectors"], t["biases"], t["accuracies"], meta.get("layer"), meta.get("method", "logistic"), dict(meta.get("dropped", {})))

    @classmethod
    def from_text_embeddings(cls, names: list[str], embeddings: torch.Tensor | np.ndarray, layer: str | None = None) -> ConceptBank:
        """The paper's multimodal bank: text embeddings of concept words, L2-normalised, no offset.

        ``embeddings`` (K, d) must live in the same space as ``embed(model, ..., layer)``, which holds
        when the model's embedding is the image tower of the same image-text model.
        """
        v = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
        if v.ndim != 2 or v.shape[0] != len(names):
            raise DataError(f"need one embedding row per name: {len(names)} names, embeddings {tuple(v.shape)}.")
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return cls(list(names), v, torch.zeros(len(names)), torch.full((len(names),), float("nan")), layer, "text")


def chance_threshold(n_test: int) -> float:
    """Held-out accuracy a CAV must exceed: 0.5 plus two standard errors of a fair coin on ``n_test`` examples."""
    return 0.5 + 2.0 * math.sqrt(0.25 / max(n_test, 1))


def fit_cav(pos: np.ndarray, neg: np.ndarray, method: str = "logistic", holdout: float = 0.3, seed: int = 0) -> tuple[np.ndarray, float, float, int]:
    """One CAV from positive and negative embeddings (balanced by the caller): (vector, bias, held-out accuracy, n_test)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if method not in CAV_METHODS:
        raise ConfigError(f"cav method {method!r} unknown; choose one of {list(CAV_METHODS)}.")
    rng = np.random.default_rng(seed)
    x = np.concatenate([pos, neg]).astype(np.float64)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    n_test = max(2, int(round(holdout * len(y))))
    xt, yt, xv, yv = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    if len(np.unique(yt)) < 2:
        raise ConceptDataError("a CAV's training part holds one side only; give more examples.")
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    clf = LogisticRegression(C=1.0, max_iter=2000) if method == "logistic" else LinearSVC(C=0.1, max_iter=5000)
    clf.fit((xt - mu) / sd, yt)
    acc = float((clf.predict((xv - mu) / sd) == yv).mean())
    w = clf.coef_[0] / sd  # back to raw embedding coordinates
    b = float(clf.intercept_[0] - (clf.coef_[0] * mu / sd).sum())
    return w, b, acc, n_test


def concept_example_sets(
    concept_labels: torch.Tensor | np.ndarray, names: list[str], pool: np.ndarray, per_side: int = 200, min_examples: int = 10, seed: int = 0, require: list[str] | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Positive / negative index sets per concept from per-image labels, balanced, at most ``per_side`` each.

    A concept with fewer than ``min_examples`` positives or negatives in ``pool`` is an error when it
    is in ``require`` (or when ``require`` is None); otherwise it is skipped.
    """
    labels = np.asarray(concept_labels, dtype=bool)
    pool = np.asarray(pool)
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k, name in enumerate(names):
        pos, neg = pool[labels[pool, k]], pool[~labels[pool, k]]
        n = min(len(pos), len(neg), per_side)
        if n < min_examples:
            if require is None or name in require:
                raise ConceptDataError(f"concept {name!r} has {len(pos)} positive and {len(neg)} negative examples; at least {min_examples} of each are needed.")
            continue
        out[name] = (rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False))
    return out


def fit_bank(
    model: nn.Module,
    inputs: torch.Tensor,
    example_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    layer: str | None,
    device: torch.device,
    method: str = "logistic",
    holdout: float = 0.3,
    min_examples: int = 10,
    seed: int = 0,
    spatial: bool = False,
) -> ConceptBank:
    """CAVs for every concept in ``example_sets`` (indices into ``inputs``); chance-level concepts are dropped and reported.

    With ``spatial=True`` the layer's 4-D output is averaged over positions first, so the CAV can be
    applied at every position of the feature map (``activation_map``).
    """
    if not example_sets:
        raise ConceptDataError("no concepts to fit: the example sets are empty.")
    for name, (pos, neg) in example_sets.items():
        if min(len(pos), len(neg)) < min_examples:
            raise ConceptDataError(f"concept {name!r} has {len(pos)} positive and {len(neg)} negative examples; at least {min_examples} of each are needed.")
    needed = np.unique(np.concatenate([np.concatenate([p, n]) for p, n in example_sets.values()]))
    emb = embed(model, inputs[torch.as_tensor(needed)], layer, device, spatial=spatial)
    if spatial:
        if emb.ndim != 4:
            raise ConfigError(f"layer {layer!r} has no spatial output (shape {tuple(emb.shape)}); choose a convolutional layer.")
        emb = emb.mean(dim=(2, 3))
    row = {int(i): r for r, i in enumerate(needed)}
    names, vectors, biases, accs, dropped = [], [], [], [], {}
    for j, (name, (pos, neg)) in enumerate(example_sets.items()):
        p = emb[[row[int(i)] for i in pos]].numpy()
        n = emb[[row[int(i)] for i in neg]].numpy()
        w, b, acc, n_test = fit_cav(p, n, method, holdout, seed + j)
        if acc <= chance_threshold(n_test):
            dropped[name] = acc
            continue
        names.append(name)
        vectors.append(torch.as_tensor(w, dtype=torch.float32))
        biases.append(b)
        accs.append(acc)
    if not names:
        raise ConceptDataError(f"no concept's CAV beats chance in layer {layer!r} (dropped: {dropped}); choose another layer or better examples.")
    return ConceptBank(names, torch.stack(vectors), torch.tensor(biases, dtype=torch.float32), torch.tensor(accs, dtype=torch.float32), layer, method, dropped)


def activation_map(bank: ConceptBank, features: torch.Tensor, concept: str) -> torch.Tensor:
    """The CAV applied at every position of spatial features (n, c, h, w) -> (n, h, w) margins."""
    k = bank.index(concept)
    v = bank.vectors[k].to(features)
    return (torch.einsum("nchw,c->nhw", features, v) + bank.biases[k]) / v.norm().clamp_min(1e-12)
