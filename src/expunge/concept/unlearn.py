"""Unlearning by concept inference and data poisoning (arXiv 2405.15662, image half).

``concept_poison``: find the target class's top-M concepts (bank -> post-hoc CBM -> integrated
gradients), pick a donor class, relabel the target class's training examples (random, random
over all classes, or the donor), and fine-tune on the retain set plus the poisoned examples.
``concept_patch``: the revision's localized variant: each target image also gets a patch of a
donor image pasted where the target's concept is most active (CAV activation map on a spatial
layer), cut around the donor concept's peak in that donor image.

What the unlearner reads: the task's training examples (forget = the class's images, retain)
and their per-image concept labels, from the dataset (``concept_shapes``,
``fashion_mnist_concepts``) or, with ``attributes=fashion_mnist``, from the Fashion-MNIST
attribute table; or a saved bank (``bank_path``), in which case only class labels are read.
The analysis (bank, CBM, attributions, donor) is done on the model given, before fine-tuning,
and reported in ``task.notes["concept"]``.

Scopes: ``head`` (as published: only the last linear layer moves; everything else is
bit-identical, BatchNorm statistics included, because the body runs in eval mode), ``full``
(every parameter), ``mask`` (the mask from any localizer, through the shared MaskedUpdate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.base import IndexedTensorDataset
from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from ..models import classifier_parameter_names
from ..train import Batch, Recipe, epoch_batches, train
from ..unlearn.base import UNLEARNERS, UnlearningTask
from ..unlearn.common import output_classes
from ..utils import eval_mode
from .attribution import ClassAttribution, choose_donor, class_attribution, margin_attribution, precision_at_true
from .bank import ConceptBank, ConceptDataError, activation_map, concept_example_sets, embed, fit_bank, last_linear
from .cbm import CBMFit, PosthocCBM, fit_cbm

LABELLINGS = ("random", "random_all", "targeted")
SCOPES = ("head", "full", "mask")
# How a class's concepts are ranked. ig: IG through the post-hoc CBM among concepts with mean margin > 0 (the method);
# the ablations a study runs as rows: ig-all (IG without the margin filter) and margin (mean margin only: no CBM, no IG).
RANKINGS = ("ig", "ig-all", "margin")
# Where the concept bank's examples come from: training (per-image concept labels of the training images; expunge's
# default) or separate (concept images apart from the classes' training images, drawn by the dataset; the paper's route).
BANK_SOURCES = ("training", "separate")


def concept_labels(dataset: Any, attributes: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Per-image concept labels ``(n, K)`` and names for ``dataset``."""
    if attributes == "fashion_mnist":
        from .fmnist_attributes import ATTRIBUTE_NAMES, attribute_labels

        return attribute_labels(dataset.targets.numpy(), dataset.inputs).numpy(), list(ATTRIBUTE_NAMES)
    if attributes not in ("auto", "dataset"):
        raise ConfigError(f"attributes {attributes!r} unknown; choose auto, dataset or fashion_mnist.")
    if getattr(dataset, "concept_labels", None) is None:
        raise ConfigError(
            "this dataset has no concept labels: use dataset concept_shapes or fashion_mnist_concepts, set attributes=fashion_mnist for plain Fashion-MNIST, or give a saved bank with bank_path."
        )
    return np.asarray(dataset.concept_labels, dtype=bool), list(dataset.concept_names)


@dataclass
class ConceptAnalysis:
    """What the analysis found; ``summary()`` is what goes into the task notes and results."""

    bank: ConceptBank
    cbm: CBMFit | None  # None with ranking=margin (no bottleneck is fit)
    attributions: dict[int, ClassAttribution]
    tops: dict[int, list[str]]
    target: int
    donor: int
    confusion: np.ndarray
    rankings: dict[int, list[str]] = field(default_factory=dict)  # every ranked concept per class, best first
    ranking: str = "ig"
    true_concepts: list[str] | None = None  # the target's true concepts, when the dataset knows them

    def precision_at_true(self) -> float | None:
        """precision@M of the target's ranking, M = its number of true concepts (None when the dataset has no ground truth)."""
        if not self.true_concepts:
            return None
        return precision_at_true(self.rankings.get(self.target, self.tops[self.target]), self.true_concepts)

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "donor": self.donor,
            "ranking": self.ranking,
            "top_concepts": self.tops[self.target],
            "donor_top_concepts": self.tops.get(self.donor, []),
            "precision_at_true": self.precision_at_true(),
            "true_concepts": self.true_concepts,
            "cbm_accuracy": self.cbm.accuracy if self.cbm else None,
            "model_accuracy": self.cbm.model_accuracy if self.cbm else None,
            "cbm_accuracy_on": self.cbm.accuracy_on if self.cbm else "no CBM (ranking=margin)",
            "cbm_nonzero_fraction": self.cbm.nonzero_fraction if self.cbm else None,
            "bank_size": len(self.bank),
            "dropped_concepts": self.bank.dropped,
            "completeness_error": self.attributions[self.target].completeness_error,
        }


def separate_bank(
    model: nn.Module,
    dataset: Any,
    layer: str | None,
    device: torch.device,
    cav: str,
    examples_per_concept: int,
    min_examples: int,
    n_images: int,
    image_seed: int,
    seed: int,
) -> ConceptBank:
    """A bank fitted on concept images apart from the training images (the paper's route), drawn by the dataset's source.

    The training data then contributes only class labels: the concepts are learnt where no class composition ties them.
    """
    source = getattr(dataset, "separate_concepts", None)
    if source is None:
        raise ConfigError(
            "bank_source=separate needs a dataset that can draw separate concept images (concept_shapes can); "
            "for other data fit a bank on your own concept images and pass bank_path (docs/methods/concept.md#concept-images)."
        )
    images, labels, names = source.draw(n_images, image_seed)
    sets = concept_example_sets(labels, names, np.arange(len(images)), examples_per_concept, min_examples, seed)
    return fit_bank(model, images, sets, layer, device, cav, min_examples=min_examples, seed=seed)


def analyse(
    model: nn.Module,
    dataset: Any,
    pool: np.ndarray,
    target: int,
    num_classes: int,
    device: torch.device,
    *,
    top_m: int = 5,
    donor: str | int = "auto",
    layer: str | None = None,
    cav: str = "logistic",
    examples_per_concept: int = 200,
    min_examples: int = 10,
    per_class: int = 200,
    bank: ConceptBank | None = None,
    attributes: str = "auto",
    seed: int = 0,
    present_only: bool = True,
    ranking: str = "ig",
    heldout: np.ndarray | None = None,
    exclude: list[int] | None = None,
    bank_source: str = "training",
    separate_images: int = 2000,
    separate_seed: int = 0,
) -> ConceptAnalysis:
    """Bank -> CBM -> per-class IG attribution -> donor, on the training examples ``pool``.

    ``ranking`` (``RANKINGS``): ig (the method), ig-all (no margin filter), margin (no CBM, no IG).
    ``heldout``: indices of images the model never trained on (the validation split); the CBM's accuracy is
    measured on them. ``donor="random"`` draws an arbitrary other class (not in ``exclude``) from ``seed``.
    ``bank_source`` (``BANK_SOURCES``): where the bank's concept examples come from when no ``bank`` is given.
    """
    if ranking not in RANKINGS:
        raise ConfigError(f"ranking {ranking!r} unknown; choose one of {list(RANKINGS)} (ig is the method, the others its ablations).")
    pool = np.asarray(pool)
    targets = dataset.targets.numpy()
    present = sorted(int(c) for c in np.unique(targets[pool]))
    if target not in present:
        raise ConfigError(f"class {target} is absent from the data (classes present: {present}).")
    if isinstance(donor, int) or (isinstance(donor, str) and donor.lstrip("-").isdigit()):
        donor_index = int(donor)
        if donor_index == target:
            raise ConfigError(f"donor {donor_index} is the target class itself; choose another class or donor=auto.")
        if donor_index not in present:
            raise ConfigError(f"donor class {donor_index} is absent from the data (classes present: {present}).")
    rng = np.random.default_rng(seed)
    if bank_source not in BANK_SOURCES:
        raise ConfigError(f"bank_source {bank_source!r} unknown; choose one of {list(BANK_SOURCES)}.")
    if bank is None and bank_source == "separate":
        bank = separate_bank(model, dataset, layer, device, cav, examples_per_concept, min_examples, separate_images, separate_seed, seed)
    elif bank is None:
        labels, names = concept_labels(dataset, attributes)
        sets = concept_example_sets(labels, names, pool, examples_per_concept, min_examples, seed)  # pyright: ignore[reportArgumentType]
        bank = fit_bank(model, dataset.inputs, sets, layer, device, cav, min_examples=min_examples, seed=seed)
    sample = np.concatenate([rng.permutation(pool[targets[pool] == c])[:per_class] for c in present])
    emb = embed(model, dataset.inputs[torch.as_tensor(sample)], bank.layer, device)
    with eval_mode(model), torch.no_grad():
        head = last_linear(model)[1] if bank.layer is None else None
        logits = head(emb.to(device)).cpu() if head is not None else torch.cat([model(dataset.inputs[torch.as_tensor(sample[i : i + 512])].to(device)).cpu() for i in range(0, len(sample), 512)])
    y = targets[sample]
    margins = bank.margins(emb)
    cbm = None
    if ranking == "margin":
        attributions = {c: margin_attribution(margins[torch.as_tensor(y == c)], c) for c in present}
    else:
        test = None
        if heldout is not None and len(heldout):
            held = np.asarray(heldout)
            held = np.concatenate([rng.permutation(held[targets[held] == c])[:per_class] for c in present])
            if len(held):
                h_emb = embed(model, dataset.inputs[torch.as_tensor(held)], bank.layer, device)
                h_pred = _predictions(model, dataset.inputs[torch.as_tensor(held)], h_emb, bank.layer, device)
                test = (h_emb, targets[held], h_pred)
        cbm = fit_cbm(bank, emb, y, num_classes, seed=42, model_predictions=logits.argmax(1).numpy(), test=test)
        attributions = {c: class_attribution(cbm.cbm, margins[torch.as_tensor(y == c)], c) for c in present}
    rankings = {c: a.ranking(bank.names, present_only and ranking == "ig") for c, a in attributions.items()}
    tops = {c: order[:top_m] for c, order in rankings.items()}
    confusion = torch.softmax(logits[torch.as_tensor(y == target)].double(), 1).mean(0).numpy()
    confusion[target] = -1.0
    if isinstance(donor, int) or (isinstance(donor, str) and donor.lstrip("-").isdigit()):
        chosen = int(donor)
    elif donor == "random":
        candidates = [c for c in present if c != target and c not in (exclude or [])]
        if not candidates:
            raise ConfigError(f"donor=random: no class other than {target} (and the forgotten ones) is present.")
        chosen = int(np.random.default_rng(seed + 7).choice(candidates))
    else:
        chosen = choose_donor(target, tops, attributions, bank.names, "confusion" if donor == "confusion" else "shared", confusion)
    true = getattr(dataset, "true_class_concepts", None)
    return ConceptAnalysis(bank, cbm, attributions, tops, target, chosen, confusion, rankings, ranking, true(target) if callable(true) else None)


def _predictions(model: nn.Module, inputs: torch.Tensor, emb: torch.Tensor, layer: str | None, device: torch.device) -> np.ndarray:
    """The model's predicted classes (from the embedding through the head when it is the head's input)."""
    with eval_mode(model), torch.no_grad():
        if layer is None:
            return last_linear(model)[1](emb.to(device)).argmax(1).cpu().numpy()
        return torch.cat([model(inputs[i : i + 512].to(device)).argmax(1).cpu() for i in range(0, len(inputs), 512)]).numpy()


ANALYSIS_FIELDS = (
    "model", "dataset", "pool", "target", "num_classes", "device", "top_m", "donor", "layer", "cav", "examples_per_concept",
    "min_examples", "per_class", "bank", "attributes", "seed", "present_only", "ranking", "heldout", "exclude",
    "bank_source", "separate_images", "separate_seed",
)  # fmt: skip


def encode_analysis(analysis: ConceptAnalysis) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A ConceptAnalysis as JSON plus tensors (safetensors): everything ``summary()``, the donor choice and concept_patch read."""
    bank = analysis.bank
    tensors = {"bank.vectors": bank.vectors, "bank.biases": bank.biases, "bank.accuracies": bank.accuracies, "confusion": torch.from_numpy(np.asarray(analysis.confusion).copy())}
    for c, a in analysis.attributions.items():
        tensors[f"attribution.{c}.scores"] = torch.from_numpy(np.asarray(a.scores).copy())
        tensors[f"attribution.{c}.mean_margin"] = torch.from_numpy(np.asarray(a.mean_margin).copy())
    cbm = None
    if analysis.cbm is not None:
        tensors["cbm.head.weight"], tensors["cbm.head.bias"] = analysis.cbm.cbm.head.weight.detach(), analysis.cbm.cbm.head.bias.detach()
        fit = analysis.cbm
        cbm = {"accuracy": fit.accuracy, "model_accuracy": fit.model_accuracy, "nonzero_fraction": fit.nonzero_fraction, "accuracy_on": fit.accuracy_on}
    payload = {
        "bank": {"names": bank.names, "layer": bank.layer, "method": bank.method, "dropped": bank.dropped},
        "cbm": cbm,
        "attributions": {str(c): {"completeness_error": a.completeness_error, "n_images": a.n_images} for c, a in analysis.attributions.items()},
        "tops": {str(c): v for c, v in analysis.tops.items()},
        "rankings": {str(c): v for c, v in analysis.rankings.items()},
        "target": analysis.target,
        "donor": analysis.donor,
        "ranking": analysis.ranking,
        "true_concepts": analysis.true_concepts,
    }
    return payload, {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def decode_analysis(payload: dict[str, Any], tensors: dict[str, torch.Tensor]) -> ConceptAnalysis:
    """The inverse of ``encode_analysis``."""
    b = payload["bank"]
    bank = ConceptBank(list(b["names"]), tensors["bank.vectors"], tensors["bank.biases"], tensors["bank.accuracies"], b["layer"], b["method"], dict(b["dropped"]))
    cbm = None
    if payload["cbm"] is not None:
        weight = tensors["cbm.head.weight"]
        head = PosthocCBM(bank, int(weight.shape[0]))
        head.head.weight.data.copy_(weight)
        head.head.bias.data.copy_(tensors["cbm.head.bias"])
        cbm = CBMFit(head, **payload["cbm"])
    attributions = {
        int(c): ClassAttribution(int(c), tensors[f"attribution.{c}.scores"].numpy(), tensors[f"attribution.{c}.mean_margin"].numpy(), float(a["completeness_error"]), int(a["n_images"]))
        for c, a in payload["attributions"].items()
    }
    tops = {int(c): list(v) for c, v in payload["tops"].items()}
    rankings = {int(c): list(v) for c, v in payload["rankings"].items()}
    return ConceptAnalysis(bank, cbm, attributions, tops, int(payload["target"]), int(payload["donor"]), tensors["confusion"].numpy(), rankings, payload["ranking"], payload["true_concepts"])


def concept_analysis_kind() -> Any:
    """The ``concept`` analysis kind (``experiments.analysis``): ``analyse`` keyed by all of its arguments; registered on first use."""
    from ..experiments.analysis import AnalysisKind, register_analysis

    kind = AnalysisKind(lambda **arguments: analyse(**arguments), ANALYSIS_FIELDS, encode_analysis, decode_analysis, version=1)
    return register_analysis("concept", "concept bank -> post-hoc CBM -> IG ranking -> donor, on the original (concept_poison, concept_patch)", kind)


def poison_labels(true: torch.Tensor, num_classes: int, labelling: str, donor: int, exclude: list[int], generator: torch.Generator) -> torch.Tensor:
    """New labels for the target class's examples."""
    n = len(true)
    if labelling == "targeted":
        return torch.full((n,), donor, dtype=torch.long)
    if labelling == "random_all":  # the published code: uniform over all classes, the target included
        return torch.randint(0, num_classes, (n,), generator=generator)
    if labelling == "random":
        allowed = torch.tensor([c for c in range(num_classes) if c not in exclude])
        if len(allowed) == 0:
            raise ConfigError("random labelling needs at least one class that is not being forgotten.")
        return allowed[torch.randint(0, len(allowed), (n,), generator=generator)]
    raise ConfigError(f"labelling {labelling!r} unknown; choose one of {list(LABELLINGS)}.")


@contextlib.contextmanager
def head_only(model: nn.Module) -> Iterator[tuple[Mask, nn.Module]]:
    """Freeze everything but the last linear layer (requires_grad off) and yield its mask and module."""
    head_name, head = last_linear(model)
    names = set(classifier_parameter_names(model))
    saved = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        for n, p in model.named_parameters():
            p.requires_grad_(n in names)
        yield Mask.from_names(model, names), head
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(saved[n])


@dataclass
class ConceptPoison:
    """Concept inference + label poisoning + fine-tuning (arXiv 2405.15662; the published code's label-only poisoning).

    Cost: ``epochs`` passes over retain_fraction x |retain| + |forget| examples (defaults: one epoch,
    half the retain set, ~8% of a 15-epoch retraining), plus forward-only passes for the analysis
    (a few hundred images per concept and class).
    """

    labelling: str = hp("targeted", choices=LABELLINGS, doc="random: uniform over the other classes; random_all: uniform over all classes (published code); targeted: the donor")
    donor: str | int = hp(
        "auto",
        doc="auto/shared: the class sharing most of the target's top concepts; confusion: the class the model confuses most with it; "
        "random: an arbitrary other class (seeded; the ablation); or a class index",
    )
    ranking: str = hp(
        "ig", choices=RANKINGS, doc="ig: IG through the post-hoc CBM among concepts the class expresses (the method); ablations: ig-all (no margin filter), margin (mean margin only, no CBM, no IG)"
    )
    scope: str = hp("full", choices=SCOPES, doc="head: last linear layer only (as published); full: all parameters; mask: the localizer's mask")
    top_m: int = hp(5, low=1, doc="concepts per class (M)")
    epochs: int = hp(1, low=1, doc="fine-tuning epochs")
    lr: float = hp(0.01, low=0.0, low_open=True)
    momentum: float = hp(0.9, low=0.0, high=1.0, high_open=True)
    weight_decay: float = hp(0.0, low=0.0)
    batch_size: int = hp(64, low=1)
    retain_fraction: float = hp(0.5, low=0.0, high=1.0, low_open=True, doc="share of the retain set used in fine-tuning (the paper's 'half'; 1.0 = 'full')")
    layer: str | None = hp(None, doc="module whose output is the concept embedding; None = the input of the last linear layer")
    cav: str = hp("logistic", choices=("logistic", "svm"))
    examples_per_concept: int = hp(200, low=2, doc="positive (and as many negative) examples per CAV")
    min_examples: int = hp(10, low=2, doc="fewer positives or negatives than this for a concept is an error")
    per_class: int = hp(200, low=2, doc="images per class for the CBM head and the attributions")
    attributes: str = hp("auto", choices=("auto", "dataset", "fashion_mnist"), doc="where per-image concept labels come from")
    bank_path: str | None = hp(None, doc="a saved ConceptBank (path without suffix); replaces fitting CAVs")
    bank_source: str = hp(
        "training", choices=BANK_SOURCES, doc="training: CAVs from the training images' concept labels; separate: from concept images apart from the training data (the paper's route; concept_shapes)"
    )
    separate_images: int = hp(2000, low=20, doc="separate concept images drawn for the bank (bank_source=separate)")
    name: str = "concept_poison"
    analyses: list[ConceptAnalysis] = field(default_factory=list, init=False, repr=False)

    # ---- pieces subclasses change ----------------------------------------------------------
    def poisoned_inputs(self, model: nn.Module, task: UnlearningTask, analysis: ConceptAnalysis, forget: np.ndarray, pool: np.ndarray) -> torch.Tensor:
        return task.train_set.inputs[torch.as_tensor(forget)]

    # ---- the method ------------------------------------------------------------------------
    def targets(self, task: UnlearningTask) -> list[int]:
        if task.forget_classes:
            return [int(c) for c in task.forget_classes]
        classes = np.unique(task.train_set.targets.numpy()[task.split.forget])
        if len(classes) == 0:
            raise ConfigError("the forget set is empty; concept_poison forgets a class (split.kind=class).")
        return [int(c) for c in classes]

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if self.bank_path and self.bank_source == "separate":
            raise ConfigError("bank_path and bank_source=separate both give the bank; keep one.")
        if self.scope == "mask" and mask is None:
            raise ConfigError("scope=mask needs a mask: set a localizer (and alpha) in the method, or scope=head|full.")
        model.to(task.device)
        num_classes = output_classes(model, task)
        forget_classes = self.targets(task)
        pool = np.concatenate([task.split.forget, task.split.retain])
        targets = task.train_set.targets
        bank = ConceptBank.load(self.bank_path) if self.bank_path else None
        gen = torch.Generator().manual_seed(task.stream(11))
        rng = np.random.default_rng(task.stream(13))
        retain = task.split.retain
        if self.retain_fraction < 1.0:
            retain = np.sort(rng.choice(retain, max(1, int(round(self.retain_fraction * len(retain)))), replace=False))
        parts_x, parts_y = [task.train_set.inputs[torch.as_tensor(retain)]], [targets[torch.as_tensor(retain)]]
        self.analyses = []
        analysis_info: list[dict[str, Any]] = []
        from ..experiments.analysis import run_analysis  # lazy: experiments imports the unlearners

        concept_analysis_kind()
        for target in forget_classes:
            donor = self.donor
            arguments = dict(
                model=model,
                dataset=task.train_set,
                pool=pool,
                target=target,
                num_classes=num_classes,
                device=task.device,
                top_m=self.top_m,
                donor=donor,
                layer=self.layer,
                cav=self.cav,
                examples_per_concept=self.examples_per_concept,
                min_examples=self.min_examples,
                per_class=self.per_class,
                bank=bank,
                attributes=self.attributes,
                seed=task.seed,
                present_only=True,
                ranking=self.ranking,
                heldout=task.split.validation if len(task.split.validation) else None,
                exclude=forget_classes,
                bank_source=self.bank_source,
                separate_images=self.separate_images,
                separate_seed=task.stream(23) if self.bank_source == "separate" else 0,
            )
            found = run_analysis(task.analysis_store, "concept", arguments)
            analysis = found.value
            analysis_info.append(found.info())
            if analysis.donor in forget_classes:
                raise ConfigError(f"donor {analysis.donor} of class {target} is itself being forgotten; give donor=<another class>.")
            self.analyses.append(analysis)
            forget = task.split.forget[targets.numpy()[task.split.forget] == target]
            parts_x.append(self.poisoned_inputs(model, task, analysis, forget, pool))
            parts_y.append(poison_labels(targets[torch.as_tensor(forget)], num_classes, self.labelling, analysis.donor, forget_classes, gen))
        data = IndexedTensorDataset(torch.cat(parts_x), torch.cat(parts_y))
        batches = epoch_batches(data, np.arange(len(data)), self.batch_size, task.stream(17))
        recipe = Recipe(epochs=self.epochs, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay, batch_size=self.batch_size, schedule="cosine", min_lr_factor=0.1, seed=task.seed)
        if self.scope == "head":
            with head_only(model) as (head_mask, head):

                def loss(m: nn.Module, batch: Batch) -> torch.Tensor:
                    m.eval()  # the frozen body keeps its BatchNorm statistics and dropout off
                    head.train()
                    return task.loss_fn(m, batch)

                log = train(model, batches, recipe, task.device, head_mask, loss, task.progress, self.name, task.epoch_callback)
        else:
            log = train(model, batches, recipe, task.device, mask if self.scope == "mask" else None, task.loss_fn, task.progress, self.name, task.epoch_callback)
        model.eval()
        task.notes.update(
            epochs=self.epochs,
            epoch_losses=log.epoch_losses,
            examples_per_epoch=len(data),
            labelling=self.labelling,
            scope=self.scope,
            ranking=self.ranking,
            concept=[a.summary() for a in self.analyses],
            analysis=analysis_info,
            columns=self.record_columns(analysis_info),
        )
        return model

    def record_columns(self, analysis_info: list[dict[str, Any]]) -> dict[str, Any]:
        """Top-level record fields: precision@M (mean over the forgotten classes; None without ground truth) and the analysis's charged cost."""
        precisions = [p for p in (a.precision_at_true() for a in self.analyses) if p is not None]
        return {
            "precision_at_m": float(np.mean(precisions)) if precisions else None,
            "analysis_cached": all(i["cached"] for i in analysis_info),
            "analysis_seconds": sum(i["analysis_wall_seconds"] for i in analysis_info),
            "analysis_forward_passes": sum(i["analysis_forward_passes"] for i in analysis_info),
        }


def spatial_layer_name(model: nn.Module, example: torch.Tensor) -> str:
    """The last module (in execution order) whose output is a feature map with at least 2x2 positions."""
    seen: list[str] = []
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(lambda mod, args, out, name=name: seen.append(name) if torch.is_tensor(out) and out.ndim == 4 and min(out.shape[2:]) >= 2 else None))
    try:
        with eval_mode(model), torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
    if not seen:
        raise ConfigError("concept_patch needs a convolutional layer with a spatial output; this model has none.")
    return seen[-1]


def peaks(bank: ConceptBank, features: torch.Tensor, concept: str, image_hw: tuple[int, int]) -> torch.Tensor:
    """(n, 2) pixel centres (row, col) of each image's strongest position for ``concept``."""
    amap = activation_map(bank, features, concept)
    n, h, w = amap.shape
    flat = amap.reshape(n, -1).argmax(1)
    rows, cols = flat // w, flat % w
    return torch.stack([((rows.float() + 0.5) * image_hw[0] / h).long(), ((cols.float() + 0.5) * image_hw[1] / w).long()], 1)


def _window(centre: int, size: int, limit: int) -> int:
    return int(min(max(centre - size // 2, 0), max(limit - size, 0)))


@dataclass
class ConceptPatch(ConceptPoison):
    """concept_poison whose target images also get a donor-concept patch pasted at the target concept's peak (the revision's 'localized')."""

    patch_size: int = hp(8, low=1, doc="side of the pasted square, in pixels (the paper: 64 of 224)")
    spatial_layer: str | None = hp(None, doc="module with a spatial output for the activation maps; None = the last such module")
    name: str = "concept_patch"

    def poisoned_inputs(self, model: nn.Module, task: UnlearningTask, analysis: ConceptAnalysis, forget: np.ndarray, pool: np.ndarray) -> torch.Tensor:
        data = task.train_set
        x = data.inputs[torch.as_tensor(forget)].clone()
        layer = self.spatial_layer or spatial_layer_name(model, data.inputs[:2].to(task.device))
        labels, names = concept_labels(data, self.attributes) if self.bank_path is None else (None, None)
        if labels is None:
            raise ConfigError("concept_patch fits spatial CAVs from per-image concept labels; bank_path alone is not enough.")
        target_top = analysis.tops[analysis.target]
        donor_top = analysis.tops.get(analysis.donor, [])
        wanted = [c for c in target_top if c not in donor_top] + target_top + [c for c in donor_top if c not in target_top] + donor_top
        sets = concept_example_sets(labels, names, pool, self.examples_per_concept, self.min_examples, task.seed, require=[])  # pyright: ignore[reportArgumentType]
        sets = {k: v for k, v in sets.items() if k in set(wanted)}
        if not sets:
            raise ConceptDataError("none of the target's or donor's top concepts has enough examples for a spatial CAV.")
        bank = fit_bank(model, data.inputs, sets, layer, task.device, self.cav, min_examples=self.min_examples, seed=task.seed, spatial=True)
        pick = lambda cands: next((c for c in cands if c in bank.names), bank.names[0])  # noqa: E731
        target_concept = pick([c for c in target_top if c not in donor_top] + target_top)
        donor_concept = pick([c for c in donor_top if c not in target_top] + donor_top)
        targets = data.targets.numpy()
        donor_pool = pool[targets[pool] == analysis.donor]
        rng = np.random.default_rng(task.stream(19))
        donors = rng.choice(donor_pool, len(forget), replace=True)
        hw = tuple(x.shape[-2:])
        t_peaks = peaks(bank, embed(model, x, layer, task.device, spatial=True), target_concept, hw)
        donor_x = data.inputs[torch.as_tensor(donors)]
        d_peaks = peaks(bank, embed(model, donor_x, layer, task.device, spatial=True), donor_concept, hw)
        s = min(self.patch_size, hw[0], hw[1])
        for i in range(len(x)):
            dr, dc = _window(int(d_peaks[i, 0]), s, hw[0]), _window(int(d_peaks[i, 1]), s, hw[1])
            tr, tc = _window(int(t_peaks[i, 0]), s, hw[0]), _window(int(t_peaks[i, 1]), s, hw[1])
            x[i, :, tr : tr + s, tc : tc + s] = donor_x[i, :, dr : dr + s, dc : dc + s]
        self.patch_info = {"target_concept": target_concept, "donor_concept": donor_concept, "spatial_layer": layer}
        return x

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        self.patch_info: dict[str, Any] = {}
        out = super().unlearn(model, task, mask)
        task.notes["patch"] = self.patch_info
        return out


UNLEARNERS.register("concept_poison", "concept inference (CAV bank, post-hoc CBM, IG) + label poisoning + fine-tuning (Chang et al., arXiv 2405.15662)")(ConceptPoison)
UNLEARNERS.register("concept_patch", "concept_poison with donor-concept patches pasted at the target concept's peak (the paper's revision, 'localized')")(ConceptPatch)
