"""The ``lm`` metric set: TOFU / OpenUnlearning metrics, each measured against the retrained oracle.

Inputs: ``ctx.split`` (forget / retain indices into the corpus' train records), ``ctx.oracles``
(models retrained without the forget authors) and ``ctx.extras["lm_corpus"]`` (the
``AuthorsCorpus``; the family's ``extras`` provides it). Every metric reports the model's value
and the first oracle's beside it (``oracle_*``); with two or more oracles, oracle 1 against
oracle 0 gives the noise floor (``*_floor``).

- ``lm_forget_quality``: TOFU's forget quality, the KS-test p-value between the truth ratios
  of the model and of the oracle on the forget questions. Truth ratio, as TOFU and OpenUnlearning
  define it: R = (geometric mean over the perturbed answers of P(perturbed|q)^(1/|a|)) /
  P(paraphrased|q)^(1/|a|), i.e. exp(mean_k of the perturbed answers' mean token log-prob minus the
  paraphrased answer's). ``truth_ratio_mean: arithmetic`` (expunge's earlier definition, an
  arithmetic mean of the normalised probabilities) is an option; it moved single runs' forget
  quality by up to 0.4.
- ``lm_utility``: harmonic mean of answer probability P(a|q)^(1/|a|), ROUGE-L recall and
  max(0, 1 − R) on a retain sample and on the unrelated world facts (TOFU's model utility).
- ``lm_rouge``: ROUGE-L recall of greedy answers on forget, retain and paraphrased forget questions.
- ``lm_concept_occurrence``: share of forget questions whose greedy answer contains the fact
  value (the concept word), with a 95% Wilson interval; separately on the held-out paraphrased
  questions (``concept_occurrence_paraphrased``).
- ``lm_mia``: AUC of the loss attack and of Min-K% (mean of the lowest k% token log-probs)
  separating forget answers from held-out authors' answers (0.5 = no signal).
- ``lm_perplexity``: answer perplexity on retain, forget and world facts.
- ``lm_examples``: not a number but a bounded block (``lm_examples``) for the HTML report: per-question
  truth ratios on the forget and retain questions and the greedy answers to the first few of each.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..evaluate.registry import METRICS, EvalContext, register_set
from ..hparams import hp
from .corpus import QA, AuthorsCorpus
from .models import codec_of, greedy_generate, score_rows


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def rouge_l_recall(prediction: str, reference: str) -> float:
    """LCS over lower-cased words divided by the reference length (TOFU reports ROUGE-L recall)."""
    p, r = prediction.lower().split(), reference.lower().split()
    if not r:
        return 0.0
    prev = [0] * (len(p) + 1)
    for rw in r:
        cur = [0] * (len(p) + 1)
        for j, pw in enumerate(p):
            cur[j + 1] = prev[j] + 1 if rw == pw else max(prev[j + 1], cur[j])
        prev = cur
    return prev[-1] / len(r)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score(member) > score(non-member)) with ties counted half (the ROC AUC)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = _rankdata(allv)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _rankdata(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _log_geometric_mean(log_probs: np.ndarray) -> np.ndarray:
    return log_probs.mean(axis=1)


def _log_arithmetic_mean(log_probs: np.ndarray) -> np.ndarray:
    top = log_probs.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(log_probs - top).mean(axis=1, keepdims=True)))[:, 0]


# How the perturbed answers' normalised probabilities are averaged, in log space: name -> (questions x answers) -> per question.
TRUTH_RATIO_MEANS = {
    "geometric": _log_geometric_mean,  # TOFU / OpenUnlearning: exp of the mean of the answers' mean token log-probs
    "arithmetic": _log_arithmetic_mean,  # expunge's earlier definition: the mean of the normalised probabilities
}


def truth_ratio_mean(name: str):
    if name not in TRUTH_RATIO_MEANS:
        raise ConfigError(f"truth_ratio_mean {name!r} unknown; choose one of {sorted(TRUTH_RATIO_MEANS)} ('geometric' is TOFU's definition).")
    return TRUTH_RATIO_MEANS[name]


@dataclass
class LMEvalData:
    """The record groups every metric reads, drawn once per context."""

    forget: list[QA]
    retain: list[QA]
    facts: list[QA]
    holdout: list[QA]


def eval_data(ctx: EvalContext, max_retain: int = 60, max_holdout: int = 120) -> LMEvalData:
    def build() -> LMEvalData:
        corpus: AuthorsCorpus | None = ctx.extras.get("lm_corpus")
        if corpus is None or ctx.split is None:
            raise ConfigError("lm metrics need ctx.extras['lm_corpus'] (the lm family's extras) and the split.")
        rng = np.random.default_rng(ctx.seed)
        forget = [corpus.train[i] for i in ctx.split.forget]
        retain_all = [corpus.train[i] for i in ctx.split.retain]
        facts = [q for q in retain_all if q.author == corpus.facts_id]
        authors = [q for q in retain_all if q.author != corpus.facts_id]
        retain = [authors[i] for i in sorted(rng.choice(len(authors), min(max_retain, len(authors)), replace=False))] if authors else []
        hold = corpus.holdout
        holdout = [hold[i] for i in sorted(rng.choice(len(hold), min(max_holdout, len(hold)), replace=False))] if hold else []
        return LMEvalData(forget, retain, facts, holdout)

    return ctx.memoized("lm_eval_data", build)


class ModelReport:
    """Teacher-forced scores and greedy answers of one model on the evaluation groups (computed lazily, once)."""

    def __init__(self, model: nn.Module, data: LMEvalData) -> None:
        self.model, self.data = model, data
        self.codec = codec_of(model)
        self._cache: dict[str, Any] = {}

    def _scores(self, records: list[QA], which: str) -> dict[str, torch.Tensor]:
        key = f"scores:{id(records)}:{which}"
        if key not in self._cache:
            pairs: list[tuple[str, str]] = []
            for q in records:
                if which == "answer":
                    pairs.append((q.question, q.answer))
                elif which == "paraphrased":
                    pairs.append((q.question, q.paraphrased_answer))
                else:
                    pairs += [(q.question, p) for p in q.perturbed_answers]
            if not pairs:
                self._cache[key] = {"logprob": torch.zeros(0), "length": torch.zeros(0), "token_logprobs": torch.zeros(0, 0)}
            else:
                self._cache[key] = score_rows(self.model, self.codec.encode_pairs(pairs))
        return self._cache[key]

    def mean_logprob(self, records: list[QA], which: str = "answer") -> np.ndarray:
        """Mean token log-probability of each answer (log of P(a|q)^(1/|a|))."""
        s = self._scores(records, which)
        return (s["logprob"].double() / s["length"].clamp_min(1)).numpy()

    def norm_prob(self, records: list[QA], which: str = "answer") -> np.ndarray:
        return np.exp(self.mean_logprob(records, which))

    def truth_ratio(self, records: list[QA], mean: str = "geometric") -> np.ndarray:
        """Per question: (mean over perturbed answers of P^(1/|a|)) / P(paraphrased)^(1/|a|), the mean from ``TRUTH_RATIO_MEANS``."""
        if not records:
            return np.zeros(0)
        para = self.mean_logprob(records, "paraphrased")
        pert = self.mean_logprob(records, "perturbed").reshape(len(records), -1)
        return np.exp(truth_ratio_mean(mean)(pert) - para)

    def generations(self, records: list[QA], paraphrased: bool = False) -> list[str]:
        key = f"gen:{id(records)}:{paraphrased}"
        if key not in self._cache:
            prompts = [self.codec.prompt_ids(q.paraphrased_question if paraphrased else q.question) for q in records]
            self._cache[key] = [self.codec.decode(g) for g in greedy_generate(self.model, prompts)] if prompts else []
        return self._cache[key]

    def rouge(self, records: list[QA], paraphrased: bool = False) -> float:
        gens = self.generations(records, paraphrased)
        return float(np.mean([rouge_l_recall(g, q.answer) for g, q in zip(gens, records)])) if records else float("nan")

    def occurrences(self, records: list[QA], paraphrased: bool = False) -> list[bool]:
        return [q.key.lower() in g.lower() for g, q in zip(self.generations(records, paraphrased), records)]

    def utility_parts(self, records: list[QA], mean: str = "geometric") -> list[float]:
        if not records:
            return []
        return [float(self.norm_prob(records).mean()), self.rouge(records), float(np.maximum(0.0, 1.0 - self.truth_ratio(records, mean)).mean())]

    def token_logprobs(self, records: list[QA]) -> torch.Tensor:
        return self._scores(records, "answer")["token_logprobs"]


def report(ctx: EvalContext, model: nn.Module) -> ModelReport:
    """One ModelReport per (context, model object), shared by every lm metric."""
    reports = ctx.memo.setdefault("lm_reports", [])
    for ref, rep in reports:
        if ref() is model:
            return rep
    rep = ModelReport(model, eval_data(ctx))
    reports.append((weakref.ref(model), rep))
    return rep


def _harmonic(values: list[float]) -> float:
    values = [max(v, 1e-12) for v in values]
    return float(len(values) / sum(1.0 / v for v in values)) if values else float("nan")


def _ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(a, b).pvalue)  # pyright: ignore[reportAttributeAccessIssue]


def _oracle_reports(ctx: EvalContext) -> list[ModelReport]:
    return [report(ctx, o) for o in ctx.oracles]


@METRICS.register("lm_forget_quality", "TOFU forget quality: KS p-value of forget truth ratios vs the retrained oracle", families=("lm",))
@dataclass
class ForgetQuality:
    truth_ratio_mean: str = hp("geometric", choices=sorted(TRUTH_RATIO_MEANS), doc="mean over the perturbed answers: geometric (TOFU / OpenUnlearning) or arithmetic")
    needs: frozenset[str] = frozenset({"oracles", "lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        rep, oracles = report(ctx, model), _oracle_reports(ctx)
        f = rep.data.forget
        tr, tr0 = rep.truth_ratio(f, self.truth_ratio_mean), oracles[0].truth_ratio(f, self.truth_ratio_mean)
        out = {"forget_quality": _ks_pvalue(tr, tr0), "truth_ratio_forget": float(np.mean(tr)), "oracle_truth_ratio_forget": float(np.mean(tr0))}
        if len(oracles) > 1:
            out["forget_quality_floor"] = _ks_pvalue(oracles[1].truth_ratio(f, self.truth_ratio_mean), tr0)
        return out


@METRICS.register("lm_utility", "TOFU model utility: harmonic mean of prob, ROUGE-L, truth score on retain and world facts", families=("lm",))
@dataclass
class ModelUtility:
    truth_ratio_mean: str = hp("geometric", choices=sorted(TRUTH_RATIO_MEANS), doc="mean over the perturbed answers in the truth score: geometric (TOFU) or arithmetic")
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        out: dict[str, float] = {}
        for prefix, rep in [("", report(ctx, model))] + ([("oracle_", report(ctx, ctx.oracles[0]))] if ctx.oracles else []):
            r, f = rep.utility_parts(rep.data.retain, self.truth_ratio_mean), rep.utility_parts(rep.data.facts, self.truth_ratio_mean)
            out[f"{prefix}utility"] = _harmonic(r + f)
            out[f"{prefix}utility_retain"] = _harmonic(r)
            out[f"{prefix}utility_facts"] = _harmonic(f)
        return out


@METRICS.register("lm_rouge", "ROUGE-L recall of greedy answers on forget, paraphrased forget and retain questions", families=("lm",))
@dataclass
class Rouge:
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        rep = report(ctx, model)
        d = rep.data
        out = {"rouge_forget": rep.rouge(d.forget), "rouge_forget_paraphrased": rep.rouge(d.forget, True), "rouge_retain": rep.rouge(d.retain), "rouge_facts": rep.rouge(d.facts)}
        if ctx.oracles:
            o = report(ctx, ctx.oracles[0])
            out.update(oracle_rouge_forget=o.rouge(d.forget), oracle_rouge_retain=o.rouge(d.retain))
        return out


@METRICS.register("lm_concept_occurrence", "share of forget answers that still contain the fact (concept) word, Wilson 95% CI, vs the oracle", families=("lm",))
@dataclass
class ConceptOccurrence:
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        out: dict[str, float] = {}
        reps = [("", report(ctx, model))] + [(f"oracle{'' if i == 0 else i}_", r) for i, r in enumerate(_oracle_reports(ctx))]
        for prefix, rep in reps:
            for suffix, para in (("", False), ("_paraphrased", True)):
                hits = rep.occurrences(rep.data.forget, para)
                lo, hi = wilson_interval(sum(hits), len(hits))
                out.update({f"{prefix}concept_occurrence{suffix}": float(np.mean(hits)), f"{prefix}concept_occurrence{suffix}_low": lo, f"{prefix}concept_occurrence{suffix}_high": hi})
        if ctx.oracles:
            out["concept_occurrence_gap"] = out["concept_occurrence"] - out["oracle_concept_occurrence"]
        return out


@METRICS.register("lm_mia", "loss and Min-K% membership attacks: AUC forget answers vs held-out authors (oracle beside)", families=("lm",))
@dataclass
class MembershipAttacks:
    min_k: float = 0.2
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def _scores(self, rep: ModelReport, records: list[QA]) -> tuple[np.ndarray, np.ndarray]:
        tok = rep.token_logprobs(records).numpy()
        loss, mink = [], []
        for row in tok:
            v = row[~np.isnan(row)]
            loss.append(v.mean())
            k = max(1, int(math.ceil(self.min_k * len(v))))
            mink.append(np.sort(v)[:k].mean())
        return np.array(loss), np.array(mink)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        out: dict[str, float] = {}
        for prefix, rep in [("", report(ctx, model))] + ([("oracle_", report(ctx, ctx.oracles[0]))] if ctx.oracles else []):
            fl, fm = self._scores(rep, rep.data.forget)
            hl, hm = self._scores(rep, rep.data.holdout)
            out[f"{prefix}mia_loss_auc"] = auc(fl, hl)
            out[f"{prefix}mia_mink_auc"] = auc(fm, hm)
        return out


@METRICS.register("lm_perplexity", "answer perplexity on retain, forget and world-fact questions", families=("lm",))
@dataclass
class Perplexity:
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        rep = report(ctx, model)
        out = {}
        for part in ("retain", "forget", "facts"):
            recs = getattr(rep.data, part)
            if recs:
                s = rep._scores(recs, "answer")
                out[f"ppl_{part}"] = float(torch.exp(-s["logprob"].sum() / s["length"].sum()))
        return out


def _compact(values: np.ndarray, limit: int) -> list[float | None]:
    """At most ``limit`` values, 4 significant digits (NaN as null): a distribution for a plot, not a measurement to re-derive."""
    return [float(f"{v:.4g}") if math.isfinite(v) else None for v in np.asarray(values, float)[:limit].tolist()]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@METRICS.register(
    "lm_examples",
    "per-question truth ratios (forget, retain) and greedy answers to the first forget and retain questions, stored for the HTML report",
    families=("lm",),
)
@dataclass
class Examples:
    """One bounded ``lm_examples`` block per model: what the HTML report's language-model panel shows beside the numbers.

    The original's and every oracle's block come from the same metric (run.json's ``original`` /
    ``oracles`` metrics, the ``retrain`` rows), so answers and distributions can be set side by side.
    Reuses the truth ratios and greedy answers the other lm metrics computed (``ModelReport`` caches
    them), so it costs nothing extra when run with the ``lm`` set. Size: at most ``max_ratios`` truth
    ratios per part and 2 x ``samples`` answers of at most ``max_chars`` characters (at most about 12 KB
    of JSON at the defaults; 2.4-3.6 KB on the lm-authors smoke scale).
    """

    samples: int = hp(5, low=0, doc="forget and retain questions whose answers are stored (the first ones, in the evaluation's stable order)")
    max_ratios: int = hp(200, low=0, doc="per-question truth ratios stored per part (the first ones)")
    max_chars: int = hp(240, low=16, doc="longest stored question / answer text, in characters")
    truth_ratio_mean: str = hp("geometric", choices=sorted(TRUTH_RATIO_MEANS), doc="mean over the perturbed answers, as in lm_forget_quality")
    needs: frozenset[str] = frozenset({"lm_corpus"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, Any]:
        rep = report(ctx, model)
        d = rep.data
        block: dict[str, Any] = {"truth_ratio_mean": self.truth_ratio_mean, "truth_ratio": {}, "truth_ratio_n": {}, "answers": []}
        for part, records in (("forget", d.forget), ("retain", d.retain)):
            if not records:
                continue
            block["truth_ratio"][part] = _compact(rep.truth_ratio(records, self.truth_ratio_mean), self.max_ratios)
            block["truth_ratio_n"][part] = len(records)
            chosen = records[: self.samples]
            answers = rep.generations(records)[: self.samples]  # the whole group's greedy answers, cached for lm_rouge
            for i, (q, generated) in enumerate(zip(chosen, answers)):
                block["answers"].append(
                    {"part": part, "index": i, "question": _clip(q.question, self.max_chars), "reference": _clip(q.answer, self.max_chars), "answer": _clip(generated, self.max_chars), "key": q.key}
                )
        return {"lm_examples": block}


register_set("lm", ["lm_forget_quality", "lm_utility", "lm_rouge", "lm_concept_occurrence", "lm_mia", "lm_perplexity", "lm_examples"])
