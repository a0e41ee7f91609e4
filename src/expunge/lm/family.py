"""The ``lm`` model family, the ``authors`` dataset and the ``authors`` forget-set builder.

Dataset ``authors`` (``DATASETS``): the synthetic fictitious-authors corpus tokenized into an
``LMBundle``: ``train.inputs`` is a LongTensor [N, T] (prompt, SEP, answer, EOS, PAD...),
``train.targets`` the author id (world facts: ``num_authors``), so forgetting authors is a
class-style split. ``test`` holds the held-out authors (never trained; membership-attack
non-members). The bundle also carries the corpus, the codec and the paraphrase set.

Split builder ``authors`` (``SPLIT_BUILDERS``): every example of a fraction of the authors
(``fraction``, at least one author) or of an explicit ``authors`` list; the world-facts id is
never drawn. Use ``validation_fraction: 0`` in the split config: a QA pair carved out for
validation would never be trained, by the original or the oracles.

Family ``lm`` (``FAMILIES``): ``build`` a tiny GPT-2 from ``config.model.options``
(``n_layer``, ``n_embd``, ``n_head``; or ``pretrained: <HF name or path>``), ``fit`` with AdamW
on the teacher-forced answer NLL (``config.recipe``: epochs, lr, batch_size, weight_decay, seed),
``loss`` = that NLL, and ``extras`` = ``{"lm_corpus", "lm_codec", "lm_bundle"}`` for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.base import DatasetBundle, IndexedTensorDataset
from ..data.registry import DATASETS
from ..data.splits import SPLIT_BUILDERS
from ..errors import ConfigError, DataError
from ..family import FAMILIES, FamilyData
from .corpus import AuthorsCorpus, build_corpus
from .tokenizer import TextCodec, load_tokenizer


@dataclass
class LMBundle(DatasetBundle):
    """A DatasetBundle plus the corpus and codec it was tokenized with."""

    corpus: AuthorsCorpus | None = None
    codec: TextCodec | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def make_bundle(corpus: AuthorsCorpus, codec: TextCodec) -> LMBundle:
    def encode(records):
        return codec.encode_pairs([(q.question, q.answer) for q in records])

    train = IndexedTensorDataset(encode(corpus.train), torch.tensor([q.author for q in corpus.train]))
    test = IndexedTensorDataset(encode(corpus.holdout), torch.tensor([q.author for q in corpus.holdout]))
    names = corpus.author_names() + ["unrelated world facts"]
    return LMBundle(
        name="authors",
        train=train,
        test=test,
        num_classes=corpus.num_authors + 1,
        class_names=names,
        source=f"generated fictitious authors (seed {corpus.seed})",
        corpus=corpus,
        codec=codec,
    )


@DATASETS.register("authors", "synthetic TOFU-like fictitious-authors QA corpus, tokenized (language-model family)")
def load_authors(num_authors: int = 100, seed: int = 0, num_facts: int = 30, num_holdout: int | None = None, tokenizer: str = "bpe", vocab_size: int = 1024, max_length: int | None = None) -> LMBundle:
    corpus = build_corpus(num_authors, seed, num_facts, num_holdout)
    tok = load_tokenizer(tokenizer, corpus.texts(), vocab_size)
    codec = TextCodec(tok, 1024)
    pairs: list[tuple[str, str]] = []
    for r in corpus.train + corpus.holdout:
        pairs += [(r.question, r.answer), (r.paraphrased_question, r.answer), (r.question, r.paraphrased_answer)]
        pairs += [(r.question, p) for p in r.perturbed_answers]
    longest = max(len(codec.pair_ids(q, a)) for q, a in pairs)
    codec.max_length = max_length or int(8 * -(-(longest + 8) // 8))  # room for masked/IDK answers, a multiple of 8
    return make_bundle(corpus, codec)


@SPLIT_BUILDERS.register("authors", "every QA pair of a fraction of the authors, or of an `authors` list (TOFU forget01/05/10)")
def authors_split(
    targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, fraction: float = 0.1, authors: Sequence[int] | None = None, num_authors: int | None = None, **_: object
) -> np.ndarray:
    """``num_authors`` defaults to max(target) (the largest id is the world-facts block, never forgotten)."""
    n_auth = int(num_authors if num_authors is not None else targets.max())
    present = set(np.unique(targets[pool]).tolist())
    if authors is not None:
        chosen = [int(a) for a in authors]
        if not chosen:
            raise DataError("the forget author list is empty; name at least one author id (e.g. authors=[3]) or give a fraction instead.")
        bad = [a for a in chosen if a not in present or not 0 <= a < n_auth]
        if bad:
            raise DataError(f"authors {bad} are not in the corpus (author ids are 0..{n_auth - 1}; {n_auth} is the world-facts block).")
    else:
        if not 0.0 < fraction < 1.0:
            raise DataError(f"the authors forget fraction must lie in (0, 1), got {fraction}; 0.05 forgets 5% of the authors.")
        candidates = sorted(a for a in present if 0 <= a < n_auth)
        count = max(1, int(round(fraction * len(candidates))))
        chosen = sorted(int(a) for a in rng.choice(candidates, count, replace=False))
    return pool[np.isin(targets[pool], chosen)]


def forget_authors(targets: np.ndarray, forget: np.ndarray) -> list[int]:
    return sorted(set(np.asarray(targets)[forget].tolist()))


def _options(config: Any) -> dict[str, Any]:
    model = getattr(config, "model", None)
    return dict(getattr(model, "options", None) or {})


def _recipe_value(recipe: Any, key: str, default: Any) -> Any:
    return getattr(recipe, key, default) if recipe is not None else default


MODEL_OPTIONS = {"pretrained", "n_layer", "n_embd", "n_head", "n_positions", "dropout"}


@FAMILIES.register("lm", "causal language models (tiny GPT-2 or any HF causal LM) on QA data: authors / concept unlearning")
class LMFamily:
    name = "lm"
    metric_set = "lm"

    def build(self, config: Any, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        from .models import build_lm

        codec = getattr(data.bundle, "codec", None)
        if codec is None:
            raise ConfigError("the lm family needs a tokenized dataset that carries its codec (dataset: authors).")
        options = _options(config)
        unknown = set(options) - MODEL_OPTIONS
        if unknown:
            raise ConfigError(f"model.options: unknown keys {sorted(unknown)} for the lm family; valid: {sorted(MODEL_OPTIONS)}.")
        return build_lm(codec, seed, **options).to(device)

    def fit(self, model: nn.Module, config: Any, data: FamilyData, indices: np.ndarray, recipe: Any, device: torch.device, progress: bool = False, desc: str = "train") -> dict[str, Any]:
        from .models import train_lm

        return train_lm(
            model,
            data.bundle.train.inputs,
            indices,
            epochs=int(_recipe_value(recipe, "epochs", 40)),
            lr=float(_recipe_value(recipe, "lr", 3e-3)),
            batch_size=int(_recipe_value(recipe, "batch_size", 32)),
            seed=int(_recipe_value(recipe, "seed", 0)),
            device=device,
            weight_decay=float(_recipe_value(recipe, "weight_decay", 0.0)),
            desc=desc,
        )

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        from .models import answer_nll

        return answer_nll(model, batch)

    def extras(self, config: Any, data: FamilyData, device: torch.device) -> dict[str, Any]:
        bundle = data.bundle
        return {"lm_corpus": bundle.corpus, "lm_codec": bundle.codec, "lm_bundle": bundle}
