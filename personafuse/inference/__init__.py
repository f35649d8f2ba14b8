"""Trained models from Python: :class:`Ranker` ranks candidate replies, :class:`ResponseGenerator`
writes them. Both restore a run through :func:`personafuse.runs.restore_run`."""

from __future__ import annotations

import importlib

__all__ = ["RankedCandidate", "Ranker", "ResponseGenerator"]

_LAZY = {"RankedCandidate": "ranker", "Ranker": "ranker", "ResponseGenerator": "generator"}


def __getattr__(name: str):
    # Loaded on first use: the ranker brings Lightning, the generator does not.
    if name in _LAZY:
        return getattr(importlib.import_module(f"personafuse.inference.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'personafuse.inference' has no attribute {name!r}")
