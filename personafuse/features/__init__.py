"""Featurizers: ranking examples to the tensors or id lists a backbone reads.

Below the backbones in the layering: data knows nothing of models, featurizers know nothing
of fusion, and backbones import their featurizer's batch type from here.
"""

from __future__ import annotations

from personafuse.features.bert import (
    BertBatch,
    BertFeaturizer,
    PaddedSequences,
    SequenceBuilder,
    resolve_pretrained,
)
from personafuse.features.rnn import RnnBatch, RnnFeaturizer, TokenTensors
from personafuse.features.seq2seq import Seq2SeqBatch, Seq2SeqFeaturizer

__all__ = [
    "BertBatch",
    "BertFeaturizer",
    "PaddedSequences",
    "RnnBatch",
    "RnnFeaturizer",
    "Seq2SeqBatch",
    "Seq2SeqFeaturizer",
    "SequenceBuilder",
    "TokenTensors",
    "resolve_pretrained",
]
