"""Trained models from Python: :class:`Ranker` ranks candidate replies, :class:`ResponseGenerator`
writes them. Both restore a run through :func:`personafuse.runs.restore_run`."""

from __future__ import annotations

from personafuse.registry import lazy_exports

__all__ = ["RankedCandidate", "Ranker", "ResponseGenerator"]

# Loaded on first use: the ranker brings Lightning, the generator does not.
__getattr__ = lazy_exports(
    __name__,
    {
        "RankedCandidate": ".ranker",
        "Ranker": ".ranker",
        "ResponseGenerator": ".generator",
    },
)
