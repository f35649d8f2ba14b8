"""A BERT-architecture encoder run as a UniLM sequence-to-sequence model (Dong et al., 2019).

One Transformer reads ``source [SEP] target [SEP]`` under a self-attention mask in which source
tokens see the whole source and each target token sees the source and the target tokens up to
itself; segment ids are 0 for the source and 1 for the target; the output layer is tied to the
word embeddings. The layers are those of a Hugging Face ``BertModel`` (any BERT or MiniLM
checkpoint loads unchanged); this module runs them itself so that decoding can keep every
layer's keys and values: the source is encoded once, and each new token attends to the cache
instead of recomputing the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KeyValueCache", "Seq2SeqBert", "seq2seq_mask"]


def seq2seq_mask(source_lengths: torch.Tensor, target_lengths: torch.Tensor, width: int):
    """The UniLM seq2seq attention mask of packed ``source target`` rows.

    Row ``b`` holds ``source_lengths[b]`` source tokens, then ``target_lengths[b]`` target
    tokens, then padding. A source token attends to every source token; a target token to
    every source token and to the target tokens up to itself; nothing attends to padding.
    (Padding rows attend to the source so that no softmax row is empty.)

    Shapes:
        source_lengths, target_lengths: (B,)
        returns: (B, width, width) bool, True = may attend.
    """
    positions = torch.arange(width, device=source_lengths.device)
    source = positions[None, :] < source_lengths[:, None]  # (B, W) key is source
    total = (source_lengths + target_lengths)[:, None]
    target = (positions[None, :] >= source_lengths[:, None]) & (positions[None, :] < total)
    causal = positions[None, :, None] >= positions[None, None, :]  # query >= key
    target_keys = target[:, None, :] & target[:, :, None] & causal
    return source[:, None, :].expand(-1, width, -1) | target_keys


@dataclass
class KeyValueCache:
    """Every layer's keys and values of the tokens encoded so far, and their visibility.

    The tensors may hold room for more tokens than ``length`` (:meth:`reserve`), so that each
    decoding step writes its keys in place instead of copying the whole cache.

    Shapes:
        keys, values: L tensors (B, H, room, d); the first ``length`` positions are tokens
        visible: (B, room) bool, False for padding a later token must not attend to.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    visible: torch.Tensor
    length: int

    @property
    def room(self) -> int:
        return self.visible.shape[1]

    def reserve(self, room: int) -> None:
        """Make room for ``room`` tokens in all (one copy now, none per step later)."""
        extra = room - self.room
        if extra <= 0:
            return
        self.keys = [F.pad(k, (0, 0, 0, extra)) for k in self.keys]
        self.values = [F.pad(v, (0, 0, 0, extra)) for v in self.values]
        hidden = self.visible.new_zeros(len(self.visible), extra)
        self.visible = torch.cat([self.visible, hidden], dim=1)

    def select(self, rows: torch.Tensor) -> KeyValueCache:
        """The cache of rows ``rows`` (beam search reorders and repeats hypotheses)."""
        return KeyValueCache(
            [k[rows] for k in self.keys],
            [v[rows] for v in self.values],
            self.visible[rows],
            self.length,
        )


class Seq2SeqBert(nn.Module):
    """A Hugging Face ``BertModel``'s layers with a tied language-model head.

    Args:
        bert: The pretrained encoder (its pooler is not used).
    """

    def __init__(self, bert):
        super().__init__()
        self.bert = bert
        config = bert.config
        self.heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        # BERT's MLM transform; the decoder is the word-embedding matrix (tied) plus a bias.
        self.transform = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.GELU(),
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps),
        )
        self.output_bias = nn.Parameter(torch.zeros(config.vocab_size))

    @classmethod
    def from_pretrained(cls, name_or_path: str) -> Seq2SeqBert:
        """A Hugging Face BERT/MiniLM checkpoint, in training mode (``from_pretrained``
        returns eval mode, and Lightning keeps module modes)."""
        from transformers import BertModel

        bert = BertModel.from_pretrained(name_or_path)
        bert.pooler = None  # loaded with the checkpoint (no load report), never used
        return cls(bert).train()

    def embed(self, input_ids, token_type_ids, position_ids) -> torch.Tensor:
        embeddings = self.bert.embeddings
        x = (
            embeddings.word_embeddings(input_ids)
            + embeddings.position_embeddings(position_ids)
            + embeddings.token_type_embeddings(token_type_ids)
        )
        return embeddings.dropout(embeddings.LayerNorm(x))

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        position_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, KeyValueCache]:
        """Encode ``input_ids`` after the cached tokens.

        Shapes:
            input_ids, token_type_ids, position_ids: (B, T)
            attention_mask: (B, T, T_cache + T) bool, True = may attend (the cached keys
                first, then the new ones).
            returns: hidden states (B, T, D) and the cache extended by the T new tokens (the
                one passed in, extended in place).
        """
        x = self.embed(input_ids, token_type_ids, position_ids)
        mask = attention_mask[:, None]  # (B, 1, T, K) broadcast over heads
        start = cache.length if cache is not None else 0
        end = start + input_ids.shape[1]
        if cache is not None:
            cache.reserve(end)
        keys, values = [], []
        for index, layer in enumerate(self.bert.encoder.layer):
            attention = layer.attention.self
            q, k, v = (self._heads(f(x)) for f in (attention.query, attention.key, attention.value))
            if cache is not None:  # written in place: each step copies its own keys only
                cache.keys[index][:, :, start:end] = k
                cache.values[index][:, :, start:end] = v
                k, v = cache.keys[index][:, :, :end], cache.values[index][:, :, :end]
            keys.append(k)
            values.append(v)
            dropout = attention.dropout.p if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
            context = context.transpose(1, 2).flatten(2)
            output = layer.attention.output
            x = output.LayerNorm(output.dropout(output.dense(context)) + x)
            feed = layer.output
            hidden = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
            x = feed.LayerNorm(feed.dropout(feed.dense(hidden)) + x)
        if cache is None:
            visible = attention_mask.new_ones(input_ids.shape)  # set by the caller for padding
            return x, KeyValueCache(keys, values, visible, end)
        cache.visible[:, start:end] = True
        cache.length = end
        return x, cache

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_size).transpose(1, 2)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits of hidden states, through the tied output layer.

        Shapes:
            hidden: (..., D) -> (..., V)
        """
        weight = self.bert.embeddings.word_embeddings.weight
        return F.linear(self.transform(hidden), weight, self.output_bias)
