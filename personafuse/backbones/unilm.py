"""``model=unilm``: the generator of the paper's §5.7 (Table 7), a BERT-architecture
checkpoint (MiniLM in the paper; the packaged MiniLM-L6 offline) fine-tuned as a UniLM
sequence-to-sequence model over the CA layout ``[CLS] persona [SEP] context [SEP]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from personafuse.backbones.base import BACKBONES, Backbone, NetworkSpec
from personafuse.features.bert import resolve_pretrained
from personafuse.features.seq2seq import IGNORE, Seq2SeqBatch
from personafuse.fusion import FUSIONS
from personafuse.generation.decoding import DecodingConfig, decode
from personafuse.generation.transformer import Seq2SeqBert

__all__ = ["UnilmGenerator"]


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
        return cls(Seq2SeqBert.from_pretrained(resolve_pretrained(spec.model.pretrained)),
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

    def text(self, token_ids: list[int]) -> str:
        return self.featurizer.decode(token_ids)

    def forward(self, batch):  # nn.Module's entry point: the loss
        return self.loss(batch)[0]
