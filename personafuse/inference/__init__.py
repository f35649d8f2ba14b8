"""Trained models from Python: :class:`Ranker` ranks candidate replies, :class:`ResponseGenerator`
writes them. Both restore a run through :func:`personafuse.runs.restore_run`."""

from __future__ import annotations

from personafuse.inference.generator import ResponseGenerator
from personafuse.inference.ranker import RankedCandidate, Ranker

__all__ = ["RankedCandidate", "Ranker", "ResponseGenerator"]
