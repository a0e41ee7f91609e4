"""Tokenizers for the authors corpus, and the codec that turns (question, answer) pairs into ids.

A sequence is ``prompt ids + [SEP] + answer ids + [EOS] + [PAD]...`` (right padding). The
answer is everything after the first SEP up to the first PAD, so the family's loss recovers
the answer mask from the ids alone; the model's config carries ``sep_token_id`` and
``pad_token_id`` (``attach_codec`` sets them), which is all the loss needs.

Three tokenizers: ``bpe`` (a byte-level BPE trained locally with ``tokenizers``, the default),
``byte`` (256 byte tokens + specials, nothing learned) or the name/path of a Hugging Face
tokenizer (``AutoTokenizer``; a SEP and a PAD token are added when missing, and the model's
embeddings must then be resized: ``models.load_pretrained`` does it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError, DataError

SPECIALS = ["<pad>", "<eos>", "<sep>"]
_WORD_MARKERS = ("Ġ", "▁", " ")


def train_bpe(texts: Sequence[str], vocab_size: int = 1024) -> Any:
    """A byte-level BPE trained on ``texts`` (offline, a fraction of a second), wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", sep_token="<sep>")


def byte_tokenizer() -> Any:
    """256 byte tokens plus the specials: no training, every text encodable."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", sep_token="<sep>")


def load_tokenizer(kind: str, texts: Sequence[str] = (), vocab_size: int = 1024) -> Any:
    if kind == "bpe":
        return train_bpe(texts, vocab_size)
    if kind == "byte":
        return byte_tokenizer()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(kind)
    added = {}
    if tok.pad_token is None or tok.pad_token == tok.eos_token:
        added["pad_token"] = "<pad>"
    if tok.sep_token is None:
        added["sep_token"] = "<sep>"
    if tok.eos_token is None:
        added["eos_token"] = "<eos>"
    if added:
        tok.add_special_tokens(added)
    return tok


@dataclass
class TextCodec:
    """Encodes (prompt, answer) pairs to padded id rows and back; knows the special ids."""

    tokenizer: Any
    max_length: int = 64

    def __post_init__(self) -> None:
        t = self.tokenizer
        if t.pad_token_id is None or t.sep_token_id is None or t.eos_token_id is None:
            raise ConfigError("the tokenizer needs pad, sep and eos tokens; load it with expunge.lm.tokenizer.load_tokenizer.")
        if len({t.pad_token_id, t.sep_token_id, t.eos_token_id}) < 3:
            raise ConfigError("pad, sep and eos must be three different tokens (the loss finds the answer between SEP and PAD).")

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def sep_id(self) -> int:
        return int(self.tokenizer.sep_token_id)

    @property
    def eos_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def pair_ids(self, prompt: str, answer: str) -> list[int]:
        return self.encode(prompt) + [self.sep_id] + self.encode(" " + answer) + [self.eos_id]

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.encode(prompt) + [self.sep_id]

    def pad_rows(self, rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
        length = length or self.max_length
        longest = max((len(r) for r in rows), default=0)
        if longest > length:
            raise DataError(f"a sequence has {longest} tokens, more than max_length={length}; raise max_length.")
        out = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        return out

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], length: int | None = None) -> torch.Tensor:
        return self.pad_rows([self.pair_ids(p, a) for p, a in pairs], length)

    def split_row(self, row: torch.Tensor) -> tuple[list[int], list[int]]:
        """(prompt ids including SEP, answer ids without EOS/PAD) of one encoded row."""
        ids = row.tolist()
        if self.sep_id not in ids:
            raise DataError("a row has no SEP token; rows must be built with TextCodec.pair_ids.")
        s = ids.index(self.sep_id)
        answer = []
        for t in ids[s + 1 :]:
            if t in (self.pad_id, self.eos_id):
                break
            answer.append(t)
        return ids[: s + 1], answer

    def word_starts(self, ids: Sequence[int]) -> list[bool]:
        """True where a token begins a new whitespace-separated word (byte-level 'Ġ' or sentencepiece '▁')."""
        toks = self.tokenizer.convert_ids_to_tokens([int(i) for i in ids])
        return [i == 0 or (isinstance(t, str) and t.startswith(_WORD_MARKERS)) for i, t in enumerate(toks)]


def normalize_word(word: str) -> str:
    """Lower-case, punctuation stripped: how words are compared and aggregated."""
    return re.sub(r"[^\w*]+", "", word.lower())


def check_vocab(codec: TextCodec, model: Any) -> None:
    """A tokenizer whose ids exceed the model's embedding table is a silent index error later; fail now."""
    emb = model.get_input_embeddings().weight.shape[0]
    if codec.vocab_size > emb:
        raise ConfigError(
            f"tokenizer/model vocabulary mismatch: the tokenizer has {codec.vocab_size} tokens, the model's embedding "
            f"table {emb}; build the model from the same tokenizer (or resize_token_embeddings after adding tokens)."
        )
