"""Concept words of an author: integrated gradients over input embeddings, aggregated to words.

Following the LLM revision of arXiv 2405.15662 (specs/zero-shot-concept-gan.md, part B 3'):
the target is F(x) = Σ log p(answer tokens | preceding tokens) under teacher forcing; IG runs
over the token embeddings (captum ``LayerIntegratedGradients`` on the input embedding layer)
from a baseline in which the *answer* tokens are replaced by PAD and the prompt is kept;
default 32 steps (Gauss-Legendre). Completeness: Σ attributions = F(x) − F(baseline) up to
the integration error, which is reported (absolute and relative to |F(x) − F(baseline)|).

Token attributions are summed into whitespace words, and word scores are summed over an
author's answers. The top-k words, after dropping stopwords and words that occur in the
answers of more than ``max_author_share`` of all authors (template words such as "born" or
"novels" that belong to no one), are the author's *concept words*. With
``exclude_prompt_words`` a word that occurs in the question of any of the author's forget QA
pairs (the author's name, "award", ...) is never a concept word either: a word the question
already gives away is not knowledge that the answer holds.

Two control locators: ``random`` (k random eligible words of the author's answers) and
``capitalized`` (capitalised words that are not the answer's first word, by frequency: a
named-entity heuristic; it misses lower-case facts such as genres and jobs by design).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import cost
from ..errors import ConfigError
from ..utils import eval_mode, stable_hash
from .models import answer_mask, codec_of, special_ids
from .tokenizer import TextCodec, normalize_word

STOPWORDS = frozenset("a an the and or of in on at to for from by with was were is are be been his her their its this that which who what when where as it he she they i did does do not no".split())
LOCATORS = ("ig", "random", "capitalized")


@dataclass
class IGResult:
    token_attributions: list[torch.Tensor]  # per example, one score per token of the row
    delta: torch.Tensor  # Σ attr − (F(x) − F(b)) per example
    f_input: torch.Tensor
    f_baseline: torch.Tensor

    @property
    def relative_error(self) -> torch.Tensor:
        return self.delta.abs() / (self.f_input - self.f_baseline).abs().clamp_min(1e-8)

    def summary(self) -> dict[str, float]:
        return {
            "ig_abs_error_mean": float(self.delta.abs().mean()),
            "ig_rel_error_mean": float(self.relative_error.mean()),
            "ig_rel_error_max": float(self.relative_error.max()),
        }


def answer_log_likelihood(model: nn.Module, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Σ log p(targets' answer tokens) when the model reads ``ids`` (attention over the targets' non-PAD)."""
    sep, pad = special_ids(model)
    attn = (targets != pad).long()
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, targets[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (logp * answer_mask(targets, sep, pad)[:, 1:]).sum(1)


def pad_baseline(rows: torch.Tensor, sep_id: int, pad_id: int) -> torch.Tensor:
    """The rows with every answer token (EOS included) set to PAD; the prompt and SEP kept."""
    return torch.where(answer_mask(rows, sep_id, pad_id), torch.full_like(rows, pad_id), rows)


def integrated_gradients(model: nn.Module, rows: torch.Tensor, n_steps: int = 32, batch_size: int = 8, method: str = "gausslegendre", baseline: str = "pad") -> IGResult:
    """IG of the answer log-likelihood w.r.t. the input embeddings, per token (summed over the embedding dim)."""
    from captum.attr import LayerIntegratedGradients

    if n_steps < 2:
        raise ConfigError(f"ig_steps must be >= 2, got {n_steps}.")
    sep, pad = special_ids(model)
    device = next(model.parameters()).device
    emb = model.get_input_embeddings()
    attrs, deltas, fx, fb = [], [], [], []
    with eval_mode(model):
        lig = LayerIntegratedGradients(lambda ids, targets: answer_log_likelihood(model, ids, targets), emb)
        for start in range(0, len(rows), batch_size):
            x = rows[start : start + batch_size].to(device)
            if baseline == "pad":
                b = pad_baseline(x, sep, pad)
                kwargs: dict[str, Any] = {"baselines": b}
            elif baseline == "zero":
                b = None
                kwargs = {}
            else:
                raise ConfigError(f"ig baseline {baseline!r} unknown; choose 'pad' (answer tokens -> PAD) or 'zero' (zero embeddings).")
            a, d = lig.attribute(x, additional_forward_args=(x,), n_steps=n_steps, method=method, return_convergence_delta=True, **kwargs)
            cost.count(len(x) * n_steps, backward=True)
            with torch.no_grad():
                f1 = answer_log_likelihood(model, x, x)
                if b is not None:
                    f0 = answer_log_likelihood(model, b, x)
                else:
                    f0 = f1 - a.sum(dim=(1, 2)) + d  # F(b) = F(x) − (Σ attr − Δ)
            cost.count(2 * len(x), backward=False)
            attrs += list(a.sum(-1).detach().cpu())
            deltas.append(d.detach().cpu())
            fx.append(f1.cpu())
            fb.append(f0.cpu())
    model.zero_grad(set_to_none=True)
    return IGResult(attrs, torch.cat(deltas), torch.cat(fx), torch.cat(fb))


def answer_words(codec: TextCodec, row: torch.Tensor) -> list[tuple[str, list[int]]]:
    """(normalized word, row positions of its tokens) for the answer of ``row`` (EOS excluded)."""
    ids = row.tolist()
    s = ids.index(codec.sep_id)
    positions = []
    for p in range(s + 1, len(ids)):
        if ids[p] in (codec.pad_id, codec.eos_id):
            break
        positions.append(p)
    if not positions:
        return []
    starts = codec.word_starts([ids[p] for p in positions])
    groups: list[list[int]] = []
    for p, st in zip(positions, starts):
        if st or not groups:
            groups.append([p])
        else:
            groups[-1].append(p)
    return [(normalize_word(codec.decode([ids[p] for p in g])), g) for g in groups]


def raw_answer_words(codec: TextCodec, row: torch.Tensor) -> list[str]:
    _, answer = codec.split_row(row)
    return codec.decode(answer).split()


def prompt_words(codec: TextCodec, row: torch.Tensor) -> set[str]:
    """The normalized whitespace words of the prompt (question) of ``row``, SEP excluded."""
    prompt, _ = codec.split_row(row)
    ids = [t for t in prompt if t not in (codec.sep_id, codec.pad_id)]
    return {w for w in (normalize_word(x) for x in codec.decode(ids).split()) if w}


def prompt_words_by_author(codec: TextCodec, rows: torch.Tensor, authors: Sequence[int]) -> defaultdict[int, set[str]]:
    """Per author, the words of the questions of its rows (``exclude_prompt_words``: never a concept word)."""
    out: defaultdict[int, set[str]] = defaultdict(set)
    for row, a in zip(rows, authors):
        out[int(a)] |= prompt_words(codec, row)
    return out


def shared_words(codec: TextCodec, rows: torch.Tensor, authors: Sequence[int], max_author_share: float) -> set[str]:
    """Words used in the answers of more than ``max_author_share`` of the authors (template words)."""
    by_word: dict[str, set[int]] = defaultdict(set)
    for row, a in zip(rows, authors):
        for w, _ in answer_words(codec, row):
            by_word[w].add(int(a))
    n = len(set(int(a) for a in authors))
    return {w for w, s in by_word.items() if len(s) > max_author_share * n}


@dataclass
class ConceptWords:
    """Per author: the chosen concept words, with the scores that ranked them."""

    words: dict[int, list[str]]
    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    ig: dict[str, float] = field(default_factory=dict)

    def all_words(self) -> set[str]:
        return {w for ws in self.words.values() for w in ws}


def find_concepts(
    model: nn.Module,
    forget_rows: torch.Tensor,
    forget_authors: Sequence[int],
    excluded: set[str],
    k: int = 5,
    locator: str = "ig",
    n_steps: int = 32,
    ig_batch_size: int = 8,
    seed: int = 0,
    baseline: str = "pad",
    exclude_prompt_words: bool = False,
) -> ConceptWords:
    """The top-k concept words of each forget author under ``locator`` (ig | random | capitalized).

    With ``exclude_prompt_words`` the words of the author's forget questions are never chosen.
    """
    if locator not in LOCATORS:
        raise ConfigError(f"concept locator {locator!r} unknown; choose one of {list(LOCATORS)}.")
    codec = codec_of(model)
    excluded = set(excluded) | STOPWORDS
    authors = [int(a) for a in forget_authors]
    scores: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ig_info: dict[str, float] = {}
    if locator == "ig":
        result = integrated_gradients(model, forget_rows, n_steps, ig_batch_size, baseline=baseline)
        ig_info = result.summary()
        for row, a, attr in zip(forget_rows, authors, result.token_attributions):
            for w, pos in answer_words(codec, row):
                scores[a][w] += float(attr[pos].sum())
    elif locator == "capitalized":
        for row, a in zip(forget_rows, authors):
            for i, raw in enumerate(raw_answer_words(codec, row)):
                w = normalize_word(raw)
                if i > 0 and raw[:1].isupper():
                    scores[a][w] += 1.0
    else:
        rng = np.random.default_rng(seed)
        for row, a in zip(forget_rows, authors):
            for w, _ in answer_words(codec, row):
                scores[a][w] = 0.0
        for a in scores:
            for w in scores[a]:
                scores[a][w] = float(rng.random())
    in_prompts = prompt_words_by_author(codec, forget_rows, authors) if exclude_prompt_words else defaultdict(set)
    words: dict[int, list[str]] = {}
    for a in sorted(set(authors)):
        ranked = [(w, s) for w, s in sorted(scores[a].items(), key=lambda kv: (-kv[1], kv[0])) if w and w not in excluded and w not in in_prompts[a]]
        words[a] = [w for w, _ in ranked[:k]]
    return ConceptWords(words, {a: dict(c) for a, c in scores.items()}, ig_info)


LOCATION_FIELDS = ("model", "codec", "device", "forget_rows", "forget_authors", "excluded", "k", "locator", "n_steps", "ig_batch_size", "seed", "baseline", "exclude_prompt_words")


def codec_fingerprint(codec: TextCodec) -> str:
    """What of the tokenizer the location depends on (vocabulary, special ids, row length): part of the analysis key."""
    t = codec.tokenizer
    vocab = sorted(t.get_vocab().items()) if hasattr(t, "get_vocab") else None
    return stable_hash({"class": type(t).__qualname__, "vocab": vocab, "specials": [codec.pad_id, codec.sep_id, codec.eos_id], "max_length": codec.max_length}, length=32)


def encode_words(found: ConceptWords) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """ConceptWords as JSON (author keys as strings); no tensors."""
    payload = {
        "words": {str(a): list(w) for a, w in found.words.items()},
        "scores": {str(a): {w: float(v) for w, v in s.items()} for a, s in found.scores.items()},
        "ig": {k: float(v) for k, v in found.ig.items()},
    }
    return payload, {}


def decode_words(payload: dict[str, Any], tensors: dict[str, torch.Tensor]) -> ConceptWords:
    return ConceptWords({int(a): list(w) for a, w in payload["words"].items()}, {int(a): dict(s) for a, s in payload["scores"].items()}, dict(payload["ig"]))


def _locate(model: nn.Module, codec: str, device: str, **arguments: Any) -> ConceptWords:
    """``find_concepts``; ``codec`` and ``device`` are only in the key (the model carries both)."""
    return find_concepts(model, **arguments)


def location_arguments(
    model: nn.Module,
    forget_rows: torch.Tensor,
    forget_authors: Sequence[int],
    excluded: set[str],
    k: int,
    locator: str,
    n_steps: int,
    ig_batch_size: int,
    seed: int,
    baseline: str,
    exclude_prompt_words: bool,
) -> dict[str, Any]:
    """The ``lm_concept_words`` analysis's arguments. The seed only draws the ``random`` locator's words, so other locators share one entry across seeds."""
    device = next(model.parameters()).device
    return dict(
        model=model,
        codec=codec_fingerprint(codec_of(model)),
        device=device.type,
        forget_rows=forget_rows,
        forget_authors=[int(a) for a in forget_authors],
        excluded=sorted(excluded),
        k=k,
        locator=locator,
        n_steps=n_steps,
        ig_batch_size=ig_batch_size,
        seed=seed if locator == "random" else 0,
        baseline=baseline,
        exclude_prompt_words=exclude_prompt_words,
    )


def location_kind() -> Any:
    """The ``lm_concept_words`` analysis kind (``experiments.analysis``), registered on first use."""
    from ..experiments.analysis import AnalysisKind, register_analysis

    kind = AnalysisKind(_locate, LOCATION_FIELDS, encode_words, decode_words, version=1)
    return register_analysis("lm_concept_words", "concept words per forget author (IG / random / capitalized) on the original LM (lm_concept)", kind)
