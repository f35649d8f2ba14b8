"""Hierarchical Recurrent Encoder (§4.1, Eq. 1–8)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from personafuse.backbones.base import BACKBONES
from personafuse.backbones.layers import BiLSTM, WordRepresentation, max_last_pool
from personafuse.backbones.ranker import Encoded
from personafuse.backbones.vector import VectorBackbone
from personafuse.features.rnn import RnnBatch, TokenTensors

__all__ = ["HRE", "SentenceEncoder"]


class SentenceEncoder(nn.Module):
    """Word representation → shared BiLSTM (Eq. 1–3) → [max; last] (Eq. 4–6).

    Shapes:
        tokens: (*group, L) -> word states (*group, L, 2h) and sentence vectors (*group, 4h).
    """

    def __init__(
        self,
        word_vectors: np.ndarray,
        num_chars: int,
        hidden_size: int = 200,
        char_filters: int = 50,
        char_windows=(3, 4, 5),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.words = WordRepresentation(
            word_vectors, num_chars, char_filters, char_windows, dropout
        )
        self.lstm = BiLSTM(self.words.output_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.state_dim = self.lstm.output_dim
        self.output_dim = 2 * self.lstm.output_dim

    def states(self, tokens: TokenTensors) -> torch.Tensor:
        group, length = tokens.word_ids.shape[:-1], tokens.word_ids.shape[-1]
        embedded = self.words(tokens).reshape(-1, length, self.words.output_dim)
        states = self.lstm(embedded, tokens.lengths.reshape(-1))
        return self.dropout(states).reshape(*group, length, self.state_dim)

    def forward(self, tokens: TokenTensors) -> torch.Tensor:
        states = self.states(tokens)
        flat = states.reshape(-1, *states.shape[-2:])
        return max_last_pool(flat, tokens.lengths.reshape(-1)).reshape(
            *tokens.lengths.shape, self.output_dim
        )

    def personas(self, batch: RnnBatch, names: tuple[str, ...]) -> dict:
        """Profile vectors and masks of each persona (Eq. 2, 5): name -> ((B, N, D), (B, N))."""
        encoded = {}
        for name in names:
            tokens = batch.persona(name)
            if tokens is None:
                raise ValueError(f"the batch has no {name} persona; check the persona config")
            encoded[name] = (self(tokens), tokens.mask)
        return encoded


class ContextAggregator(nn.Module):
    """Utterance vectors in chronological order → BiLSTM → [max; last] (Eq. 7–8).

    Shapes:
        utterances: (N, U, E); counts: (N,) real utterances -> (N, 4h).
    """

    def __init__(self, input_size: int, hidden_size: int, dropout: float):
        super().__init__()
        self.lstm = BiLSTM(input_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.output_dim = 2 * self.lstm.output_dim

    def forward(self, utterances: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        return max_last_pool(self.dropout(self.lstm(utterances, counts)), counts)


@BACKBONES.register("hre")
class HRE(VectorBackbone):
    """Everything that does not depend on the candidate (utterances, context, profiles) is
    encoded once per context; only the candidates are encoded B·C times.

    Args:
        word_vectors: (V, E) frozen pretrained ⊕ word2vec table.
        num_chars: Size of the character vocabulary.
        hidden_size: BiLSTM hidden size per direction (paper: 200); vectors are 4·hidden_size.
    """

    provides = frozenset({"utterances"})

    def __init__(
        self,
        word_vectors: np.ndarray,
        num_chars: int,
        hidden_size: int = 200,
        char_filters: int = 50,
        char_windows=(3, 4, 5),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.sentences = SentenceEncoder(
            word_vectors, num_chars, hidden_size, char_filters, char_windows, dropout
        )
        self.context = ContextAggregator(self.sentences.output_dim, hidden_size, dropout)
        self.output_dim = self.context.output_dim

    def response_vectors(self, tokens: TokenTensors) -> torch.Tensor:
        """r̄ (Eq. 6) depends on the candidate alone: a response pool stores it."""
        return self.sentences(tokens)

    def forward(self, batch: RnnBatch, personas: tuple[str, ...] = ()) -> Encoded:
        utterances = self.sentences(batch.context)  # (B, U, D)
        context = self.context(utterances, batch.context.mask.sum(-1))  # (B, D)
        responses = batch.response_vectors
        return Encoded(
            context,
            self.sentences(batch.responses) if responses is None else responses,
            self.sentences.personas(batch, personas),
            utterances=(utterances, batch.context.mask),
        )
