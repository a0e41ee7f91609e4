"""The fictitious-companies corpus: the second schema, the held-out check of the LM results."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.errors import DataError


def test_companies_are_deterministic_per_seed_and_have_the_documented_sizes():
    from expunge.lm.companies import COMPANY_TEMPLATES, build_companies

    a, b = build_companies(40, seed=3), build_companies(40, seed=3)
    assert [(q.question, q.answer, q.perturbed_answers) for q in a.train + a.holdout] == [(q.question, q.answer, q.perturbed_answers) for q in b.train + b.holdout]
    assert [q.answer for q in a.train] != [q.answer for q in build_companies(40, seed=4).train]
    assert len(COMPANY_TEMPLATES) == 6
    assert len(a.train) == 40 * 6 + 30 and len(a.holdout) == 8 * 6 and len(a.holdout_authors) == 8
    per_entity = np.bincount([q.author for q in a.train if q.author < 40], minlength=40)
    assert (per_entity == 6).all() and sum(q.author == a.facts_id for q in a.train) == 30
    assert len(set(a.author_names())) == 40
    for q in a.train + a.holdout:
        assert q.key in q.answer and q.key in q.paraphrased_answer and q.paraphrased_question != q.question
        assert len(q.perturbed_answers) == 3 and len(set(q.perturbed_answers)) == 3
        assert all(q.key not in p for p in q.perturbed_answers), (q.attribute, q.key, q.perturbed_answers)


def test_companies_schema_shares_no_question_template_with_authors():
    from expunge.lm.companies import build_companies
    from expunge.lm.corpus import build_corpus

    companies, authors = build_companies(10, seed=0), build_corpus(10, seed=0)
    strip = lambda qa, names: next(qa.question.replace(n, "{n}") for n in names if n in qa.question)  # noqa: E731
    company_questions = {strip(q, companies.author_names()) for q in companies.train if q.author < 10}
    author_questions = {strip(q, authors.author_names()) for q in authors.train if q.author < 10}
    assert len(company_questions) == 6 and not company_questions & author_questions
    assert {q.attribute for q in companies.train} == {"headquarters", "founded", "industry", "founder", "product", "employees", "currency"}


def test_companies_bad_sizes_are_clear():
    from expunge.lm.companies import build_companies

    with pytest.raises(DataError, match="num_companies must be at least 2"):
        build_companies(1)
    with pytest.raises(DataError, match="at most 225 companies"):
        build_companies(220)


def test_companies_forget_split_runs_through_the_pipeline(tmp_path):
    pytest.importorskip("transformers")
    from expunge.experiments import load_config, run_experiment

    config = {
        "name": "tiny-companies",
        "family": "lm",
        "dataset": {"name": "companies", "options": {"num_companies": 10, "num_facts": 5, "seed": 2}},
        "split": {"kind": "authors", "fraction": 0.2, "train_size": None, "test_size": None, "validation_fraction": 0.0},
        "model": {"name": "tiny_gpt2", "options": {"n_layer": 1, "n_embd": 32, "n_head": 2}},
        "recipe": {"epochs": 2, "lr": 0.003, "batch_size": 16},
        "oracles": 1,
        "seeds": [0],
        "methods": [{"name": "NPO", "unlearner": "lm_npo", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["lm"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    records = run_experiment(load_config(config))
    run = next(r for r in records if r["method"] == "NPO")
    assert run["status"] == "ok", run.get("error")
    # 2 of the 10 companies forgotten: 12 QA pairs; every metric of the lm set computed on them
    assert run["passes"] > 0 and 0.0 <= run["forget_quality"] <= 1.0 and 0.0 <= run["utility"] <= 1.0
    assert "rouge_forget" in run and "mia_loss_auc" in run
