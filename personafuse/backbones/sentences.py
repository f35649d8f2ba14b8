"""The sentence encoder and context aggregator of HRE and IMN (§4.1): word representation,
shared BiLSTM and [max ; last] pooling (Eq. 1–6), and the context BiLSTM (Eq. 7–8)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from personafuse.backbones.layers import BiLSTM, WordRepresentation, max_last_pool, unique_rows
from personafuse.backbones.vector import VectorBackbone
from personafuse.features.rnn import RnnBatch, TokenTensors

__all__ = ["ContextAggregator", "RecurrentBackbone", "SentenceEncoder"]


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
        # Encode each distinct sentence of an evaluation batch once (exact; see encode_groups).
        self.deduplicate = True

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

    def encode_groups(
        self, groups: Sequence[TokenTensors], states: Sequence[bool] | None = None
    ) -> list[torch.Tensor]:
        """Sentence vectors (or word states) of several groups of sentences at once.

        In evaluation every distinct sentence of the batch is encoded once: a dialogue's turns
        share their personas and earlier utterances, and each turn's true response is an
        utterance of the next turn's context. A sentence's encoding depends on its words
        alone, so the result equals encoding every group on its own. In training each copy
        keeps its own dropout mask, so nothing is shared.

        Shapes:
            groups[i]: (*g_i, L_i) tokens -> (*g_i, D) vectors, or (*g_i, L_i, 2h) word states
            where ``states[i]``.
        """
        states = list(states or [False] * len(groups))
        if self.training or not self.deduplicate:
            return [self.states(g) if s else self(g) for g, s in zip(groups, states, strict=True)]
        every = self.concatenate(groups)
        length, width = every.char_ids.shape[1:]
        # A row holds everything the encoder reads of a sentence: unique rows are its distinct
        # sentences.
        key = torch.cat([every.lengths[:, None], every.word_ids,
                         every.char_ids.flatten(1)], dim=1)  # fmt: skip
        rows, inverse = unique_rows(key)
        words, chars = rows[:, 1 : 1 + length], rows[:, 1 + length :]
        distinct = TokenTensors(words, chars.reshape(-1, length, width), rows[:, 0])
        word_states = self.states(distinct)  # (K, L, 2h)
        vectors = max_last_pool(word_states, distinct.lengths) if not all(states) else None
        outputs, start = [], 0
        for group, wants_states in zip(groups, states, strict=True):
            rows = inverse[start : start + group.lengths.numel()]
            start += group.lengths.numel()
            if wants_states:
                own = group.word_ids.shape[-1]
                outputs.append(word_states[rows, :own].reshape(*group.word_ids.shape, -1))
            else:
                assert vectors is not None  # pooled whenever a group asks for vectors
                outputs.append(vectors[rows].reshape(*group.lengths.shape, -1))
        return outputs

    @staticmethod
    def concatenate(groups: Sequence[TokenTensors]) -> TokenTensors:
        """Every sentence of the groups in one flat group, padded to the widest.

        Shapes:
            groups[i]: (*g_i, L_i) -> (sum of g_i, max L_i).
        """
        length = max(g.word_ids.shape[-1] for g in groups)
        width = max(g.char_ids.shape[-1] for g in groups)
        words = [F.pad(g.word_ids.reshape(-1, g.word_ids.shape[-1]),
                       (0, length - g.word_ids.shape[-1])) for g in groups]  # fmt: skip
        chars = [F.pad(g.char_ids.reshape(-1, *g.char_ids.shape[-2:]),
                       (0, width - g.char_ids.shape[-1], 0, length - g.char_ids.shape[-2]))
                 for g in groups]  # fmt: skip
        lengths = [g.lengths.reshape(-1) for g in groups]
        return TokenTensors(torch.cat(words), torch.cat(chars), torch.cat(lengths))

    def personas(self, batch: RnnBatch, names: tuple[str, ...]) -> dict:
        """Profile vectors and masks of each persona (Eq. 2, 5): name -> ((B, N, D), (B, N))."""
        encoded = {}
        for name in names:
            tokens = self.persona_tokens(batch, name)
            encoded[name] = (self(tokens), tokens.mask)
        return encoded

    @staticmethod
    def persona_tokens(batch: RnnBatch, name: str) -> TokenTensors:
        tokens = batch.persona(name)
        if tokens is None:
            raise ValueError(f"the batch has no {name} persona; check the persona config")
        return tokens


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


class RecurrentBackbone(VectorBackbone):
    """Base of HRE and IMN: their shared :class:`SentenceEncoder`, built here from the
    paper's settings (``model.backbone`` keys), as ``self.sentences``.

    Args:
        word_vectors: (V, E) frozen pretrained ⊕ word2vec table.
        num_chars: Size of the character vocabulary.
        hidden_size: BiLSTM hidden size per direction (paper: 200); vectors are 4·hidden_size.
        char_filters: Filters per window of the character CNN (paper: 50).
        char_windows: Its window sizes (paper: 3, 4, 5).
        dropout: On embeddings and hidden layers (paper: 0.2).
    """

    def __init__(
        self,
        word_vectors: np.ndarray,
        num_chars: int,
        hidden_size: int = 200,
        char_filters: int = 50,
        char_windows: Sequence[int] = (3, 4, 5),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.hidden_size, self.dropout_rate = hidden_size, dropout
        self.sentences = SentenceEncoder(
            word_vectors, num_chars, hidden_size, char_filters, char_windows, dropout
        )
