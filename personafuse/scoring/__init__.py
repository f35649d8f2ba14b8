"""Scoring: ranking metrics on score matrices, predictions files, paired significance tests
and the lexical baseline. Pure functions over scores and files; no model, no Lightning.
(``personafuse.scoring.significance`` is imported on its own: it loads scipy.)"""

from __future__ import annotations

from personafuse.scoring.metrics import hits_at_k, mrr, per_context, ranks, reciprocal_ranks
from personafuse.scoring.predictions import ContextResults, read_predictions, write_predictions

__all__ = [
    "ContextResults",
    "hits_at_k",
    "mrr",
    "per_context",
    "ranks",
    "read_predictions",
    "reciprocal_ranks",
    "write_predictions",
]
