"""Hierarchical Recurrent Encoder (§4.1, Eq. 1–8)."""

from __future__ import annotations

import torch

from personafuse.backbones.base import BACKBONES
from personafuse.backbones.ranker import Encoded
from personafuse.backbones.sentences import ContextAggregator, RecurrentBackbone, SentenceEncoder
from personafuse.features.rnn import RnnBatch, TokenTensors

# SentenceEncoder lives in backbones.sentences; importable from here as before.
__all__ = ["HRE", "SentenceEncoder"]


@BACKBONES.register("hre")
class HRE(RecurrentBackbone):
    """Everything that does not depend on the candidate (utterances, context, profiles) is
    encoded once per context; only the candidates are encoded B·C times.

    Args:
        word_vectors, num_chars, **encoder: The sentence encoder's
            (:class:`~personafuse.backbones.sentences.RecurrentBackbone`).
    """

    provides = frozenset({"utterances"})

    def __init__(self, word_vectors, num_chars: int, **encoder):
        super().__init__(word_vectors, num_chars, **encoder)
        self.context = ContextAggregator(self.sentences.output_dim, self.hidden_size,
                                         self.dropout_rate)  # fmt: skip
        self.output_dim = self.context.output_dim

    def response_vectors(self, tokens: TokenTensors) -> torch.Tensor:
        """r̄ (Eq. 6) depends on the candidate alone: a response pool stores it."""
        return self.sentences(tokens)

    def forward(self, batch: RnnBatch, personas: tuple[str, ...] = ()) -> Encoded:
        profiles = [self.sentences.persona_tokens(batch, name) for name in personas]
        stored = batch.response_vectors
        groups = [batch.context, *profiles] + ([batch.responses] if stored is None else [])
        utterances, *encoded = self.sentences.encode_groups(groups)  # (B, U, D), …
        context = self.context(utterances, batch.context.mask.sum(-1))  # (B, D)
        return Encoded(
            context,
            encoded[-1] if stored is None else stored,
            {name: (encoded[i], profiles[i].mask) for i, name in enumerate(personas)},
            utterances=(utterances, batch.context.mask),
        )
