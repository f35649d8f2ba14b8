"""``model=unilm``: the generator of the paper's §5.7 (Table 7), a BERT-architecture
checkpoint (MiniLM in the paper; the packaged MiniLM-L6 offline) fine-tuned as a UniLM
sequence-to-sequence model over the CA layout ``[CLS] persona [SEP] context [SEP]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from personafuse.backbones.base import BACKBONES, Backbone, NetworkSpec
from personafuse.features.bert import load_pretrained
from personafuse.features.seq2seq import IGNORE, Seq2SeqBatch
from personafuse.fusion import FUSIONS
from personafuse.generation.decoding import DecodingConfig, decode
from personafuse.generation.transformer import KeyValueCache, Seq2SeqBert

__all__ = ["EVALUATION_CHUNK", "UnilmGenerator"]

# Examples per encoder call of an evaluation pass on CPU, sorted by length (as BertRanker's
# chunks of 8 sequences: small chunks stay in cache, and each is cut to its own longest).
EVALUATION_CHUNK = 8


@BACKBONES.register("unilm")
class UnilmGenerator(Backbone):
    """Teacher-forced loss and decoding of a :class:`Seq2SeqBert`.

    Args:
        model: The seq2seq Transformer.
        featurizer: The fitted :class:`~personafuse.features.Seq2SeqFeaturizer` (turns
            generated wordpieces back into text).
    """

    task = "generation"

    def __init__(self, model: Seq2SeqBert, featurizer):
        super().__init__()
        self.model = model
        self.featurizer = featurizer
        self.end_id = featurizer.special_ids["sep"]

    @classmethod
    def serves(cls, fusion) -> bool:
        # Only the context-aware layout exists without a response to read (§5.7).
        return fusion is FUSIONS.get("ca")

    @classmethod
    def build(cls, spec: NetworkSpec) -> UnilmGenerator:
        if spec.encoder_config is not None:  # restoring: the architecture, not the weights
            from transformers import BertConfig, BertModel

            config = BertConfig.from_pretrained(spec.encoder_config)
            bert = BertModel(config, add_pooling_layer=False)
            return cls(Seq2SeqBert(bert), spec.featurizer)
        return cls(load_pretrained(Seq2SeqBert.from_pretrained, spec.model.pretrained),
                   spec.featurizer)  # fmt: skip

    def loss(self, batch: Seq2SeqBatch, label_smoothing: float = 0.0):
        """Cross-entropy of every target token given the source and the tokens before it.

        Returns:
            ``(loss, nll_sum, tokens)``: the (smoothed) mean loss to minimise, and the summed
            negative log-likelihood and the token count (for perplexity).
        """
        hidden, _ = self.model(
            batch.input_ids, batch.token_type_ids, batch.position_ids, batch.attention_mask
        )
        return self._loss(hidden, batch, label_smoothing)

    def _loss(self, hidden: torch.Tensor, batch: Seq2SeqBatch, label_smoothing: float):
        predicting = batch.labels != IGNORE
        logits = self.model.logits(hidden[predicting]).float()
        targets = batch.labels[predicting]
        loss = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
        nll = F.cross_entropy(logits.detach(), targets, reduction="sum")
        return loss, nll, targets.numel()

    @torch.no_grad()
    def generate(self, batch: Seq2SeqBatch, config: DecodingConfig) -> list[list[int]]:
        """Wordpiece ids of one response per example (without the end token)."""
        return decode(self.model, batch.source_ids, batch.source_lengths, self.end_id, config)

    @torch.no_grad()
    def evaluate(self, batch: Seq2SeqBatch, config: DecodingConfig, rows: list[int] | None = None):
        """The teacher-forced loss of every example and responses for ``rows`` (None: all),
        from one encoding of each source: in the teacher-forced pass a source token attends
        to the source only, so its keys and values are those decoding starts from.

        The teacher-forced pass runs the examples sorted by length in chunks (8 on CPU), each
        cut to its own longest: about half of a batch's width is padding otherwise.

        Returns:
            ``(nll_sum, tokens, generated)``: as :meth:`loss`, and one list of wordpiece ids
            per row in ``rows``.
        """
        device = batch.input_ids.device
        predicting = batch.labels != IGNORE
        lengths = batch.source_lengths + predicting.sum(1)
        rows = list(range(len(batch))) if rows is None else list(rows)
        slot = torch.full((len(batch),), -1, dtype=torch.long, device=device)
        slot[rows] = torch.arange(len(rows), device=device)  # the row's place in decoding
        sources = batch.source_ids.shape[1]
        nll = torch.zeros((), device=device)
        # Per chunk with rows to decode: their places, their mask in the chunk, the hidden
        # states at their last source tokens, the chunk's cache and how much of it is source.
        pieces: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, KeyValueCache, int]] = []
        chunk_size = EVALUATION_CHUNK if device.type == "cpu" else len(batch)
        order = torch.argsort(lengths, descending=True, stable=True)
        for chunk in order.split(chunk_size):
            width = int(lengths[chunk].max())
            hidden, encoded = self.model(
                batch.input_ids[chunk, :width],
                batch.token_type_ids[chunk, :width],
                batch.position_ids[chunk, :width],
                batch.attention_mask[chunk, :width, :width],
            )
            labels = batch.labels[chunk, :width]
            logits = self.model.logits(hidden[labels != IGNORE]).float()
            nll = nll + F.cross_entropy(logits, labels[labels != IGNORE], reduction="sum")
            decoded = slot[chunk] >= 0
            if decoded.any():
                states = hidden[decoded, batch.source_lengths[chunk][decoded] - 1]
                pieces.append((slot[chunk][decoded], decoded, states, encoded, min(width, sources)))
        if not pieces:
            return nll, int(predicting.sum()), []
        cache = self._empty_cache(pieces[0][3], len(rows), sources + config.max_length)
        last = pieces[0][2].new_empty(len(rows), pieces[0][2].shape[-1])
        for into, decoded, states, encoded, kept in pieces:
            last[into] = states
            for buffer, new in zip(cache.keys + cache.values, encoded.keys + encoded.values,
                                   strict=True):  # fmt: skip
                buffer[into, :, :kept] = new[decoded, :, :kept]
        index = torch.tensor(rows, device=device)
        source_lengths = batch.source_lengths[index]
        positions = torch.arange(cache.room, device=device)
        cache.visible = positions[None, :] < source_lengths[:, None]  # not the targets
        cache.length = sources
        primed = (self.model.logits(last), cache)
        generated = decode(self.model, batch.source_ids[index], source_lengths, self.end_id,
                           config, primed)  # fmt: skip
        return nll, int(predicting.sum()), generated

    @staticmethod
    def _empty_cache(like: KeyValueCache, rows: int, room: int) -> KeyValueCache:
        """A zero cache of ``rows`` rows with room for ``room`` tokens, shaped like ``like``."""
        _, heads, _, size = like.keys[0].shape
        new = like.keys[0].new_zeros
        return KeyValueCache(
            [new(rows, heads, room, size) for _ in like.keys],
            [new(rows, heads, room, size) for _ in like.values],
            like.visible.new_zeros(rows, room),
            0,
        )

    def text(self, token_ids: list[int]) -> str:
        return self.featurizer.decode(token_ids)

    def forward(self, batch):  # nn.Module's entry point: the loss
        return self.loss(batch)[0]
