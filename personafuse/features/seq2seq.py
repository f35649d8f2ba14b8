"""Batches for the UniLM-style generator: ``[CLS] persona [SEP] u1 [SEP] … un [SEP]`` as the
source and the true response then ``[SEP]`` as the target (the paper's CA layout, §5.7).

The source keeps the newest context: whole oldest utterances go first, then the oldest tokens
of what is left. With both personas, each is preceded by the prefix of its line in the
Persona-Chat files (``your persona:``, ``partner's persona:``) so the model can tell them
apart; with one, the profiles are concatenated as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from personafuse.data.schema import RankingExample
from personafuse.features.bert import PACKAGED, BertFeaturizer
from personafuse.generation.transformer import seq2seq_mask

__all__ = ["Seq2SeqBatch", "Seq2SeqFeaturizer"]

IGNORE = -100  # label of positions that predict nothing
PERSONA_PREFIXES = {"self": "your persona:", "partner": "partner's persona:"}


@dataclass
class Seq2SeqBatch:
    """B examples, packed as ``source target`` for training and as sources for decoding.

    Shapes:
        input_ids, token_type_ids, position_ids, labels: (B, W)
        attention_mask: (B, W, W) bool
        source_ids: (B, S); source_lengths: (B,)
    """

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    source_ids: torch.Tensor
    source_lengths: torch.Tensor
    references: list[str]
    personas: list[str]

    def __len__(self) -> int:
        return len(self.references)

    def to(self, device) -> Seq2SeqBatch:
        moved: dict[str, Any] = {
            name: value.to(device) if isinstance(value, torch.Tensor) else value
            for name, value in vars(self).items()
        }
        return Seq2SeqBatch(**moved)


class Seq2SeqFeaturizer(BertFeaturizer):
    """Tokenises with the checkpoint's tokenizer and lays examples out for seq2seq.

    Args:
        pretrained: Hugging Face name, local directory, or ``packaged`` (MiniLM-L6).
        max_source_tokens: Source length, special tokens included (newest context kept).
        max_persona_tokens: Tokens of the persona part (the first profiles kept).
        max_target_tokens: Target length, the final ``[SEP]`` included.
    """

    def __init__(
        self,
        pretrained: str = PACKAGED,
        max_source_tokens: int = 256,
        max_persona_tokens: int = 96,
        max_target_tokens: int = 32,
    ):
        super().__init__(pretrained)
        if max_source_tokens < max_persona_tokens + 4:
            raise ValueError(
                f"model.featurizer.max_source_tokens={max_source_tokens} must exceed "
                f"max_persona_tokens ({max_persona_tokens}) by at least 4"
            )
        self.max_source_tokens = max_source_tokens
        self.max_persona_tokens = max_persona_tokens
        self.max_target_tokens = max_target_tokens

    def persona_text(self, example: RankingExample) -> str:
        """The persona as the source holds it (also written beside each generation)."""
        parts = {n: getattr(example, f"{n}_persona") for n in ("self", "partner")}
        parts = {n: p for n, p in parts.items() if p}
        if len(parts) == 1:
            return " ".join(next(iter(parts.values())))
        return " ".join(f"{PERSONA_PREFIXES[n]} {' '.join(p)}" for n, p in parts.items())

    def source(self, example: RankingExample) -> list[int]:
        special = self.special_ids
        persona_text = self.persona_text(example)
        persona = self.ids([persona_text])[0][: self.max_persona_tokens] if persona_text else []
        head = [special["cls"], *persona, special["sep"]] if persona else [special["cls"]]
        budget = self.max_source_tokens - len(head)
        context: list[int] = []
        for utterance in reversed(self.ids(list(example.context))):
            piece = [*utterance, special["sep"]]
            if len(context) + len(piece) > budget:
                context = piece[len(context) + len(piece) - budget :] + context
                break
            context = piece + context
        return head + context

    def target(self, example: RankingExample) -> list[int]:
        response = self.ids([example.response])[0][: self.max_target_tokens - 1]
        return [*response, self.special_ids["sep"]]

    # A seq2seq batch where BertFeaturizer makes ranking ones: only the tokenizer is shared.
    def __call__(self, examples: list[RankingExample]) -> Seq2SeqBatch:  # type: ignore[override]
        sources = [self.source(e) for e in examples]
        targets = [self.target(e) for e in examples]
        pad = self.special_ids["pad"]
        source_lengths = torch.tensor([len(s) for s in sources])
        target_lengths = torch.tensor([len(t) for t in targets])
        width = int((source_lengths + target_lengths).max())
        input_ids = torch.full((len(examples), width), pad, dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        token_type_ids = torch.zeros_like(input_ids)
        for row, (source, target) in enumerate(zip(sources, targets, strict=True)):
            end = len(source) + len(target)
            input_ids[row, :end] = torch.tensor(source + target)
            token_type_ids[row, len(source) : end] = 1
            # Each target token is predicted from the position before it.
            labels[row, len(source) - 1 : end - 1] = torch.tensor(target)
        source_ids = torch.full((len(examples), int(source_lengths.max())), pad, dtype=torch.long)
        for row, source in enumerate(sources):
            source_ids[row, : len(source)] = torch.tensor(source)
        positions = torch.arange(width).expand(len(examples), -1)
        return Seq2SeqBatch(
            input_ids=input_ids,
            token_type_ids=token_type_ids,
            position_ids=positions.clone(),
            attention_mask=seq2seq_mask(source_lengths, target_lengths, width),
            labels=labels,
            source_ids=source_ids,
            source_lengths=source_lengths,
            references=[e.response for e in examples],
            personas=[self.persona_text(e) for e in examples],
        )

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text of generated wordpieces (special tokens dropped)."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True).strip()
