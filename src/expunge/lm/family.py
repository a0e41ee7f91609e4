"""The ``lm`` model family, the ``authors`` and ``qa_jsonl`` datasets and the ``authors`` forget-set builder.

Dataset ``authors`` (``DATASETS``): the synthetic fictitious-authors corpus tokenized into an
``LMBundle``: ``train.inputs`` is a LongTensor [N, T] (prompt, SEP, answer, EOS, PAD...),
``train.targets`` the author id (world facts: ``num_authors``), so forgetting authors is a
class-style split. ``test`` holds the held-out authors (never trained; membership-attack
non-members). The bundle also carries the corpus, the codec and the paraphrase set.
Dataset ``qa_jsonl``: a user's QA corpus in JSON lines (TOFU layout, ``corpus.load_qa_corpus``),
entities in place of authors, tokenized the same way; the forget set by entity name
(``split.options.entities``) or fraction.

Split builder ``authors`` (``SPLIT_BUILDERS``): every example of a fraction of the authors
(``fraction``, at least one author) or of an explicit ``authors`` list; the world-facts id is
never drawn. Use ``validation_fraction: 0`` in the split config: a QA pair carved out for
validation would never be trained, by the original or the oracles.

Family ``lm`` (``FAMILIES``): ``build`` a tiny GPT-2 from ``config.model.options``
(``LMOptions``: ``n_layer``, ``n_embd``, ``n_head``; or ``pretrained: <HF checkpoint folder>``), ``fit`` with AdamW
on the teacher-forced answer NLL (``config.recipe``: epochs, lr, batch_size, weight_decay, seed),
``loss`` = that NLL, and ``extras`` = ``{"lm_corpus", "lm_codec", "lm_bundle"}`` for the metrics.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..data.base import DatasetBundle, IndexedTensorDataset
from ..data.registry import DATASETS
from ..data.splits import SPLIT_BUILDERS
from ..errors import ConfigError, DataError
from ..family import FAMILIES, Family, FamilyData
from ..hparams import hp
from ..train import Recipe
from .companies import build_companies
from .corpus import AuthorsCorpus, build_corpus, entity_ids, load_qa_corpus
from .tokenizer import TextCodec, load_tokenizer

if TYPE_CHECKING:
    from ..experiments.config import ExperimentConfig


@dataclass
class LMBundle(DatasetBundle):
    """A DatasetBundle plus the corpus and codec it was tokenized with."""

    corpus: AuthorsCorpus | None = None
    codec: TextCodec | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def make_bundle(corpus: AuthorsCorpus, codec: TextCodec, name: str = "authors", source: str | None = None) -> LMBundle:
    """Encode a corpus with ``codec``: train = trained entities + world facts, test = held-out entities."""

    def encode(records):
        return codec.encode_pairs([(q.question, q.answer) for q in records])

    train = IndexedTensorDataset(encode(corpus.train), torch.tensor([q.author for q in corpus.train]))
    test = IndexedTensorDataset(encode(corpus.holdout), torch.tensor([q.author for q in corpus.holdout]))
    names = corpus.author_names() + ["unrelated world facts"]
    return LMBundle(
        name=name,
        train=train,
        test=test,
        num_classes=corpus.num_authors + 1,
        class_names=names,
        source=source or f"generated fictitious authors (seed {corpus.seed})",
        corpus=corpus,
        codec=codec,
    )


def tokenize_corpus(corpus: AuthorsCorpus, tokenizer: str = "bpe", vocab_size: int = 1024, max_length: int | None = None, name: str = "authors", source: str | None = None) -> LMBundle:
    """A tokenizer (``bpe`` / ``byte`` trained here, or a Hugging Face name or folder), a codec long enough for every text, the bundle."""
    tok = load_tokenizer(tokenizer, corpus.texts(), vocab_size)
    codec = TextCodec(tok, 1024)
    pairs: list[tuple[str, str]] = []
    for r in corpus.train + corpus.holdout:
        pairs += [(r.question, r.answer), (r.paraphrased_question, r.answer), (r.question, r.paraphrased_answer)]
        pairs += [(r.question, p) for p in r.perturbed_answers]
    longest = max(len(codec.pair_ids(q, a)) for q, a in pairs)
    codec.max_length = max_length or int(8 * -(-(longest + 8) // 8))  # room for masked/IDK answers, a multiple of 8
    return make_bundle(corpus, codec, name, source)


@DATASETS.register("authors", "synthetic TOFU-like fictitious-authors QA corpus, tokenized (language-model family)")
def load_authors(num_authors: int = 100, seed: int = 0, num_facts: int = 30, num_holdout: int | None = None, tokenizer: str = "bpe", vocab_size: int = 1024, max_length: int | None = None) -> LMBundle:
    return tokenize_corpus(build_corpus(num_authors, seed, num_facts, num_holdout), tokenizer, vocab_size, max_length)


@DATASETS.register("companies", "synthetic fictitious-companies QA corpus (another schema than authors: the held-out check), tokenized (language-model family)")
def load_companies(
    num_companies: int = 40, seed: int = 0, num_facts: int = 30, num_holdout: int | None = None, tokenizer: str = "bpe", vocab_size: int = 1024, max_length: int | None = None
) -> LMBundle:
    """``companies.build_companies`` tokenized like the authors corpus; split it with the ``authors`` builder (companies are its entities)."""
    corpus = build_companies(num_companies, seed, num_facts, num_holdout)
    return tokenize_corpus(corpus, tokenizer, vocab_size, max_length, name="companies", source=f"generated fictitious companies (seed {seed})")


@DATASETS.register("qa_jsonl", "a user's QA corpus in JSON lines (TOFU layout: entity, question, answer, paraphrased_answer, perturbed_answer), tokenized (language-model family)")
def load_qa_jsonl(
    path: str,
    holdout_entities: list[str] | None = None,
    holdout_fraction: float = 0.2,
    utility_entities: list[str] | None = None,
    seed: int = 0,
    tokenizer: str = "bpe",
    vocab_size: int = 1024,
    max_length: int | None = None,
) -> LMBundle:
    """``load_qa_corpus`` (entities = authors of the split builder ``authors``) tokenized like the synthetic corpus."""
    corpus = load_qa_corpus(path, holdout_entities, holdout_fraction, utility_entities or (), seed)
    return tokenize_corpus(corpus, tokenizer, vocab_size, max_length, name="qa_jsonl", source=f"QA corpus {Path(path).expanduser()}")


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


@dataclass
class LMOptions:
    """``model.options`` of the lm family (checked when the config loads)."""

    pretrained: str | None = hp(None, doc="a Hugging Face causal LM: a local checkpoint folder (or a cached hub name); None builds a tiny GPT-2")
    n_layer: int = hp(2, low=1, doc="tiny GPT-2: transformer blocks")
    n_embd: int = hp(128, low=1, doc="tiny GPT-2: embedding width (a multiple of n_head)")
    n_head: int = hp(4, low=1, doc="tiny GPT-2: attention heads")
    n_positions: int | None = hp(None, low=1, doc="tiny GPT-2: context length (None: the codec's max_length)")
    dropout: float = hp(0.0, low=0.0, high=1.0, high_open=True, doc="tiny GPT-2: residual, embedding and attention dropout")

    def __post_init__(self) -> None:
        if self.pretrained is None and self.n_embd % self.n_head:
            raise ConfigError(f"model.options.n_embd ({self.n_embd}) must be divisible by model.options.n_head ({self.n_head}).")


@FAMILIES.register("lm", "causal language models (tiny GPT-2 or any HF causal LM) on QA data: authors / concept unlearning")
class LMFamily(Family):
    name = "lm"
    metric_set = "lm"
    options_type = LMOptions

    def options(self, config: ExperimentConfig) -> LMOptions:
        return super().options(config)

    def validate(self, config: ExperimentConfig) -> None:
        """model.options typed; dataset.options known to the loader; a checkpoint's tokenizer by default; a user corpus read now.

        A ``qa_jsonl`` corpus is read (not tokenized) at load, so a malformed file fails before anything
        trains, and ``split.options.num_authors`` is set from it: without world-facts entities the
        largest id is a real entity, which the ``authors`` builder would otherwise take for the facts block.
        """
        options = self.options(config)
        dataset = config.dataset
        loader = DATASETS.get(dataset.name)
        params = inspect.signature(loader).parameters
        unknown = sorted(set(dataset.options) - set(params))
        if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            raise ConfigError(f"dataset.options: unknown keys {unknown} for dataset {dataset.name!r}; valid: {sorted(params)}.")
        if options.pretrained and "tokenizer" in params:
            tokenizer = dataset.options.setdefault("tokenizer", options.pretrained)
            if tokenizer in ("bpe", "byte"):
                raise ConfigError(
                    f"dataset.options.tokenizer: {tokenizer!r} is trained here, but model.options.pretrained loads {options.pretrained!r} with its own vocabulary; "
                    "leave dataset.options.tokenizer unset (the checkpoint's tokenizer is used) or name the checkpoint folder."
                )
        if dataset.name == "qa_jsonl":
            if "path" not in dataset.options:
                raise ConfigError("dataset.options.path: the qa_jsonl dataset needs the path of a JSON-lines QA file (TOFU layout).")
            keys = ("holdout_entities", "holdout_fraction", "utility_entities", "seed")
            try:
                corpus = load_qa_corpus(dataset.options["path"], **{k: v for k, v in dataset.options.items() if k in keys})
            except DataError as exc:
                raise ConfigError(f"dataset.options: {exc}") from exc
            if config.split.kind == "authors":
                split = config.split.options
                split.setdefault("num_authors", corpus.num_authors)
                if "entities" in split:
                    try:
                        ids = entity_ids(corpus, [str(e) for e in split["entities"]])
                    except DataError as exc:
                        raise ConfigError(f"split.options.entities: {exc}") from exc
                    if split.setdefault("authors", ids) != ids:
                        raise ConfigError("split.options: give the forget set as entities (names) or as authors (ids), not both.")

    def build(self, config: ExperimentConfig, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        from .models import build_lm

        codec = getattr(data.bundle, "codec", None)
        if codec is None:
            raise ConfigError(f"dataset.name: the lm family needs a tokenized QA dataset that carries its codec (authors or qa_jsonl), got {config.dataset.name!r}.")
        return build_lm(codec, seed, **asdict(self.options(config))).to(device)

    def fit(
        self, model: nn.Module, config: ExperimentConfig, data: FamilyData, indices: np.ndarray, recipe: Recipe, device: torch.device, progress: bool = False, desc: str = "train"
    ) -> dict[str, Any]:
        """AdamW on the answer NLL: the recipe's epochs, lr, batch_size, weight_decay and seed (momentum and schedule do not apply)."""
        from .models import train_lm

        return train_lm(model, data.bundle.train.inputs, indices, recipe.epochs, recipe.lr, recipe.batch_size, recipe.seed, device, recipe.weight_decay, desc)

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        from .models import answer_nll

        return answer_nll(model, batch)

    def extras(self, config: ExperimentConfig, data: FamilyData, device: torch.device) -> dict[str, Any]:
        bundle = data.bundle
        return {"lm_corpus": bundle.corpus, "lm_codec": bundle.codec, "lm_bundle": bundle}
