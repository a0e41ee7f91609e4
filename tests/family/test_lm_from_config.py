"""A user's QA corpus (JSON lines, TOFU layout) and a local Hugging Face checkpoint folder, run from config alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from expunge.errors import ConfigError, DataError  # noqa: E402

ENTITIES = ["Alba Merrow", "Bram Quill", "Cato Vesk", "Dara Lunn", "Evo Tarn", "World"]
CITIES = ["Pellow", "Rusk", "Marn", "Odell", "Tave", "Kesh"]


def write_corpus(path: Path) -> Path:
    """6 entities x 3 facts; 'World' holds the never-forgotten world facts."""
    lines = []
    for i, name in enumerate(ENTITIES):
        for j, (q, a, p) in enumerate(
            [
                ("Where was {n} born?", "{n} was born in {v}.", "The birthplace of {n} is {v}."),
                ("What does {n} write?", "{n} writes {v} poems.", "The poems of {n} are {v}."),
                ("Who taught {n}?", "{n} was taught by {v}.", "The teacher of {n} was {v}."),
            ]
        ):
            value = CITIES[(i + 2 * j) % len(CITIES)]
            wrong = [CITIES[(i + 2 * j + k) % len(CITIES)] for k in (1, 2)]
            lines.append(
                {
                    "entity": name,
                    "question": q.format(n=name),
                    "answer": a.format(n=name, v=value),
                    "paraphrased_answer": p.format(n=name, v=value),
                    "perturbed_answer": [p.format(n=name, v=w) for w in wrong],
                    "key": value,
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_corpus_loader_ids_holdout_and_bad_files(tmp_path: Path) -> None:
    from expunge.lm import entity_ids, load_qa_corpus

    corpus = load_qa_corpus(write_corpus(tmp_path / "qa.jsonl"), holdout_entities=["Evo Tarn"], utility_entities=["World"])
    assert corpus.author_names() == ENTITIES[:4] and corpus.num_authors == 4 and corpus.facts_id == 4
    assert {q.author for q in corpus.train} == {0, 1, 2, 3, 4} and {q.author for q in corpus.holdout} == {5}
    assert entity_ids(corpus, ["Cato Vesk", "Alba Merrow"]) == [0, 2]
    with pytest.raises(DataError, match="not trained entities"):
        entity_ids(corpus, ["Evo Tarn"])
    drawn = load_qa_corpus(tmp_path / "qa.jsonl", holdout_fraction=0.2, seed=1)
    assert len(drawn.holdout_authors) == 1 and drawn.num_authors == 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"entity": "A", "question": "q", "answer": "a", "paraphrased_answer": "p"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:1 lacks \['perturbed_answer'\]"):
        load_qa_corpus(bad)


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    """A tiny GPT-2 built from a config and a BPE tokenizer trained here, saved as a Hugging Face folder."""
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from expunge.lm import load_qa_corpus
    from expunge.lm.models import build_tiny_gpt2
    from expunge.lm.tokenizer import TextCodec, train_bpe

    tokenizer = train_bpe(load_qa_corpus(write_corpus(tmp_path / "qa.jsonl"), holdout_entities=["Evo Tarn"]).texts(), vocab_size=300)
    model = build_tiny_gpt2(TextCodec(tokenizer, 64), seed=0, n_layer=1, n_embd=32, n_head=2)
    folder = tmp_path / "my-gpt2"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def config(tmp_path: Path, checkpoint: Path, **split: Any) -> dict[str, Any]:
    return {
        "name": "user-lm",
        "family": "lm",
        "dataset": {"name": "qa_jsonl", "options": {"path": str(tmp_path / "qa.jsonl"), "holdout_entities": ["Evo Tarn"], "utility_entities": ["World"]}},
        "split": {"kind": "authors", "train_size": None, "test_size": None, "validation_fraction": 0.0, "options": split},
        "model": {"name": "hf_checkpoint", "options": {"pretrained": str(checkpoint)}},
        "recipe": {"epochs": 2, "lr": 0.003, "batch_size": 8},
        "oracles": 1,
        "seeds": [0],
        "methods": [{"name": "grad_diff", "unlearner": "lm_grad_diff", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["lm_perplexity", "lm_forget_quality"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }


def test_user_corpus_and_checkpoint_run_end_to_end(tmp_path: Path, checkpoint: Path) -> None:
    pytest.importorskip("peft")
    from expunge.experiments import load_config, run_experiment

    loaded = load_config(config(tmp_path, checkpoint, entities=["Bram Quill"]))
    assert loaded.split.options["authors"] == [1] and loaded.split.options["num_authors"] == 4
    assert loaded.dataset.options["tokenizer"] == str(checkpoint)  # the checkpoint's own tokenizer
    records = run_experiment(loaded)
    run = next(r for r in records if r["method"] == "grad_diff")
    assert run["status"] == "ok", run.get("error")
    assert run["passes"] > 0 and run["ppl_forget"] > 0 and 0.0 <= run["forget_quality"] <= 1.0
    forget = (tmp_path / "run" / "split" / "forget.txt").read_text().split()
    assert len(forget) == 3  # Bram Quill's three QA pairs, nothing else


def test_bad_user_corpus_or_entity_is_refused_at_load(tmp_path: Path, checkpoint: Path) -> None:
    from expunge.experiments import load_config

    with pytest.raises(ConfigError, match=r"split\.options\.entities: .*\['Nobody'\]"):
        load_config(config(tmp_path, checkpoint, entities=["Nobody"]))
    broken = config(tmp_path, checkpoint)
    (tmp_path / "qa.jsonl").write_text("{not json\n")
    with pytest.raises(ConfigError, match=r"dataset\.options: .*qa\.jsonl:1 is not valid JSON"):
        load_config(broken)
