"""Corpus, splits and bad input: no model training here."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.errors import ConfigError, DataError


def test_corpus_is_deterministic_and_tofu_shaped():
    from expunge.lm.corpus import build_corpus

    a, b = build_corpus(20, seed=3), build_corpus(20, seed=3)
    assert [q.answer for q in a.train] == [q.answer for q in b.train]
    assert [q.answer for q in a.train] != [q.answer for q in build_corpus(20, seed=4).train]
    assert len(a.train) == 20 * 6 + 30 and len(a.holdout) == 4 * 6
    for q in a.train:
        assert q.key in q.answer and q.key in q.paraphrased_answer
        assert len(q.perturbed_answers) == 3 and all(q.key not in p or q.attribute == "year" for p in q.perturbed_answers)
        assert q.paraphrased_question != q.question
    assert len(set(a.author_names())) == 20


@pytest.mark.parametrize("fraction,count", [(0.01, 1), (0.05, 5), (0.1, 10)])
def test_authors_split_fractions(fraction, count):
    pytest.importorskip("transformers")
    import expunge.lm  # noqa: F401
    from expunge.data import build_split
    from expunge.lm.corpus import build_corpus

    corpus = build_corpus(100, seed=0, num_facts=5)
    targets = np.array([q.author for q in corpus.train])
    split = build_split("authors", targets, 10, seed=1, validation_fraction=0.0, fraction=fraction)
    authors = set(targets[split.forget].tolist())
    assert len(authors) == count and corpus.facts_id not in authors
    assert len(split.forget) == 6 * count and len(split.retain) == len(targets) - 6 * count


def test_split_bad_input_is_clear():
    pytest.importorskip("transformers")
    import expunge.lm  # noqa: F401
    from expunge.data import build_split

    targets = np.repeat(np.arange(6), 6)  # 5 authors + world facts (id 5)
    with pytest.raises(DataError, match="forget author list is empty"):
        build_split("authors", targets, 4, validation_fraction=0.0, authors=[])
    with pytest.raises(DataError, match=r"authors \[7\] are not in the corpus"):
        build_split("authors", targets, 4, validation_fraction=0.0, authors=[7])
    with pytest.raises(DataError, match="world-facts"):
        build_split("authors", targets, 4, validation_fraction=0.0, authors=[5])


def test_vocab_mismatch_is_clear(bundle):
    from expunge.lm.models import attach_codec, build_tiny_gpt2
    from expunge.lm.tokenizer import TextCodec, byte_tokenizer

    small = TextCodec(byte_tokenizer(), 40)
    model = build_tiny_gpt2(small, n_layer=1, n_embd=32, n_head=2)
    with pytest.raises(ConfigError, match="vocabulary mismatch"):
        attach_codec(model, bundle.codec)


def test_codec_roundtrip_and_answer_mask(bundle):
    from expunge.lm.models import answer_mask

    codec = bundle.codec
    q = bundle.corpus.train[0]
    row = bundle.train.inputs[0]
    prompt, answer = codec.split_row(row)
    assert codec.decode(prompt) == q.question and codec.decode(answer).strip() == q.answer
    m = answer_mask(row[None], codec.sep_id, codec.pad_id)[0]
    assert int(m.sum()) == len(answer) + 1  # answer tokens + EOS


def test_byte_tokenizer_encodes_everything():
    from expunge.lm import load_authors

    b = load_authors(num_authors=4, seed=0, num_facts=2, tokenizer="byte")
    assert b.codec.vocab_size == 256 + 3
    q = b.corpus.train[0]
    assert b.codec.decode(b.codec.split_row(b.train.inputs[0])[1]).strip() == q.answer


def test_unlearner_hyperparameters_are_checked():
    pytest.importorskip("transformers")
    from expunge.hparams import validate_params
    from expunge.lm.unlearn import ConceptUnlearning
    from expunge.unlearn.base import UNLEARNERS

    ok = validate_params(ConceptUnlearning, {"top_k": 3, "target_modules": ["c_attn"], "replacement": "random"}, "method")
    assert ConceptUnlearning(**ok).top_k == 3
    with pytest.raises(ConfigError, match="locator"):
        validate_params(ConceptUnlearning, {"locator": "ner"}, "method")
    with pytest.raises(ConfigError, match="did you mean 'top_k'"):
        validate_params(ConceptUnlearning, {"topk": 3}, "method")
    for name in ("lm_concept", "lm_grad_ascent", "lm_grad_diff", "lm_npo", "lm_idk"):
        assert name in UNLEARNERS.names()
