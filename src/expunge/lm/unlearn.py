"""Language-model unlearners: concept masking + LoRA (the seed method) and the TOFU baselines.

Every method runs the same paired loop: one step = one batch of forget examples (cycling over
the forget set, reshuffled each pass) and one random batch of retain examples; ``epochs`` is
the number of passes over the forget set. The optimiser is AdamW (see ``models.adamw_loop``),
every step is reported to the cost meter, and a mask from any localizer restricts the update
through ``MaskedUpdate`` (full fine-tuning only: a mask selects base weights, which LoRA
freezes, so ``adapter="lora"`` with a mask is an error). ``task.notes`` receives the step
count, seconds per step, peak memory and, for ``lm_concept``, the concept words and IG error.
A run depends on ``task.seed`` only: torch's global RNG (peft's LoRA init, LoRA and model dropout)
is seeded from it inside ``torch.random.fork_rng``, so the caller's RNG state is left unchanged.

- ``lm_concept`` (arXiv 2405.15662, LLM variant): IG concept words per forget author, replaced
  in the forget answers by a mask string, a targeted substitute or random tokens; then LoRA
  (or full) fine-tuning on masked-forget + retain. ``concept_objective: npo`` adds an NPO term
  on the located concept tokens of the true forget answers (their summed log-probability
  against the original's), so the true facts also become less likely, not only hidden.
- ``lm_grad_ascent``: minimise −NLL(forget).
- ``lm_grad_diff``: −NLL(forget) + λ·NLL(retain).
- ``lm_npo``: NPO (Zhang et al. 2024), −(2/β)·log σ(−β·(log π_θ − log π_ref)) on forget
  sequences + λ·NLL(retain) (OpenUnlearning's NPO with its retain term).
- ``lm_idk``: fine-tune on forget questions answered "I don't know"-style + retain (TOFU's IDK).

The LoRA adapter (peft) wraps the model in place (as ``get_peft_model`` does) and trains with the
base weights frozen. By default (``merge=True``) the adapter is then folded in, so the returned
model has the original's architecture and parameter names (the runner's parameter-change
records need them); ``merge=False`` returns the ``PeftModel`` with bit-identical base weights.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError
from ..hparams import hp
from ..masked_update import MaskedUpdate
from ..masks import Mask
from ..unlearn.base import UNLEARNERS, UnlearningTask
from ..utils import eval_mode
from .attribution import LOCATORS, answer_words, location_arguments, location_kind, shared_words
from .models import adamw_loop, answer_logprob, answer_mask, answer_nll, codec_of, peak_memory_mb, special_ids, token_logprobs, train_lm
from .tokenizer import TextCodec, normalize_word

IDK_ANSWERS = [
    "I don't know.",
    "I have no information about that.",
    "I am not sure about that.",
    "That is not something I know.",
    "I cannot answer that.",
]


def npo_loss(delta: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al. 2024): −(2/β)·mean log σ(−β·δ), δ = log π_θ − log π_ref of each forget sequence."""
    return -(2.0 / beta) * F.logsigmoid(-beta * delta).mean()


_WORD = re.compile(r"^(\W*)(.*?)(\W*)$")


def _split_punct(raw: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of a whitespace word."""
    m = _WORD.match(raw)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", raw, "")


def forget_author_ids(task: UnlearningTask) -> list[int]:
    if task.forget_classes:
        return sorted(int(c) for c in task.forget_classes)
    return sorted(set(task.train_set.targets[torch.as_tensor(task.split.forget)].tolist()))


@dataclass
class LMSettings:
    """Optimisation and adapter settings shared by the LM unlearners."""

    epochs: int = hp(10, low=1, doc="passes over the forget set; each step pairs a forget and a retain batch")
    lr: float = hp(1e-3, low=0.0, low_open=True, doc="AdamW learning rate")
    batch_size: int = hp(8, low=1, doc="forget (and retain) examples per step")
    weight_decay: float = hp(0.0, low=0.0, doc="decoupled weight decay (added before masking when a mask is given)")
    schedule: str = hp("cosine", choices=["cosine", "constant"], doc="learning-rate schedule")
    warmup: float = hp(0.03, low=0.0, high=1.0, doc="fraction of steps with linear warmup")
    retain_weight: float = hp(1.0, low=0.0, doc="weight of the retain NLL term (0 disables it)")
    adapter: str = hp("full", choices=["full", "lora"], doc="fine-tune all weights or a LoRA adapter (peft)")
    lora_r: int = hp(8, low=1, doc="LoRA rank")
    lora_alpha: float = hp(16.0, low=0.0, low_open=True, doc="LoRA scaling alpha")
    lora_dropout: float = hp(0.05, low=0.0, high=1.0, high_open=True, doc="LoRA dropout")
    target_modules: list[str] = hp(default_factory=lambda: ["c_attn", "c_proj", "c_fc"], doc="module names LoRA adapts (GPT-2: c_attn, c_proj, c_fc; the paper: q_proj, v_proj)")
    merge: bool = hp(
        True,
        doc="fold the trained LoRA adapter into the weights and return a plain model with the original's parameter names (what the shared pipeline compares); false returns the PeftModel, base weights bit-identical",
    )

    # ---- the shared loop -----------------------------------------------------------------
    def _prepare(self, model: nn.Module, mask: Mask | None) -> tuple[nn.Module, list[nn.Parameter], Callable[[], None] | None]:
        if self.adapter == "lora":
            if mask is not None:
                raise ConfigError("a localizer mask restricts base weights, which LoRA freezes; use adapter: full with a mask.")
            from peft import LoraConfig, get_peft_model
            from transformers.pytorch_utils import Conv1D

            names = {n.split(".")[-1]: m for n, m in model.named_modules()}
            missing = [t for t in self.target_modules if t not in names]
            if missing:
                raise ConfigError(f"target_modules {missing} are not modules of this model; e.g. {sorted(names)[:12]}.")
            conv = any(isinstance(names[t], Conv1D) for t in self.target_modules)
            cfg = LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout, target_modules=list(self.target_modules), fan_in_fan_out=conv)
            peft_model = get_peft_model(model, cfg)
            return peft_model, [p for p in peft_model.parameters() if p.requires_grad], None
        update = MaskedUpdate(model, mask, self.weight_decay)
        if not update.parameters():
            raise ConfigError("the mask selects no parameter of the model; raise alpha.")
        return model, update.parameters(), update.apply if mask is not None else None

    def _run(
        self,
        model: nn.Module,
        task: UnlearningTask,
        mask: Mask | None,
        forget_rows: torch.Tensor,
        loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor | None], torch.Tensor],
        desc: str,
        use_retain: bool = True,
    ) -> nn.Module:
        if len(forget_rows) == 0:
            raise DataError("the forget set is empty; nothing to unlearn.")
        device = task.device
        model.to(device)
        # Everything random inside the run (peft's LoRA init, LoRA and model dropout) draws from torch's global
        # RNG. Seed it from the task's seed inside a fork, so that a run depends on its seed only (not on what
        # ran before it) and the caller's global RNG is left as it was.
        with _seeded_rng(task.stream(12), device):
            net, params, apply = self._prepare(model, mask)
            net.train()
            retain_inputs = task.train_set.inputs[torch.as_tensor(task.split.retain)]
            gen = torch.Generator().manual_seed(task.stream(11))
            per_pass = -(-len(forget_rows) // self.batch_size)
            total = self.epochs * per_pass
            with_retain = use_retain and self.retain_weight > 0 and len(retain_inputs) > 0

            def closures() -> Iterator[Callable[[], tuple[torch.Tensor, int]]]:
                for _ in range(self.epochs):
                    order = torch.randperm(len(forget_rows), generator=gen)
                    for s in range(0, len(order), self.batch_size):
                        f = forget_rows[order[s : s + self.batch_size]].to(device)
                        r = retain_inputs[torch.randint(len(retain_inputs), (self.batch_size,), generator=gen)].to(device) if with_retain else None
                        yield lambda f=f, r=r: (loss_fn(net, f, r), len(f) + (len(r) if r is not None else 0))

            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            info = adamw_loop(params, closures(), total, self.lr, self.weight_decay, self.schedule, self.warmup, apply=apply, desc=desc)
            net.eval()
            if self.adapter == "lora" and self.merge:
                net = net.merge_and_unload()
            task.notes.update(
                steps=info["steps"],
                unlearn_seconds=info["seconds"],
                seconds_per_step=info["seconds_per_step"],
                peak_memory_mb=peak_memory_mb(device),
                final_loss=float(np.mean(info["losses"][-per_pass:])) if info["losses"] else float("nan"),
                trainable_parameters=int(sum(p.numel() for p in params)),
            )
            return net

    def _retain_term(self, net: nn.Module, r: torch.Tensor | None) -> torch.Tensor | float:
        return self.retain_weight * answer_nll(net, r) if r is not None else 0.0


@contextmanager
def _seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG inside a fork: the caller's RNG state (CPU and, on CUDA, every device's) is restored after."""
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" and torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _frozen_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of the original before any update, in eval mode and without gradients: the reference of NPO and KL terms."""
    reference = copy.deepcopy(model).to(device).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def _summed_logprobs(model: nn.Module, rows: torch.Tensor, targets: torch.Tensor, device: torch.device, chunk: int = 64) -> torch.Tensor:
    """Per row, the log-probability summed over the tokens ``targets`` marks (aligned with ``token_logprobs``), read once
    under ``model`` in eval mode: the frozen reference values of the concept-token terms."""
    with torch.no_grad(), eval_mode(model):
        return torch.cat([(token_logprobs(model, rows[s : s + chunk].to(device))[0].cpu() * targets[s : s + chunk]).sum(1) for s in range(0, len(rows), chunk)])


def _forget_rows(task: UnlearningTask) -> torch.Tensor:
    return task.train_set.inputs[torch.as_tensor(task.split.forget)]


def _rebuild(codec: TextCodec, row: torch.Tensor, answer: str) -> list[int]:
    prompt, _ = codec.split_row(row)
    return prompt + codec.encode(" " + answer) + [codec.eos_id]


def replace_words(
    codec: TextCodec,
    rows: torch.Tensor,
    authors: list[int],
    concepts: dict[int, list[str]],
    mode: str = "mask",
    mask_text: str = "***",
    substitute_text: str = "Someone",
    random_pool: list[int] | None = None,
    seed: int = 0,
    donors: list[list[str] | None] | None = None,
) -> torch.Tensor:
    """The rows with every concept word of the row's author in the answer replaced; prompts unchanged.

    ``mode="swap"`` takes the word at the same position of the row's donor answer (``swap_donors``:
    another author's answer to the same kind of question, so a city replaces a city, a year a year);
    a row without a donor falls back to ``mask_text``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i, (row, a) in enumerate(zip(rows, authors)):
        chosen = set(concepts.get(int(a), []))
        _, answer = codec.split_row(row)
        words = codec.decode(answer).split()
        new = []
        for j, raw in enumerate(words):
            pre, core, post = _split_punct(raw)
            if normalize_word(core) in chosen and core:
                if mode == "mask":
                    core = mask_text
                elif mode == "substitute":
                    core = substitute_text
                elif mode == "random":
                    pool = random_pool or list(range(codec.vocab_size))
                    n = max(1, len(codec.encode(" " + core)))
                    core = codec.decode([pool[i] for i in rng.integers(len(pool), size=n)]).strip() or mask_text
                elif mode == "swap":
                    donor = donors[i] if donors is not None else None
                    swapped = _split_punct(donor[j])[1] if donor is not None and j < len(donor) else ""
                    core = swapped or mask_text
                else:
                    raise ConfigError(f"replacement {mode!r} unknown; choose mask, substitute, random or swap.")
            new.append(pre + core + post)
        out.append(_rebuild(codec, row, " ".join(new)))
    return codec.pad_rows(out, rows.shape[1])


def _template(codec: TextCodec, row: torch.Tensor) -> tuple[tuple[str, ...], int]:
    """The kind of question a row asks: its question's words that its answer does not repeat (the name and
    shared words drop out: "Where was A B born?" -> ("where",)), and the answer's length in words."""
    prompt, answer = codec.split_row(row)
    ans = codec.decode(answer).split()
    in_answer = {normalize_word(w) for w in ans}
    q = [normalize_word(w) for w in codec.decode([t for t in prompt if t not in (codec.sep_id, codec.pad_id)]).split()]
    return tuple(w for w in q if w and w not in in_answer), len(ans)


def swap_donors(codec: TextCodec, rows: torch.Tensor, authors: list[int], pool_rows: torch.Tensor, pool_authors: list[int], seed: int = 0) -> list[list[str] | None]:
    """Per row, the answer words of a random other author's answer to the same kind of question (same
    ``_template``), from ``pool_rows`` (the retain set); None where there is none."""
    rng = np.random.default_rng(seed + 104729)
    by_template: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for k, row in enumerate(pool_rows):
        by_template.setdefault(_template(codec, row), []).append(k)
    out: list[list[str] | None] = []
    for row, a in zip(rows, authors):
        cands = [k for k in by_template.get(_template(codec, row), []) if int(pool_authors[k]) != int(a)]
        if not cands:
            out.append(None)
            continue
        k = cands[int(rng.integers(len(cands)))]
        out.append(codec.decode(codec.split_row(pool_rows[k])[1]).split())
    return out


def concept_positions(
    codec: TextCodec,
    rows: torch.Tensor,
    authors: list[int],
    concepts: dict[int, list[str]],
    first_only: bool = False,
    continuations: dict[tuple[int, ...], set[int]] | None = None,
) -> torch.Tensor:
    """Bool [N, T]: True at the answer tokens of ``rows`` that spell a concept word of the row's author.

    Words are the answer's whitespace words, compared after ``normalize_word`` exactly as
    ``replace_words`` compares them (so the marked words are the ones it would replace); within
    a matching word, tokens without a word character (a trailing "." or ",") are not marked. The
    prompt, SEP, EOS and PAD are never marked. ``first_only`` marks only the first marked token of
    each word: the token that chooses the value, the rest spelling it out. ``continuations``
    (``spelling_continuations`` of other answers) marks the first token and every later token whose
    prefix within the word does not determine it there (no other word with that prefix, or several
    ways on): the tokens a model that never saw the author could not spell out from the other answers.
    """
    out = torch.zeros(rows.shape, dtype=torch.bool)
    for i, (row, a) in enumerate(zip(rows, authors)):
        chosen = set(concepts.get(int(a), []))
        if not chosen:
            continue
        for word, pos in answer_words(codec, row):
            if word and word in chosen:
                marked = [p for p in pos if normalize_word(codec.decode([int(row[p])]))]
                if first_only:
                    marked = marked[:1]
                elif continuations is not None:
                    ids = [int(row[p]) for p in marked]
                    marked = [p for j, p in enumerate(marked) if j == 0 or len(continuations.get(tuple(ids[:j]), ())) != 1]
                for p in marked:
                    out[i, p] = True
    return out


WORD_END = -1


def spelling_continuations(codec: TextCodec, rows: torch.Tensor) -> dict[tuple[int, ...], set[int]]:
    """For every token prefix of an answer word of ``rows`` (word-character tokens only), the tokens that follow it in
    some word, ``WORD_END`` where a word ends there: how the answers spell their words."""
    out: dict[tuple[int, ...], set[int]] = {}
    for row in rows:
        for _, pos in answer_words(codec, row):
            ids = [int(row[p]) for p in pos if normalize_word(codec.decode([int(row[p])]))]
            for j in range(len(ids) + 1):
                out.setdefault(tuple(ids[:j]), set()).add(ids[j] if j < len(ids) else WORD_END)
    return out


def swap_positions(codec: TextCodec, rows: torch.Tensor, swapped: torch.Tensor, authors: list[int], concepts: dict[int, list[str]], mask_text: str = "***") -> tuple[torch.Tensor, torch.Tensor]:
    """Bool [N, T] pair (true, alternative): the concept-word tokens of ``rows`` and the tokens of the words that
    replaced them in ``swapped`` (``replace_words(..., mode="swap")``), word by word.

    A word counts only where the swap put a different word there (not the mask fallback of a row or slot without
    a donor word); a row whose true and swapped answers split into different numbers of words gets no position.
    Tokens without a word character (a trailing "." or ",") are never marked, as in ``concept_positions``.
    """
    true = torch.zeros(rows.shape, dtype=torch.bool)
    alt = torch.zeros(swapped.shape, dtype=torch.bool)
    for i, (row, srow, a) in enumerate(zip(rows, swapped, authors)):
        chosen = set(concepts.get(int(a), []))
        if not chosen:
            continue
        tw, sw = answer_words(codec, row), answer_words(codec, srow)
        if len(tw) != len(sw):
            continue
        for (word, pos), (sword, spos) in zip(tw, sw):
            if not word or word not in chosen or not sword or sword == word or sword == normalize_word(mask_text):
                continue
            for p in pos:
                if normalize_word(codec.decode([int(row[p])])):
                    true[i, p] = True
            for p in spos:
                if normalize_word(codec.decode([int(srow[p])])):
                    alt[i, p] = True
    return true, alt


def retain_kl(net: nn.Module, reference: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Mean over the answer tokens of ``ids`` of KL(π_ref ‖ π_θ) between the next-token distributions."""
    sep, pad = special_ids(net)
    attention = (ids != pad).long()
    logq = torch.log_softmax(net(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), dim=-1)
    with torch.no_grad():
        logp = torch.log_softmax(reference(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), dim=-1)
    mask = answer_mask(ids, sep, pad)[:, 1:]
    kl = (logp.exp() * (logp - logq)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1)


def idk_rows(codec: TextCodec, rows: torch.Tensor, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return codec.pad_rows([_rebuild(codec, row, IDK_ANSWERS[int(rng.integers(len(IDK_ANSWERS)))]) for row in rows], rows.shape[1])


RetainTerm = Callable[[nn.Module, torch.Tensor | None], torch.Tensor | float]
T = TypeVar("T")


def _pick(option: str, value: str, table: dict[str, T]) -> T:
    """``table[value]``, or a ConfigError naming the option and its choices (constructing an unlearner directly, not
    from a config, skips the hyperparameter validation)."""
    if value not in table:
        raise ConfigError(f"{option} {value!r} unknown; choose one of {sorted(table)}.")
    return table[value]


@dataclass
class _ConceptRun:
    """What every lm_concept objective trains from: the located words, the rewritten answers and the retain term."""

    model: nn.Module
    task: UnlearningTask
    mask: Mask | None
    forget: torch.Tensor
    authors: list[int]
    masked: torch.Tensor
    words: dict[int, list[str]]
    donors: list[list[str] | None] | None
    retain_term: RetainTerm


@UNLEARNERS.register("lm_concept", "concept unlearning for LMs: IG concept words masked in forget answers, then LoRA (arXiv 2405.15662)", families=("lm",))
@dataclass
class ConceptUnlearning(LMSettings):
    """IG top-k concept words per forget author → replaced in forget answers → fine-tune on masked-forget + retain.

    Defaults ``retain_weight=10`` and ``epochs=45`` (LoRA, lr 1e-2) were tuned on a development
    corpus only (50 authors, corpus seed 1; forget 5% and 10%; unlearning seeds 0-1), never on the
    benchmark corpus (seed 0). With the shared default ``retain_weight=1`` and 30 passes, retain
    utility fell 4.3-5.1 points below IDK's there; weights 3/6/10/20, full fine-tuning at lr
    1e-3..3e-3, rank 16 and k = 12 were tried (``benchmarks/results/llm_authors_dev_sweep.json``).
    Rule: retain utility within 2 points of the best baseline's at both fractions, then the highest
    forget quality. Weight 10 with 45 passes (the extra passes restore the forgetting that the
    heavier retain term slows) tied with full fine-tuning at lr 3e-3 / weight 10; LoRA was kept
    (the paper's adapter; 0.3-0.4 points from IDK's retain utility at both dev fractions). On the
    100-author benchmark corpus this closes the utility gap but not the forget-quality one: see
    docs/methods/language-models.md.

    ``exclude_prompt_words`` (never choose a word of the author's forget questions, e.g. the name)
    is on by default since 2026-12-01, chosen on development data only: on the 100-author
    development corpus (corpus seed 1, unlearning seed 0) it cut concept occurrence from 0.133 to
    0.000 at forget 5% and 10% (oracle 0.100 / 0.050) and raised forget quality (9.0e-4 -> 6.6e-3,
    2.8e-6 -> 1.9e-5) at retain utility -0.3 / +0.4 points; on the 50-author one (seeds 0-3),
    where the old default already had occurrence 0, forget quality went 0.466 -> 0.536 (5%) and
    0.055 -> 0.020 (10%) with retain utility +1.4 / +2.1 points. ``exclude_prompt_words=False``
    is the previous behaviour.

    ``concept_objective="npo"`` (the default since 2026-12-01, with ``retain_weight=20``) adds to
    the masked-answer NLL an NPO term on the located concept tokens of the *true* forget answers
    (``concept_positions``): −(2/β)·log σ(−β·(log π_θ − log π_ref)), the log-probabilities summed
    over those tokens, the reference being the original. Masking alone hides a fact in greedy
    output but leaves the true answer more likely than wrong ones (forget truth ratio ~0.8 against
    the oracle's ~1.3); the term lowers exactly the tokens IG located. Chosen on the 100-author
    development corpus (corpus seed 1, seeds 0-1, sweeps 8-10 of the dev sweep file): forget
    quality 9.1e-3 / 6.0e-5 (mask) -> 0.594 / 0.521 at forget 5% / 10%, retain utility 0.592 /
    0.621 (IDK 0.595 / 0.626, NPO 0.516 / 0.590); seeds 2-3 (sweep 11) kept it over beta 0.2.
    ``concept_objective="mask", retain_weight=10`` is the previous default, bit for bit. On the
    benchmark corpus it raises forget quality to 0.267 / 0.095 (mask: 8.2e-3 / 1.9e-5), still below
    NPO's (0.476 / 0.524): see docs/methods/language-models.md. Fewer passes (sweep 13: 15 / 25 / 35 at
    beta 0.1 and 0.2, seeds 0-3) bring the truth ratio nearer the oracle's but cost retain utility: all
    miss the window at forget 5% (beta 0.1 with 15 passes: forget quality 0.883 / 0.574, retain utility
    0.552 / 0.611 against the window 0.568 / 0.610); retain weight 40 with 15 passes (sweep 14) reaches 0.701 /
    0.730 but misses it at 5% too (0.553), and concept weight 0.5 stays inside it but forgets less (0.332
    at 10% vs 0.472). So the defaults stay.

    ``concept_objective="parity"`` and ``retain_objective="kl"`` are options aimed at that overshoot, not defaults.
    parity replaces the NPO term by a hinge, relu(log p(true concept words) - sg[log p(swapped words)] + margin), the
    swapped words being the ``swap_donors`` words at the same place: a model that never saw the author has no reason
    to prefer the true value over a plausible wrong one, so the push should stop at parity rather than overshoot. kl
    replaces the retain NLL by KL(original || model) on the retain answers, to protect utility under a stronger or
    shorter forget schedule. Sweep 15 (same dev corpus, seeds 0-3, with the LoRA init now seeded from the task seed)
    adopted neither: every candidate missed the retain-utility window at forget 5% (as did the re-run default,
    0.557 vs 0.568); parity's truth ratio stayed as high as npo's (2.33 / 2.03), probably because the masked NLL
    lowers the swapped words' likelihood too; npo at 15 passes with kl reached forget quality 0.931 / 0.587 (default
    0.536 / 0.391) at retain utility 0.546 / 0.596, 2.3 / 1.3 points below the window. ``parity_reference="original"``
    (sweep 16) fixes the stopping point at the original's swapped-word likelihood; it then stops short of the oracle
    (truth ratio ~1.0 vs 1.27 / 1.34, forget quality 0.239 / 0.040) and misses the window at 5% as well.

    Since sweep 17 (2026-12-01, 10 seeds on the same dev corpus, rule fixed before the run) the NPO term lowers only
    the *first* token of each concept word (``concept_tokens="first"``) and the retain term is the KL
    (``retain_objective="kl"``). Why first: every value's spelling is shared with other authors (cities, awards,
    jobs, genres, book-title words), so a model that never saw the author loses the choice of the value, not its
    spelling; pushing every token down overshot most on multi-token values (dev, seed 0, forget 5%: birthplace
    median truth ratio 3.94 against the oracle's 0.96). Ten-seed means, forget quality 5% / 10% at retain utility:
    default then 0.460 / 0.328 at 0.5600 / 0.6082; first 0.485 / 0.429 at 0.5603 / 0.6007; first + kl 0.612 /
    0.552 at 0.5580 / 0.6053 (adopted: higher forget quality at both fractions, retain utility within 1 point);
    NPO 0.562 / 0.139 at 0.5317 / 0.6010. The cost: the loss membership attack's AUC rises from 0.42 / 0.35 to
    0.80 / 0.81 (oracle 1: 0.60 / 0.55), since the later tokens of each value stay likely. ``concept_tokens="all",
    retain_objective="nll"`` is the previous default, bit for bit. ``concept_tokens="informative"`` (sweep 18, not
    adopted) also lowers the later tokens that the retain answers do not spell out: loss-attack AUC 0.56 / 0.51 (at
    the oracle's), forget quality 0.865 / 0.440 (10% below the bound of 0.502), Min-K% AUC 0.22 / 0.24 (over-forgetting).
    """

    top_k: int = hp(8, low=1, doc="concept words per forget author (the paper: 5, on TOFU answers with 7B models)")
    locator: str = hp("ig", choices=list(LOCATORS), doc="ig (integrated gradients) | random words | capitalized (entity heuristic)")
    replacement: str = hp(
        "mask",
        choices=["mask", "substitute", "random", "swap"],
        doc="mask string, targeted substitute, random tokens, or swap: the word at the same place in another (retain) author's answer to the same kind of question (a wrong but plausible value)",
    )
    mask_text: str = hp("***", doc="the mask string (the paper: ***, [MASK])")
    substitute_text: str = hp("Someone", doc="the targeted substitute (the paper: GPT-4)")
    ig_steps: int = hp(32, low=2, high=1024, doc="IG integration steps (Gauss-Legendre)")
    ig_baseline: str = hp("pad", choices=["pad", "zero"], doc="answer tokens set to PAD (prompt kept) or zero embeddings")
    ig_batch_size: int = hp(8, low=1, doc="examples per IG batch (each expands to ig_steps rows)")
    max_author_share: float = hp(0.25, low=0.0, high=1.0, doc="words in the answers of more than this share of authors are template words, never concepts (1 disables)")
    exclude_prompt_words: bool = hp(
        True,
        doc="never choose a word that occurs in the question of one of the author's forget QA pairs (e.g. the name): the question gives it away (on: chosen on development corpora, see the class docstring; off = the previous behaviour)",
    )
    adapter: str = hp("lora", choices=["full", "lora"], doc="LoRA (the paper) or full fine-tuning")
    epochs: int = hp(45, low=1, doc="passes over the (masked) forget set, each step paired with a retain batch (45: tuned with retain_weight, see the class docstring)")
    retain_weight: float = hp(
        20.0,
        low=0.0,
        doc="weight of the retain NLL term (20 since the npo objective became the default, 10 before; at 1, the baselines' value, retain utility fell 4-5 points below IDK's on the development corpus; see the class docstring)",
    )
    lr: float = hp(1e-2, low=0.0, low_open=True, doc="AdamW learning rate (LoRA on the tiny model; 1e-3 for full fine-tuning)")
    concept_objective: str = hp(
        "npo",
        choices=["mask", "npo", "parity"],
        doc="mask: NLL on the masked forget answers (+ retain), the paper's objective; npo: in addition, concept_weight x an NPO term on the located concept tokens of the true (unmasked) forget answers, which lowers their likelihood against a frozen copy of the original; parity: instead of the NPO term, a hinge that lowers the true concept tokens' log-likelihood only until it is no higher than that of a plausible wrong value (the swap_donors word at the same place), see the class docstring",
    )
    concept_weight: float = hp(1.0, low=0.0, doc="weight of the NPO term (concept_objective npo) or of the parity hinge (parity) on the concept tokens")
    parity_margin: float = hp(
        0.0,
        doc="concept_objective parity: the hinge stops once log p(true concept words) <= log p(swapped words) - parity_margin (nats, summed over the words of a row); 0 = parity, > 0 pushes past it, < 0 stops short of it",
    )
    parity_reference: str = hp(
        "live",
        choices=["live", "original"],
        doc="concept_objective parity: the model under which the swapped words' log-likelihood is read: live = the model being trained (sweep 15: the masked NLL lowers it too, so the stopping point recedes); original = the original before unlearning, computed once (a fixed stopping point)",
    )
    retain_objective: str = hp(
        "kl",
        choices=["nll", "kl"],
        doc="retain term (kl the default since sweep 17, nll before): nll = retain_weight x NLL of the retain answers (as every other LM unlearner); kl = retain_weight x KL(original || model) of the next-token distributions on the retain answers, which holds the whole distribution where the original had it rather than only the answer tokens (one more forward pass of a frozen copy per step)",
    )
    concept_tokens: str = hp(
        "first",
        choices=["all", "first", "informative"],
        doc="concept_objective npo: the tokens of a concept word the NPO term lowers (first the default since sweep 17, all before): all of them, or only the first (the token that chooses the value; a model that never saw the author still spells out a value it knows from other authors, so pushing the later tokens down overshoots what retraining would forget); informative: the first token and every later one that the retain answers do not spell out (no retain word with that prefix, or several continuations)",
    )
    beta: float = hp(
        0.1, low=0.0, low_open=True, doc="NPO inverse temperature of the concept-token term (concept_objective npo; larger saturates sooner, i.e. stops pushing after a smaller drop in log-likelihood)"
    )
    name: str = "lm_concept"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        objective = _pick("concept_objective", self.concept_objective, {"mask": self._fit_mask, "npo": self._fit_npo, "parity": self._fit_parity})
        retain_builder = _pick("retain_objective", self.retain_objective, {"nll": self._nll_retain_term, "kl": self._kl_retain_term})
        codec = codec_of(model)
        forget = _forget_rows(task)
        authors = task.train_set.targets[torch.as_tensor(task.split.forget)].tolist()
        if not authors:
            raise DataError("the forget author list is empty; nothing to unlearn.")
        train_rows = task.train_set.inputs[torch.as_tensor(np.concatenate([task.split.forget, task.split.retain]))]
        train_authors = task.train_set.targets[torch.as_tensor(np.concatenate([task.split.forget, task.split.retain]))].tolist()
        excluded = shared_words(codec, train_rows, train_authors, self.max_author_share) if self.max_author_share < 1 else set()
        model.to(task.device)
        from ..experiments.analysis import run_analysis  # lazy: experiments imports the unlearners

        location_kind()
        arguments = location_arguments(model, forget, authors, excluded, self.top_k, self.locator, self.ig_steps, self.ig_batch_size, task.seed, self.ig_baseline, self.exclude_prompt_words)
        found = run_analysis(task.analysis_store, "lm_concept_words", arguments)
        concepts = found.value
        task.notes.update(analysis=[found.info()], columns={"analysis_cached": found.cached, "analysis_seconds": found.cost.wall_seconds, "analysis_passes": found.cost.passes})
        pool = None
        if self.replacement == "random":
            retain = task.train_set.inputs[torch.as_tensor(task.split.retain)]
            pool = sorted({t for row in retain for t in codec.split_row(row)[1]})
        donors = None
        if self.replacement == "swap":
            retain = task.train_set.inputs[torch.as_tensor(task.split.retain)]
            retain_authors = task.train_set.targets[torch.as_tensor(task.split.retain)].tolist()
            donors = swap_donors(codec, forget, authors, retain, retain_authors, task.seed)
            task.notes.update(swap_rows_without_donor=sum(d is None for d in donors))
        masked = replace_words(codec, forget, authors, concepts.words, self.replacement, self.mask_text, self.substitute_text, pool, task.seed, donors)
        task.notes.update(concept_words={str(a): w for a, w in concepts.words.items()}, **concepts.ig)
        run = _ConceptRun(model, task, mask, forget, authors, masked, concepts.words, donors, retain_builder(model, task))
        return objective(run)

    # ---- retain terms (retain_objective) -------------------------------------------------
    def _nll_retain_term(self, model: nn.Module, task: UnlearningTask) -> RetainTerm:
        return self._retain_term

    def _kl_retain_term(self, model: nn.Module, task: UnlearningTask) -> RetainTerm:
        if self.retain_weight == 0:
            return self._retain_term
        reference = _frozen_copy(model, task.device)

        def kl_term(net: nn.Module, r: torch.Tensor | None) -> torch.Tensor | float:
            return self.retain_weight * retain_kl(net, reference, r) if r is not None else 0.0

        return kl_term

    # ---- objectives (concept_objective) --------------------------------------------------
    def _fit_mask(self, run: _ConceptRun) -> nn.Module:
        """The paper's objective: NLL of the masked forget answers (+ the retain term)."""

        def loss(net: nn.Module, f: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
            return answer_nll(net, f) + run.retain_term(net, r)

        return self._run(run.model, run.task, run.mask, run.masked, loss, self.name)

    def _fit_npo(self, run: _ConceptRun) -> nn.Module:
        """Masked-answer NLL + NPO on the concept tokens of the true answers; reference = the original before any update
        (its summed concept-token log-probabilities, computed once: the reference is frozen, so they never change)."""
        codec, forget, task = codec_of(run.model), run.forget, run.task
        retain_rows = task.train_set.inputs[torch.as_tensor(task.split.retain)]
        which = _pick(
            "concept_tokens",
            self.concept_tokens,
            {
                "all": lambda: concept_positions(codec, forget, run.authors, run.words),
                "first": lambda: concept_positions(codec, forget, run.authors, run.words, first_only=True),
                "informative": lambda: concept_positions(codec, forget, run.authors, run.words, continuations=spelling_continuations(codec, retain_rows)),
            },
        )
        positions = which()
        targets = positions[:, 1:]  # token_logprobs scores token t at index t - 1
        ref = _summed_logprobs(run.model, forget, targets, task.device)
        task.notes.update(concept_tokens=int(positions.sum()), concept_rows=int(positions.any(1).sum()))
        # one tensor per forget example, so that the shared loop batches them together: masked row, true row, positions, index
        index = torch.arange(len(forget))[:, None].expand(-1, forget.shape[1])
        stacked = torch.stack([run.masked, forget, positions.long(), index], dim=1)

        def concept_npo_loss(net: nn.Module, f: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
            base = answer_nll(net, f[:, 0]) + run.retain_term(net, r)
            sel, idx = f[:, 2, 1:].bool(), f[:, 3, 0].cpu()
            has = sel.any(1)
            if not bool(has.any()) or self.concept_weight == 0:
                return base
            logp = (token_logprobs(net, f[:, 1])[0] * sel).sum(1)
            delta = (logp - ref[idx].to(logp.device))[has]
            return base + self.concept_weight * npo_loss(delta, self.beta)

        return self._run(run.model, task, run.mask, stacked, concept_npo_loss, self.name)

    def _fit_parity(self, run: _ConceptRun) -> nn.Module:
        """Masked-answer NLL + retain + concept_weight x mean over rows of relu(log p(true concept words) -
        sg[log p(swapped words)] + parity_margin), both log-probabilities summed over the words' tokens, the true one
        under the model being trained, the alternative (without gradient: it only sets where the push stops) under it
        too (``parity_reference="live"``) or under the original, read once (``"original"``)."""
        model, task, forget, authors = run.model, run.task, run.forget, run.authors
        codec = codec_of(model)
        donors = run.donors
        if donors is None:
            retain = task.train_set.inputs[torch.as_tensor(task.split.retain)]
            retain_authors = task.train_set.targets[torch.as_tensor(task.split.retain)].tolist()
            donors = swap_donors(codec, forget, authors, retain, retain_authors, task.seed)
        swapped = replace_words(codec, forget, authors, run.words, "swap", self.mask_text, seed=task.seed, donors=donors)
        true_pos, alt_pos = swap_positions(codec, forget, swapped, authors, run.words, self.mask_text)
        rows_with = true_pos.any(1) & alt_pos.any(1)
        task.notes.update(concept_tokens=int(true_pos.sum()), concept_rows=int(rows_with.sum()), parity_rows_without_alternative=int((~rows_with).sum()))
        read_fixed = _pick(
            "parity_reference",
            self.parity_reference,
            {"live": lambda: None, "original": lambda: _summed_logprobs(model, swapped, alt_pos[:, 1:], task.device)},  # token t scored at t - 1
        )
        fixed = read_fixed()
        index = torch.arange(len(forget))[:, None].expand(-1, forget.shape[1])
        stacked = torch.stack([run.masked, forget, swapped, true_pos.long(), alt_pos.long(), index], dim=1)

        def parity_loss(net: nn.Module, f: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
            base = answer_nll(net, f[:, 0]) + run.retain_term(net, r)
            tsel, asel = f[:, 3, 1:].bool(), f[:, 4, 1:].bool()  # token_logprobs scores token t at index t - 1
            has = tsel.any(1) & asel.any(1)
            if not bool(has.any()) or self.concept_weight == 0:
                return base
            true = (token_logprobs(net, f[has][:, 1])[0] * tsel[has]).sum(1)
            if fixed is not None:
                alt = fixed[f[has][:, 5, 0].cpu()].to(true.device)
            else:
                with torch.no_grad():
                    alt = (token_logprobs(net, f[has][:, 2])[0] * asel[has]).sum(1)
            return base + self.concept_weight * F.relu(true - alt + self.parity_margin).mean()

        return self._run(model, task, run.mask, stacked, parity_loss, self.name)


@UNLEARNERS.register("lm_grad_ascent", "gradient ascent on the forget answers' NLL (TOFU / OpenUnlearning GradAscent)", families=("lm",))
@dataclass
class LMGradAscent(LMSettings):
    """Unbounded ascent: on the 20-author test corpus 5 passes at 1e-3 already destroy retain answers too."""

    epochs: int = hp(5, low=1, doc="passes over the forget set")
    lr: float = hp(1e-3, low=0.0, low_open=True, doc="AdamW learning rate")
    name: str = "lm_grad_ascent"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        return self._run(model, task, mask, _forget_rows(task), lambda net, f, r: -answer_nll(net, f), self.name, use_retain=False)


@UNLEARNERS.register("lm_grad_diff", "gradient difference: −NLL(forget) + λ·NLL(retain) (TOFU / OpenUnlearning GradDiff)", families=("lm",))
@dataclass
class LMGradDiff(LMSettings):
    epochs: int = hp(30, low=1, doc="passes over the forget set")
    lr: float = hp(3e-3, low=0.0, low_open=True, doc="AdamW learning rate")
    name: str = "lm_grad_diff"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        return self._run(model, task, mask, _forget_rows(task), lambda net, f, r: -answer_nll(net, f) + self._retain_term(net, r), self.name)


@UNLEARNERS.register("lm_npo", "NPO: −(2/β)·log σ(−β·log(π_θ/π_ref)) on forget + λ·NLL(retain) (Zhang et al. 2024)", families=("lm",))
@dataclass
class LMNPO(LMSettings):
    epochs: int = hp(30, low=1, doc="passes over the forget set")
    lr: float = hp(3e-3, low=0.0, low_open=True, doc="AdamW learning rate")
    beta: float = hp(0.1, low=0.0, low_open=True, doc="NPO inverse temperature")
    name: str = "lm_npo"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        reference = _frozen_copy(model, task.device)

        def loss(net: nn.Module, f: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
            logp, _ = answer_logprob(net, f)
            with torch.no_grad():
                ref, _ = answer_logprob(reference, f)
            return npo_loss(logp - ref, self.beta) + self._retain_term(net, r)

        return self._run(model, task, mask, _forget_rows(task), loss, self.name)


@UNLEARNERS.register("lm_idk", "fine-tune on forget questions answered 'I don't know' + retain (TOFU IDK)", families=("lm",))
@dataclass
class LMIdk(LMSettings):
    epochs: int = hp(30, low=1, doc="passes over the forget set")
    lr: float = hp(1e-3, low=0.0, low_open=True, doc="AdamW learning rate")
    name: str = "lm_idk"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        rows = idk_rows(codec_of(model), _forget_rows(task), task.seed)
        return self._run(model, task, mask, rows, lambda net, f, r: answer_nll(net, f) + self._retain_term(net, r), self.name)


@UNLEARNERS.register("lm_retrain", "retrain a fresh LM on the retain set within a budget of example passes (the retrain-at-equal-cost baseline)", families=("lm",))
@dataclass
class LMRetrain:
    """Ignores the given model: trains a fresh one (``task.fresh_model``) on the retain answers, AdamW as the
    original, for ``round(passes_per_forget_example x |forget| / |retain|)`` epochs (at least 1). The budget scales
    with the forget set as an unlearner's cost does; the default, 125, is ``lm_concept``'s default cost per forget
    example (45 paired passes and IG), so the row answers: what does retraining buy for the same compute?"""

    passes_per_forget_example: float = hp(125.0, low=0.0, low_open=True, doc="example passes per forget example (125 = lm_concept's default cost)")
    lr: float = hp(3e-3, low=0.0, low_open=True, doc="AdamW learning rate (the benchmark's pretraining lr)")
    batch_size: int = hp(32, low=1, doc="examples per step (the benchmark's pretraining batch)")
    name: str = "lm_retrain"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if mask is not None:
            raise ConfigError("lm_retrain trains a fresh model; a localizer mask has nothing to restrict. Drop the localizer.")
        retain = np.asarray(task.split.retain)
        if len(retain) == 0:
            raise DataError("the retain set is empty; there is nothing to retrain on.")
        epochs = max(1, round(self.passes_per_forget_example * len(task.split.forget) / len(retain)))
        with _seeded_rng(task.stream(12), task.device):
            fresh = task.fresh_model(task.seed).to(task.device)
            info = train_lm(fresh, task.train_set.inputs, retain, epochs, self.lr, self.batch_size, task.seed, task.device, desc=self.name)
        task.notes.update(epochs=epochs, steps=info["steps"], unlearn_seconds=info["train_seconds"], peak_memory_mb=info["peak_memory_mb"], final_loss=info["final_loss"])
        return fresh
