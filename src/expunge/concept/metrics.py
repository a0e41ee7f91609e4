"""``concept_presence``: does the model's representation still show the forgotten class's concepts?

For the target class's top-M concepts (found once, on the original model, as the unlearner finds
them), a CAV is fit *in each evaluated model's own embedding* from examples of the retain
classes only (so the oracle, which never saw the class, can learn it too), and applied to the
target class's test images. ``concept_presence`` = mean over those concepts of the share of
target test images whose margin is positive, in percent; the same for the original
(``concept_presence_original``) and the oracles (``concept_presence_oracle``, mean), and the
distance to the oracles (``concept_presence_gap``). Concepts that only the target class shows
(no retain positives) are skipped; if none is left the values are NaN.

``concept_collateral`` puts the other classes' accuracy drop (against the original, beside the oracles' drop)
next to the target's accuracy.

The metric set ``concept`` is the ``class`` set (class-forgetting metrics) plus these two metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..evaluate.registry import METRIC_SETS, METRICS, EvalContext, register_set
from ..hparams import hp
from .bank import ConceptDataError, concept_example_sets, embed, fit_bank
from .unlearn import analyse, concept_labels


def _target_classes(ctx: EvalContext) -> list[int]:
    if ctx.extras.get("forget_classes"):
        return [int(c) for c in ctx.extras["forget_classes"]]
    return [int(c) for c in np.unique(ctx.train_set.targets.numpy()[ctx.split.forget])]


@METRICS.register("concept_presence", "share of target test images on which the class's top concepts are still detected (CAV in the model's own embedding)")
@dataclass
class ConceptPresence:
    top_m: int = hp(5, low=1)
    examples_per_concept: int = hp(200, low=2)
    attributes: str = hp("auto", choices=("auto", "dataset", "fashion_mnist"))
    layer: str | None = hp(None, doc="embedding layer; None = input of the last linear layer")
    needs: frozenset = frozenset({"train_set", "test_set", "split", "original"})

    def concepts(self, ctx: EvalContext) -> dict[int, list[str]]:
        def build() -> dict[int, list[str]]:
            pool = np.concatenate([ctx.split.forget, ctx.split.retain])
            num_classes = int(ctx.train_set.targets.max()) + 1
            return {
                t: analyse(ctx.original, ctx.train_set, pool, t, num_classes, ctx.device, top_m=self.top_m, layer=self.layer, attributes=self.attributes, seed=ctx.seed).tops[t]
                for t in _target_classes(ctx)
            }

        return ctx.memoized(f"concept_presence/tops/{self.top_m}/{self.layer}/{self.attributes}", build)

    def presence(self, model: nn.Module, ctx: EvalContext) -> float:
        labels, names = concept_labels(ctx.train_set, self.attributes)
        values = []
        test_targets = ctx.test_set.targets.numpy()[ctx.split.test]
        for target, top in self.concepts(ctx).items():
            sets = concept_example_sets(labels, names, ctx.split.retain, self.examples_per_concept, 10, ctx.seed, require=[])
            sets = {k: v for k, v in sets.items() if k in top}
            if not sets:
                continue
            try:
                bank = fit_bank(model, ctx.train_set.inputs, sets, self.layer, ctx.device, seed=ctx.seed)
            except ConceptDataError:
                continue
            images = ctx.test_set.inputs[torch.as_tensor(ctx.split.test[test_targets == target])]
            margins = bank.margins(embed(model, images, self.layer, ctx.device))
            values.extend(((margins > 0).float().mean(0) * 100).tolist())
        return float(np.mean(values)) if values else float("nan")

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        out: dict[str, Any] = {"concept_presence": self.presence(model, ctx)}
        out["concept_presence_original"] = ctx.memoized("concept_presence/original", lambda: self.presence(ctx.original, ctx))
        if ctx.oracles:
            oracle = ctx.memoized("concept_presence/oracles", lambda: float(np.nanmean([self.presence(o, ctx) for o in ctx.oracles])))
            out["concept_presence_oracle"] = oracle
            out["concept_presence_gap"] = abs(out["concept_presence"] - oracle)
        return out


@METRICS.register("concept_collateral", "collateral damage beside the target accuracy: other classes' test-accuracy drop from the original, against the oracles' drop", families=("classifier",))
@dataclass
class ConceptCollateral:
    """Poisoning a class can cost the others (the donor above all); the headline shows that cost next to the target's accuracy.

    ``collateral_target_acc_test`` and ``collateral_other_acc_test`` (percent, test split; the class set's
    accuracy keys are left alone); ``other_drop_test`` = the original's
    other-class accuracy minus the model's, in points; ``other_drop_test_oracle`` the same for the oracles (mean);
    ``collateral_excess`` = the model's drop minus the oracles' (> 1 point misses the rule "within the oracle's drop + 1").
    """

    needs: frozenset = frozenset({"test_set", "split", "original"})

    def _accuracies(self, model: nn.Module, ctx: EvalContext) -> tuple[float, float]:
        out = ctx.outputs(model, "test")
        gone = torch.as_tensor(_target_classes(ctx))
        is_target = torch.isin(out.labels, gone)
        pred = out.logits.argmax(1)
        acc = lambda m: float((pred[m] == out.labels[m]).float().mean() * 100) if bool(m.any()) else float("nan")  # noqa: E731
        return acc(is_target), acc(~is_target)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        target, other = self._accuracies(model, ctx)
        _, other_original = ctx.memoized("concept_collateral/original", lambda: self._accuracies(ctx.original, ctx))
        out = {"collateral_target_acc_test": target, "collateral_other_acc_test": other, "other_drop_test": other_original - other}
        if ctx.oracles:
            oracle_other = ctx.memoized("concept_collateral/oracles", lambda: float(np.mean([self._accuracies(o, ctx)[1] for o in ctx.oracles])))
            out["other_drop_test_oracle"] = other_original - oracle_other
            out["collateral_excess"] = out["other_drop_test"] - out["other_drop_test_oracle"]
        return out


def _register_concept_set() -> None:
    try:  # the class-forgetting metrics, when that module exists
        from ..evaluate import class_forgetting  # noqa: F401
    except ImportError:
        pass
    register_set("concept", [*METRIC_SETS.get("class", []), "concept_presence", "concept_collateral"])


_register_concept_set()
