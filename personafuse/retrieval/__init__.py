"""Retrieval over a pool of responses: the pool, a BM25 first stage, and the two-stage
responder that reranks its top-k with a trained persona-fusion ranker."""

from __future__ import annotations

from personafuse.retrieval.pool import (
    Bm25Retriever,
    PoolError,
    TwoStageResponder,
    pool_from_examples,
    read_pool,
)

__all__ = ["Bm25Retriever", "PoolError", "TwoStageResponder", "pool_from_examples", "read_pool"]
