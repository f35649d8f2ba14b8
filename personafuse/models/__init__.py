"""Ranking networks: featurizers, the persona rankers, and building one from a config."""

from __future__ import annotations

from personafuse.models.bert import BertRanker
from personafuse.models.bert_inputs import BertBatch, BertFeaturizer, SequenceBuilder
from personafuse.models.build import (
    build_bert_ranker,
    build_ranker,
    build_rnn_ranker,
    fused_personas,
)
from personafuse.models.featurizer import RnnBatch, RnnFeaturizer, TokenTensors
from personafuse.models.ranker import PersonaRanker

__all__ = [
    "BertBatch",
    "BertFeaturizer",
    "BertRanker",
    "PersonaRanker",
    "RnnBatch",
    "RnnFeaturizer",
    "SequenceBuilder",
    "TokenTensors",
    "build_bert_ranker",
    "build_ranker",
    "build_rnn_ranker",
    "fused_personas",
]
