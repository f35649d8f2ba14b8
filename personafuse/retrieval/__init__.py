"""Retrieval over a pool of responses: the pool, a BM25 first stage, the two-stage responder
that reranks its top-k with a trained persona-fusion ranker, and its index on disk."""

from __future__ import annotations

from personafuse.retrieval.index import (
    INDEX_FORMAT,
    PoolIndexError,
    build_index,
    load_index,
    open_index,
)
from personafuse.retrieval.pool import Bm25Retriever, PoolError, pool_from_examples, read_pool
from personafuse.retrieval.responder import TwoStageResponder

__all__ = [
    "INDEX_FORMAT",
    "Bm25Retriever",
    "PoolError",
    "PoolIndexError",
    "TwoStageResponder",
    "build_index",
    "load_index",
    "open_index",
    "pool_from_examples",
    "read_pool",
]
