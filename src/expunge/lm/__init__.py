"""Language-model family: fictitious-authors corpus, tiny GPT-2 / HF causal LMs, concept unlearning.

Importing this package registers the ``authors`` dataset and split builder, the ``lm`` family,
the ``lm_*`` unlearners, the ``lm_del`` localizer and the ``lm`` metric set. transformers,
peft, tokenizers and captum are imported only inside functions, so importing this package needs
none of them (building a tokenizer or a model does).
"""

from . import family, localize, metrics, unlearn  # noqa: F401  (registrations)
from .corpus import AuthorsCorpus, build_corpus
from .family import LMBundle, LMFamily, load_authors

__all__ = ["AuthorsCorpus", "LMBundle", "LMFamily", "build_corpus", "load_authors"]
