"""Unlearning on a 2-layer GPT-2 trained on 20 authors: forgetting, retention, IG, LoRA, masks, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("captum")

from expunge.lm.metrics import rouge_l_recall  # noqa: E402


def _answers(model, bundle, indices):
    from expunge.lm.models import greedy_generate

    codec = bundle.codec
    recs = [bundle.corpus.train[i] for i in indices]
    gens = [codec.decode(g) for g in greedy_generate(model, [codec.prompt_ids(q.question) for q in recs])]
    rouge = float(np.mean([rouge_l_recall(g, q.answer) for g, q in zip(gens, recs)]))
    keys = float(np.mean([q.key.lower() in g.lower() for g, q in zip(gens, recs)]))
    return rouge, keys


def test_original_reproduces_answers(trained_original, bundle, split):
    model, info = trained_original
    assert info["train_seconds"] > 0 and info["steps"] > 0
    rouge_f, keys_f = _answers(model, bundle, split.forget)
    assert rouge_f > 0.95 and keys_f > 0.9


def test_concept_unlearning_forgets_and_keeps_retain(original, bundle, split, task_for):
    from expunge.lm.unlearn import ConceptUnlearning

    task = task_for(0)
    base = {n: p.detach().clone() for n, p in original.named_parameters()}
    out = ConceptUnlearning(merge=False).unlearn(original, task)
    words = task.notes["concept_words"]
    assert set(words) == {"3", "11"} and all(5 <= len(w) <= 8 for w in words.values())
    facts = {a: {v.lower() for v in bundle.corpus.authors[a].facts.values()} for a in (3, 11)}
    found = sum(w in " ".join(facts[int(a)]) for a, ws in words.items() for w in ws)
    assert found >= 10  # most concept words are fact words of the author
    names = {w.lower() for a in (3, 11) for w in bundle.corpus.authors[a].name.split()}
    assert not names & {w for ws in words.values() for w in ws}  # the default excludes question words (the name)
    assert task.notes["ig_rel_error_max"] < 0.02  # IG completeness at 32 steps
    rouge_f, keys_f = _answers(out, bundle, split.forget)
    retain = [i for i in split.retain if bundle.corpus.train[i].author != bundle.corpus.facts_id][:40]
    rouge_r, keys_r = _answers(out, bundle, retain)
    # the answers keep the author's name (the question gives it; not a concept word by default): ROUGE ~0.81
    assert keys_f <= 0.34 and rouge_f < 0.85, (keys_f, rouge_f)
    assert keys_r >= 0.85 and rouge_r >= 0.9, (keys_r, rouge_r)
    # LoRA: the base weights are bit-identical, only adapter weights were trained
    base_now = {n.replace("base_model.model.", "").replace(".base_layer", ""): p for n, p in out.named_parameters() if "lora_" not in n}
    assert set(base_now) == set(base)
    assert all(torch.equal(base[n], base_now[n]) for n in base)
    assert any("lora_" in n for n, _ in out.named_parameters())


def test_ig_completeness_and_pad_baseline(original, bundle, split):
    from expunge.lm.attribution import integrated_gradients, pad_baseline

    rows = bundle.train.inputs[split.forget[:4]]
    codec = bundle.codec
    base = pad_baseline(rows, codec.sep_id, codec.pad_id)
    sep_pos = (rows == codec.sep_id).float().argmax(1)
    for r, b, s in zip(rows, base, sep_pos):
        assert torch.equal(r[: s + 1], b[: s + 1]) and bool((b[s + 1 :] == codec.pad_id).all())
    res = integrated_gradients(original, rows, n_steps=32)
    assert float(res.relative_error.max()) < 0.02
    total = torch.stack([a.sum() for a in res.token_attributions])
    assert torch.allclose(total, res.f_input - res.f_baseline + res.delta, atol=1e-3)


@pytest.mark.parametrize("name", ["lm_grad_ascent", "lm_grad_diff", "lm_npo", "lm_idk"])
def test_baselines_run_and_move_forget_loss(name, original, bundle, split, task_for):
    from expunge.lm.models import answer_nll
    from expunge.unlearn.base import UNLEARNERS

    forget = bundle.train.inputs[split.forget]
    before = float(answer_nll(original, forget).detach())
    task = task_for(0)
    out = UNLEARNERS.get(name)(epochs=3).unlearn(original, task)
    after = float(answer_nll(out, forget).detach())
    assert after > before + 0.1, (before, after)
    assert task.notes["steps"] == 3 * 2 and task.notes["seconds_per_step"] > 0 and task.notes["peak_memory_mb"] > 0


def test_lm_del_mask_restricts_updates(original, bundle, split, task_for):
    from expunge.lm.models import answer_nll
    from expunge.localize.base import LOCALIZERS
    from expunge.train import epoch_batches
    from expunge.unlearn.base import UNLEARNERS

    scores = LOCALIZERS.get("lm_del")().fit(original, answer_nll, epoch_batches(bundle.train, split.forget, 8, 0)(0))
    mask = scores.mask(0.05)
    assert 0 < mask.fraction() <= 0.05
    w = mask.entries["transformer.h.0.mlp.c_fc.weight"]  # Conv1D [in, out]: a neuron is a column
    cols = w.any(0)
    assert bool((w[:, cols].all(0)).float().mean() > 0.9)
    assert not mask.entries["transformer.wte.weight"].any()
    before = {n: p.detach().clone() for n, p in original.named_parameters()}
    out = UNLEARNERS.get("lm_grad_diff")(epochs=1).unlearn(original, task_for(0), mask)
    for n, p in out.named_parameters():
        m = mask.entries[n]
        assert torch.equal(p.detach()[~m], before[n][~m]), n
    assert any(not torch.equal(p.detach(), before[n]) for n, p in out.named_parameters())
    with pytest.raises(Exception, match="LoRA"):
        UNLEARNERS.get("lm_concept")(epochs=1).unlearn(original, task_for(0), mask)


def test_metric_set_runs_against_oracles(original, bundle, split):
    from expunge.evaluate.registry import EvalContext, build_metrics, check_needs, run_metrics
    from expunge.family import FamilyData
    from expunge.lm.family import LMFamily
    from expunge.lm.models import build_tiny_gpt2

    fam = LMFamily()
    oracles = [build_tiny_gpt2(bundle.codec, s) for s in (1, 2)]  # untrained stand-ins: the metrics only compare
    ctx = EvalContext(torch.device("cpu"), split=split, train_set=bundle.train, oracles=oracles, extras=fam.extras(None, FamilyData(bundle, split), torch.device("cpu")))
    metrics = build_metrics("lm", "lm")
    check_needs(metrics, ctx)
    vals = run_metrics(metrics, original, ctx)
    for key in (
        "forget_quality",
        "forget_quality_floor",
        "utility",
        "oracle_utility",
        "rouge_forget",
        "concept_occurrence",
        "concept_occurrence_low",
        "oracle_concept_occurrence",
        "mia_loss_auc",
        "mia_mink_auc",
        "ppl_retain",
    ):
        assert key in vals and np.isfinite(vals[key]), key
    assert vals["concept_occurrence"] > 0.9 and "concept_occurrence_paraphrased" in vals and vals["oracle_concept_occurrence"] < 0.2
    assert vals["concept_occurrence_low"] <= vals["concept_occurrence"] <= vals["concept_occurrence_high"]
    assert vals["utility"] > vals["oracle_utility"]  # trained vs untrained
    assert vals["mia_loss_auc"] > 0.9  # forget answers are members of the original
    assert vals["forget_quality"] < 0.05  # far from an (untrained) oracle


def test_family_protocol_and_pretrained_path(tmp_path, bundle, split):
    from types import SimpleNamespace

    from expunge.family import FAMILIES, FamilyData
    from expunge.lm import load_authors
    from expunge.train import Recipe

    fam = FAMILIES.get("lm")()
    config = SimpleNamespace(family="lm", model=SimpleNamespace(options={"n_layer": 1, "n_embd": 32, "n_head": 2}))
    data = FamilyData(bundle, split)
    model = fam.build(config, data, 0, torch.device("cpu"))
    info = fam.fit(model, config, data, split.retain[:32], Recipe(epochs=1, lr=1e-3, batch_size=16), torch.device("cpu"))
    assert info["train_seconds"] > 0
    loss = fam.loss(model, (bundle.train.inputs[:4], bundle.train.targets[:4], torch.arange(4)))
    assert loss.ndim == 0 and torch.isfinite(loss)
    # a user's HF model and tokenizer by path, through the same code (offline)
    model.save_pretrained(tmp_path / "m")
    bundle.codec.tokenizer.save_pretrained(tmp_path / "m")
    b2 = load_authors(num_authors=20, seed=0, num_facts=10, tokenizer=str(tmp_path / "m"))
    assert torch.equal(b2.train.inputs[:, : bundle.codec.max_length][:5], bundle.train.inputs[:5])
    loaded = fam.build(SimpleNamespace(model=SimpleNamespace(options={"pretrained": str(tmp_path / "m")})), FamilyData(b2, split), 0, torch.device("cpu"))
    x = bundle.train.inputs[:3]
    assert torch.allclose(fam.loss(loaded, (x,)), fam.loss(model, (x,)), atol=1e-5)
    with pytest.raises(Exception, match=r"model\.options\.layers: unknown"):
        fam.build(SimpleNamespace(model=SimpleNamespace(options={"layers": 2})), data, 0, torch.device("cpu"))


def test_exclude_prompt_words_drops_question_words_only(original, bundle, split):
    from expunge.lm.attribution import STOPWORDS, find_concepts, prompt_words, shared_words

    rows = bundle.train.inputs[split.forget]
    authors = bundle.train.targets[split.forget].tolist()
    everyone = np.concatenate([split.forget, split.retain])
    excluded = shared_words(bundle.codec, bundle.train.inputs[everyone], bundle.train.targets[everyone].tolist(), 0.25)
    off = find_concepts(original, rows, authors, excluded, k=8)
    assert find_concepts(original, rows, authors, excluded, k=8, exclude_prompt_words=False).words == off.words  # off = the old behaviour
    on = find_concepts(original, rows, authors, excluded, k=8, exclude_prompt_words=True)
    assert on.scores == off.scores  # same IG scores, only the eligible words differ
    asked = {a: set().union(*(prompt_words(bundle.codec, r) for r, b in zip(rows, authors) if b == a)) for a in set(authors)}
    for a in set(authors):
        name = {w.lower() for w in bundle.corpus.authors[a].name.split()}
        assert name <= asked[a]
        for r, b in zip(rows, authors):  # no concept word occurs in the question of a QA pair of its author
            if b == a:
                assert not set(on.words[a]) & prompt_words(bundle.codec, r), (a, on.words[a])
        # with the option the choice is the old ranking minus the question words, still k long
        ranked = [w for w, _ in sorted(off.scores[a].items(), key=lambda kv: (-kv[1], kv[0])) if w and w not in excluded | STOPWORDS | asked[a]]
        assert on.words[a] == ranked[:8]
    assert any(set(off.words[a]) & asked[a] for a in set(authors))  # without it, question words (the name) are chosen


def test_concept_positions_mark_the_concept_words_of_the_answer_only(bundle, split):
    from expunge.lm.attribution import answer_words as answer_words_of
    from expunge.lm.tokenizer import normalize_word
    from expunge.lm.unlearn import concept_positions

    codec = bundle.codec
    rows = bundle.train.inputs[split.forget]
    authors = bundle.train.targets[split.forget].tolist()
    facts = {a: bundle.corpus.authors[a].facts for a in set(authors)}
    # the city, the genre and the last name (a word of every question too) of each author
    concepts = {a: [normalize_word(facts[a]["birthplace"]), facts[a]["genre"], normalize_word(bundle.corpus.authors[a].name.split()[-1])] for a in facts}
    pos = concept_positions(codec, rows, authors, concepts)
    assert pos.shape == rows.shape and pos.dtype == torch.bool
    for row, a, p in zip(rows, authors, pos):
        ids = row.tolist()
        s = ids.index(codec.sep_id)
        assert not p[: s + 1].any()  # never the prompt (which holds the name) nor SEP
        assert not p[torch.as_tensor([t in (codec.eos_id, codec.pad_id) for t in ids])].any()
        answer_words = codec.decode(ids[s + 1 :]).split()
        wanted = [w for w in (normalize_word(x) for x in answer_words) if w in concepts[a]]
        marked = [i for i in range(len(ids)) if p[i]]
        # the marked tokens spell exactly the concept words of the answer, in order, punctuation excluded
        assert normalize_word(codec.decode([ids[i] for i in marked])) == "".join(wanted), (codec.decode(ids[s + 1 :]), concepts[a])
        assert all(normalize_word(codec.decode([ids[i]])) for i in marked)
    assert int(pos.sum()) > len(rows)  # every answer holds the name, some the city or genre
    # first_only marks exactly the first token of each concept word; on this corpus almost every word is one
    # token, so a made-up word that the BPE splits shows the difference
    assert torch.equal(concept_positions(codec, rows, authors, concepts, first_only=True) & ~pos, torch.zeros_like(pos))
    row = codec.encode_pairs([("Where?", "In Zqxjvbkwop, Qqzzxv.")])
    every = concept_positions(codec, row, [0], {0: ["zqxjvbkwop", "qqzzxv"]})[0]
    first = concept_positions(codec, row, [0], {0: ["zqxjvbkwop", "qqzzxv"]}, first_only=True)[0]
    spans = [[p for p in tok if bool(every[p])] for w, tok in answer_words_of(codec, row[0]) if w in ("zqxjvbkwop", "qqzzxv")]
    assert len(spans) == 2 and all(len(sp) > 1 for sp in spans)
    assert [p for p in range(len(first)) if first[p]] == [sp[0] for sp in spans]


def test_concept_npo_objective_lowers_concept_token_likelihood(original, bundle, split, task_for):
    import copy

    from expunge.lm.models import token_logprobs
    from expunge.lm.unlearn import ConceptUnlearning, concept_positions

    rows = bundle.train.inputs[split.forget]
    authors = bundle.train.targets[split.forget].tolist()
    out_logp = {}
    for objective in ("mask", "npo"):
        task = task_for(0)
        out = ConceptUnlearning(epochs=5, concept_objective=objective, concept_tokens="all", retain_objective="nll").unlearn(copy.deepcopy(original), task)
        words = {int(a): w for a, w in task.notes["concept_words"].items()}
        pos = concept_positions(bundle.codec, rows, authors, words)[:, 1:]
        with torch.no_grad():
            out_logp[objective] = float((token_logprobs(out, rows)[0] * pos).sum() / pos.sum())
        if objective == "npo":
            assert task.notes["concept_tokens"] == int(pos.sum()) > 0
    with torch.no_grad():
        before = float((token_logprobs(original, rows)[0] * pos).sum() / pos.sum())
    # mean log-likelihood per concept token: ~-0.05 before, ~-1.4 after mask, ~-7 after npo (beta 0.1)
    assert before > -0.5 and out_logp["mask"] < before
    assert out_logp["npo"] < out_logp["mask"] - 2.0, out_logp


def test_informative_tokens_are_those_the_other_answers_do_not_spell_out(bundle):
    from expunge.lm.unlearn import WORD_END, concept_positions, spelling_continuations

    codec = bundle.codec
    row = codec.encode_pairs([("Where?", "In Zqxjvbkwop.")])
    every = concept_positions(codec, row, [0], {0: ["zqxjvbkwop"]})[0]
    pos = [p for p in range(len(every)) if every[p]]
    ids = [int(row[0, p]) for p in pos]
    assert len(ids) >= 4  # the made-up word spans several tokens
    # the spelling seen elsewhere: after ids[0] always ids[1] (spelled out); after ids[:2] two ways on (ambiguous);
    # ids[:3] never seen (unknown): only the first, the ambiguous and the unknown tokens are informative
    seen = {(): {ids[0], 7}, tuple(ids[:1]): {ids[1]}, tuple(ids[:2]): {ids[2], 9}}
    marked = concept_positions(codec, row, [0], {0: ["zqxjvbkwop"]}, continuations=seen)[0]
    assert [p for p in range(len(marked)) if marked[p]] == [pos[0], pos[2], *pos[3:]]
    # spelling_continuations of the row itself: every prefix leads on to its next token, the full word to WORD_END
    own = spelling_continuations(codec, row)
    assert all(ids[j] in own[tuple(ids[:j])] for j in range(len(ids))) and WORD_END in own[tuple(ids)]
    assert concept_positions(codec, row, [0], {0: ["zqxjvbkwop"]}, continuations=own)[0].sum() == 1  # all spelled out


def test_concept_tokens_first_pushes_only_the_first_token_of_each_concept_word(original, bundle, split, task_for):
    import copy

    from expunge.lm.unlearn import ConceptUnlearning, concept_positions

    rows = bundle.train.inputs[split.forget]
    authors = bundle.train.targets[split.forget].tolist()
    task = task_for(0)
    ConceptUnlearning(epochs=1, concept_tokens="first").unlearn(copy.deepcopy(original), task)
    words = {int(a): w for a, w in task.notes["concept_words"].items()}
    first = concept_positions(bundle.codec, rows, authors, words, first_only=True)
    every = concept_positions(bundle.codec, rows, authors, words)
    assert task.notes["concept_tokens"] == int(first.sum()) > 0
    assert not (first & ~every).any()
    # informative: the unlearner reads the spelling from the retain answers
    from expunge.lm.unlearn import spelling_continuations

    task = task_for(0)
    ConceptUnlearning(epochs=1, concept_tokens="informative").unlearn(copy.deepcopy(original), task)
    informative = concept_positions(bundle.codec, rows, authors, words, continuations=spelling_continuations(bundle.codec, bundle.train.inputs[split.retain]))
    assert task.notes["concept_tokens"] == int(informative.sum())
    assert not (first & ~informative).any() and not (informative & ~every).any()


def test_concept_mask_objective_is_the_previous_loss(original, bundle, split, task_for):
    """concept_objective=mask trains exactly what lm_concept trained before the option existed."""
    import copy

    from expunge.lm.attribution import find_concepts, shared_words
    from expunge.lm.models import answer_nll
    from expunge.lm.unlearn import ConceptUnlearning, replace_words

    default = ConceptUnlearning()  # npo on the first concept token + KL retain since 2026-12-01 (sweep 17)
    assert (default.concept_objective, default.concept_tokens, default.retain_objective) == ("npo", "first", "kl")
    # mask + retain_weight 10 + the NLL retain term = the default before the npo objective
    unl = ConceptUnlearning(epochs=2, adapter="full", lr=1e-3, concept_objective="mask", retain_weight=10.0, retain_objective="nll")
    new = unl.unlearn(copy.deepcopy(original), task_for(1))
    # the pre-option body of ConceptUnlearning.unlearn, spelled out
    task = task_for(1)
    forget = bundle.train.inputs[split.forget]
    authors = bundle.train.targets[split.forget].tolist()
    everyone = np.concatenate([split.forget, split.retain])
    excluded = shared_words(bundle.codec, bundle.train.inputs[everyone], bundle.train.targets[everyone].tolist(), unl.max_author_share)
    concepts = find_concepts(original, forget, authors, excluded, unl.top_k, "ig", unl.ig_steps, unl.ig_batch_size, task.seed, unl.ig_baseline, True)
    masked = replace_words(bundle.codec, forget, authors, concepts.words, "mask", unl.mask_text, unl.substitute_text, None, task.seed)
    old = unl._run(copy.deepcopy(original), task, None, masked, lambda net, f, r: answer_nll(net, f) + unl._retain_term(net, r), unl.name)
    a, b = new.state_dict(), old.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_swap_replacement_takes_the_same_slot_from_another_author(bundle, split):
    from expunge.lm.tokenizer import normalize_word
    from expunge.lm.unlearn import replace_words, swap_donors

    codec = bundle.codec
    rows, authors = bundle.train.inputs[split.forget], bundle.train.targets[split.forget].tolist()
    pool, pool_authors = bundle.train.inputs[split.retain], bundle.train.targets[split.retain].tolist()
    donors = swap_donors(codec, rows, authors, pool, pool_authors, seed=0)
    assert all(d is not None for d in donors)
    concepts = {a: [normalize_word(bundle.corpus.authors[a].facts[k]) for k in ("birthplace", "genre", "father")] for a in set(authors)}
    out = replace_words(codec, rows, authors, concepts, "swap", donors=donors)
    records = [bundle.corpus.train[i] for i in split.forget]
    values = {k: {normalize_word(a.facts[k]) for a in bundle.corpus.authors} for k in ("birthplace", "genre", "father")}
    swapped = 0
    for row, new, q, a in zip(rows, out, records, authors):
        assert torch.equal(row[: int((row == codec.sep_id).nonzero()[0]) + 1], new[: int((new == codec.sep_id).nonzero()[0]) + 1])  # prompt kept
        old_words, new_words = codec.decode(codec.split_row(row)[1]).split(), codec.decode(codec.split_row(new)[1]).split()
        assert len(old_words) == len(new_words)
        for o, n in zip(old_words, new_words):
            if normalize_word(o) in concepts[a]:
                assert normalize_word(n) in values[q.attribute]  # a value of the same field (another author's)
                swapped += 1
            else:
                assert o == n
    assert swapped == 3 * 2  # one birthplace, genre and job answer per forget author


@pytest.mark.parametrize("name,hparams", [("lm_concept", {"epochs": 2}), ("lm_npo", {"epochs": 2})])
def test_runs_depend_on_the_task_seed_only_not_on_the_global_rng(name, hparams, original, task_for):
    """peft's LoRA init and LoRA dropout draw from torch's global RNG: a run seeds it from task.seed inside a fork,
    so two runs with the same seed are bit-identical whatever moved the global RNG in between, the global RNG
    comes back exactly as the caller left it, and another seed gives another LoRA init."""
    import copy

    from expunge.unlearn.base import UNLEARNERS

    def run(seed: int) -> dict[str, torch.Tensor]:
        before = torch.random.get_rng_state()
        out = UNLEARNERS.get(name)(**hparams).unlearn(copy.deepcopy(original), task_for(seed))
        assert torch.equal(torch.random.get_rng_state(), before)  # the caller's global RNG is untouched
        return {k: v.detach().clone() for k, v in out.state_dict().items()}

    torch.manual_seed(123)
    a = run(0)
    torch.randn(1000)  # move the global RNG
    torch.manual_seed(456)
    b = run(0)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = run(1)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_swap_positions_pair_each_concept_word_with_the_word_that_replaced_it(bundle, split):
    from expunge.lm.tokenizer import normalize_word
    from expunge.lm.unlearn import replace_words, swap_donors, swap_positions

    codec = bundle.codec
    rows, authors = bundle.train.inputs[split.forget], bundle.train.targets[split.forget].tolist()
    pool, pool_authors = bundle.train.inputs[split.retain], bundle.train.targets[split.retain].tolist()
    facts = {a: bundle.corpus.authors[a].facts for a in set(authors)}
    concepts = {a: [normalize_word(facts[a]["birthplace"]), facts[a]["genre"]] for a in facts}
    donors = swap_donors(codec, rows, authors, pool, pool_authors, seed=0)
    swapped = replace_words(codec, rows, authors, concepts, "swap", donors=donors)
    true, alt = swap_positions(codec, rows, swapped, authors, concepts)
    assert true.shape == rows.shape and alt.shape == swapped.shape
    paired = 0
    for row, srow, a, t, s in zip(rows, swapped, authors, true, alt):
        got_true = normalize_word(codec.decode([int(row[i]) for i in range(len(row)) if t[i]]))
        got_alt = normalize_word(codec.decode([int(srow[i]) for i in range(len(srow)) if s[i]]))
        assert bool(t.any()) == bool(s.any())  # a word is marked in both rows or in neither
        if not t.any():
            continue
        paired += 1
        # the true tokens spell concept words of the author's answer; the alternative tokens the words now in their place
        words = [normalize_word(w) for w in codec.decode(codec.split_row(row)[1]).split()]
        swords = [normalize_word(w) for w in codec.decode(codec.split_row(srow)[1]).split()]
        slots = [j for j, w in enumerate(words) if w in concepts[a] and swords[j] != w and swords[j] != "***"]
        assert got_true == "".join(words[j] for j in slots)
        assert got_alt == "".join(swords[j] for j in slots) and got_alt != got_true
    assert paired >= len(rows) // 3  # the birthplace and genre answers of each forget author


def test_concept_parity_objective_is_inert_past_parity_and_stops_near_it(original, bundle, split, task_for):
    """With the hinge already satisfied everywhere (margin -1e6) parity trains exactly the mask objective. Trained
    for 30 passes, the true concept words lose likelihood under every objective, least under parity against the
    original's swapped words (a fixed stopping point, which they end near), more under live parity (whose stopping
    point recedes as the swapped words lose likelihood too), most under the npo term."""
    import copy

    from expunge.lm.models import token_logprobs
    from expunge.lm.unlearn import ConceptUnlearning, replace_words, swap_donors, swap_positions

    full = {"epochs": 2, "adapter": "full", "lr": 1e-3}
    a = ConceptUnlearning(concept_objective="mask", **full).unlearn(copy.deepcopy(original), task_for(0)).state_dict()
    b = ConceptUnlearning(concept_objective="parity", parity_margin=-1e6, **full).unlearn(copy.deepcopy(original), task_for(0)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    codec = bundle.codec
    rows, authors = bundle.train.inputs[split.forget], bundle.train.targets[split.forget].tolist()
    after = {}
    for key, hparams in {"npo": {"concept_tokens": "all"}, "live": {"concept_objective": "parity"}, "original": {"concept_objective": "parity", "parity_reference": "original"}}.items():
        task = task_for(0)
        out = ConceptUnlearning(epochs=30, retain_objective="nll", **hparams).unlearn(copy.deepcopy(original), task)
        words = {int(k): w for k, w in task.notes["concept_words"].items()}
        donors = swap_donors(codec, rows, authors, bundle.train.inputs[split.retain], bundle.train.targets[split.retain].tolist(), task.seed)
        swapped = replace_words(codec, rows, authors, words, "swap", donors=donors)
        true, alt = swap_positions(codec, rows, swapped, authors, words)
        has = true.any(1) & alt.any(1)
        assert int(has.sum()) > 0
        with torch.no_grad():
            after[key] = float((token_logprobs(out, rows)[0] * true[:, 1:]).sum(1)[has].mean())
            before = float((token_logprobs(original, rows)[0] * true[:, 1:]).sum(1)[has].mean())
            alt_before = float((token_logprobs(original, swapped)[0] * alt[:, 1:]).sum(1)[has].mean())
    # summed log-likelihood of a row's true concept words (seed 0: before -0.06; swapped words -6.3 under the
    # original; after: original-reference parity -8.4, live parity -15.5, npo -22.2)
    assert before > -1.0 and alt_before < before - 3.0
    assert after["original"] < before - 3.0
    assert abs(after["original"] - alt_before) < 3.5, (after, alt_before)
    assert after["npo"] < after["live"] - 3.0 and after["live"] < after["original"] - 3.0, after


def test_retain_kl_is_zero_at_the_reference_and_positive_away_from_it(original, bundle, split, task_for):
    import copy

    from expunge.lm.unlearn import ConceptUnlearning, retain_kl

    rows = bundle.train.inputs[split.retain][:16]
    assert float(retain_kl(original, original, rows)) == pytest.approx(0.0, abs=1e-6)
    moved = copy.deepcopy(original)
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.02 * torch.randn_like(p))
    assert float(retain_kl(moved, original, rows)) > 1e-3
    task = task_for(0)
    out = ConceptUnlearning(epochs=2, retain_objective="kl").unlearn(copy.deepcopy(original), task)
    assert float(retain_kl(out, original, rows)) >= 0.0 and task.notes["steps"] > 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("concept_objective", "ascent"), ("retain_objective", "l2"), ("parity_reference", "oracle"), ("concept_tokens", "last")],
)
def test_unknown_objective_choices_name_the_option_and_its_choices(original, task_for, option, value):
    import copy

    from expunge.errors import ConfigError
    from expunge.lm.unlearn import ConceptUnlearning

    settings = {"epochs": 1, option: value}
    if option == "parity_reference":
        settings["concept_objective"] = "parity"
    with pytest.raises(ConfigError, match=rf"{option} '{value}' unknown; choose one of \["):
        ConceptUnlearning(**settings).unlearn(copy.deepcopy(original), task_for(0))


def test_lm_retrain_trains_a_fresh_model_within_its_budget(original, bundle, split, task_for):
    from expunge.cost import CostMeter
    from expunge.lm.unlearn import LMRetrain

    task = task_for(0)
    with CostMeter(torch.device("cpu")) as meter:
        out = LMRetrain(passes_per_forget_example=10.0).unlearn(original, task)
    epochs = max(1, round(10.0 * len(split.forget) / len(split.retain)))
    assert task.notes["epochs"] == epochs
    assert meter.cost.passes == epochs * len(split.retain)  # every retain example once per epoch, nothing else
    assert out is not original
    assert not any(torch.equal(a, b) for a, b in zip(out.parameters(), original.parameters()) if a.dim() > 1)
