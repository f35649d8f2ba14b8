"""The reply of a retrieval-based chatbot: a first stage's top-k of the pool for the dialogue
so far, reranked by the persona-fusion :class:`~personafuse.inference.Ranker`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from personafuse.retrieval.pool import QUERIES, Bm25Retriever, query_words

__all__ = ["DEFAULT_FIRST_STAGE", "DEFAULT_QUERY", "TwoStageResponder"]

TOKENS = "tokens."
# Chosen from benchmarks/rerank_quality.py and chat_latency.py (docs/benchmarks.md, "Two-stage
# reply quality and latency"): searched with the last turn and the persona, the reply from
# BM25's top 10 is the true one more often than from the dialogue's top 100, and BERT-CRA
# reranks 10 real-length pairs in 0.32 s (p95) on 2 cores; 30 find more of the top 10 but
# take 1 s.
DEFAULT_FIRST_STAGE = 10
DEFAULT_QUERY = "last_turn+persona"


class TwoStageResponder:
    """BM25's top-k of the pool, reranked by the ranker with the personas.

    Args:
        ranker: A trained :class:`~personafuse.inference.Ranker`.
        retriever: The first stage over the pool.
        first_stage: Candidates passed from BM25 to the ranker (k; default
            :data:`DEFAULT_FIRST_STAGE`).
        encodings: The pool's stored :meth:`~personafuse.inference.Ranker.encode_pool` arrays
            (memory-mapped by :func:`~personafuse.retrieval.load_index`), read for the k
            candidates instead of tokenizing and encoding them per query; None recomputes.
        query: What BM25 searches with, a name of
            :data:`~personafuse.retrieval.pool.QUERIES` (default :data:`DEFAULT_QUERY`,
            ``last_turn+persona``: the last utterance and the responder's own persona).
    """

    def __init__(
        self,
        ranker,
        retriever: Bm25Retriever,
        first_stage: int = DEFAULT_FIRST_STAGE,
        encodings: Mapping[str, np.ndarray] | None = None,
        query: str = DEFAULT_QUERY,
    ):
        if first_stage < 1:
            raise ValueError(f"first_stage={first_stage}: must be an integer ≥ 1")
        if query not in QUERIES:
            raise ValueError(f"query={query!r}: valid choices: {', '.join(QUERIES)}")
        self.ranker, self.retriever, self.first_stage = ranker, retriever, first_stage
        self.query = query
        self.encodings = dict(encodings or {})
        self._tokens = {
            key.removeprefix(TOKENS): value
            for key, value in self.encodings.items()
            if key.startswith(TOKENS)
        }

    @property
    def pool(self) -> list[str]:
        return self.retriever.pool

    def request(
        self,
        context: Sequence[str],
        self_persona: Sequence[str] | None = None,
        partner_persona: Sequence[str] | None = None,
    ):
        """The first stage for the dialogue so far: ``(rows, request)``, the pool rows of
        BM25's top-k and the :class:`~personafuse.inference.ranker.Request` that reranks
        them (with the pool's stored vectors where the index holds them)."""
        from personafuse.inference.ranker import Request

        words = query_words(self.query, context, self_persona)
        rows = self.retriever.top_k(words, self.first_stage)
        texts = [self.pool[i] for i in rows]
        vectors = None
        if "response_vectors" in self.encodings:
            vectors = self.encodings["response_vectors"][rows]
        return rows, Request(context, texts, self_persona, partner_persona, vectors)

    def prepare(self, rows: Sequence[int], request) -> None:
        """Hand the ranker's featurizer the stored tokens of the request's candidates (call it
        from the thread that scores)."""
        if self._tokens:
            self.ranker.featurizer.remember(request.candidates, self._tokens, rows)

    def replies(self, rows: Sequence[int], request, scores: Sequence[float], top_k: int = 1):
        """The request's candidates best first, as pool responses with their pool index."""
        from personafuse.inference import RankedCandidate
        from personafuse.inference.ranker import best_first

        ranked = best_first(request.candidates, scores, top_k)
        return [RankedCandidate(r.text, r.score, rows[r.index]) for r in ranked]

    def reply(
        self,
        context: Sequence[str],
        self_persona: Sequence[str] | None = None,
        partner_persona: Sequence[str] | None = None,
        top_k: int = 1,
    ):
        """The best ``top_k`` pool responses for the dialogue so far, best first, each a
        :class:`~personafuse.inference.RankedCandidate` with its score and pool index."""
        rows, request = self.request(context, self_persona, partner_persona)
        self.prepare(rows, request)
        scores = self.ranker.score_requests([request])[0]
        return self.replies(rows, request, scores, top_k)
