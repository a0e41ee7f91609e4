"""Language-model family: fictitious-authors corpus, tiny GPT-2 / HF causal LMs, concept unlearning.

Importing this package registers the ``authors``, ``companies`` and ``qa_jsonl`` datasets, the ``authors`` split builder, the ``lm`` family,
the ``lm_*`` unlearners, the ``lm_del`` localizer and the ``lm`` metric set. transformers,
peft, tokenizers and captum are imported only inside functions, so importing this package needs
none of them (building a tokenizer or a model does).
"""

from . import family, localize, metrics, unlearn  # noqa: F401  (registrations)
from .companies import build_companies
from .corpus import QA, AuthorsCorpus, build_corpus, entity_ids, load_qa_corpus
from .family import LMBundle, LMFamily, LMOptions, load_authors, load_companies, load_qa_jsonl, make_bundle, tokenize_corpus

__all__ = [
    "QA",
    "AuthorsCorpus",
    "LMBundle",
    "LMFamily",
    "LMOptions",
    "build_companies",
    "build_corpus",
    "entity_ids",
    "load_authors",
    "load_companies",
    "load_qa_corpus",
    "load_qa_jsonl",
    "make_bundle",
    "tokenize_corpus",
]
