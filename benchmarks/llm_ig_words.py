"""Diagnosis: what does lm_concept's IG word score measure on the fictitious-authors corpus?

The paper's locator (arXiv 2405.15662, LLM variant) scores a word by the integrated gradients of the answer's
log-likelihood with respect to the word's input embeddings, summed over its tokens. Under teacher forcing a token
*as input* only conditions the predictions after it, so the score measures how much the word helps predict what
follows, not how well the model knows the word. This script measures, on the cached original of the ``lm-authors``
study (``expunge study run lm-authors scale=published`` trains and caches it; so does this script, through the same stage), for every eligible word of the forget answers (the words ``lm_concept``
may choose: not a stopword, not a template word, not a question word):

- the rank correlation (Spearman) between the IG word score and the word's number of tokens;
- the mean score per token count, and the score per token;
- how many of an author's forget questions the top-5 IG words cover (a question is covered when one of its answer
  words is chosen; a question left uncovered keeps its fact), against 5 random eligible words (mean of 200 draws).

    python benchmarks/llm_ig_words.py                      # corpus seeds 0 (benchmark) and 1 (development)
    python benchmarks/llm_ig_words.py --corpus-seeds 1 --fractions 0.1

Writes ``benchmarks/results/llm_ig_words.json``. Seconds on one core once the models are cached.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

from expunge.experiments.context import context_for  # noqa: E402
from expunge.experiments.study_plan import load_study, plan_cells  # noqa: E402
from expunge.lm.attribution import STOPWORDS, answer_words, integrated_gradients, prompt_words_by_author, shared_words  # noqa: E402
from expunge.utils import atomic_write_json, environment_info  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def word_table(codec: Any, rows: torch.Tensor, authors: list[int], attributions: list[torch.Tensor], excluded: set[str]) -> list[dict[str, Any]]:
    """One entry per eligible answer word of each row: author, row, word, its token count and its IG score."""
    asked = prompt_words_by_author(codec, rows, authors)
    out = []
    for i, (row, a, attr) in enumerate(zip(rows, authors, attributions)):
        for w, pos in answer_words(codec, row):
            if w and w not in excluded and w not in asked[a]:
                out.append({"author": a, "row": i, "word": w, "tokens": len(pos), "score": float(attr[pos].sum())})
    return out


def coverage(words: list[dict[str, Any]], k: int = 5, draws: int = 200, seed: int = 0) -> dict[str, float]:
    """Forget questions per author covered by the top-k words by summed IG score, and by k random eligible words."""
    rng = np.random.default_rng(seed)
    by_author: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for e in words:
        slot = by_author[e["author"]].setdefault(e["word"], {"score": 0.0, "rows": set()})
        slot["score"] += e["score"]
        slot["rows"].add(e["row"])
    ig, rand, eligible = [], [], []
    for ws in by_author.values():
        names = sorted(ws)
        top = sorted(names, key=lambda w: (-ws[w]["score"], w))[:k]
        ig.append(len(set().union(*(ws[w]["rows"] for w in top))))
        rand.append(np.mean([len(set().union(*(ws[w]["rows"] for w in rng.choice(names, min(k, len(names)), replace=False)))) for _ in range(draws)]))
        eligible.append(len(set().union(*(ws[w]["rows"] for w in names))))
    return {"k": k, "ig_top_k": float(np.mean(ig)), "random_k": float(np.mean(rand)), "all_eligible": float(np.mean(eligible)), "authors": len(by_author)}


def diagnose(words: list[dict[str, Any]]) -> dict[str, Any]:
    from scipy.stats import spearmanr

    tokens = np.array([e["tokens"] for e in words])
    scores = np.array([e["score"] for e in words])
    rho = spearmanr(scores, tokens)
    per_token = scores / tokens
    return {
        "eligible_words": len(words),
        "spearman_score_vs_tokens": float(rho.statistic),  # pyright: ignore[reportAttributeAccessIssue]
        "spearman_p": float(rho.pvalue),  # pyright: ignore[reportAttributeAccessIssue]
        "mean_score_by_tokens": {int(n): float(scores[tokens == n].mean()) for n in sorted(set(tokens.tolist()))},
        "words_by_tokens": {int(n): int((tokens == n).sum()) for n in sorted(set(tokens.tolist()))},
        "score_per_token_mean": float(per_token.mean()),
        "score_per_token_cv": float(per_token.std() / abs(per_token.mean())),
        "score_cv": float(scores.std() / abs(scores.mean())),
    }


def original_of(corpus_seed: int, authors: int, fraction: float, out: Path) -> Any:
    """The lm-authors study's cell for this fraction (same config, same cache key): its original, data and split."""
    spec = load_study("lm-authors")
    overrides = [f"dataset.options.seed={corpus_seed}", f"dataset.options.num_authors={authors}", f"split.fraction={fraction}", "quiet=true"]
    config = plan_cells(spec, "published", out, overrides)[0].config
    return context_for(config)  # trains (or loads from the shared cache) the original and the oracles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--authors", type=int, default=100)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--ig-steps", type=int, default=32)
    ap.add_argument("--out", default=str(RESULTS / "llm_ig_words.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = []
    for corpus_seed in args.corpus_seeds:
        for fraction in args.fractions:
            ctx = original_of(corpus_seed, args.authors, fraction, Path("runs/llm-ig-words"))
            bundle, split, model = ctx.data.bundle, ctx.data.split, ctx.original.model
            targets = bundle.train.targets.numpy()
            excluded = shared_words(bundle.codec, bundle.train.inputs, targets.tolist(), 0.25) | STOPWORDS
            rows, authors = bundle.train.inputs[split.forget], targets[split.forget].tolist()
            ig = integrated_gradients(model, rows, args.ig_steps, 8)
            words = word_table(bundle.codec, rows, authors, ig.token_attributions, excluded)
            entry = {
                "corpus_seed": corpus_seed,
                "fraction": fraction,
                "original_cache_hit": ctx.original.info.get("cache_hit"),
                **diagnose(words),
                "coverage": coverage(words, args.k),
                "ig": ig.summary(),
            }
            results.append(entry)
            cov = entry["coverage"]
            print(
                f"corpus {corpus_seed} forget {fraction:.0%}: {entry['eligible_words']} words, Spearman(score, tokens) {entry['spearman_score_vs_tokens']:.2f}, "
                f"score/token {entry['score_per_token_mean']:.2f} (cv {entry['score_per_token_cv']:.2f}); questions covered by {args.k} words: "
                f"IG {cov['ig_top_k']:.2f}, random {cov['random_k']:.2f}, all eligible {cov['all_eligible']:.2f}",
                flush=True,
            )
    out = {"benchmark": "llm_ig_words", "args": vars(args), "results": results, "seconds": time.perf_counter() - start, "environment": environment_info()}
    atomic_write_json(Path(args.out), out)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
