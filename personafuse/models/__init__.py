"""Ranking networks: featurizers, the persona ranker, and building one from a config."""

from __future__ import annotations

from personafuse.models.build import build_rnn_ranker, fused_personas
from personafuse.models.featurizer import RnnBatch, RnnFeaturizer, TokenTensors
from personafuse.models.ranker import PersonaRanker

__all__ = [
    "PersonaRanker",
    "RnnBatch",
    "RnnFeaturizer",
    "TokenTensors",
    "build_rnn_ranker",
    "fused_personas",
]
