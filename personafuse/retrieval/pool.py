"""A pool of candidate responses and a BM25 first stage over it (``bm25s``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "QUERIES",
    "Bm25Retriever",
    "PoolError",
    "pool_from_examples",
    "query_words",
    "read_pool",
]

# What the first stage searches the pool with. The dialogue's last utterance and the
# responder's own persona find the true response far more often than the whole dialogue
# (benchmarks/rerank_quality.py): replies answer the last turn or talk about the persona,
# while older turns add words that match many responses.
QUERIES = {
    "last_turn+persona": "the last utterance and the responder's own persona",
    "last_turn": "the last utterance",
    "dialogue+persona": "every utterance so far and the responder's own persona",
    "dialogue": "every utterance so far",
}


class PoolError(ValueError):
    """A pool file that cannot be used; the message names the file and line."""


def read_pool(path: str | Path) -> tuple[list[str], int]:
    """Responses of a text file, one per line, each kept once (first occurrence).

    Returns:
        ``(responses, duplicates)``: the distinct responses in file order and how many
        repeated lines were merged into them.

    Raises:
        PoolError: The file is missing or empty, or a line is blank.
    """
    path = Path(path)
    if not path.is_file():
        raise PoolError(f"{path}: no such pool file (one response per line)")
    responses, seen, duplicates = [], set(), 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.rstrip("\n")
            if not text.strip():
                raise PoolError(f"{path}:{number}: a blank line; a pool holds one response a line")
            if text in seen:
                duplicates += 1
                continue
            seen.add(text)
            responses.append(text)
    if not responses:
        raise PoolError(f"{path}: empty; a pool holds one response a line")
    return responses, duplicates


def query_words(
    query: str, context: Sequence[str], self_persona: Sequence[str] | None = None
) -> list[str]:
    """The texts the first stage searches with, as :data:`QUERIES` names them.

    Raises:
        ValueError: ``query`` is not a name of :data:`QUERIES`.
    """
    if query not in QUERIES:
        raise ValueError(f"query={query!r}: valid choices: {', '.join(QUERIES)}")
    turns = list(context) if query.startswith("dialogue") else list(context[-1:])
    return turns + list(self_persona or []) if query.endswith("+persona") else turns


def pool_from_examples(examples) -> list[str]:
    """Every distinct true response of a split, in order of first appearance."""
    return list(dict.fromkeys(example.response for example in examples))


class Bm25Retriever:
    """BM25 (``bm25s``) over the pool.

    Args:
        pool: The responses.
    """

    def __init__(self, pool: Sequence[str], index=None):
        import bm25s

        self.pool = list(pool)
        if index is None:
            tokens = bm25s.tokenize(self.pool, stopwords=None, show_progress=False)
            if not tokens.vocab:
                raise PoolError("no response of the pool has a word BM25 can index (only "
                                "punctuation?)")  # fmt: skip
            index = bm25s.BM25()
            index.index(tokens, show_progress=False)
        self.index = index

    def save(self, directory: str | Path) -> None:
        self.index.save(str(Path(directory) / "bm25"), show_progress=False)

    @classmethod
    def load(cls, directory: str | Path, pool: Sequence[str]) -> Bm25Retriever:
        import bm25s

        return cls(pool, bm25s.BM25.load(str(Path(directory) / "bm25"), show_progress=False))

    def top_k(self, texts: Sequence[str], k: int) -> list[int]:
        """Pool indices of the k best BM25 matches of the texts' words (a query of
        :func:`query_words`), best first (all of the pool when it is smaller). Responses
        sharing no word with the query score 0 and fill the list in no particular order."""
        import bm25s

        k = min(k, len(self.pool))
        query = bm25s.tokenize([" ".join(texts)], stopwords=None, show_progress=False)
        indices, _ = self.index.retrieve(query, k=k, show_progress=False)
        return [int(i) for i in np.asarray(indices)[0]]
