"""Layers shared by HRE and IMN: word representation, packed BiLSTM, [max; last] pooling."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from personafuse.features.rnn import TokenTensors

__all__ = ["BiLSTM", "CharCNN", "WordRepresentation", "max_last_pool", "unique_rows"]


def unique_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of an integer matrix and, for each row, the index of its distinct row.

    ``torch.unique(rows, dim=0)`` compares rows one pair at a time on CPU (tens of thousands
    of small operations for a batch's words or sentences); this hashes each row to one int64
    (wrapping multiply-add), finds the distinct hashes with a 1-D ``torch.unique``, and then
    checks that every row equals its representative, falling back to ``torch.unique(dim=0)``
    on a hash collision, so the result is always exact. The distinct rows come in no
    particular order.

    Shapes:
        rows: (N, W) integers -> distinct (K, W), inverse (N,) with ``distinct[inverse] ==
        rows``.
    """
    count, width = rows.shape
    generator = torch.Generator().manual_seed(width)
    multipliers = torch.randint(0, 2**62, (width,), generator=generator) * 2 + 1  # odd
    hashes = (rows.long() * multipliers.to(rows.device)).sum(1)  # wraps modulo 2**64
    _, inverse = torch.unique(hashes, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1 if count else 0,), count, device=rows.device)
    first = first.scatter_reduce(0, inverse, torch.arange(count, device=rows.device), "amin")
    distinct = rows[first]
    if not torch.equal(distinct[inverse], rows):  # a collision: two rows share a hash
        return torch.unique(rows, dim=0, return_inverse=True)
    return distinct, inverse


class CharCNN(nn.Module):
    """Character CNN over each word: one conv per window, max over positions, concatenated.

    The output depends only on a word's characters, so it is computed once per distinct
    character sequence of the batch (a few hundred) instead of once per padded word slot
    (tens of thousands), and scattered back.

    Shapes:
        char_ids: (N, W) -> (N, filters * len(windows)).
    """

    def __init__(self, num_chars: int, char_dim: int = 32, filters: int = 50, windows=(3, 4, 5)):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.windows = tuple(windows)
        self.convs = nn.ModuleList(
            nn.Conv1d(char_dim, filters, w, padding=w - 1) for w in self.windows
        )
        self.output_dim = filters * len(self.windows)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        unique, inverse = unique_rows(char_ids)
        chars = self.embedding(unique).transpose(1, 2)  # (K, char_dim, W)
        lengths = (unique > 0).sum(-1, keepdim=True)  # (K, 1)
        pooled = []
        for window, conv in zip(self.windows, self.convs, strict=True):
            features = torch.relu(conv(chars))  # (K, filters, W + window - 1)
            # Output j covers chars j-window+1..j: real chars are seen while j < length+window-1.
            positions = torch.arange(features.shape[-1], device=features.device)
            valid = (positions[None, :] < lengths + window - 1)[:, None, :]
            pooled.append(features.masked_fill(~valid, 0.0).amax(dim=-1))
        return torch.cat(pooled, dim=-1)[inverse]


class WordRepresentation(nn.Module):
    """[frozen pretrained ⊕ word2vec vectors ; char-CNN] per word, with dropout.

    Shapes:
        tokens.word_ids: (*, L); tokens.char_ids: (*, L, W) -> (*, L, output_dim).
    """

    def __init__(
        self,
        word_vectors: np.ndarray,
        num_chars: int,
        char_filters: int = 50,
        char_windows=(3, 4, 5),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.words = nn.Embedding.from_pretrained(
            torch.as_tensor(word_vectors, dtype=torch.float32), freeze=True
        )
        self.chars = CharCNN(num_chars, filters=char_filters, windows=tuple(char_windows))
        self.dropout = nn.Dropout(dropout)
        self.output_dim = self.words.embedding_dim + self.chars.output_dim

    def forward(self, tokens: TokenTensors) -> torch.Tensor:
        shape = tokens.word_ids.shape
        chars = self.chars(tokens.char_ids.reshape(-1, tokens.char_ids.shape[-1])).reshape(
            *shape, -1
        )
        return self.dropout(torch.cat([self.words(tokens.word_ids), chars], dim=-1))


class BiLSTM(nn.Module):
    """A BiLSTM over padded sequences whose padding never enters a real state.

    The forward direction runs on the padded batch as it is (padding comes after the real
    positions); the backward direction runs on each sequence reversed within its length, and
    its outputs are put back in place. Two plain oneDNN/cuDNN LSTM calls per bucket: 1.16× the
    training speed of packed sequences for HRE on CPU, same outputs
    (benchmarks/hre_training.py). The sequences run longest first in buckets of at most
    ``bucket_size``, each cut to its own longest,
    because padding costs recurrent steps (a batch's distinct sentences mix 20-word
    utterances with 8-word profile sentences). Empty sequences (length 0) are skipped and give
    all-zero outputs.

    Shapes:
        inputs: (N, L, E); lengths: (N,) -> (N, L, 2 * hidden_size).
    """

    bucket_size = 256

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden_size

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        real = torch.nonzero(lengths > 0).squeeze(1)
        if not len(real):
            return inputs.new_zeros(*inputs.shape[:2], self.output_dim)
        # Longest first, in buckets of at most `bucket_size` sequences, each cut to its own
        # longest: padding costs recurrent steps.
        order = real[torch.argsort(lengths[real], descending=True, stable=True)]
        pieces = []
        for bucket in order.split(self.bucket_size):
            longest = int(lengths[bucket[0]])
            states = self._directions(inputs[bucket, :longest], lengths[bucket])
            pieces.append(F.pad(states, (0, 0, 0, inputs.shape[1] - longest)))
        states = torch.cat(pieces)
        # In the states' dtype: under autocast the LSTM may compute in bfloat16.
        outputs = states.new_zeros(*inputs.shape[:2], self.output_dim)
        outputs[order] = states  # one scatter for all buckets
        return outputs

    def _directions(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lstm, (count, length, _) = self.lstm, inputs.shape
        zeros = inputs.new_zeros(1, count, lstm.hidden_size)
        positions = torch.arange(length, device=inputs.device)[None, :]
        real = positions < lengths[:, None]
        # Position t of the reversed sequence reads position length-1-t; padding stays last.
        order = torch.where(real, lengths[:, None] - 1 - positions, positions)[..., None]

        def run(x, suffix):
            weights = [getattr(lstm, f"{name}_l0{suffix}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]  # fmt: skip
            # One direction of nn.LSTM's own kernel, with the bidirectional module's weights.
            return torch._VF.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training,
                                  False, True)[0]  # fmt: skip

        forward = run(inputs, "")
        backward = run(inputs.gather(1, order.expand_as(inputs)), "_reverse")
        backward = backward.gather(1, order.expand_as(backward))
        return torch.cat([forward, backward], dim=-1) * real[..., None]


def max_last_pool(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[max over real positions ; final state of each direction] of BiLSTM outputs (Eq. 4–6, 8).

    The "last hidden state" is, as in the original TF code (``[fw.h; bw.h]``), the final state
    of each direction after reading the whole sequence: the forward half at the last real
    position, the backward half at position 0. (The backward output at the last position has
    read one token only.)

    Shapes:
        states: (N, L, 2h), forward half first; lengths: (N,) -> (N, 4h); empty sequences give
        zeros.
    """
    positions = torch.arange(states.shape[1], device=states.device)
    mask = positions[None, :] < lengths[:, None]
    maxed = states.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
    forward, backward = states.chunk(2, dim=-1)
    last_forward = forward.gather(
        1, (lengths.clamp(min=1) - 1)[:, None, None].expand(-1, 1, forward.shape[2])
    ).squeeze(1)
    pooled = torch.cat([maxed, last_forward, backward[:, 0]], dim=-1)
    return torch.where(lengths[:, None] > 0, pooled, torch.zeros_like(pooled))
