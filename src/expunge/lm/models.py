"""Causal LMs: a tiny GPT-2 built from a config, or any Hugging Face causal LM by name or path.

The same code path serves both: a model is an ``AutoModelForCausalLM``-style module whose
config carries ``pad_token_id`` and ``sep_token_id`` (set by ``attach_codec``) and whose
attribute ``expunge_codec`` is the ``TextCodec`` it was built for, so unlearners and metrics
can decode and re-encode text without a side channel. ``answer_nll`` is the loss every
training loop, localizer and unlearner uses: the mean NLL of the answer tokens under teacher
forcing (one weight per example, whatever the answer length).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import cost
from ..errors import ConfigError
from ..train import TrainingDiverged
from .tokenizer import TextCodec, check_vocab


def attach_codec(model: nn.Module, codec: TextCodec) -> nn.Module:
    """Record the codec on the model and its special ids in the model config; check the vocabulary."""
    check_vocab(codec, model)
    cfg = model.config
    cfg.pad_token_id, cfg.sep_token_id, cfg.eos_token_id = codec.pad_id, codec.sep_id, codec.eos_id
    object.__setattr__(model, "expunge_codec", codec)  # plain attribute, not a submodule or buffer
    return model


def codec_of(model: nn.Module) -> TextCodec:
    """The codec a model was built for (also through a PEFT wrapper)."""
    for m in (model, getattr(model, "base_model", None), getattr(getattr(model, "base_model", None), "model", None)):
        codec = getattr(m, "__dict__", {}).get("expunge_codec") if m is not None else None
        if codec is not None:
            return codec
    raise ConfigError("this model has no expunge_codec; build it with expunge.lm.models.build_lm or load_pretrained.")


def special_ids(model: nn.Module) -> tuple[int, int]:
    cfg = model.config
    sep, pad = getattr(cfg, "sep_token_id", None), getattr(cfg, "pad_token_id", None)
    if sep is None or pad is None:
        raise ConfigError("the model config lacks sep_token_id/pad_token_id; build it with expunge.lm.models (attach_codec).")
    return int(sep), int(pad)


def build_tiny_gpt2(codec: TextCodec, seed: int = 0, n_layer: int = 2, n_embd: int = 128, n_head: int = 4, n_positions: int | None = None, dropout: float = 0.0) -> nn.Module:
    """A GPT-2 of ``n_layer`` blocks, random init from ``seed``; vocabulary = the codec's."""
    from transformers import GPT2Config, GPT2LMHeadModel

    if n_embd % n_head:
        raise ConfigError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head}).")
    config = GPT2Config(
        vocab_size=codec.vocab_size,
        n_positions=n_positions or codec.max_length,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=codec.eos_id,
        eos_token_id=codec.eos_id,
        pad_token_id=codec.pad_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    return attach_codec(model, codec)


def load_pretrained(name_or_path: str, codec: TextCodec) -> nn.Module:
    """Any causal LM that ``AutoModelForCausalLM`` can load (offline: a local path or a cached name)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(name_or_path)
    if codec.vocab_size > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(codec.vocab_size)  # the SEP/PAD tokens load_tokenizer added
    return attach_codec(model, codec)


def build_lm(codec: TextCodec, seed: int = 0, pretrained: str | None = None, **options: Any) -> nn.Module:
    if pretrained:
        return load_pretrained(pretrained, codec)
    return build_tiny_gpt2(codec, seed, **options)


# ---- teacher-forced scores -------------------------------------------------------------------


def answer_mask(ids: torch.Tensor, sep_id: int, pad_id: int) -> torch.Tensor:
    """True at answer tokens (after the first SEP, not PAD), EOS included."""
    after = torch.cumsum((ids == sep_id).long(), dim=1) > 0
    return after & (ids != sep_id) & (ids != pad_id)


def token_logprobs(model: nn.Module, ids: torch.Tensor, inputs_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token_t | tokens_<t) for t >= 1 ([B, T-1]) and the answer mask for those targets."""
    sep, pad = special_ids(model)
    attention = (ids != pad).long()
    if inputs_embeds is not None:
        out = model(inputs_embeds=inputs_embeds, attention_mask=attention)
    else:
        out = model(input_ids=ids, attention_mask=attention)
    logits = out.logits[:, :-1].float()
    target = ids[:, 1:]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return logp, answer_mask(ids, sep, pad)[:, 1:]


def answer_logprob(model: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example summed answer log-probability and answer length."""
    logp, mask = token_logprobs(model, ids)
    return (logp * mask).sum(1), mask.sum(1)


def answer_nll(model: nn.Module, batch: Any) -> torch.Tensor:
    """Mean over examples of the per-token answer NLL (the family loss)."""
    ids = batch[0] if isinstance(batch, (tuple, list)) else batch
    logp, mask = token_logprobs(model, ids)
    per_example = -(logp * mask).sum(1) / mask.sum(1).clamp_min(1)
    return per_example.mean()


@torch.no_grad()
def score_rows(model: nn.Module, ids: torch.Tensor, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Forward-only per-example answer scores: summed log-prob, length, token log-probs (padded)."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    sums, lens, toks = [], [], []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size].to(device)
        logp, mask = token_logprobs(model, chunk)
        cost.count(len(chunk), backward=False)
        sums.append((logp * mask).sum(1).cpu())
        lens.append(mask.sum(1).cpu())
        toks.append(torch.where(mask, logp, torch.full_like(logp, float("nan"))).cpu())
    model.train(was)
    return {"logprob": torch.cat(sums), "length": torch.cat(lens), "token_logprobs": torch.cat(toks)}


@torch.no_grad()
def greedy_generate(model: nn.Module, prompts: list[list[int]], max_new_tokens: int = 24, batch_size: int = 64) -> list[list[int]]:
    """Greedy continuations of prompt id lists (left-padded, explicit positions), stopping at EOS."""
    codec = codec_of(model)
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), codec.pad_id, dtype=torch.long)
        for i, p in enumerate(chunk):
            ids[i, width - len(p) :] = torch.as_tensor(p)
        attn = (torch.arange(width)[None, :] >= (width - torch.tensor([len(p) for p in chunk]))[:, None]).long()
        ids, attn = ids.to(device), attn.to(device)
        done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
        gen = []
        limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 10**9)
        for _ in range(max_new_tokens):
            if ids.shape[1] >= limit:
                break
            pos = (attn.cumsum(1) - 1).clamp_min(0)
            logits = model(input_ids=ids, attention_mask=attn, position_ids=pos).logits[:, -1]
            cost.count(len(chunk), backward=False)
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, codec.pad_id), nxt)
            gen.append(nxt)
            done |= nxt == codec.eos_id
            ids = torch.cat([ids, nxt[:, None]], 1)
            attn = torch.cat([attn, (~done | (nxt == codec.eos_id)).long()[:, None]], 1)
            if bool(done.all()):
                break
        g = torch.stack(gen, 1).cpu() if gen else torch.zeros(len(chunk), 0, dtype=torch.long)
        for row in g.tolist():
            keep = []
            for t in row:
                if t in (codec.eos_id, codec.pad_id):
                    break
                keep.append(t)
            out.append(keep)
    model.train(was)
    return out


# ---- training ------------------------------------------------------------------------------


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated, or the process's peak resident set on CPU (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def adamw_loop(
    params: list[nn.Parameter],
    steps: Iterable[Callable[[], tuple[torch.Tensor, int]]] | Callable[[int], Iterable[Callable[[], tuple[torch.Tensor, int]]]],
    total_steps: int,
    lr: float,
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    warmup: float = 0.0,
    apply: Callable[[], None] | None = None,
    desc: str = "lm",
    grad_clip: float | None = 1.0,
) -> dict[str, Any]:
    """AdamW over closures that each return (loss, examples); cosine (with warmup) or constant lr.

    AdamW, not the shared SGD loop: transformers (embeddings, LayerNorm, attention) are trained
    with Adam-type optimisers throughout the literature (GPT-2, TOFU, OpenUnlearning); every
    step is reported to the cost meter and a non-finite loss raises ``TrainingDiverged``.
    ``apply`` is called between backward and step (``MaskedUpdate.apply``).
    """
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0 if apply is not None else weight_decay, betas=(0.9, 0.98))
    warm = int(warmup * total_steps)

    def lr_at(step: int) -> float:
        if step < warm:
            return lr * (step + 1) / warm
        if schedule == "constant":
            return lr
        progress = (step - warm) / max(total_steps - warm, 1)
        return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    losses: list[float] = []
    t0 = time.perf_counter()
    step = 0
    for closure in steps:  # type: ignore[union-attr]
        if step >= total_steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss, n = closure()
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"{desc}: loss became {float(loss)} at step {step}; lower the learning rate.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if apply is not None:
            apply()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        cost.count(n, backward=True)
        losses.append(float(loss.detach()))
        step += 1
    seconds = time.perf_counter() - t0
    return {"steps": step, "seconds": seconds, "seconds_per_step": seconds / max(step, 1), "losses": losses}


def train_lm(
    model: nn.Module,
    inputs: torch.Tensor,
    indices: np.ndarray,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: torch.device,
    weight_decay: float = 0.0,
    desc: str = "train lm",
) -> dict[str, Any]:
    """Teacher-forced answer NLL over ``inputs[indices]`` for ``epochs`` shuffled passes."""
    model.to(device).train()
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    per_epoch = -(-len(idx) // batch_size)
    gen = torch.Generator().manual_seed(seed)

    def closures():
        for _ in range(epochs):
            order = idx[torch.randperm(len(idx), generator=gen)]
            for s in range(0, len(order), batch_size):
                rows = inputs[order[s : s + batch_size]].to(device)
                yield lambda rows=rows: (answer_nll(model, rows), len(rows))

    info = adamw_loop([p for p in model.parameters() if p.requires_grad], closures(), epochs * per_epoch, lr, weight_decay, "cosine", 0.05, desc=desc)
    model.eval()
    losses = info.pop("losses")
    info["final_loss"] = float(np.mean(losses[-per_epoch:])) if losses else float("nan")
    info["train_seconds"] = info.pop("seconds")
    info["peak_memory_mb"] = peak_memory_mb(device)
    return info
