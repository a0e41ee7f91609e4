"""lm_examples: the bounded block of truth ratios and answers the HTML report's language-model panel reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from expunge.evaluate.registry import METRIC_SETS, EvalContext, run_metrics
from expunge.lm.metrics import Examples, report


@pytest.fixture(scope="module")
def tiny(bundle):
    from expunge.lm.models import build_tiny_gpt2

    torch.set_num_threads(1)
    return build_tiny_gpt2(bundle.codec, seed=0, n_layer=1, n_embd=32, n_head=2)  # untrained: the block's shape, not its values, is tested


def _ctx(bundle, split) -> EvalContext:
    return EvalContext(torch.device("cpu"), seed=0, split=split, extras={"lm_corpus": bundle.corpus})


def test_block_holds_each_questions_truth_ratio_and_the_first_answers_in_order(bundle, split, tiny) -> None:
    ctx = _ctx(bundle, split)
    block = run_metrics([Examples(samples=3)], tiny, ctx)["lm_examples"]
    rep = report(ctx, tiny)
    forget, retain = rep.data.forget, rep.data.retain
    assert block["truth_ratio_n"] == {"forget": len(forget), "retain": len(retain)}
    np.testing.assert_allclose(block["truth_ratio"]["forget"], rep.truth_ratio(forget), rtol=1e-3)
    np.testing.assert_allclose(block["truth_ratio"]["retain"], rep.truth_ratio(retain), rtol=1e-3)
    answers = block["answers"]
    assert [a["part"] for a in answers] == ["forget"] * 3 + ["retain"] * 3
    assert [a["question"] for a in answers] == [q.question for q in forget[:3]] + [q.question for q in retain[:3]]
    assert [a["reference"] for a in answers[:3]] == [q.answer for q in forget[:3]]
    assert [a["answer"] for a in answers[3:]] == rep.generations(retain)[:3]
    assert {q.author for q in forget} <= {3, 11}  # forget questions come from the forgotten authors only
    json.dumps(block, allow_nan=False)  # NaN would be stored as null, never as a bare NaN


def test_block_is_bounded_and_the_same_questions_are_drawn_for_every_model(bundle, split, tiny) -> None:
    from expunge.lm.models import build_tiny_gpt2

    ctx = _ctx(bundle, split)
    small = Examples(samples=2, max_ratios=4, max_chars=16)(tiny, ctx)["lm_examples"]
    assert len(small["truth_ratio"]["forget"]) == 4 < small["truth_ratio_n"]["forget"]
    assert len(small["answers"]) == 4 and all(len(a[k]) <= 16 for a in small["answers"] for k in ("question", "reference", "answer"))
    assert any(a["question"].endswith("…") for a in small["answers"])  # clipped texts say so
    other = Examples(samples=2)(build_tiny_gpt2(bundle.codec, seed=1, n_layer=1, n_embd=32, n_head=2), ctx)["lm_examples"]
    assert [a["question"] for a in other["answers"]] == [q.question for q in report(ctx, tiny).data.forget[:2] + report(ctx, tiny).data.retain[:2]]
    assert other["truth_ratio"]["forget"] != Examples()(tiny, ctx)["lm_examples"]["truth_ratio"]["forget"]  # another model, other ratios


def test_lm_set_stores_the_block() -> None:
    assert "lm_examples" in METRIC_SETS["lm"]
